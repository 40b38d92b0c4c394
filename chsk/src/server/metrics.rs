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

        /// A snapshot of the server's counters (monotonic since the server was built, except
        /// the gauges at the end).
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
    /// Pushes refused because their event alone is larger than `max_send_frame_bytes`.
    pushes_too_large,
    /// Push deliveries: one per event and connection it was handed to (at the batch's flush).
    /// Each is counted once more, in `pushes_written` or in one `pushes_dropped_*`.
    push_deliveries,
    /// Push deliveries written to the connection: handed to the WebSocket and flushed, or put
    /// in an Ajax poll's response.
    pushes_written,
    /// Push deliveries dropped because the connection's queue was full (it is closed).
    pushes_dropped_slow_consumer,
    /// Push deliveries dropped because the connection closed (by the peer, by the app, for a
    /// bad frame or rate limit) or the Ajax client's state expired before they were sent.
    pushes_dropped_closed,
    /// Push deliveries dropped because a newer connection of the same client id replaced it.
    pushes_dropped_replaced,
    /// Push deliveries dropped because the connection was closed for a ping timeout.
    pushes_dropped_ping_timeout,
    /// Push deliveries dropped because a write to the socket timed out (`write_timeout`).
    pushes_dropped_write_timeout,
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
    /// WebSocket connections closed because a write did not complete within `write_timeout`.
    write_timeouts,
    /// Ajax sends refused (`429`) because the client had `max_in_flight` calls running.
    in_flight_refused,
    /// Ajax handshakes refused (`503`) because `max_ajax_clients` states existed.
    ajax_clients_refused,
    /// Pushes refused because the push history failed to keep them (`PushError::History`).
    pushes_history_failed,
    /// Handshakes whose presented positions were all recovered (`recovered: true`).
    recoveries,
    /// Handshakes whose presented positions could not all be recovered (`recovered: false`:
    /// the history no longer had them, other epoch, or a stream without a position).
    recoveries_failed,
    /// Events replayed to recovering connections (each is also a push delivery).
    pushes_replayed,
    /// Ajax push deliveries sent again because the client's next poll showed that the answer
    /// carrying them was lost.
    pushes_resent,
    /// Replies that could not be sent as they were (encode failure, or larger than
    /// `max_send_frame_bytes`) and were replaced by an error reply.
    replies_failed,
    /// Gauge (not monotonic): bytes queued for all connections now.
    queued_bytes,
    /// Gauge: bytes of incoming WebSocket frames whose handlers are running now (all
    /// connections; an Ajax client's running sends are bounded by count, `max_in_flight`).
    in_flight_bytes,
    /// Gauge: Ajax client states now.
    ajax_clients,
    /// Gauge: bytes kept of opening requests for live connections now.
    kept_request_bytes,
    /// Gauge: streams the push history knows now.
    history_streams,
    /// Gauge: events the push history retains now.
    history_events,
    /// Gauge: bytes the push history retains now (encoded events plus bookkeeping).
    history_bytes,
}

impl Metrics {
    /// Push deliveries dropped, all reasons together. Once every connection is idle or closed,
    /// `push_deliveries == pushes_written + pushes_dropped()`.
    ///
    /// ```
    /// let m = chsk::server::Metrics::default();
    /// assert_eq!(m.push_deliveries, m.pushes_written + m.pushes_dropped());
    /// ```
    pub fn pushes_dropped(&self) -> u64 {
        self.pushes_dropped_slow_consumer
            + self.pushes_dropped_closed
            + self.pushes_dropped_replaced
            + self.pushes_dropped_ping_timeout
            + self.pushes_dropped_write_timeout
    }
}

impl Counters {
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Lowers a gauge.
    pub(crate) fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Relaxed);
    }

    /// Counts `n` push deliveries dropped for `cause`.
    pub(crate) fn dropped(&self, cause: Cause, n: u64) {
        if n == 0 {
            return;
        }
        let counter = match cause {
            Cause::SlowConsumer => &self.pushes_dropped_slow_consumer,
            Cause::Replaced => &self.pushes_dropped_replaced,
            Cause::PingTimeout => &self.pushes_dropped_ping_timeout,
            Cause::WriteTimeout => &self.pushes_dropped_write_timeout,
            Cause::Closed => &self.pushes_dropped_closed,
        };
        Counters::add(counter, n);
    }
}

/// Why a connection closed (or why a push to it was dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// Its queue was full.
    SlowConsumer,
    /// A newer connection of the same client id took its place.
    Replaced,
    /// It did not answer a ping.
    PingTimeout,
    /// A write to it did not complete in time.
    WriteTimeout,
    /// Any other close: by the peer, by the app, a bad frame, a rate limit, an expired state.
    Closed,
}
