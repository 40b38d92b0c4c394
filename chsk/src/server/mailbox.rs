//! The per-connection bounded send queue. A WebSocket drains it continuously; an Ajax client
//! drains it once per poll, and between polls (within the grace period) it keeps what arrives.
//!
//! The queue is bounded in frames and in bytes. Every push it holds is accounted for: when the
//! receiving side ([`Inbox`]) goes away, whatever is still queued is counted as dropped, with
//! the reason the connection closed.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard},
    task::{Poll, Waker},
};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::metrics::{Cause, Counters};
use crate::protocol::Position;

/// One queued item: an encoded frame; push frames meant for Ajax also keep their runs (the
/// encoded events and their positions), so a poll that finds several answers them as one
/// `Push`, and can send them again when the client's cursor shows the answer was lost.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) bytes: Bytes,
    pub(crate) runs: Option<Arc<[OwnedRun]>>,
    /// How many pushed events the frame carries (for the accounting).
    pub(crate) pushes: u64,
    /// Shared by every queued copy of one push batch; released once every copy is written
    /// (or dropped). See [`Ticket`].
    pub(crate) ticket: Option<Arc<Ticket>>,
}

/// A run of a `Push` frame, kept by an Ajax item: the first event's position (`None`:
/// volatile) and the encoded events.
#[derive(Debug, Clone)]
pub(crate) struct OwnedRun {
    pub(crate) at: Option<Position>,
    pub(crate) events: Vec<Bytes>,
}

impl From<&crate::protocol::raw::RawRun<'_>> for OwnedRun {
    fn from(run: &crate::protocol::raw::RawRun<'_>) -> Self {
        Self {
            at: run.at,
            events: run.events.to_vec(),
        }
    }
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

/// What both sides share: the queue itself, the queued bytes and why the connection closed.
///
/// The queue is a `VecDeque` under a mutex: it allocates nothing until the first item and
/// gives its memory back once drained after a burst, so an idle connection's queue costs only
/// this struct (a `tokio::sync::mpsc` channel allocates its first block of 32 slots, about
/// 2 KiB, when it is made).
#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    max_bytes: usize,
    cause: Mutex<Option<Cause>>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Outgoing>,
    /// At most this many items.
    capacity: usize,
    /// Bytes of the queued items (and of a put-back one).
    bytes: usize,
    /// No more items are accepted: the inbox was closed, or the mailbox dropped.
    closed: bool,
    /// The inbox waiting in [`Inbox::recv`].
    waker: Option<Waker>,
}

/// Items a drained queue may keep room for; beyond it, the room a burst grew goes back.
const KEEP_ROOM: usize = 16;

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next queued item, its bytes no longer counted as queued.
    fn pop(&self, q: &mut Queue) -> Option<Outgoing> {
        let item = q.items.pop_front()?;
        if q.items.is_empty() && q.items.capacity() > KEEP_ROOM {
            q.items = VecDeque::new();
        }
        self.taken(q, &item);
        Some(item)
    }

    fn taken(&self, q: &mut Queue, item: &Outgoing) {
        let n = item.bytes.len();
        q.bytes -= n;
        Counters::sub(&self.counters.queued_bytes, n as u64);
    }
}

/// The sending side of a connection's queue (the receiving side belongs to the transport).
#[derive(Debug)]
pub(crate) struct Mailbox {
    shared: Arc<Shared>,
}

/// The receiving side. Dropping it counts what is still queued as dropped.
#[derive(Debug)]
pub(crate) struct Inbox {
    /// An item taken but put back (an Ajax poll's response was full).
    peeked: Option<Outgoing>,
    shared: Arc<Shared>,
}

