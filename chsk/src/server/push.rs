//! Pushes: targets, adaptive coalescing per transport, one encoding per batch.
//!
//! Coalescing: a push to a target whose previous frame has been written goes out at once (it
//! is encoded and queued for every recipient in the call). While that frame is still being
//! written somewhere (its [`Ticket`] lives: a WebSocket has not flushed it, an Ajax client has
//! no poll to answer it), further pushes to the target gather in one open batch; the batch goes
//! out when the last copy of the previous frame is written, or after the transport's window
//! (`send_buf_ws` / `send_buf_ajax`) at the latest, whichever comes first. At low rate every
//! push is sent at once; under load pushes become one frame per write, encoded once.
//!
//! Ordering: at most one open batch may reach any given connection at a time. A push whose
//! target overlaps an open batch for another target (a broadcast while a user's batch is open,
//! say) flushes that batch first, so every connection sees pushes in the order they were made.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, Weak},
    time::Duration,
};

use foldhash::fast::RandomState as FastHash;
use tokio::sync::oneshot;

use bytes::Bytes;

use super::{
    conn::Conn,
    mailbox::{Outgoing, OwnedRun, Ticket},
    metrics::Counters,
    options::Limits,
};
use crate::{
    codec::Codec,
    error::CodecError,
    protocol::{raw, Position},
    transport::Transport,
};

/// What a [`Batcher`] needs of the server it delivers for (the server's shared state
/// implements it), so that this file knows nothing of that state.
pub(crate) trait Node: Send + Sync + Sized + 'static {
    /// The batcher of a transport.
    fn batcher(&self, transport: Transport) -> &Batcher;
    /// The open connections of `transport` that `target` reaches.
    fn targets(&self, target: &Target, transport: Transport) -> Vec<Arc<Conn>>;
    /// The server's counters.
    fn counters(&self) -> &Counters;
    /// The codec of every connection.
    fn codec(&self) -> Codec;
    /// The server's limits.
    fn limits(&self) -> &Limits;
    /// Closes and forgets a connection (its queue is full).
    fn drop_conn(self: &Arc<Self>, conn: &Arc<Conn>);
}

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

/// Whether a push may be coalesced with the pushes that follow it.
///
/// Neither waits for a push to an idle target: both send it at once. They differ while the
/// previous frame to the same target is still being written (a burst, a slow socket).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Flush {
    /// Coalesced (the default): sent at once when the target's previous frame has been
    /// written; otherwise gathered with the pushes that follow into one frame, sent when that
    /// write completes, or after `send_buf_ws` / `send_buf_ajax` at the latest. Fewer frames
    /// and encodes under load, no delay at low rate.
    #[default]
    Batched,
    /// Sent at once in any case, together with whatever is already gathered for the same
    /// target: one frame (and one encode) per push during a burst.
    Now,
}

/// How a push is sent: when it may be coalesced ([`Flush`]), and whether it is kept for
/// clients that reconnect.
///
/// A `Flush` converts into it, so `server.push(target, event, Flush::Now)` reads as before.
///
/// ```
/// use chsk::server::{Flush, PushOptions};
/// let typing = PushOptions::default().volatile(true);
/// assert_eq!(PushOptions::from(Flush::Now).flush, Flush::Now);
/// assert!(typing.volatile && !PushOptions::default().volatile);
/// // For this process's clients only (e.g. a snapshot every process pushes).
/// let here = PushOptions::default().local(true);
/// assert!(here.local);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushOptions {
    /// When the push goes out (default [`Flush::Batched`]).
    pub flush: Flush,
    /// Not kept in the stream history: it carries no position, and a client that reconnects
    /// does not get it back (typing indicators, cursor moves, progress ticks). Default
    /// `false`; an event variant marked `#[event(volatile)]` is volatile whatever this says.
    pub volatile: bool,
    /// Delivered to this process's connections only, not through the adapter (so with a
    /// cluster adapter, not to the other processes' clients), and volatile. For what every
    /// process pushes to its own clients anyway, such as a presence snapshot each process
    /// computes from the cluster-wide `connected_uids`: without it, every client would get it
    /// once per process. Default `false`; the same as a normal push on one process.
    pub local: bool,
}

