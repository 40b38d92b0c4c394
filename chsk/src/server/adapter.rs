//! For authors of adapters and brokers: how pushes and presence reach connections.
//!
//! The app chooses an adapter once, with
//! [`ServerBuilder::adapter`](super::ServerBuilder::adapter); an app on one process never
//! needs this module. The default, [`LocalAdapter`], delivers to this process's connections.
//! A cluster adapter (Redis pub/sub, say) implements [`Adapter`] to fan pushes and presence
//! out to other server processes without touching the transports; it receives each push
//! already encoded as an [`EventFrame`] (encoded once, whatever the number of recipients) and
//! hands pushes that arrive from other processes to its [`NodeHandle`].

use std::{
    fmt,
    sync::{Arc, Weak},
};

use super::{
    presence::ConnectedUids,
    push::{Flush, PushError, Target},
    Inner,
};
#[doc(no_inline)]
pub use crate::protocol::EventFrame;

/// Routes pushes and answers presence queries. Every method has the single-process default;
/// implementors override only what differs.
///
/// ```
/// use chsk::server::adapter::{Adapter, EventFrame, LocalNode};
/// use chsk::server::{Flush, PushError, Target};
///
/// /// Logs every push, then delivers it locally.
/// #[derive(Debug)]
/// struct Logging;
///
/// impl Adapter for Logging {
///     fn push(&self, node: LocalNode<'_>, target: Target, event: EventFrame, flush: Flush)
///         -> Result<usize, PushError>
///     {
///         println!("push {} to {target:?}", event.id);
///         node.deliver(target, event, flush)
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
        flush: Flush,
    ) -> Result<usize, PushError> {
        node.deliver(target, event, flush)
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
    /// Delivers to this process's connections, like [`LocalNode::deliver`]; fails with
    /// [`PushError::ServerDropped`] once the server is dropped.
    pub fn deliver(
        &self,
        target: Target,
        event: EventFrame,
        flush: Flush,
    ) -> Result<usize, PushError> {
        match self.inner.upgrade() {
            Some(inner) => inner.deliver_local(target, event, flush),
            None => Err(PushError::ServerDropped),
        }
    }
}

/// The default adapter: one server process.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalAdapter;

impl Adapter for LocalAdapter {}

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
        flush: Flush,
    ) -> Result<usize, PushError> {
        self.inner.deliver_local(target, event, flush)
    }

    /// This process's connected users.
    pub fn connected_uids(&self) -> ConnectedUids {
        self.inner.presence.snapshot()
    }
}
