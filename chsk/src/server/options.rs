//! Server options: timings, limits and allowed origins.

use std::{collections::HashSet, time::Duration};

/// Timings of the server. Every field has Sente's default, except `ws_kalive`, which is a
/// *sliding* window here (the server pings after `ws_kalive` of silence from the client, never
/// later), where Sente halves the setting to bound its fixed window.
///
/// ```
/// use std::time::Duration;
/// let t = chsk::server::Timings {
///     lp_timeout: Duration::from_secs(15),
///     ..Default::default()
/// };
/// assert_eq!(t.ws_kalive, Duration::from_secs(25));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// Silence from a WebSocket client after which the server sends `Ping` (default 25 s).
    pub ws_kalive: Duration,
    /// How long the server waits for any frame after its `Ping` before closing (default 10 s).
    pub ws_ping_timeout: Duration,
    /// How long an Ajax poll is held before `PollTimeout` (default 20 s).
    pub lp_timeout: Duration,
    /// The longest a push to WebSocket clients is held for coalescing (default 30 ms).
    ///
    /// Not a fixed window: a push to a target whose previous frame has been written is sent at
    /// once. Only while that frame is still being written (a burst, a slow socket) do further
    /// pushes to the target gather into one frame, sent as soon as the write completes, and
    /// after this long at the latest (so a stalled recipient delays the others of a broadcast
    /// by at most this). Zero sends every push at once, as [`Flush::Now`](super::push::Flush::Now)
    /// does: one frame and one encode per push.
    pub send_buf_ws: Duration,
    /// The longest a push to Ajax clients is held for coalescing (default 100 ms). As
    /// `send_buf_ws`; a frame counts as written when a poll answers it, so a push to a client
    /// whose poll is waiting answers it at once, and pushes to a client between polls gather
    /// (and a poll answers everything queued as one `Push`).
    pub send_buf_ajax: Duration,
    /// A closed WebSocket's user still counts as connected for this long (default 2.5 s), so a
    /// page reload is not a close.
    pub ws_grace: Duration,
    /// An Ajax client with no poll outstanding keeps its state (and its queued pushes) for this
    /// long (default 5 s).
    pub ajax_grace: Duration,
    /// How long an Ajax `POST` request waits for its handler before `504` (default 20 s).
    pub ajax_reply_timeout: Duration,
    /// The longest one write to a WebSocket may take (one frame handed to the socket, or one
    /// flush) before the peer counts as stalled and is closed (default 10 s, like
    /// `ws_ping_timeout`). A client that stops reading fills the socket's buffers; its
    /// connection is then closed and freed within this bound, its queued pushes counted as
    /// dropped (`write timeout`). A close requested while a write is pending waits for that
    /// write at most one more second.
    pub write_timeout: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            ws_kalive: Duration::from_secs(25),
            ws_ping_timeout: Duration::from_secs(10),
            lp_timeout: Duration::from_secs(20),
            send_buf_ws: Duration::from_millis(30),
            send_buf_ajax: Duration::from_millis(100),
            ws_grace: Duration::from_millis(2500),
            ajax_grace: Duration::from_secs(5),
            ajax_reply_timeout: Duration::from_secs(20),
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// A token-bucket rate limit on the frames one connection may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Frames per second refilled into the bucket.
    pub per_second: u32,
    /// Bucket size: how many frames may arrive in a burst.
    pub burst: u32,
}

