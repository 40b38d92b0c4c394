//! For authors of adapters and brokers: how pushes, history and presence reach connections.
//!
//! The app chooses an adapter once, with
//! [`ServerBuilder::adapter`](super::ServerBuilder::adapter); an app on one process never
//! needs this module. The default, [`LocalAdapter`], delivers to this process's connections
//! and keeps the push history in its memory. A cluster adapter (`chsk-redis` is one) makes
//! several server processes one server:
//!
//! - **Pushes**: [`Adapter::push`] receives each push as an [`EventFrame`]; the adapter
//!   encodes it once ([`LocalNode::encode`]) and publishes it; every process, the sender too,
//!   hands what it receives to its connections with [`LocalNode::deliver_encoded`] (through the
//!   [`NodeHandle`] it got in [`Adapter::attach`]), with the stream position the shared
//!   history gave it, in the stream's order. The batchers then encode each batch once for all
//!   of the process's recipients. `push` is synchronous (it is called from handlers and from
//!   any thread): a network adapter queues the push and does its I/O on tasks of its own,
//!   counting and logging what fails (it cannot be returned to the caller).
//! - **History**: [`Adapter::history`] returns a store every process reads
//!   ([`HistoryStore`](super::history::HistoryStore), over a
//!   [`History`](super::history::History)); a client that reconnects to any process is then
//!   recovered from it. The adapter appends each kept push there itself, atomically with its
//!   publication, so that every process sees a stream's pushes in sequence order.
//! - **Presence**: [`Adapter::presence_changed`] tells the adapter when this process's first
//!   connection of a user opens or its last one closes (after the grace period); the adapter
//!   reports other processes' users with [`LocalNode::set_remote_presence`] and
//!   [`LocalNode::set_remote_node`], and `connected_uids`, its watch and the open/close events
//!   then count every process.
//!
//! ```
//! use std::sync::OnceLock;
//! use chsk::server::adapter::{Adapter, EventFrame, LocalNode, NodeHandle};
//! use chsk::server::{PushError, PushOptions, Target};
//! use chsk::Transport;
//!
//! /// Delivers locally and tells a (pretend) peer process about presence.
//! #[derive(Debug)]
//! struct Peer;
//!
//! /// This process, for what arrives from the peer.
//! static NODE: OnceLock<NodeHandle> = OnceLock::new();
//!
//! impl Adapter for Peer {
//!     fn push(&self, node: LocalNode<'_>, target: Target, event: EventFrame, options: PushOptions)
//!         -> Result<usize, PushError>
//!     {
//!         let bytes = node.encode(&event)?; // what would be published
//!         Ok(node.deliver_encoded(target, bytes, None, options.flush))
//!     }
//!
//!     fn attach(&self, node: NodeHandle) {
//!         let _ = NODE.set(node);
//!     }
//!
//!     fn presence_changed(&self, uid: &str, transport: Transport, connected: bool) {
//!         println!("publish: {uid} {connected} on {transport}");
//!     }
//! }
//!
//! # #[chsk::events(ns = "x")] #[derive(Debug, Clone)] enum Ev { A }
//! # #[chsk::handler(Ev::A)] async fn a(_cx: chsk::Ctx<()>) {}
//! # fn main() {
//! let server = chsk::Server::builder(()).handler(a).adapter(Peer).skip_csrf_check().build();
//! // The peer says bob is connected there over WebSocket:
//! NODE.get().unwrap().with(|local| local.set_remote_presence("node-2", "bob", Transport::Ws, true));
//! assert!(server.connected_uids().any.contains("bob"));
//! # }
//! ```

pub use super::shared::{Adapter, LocalNode, NodeHandle};
#[doc(no_inline)]
pub use crate::protocol::EventFrame;

/// The default adapter: one server process.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalAdapter;

impl Adapter for LocalAdapter {}
