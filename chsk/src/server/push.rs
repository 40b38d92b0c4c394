//! Pushes: targets, batching windows per transport, one encoding per batch.
//!
//! Ordering: at most one open batch may reach any given connection at a time. A push whose
//! target overlaps an open batch for another target (a broadcast while a user's batch is open,
//! say) flushes that batch first, so every connection sees pushes in the order they were made.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, Weak},
    time::Duration,
};

use super::{
    conn::Conn,
    mailbox::Outgoing,
    metrics::{Cause, Counters},
    Inner,
};
use crate::{
    error::CodecError,
    protocol::{EventFrame, Frame},
    transport::Transport,
};

/// Who receives a push.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// Every connected client of this user id (every tab, every device).
    User(String),
    /// One client id.
    Client(String),
    /// Every connected client, anonymous ones included.
    All,
}

impl Target {
    /// Whether a connection could be reached by both targets.
    fn overlaps(&self, other: &Target) -> bool {
        match (self, other) {
            (Target::User(a), Target::User(b)) | (Target::Client(a), Target::Client(b)) => a == b,
            _ => true,
        }
    }
}

/// Whether a push waits for its transport's batching window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Flush {
    /// Batched with the other pushes of the window (`send_buf_ws` / `send_buf_ajax`).
    #[default]
    Batched,
    /// Sent at once, together with whatever is already batched for the same target.
    Now,
}

/// Why a push was refused: a bug in the app (or its adapter), never a normal outcome.
///
/// A push that reaches nobody is not an error: it returns `Ok(0)` (and is counted in
/// [`Metrics::pushes_undeliverable`](super::Metrics::pushes_undeliverable)). Every `PushError`
/// means the event can never be delivered as it is — it is too large for a frame, it does not
/// encode, or the server is gone — so do not ignore it: return it with `?`, or log it.
///
/// ```no_run
/// # fn f<P: chsk::Event>(server: &chsk::Server, hello: P) -> Result<(), chsk::server::PushError> {
/// let reached = server.send_to_user("alice", hello)?; // 0 when alice is offline
/// println!("queued for {reached} connections");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The event alone is larger than a frame may be (`Limits::max_send_frame_bytes`); counted
    /// in `pushes_too_large`. Send large data over plain HTTP and push a small notice.
    #[error("the event `{id}` encodes to {size} bytes, more than a frame may hold ({max})")]
    TooLarge {
        /// The event's id.
        id: String,
        /// Its encoded size (id, payload and framing).
        size: usize,
        /// `Limits::max_send_frame_bytes`.
        max: usize,
    },
    /// The event could not be encoded.
    #[error(transparent)]
    Encode(#[from] CodecError),
    /// The server this push went through was dropped (a [`NodeHandle`](super::adapter::NodeHandle)
    /// kept by an adapter outlived it).
    #[error("the server was dropped")]
    ServerDropped,
}

#[derive(Debug)]
struct Batch {
    target: Target,
    events: Vec<EventFrame>,
    /// The encoded size of `Frame::Push(events)`, estimated from above (see [`frame_cost`]).
    bytes: usize,
    gen: u64,
}

/// An upper estimate of what an event adds to an encoded `Push` frame, in either codec:
/// postcard adds two varint lengths (at most 10 bytes), JSON `{"id":"","payload":},` (22
/// bytes) plus escapes in the id (ids are `ns/kebab-case` text, and a frame that is larger
/// after all is split again before it is sent).
pub(crate) fn event_cost(event: &EventFrame) -> usize {
    event.id.len() + event.payload.as_bytes().len() + 24
}

/// What a `Push` frame costs around its events: postcard's variant and count (at most 6
/// bytes), JSON's `{"push":[]}` (11 bytes).
pub(crate) const PUSH_FRAME_OVERHEAD: usize = 16;

/// The estimated size of a `Push` frame holding one event.
pub(crate) fn frame_cost(event: &EventFrame) -> usize {
    event_cost(event) + PUSH_FRAME_OVERHEAD
}

/// The open batches. Open batches never overlap (see `Batcher::push`), so the order in which
/// they are delivered does not matter for any connection.
#[derive(Debug, Default)]
struct State {
    /// Batches to one user, by user id: found in O(1), and a push to a user need not look at
    /// the other users' batches (users never overlap each other).
    users: HashMap<String, Batch>,
    /// Batches to `All` or to one client.
    others: Vec<Batch>,
    next_gen: u64,
}

impl State {
    fn get_mut(&mut self, target: &Target) -> Option<&mut Batch> {
        match target {
            Target::User(uid) => self.users.get_mut(uid),
            _ => self.others.iter_mut().find(|b| &b.target == target),
        }
    }

    fn take(&mut self, target: &Target) -> Option<Batch> {
        match target {
            Target::User(uid) => self.users.remove(uid),
            _ => {
                let pos = self.others.iter().position(|b| &b.target == target)?;
                Some(self.others.remove(pos))
            }
        }
    }

    fn take_gen(&mut self, gen: u64) -> Option<Batch> {
        let uid = self
            .users
            .iter()
            .find(|(_, b)| b.gen == gen)
            .map(|(uid, _)| uid.clone());
        if let Some(uid) = uid {
            return self.users.remove(&uid);
        }
        let pos = self.others.iter().position(|b| b.gen == gen)?;
        Some(self.others.remove(pos))
    }

    fn insert(&mut self, batch: Batch) {
        match &batch.target {
            Target::User(uid) => {
                self.users.insert(uid.clone(), batch);
            }
            _ => self.others.push(batch),
        }
    }
}

