//! Connecting in the browser ([`connect`], [`connect_with_credentials`]), and the browser's
//! conveniences on a client ([`ClientExt`]).
//!
//! The client is chsk's own [`Client`]: its whole API (`send`, typed `send_with_reply`,
//! `pushes`, `state`, `state_changes`, `server_errors`, `metrics`, `opened`, `disconnect`,
//! `reconnect`) works as on any runtime. This crate only starts it on [`WebIo`] and adds what
//! needs the page's event loop or timers.

use std::{future::Future, time::Duration};

use chsk::{
    client::{
        Client, ClientOptions, ClientState, CredentialsProvider, RecvError, ServerError,
        StateChange,
    },
    CbError, Event,
};
use futures::{
    future::{select, Either},
    Stream, StreamExt,
};

use crate::{page, rt, web_io::WebIo};

/// Connects to the chsk endpoint at `path` (`/chsk`, resolved against the page's origin, or an
/// absolute `http(s)://` URL) and keeps the connection up until
/// [`disconnect`](Client::disconnect) or until every clone of the client is dropped.
///
/// When `options.csrf_token` is `None`, the token is read from the page's
/// `<meta name="csrf-token" content="…">`, if there is one. While the page unloads, the client
/// does not reconnect.
///
/// ```no_run
/// # #[chsk::events(ns = "chat")] #[derive(Debug, Clone)] pub enum ChatEvent { #[reply(Vec<String>)] History { room: String } }
/// # #[chsk::events(ns = "chat")] #[derive(Debug, Clone)] pub enum ChatPush { New(String) }
/// # async fn f() -> Result<(), chsk_web::CbError> {
/// use std::time::Duration;
/// use chsk_web::{ClientExt, ClientOptions, TransportMode};
/// let client = chsk_web::connect::<ChatEvent, ChatPush>(
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
pub fn connect<E: Event, P: Event>(path: &str, options: ClientOptions) -> Client<E, P> {
    let (url, options) = prepare(path, options);
    spawned(Client::with_io(&url, options, WebIo))
}

/// [`connect`] with a credentials provider, asked before every connection attempt: the way to
/// open again after a refusal such as `403 bad CSRF token` (a server restart made a new token)
/// without a page reload. See [`CredentialsProvider`] and
/// [`refresh_csrf_from`](crate::refresh_csrf_from), which fetches a fresh token from a URL of
/// the app.
///
/// ```no_run
/// # #[chsk::events(ns = "chat")] #[derive(Debug, Clone)] pub enum ChatEvent { Post(String) }
/// # #[chsk::events(ns = "chat")] #[derive(Debug, Clone)] pub enum ChatPush { New(String) }
/// # fn main() {
/// let client = chsk_web::connect_with_credentials::<ChatEvent, ChatPush>(
///     "/chsk",
///     chsk_web::ClientOptions::default(),
///     chsk_web::refresh_csrf_from("/csrf-token"),
/// );
/// # }
/// ```
pub fn connect_with_credentials<E: Event, P: Event>(
    path: &str,
    options: ClientOptions,
    credentials: impl CredentialsProvider,
) -> Client<E, P> {
    let (url, options) = prepare(path, options);
    spawned(Client::with_io_and_credentials(
        &url,
        options,
        WebIo,
        credentials,
    ))
}