impl Mailbox {
    /// A queue holding at most `capacity` items and `max_bytes` bytes; it allocates nothing
    /// until the first item.
    pub(crate) fn new(capacity: usize, max_bytes: usize, counters: Arc<Counters>) -> (Self, Inbox) {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                capacity: capacity.max(1),
                ..Queue::default()
            }),
            max_bytes,
            cause: Mutex::new(None),
            counters,
        });
        let inbox = Inbox {
            peeked: None,
            shared: shared.clone(),
        };
        (Self { shared }, inbox)
    }

    pub(crate) fn push(&self, item: Outgoing) -> Result<(), QueueError> {
        let n = item.bytes.len();
        let waker = {
            let mut q = self.shared.lock();
            if q.closed {
                return Err(QueueError::Closed);
            }
            // One frame is always accepted into an empty queue, whatever its size.
            let over_bytes = q.bytes > 0 && q.bytes.saturating_add(n) > self.shared.max_bytes;
            if over_bytes || q.items.len() >= q.capacity {
                return Err(QueueError::Full);
            }
            q.items.push_back(item);
            q.bytes += n;
            Counters::add(&self.shared.counters.queued_bytes, n as u64);
            q.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Puts `items` before everything queued, in their order, whatever the bounds (a replay
    /// after a reconnect: bounded by the history, and due before the live pushes queued while
    /// it was read).
    pub(crate) fn push_front(&self, items: Vec<Outgoing>) -> Result<(), QueueError> {
        let waker = {
            let mut q = self.shared.lock();
            if q.closed {
                return Err(QueueError::Closed);
            }
            for item in items.into_iter().rev() {
                let n = item.bytes.len();
                q.bytes += n;
                Counters::add(&self.shared.counters.queued_bytes, n as u64);
                q.items.push_front(item);
            }
            q.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Records why the connection closes; what is still queued when the inbox goes away is
    /// counted under this cause. The first cause wins.
    pub(crate) fn set_cause(&self, cause: Cause) {
        let mut slot = self.shared.cause.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert(cause);
    }

    /// Bytes queued now.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.shared.lock().bytes
    }
}

impl Drop for Mailbox {
    /// The inbox sees the end of the queue once it has taken what is in it.
    fn drop(&mut self) {
        let waker = {
            let mut q = self.shared.lock();
            q.closed = true;
            q.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Inbox {
    /// The next item, waiting for one; `None` once the queue is closed and empty. Cancel-safe:
    /// an item is taken only when it is returned.
    pub(crate) async fn recv(&mut self) -> Option<Outgoing> {
        if let Some(item) = self.take_peeked() {
            return Some(item);
        }
        std::future::poll_fn(|cx| {
            let mut q = self.shared.lock();
            if let Some(item) = self.shared.pop(&mut q) {
                return Poll::Ready(Some(item));
            }
            if q.closed {
                return Poll::Ready(None);
            }
            match &mut q.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await
    }

    /// The next item, if one is queued.
    pub(crate) fn try_recv(&mut self) -> Option<Outgoing> {
        if let Some(item) = self.take_peeked() {
            return Some(item);
        }
        let mut q = self.shared.lock();
        self.shared.pop(&mut q)
    }

    fn take_peeked(&mut self) -> Option<Outgoing> {
        let item = self.peeked.take()?;
        self.shared.taken(&mut self.shared.lock(), &item);
        Some(item)
    }

    /// Puts back the item [`recv`](Self::recv) or [`try_recv`](Self::try_recv) returned last;
    /// it comes out first again.
    pub(crate) fn put_back(&mut self, item: Outgoing) {
        let n = item.bytes.len();
        self.shared.lock().bytes += n;
        Counters::add(&self.shared.counters.queued_bytes, n as u64);
        self.peeked = Some(item);
    }

    /// Refuses new items and counts the queued ones as dropped for `cause` (or for the cause
    /// recorded with [`Mailbox::set_cause`], which wins).
    pub(crate) fn close(&mut self, cause: Cause) {
        self.shared.lock().closed = true;
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
            runs: None,
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
    fn a_drained_queue_gives_back_its_room() {
        let counters = Arc::new(Counters::default());
        let (mb, mut inbox) = Mailbox::new(1024, 1 << 20, counters);
        assert_eq!(
            mb.shared.lock().items.capacity(),
            0,
            "nothing allocated at rest"
        );
        for _ in 0..100 {
            mb.push(item(1, 1)).expect("queued");
        }
        while inbox.try_recv().is_some() {}
        assert_eq!(mb.shared.lock().items.capacity(), 0);
    }

    #[tokio::test]
    async fn recv_waits_for_an_item_and_ends_with_the_mailbox() {
        let counters = Arc::new(Counters::default());
        let (mb, mut inbox) = Mailbox::new(8, 1 << 20, counters);
        let waiting = tokio::spawn(async move {
            let first = inbox.recv().await.map(|i| i.pushes);
            let end = inbox.recv().await.map(|i| i.pushes);
            (first, end)
        });
        tokio::task::yield_now().await;
        mb.push(item(3, 7)).expect("queued");
        drop(mb);
        assert_eq!(waiting.await.expect("joined"), (Some(7), None));
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
