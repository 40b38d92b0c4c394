//! The per-connection bounded send queue. A WebSocket drains it continuously; an Ajax client
//! drains it once per poll, and between polls (within the grace period) it keeps what arrives.
//!
//! The queue is bounded in frames and in bytes. Every push it holds is accounted for: when the
//! receiving side ([`Inbox`]) goes away, whatever is still queued is counted as dropped, with
//! the reason the connection closed.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc, Mutex,
};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::metrics::{Cause, Counters};
use crate::protocol::EventFrame;

/// One queued item: an encoded frame; push batches meant for Ajax also keep their events, so
/// a poll that finds several batches answers them as one `Push`.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) bytes: Bytes,
    pub(crate) events: Option<Arc<[EventFrame]>>,
    /// How many pushed events the frame carries (for the accounting).
    pub(crate) pushes: u64,
    /// Shared by every queued copy of one push batch; released once every copy is written
    /// (or dropped). See [`Ticket`].
    pub(crate) ticket: Option<Arc<Ticket>>,
}

/// The mark of a push frame still being written: every queued copy of one batch holds it (a
/// WebSocket until the flush that writes the frame, an Ajax client until a poll answers it),
/// and the batcher holds a `Weak` to it. While it lives, further pushes to the same target are
/// coalesced into the next batch; dropping the last copy wakes that batch (the channel's
/// receiver sees the sender go).
#[derive(Debug)]
pub(crate) struct Ticket(#[allow(dead_code)] oneshot::Sender<()>);

impl Ticket {
    /// A ticket and what resolves when its last holder drops it.
    pub(crate) fn new() -> (Arc<Self>, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        (Arc::new(Self(tx)), rx)
    }
}

/// Why an item could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueError {
    /// The queue is at capacity (frames or bytes): the client does not keep up.
    Full,
    /// The connection is gone.
    Closed,
}

/// What both sides share: the queued bytes and why the connection closed.
#[derive(Debug)]
struct Shared {
    bytes: AtomicUsize,
    max_bytes: usize,
    cause: Mutex<Option<Cause>>,
    counters: Arc<Counters>,
}

impl Shared {
    fn taken(&self, item: &Outgoing) {
        let n = item.bytes.len();
        self.bytes.fetch_sub(n, Ordering::AcqRel);
        Counters::sub(&self.counters.queued_bytes, n as u64);
    }
}

/// The sending side of a connection's queue (the receiving side belongs to the transport).
#[derive(Debug)]
pub(crate) struct Mailbox {
    tx: mpsc::Sender<Outgoing>,
    shared: Arc<Shared>,
}

/// The receiving side. Dropping it counts what is still queued as dropped.
#[derive(Debug)]
pub(crate) struct Inbox {
    rx: mpsc::Receiver<Outgoing>,
    /// An item taken but put back (an Ajax poll's response was full).
    peeked: Option<Outgoing>,
    shared: Arc<Shared>,
}

impl Mailbox {
    /// A queue holding at most `capacity` items and `max_bytes` bytes (tokio allocates its
    /// blocks lazily).
    pub(crate) fn new(capacity: usize, max_bytes: usize, counters: Arc<Counters>) -> (Self, Inbox) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let shared = Arc::new(Shared {
            bytes: AtomicUsize::new(0),
            max_bytes,
            cause: Mutex::new(None),
            counters,
        });
        let inbox = Inbox {
            rx,
            peeked: None,
            shared: shared.clone(),
        };
        (Self { tx, shared }, inbox)
    }

    pub(crate) fn push(&self, item: Outgoing) -> Result<(), QueueError> {
        let n = item.bytes.len();
        let queued = self.shared.bytes.load(Ordering::Acquire);
        // One frame is always accepted into an empty queue, whatever its size.
        if queued > 0 && queued.saturating_add(n) > self.shared.max_bytes {
            return Err(if self.tx.is_closed() {
                QueueError::Closed
            } else {
                QueueError::Full
            });
        }
        self.shared.bytes.fetch_add(n, Ordering::AcqRel);
        match self.tx.try_send(item) {
            Ok(()) => {
                Counters::add(&self.shared.counters.queued_bytes, n as u64);
                Ok(())
            }
            Err(e) => {
                self.shared.bytes.fetch_sub(n, Ordering::AcqRel);
                Err(match e {
                    mpsc::error::TrySendError::Full(_) => QueueError::Full,
                    mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
                })
            }
        }
    }

    /// Records why the connection closes; what is still queued when the inbox goes away is
    /// counted under this cause. The first cause wins.
    pub(crate) fn set_cause(&self, cause: Cause) {
        let mut slot = self.shared.cause.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert(cause);
    }

    /// Bytes queued now.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.shared.bytes.load(Ordering::Acquire)
    }
}

