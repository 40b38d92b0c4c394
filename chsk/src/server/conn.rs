//! One connection: who it is, its send queue, and how it is told to close.

use std::{
    fmt,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use tokio::time::Instant;

use tokio::sync::{futures::Notified, watch, Notify};

use super::{
    mailbox::{Inbox, Mailbox, Outgoing, OwnedRun, QueueError},
    metrics::{Cause, Counters},
    options::{Limits, RateLimit},
    request::HandshakeRequest,
};
use crate::{protocol::Position, transport::Transport};

/// A connection's id, unique within one server process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub(crate) u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn-{}", self.0)
    }
}

/// Who is on the other end of a connection (shared by every handler call on it).
#[derive(Debug)]
pub(crate) struct ConnInfo {
    pub(crate) uid: Option<String>,
    pub(crate) client_id: String,
    pub(crate) conn_id: ConnId,
    pub(crate) transport: Transport,
    pub(crate) request: Arc<HandshakeRequest>,
}

/// Ajax-only state: the queue's receiving side is taken by one poll at a time.
#[derive(Debug)]
pub(crate) struct AjaxState {
    pub(crate) rx: tokio::sync::Mutex<Inbox>,
    /// Handler calls of this client's `POST`s still running.
    pub(crate) in_flight: AtomicUsize,
    /// Bumped by every poll; an older poll seeing a newer value ends with `PollTimeout`.
    pub(crate) poll_gen: watch::Sender<u64>,
    pub(crate) active_polls: AtomicUsize,
    pub(crate) last_poll_end: Mutex<Instant>,
    /// Whether a reaper task is pending for this client (at most one is).
    pub(crate) reaper: AtomicBool,
    /// The positioned runs of the last answer with pushes, until a poll's cursor shows they
    /// arrived (a lost answer is sent again).
    unacked: Mutex<Vec<OwnedRun>>,
}

impl AjaxState {
    /// Records the runs of an answer just sent (volatile ones are never sent again).
    pub(crate) fn sent(&self, mut runs: Vec<OwnedRun>) {
        runs.retain(|r| r.at.is_some() && !r.events.is_empty());
        *self.unacked.lock().unwrap_or_else(|e| e.into_inner()) = runs;
    }

    /// What of the last answer a poll with `cursor` did not receive: the events after the
    /// cursor's position on each stream it names (a stream it does not name counts as
    /// received: that client keeps no position there).
    pub(crate) fn unacked(&self, cursor: &[Position]) -> Vec<OwnedRun> {
        let mut unacked = self.unacked.lock().unwrap_or_else(|e| e.into_inner());
        let mut lost = Vec::new();
        for run in unacked.drain(..) {
            let Some(at) = run.at else { continue };
            let Some(p) = cursor.iter().find(|p| p.stream == at.stream) else {
                continue;
            };
            if p.epoch != at.epoch {
                continue;
            }
            let received = p
                .seq
                .saturating_sub(at.seq - 1)
                .min(run.events.len() as u64) as usize;
            if received < run.events.len() {
                lost.push(OwnedRun {
                    at: Some(Position {
                        seq: at.seq + received as u64,
                        ..at
                    }),
                    events: run.events[received..].to_vec(),
                });
            }
        }
        lost
    }
}

/// A live connection in the registry.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) info: Arc<ConnInfo>,
    mailbox: Mailbox,
    /// Set once, by the first close request: the reason, the WebSocket close code and the
    /// cause (for the accounting of dropped pushes).
    close_reason: Mutex<Option<(String, u16, Cause)>>,
    /// Wakes the transport when a close is requested (a `Notify`: far smaller than a `watch`).
    close_notify: Notify,
    closing: AtomicBool,
    /// Boxed: a WebSocket connection does not carry room for it.
    pub(crate) ajax: Option<Box<AjaxState>>,
    pub(crate) limiter: Option<Mutex<Bucket>>,
    counters: Arc<Counters>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        Counters::sub(
            &self.counters.kept_request_bytes,
            self.info.request.kept_bytes() as u64,
        );
    }
}

impl Conn {
    /// A connection and the receiving side of its queue (for WebSocket; Ajax keeps it inside).
    pub(crate) fn new(
        info: ConnInfo,
        limits: &Limits,
        counters: &Arc<Counters>,
    ) -> (Arc<Self>, Option<Inbox>) {
        let (mailbox, rx) =
            Mailbox::new(limits.send_queue, limits.send_queue_bytes, counters.clone());
        Counters::add(
            &counters.kept_request_bytes,
            info.request.kept_bytes() as u64,
        );
        let rate: Option<RateLimit> = limits.rate_limit;
        let (ajax, rx) = if info.transport == Transport::Ajax {
            let state = AjaxState {
                rx: tokio::sync::Mutex::new(rx),
                in_flight: AtomicUsize::new(0),
                poll_gen: watch::channel(0).0,
                active_polls: AtomicUsize::new(0),
                last_poll_end: Mutex::new(Instant::now()),
                reaper: AtomicBool::new(false),
                unacked: Mutex::new(Vec::new()),
            };
            (Some(Box::new(state)), None)
        } else {
            (None, Some(rx))
        };
        let conn = Arc::new(Self {
            info: Arc::new(info),
            mailbox,
            close_reason: Mutex::new(None),
            close_notify: Notify::new(),
            closing: AtomicBool::new(false),
            ajax,
            limiter: rate.map(|r| Mutex::new(Bucket::new(r))),
            counters: counters.clone(),
        });
        (conn, rx)
    }