/// The client, its driver spawned on the page's event loop.
fn spawned<E, P>(
    (client, driver): (Client<E, P>, impl Future<Output = ()> + 'static),
) -> Client<E, P> {
    rt::spawn(driver);
    client
}

/// The absolute URL of `path`, and the options with the page's CSRF token when they have none;
/// starts watching the page's unload.
fn prepare(path: &str, mut options: ClientOptions) -> (String, ClientOptions) {
    page::watch_unload();
    if options.csrf_token.is_none() {
        options.csrf_token = page::csrf_token_from_meta();
    }
    (page::absolute_url(path), options)
}

mod sealed {
    /// Only chsk's client gets [`ClientExt`](super::ClientExt).
    pub trait Sealed {}

    impl<E, P> Sealed for chsk::client::Client<E, P> {}
}

/// The browser's conveniences on a [`Client`]: callbacks run on the page's event loop, and a
/// wait bounded by the page's timers. Bring it into scope with `use chsk_web::ClientExt;`.
///
/// ```no_run
/// # #[chsk::events(ns = "chat")] #[derive(Debug, Clone)] pub enum ChatEvent { Post(String) }
/// # #[chsk::events(ns = "chat")] #[derive(Debug, Clone)] pub enum ChatPush { New(String) }
/// # async fn f() -> Result<(), chsk_web::CbError> {
/// use std::time::Duration;
/// use chsk_web::ClientExt;
/// let client = chsk_web::connect::<ChatEvent, ChatPush>("/chsk", Default::default());
/// client.on_state_change(|change| {
///     if change.opened() {
///         web_sys::console::log_1(&"open".into());
///     }
/// });
/// let state = client.wait_open(Duration::from_secs(5)).await?;
/// assert!(state.open);
/// # Ok(()) }
/// # fn main() {}
/// ```
pub trait ClientExt: sealed::Sealed {
    /// The pushes' type (the client's `P`).
    type Push;

    /// Calls `f` with every push, in order, from now on (see
    /// [`Client::pushes`](Client::pushes): the first call also gets the pushes kept since the
    /// client was created). A push that does not decode is logged and skipped, and so is
    /// the signal that pushes were lost while disconnected: an app that builds state from
    /// pushes uses [`on_push_result`](Self::on_push_result) instead.
    fn on_push(&self, f: impl FnMut(Self::Push) + 'static);

    /// Calls `f` with every item of the pushes stream, in order, from now on: each push, or a
    /// [`RecvError`]. [`RecvError::NotRecovered`] says that the client reconnected and the
    /// pushes missed meanwhile are lost: reload the app's state. It comes after the pushes of
    /// before the cut and before those that follow.
    ///
    /// ```no_run
    /// # #[chsk::events(ns = "chat")] #[derive(Debug, Clone)] pub enum ChatEvent { Post(String) }
    /// # #[chsk::events(ns = "chat")] #[derive(Debug, Clone)] pub enum ChatPush { New(String) }
    /// # fn reload() {}
    /// # fn main() {
    /// use chsk_web::{ClientExt, RecvError};
    /// let client = chsk_web::connect::<ChatEvent, ChatPush>("/chsk", Default::default());
    /// client.on_push_result(|item| match item {
    ///     Ok(push) => web_sys::console::log_1(&format!("{push:?}").into()),
    ///     Err(RecvError::NotRecovered) => reload(),
    ///     Err(e) => web_sys::console::warn_1(&e.to_string().into()),
    /// });
    /// # }
    /// ```
    fn on_push_result(&self, f: impl FnMut(Result<Self::Push, RecvError>) + 'static);

    /// Calls `f` with every state change from now on (Sente's `:chsk/state` event); see
    /// [`Client::state_changes`](Client::state_changes).
    fn on_state_change(&self, f: impl FnMut(StateChange) + 'static);

    /// Calls `f` with every error the server reports about what this client sent, from now on
    /// (a WebSocket `Error` frame, or a `4xx`/`5xx` answer to an Ajax `POST`); see
    /// [`Client::server_errors`](Client::server_errors).
    fn on_server_error(&self, f: impl FnMut(ServerError) + 'static);

    /// Waits until the client is open (a handshake arrived), at most `timeout`: the state then,
    /// or [`CbError::Timeout`], or at once [`CbError::Closed`] when the client is stopped (a
    /// requested disconnect, or a refusal it gave up on: see [`ClientState::stopped`]). The
    /// native client's `Client::wait_open` is the same on tokio's timers.
    fn wait_open(&self, timeout: Duration) -> impl Future<Output = Result<ClientState, CbError>>;
}

impl<E: Event, P: Event> ClientExt for Client<E, P> {
    type Push = P;

    fn on_push(&self, mut f: impl FnMut(P) + 'static) {
        each(self.pushes(), move |push| {
            if let Ok(push) = push {
                f(push);
            }
        });
    }

    fn on_push_result(&self, f: impl FnMut(Result<P, RecvError>) + 'static) {
        each(self.pushes(), f);
    }

    fn on_state_change(&self, f: impl FnMut(StateChange) + 'static) {
        each(self.state_changes(), f);
    }

    fn on_server_error(&self, f: impl FnMut(ServerError) + 'static) {
        each(self.server_errors(), f);
    }

    async fn wait_open(&self, timeout: Duration) -> Result<ClientState, CbError> {
        let opened = std::pin::pin!(self.opened());
        match select(opened, rt::sleep(timeout)).await {
            Either::Left((Ok(()), _)) => Ok(self.state()),
            Either::Left((Err(e), _)) => Err(e),
            Either::Right(((), _)) => Err(CbError::Timeout),
        }
    }
}

/// Calls `f` with every item of `stream`, in order, on the page's event loop.
fn each<S: Stream + Unpin + 'static>(mut stream: S, mut f: impl FnMut(S::Item) + 'static) {
    rt::spawn(async move {
        while let Some(item) = stream.next().await {
            f(item);
        }
    });
}
