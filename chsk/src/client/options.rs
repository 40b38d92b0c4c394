//! Client options.

use std::time::Duration;

use super::backoff::BackoffOptions;
use crate::codec::Codec;

/// The default of [`ClientOptions::send_buffer`]: 256 calls.
pub const DEFAULT_SEND_BUFFER: usize = 256;
/// The default of [`ClientOptions::push_buffer`]: 1024 events.
pub const DEFAULT_PUSH_BUFFER: usize = 1024;
/// The default of [`ClientOptions::max_frame_bytes`]: 16 MiB.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 << 20;

/// The default [`ClientOptions::ws_read_buffer`]: 8 KiB.
pub const DEFAULT_WS_READ_BUFFER: usize = 8 << 10;

/// Which transport the client tries; the one in use is
/// [`ClientState::transport`](super::ClientState::transport) (a [`Transport`](crate::transport::Transport)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TransportMode {
    /// WebSocket first; fall back to Ajax long-polling at once when the WebSocket fails before
    /// ever completing a handshake (a proxy may refuse upgrades). Once a WebSocket handshake
    /// succeeded the client stays on WebSocket. When Ajax also fails before ever opening (the
    /// server is down, not refusing WebSocket), the next attempt tries WebSocket again. A
    /// requested [`reconnect`](super::Client::reconnect) tries the WebSocket again.
    #[default]
    Auto,
    /// WebSocket only.
    Ws,
    /// Ajax long-polling only.
    Ajax,
}

/// Options of a client. Build with struct update syntax:
///
/// ```
/// use std::time::Duration;
/// use chsk::client::{ClientOptions, TransportMode};
/// let opts = ClientOptions {
///     transport: TransportMode::Ws,
///     ws_kalive: Duration::from_secs(5),
///     send_buffer: Some(64),
///     max_frame_bytes: 1 << 20,
///     ..Default::default()
/// };
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ClientOptions {
    /// `Auto` (default), `Ws` or `Ajax`.
    pub transport: TransportMode,
    /// Must equal the server's codec (it is sent as the `codec` query parameter, so a mismatch
    /// is a clear `400`). Default postcard.
    pub codec: Codec,
    /// Reconnect backoff (default: 500 ms base, 30 s cap, full jitter).
    pub backoff: BackoffOptions,
    /// WebSocket keep-alive: after this long without any frame from the server the client sends
    /// a `Ping` (sliding window, any frame counts). Default 20 s.
    pub ws_kalive: Duration,
    /// After a keep-alive `Ping`, reconnect (reason [`PingTimeout`](super::CloseReason::PingTimeout))
    /// when no frame arrives within this time. Default 10 s.
    pub ws_ping_timeout: Duration,
    /// A connection attempt that has not completed its handshake after this long is abandoned
    /// (and counts as a failure, which in `Auto` mode may downgrade to Ajax). This catches proxies
    /// that hang a WebSocket upgrade. Default 10 s.
    pub connect_timeout: Duration,
    /// Client-side HTTP timeout of Ajax requests. It must exceed the server's long-poll timeout;
    /// a poll that times out on the client is simply re-issued. Default 60 s.
    pub ajax_timeout: Duration,
    /// The CSRF token, sent as the `csrf-token` query parameter (and the `x-csrf-token` header
    /// on Ajax requests). Default none. With a credentials provider (see
    /// [`Credentials`](super::Credentials)) this is only the first attempt's token: the provider
    /// supplies the token of every attempt.
    pub csrf_token: Option<String>,
    /// Extra query parameters sent on every request (WebSocket open, Ajax polls and sends).
    pub params: Vec<(String, String)>,
    /// The client id; default (`None`): 22 random chars of `[A-Za-z0-9]`.
    pub client_id: Option<String>,
    /// The bounded send buffer: while the client is not open (connecting before the first
    /// handshake, or reconnecting), up to this many `send`/`send_with_reply` calls are queued
    /// and sent after the next handshake, in order. Default `Some(256)`, so `send` right after
    /// `connect` works. A full buffer fails the call with
    /// [`CbError::Closed`](crate::error::CbError::Closed). When the client stops (a requested
    /// [`disconnect`](super::Client::disconnect), or a refusal it gives up on, see
    /// [`ClientState::stopped`](super::ClientState::stopped)) the buffer is emptied: buffered
    /// requests complete with `Closed`, buffered events are counted in
    /// [`ClientMetrics::sends_dropped`](super::ClientMetrics::sends_dropped). A buffered request
    /// still times out after its own timeout. `None`: sending while not open fails at once
    /// with `Closed`, as in Sente.
    pub send_buffer: Option<usize>,
    /// How many pushed events are kept for the first call of
    /// [`Client::pushes`](super::Client::pushes) until it is made. Default 1024. Beyond it, new
    /// pushes are dropped and counted in
    /// [`ClientMetrics::pushes_dropped`](super::ClientMetrics::pushes_dropped) (and logged).
    /// Streams returned by `pushes` are not bounded: they get every push from their creation
    /// on (drop a stream to stop collecting).
    pub push_buffer: usize,
    /// The largest frame accepted from the server, in bytes (a WebSocket message or an Ajax
    /// response body). A larger one closes the connection with
    /// [`CloseReason::FrameTooLarge`](super::CloseReason::FrameTooLarge), then the client
    /// reconnects with backoff. Default 16 MiB (the server keeps its frames under its own,
    /// smaller, limit). The native client enforces it in the WebSocket reader (a larger
    /// message is never buffered whole); the browser checks each message's length.
    pub max_frame_bytes: usize,
    /// The native client's WebSocket read buffer, in bytes (default 8 KiB; tungstenite's own
    /// default is 128 KiB). It is allocated when the socket opens and kept while it is open; it
    /// is also the most one read from the socket takes, so a larger message takes several reads
    /// (and grows the buffer to its size). The browser client has no such buffer and ignores it.
    pub ws_read_buffer: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            transport: TransportMode::Auto,
            codec: Codec::default(),
            backoff: BackoffOptions::default(),
            ws_kalive: Duration::from_secs(20),
            ws_ping_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            ajax_timeout: Duration::from_secs(60),
            csrf_token: None,
            params: Vec::new(),
            client_id: None,
            send_buffer: Some(DEFAULT_SEND_BUFFER),
            push_buffer: DEFAULT_PUSH_BUFFER,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            ws_read_buffer: DEFAULT_WS_READ_BUFFER,
        }
    }
}
