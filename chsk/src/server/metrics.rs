//! Counters: nothing is dropped without being counted here (and logged with `tracing`).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $(pub(crate) $name: AtomicU64,)*
        }

        impl Counters {
            pub(crate) fn snapshot(&self) -> Metrics {
                Metrics { $($name: self.$name.load(Relaxed),)* }
            }
        }

        /// A snapshot of the server's counters (all monotonic since the server was built).
        ///
        /// ```no_run
        /// # fn f(server: chsk::server::Server) {
        /// let m = server.metrics();
        /// println!("{} pushes could not be delivered", m.pushes_undeliverable);
        /// # }
        /// ```
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct Metrics {
            $($(#[$doc])* pub $name: u64,)*
        }
    };
}

counters! {
    /// WebSocket connections opened.
    ws_opened,
    /// WebSocket connections closed (any reason).
    ws_closed,
    /// Ajax client states created (handshakes).
    ajax_opened,
    /// Ajax client states dropped (grace period expired, replaced, or closed).
    ajax_closed,
    /// Requests refused before any state was created (any status).
    rejected_requests,
    /// Pushes (or broadcasts) that found no connection to deliver to.
    pushes_undeliverable,
    /// Frames that could not be queued for a connection (its queue was full or it was closing).
    frames_dropped,
    /// Connections closed because their send queue was full.
    slow_consumer_closes,
    /// Malformed frames received (answered with `Error` or `400`).
    malformed_frames,
    /// Frames over `max_frame_bytes` (WebSocket close 1009, Ajax `413`).
    oversized_frames,
    /// Connections closed (or Ajax sends refused) for exceeding the rate limit.
    rate_limited,
    /// Incoming events whose id no handler serves, or whose payload did not decode.
    bad_events,
    /// Handlers that panicked.
    handler_panics,
    /// Ajax requests answered `504` because the handler was too slow.
    reply_timeouts,
    /// WebSocket connections closed because the client did not answer a ping in time.
    ping_timeouts,
}

impl Counters {
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
}
