//! The server's shared state: its configuration, what its connections share ([`Inner`]), the
//! [`Server`] handle that holds it, and the two seams it holds: the erased dispatch table and
//! the push/presence adapter. It builds on the lower parts (options, connections, queues,
//! the registry, the batchers); the parts that use the state (the handle, dispatch, the
//! adapter, the lifecycle, the transports) build on it, and it names none of them.

use std::{
    any::TypeId,
    collections::HashSet,
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, Weak},
};

use super::{
    conn::{ConnIds, ConnInfo},
    history::{HistoryOptions, HistoryStore},
    metrics::Counters,
    options::{Limits, Timings},
    presence::{ConnectedUids, Presence},
    push::{Batcher, Flush, PushError, PushOptions, Target},
    recovery::Recovery,
    registry::Registry,
    request::HandshakeRequest,
    security::{Security, UserIdFn},
};
use crate::{
    codec::{Codec, Payload},
    error::CodecError,
    protocol::{EventFrame, Position, ReplyError},
    transport::Transport,
};
use bytes::Bytes;

/// A boxed, sendable future (the return type of `Handler::call`).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Computes handshake data: request, user id, codec.
pub(crate) type HandshakeDataFn = Box<
    dyn Fn(&HandshakeRequest, Option<&str>, Codec) -> Result<Option<Payload>, CodecError>
        + Send
        + Sync,
>;

/// What the builder decided: fixed for the server's life.
pub(crate) struct Config {
    pub(crate) codec: Codec,
    pub(crate) timings: Timings,
    pub(crate) limits: Limits,
    pub(crate) security: Security,
    pub(crate) user_id: Option<UserIdFn>,
    pub(crate) handshake_data: Option<HandshakeDataFn>,
    pub(crate) dispatch: Box<dyn Dispatch>,
    pub(crate) adapter: Box<dyn Adapter>,
    pub(crate) keep_headers: Vec<http::HeaderName>,
    pub(crate) history: Option<HistoryOptions>,
}

/// The server's shared state: its configuration and what its connections share.
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) registry: Registry,
    pub(crate) presence: Presence,
    pub(crate) counters: Arc<Counters>,
    pub(crate) conn_ids: ConnIds,
    pub(crate) ws_batcher: Batcher,
    pub(crate) ajax_batcher: Batcher,
    /// The push history and its ordering (`None`: recovery is off).
    pub(crate) recovery: Option<Recovery>,
    /// Whether the history's upkeep task runs.
    pub(crate) maintenance: std::sync::atomic::AtomicBool,
}

/// The server: a cheap-to-clone handle (an `Arc` inside), not generic over the event type.
///
/// Build it with [`Server::builder`], mount it with `chsk_axum::routes(server)`, and push with
/// [`send_to_user`](Self::send_to_user) and friends. Pushes and presence need a tokio runtime.
#[derive(Clone)]
pub struct Server {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("events", &self.inner.config.dispatch.event_name())
            .field("codec", &self.inner.config.codec)
            .field("timings", &self.inner.config.timings)
            .field("limits", &self.inner.config.limits)
            .finish_non_exhaustive()
    }
}

/// What a handler call produced: the encoded output, or the error reply for the client (kind
/// [`Handler`](ReplyErrorKind::Handler) when it panicked, [`Server`](ReplyErrorKind::Server)
/// when its output could not be encoded).
pub(crate) type HandlerResult = Result<Payload, ReplyError>;

/// Why an event could not be handed to a handler: an error reply of kind
/// [`UnknownEvent`](ReplyErrorKind::UnknownEvent) or [`BadPayload`](ReplyErrorKind::BadPayload).
#[derive(Debug)]
pub(crate) struct BadEvent(pub(crate) ReplyError);

/// The erased dispatch table.
pub(crate) trait Dispatch: Send + Sync + 'static {
    /// The event enum's `TypeId`, so typed local calls can check it.
    fn event_type(&self) -> TypeId;
    /// The event enum's name.
    fn event_name(&self) -> &'static str;
    /// Decodes the event and starts its handler; the future never panics (a panicking handler
    /// becomes `Err`).
    fn dispatch(
        &self,
        server: &Server,
        info: Arc<ConnInfo>,
        event: &EventFrame,
    ) -> Result<BoxFuture<HandlerResult>, BadEvent>;
}

/// Routes pushes and answers presence queries. Every method has the single-process default;
/// implementors override only what differs.
///
/// ```
/// use chsk::server::adapter::{Adapter, EventFrame, LocalNode};
/// use chsk::server::{PushError, PushOptions, Target};
///
/// /// Logs every push, then delivers it locally.
/// #[derive(Debug)]
/// struct Logging;
///
/// impl Adapter for Logging {
///     fn push(&self, node: LocalNode<'_>, target: Target, event: EventFrame, options: PushOptions)
///         -> Result<usize, PushError>
///     {
///         println!("push {} to {target:?}", event.id);
///         node.deliver(target, event, options)
///     }
/// }
/// ```
pub trait Adapter: Send + Sync + fmt::Debug + 'static {
    /// Delivers an encoded event to `target`'s clients; returns how many connections it will
    /// reach, `0` when none (not an error). An `Err` is reported to the app as a bug (see
    /// [`PushError`]). The default delivers to this process's connections only.
    fn push(
        &self,
        node: LocalNode<'_>,
        target: Target,
        event: EventFrame,
        options: PushOptions,
    ) -> Result<usize, PushError> {
        node.deliver(target, event, options)
    }

    /// The connected users. The default answers for this process only.
    fn connected_uids(&self, node: LocalNode<'_>) -> ConnectedUids {
        node.connected_uids()
    }

    /// Called once when the server is built, with a handle that delivers to this process's
    /// connections (a cluster adapter keeps it for pushes that arrive from other processes).
    fn attach(&self, node: NodeHandle) {
        let _ = node;
    }

    /// A push history shared by every server process (asked once, when the server is built).
    /// With one, the server reads it when clients reconnect, and the adapter appends the
    /// pushes it publishes (see [`HistoryStore`]). The default, `None`, keeps the history in
    /// this process's memory, appended by [`LocalNode::deliver`].
    fn history(&self) -> Option<HistoryStore> {
        None
    }

    /// This process's first connection of `uid` on `transport` opened (`connected`), or its
    /// last one closed and the grace period passed without a new one. A cluster adapter tells
    /// the other processes ([`LocalNode::set_remote_presence`] there). Called on the
    /// connection's task: do not block.
    fn presence_changed(&self, uid: &str, transport: Transport, connected: bool) {
        let _ = (uid, transport, connected);
    }
}