    pub(crate) fn id(&self) -> ConnId {
        self.info.conn_id
    }

    pub(crate) fn transport(&self) -> Transport {
        self.info.transport
    }

    /// Queues an item (counting its pushes as deliveries); a full queue closes the connection
    /// as a slow consumer. Every push that is not queued is counted as dropped, with a reason.
    pub(crate) fn enqueue(&self, item: Outgoing) -> bool {
        let counters = &*self.counters;
        let pushes = item.pushes;
        Counters::add(&counters.push_deliveries, pushes);
        match self.mailbox.push(item) {
            Ok(()) => true,
            Err(QueueError::Full) => {
                Counters::inc(&counters.frames_dropped);
                if self.request_close("slow consumer", 1008, Cause::SlowConsumer) {
                    Counters::inc(&counters.slow_consumer_closes);
                    tracing::warn!(conn = %self.id(), client_id = %self.info.client_id,
                        queued_bytes = self.mailbox.queued_bytes(),
                        "chsk: send queue full, closing the connection (slow consumer)");
                }
                counters.dropped(self.cause().unwrap_or(Cause::SlowConsumer), pushes);
                false
            }
            Err(QueueError::Closed) => {
                Counters::inc(&counters.frames_dropped);
                counters.dropped(self.cause().unwrap_or(Cause::Closed), pushes);
                false
            }
        }
    }

    /// Queues a replay before everything queued (counted as deliveries); `false` when the
    /// connection is gone (the replay is counted as dropped).
    pub(crate) fn enqueue_front(&self, items: Vec<Outgoing>) -> bool {
        let counters = &*self.counters;
        let pushes: u64 = items.iter().map(|i| i.pushes).sum();
        Counters::add(&counters.push_deliveries, pushes);
        if self.mailbox.push_front(items).is_ok() {
            return true;
        }
        counters.dropped(self.cause().unwrap_or(Cause::Closed), pushes);
        false
    }

    /// Asks the transport to close this connection with `reason` (and WebSocket close `code`);
    /// `false` if it was already closing. `cause` is what pushes still queued are counted as.
    pub(crate) fn request_close(&self, reason: &str, code: u16, cause: Cause) -> bool {
        {
            let mut slot = self.close_reason.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_some() {
                return false;
            }
            *slot = Some((reason.to_owned(), code, cause));
        }
        self.mailbox.set_cause(cause);
        self.closing.store(true, Ordering::Release);
        self.close_notify.notify_waiters();
        true
    }

    /// The close request, once there is one.
    pub(crate) fn close_reason(&self) -> Option<(String, u16)> {
        self.close_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|(reason, code, _)| (reason.clone(), *code))
    }

    /// Why the connection is closing, once it is.
    pub(crate) fn cause(&self) -> Option<Cause> {
        self.close_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|(_, _, cause)| *cause)
    }

    /// The counters of the server this connection belongs to.
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// A future that resolves when a close is requested. Enable it (`Notified::enable`) and
    /// then check [`is_closing`](Self::is_closing), so no request is missed.
    pub(crate) fn close_requested(&self) -> Notified<'_> {
        self.close_notify.notified()
    }

    /// Takes one token from the rate limiter; `false` when the connection is over its limit.
    pub(crate) fn allow_frame(&self) -> bool {
        match &self.limiter {
            None => true,
            Some(bucket) => bucket
                .lock()
                .map(|mut b| b.take(Instant::now()))
                .unwrap_or(true),
        }
    }
}

/// A token bucket.
#[derive(Debug)]
pub(crate) struct Bucket {
    rate: RateLimit,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    pub(crate) fn new(rate: RateLimit) -> Self {
        Self {
            rate,
            tokens: f64::from(rate.burst),
            at: Instant::now(),
        }
    }

    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens =
            (self.tokens + dt * f64::from(self.rate.per_second)).min(f64::from(self.rate.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Counts ids for connections.
#[derive(Debug, Default)]
pub(crate) struct ConnIds(AtomicU64);

impl ConnIds {
    pub(crate) fn next(&self) -> ConnId {
        ConnId(self.0.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_limits_bursts() {
        let mut b = Bucket::new(RateLimit {
            per_second: 10,
            burst: 3,
        });
        let t = b.at;
        assert!(b.take(t) && b.take(t) && b.take(t));
        assert!(!b.take(t));
        assert!(b.take(t + Duration::from_millis(150)));
    }
}