impl PushOptions {
    /// Sets [`flush`](Self::flush).
    pub fn flush(mut self, flush: Flush) -> Self {
        self.flush = flush;
        self
    }

    /// Sets [`volatile`](Self::volatile).
    pub fn volatile(mut self, volatile: bool) -> Self {
        self.volatile = volatile;
        self
    }

    /// Sets [`local`](Self::local).
    pub fn local(mut self, local: bool) -> Self {
        self.local = local;
        self
    }
}

impl From<Flush> for PushOptions {
    fn from(flush: Flush) -> Self {
        Self {
            flush,
            ..Self::default()
        }
    }
}

/// Why a push was refused: a bug in the app (or its adapter), never a normal outcome.
///
/// A push that reaches nobody is not an error: it returns `Ok(0)` (and is counted in
/// [`Metrics::pushes_undeliverable`](super::metrics::Metrics::pushes_undeliverable)). Every `PushError`
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
    /// The push history could not keep the event (a store failed): it is not sent, because a
    /// client that reconnects later would be told it missed nothing. Counted in
    /// `pushes_history_failed`.
    #[error("the push history failed: {0}")]
    History(String),
    /// The server this push went through was dropped (a `NodeHandle`
    /// kept by an adapter outlived it).
    #[error("the server was dropped")]
    ServerDropped,
}

/// One pushed event as the batchers keep it: encoded once (one element of a `Push` frame's
/// event list, in the server's codec), with its stream position when the history keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    pub(crate) data: Bytes,
    pub(crate) at: Option<Position>,
}

impl Queued {
    /// Whether `next` continues the same run of a `Push` frame after `self`.
    fn continued_by(&self, next: &Queued) -> bool {
        match (self.at, next.at) {
            (None, None) => true,
            (Some(a), Some(b)) => a.stream == b.stream && a.epoch == b.epoch && a.seq + 1 == b.seq,
            _ => false,
        }
    }
}

#[derive(Debug)]
struct Batch {
    target: Target,
    events: Vec<Queued>,
    /// The encoded size of `Frame::Push(events)`, estimated from above (see [`frame_cost`]).
    bytes: usize,
    gen: u64,
}

impl Batch {
    /// A batch of one event: `bytes` is the size of its frame, from above.
    fn first(target: Target, event: Queued, bytes: usize, gen: u64) -> Self {
        Self {
            target,
            events: vec![event],
            bytes,
            gen,
        }
    }
}

/// What an encoded event adds to a `Push` frame: its bytes and a separator (JSON's comma).
pub(crate) fn event_cost(event: &Queued) -> usize {
    event.data.len() + 1
}

/// What a `Push` frame costs around one run of events, from above (see
/// `Codec::push_overheads`).
pub(crate) fn push_frame_overhead(codec: Codec) -> usize {
    let (frame, run) = codec.push_overheads();
    frame + run
}

/// The size of a `Push` frame holding one event, from above, before it is encoded: postcard
/// adds two varint lengths (at most 10 bytes), JSON `{"id":"","payload":},` (22 bytes) plus
/// escapes in the id (ids are `ns/kebab-case` text, and a frame that is larger after all is
/// split again before it is sent).
pub(crate) fn estimate(codec: Codec, event: &crate::protocol::EventFrame) -> usize {
    event.id.len() + event.payload.as_bytes().len() + 24 + push_frame_overhead(codec)
}

/// The open batches. Open batches never overlap (see `Batcher::push`), so the order in which
/// they are delivered does not matter for any connection.
#[derive(Debug, Default)]
struct State {
    /// Batches to one user, by user id: found in O(1), and a push to a user need not look at
    /// the other users' batches (users never overlap each other).
    users: HashMap<String, Batch, FastHash>,
    /// Batches to `All` or to one client.
    others: Vec<Batch>,
    next_gen: u64,
    /// The last frame delivered to each target, while it may still be being written.
    flights: HashMap<Target, Flight, FastHash>,
    /// `flights` is cleared of written frames when it grows past this.
    prune_at: usize,
}

