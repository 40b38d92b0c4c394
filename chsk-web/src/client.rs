//! The public [`Client`] handle: chsk's runtime-neutral client on the browser's [`WebIo`].

use std::{fmt, ops::Deref, time::Duration};

use chsk::{
    client::{ClientOptions, ClientState, CredentialsProvider, ServerError, StateChange},
    CbError, Event,
};
use futures::{
    future::{select, Either},
    StreamExt,
};

use crate::{page, rt, WebIo};

/// A chsk client in the browser: sends events `E` (client → server) and receives pushes `P`.
///
/// It derefs to [`chsk::client::Client`], which has the whole API: [`send`], typed
/// [`send_with_reply`], [`pushes`], [`state`], [`state_changes`], [`opened`], [`disconnect`]
/// and [`reconnect`]. The state machine (reconnects with backoff and jitter, `Auto` fallback to
/// Ajax, keep-alive, reply timeouts) is chsk's [`ClientCore`](chsk::client::ClientCore); this
/// crate adds the browser transports and timers ([`WebIo`]).
///
/// Cheap to clone; the connection ends when the last clone is dropped.
///
/// ```no_run
/// # #[chsk::events(ns = "chat")] #[derive(Debug, Clone)] pub enum ChatEvent { #[reply(Vec<String>)] History { room: String } }
/// # #[chsk::events(ns = "chat")] #[derive(Debug, Clone)] pub enum ChatPush { New(String) }
/// # async fn f() -> Result<(), chsk::CbError> {
/// use std::time::Duration;
/// use chsk::client::{ClientOptions, TransportMode};
/// let client = chsk_web::Client::<ChatEvent, ChatPush>::connect(
///     "/chsk",
///     ClientOptions { transport: TransportMode::Auto, ..Default::default() },
/// );
/// client.on_push(|push| web_sys::console::log_1(&format!("{push:?}").into()));
/// let history = client
///     .send_with_reply(chat_event::History { room: "lobby".into() }, Duration::from_secs(8))
///     .await?;
/// # Ok(()) }
/// # fn main() {}
/// ```
///
/// [`send`]: chsk::client::Client::send
/// [`send_with_reply`]: chsk::client::Client::send_with_reply
/// [`pushes`]: chsk::client::Client::pushes
/// [`state`]: chsk::client::Client::state
/// [`state_changes`]: chsk::client::Client::state_changes
/// [`opened`]: chsk::client::Client::opened
/// [`disconnect`]: chsk::client::Client::disconnect
/// [`reconnect`]: chsk::client::Client::reconnect
pub struct Client<E, P> {
    inner: chsk::client::Client<E, P>,
}

impl<E, P> Clone for Client<E, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<E, P> fmt::Debug for Client<E, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<E, P> Deref for Client<E, P> {
    type Target = chsk::client::Client<E, P>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<E: Event, P: Event> Client<E, P> {
    /// Connects to the chsk endpoint at `path` (`/chsk`, resolved against the page's origin, or
    /// an absolute `http(s)://` URL) and keeps the connection up until
    /// [`disconnect`](chsk::client::Client::disconnect) or until every clone is dropped.
    ///
    /// When `options.csrf_token` is `None`, the token is read from the page's
    /// `<meta name="csrf-token" content="…">`, if there is one. While the page unloads, the
    /// client does not reconnect.
    pub fn connect(path: &str, options: ClientOptions) -> Self {
        let (url, options) = prepare(path, options);
        let (inner, driver) = chsk::client::Client::with_io(&url, options, WebIo);
        rt::spawn(driver);
        Self { inner }
    }

    /// [`connect`](Self::connect) with a credentials provider, asked before every connection
    /// attempt: the way to open again after a refusal such as `403 bad CSRF token` (a server
    /// restart made a new token) without a page reload. See
    /// [`CredentialsProvider`] and [`refresh_csrf_from`](crate::refresh_csrf_from), which
    /// fetches a fresh token from a URL of the app.
    ///
    /// ```no_run
    /// # #[chsk::events(ns = "chat")] #[derive(Debug, Clone)] pub enum ChatEvent { Post(String) }
    /// # #[chsk::events(ns = "chat")] #[derive(Debug, Clone)] pub enum ChatPush { New(String) }
    /// # fn main() {
    /// let client = chsk_web::Client::<ChatEvent, ChatPush>::connect_with_credentials(
    ///     "/chsk",
    ///     chsk_web::ClientOptions::default(),
    ///     chsk_web::refresh_csrf_from("/csrf-token"),
    /// );
    /// # }
    /// ```
    pub fn connect_with_credentials(
        path: &str,
        options: ClientOptions,
        credentials: impl CredentialsProvider,
    ) -> Self {
        let (url, options) = prepare(path, options);
        let (inner, driver) =
            chsk::client::Client::with_io_and_credentials(&url, options, WebIo, credentials);
        rt::spawn(driver);
        Self { inner }
    }

    /// Calls `f` with every push, in order, from now on (on the page's event loop). A push
    /// that does not decode as `P` is logged and skipped.
    pub fn on_push(&self, mut f: impl FnMut(P) + 'static) {
        let mut pushes = self.inner.pushes();
        rt::spawn(async move {
            while let Some(push) = pushes.next().await {
                if let Ok(push) = push {
                    f(push);
                }
            }
        });
    }
}

fn prepare(path: &str, mut options: ClientOptions) -> (String, ClientOptions) {
    page::watch_unload();
    if options.csrf_token.is_none() {
        options.csrf_token = page::csrf_token_from_meta();
    }
    (page::absolute_url(path), options)
}

impl<E, P> Client<E, P> {
    /// Calls `f` with every error the server reports about what this client sent, from now on
    /// (a WebSocket `Error` frame, or a `4xx`/`5xx` answer to an Ajax `POST`); see
    /// [`server_errors`](chsk::client::Client::server_errors).
    pub fn on_server_error(&self, mut f: impl FnMut(ServerError) + 'static) {
        let mut errors = self.inner.server_errors();
        rt::spawn(async move {
            while let Some(e) = errors.next().await {
                f(e);
            }
        });
    }

    /// Calls `f` with every state change from now on (Sente's `:chsk/state` event).
    pub fn on_state_change(&self, mut f: impl FnMut(StateChange) + 'static) {
        let mut changes = self.inner.state_changes();
        rt::spawn(async move {
            while let Some(change) = changes.next().await {
                f(change);
            }
        });
    }

    /// Waits until the client is open (a handshake arrived), at most `timeout`: the state then,
    /// or [`CbError::Timeout`], or at once [`CbError::Closed`] when the client is stopped (a
    /// requested disconnect, or a refusal it gave up on: see
    /// [`ClientState::stopped`](chsk::client::ClientState::stopped)).
    pub async fn wait_open(&self, timeout: Duration) -> Result<ClientState, CbError> {
        let opened = std::pin::pin!(self.inner.opened());
        match select(opened, rt::sleep(timeout)).await {
            Either::Left((Ok(()), _)) => Ok(self.inner.state()),
            Either::Left((Err(e), _)) => Err(e),
            Either::Right(((), _)) => Err(CbError::Timeout),
        }
    }

    /// The core client (e.g. to pass to code written for any runtime).
    pub fn into_inner(self) -> chsk::client::Client<E, P> {
        self.inner
    }
}