/// An owned, weak handle to this process's connections (see [`Adapter::attach`]); it does not
/// keep the server alive.
#[derive(Clone)]
pub struct NodeHandle {
    pub(crate) inner: Weak<Inner>,
}

impl fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeHandle").finish_non_exhaustive()
    }
}

impl NodeHandle {
    /// Runs `f` with this process's connections; `None` once the server is dropped.
    pub fn with<R>(&self, f: impl FnOnce(LocalNode<'_>) -> R) -> Option<R> {
        self.inner
            .upgrade()
            .map(|inner| f(LocalNode { inner: &inner }))
    }

    /// Delivers to this process's connections, like [`LocalNode::deliver`]; fails with
    /// [`PushError::ServerDropped`] once the server is dropped.
    pub fn deliver(
        &self,
        target: Target,
        event: EventFrame,
        options: impl Into<PushOptions>,
    ) -> Result<usize, PushError> {
        match self.inner.upgrade() {
            Some(inner) => inner.deliver_local(target, event, options.into()),
            None => Err(PushError::ServerDropped),
        }
    }
}

/// This process's connections, as an [`Adapter`] sees them.
#[derive(Clone, Copy)]
pub struct LocalNode<'a> {
    pub(crate) inner: &'a Arc<Inner>,
}

impl fmt::Debug for LocalNode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalNode").finish_non_exhaustive()
    }
}

impl LocalNode<'_> {
    /// Batches `event` for this process's connections matched by `target`; returns how many
    /// connections it will reach (`0`, counted in `pushes_undeliverable`, when none).
    pub fn deliver(
        &self,
        target: Target,
        event: EventFrame,
        options: impl Into<PushOptions>,
    ) -> Result<usize, PushError> {
        self.inner.deliver_local(target, event, options.into())
    }

    /// The connected users: this process's, and those the adapter reported for other
    /// processes ([`set_remote_presence`](Self::set_remote_presence)).
    pub fn connected_uids(&self) -> ConnectedUids {
        self.inner.presence.snapshot()
    }

    /// Encodes `event` as the server's batches carry it (one element of a `Push` frame's
    /// event list, in the server's codec): what [`deliver_encoded`](Self::deliver_encoded)
    /// takes, on this process or another with the same codec.
    pub fn encode(&self, event: &EventFrame) -> Result<Bytes, PushError> {
        Ok(Bytes::from(self.inner.config.codec.encode(event)?))
    }

    /// Batches an event encoded by [`encode`](Self::encode) for this process's connections
    /// matched by `target`, as it is: with its stream position `at` (appended to the shared
    /// history by the adapter), or none for a volatile push. Nothing is appended here. Call it
    /// in the order of the stream's positions (e.g. from one subscription): every connection
    /// gets pushes in the order they are delivered. Returns how many connections it reaches;
    /// `0` is not counted in `pushes_undeliverable` (the push may have recipients on other
    /// processes; the adapter counts what it could not deliver anywhere).
    pub fn deliver_encoded(
        &self,
        target: Target,
        event: Bytes,
        at: Option<Position>,
        flush: Flush,
    ) -> usize {
        self.inner.hand_off(
            target,
            super::push::Queued { data: event, at },
            flush,
            false,
        )
    }

    /// How many of this process's connections `target` reaches now.
    pub fn count(&self, target: &Target) -> usize {
        let (ws, ajax) = self.inner.registry.count(target);
        ws + ajax
    }

    /// Another server process, `node`, reports that `uid` is (`connected`) or is no longer
    /// connected there on `transport`. The user is open while any process has them, and
    /// closed (with [`PresenceEvent::UidPortClose`](super::PresenceEvent)) when none has.
    pub fn set_remote_presence(
        &self,
        node: &str,
        uid: &str,
        transport: Transport,
        connected: bool,
    ) {
        self.inner.presence.remote(node, uid, transport, connected);
    }

    /// Another process's users are exactly `users` (after reading its whole list again); an
    /// empty set forgets the process (it is gone: its users connected nowhere else close).
    pub fn set_remote_node(&self, node: &str, users: HashSet<(String, Transport)>) {
        self.inner.presence.remote_node(node, users);
    }

    /// The other processes with users reported by [`set_remote_presence`](Self::set_remote_presence).
    pub fn remote_nodes(&self) -> Vec<String> {
        self.inner.presence.remote_nodes()
    }

    /// This process's connected users, by transport (what a cluster adapter publishes for the
    /// other processes).
    pub fn local_presence(&self) -> Vec<(String, Transport)> {
        self.inner.presence.local_entries()
    }

    /// The server (its timings, metrics, `close_all`, ...).
    pub fn server(&self) -> Server {
        Server {
            inner: self.inner.clone(),
        }
    }
}
