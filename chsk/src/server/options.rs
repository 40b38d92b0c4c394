//! Server options: timings, limits, allowed origins and the transport kind.

use std::{collections::HashSet, fmt, time::Duration};

/// Which transport a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// A WebSocket.
    Ws,
    /// Ajax long-polling (GET polls, POST sends).
    Ajax,
    /// An in-process call made with [`Server::call_local`](super::Server::call_local).
    Local,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Ws => "ws",
            Transport::Ajax => "ajax",
            Transport::Local => "local",
        })
    }
}

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
    /// Push batching window for WebSocket clients (default 30 ms).
    pub send_buf_ws: Duration,
    /// Push batching window for Ajax clients (default 100 ms).
    pub send_buf_ajax: Duration,
    /// A closed WebSocket's user still counts as connected for this long (default 2.5 s), so a
    /// page reload is not a close.
    pub ws_grace: Duration,
    /// An Ajax client with no poll outstanding keeps its state (and its queued pushes) for this
    /// long (default 5 s).
    pub ajax_grace: Duration,
    /// How long an Ajax `POST` request waits for its handler before `504` (default 20 s).
    pub ajax_reply_timeout: Duration,
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

/// Resource limits of the server.
///
/// ```
/// let l = chsk::server::Limits::default();
/// assert_eq!(l.max_frame_bytes, 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame accepted from a client (default 1 MiB). Larger: WebSocket close 1009, Ajax
    /// `413`.
    pub max_frame_bytes: usize,
    /// Frames queued for one connection before it counts as a slow consumer and is closed
    /// (default 1024).
    pub send_queue: usize,
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
            send_queue: 1024,
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
