//! For authors of adapters and brokers: how pushes and presence reach connections.
//!
//! The app chooses an adapter once, with
//! [`ServerBuilder::adapter`](super::ServerBuilder::adapter); an app on one process never
//! needs this module. The default, [`LocalAdapter`], delivers to this process's connections.
//! A cluster adapter (Redis pub/sub, say) implements [`Adapter`] to fan pushes and presence
//! out to other server processes without touching the transports; it receives each push
//! already encoded as an [`EventFrame`] (encoded once, whatever the number of recipients) and
//! hands pushes that arrive from other processes to its [`NodeHandle`].

pub use super::shared::{Adapter, LocalNode, NodeHandle};
#[doc(no_inline)]
pub use crate::protocol::EventFrame;

/// The default adapter: one server process.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalAdapter;

impl Adapter for LocalAdapter {}