/// The last frame delivered to a target.
#[derive(Debug)]
struct Flight {
    /// Alive while a copy is still queued or unflushed.
    ticket: Weak<Ticket>,
    /// Resolves when the frame is written everywhere; taken by the batch that waits for it.
    written: Option<oneshot::Receiver<()>>,
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

    /// The open batch to `target` if it is batch `gen` (not one opened since).
    fn take_gen(&mut self, target: &Target, gen: u64) -> Option<Batch> {
        if self.get_mut(target)?.gen == gen {
            self.take(target)
        } else {
            None
        }
    }

    /// Whether the last frame to `target` is still being written somewhere.
    fn in_flight(&self, target: &Target) -> bool {
        self.flights
            .get(target)
            .is_some_and(|f| f.ticket.strong_count() > 0)
    }

    /// Records the frame just delivered to `target`.
    fn took_off(&mut self, target: Target, ticket: &Arc<Ticket>, written: oneshot::Receiver<()>) {
        let flight = Flight {
            ticket: Arc::downgrade(ticket),
            written: Some(written),
        };
        self.flights.insert(target, flight);
        if self.flights.len() > self.prune_at {
            self.flights.retain(|_, f| f.ticket.strong_count() > 0);
            self.prune_at = (self.flights.len() * 2).max(64);
        }
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

    /// Adds an event for `target`: sends it at once, or gathers it while the target's previous
    /// frame is in flight (see the module docs).
    pub(crate) fn push<N: Node>(
        &self,
        inner: &Arc<N>,
        target: Target,
        event: Queued,
        flush: Flush,
    ) {
        let mut st = self.lock();
        // Keep per-connection order: flush overlapping batches of other targets first. A batch
        // to another user never overlaps a push to a user; `All` and client batches overlap
        // every user batch.
        let mut i = 0;
        while i < st.others.len() {
            if st.others[i].target != target && st.others[i].target.overlaps(&target) {
                let batch = st.others.remove(i);
                self.deliver(inner, &mut st, batch);
            } else {
                i += 1;
            }
        }
        if !matches!(target, Target::User(_)) {
            for (_, batch) in std::mem::take(&mut st.users) {
                self.deliver(inner, &mut st, batch);
            }
        }
        let runtime = tokio::runtime::Handle::try_current().ok();
        let cost = event_cost(&event);
        let max = inner.limits().max_send_frame_bytes;
        // A batch never grows past the frame bound: a full one goes out now, and this event
        // opens the next (which then waits for the full one to be written).
        let full = st
            .get_mut(&target)
            .is_some_and(|batch| batch.bytes + cost > max);
        if full {
            if let Some(batch) = st.take(&target) {
                self.deliver(inner, &mut st, batch);
            }
        }
        let open = st.get_mut(&target).is_some();
        let flush_now = flush == Flush::Now
            || self.window.is_zero()
            || runtime.is_none()
            || (!open && !st.in_flight(&target));
        let gen = st.next_gen;
        st.next_gen += 1;
        if flush_now && !open {
            // Nothing gathered for this target: deliver at once, without opening a batch.
            self.deliver(
                inner,
                &mut st,
                Batch::first(
                    target,
                    event,
                    cost + push_frame_overhead(inner.codec()),
                    gen,
                ),
            );
            return;
        }
        if let Some(batch) = st.get_mut(&target) {
            batch.events.push(event);
            batch.bytes += cost;
        } else {
            st.insert(Batch::first(
                target.clone(),
                event,
                cost + push_frame_overhead(inner.codec()),
                gen,
            ));
            // Sent when the previous frame is written, or when the window closes.
            let written = st.flights.get_mut(&target).and_then(|f| f.written.take());
            if let Some(rt) = runtime {
                let weak: Weak<N> = Arc::downgrade(inner);
                let window = self.window;
                let transport = self.transport;
                let target = target.clone();
                rt.spawn(async move {
                    match written {
                        Some(written) => {
                            let _ = tokio::time::timeout(window, written).await;
                        }
                        None => tokio::time::sleep(window).await,
                    }
                    if let Some(inner) = weak.upgrade() {
                        inner.batcher(transport).flush_gen(&inner, &target, gen);
                    }
                });
            }
        }
        if flush_now {
            if let Some(batch) = st.take(&target) {
                self.deliver(inner, &mut st, batch);
            }
        }
    }

    /// The batch's timer: flushes the batch `gen` to `target` if it is still open.
    fn flush_gen<N: Node>(&self, inner: &Arc<N>, target: &Target, gen: u64) {
        let mut st = self.lock();
        if let Some(batch) = st.take_gen(target, gen) {
            self.deliver(inner, &mut st, batch);
        }
    }

    /// Flushes the open batches that reach `conn`: an Ajax poll takes at once everything
    /// gathered for its client while it had no poll waiting. (Open batches never overlap, so
    /// their order does not matter.)
    pub(crate) fn flush_for<N: Node>(&self, inner: &Arc<N>, conn: &Conn) {
        let mut st = self.lock();
        if st.users.is_empty() && st.others.is_empty() {
            return;
        }
        if let Some(batch) = conn.info.uid.as_ref().and_then(|uid| st.users.remove(uid)) {
            self.deliver(inner, &mut st, batch);
        }
        let mut i = 0;
        while i < st.others.len() {
            let reaches = match &st.others[i].target {
                Target::Client(id) => *id == conn.info.client_id,
                _ => true,
            };
            if reaches {
                let batch = st.others.remove(i);
                self.deliver(inner, &mut st, batch);
            } else {
                i += 1;
            }
        }
    }

    /// Flushes every open batch.
    pub(crate) fn flush_all<N: Node>(&self, inner: &Arc<N>) {
        let mut st = self.lock();
        let users = std::mem::take(&mut st.users);
        let others = std::mem::take(&mut st.others);
        for batch in users.into_values().chain(others) {
            self.deliver(inner, &mut st, batch);
        }
    }

    /// Encodes a batch once and queues the same bytes for every connection it reaches, with
    /// one ticket; records the flight. Called with the state lock held, so batches are queued
    /// in order.
    fn deliver<N: Node>(&self, inner: &Arc<N>, st: &mut State, batch: Batch) {
        let conns = inner.targets(&batch.target, self.transport);
        let n = batch.events.len() as u64;
        if conns.is_empty() {
            Counters::add(&inner.counters().pushes_undeliverable, n);
            tracing::debug!(target_ = ?batch.target, events = n,
                "chsk: push batch found no connection at flush time");
            return;
        }
        let (ticket, written) = Ticket::new();
        self.deliver_events(inner, &conns, batch.events, &ticket);
        st.took_off(batch.target, &ticket, written);
    }

    /// Writes `events` as `Push` frames (one, or more when they would be larger than
    /// `max_send_frame_bytes`), each run of one stream with its position, and queues the same
    /// bytes for every connection in `conns`.
    fn deliver_events<N: Node>(
        &self,
        inner: &Arc<N>,
        conns: &[Arc<Conn>],
        events: Vec<Queued>,
        ticket: &Arc<Ticket>,
    ) {
        let data: Vec<Bytes> = events.iter().map(|e| e.data.clone()).collect();
        let mut runs: Vec<(Option<Position>, &[Bytes])> = Vec::new();
        let mut start = 0;
        for i in 1..=events.len() {
            if i == events.len() || !events[i - 1].continued_by(&events[i]) {
                runs.push((events[start].at, &data[start..i]));
                start = i;
            }
        }
        let max = inner.limits().max_send_frame_bytes;
        for (bytes, parts) in raw::frames(inner.codec(), &runs, max) {
            let n = raw::count(&parts);
            let runs: Option<Arc<[OwnedRun]>> = match self.transport {
                Transport::Ajax => Some(parts.iter().map(OwnedRun::from).collect()),
                _ => None,
            };
            for conn in conns {
                let item = Outgoing {
                    bytes: bytes.clone(),
                    runs: runs.clone(),
                    pushes: n,
                    ticket: Some(ticket.clone()),
                };
                if !conn.enqueue(item) && conn.transport() == Transport::Ajax && conn.is_closing() {
                    inner.drop_conn(conn);
                }
            }
        }
    }
}