/// Resource limits of the server: what one client can make the server hold.
///
/// | what | bound |
/// |---|---|
/// | one incoming frame | `max_frame_bytes` |
/// | one outgoing frame (push batch, reply) | `max_send_frame_bytes` (batches are split) |
/// | queued for one connection | `send_queue` frames and `send_queue_bytes` bytes |
/// | handlers running for one connection | `max_in_flight` calls; on a WebSocket also `max_in_flight_bytes` of their frames |
/// | connections of one user | `max_conns_per_user` |
/// | Ajax client states, all users | `max_ajax_clients` |
/// | kept of the request that opened a connection | the headers named with [`ServerBuilder::keep_headers`](super::builder::ServerBuilder::keep_headers), at most `max_kept_request_bytes` |
///
/// ```
/// let l = chsk::server::Limits::default();
/// assert_eq!(l.max_frame_bytes, 1 << 20);
/// assert!(l.max_send_frame_bytes <= 16 << 20); // below what chsk's clients accept
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame accepted from a client (default 1 MiB). Larger: WebSocket close 1009, Ajax
    /// `413`.
    pub max_frame_bytes: usize,
    /// Largest frame the server sends (default 1 MiB). Push batches are split into several
    /// `Push` frames (order kept) so that none is larger; a single push whose event alone would
    /// not fit is refused ([`PushError::TooLarge`](super::push::PushError::TooLarge)), and a reply
    /// that would not fit becomes an error reply. chsk's clients accept frames up to 16 MiB
    /// by default: keep this below the clients' limit (PROTOCOL.md, "Frame sizes").
    pub max_send_frame_bytes: usize,
    /// Frames queued for one connection before it counts as a slow consumer and is closed
    /// (default 1024).
    pub send_queue: usize,
    /// Bytes queued for one connection before it counts as a slow consumer and is closed
    /// (default 8 MiB).
    pub send_queue_bytes: usize,
    /// Handler calls (events and requests) running at once for one connection (default 64).
    /// At the limit a WebSocket is not read until a call finishes (back-pressure); an Ajax
    /// `POST` is answered `429 too many requests in flight`.
    pub max_in_flight: usize,
    /// Bytes of incoming frames whose handlers are still running, per WebSocket (default
    /// 8 MiB); at the limit the socket is not read. A decoded payload takes a small multiple of
    /// its frame's size, so this bounds the memory one client's requests can pin. An Ajax
    /// client is bounded by `max_in_flight` sends of at most `max_frame_bytes` each.
    pub max_in_flight_bytes: usize,
    /// Ajax client states (handshaken clients between polls) on this server, all users
    /// together (default 10,000). More: `503 too many clients`.
    pub max_ajax_clients: usize,
    /// Bytes of the opening request kept for a connection's lifetime (its URI and the headers
    /// named with [`ServerBuilder::keep_headers`](super::builder::ServerBuilder::keep_headers); default
    /// 8 KiB). Headers past the cap are not kept (logged).
    pub max_kept_request_bytes: usize,
    /// Live connections one user id may hold (default 64); more gets `429`. Anonymous clients
    /// are not limited by this.
    pub max_conns_per_user: usize,
    /// Per-connection rate limit on incoming frames (default none). Exceeding it closes a
    /// WebSocket with code 1008, and answers Ajax sends with `429`.
    pub rate_limit: Option<RateLimit>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 1 << 20,
            max_send_frame_bytes: 1 << 20,
            send_queue: 1024,
            send_queue_bytes: 8 << 20,
            max_in_flight: 64,
            max_in_flight_bytes: 8 << 20,
            max_ajax_clients: 10_000,
            max_kept_request_bytes: 8 << 10,
            max_conns_per_user: 64,
            rate_limit: None,
        }
    }
}

/// The origins allowed to connect (checked on every request).
///
/// With a set, the `Origin` header must equal one member; without `Origin`, the `Referer` must
/// start with `<member>/`; with neither the request is rejected (`403 bad origin`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Any origin (the default, as in Sente).
    #[default]
    All,
    /// Only these origins, e.g. `https://example.com` (scheme, host and port; no slash).
    Only(HashSet<String>),
}

impl AllowedOrigins {
    /// An allow-list from origin strings.
    ///
    /// ```
    /// let o = chsk::server::AllowedOrigins::only(["https://example.com"]);
    /// assert!(matches!(o, chsk::server::AllowedOrigins::Only(_)));
    /// ```
    pub fn only<I, T>(origins: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        AllowedOrigins::Only(origins.into_iter().map(Into::into).collect())
    }
}
