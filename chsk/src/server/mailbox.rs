//! The per-connection bounded send queue. A WebSocket drains it continuously; an Ajax client
//! drains it once per poll, and between polls (within the grace period) it keeps what arrives.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::protocol::EventFrame;

/// One queued item: an encoded frame; push batches meant for Ajax also keep their events, so
/// a poll that finds several batches answers them as one `Push`.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) bytes: Bytes,
    pub(crate) events: Option<Arc<[EventFrame]>>,
}

/// Why an item could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueError {
    /// The queue is at capacity: the client does not keep up.
    Full,
    /// The connection is gone.
    Closed,
}

/// The sending side of a connection's queue (the receiving side belongs to the transport).
#[derive(Debug)]
pub(crate) struct Mailbox {
    tx: mpsc::Sender<Outgoing>,
}

impl Mailbox {
    /// A queue holding at most `capacity` items (tokio allocates its blocks lazily).
    pub(crate) fn new(capacity: usize) -> (Self, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { tx }, rx)
    }

    pub(crate) fn push(&self, item: Outgoing) -> Result<(), QueueError> {
        self.tx.try_send(item).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => QueueError::Full,
            mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
        })
    }
}
