//! The credentials provider: the app's say in every connection attempt.

use std::future::Future;

use super::state::Refusal;

/// What a connection attempt presents: the CSRF token and extra query parameters (e.g. an
/// auth token), added to [`ClientOptions::params`](super::ClientOptions::params).
///
/// ```
/// use chsk::client::Credentials;
/// let c = Credentials::csrf("fresh-token");
/// assert_eq!(c.csrf_token.as_deref(), Some("fresh-token"));
/// assert!(c.params.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The CSRF token (`csrf-token` query parameter, and `x-csrf-token` header on Ajax).
    pub csrf_token: Option<String>,
    /// Query parameters sent on every request of the attempt, after the options' `params`.
    pub params: Vec<(String, String)>,
}

impl Credentials {
    /// Just a CSRF token.
    pub fn csrf(token: impl Into<String>) -> Self {
        Self {
            csrf_token: Some(token.into()),
            params: Vec::new(),
        }
    }
}

/// Why the provider is asked, and what the last attempt used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsRequest {
    /// The refusal of the previous attempt when the server refused it (any status; a refusal
    /// that retrying cannot fix, e.g. `403 bad CSRF token`, has
    /// [`retryable`](Refusal::retryable) `false`: fetch new credentials, or give up). `None`
    /// for the first attempt and after a network failure: the current credentials will do.
    pub refusal: Option<Refusal>,
    /// The credentials of the previous attempt (the options' token at first).
    pub current: Credentials,
    /// Attempts since the last successful handshake (0 for the first attempt of a connect or
    /// reconnect).
    pub attempt: u32,
}

/// Supplies the credentials of every connection attempt, so that a client refused with
/// `403 bad CSRF token` (e.g. after a server restart made a new token) can fetch a fresh token
/// and open again without a page reload.
///
/// It is called before **every** connection attempt (after the backoff delay, so a provider
/// that keeps returning stale credentials still backs off), with a [`CredentialsRequest`].
/// Return `Some(credentials)` to connect with them, or `None` to give up: the client then
/// stops ([`ClientState::stopped`](super::ClientState::stopped)) until
/// [`reconnect`](super::Client::reconnect). The time the provider takes counts towards
/// [`connect_timeout`](super::ClientOptions::connect_timeout).
///
/// Any `Fn(CredentialsRequest) -> impl Future<Output = Option<Credentials>>` is a provider.
/// The native client needs a `Send + Sync` closure with a `Send` future; the browser's need
/// not be.
///
/// ```
/// use chsk::client::{Credentials, CredentialsRequest};
/// // Keeps the token until the server refuses it, then fetches a new one.
/// let provider = |req: CredentialsRequest| async move {
///     match req.refusal {
///         Some(r) if r.status == 403 => Some(Credentials::csrf(fetch_token().await?)),
///         Some(r) if r.status == 401 => None, // logged out: give up
///         _ => Some(req.current),
///     }
/// };
/// # async fn fetch_token() -> Option<String> { Some("t".into()) }
/// # fn check<C: chsk::client::CredentialsProvider>(_: C) {}
/// # check(provider);
/// ```
pub trait CredentialsProvider: 'static {
    /// The answer's future.
    type Future: Future<Output = Option<Credentials>>;

    /// The credentials of the next attempt, or `None` to give up.
    fn credentials(&self, request: CredentialsRequest) -> Self::Future;
}

impl<F, Fut> CredentialsProvider for F
where
    F: Fn(CredentialsRequest) -> Fut + 'static,
    Fut: Future<Output = Option<Credentials>>,
{
    type Future = Fut;

    fn credentials(&self, request: CredentialsRequest) -> Fut {
        self(request)
    }
}

/// The provider of a client created without one (never called: the core uses the options'
/// token).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoProvider;

impl CredentialsProvider for NoProvider {
    type Future = std::future::Ready<Option<Credentials>>;

    fn credentials(&self, request: CredentialsRequest) -> Self::Future {
        std::future::ready(Some(request.current))
    }
}
