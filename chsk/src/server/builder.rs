//! The server builder: handlers, hooks and options.

use std::{fmt, marker::PhantomData, sync::Arc};

use serde::Serialize;

use super::{
    adapter::LocalAdapter,
    dispatch::{ErasedHandler, Table, Wrap},
    handler::{Handler, IntoHandler},
    history::HistoryOptions,
    options::{AllowedOrigins, Limits, Timings},
    request::HandshakeRequest,
    security::{Csrf, Rejection, RequestFn, Security, UserIdFn},
    shared::{Adapter, HandshakeDataFn, Server},
};
use crate::{
    codec::Codec,
    event::{Event, Variant},
};

/// A registered handler: its variant's index and id, and the erased handler.
type Registered<E, S> = (usize, &'static str, Box<dyn ErasedHandler<E, S>>);

/// Builds a [`Server`]: `Server::builder(state).handler(a).handler(b).build()`.
///
/// `E` (the client → server event enum) is inferred from the handlers.
pub struct ServerBuilder<E, S> {
    state: Arc<S>,
    handlers: Vec<Registered<E, S>>,
    codec: Codec,
    timings: Timings,
    limits: Limits,
    user_id: Option<UserIdFn>,
    csrf: Csrf,
    origins: AllowedOrigins,
    authorized: Option<RequestFn<bool>>,
    reject: Option<RequestFn<Option<Rejection>>>,
    handshake_data: Option<HandshakeDataFn>,
    adapter: Box<dyn Adapter>,
    keep_headers: Vec<http::HeaderName>,
    history: Option<HistoryOptions>,
    _event: PhantomData<fn() -> E>,
}

impl<E, S> fmt::Debug for ServerBuilder<E, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBuilder")
            .field(
                "handlers",
                &self.handlers.iter().map(|h| h.1).collect::<Vec<_>>(),
            )
            .field("codec", &self.codec)
            .field("timings", &self.timings)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Starts building a server around the application state `S`; `E` (the client → server
    /// event enum) is inferred from the handlers.
    pub fn builder<E: Event, S: Send + Sync + 'static>(state: S) -> ServerBuilder<E, S> {
        ServerBuilder::new(state)
    }
}