/// The push batcher of one transport.
#[derive(Debug)]
pub(crate) struct Batcher {
    transport: Transport,
    window: Duration,
    state: Mutex<State>,
}

impl Batcher {
    pub(crate) fn new(transport: Transport, window: Duration) -> Self {
        Self {
            transport,
            window,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an event for `target`; schedules the window's flush, or flushes now.
    pub(crate) fn push(&self, inner: &Arc<Inner>, target: Target, event: EventFrame, flush: Flush) {
        let mut st = self.lock();
        // Keep per-connection order: flush overlapping batches of other targets first. A batch
        // to another user never overlaps a push to a user; `All` and client batches overlap
        // every user batch.
        let mut i = 0;
        while i < st.others.len() {
            if st.others[i].target != target && st.others[i].target.overlaps(&target) {
                let batch = st.others.remove(i);
                self.deliver(inner, batch);
            } else {
                i += 1;
            }
        }
        if !matches!(target, Target::User(_)) {
            for (_, batch) in std::mem::take(&mut st.users) {
                self.deliver(inner, batch);
            }
        }
        let runtime = tokio::runtime::Handle::try_current().ok();
        let flush_now = flush == Flush::Now || self.window.is_zero() || runtime.is_none();
        let cost = event_cost(&event);
        let max = inner.config.limits.max_send_frame_bytes;
        // A batch never grows past the frame bound: a full one goes out now, and this event
        // opens the next.
        let full = st
            .get_mut(&target)
            .is_some_and(|batch| batch.bytes + cost > max);
        if full {
            if let Some(batch) = st.take(&target) {
                self.deliver(inner, batch);
            }
        }
        if flush_now && st.get_mut(&target).is_none() {
            // Nothing open for this target: deliver at once, without opening a batch.
            let gen = st.next_gen;
            st.next_gen += 1;
            self.deliver(
                inner,
                Batch {
                    target,
                    events: vec![event],
                    bytes: cost + PUSH_FRAME_OVERHEAD,
                    gen,
                },
            );
            return;
        }
        if let Some(batch) = st.get_mut(&target) {
            batch.events.push(event);
            batch.bytes += cost;
        } else {
            let gen = st.next_gen;
            st.next_gen += 1;
            st.insert(Batch {
                target: target.clone(),
                events: vec![event],
                bytes: cost + PUSH_FRAME_OVERHEAD,
                gen,
            });
            if let (false, Some(rt)) = (flush_now, runtime) {
                let weak: Weak<Inner> = Arc::downgrade(inner);
                let window = self.window;
                let transport = self.transport;
                rt.spawn(async move {
                    tokio::time::sleep(window).await;
                    if let Some(inner) = weak.upgrade() {
                        inner.batcher(transport).flush_gen(&inner, gen);
                    }
                });
            }
        }
        if flush_now {
            if let Some(batch) = st.take(&target) {
                self.deliver(inner, batch);
            }
        }
    }

    /// The window's timer: flushes the batch `gen` if it is still open.
    fn flush_gen(&self, inner: &Arc<Inner>, gen: u64) {
        let mut st = self.lock();
        if let Some(batch) = st.take_gen(gen) {
            self.deliver(inner, batch);
        }
    }

    /// Flushes every open batch.
    pub(crate) fn flush_all(&self, inner: &Arc<Inner>) {
        let mut st = self.lock();
        let users = std::mem::take(&mut st.users);
        let others = std::mem::take(&mut st.others);
        for batch in users.into_values().chain(others) {
            self.deliver(inner, batch);
        }
    }

    /// Encodes a batch once and queues the same bytes for every connection it reaches. Called
    /// with the state lock held, so batches are queued in order.
    fn deliver(&self, inner: &Arc<Inner>, batch: Batch) {
        let conns = inner.registry.targets(&batch.target, self.transport);
        let n = batch.events.len() as u64;
        if conns.is_empty() {
            Counters::add(&inner.counters.pushes_undeliverable, n);
            tracing::debug!(target_ = ?batch.target, events = n,
                "chsk: push batch found no connection at flush time");
            return;
        }
        self.deliver_events(inner, &conns, batch.events);
    }

    /// Encodes `events` as one `Push` frame (or, when it comes out larger than
    /// `max_send_frame_bytes`, as two halves, recursively) and queues it for `conns`.
    fn deliver_events(&self, inner: &Arc<Inner>, conns: &[Arc<Conn>], events: Vec<EventFrame>) {
        let n = events.len() as u64;
        let frame = Frame::Push(events);
        let encoded = inner.config.codec.encode_frame(&frame);
        let Frame::Push(mut events) = frame else {
            return;
        };
        let bytes = match encoded {
            Ok(b) if b.len() > inner.config.limits.max_send_frame_bytes && events.len() > 1 => {
                let second = events.split_off(events.len() / 2);
                self.deliver_events(inner, conns, events);
                self.deliver_events(inner, conns, second);
                return;
            }
            Ok(b) => bytes::Bytes::from(b),
            Err(e) => {
                let total = n * conns.len() as u64;
                Counters::add(&inner.counters.push_deliveries, total);
                inner.counters.dropped(Cause::Encode, total);
                tracing::error!(error = %e, events = n, "chsk: could not encode a push batch");
                return;
            }
        };
        let events: Option<Arc<[EventFrame]>> = match self.transport {
            Transport::Ajax => Some(events.into()),
            _ => None,
        };
        for conn in conns {
            let item = Outgoing {
                bytes: bytes.clone(),
                events: events.clone(),
                pushes: n,
            };
            if !conn.enqueue(item) && conn.transport() == Transport::Ajax && conn.is_closing() {
                inner.drop_conn(conn);
            }
        }
    }
}
