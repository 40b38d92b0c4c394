//! One connection: who it is, its send queue, and how it is told to close.

use std::{
    fmt,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Instant,
};

use tokio::sync::{futures::Notified, mpsc, watch, Notify};

use super::{
    mailbox::{Mailbox, Outgoing, QueueError},
    metrics::Counters,
    options::{RateLimit, Transport},
    request::HandshakeRequest,
};

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
    pub(crate) rx: tokio::sync::Mutex<mpsc::Receiver<Outgoing>>,
    /// Bumped by every poll; an older poll seeing a newer value ends with `PollTimeout`.
    pub(crate) poll_gen: watch::Sender<u64>,
    pub(crate) active_polls: AtomicUsize,
    pub(crate) last_poll_end: Mutex<Instant>,
    /// Whether a reaper task is pending for this client (at most one is).
    pub(crate) reaper: AtomicBool,
}

/// A live connection in the registry.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) info: Arc<ConnInfo>,
    mailbox: Mailbox,
    /// Set once, by the first close request: the reason and the WebSocket close code.
    close_reason: Mutex<Option<(String, u16)>>,
    /// Wakes the transport when a close is requested (a `Notify`: far smaller than a `watch`).
    close_notify: Notify,
    closing: AtomicBool,
    pub(crate) ajax: Option<AjaxState>,
    pub(crate) limiter: Option<Mutex<Bucket>>,
}

impl Conn {
    /// A connection and the receiving side of its queue (for WebSocket; Ajax keeps it inside).
    pub(crate) fn new(
        info: ConnInfo,
        capacity: usize,
        rate: Option<RateLimit>,
    ) -> (Arc<Self>, Option<mpsc::Receiver<Outgoing>>) {
        let (mailbox, rx) = Mailbox::new(capacity);
        let (ajax, rx) = if info.transport == Transport::Ajax {
            let state = AjaxState {
                rx: tokio::sync::Mutex::new(rx),
                poll_gen: watch::channel(0).0,
                active_polls: AtomicUsize::new(0),
                last_poll_end: Mutex::new(Instant::now()),
                reaper: AtomicBool::new(false),
            };
            (Some(state), None)
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
        });
        (conn, rx)
    }

    pub(crate) fn id(&self) -> ConnId {
        self.info.conn_id
    }

    pub(crate) fn transport(&self) -> Transport {
        self.info.transport
    }

    /// Queues an item; a full queue closes the connection as a slow consumer. Every failure is
    /// counted.
    pub(crate) fn enqueue(&self, item: Outgoing, counters: &Counters) -> bool {
        match self.mailbox.push(item) {
            Ok(()) => true,
            Err(QueueError::Full) => {
                Counters::inc(&counters.frames_dropped);
                if self.request_close("slow consumer", 1008) {
                    Counters::inc(&counters.slow_consumer_closes);
                    tracing::warn!(conn = %self.id(), client_id = %self.info.client_id,
                        "chsk: send queue full, closing the connection (slow consumer)");
                }
                false
            }
            Err(QueueError::Closed) => {
                Counters::inc(&counters.frames_dropped);
                false
            }
        }
    }

    /// Asks the transport to close this connection with `reason` (and WebSocket close `code`);
    /// `false` if it was already closing.
    pub(crate) fn request_close(&self, reason: &str, code: u16) -> bool {
        {
            let mut slot = self.close_reason.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_some() {
                return false;
            }
            *slot = Some((reason.to_owned(), code));
        }
        self.closing.store(true, Ordering::Release);
        self.close_notify.notify_waiters();
        true
    }

    /// The close request, once there is one.
    pub(crate) fn close_reason(&self) -> Option<(String, u16)> {
        self.close_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
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
