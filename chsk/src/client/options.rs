//! Client options.

use std::time::Duration;

use super::backoff::BackoffOptions;
use crate::codec::Codec;

/// Which transport the client uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TransportMode {
    /// WebSocket first; fall back to Ajax long-polling when the WebSocket cannot open (it fails
    /// before ever completing a handshake). A requested [`reconnect`](super::Client::reconnect)
    /// tries the WebSocket again.
    #[default]
    Auto,
    /// WebSocket only.
    Ws,
    /// Ajax long-polling only.
    Ajax,
}

/// A transport actually in use by a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// WebSocket.
    Ws,
    /// Ajax long-polling (GET polls, POST sends).
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
    /// on Ajax requests). Default none.
    pub csrf_token: Option<String>,
    /// Extra query parameters sent on every request (WebSocket open, Ajax polls and sends).
    pub params: Vec<(String, String)>,
    /// The client id; default (`None`): 22 random chars of `[A-Za-z0-9]`.
    pub client_id: Option<String>,
    /// Opt-in bounded send buffer: while the client is not open (connecting or reconnecting),
    /// up to this many `send`/`send_with_reply` calls are queued and sent after the next
    /// handshake, in order. `None` (default): sending while not open fails at once with
    /// [`CbError::Closed`](crate::CbError::Closed), as in Sente. A full buffer also fails with
    /// `Closed`. A requested [`disconnect`](super::Client::disconnect) empties the buffer.
    pub send_buffer: Option<usize>,
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
            send_buffer: None,
        }
    }
}
