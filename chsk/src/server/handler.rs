//! Handlers: the target of `#[chsk::handler]`, and the [`Ctx`] every handler gets.

use std::{fmt, sync::Arc};

use super::{conn::ConnId, request::HandshakeRequest, shared::Server};
use crate::{__private::HandlerToken, event::Variant, transport::Transport};

pub use super::shared::BoxFuture;

/// The context a handler gets: who sent the event, the app state, and a handle to push.
///
/// Cheap to clone (three reference counts).
///
/// ```no_run
/// #[chsk::events(ns = "app")]
/// #[derive(Debug, Clone)]
/// pub enum AppEvent {
///     Hello,
/// }
///
/// #[chsk::events(ns = "app")]
/// #[derive(Debug, Clone)]
/// pub enum AppPush {
///     Greeting(String),
/// }
///
/// struct AppState {
///     greeting: String,
/// }
///
/// #[chsk::handler(AppEvent::Hello)]
/// async fn hello(cx: chsk::Ctx<AppState>) {
///     println!("{:?} says hello over {} ({})", cx.uid(), cx.transport(), cx.client_id());
///     let text = cx.state().greeting.clone();
///     if let Err(e) = cx.server().send_to_client(cx.client_id(), AppPush::Greeting(text)) {
///         tracing::error!(error = %e, "could not push the greeting"); // a bug: too large?
///     }
/// }
/// # fn main() {}
/// ```
pub struct Ctx<S> {
    info: Arc<super::conn::ConnInfo>,
    state: Arc<S>,
    server: Server,
}

impl<S> Clone for Ctx<S> {
    fn clone(&self) -> Self {
        Self {
            info: self.info.clone(),
            state: self.state.clone(),
            server: self.server.clone(),
        }
    }
}

impl<S> fmt::Debug for Ctx<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("uid", &self.info.uid)
            .field("client_id", &self.info.client_id)
            .field("conn_id", &self.info.conn_id)
            .field("transport", &self.info.transport)
            .finish_non_exhaustive()
    }
}

impl<S> Ctx<S> {
    pub(crate) fn new(info: Arc<super::conn::ConnInfo>, state: Arc<S>, server: Server) -> Self {
        Self {
            info,
            state,
            server,
        }
    }

    /// The application state given to the server builder.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The server, to push events (`cx.server().send_to_user(..)`).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The sender's user id (from the server's user-id fn), `None` when anonymous.
    pub fn uid(&self) -> Option<&str> {
        self.info.uid.as_deref()
    }

    /// The sender's client id (one per client instance: a browser tab).
    pub fn client_id(&self) -> &str {
        &self.info.client_id
    }

    /// The connection the event arrived on.
    pub fn conn_id(&self) -> ConnId {
        self.info.conn_id
    }

    /// The transport the event arrived on.
    pub fn transport(&self) -> Transport {
        self.info.transport
    }

    /// The request that opened the connection: the WebSocket handshake request, or the Ajax
    /// `POST` that carried the event.
    pub fn request(&self) -> &HandshakeRequest {
        &self.info.request
    }

    /// The headers of [`request`](Self::request).
    pub fn headers(&self) -> &http::HeaderMap {
        self.info.request.headers()
    }
}

/// An event handler bound to one [`Variant`]; implemented by `#[chsk::handler]` on a hidden
/// zero-sized type, which the generated function of the handler's name returns (see
/// [`IntoHandler`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a chsk handler for state `{S}`",
    note = "annotate an `async fn` with `#[chsk::handler(Enum::Variant)]`; its first parameter may be `chsk::Ctx<{S}>`"
)]
pub trait Handler<S>: Send + Sync + 'static {
    /// The event variant this handler serves.
    type Variant: Variant;

    /// Runs the handler on the variant's fields.
    fn call(
        &self,
        cx: Ctx<S>,
        fields: <Self::Variant as Variant>::Fields,
    ) -> BoxFuture<<Self::Variant as Variant>::Output>;
}

/// What [`ServerBuilder::handler`](super::builder::ServerBuilder::handler) takes: the function
/// `#[chsk::handler]` generates under the handler's name.
///
/// `#[chsk::handler(ChatEvent::History)] async fn history(..)` becomes a plain
/// `fn history(_: HandlerToken) -> _` returning the [`Handler`]. It is a function item, so a
/// `let history = ..` or a parameter named `history` may shadow it, and `.handler(history)`
/// registers it. Implemented for every such function.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `#[chsk::handler]` for a server with state `{S}`",
    label = "expected the name of an `async fn` under `#[chsk::handler(Enum::Variant)]`, serving state `{S}`",
    note = "annotate the `async fn` with `#[chsk::handler(Enum::Variant)]` and pass its name; a handler with a context serves only its own state: its first parameter must be `chsk::Ctx<{S}>` here (or no context at all)"
)]
pub trait IntoHandler<S, M = ViaToken> {
    /// The handler.
    type Handler: Handler<S>;

    /// Returns the handler.
    fn into_handler(self) -> Self::Handler;
}

/// Selects the one real [`IntoHandler`] impl (the marker parameter `M` is inferred).
#[doc(hidden)]
#[derive(Debug)]
pub enum ViaToken {}

/// The marker of an impl that never applies; with two candidate impls, rustc reports an
/// unannotated `async fn` as "not a `#[chsk::handler]`" instead of a signature mismatch with
/// `FnOnce(HandlerToken)`.
#[doc(hidden)]
#[derive(Debug)]
pub enum NeverApplies {}

/// Implemented by no type (see [`NeverApplies`]).
#[doc(hidden)]
pub trait Unimplementable<S> {
    /// Never used.
    type Handler: Handler<S>;
}

// `do_not_recommend`: a wrong argument is reported as "not a `#[chsk::handler]`", not as a
// mismatch with this impl's `FnOnce(HandlerToken)` bound or with `Handler<S>`.
#[diagnostic::do_not_recommend]
impl<S, F> IntoHandler<S, NeverApplies> for F
where
    F: Unimplementable<S>,
{
    type Handler = F::Handler;

    fn into_handler(self) -> F::Handler {
        unreachable!("no type implements `Unimplementable`")
    }
}

#[diagnostic::do_not_recommend]
impl<S, F, H> IntoHandler<S, ViaToken> for F
where
    F: FnOnce(HandlerToken) -> H,
    H: Handler<S>,
{
    type Handler = H;

    fn into_handler(self) -> H {
        self(HandlerToken(()))
    }
}

/// The handler behind a `#[chsk::handler]` function, to call the function body directly:
/// `chsk::handler::of(ping).run()` is the future of `async fn ping()` as written (`run` takes
/// the same parameters, context first, and has the function's visibility).
///
/// To test a handler through decoding, dispatch and encoding instead, with a context, use
/// [`Server::call_local`](super::shared::Server::call_local).
///
/// ```
/// #[chsk::events(ns = "app")]
/// pub enum AppEvent {
///     #[reply(usize)]
///     Len(String),
/// }
///
/// #[chsk::handler(AppEvent::Len)]
/// async fn len(text: String) -> usize {
///     text.len()
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(chsk::handler::of(len).run("four".into()).await, 4);
/// # }
/// ```
pub fn of<F, H>(handler: F) -> H
where
    F: FnOnce(HandlerToken) -> H,
{
    handler(HandlerToken(()))
}