impl<E: Event, S: Send + Sync + 'static> ServerBuilder<E, S> {
    pub(crate) fn new(state: S) -> Self {
        Self {
            state: Arc::new(state),
            handlers: Vec::new(),
            codec: Codec::default(),
            timings: Timings::default(),
            limits: Limits::default(),
            user_id: None,
            csrf: Csrf::Unset,
            origins: AllowedOrigins::All,
            authorized: None,
            reject: None,
            handshake_data: None,
            adapter: Box::new(LocalAdapter),
            keep_headers: Vec::new(),
            history: Some(HistoryOptions::default()),
            _event: PhantomData,
        }
    }

    /// Registers the handler of one variant: the name of an `async fn` under
    /// `#[chsk::handler(Enum::Variant)]` (see [`IntoHandler`]). Registering two handlers for the
    /// same variant panics in [`build`](Self::build).
    pub fn handler<F, M>(mut self, handler: F) -> Self
    where
        F: IntoHandler<S, M>,
        <F::Handler as Handler<S>>::Variant: Variant<Event = E>,
        <<F::Handler as Handler<S>>::Variant as Variant>::Output: Serialize,
    {
        let index = <<F::Handler as Handler<S>>::Variant as Variant>::INDEX;
        let id = <<F::Handler as Handler<S>>::Variant as Variant>::ID;
        self.handlers
            .push((index, id, Box::new(Wrap(handler.into_handler()))));
        self
    }

    /// The codec of every connection (default [`Codec::Postcard`]).
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// Timings (keep-alive, poll timeout, how long pushes may be coalesced, grace periods).
    pub fn timings(mut self, timings: Timings) -> Self {
        self.timings = timings;
        self
    }

    /// Limits (frame size, queue length, connections per user, rate limit).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Computes the user id from the request and the client id (default: every client is
    /// anonymous). Pushes to a user reach every client with that user id.
    pub fn user_id<F>(mut self, f: F) -> Self
    where
        F: Fn(&HandshakeRequest, &str) -> Option<String> + Send + Sync + 'static,
    {
        self.user_id = Some(Box::new(f));
        self
    }

    /// The reference CSRF token of a request (from the session, say). The client's token (the
    /// `csrf-token` query parameter, or the `x-csrf-token` / `x-xsrf-token` header) must equal
    /// it (constant-time compare); a `None` reference rejects with `403 bad CSRF token`.
    ///
    /// Either this or [`skip_csrf_check`](Self::skip_csrf_check) must be called: by default
    /// every request is rejected, as in Sente.
    pub fn csrf_token<F>(mut self, f: F) -> Self
    where
        F: Fn(&HandshakeRequest) -> Option<String> + Send + Sync + 'static,
    {
        self.csrf = Csrf::Token(Box::new(f));
        self
    }

    /// Skips the CSRF check (Sente's `:sente/skip-CSRF-check`): for servers whose cookies
    /// cannot be used cross-site, or that check [`allowed_origins`](Self::allowed_origins)
    /// instead, or that authenticate with something other than cookies.
    pub fn skip_csrf_check(mut self) -> Self {
        self.csrf = Csrf::Skip;
        self
    }

    /// The origins allowed to connect (default all).
    pub fn allowed_origins(mut self, origins: AllowedOrigins) -> Self {
        self.origins = origins;
        self
    }

    /// An authorization hook: `false` rejects with `401 unauthorized`.
    pub fn authorize<F>(mut self, f: F) -> Self
    where
        F: Fn(&HandshakeRequest) -> bool + Send + Sync + 'static,
    {
        self.authorized = Some(Box::new(f));
        self
    }

    /// A custom rejection hook, run before every other check: `Some(rejection)` refuses the
    /// request with that status and body.
    pub fn reject<F>(mut self, f: F) -> Self
    where
        F: Fn(&HandshakeRequest) -> Option<Rejection> + Send + Sync + 'static,
    {
        self.reject = Some(Box::new(f));
        self
    }

    /// Data put in every handshake (encoded by the server's codec).
    pub fn handshake_data<T, F>(mut self, f: F) -> Self
    where
        T: Serialize,
        F: Fn(&HandshakeRequest, Option<&str>) -> Option<T> + Send + Sync + 'static,
    {
        self.handshake_data = Some(Box::new(move |req, uid, codec| {
            f(req, uid).map(|v| codec.encode_payload(&v)).transpose()
        }));
        self
    }

    /// The push/presence adapter (default [`LocalAdapter`]; see [the adapter module](super::adapter)).
    pub fn adapter(mut self, adapter: impl Adapter) -> Self {
        self.adapter = Box::new(adapter);
        self
    }

    /// How much push history the server keeps for clients that reconnect (default
    /// [`HistoryOptions::default`]: per stream, the last 1,000 events, 1 MiB, 2 minutes).
    ///
    /// Every push that is not volatile is appended once to the history of its stream (the
    /// broadcast stream, a user's, a client's) and carries its position; a client that
    /// reconnects within the bounds gets every push it missed, in order, before any live one
    /// (`recovered: true` in its handshake), or nothing and `recovered: false` when the
    /// history no longer has all of them. The history lives in this process's memory: a
    /// restart loses it, and clients are then told they were not recovered.
    ///
    /// ```
    /// # #[chsk::events(ns = "x")] #[derive(Debug, Clone)] enum Ev { A }
    /// # #[chsk::handler(Ev::A)] async fn a(_cx: chsk::Ctx<()>) {}
    /// # fn main() {
    /// use std::time::Duration;
    /// use chsk::server::HistoryOptions;
    /// let server = chsk::Server::builder(())
    ///     .handler(a)
    ///     .history(HistoryOptions::default().max_age(Duration::from_secs(300)).max_count(5_000))
    ///     .skip_csrf_check()
    ///     .build();
    /// # let _ = server;
    /// # }
    /// ```
    pub fn history(mut self, options: HistoryOptions) -> Self {
        self.history = Some(options);
        self
    }

    /// Keeps no push history: pushes carry no position, and every reconnect is
    /// `recovered: false` (a client that presented positions is told to reload its state).
    pub fn without_history(mut self) -> Self {
        self.history = None;
        self
    }

    /// Headers of the opening request that a connection keeps for its lifetime, for handlers
    /// to read with [`Ctx::request`](super::handler::Ctx::request) (default: none; at most
    /// [`Limits::max_kept_request_bytes`] of URI and headers). The hooks (`user_id`,
    /// `csrf_token`, `authorize`, `reject`, `handshake_data`) always see every header; so do
    /// the handlers of an Ajax `POST`, which get the request that carried the event.
    ///
    /// ```
    /// # #[chsk::events(ns = "x")] #[derive(Debug, Clone)] enum Ev { A }
    /// # #[chsk::handler(Ev::A)] async fn a(_cx: chsk::Ctx<()>) {}
    /// # fn main() {
    /// let server = chsk::Server::builder(())
    ///     .handler(a)
    ///     .keep_headers(["user-agent", "accept-language"])
    ///     .skip_csrf_check()
    ///     .build();
    /// # let _ = server;
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When a name is not a valid header name.
    pub fn keep_headers<I, T>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        for name in names {
            let name = name.as_ref();
            match http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()) {
                Ok(name) => self.keep_headers.push(name),
                Err(_) => panic!("chsk: `{name}` is not a valid header name"),
            }
        }
        self
    }

    /// Builds the server.
    ///
    /// # Panics
    ///
    /// When two handlers serve the same variant.
    pub fn build(self) -> Server {
        let mut table: Vec<Option<Box<dyn ErasedHandler<E, S>>>> =
            (0..E::IDS.len()).map(|_| None).collect();
        for (index, id, handler) in self.handlers {
            let Some(slot) = table.get_mut(index) else {
                panic!(
                    "chsk: handler for `{id}` has index {index}, out of range for `{}`",
                    E::NAME
                );
            };
            if slot.is_some() {
                panic!(
                    "chsk: two handlers registered for event `{id}` of `{}`; each variant \
                     takes exactly one handler",
                    E::NAME
                );
            }
            *slot = Some(handler);
        }
        let dispatch = Table {
            handlers: table,
            state: self.state,
            codec: self.codec,
            _event: PhantomData,
        };
        let security = Security {
            codec: self.codec,
            csrf: self.csrf,
            origins: self.origins,
            authorized: self.authorized,
            reject: self.reject,
            warned_csrf: Default::default(),
        };
        Server::from_config(super::shared::Config {
            codec: self.codec,
            timings: self.timings,
            limits: self.limits,
            security,
            user_id: self.user_id,
            handshake_data: self.handshake_data,
            dispatch: Box::new(dispatch),
            adapter: self.adapter,
            keep_headers: self.keep_headers,
            history: self.history,
        })
    }
}