impl Inbox {
    /// The next item, waiting for one.
    pub(crate) async fn recv(&mut self) -> Option<Outgoing> {
        let item = match self.peeked.take() {
            Some(item) => Some(item),
            None => self.rx.recv().await,
        }?;
        self.shared.taken(&item);
        Some(item)
    }

    /// The next item, if one is queued.
    pub(crate) fn try_recv(&mut self) -> Option<Outgoing> {
        let item = match self.peeked.take() {
            Some(item) => item,
            None => self.rx.try_recv().ok()?,
        };
        self.shared.taken(&item);
        Some(item)
    }

    /// Puts back the item [`recv`](Self::recv) or [`try_recv`](Self::try_recv) returned last;
    /// it comes out first again.
    pub(crate) fn put_back(&mut self, item: Outgoing) {
        let n = item.bytes.len();
        self.shared.bytes.fetch_add(n, Ordering::AcqRel);
        Counters::add(&self.shared.counters.queued_bytes, n as u64);
        self.peeked = Some(item);
    }

    /// Refuses new items and counts the queued ones as dropped for `cause` (or for the cause
    /// recorded with [`Mailbox::set_cause`], which wins).
    pub(crate) fn close(&mut self, cause: Cause) {
        self.rx.close();
        let cause = *self
            .shared
            .cause
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(cause);
        let mut n = 0;
        while let Some(item) = self.try_recv() {
            n += item.pushes;
        }
        self.shared.counters.dropped(cause, n);
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.close(Cause::Closed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(len: usize, pushes: u64) -> Outgoing {
        Outgoing {
            bytes: Bytes::from(vec![0; len]),
            events: None,
            pushes,
            ticket: None,
        }
    }

    #[test]
    fn bounded_in_frames_and_bytes() {
        let counters = Arc::new(Counters::default());
        let (mb, mut inbox) = Mailbox::new(3, 100, counters.clone());
        // A frame larger than the byte bound still fits an empty queue.
        assert_eq!(mb.push(item(150, 1)), Ok(()));
        assert_eq!(mb.push(item(1, 1)), Err(QueueError::Full));
        assert!(inbox.try_recv().is_some());
        assert_eq!(mb.queued_bytes(), 0);
        assert_eq!(mb.push(item(60, 1)), Ok(()));
        assert_eq!(mb.push(item(40, 1)), Ok(()));
        assert_eq!(mb.push(item(1, 1)), Err(QueueError::Full));
        assert_eq!(counters.snapshot().queued_bytes, 100);
    }

    #[test]
    fn dropping_the_inbox_counts_what_was_queued() {
        let counters = Arc::new(Counters::default());
        let (mb, inbox) = Mailbox::new(8, 1 << 20, counters.clone());
        mb.push(item(10, 3)).expect("queued");
        mb.push(item(10, 2)).expect("queued");
        mb.set_cause(Cause::SlowConsumer);
        drop(inbox);
        let m = counters.snapshot();
        assert_eq!(m.pushes_dropped_slow_consumer, 5);
        assert_eq!(m.queued_bytes, 0);
        assert_eq!(mb.push(item(10, 1)), Err(QueueError::Closed));
    }
}
