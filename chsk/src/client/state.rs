//! The watchable client state and its change events.

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::{
    codec::{Codec, Payload},
    error::CodecError,
    protocol::Position,
    transport::Transport,
};

/// Why the last connection closed (Sente's `:last-close :reason`, plus server-sent reasons).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The WebSocket closed with code 1000 and no `Close` frame before it.
    Clean,
    /// The connection failed or was lost (network error, undecodable Ajax answer, Ajax connect
    /// timeout). An HTTP status is [`Refused`](Self::Refused).
    Unexpected,
    /// [`Client::disconnect`](super::Client::disconnect) was called.
    RequestedDisconnect,
    /// [`Client::reconnect`](super::Client::reconnect) was called.
    RequestedReconnect,
    /// `Auto` mode: the WebSocket never opened, so the client switched to Ajax.
    DowngradingWsToAjax,
    /// No frame arrived within `ws_ping_timeout` after a keep-alive ping.
    PingTimeout,
    /// The WebSocket failed with an error, or could not be opened for a reason other than an
    /// HTTP refusal (network error, connect timeout, an unexplained browser failure whose HTTP
    /// probe was accepted).
    WsError,
    /// The server sent `Close { reason }`: e.g. `slow consumer`, `ping timeout`,
    /// `replaced by a newer connection`, or the reason given to `Server::close_all`. The client
    /// reconnects with backoff. (When the frame does not arrive, e.g. to a slow consumer that
    /// does not read it in time, a WebSocket ends as [`WsError`](Self::WsError) with the close
    /// code and reason in [`LastClose::detail`].)
    ServerClose(String),
    /// The server refused the connection attempt with an HTTP status (e.g. `403 bad CSRF
    /// token`), the same on every transport: a WebSocket upgrade answered with a status, an
    /// Ajax handshake or poll answered with a status, or (in the browser, which hides the status
    /// of a refused upgrade) the answer to the HTTP probe made after the WebSocket failed to
    /// open. An open Ajax connection whose `POST` is answered `401` or `403` is refused too.
    /// See [`Refusal::retryable`] for what the client does next.
    Refused(Refusal),
    /// A frame from the server was larger than
    /// [`ClientOptions::max_frame_bytes`](super::ClientOptions::max_frame_bytes). The pushes
    /// it may have held are lost: the client forgets its positions (the same frame would be
    /// replayed), so the next handshake is [`Recovery::NotRecovered`] when it had any.
    FrameTooLarge {
        /// The size of the frame (or of the message or body carrying it), in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A run of positioned pushes started past the next one expected in its stream (or in
    /// another epoch, not from its start): pushes are missing in between. The client delivers
    /// nothing of that run and reconnects (at once, the backoff permitting), presenting its
    /// positions: the server replays what is missing, or answers that it cannot
    /// ([`Recovery::NotRecovered`]). Counted in [`ClientMetrics::push_gaps`].
    PushGap {
        /// Where the client was in the stream: the last push delivered.
        known: Position,
        /// The position of the run's first event.
        got: Position,
    },
}

/// What the last handshake said about the pushes missed while disconnected
/// ([`ClientState::recovery`]).
///
/// The client keeps, for each stream it reads, the position of the last push delivered to the
/// app, and presents them when it reconnects. The server then replays every push missed since
/// then, in order, or none at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Recovery {
    /// No handshake yet, or the last one had nothing to recover: the client presented no
    /// position (its first connection, or the server keeps no history).
    #[default]
    Fresh,
    /// Recovered: every push missed since the positions presented was replayed, in order,
    /// before the live ones; the app's state is whole.
    Recovered,
    /// Not recovered: the server no longer has the pushes missed since the positions presented
    /// (it restarted, or they left its history), so it replayed none. The app must reload its
    /// state; the pushes stream said so in order, with
    /// [`RecvError::NotRecovered`](super::RecvError::NotRecovered) before the pushes that
    /// follow. Counted in [`ClientMetrics::not_recovered`].
    NotRecovered,
}

/// An HTTP refusal of a connection attempt: its status and body.
///
/// ```
/// use chsk::client::Refusal;
/// let r = Refusal::new(403, "bad CSRF token");
/// assert!(!r.retryable(), "a new token is needed: the credentials provider is asked");
/// assert!(Refusal::new(503, "maintenance").retryable());
/// assert!(Refusal::new(429, "too many connections").retryable());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Refusal {
    /// The HTTP status (`400`, `401`, `403`, `429`, `5xx`, …).
    pub status: u16,
    /// The response body as text (the server's reason, e.g. `bad CSRF token`), trimmed, and
    /// cut to its first [`Refusal::MAX_BODY`] bytes (a proxy's error page can be large).
    pub body: String,
    /// The server's `Retry-After` (in seconds), if it sent one.
    pub retry_after: Option<Duration>,
}

impl Refusal {
    /// The longest body kept, in bytes.
    pub const MAX_BODY: usize = 1024;

    /// A refusal without `Retry-After`.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        let body = body.into();
        let mut body = body.trim();
        if body.len() > Self::MAX_BODY {
            let mut end = Self::MAX_BODY;
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            body = &body[..end];
        }
        Self {
            status,
            body: body.to_string(),
            retry_after: None,
        }
    }

    /// Whether trying again later can fix it: `408`, `429` and every `5xx` (the server is busy,
    /// overloaded or restarting). Every other status (`400`, `401`, `403`, `404`, …) needs
    /// something to change first (a new CSRF token, a login, another URL): the client asks its
    /// credentials provider, or stops when it has none.
    pub fn retryable(&self) -> bool {
        matches!(self.status, 408 | 429 | 500..=599)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.body)
    }
}

/// An error reported by the server about something this client sent, without closing the
/// connection: a WebSocket `Error { message }` frame (malformed frame, unknown event id, bad
/// payload), or a `4xx`/`5xx` answer to an Ajax `POST` (e.g. `400 malformed frame`,
/// `413 frame too large`, `429 rate limit exceeded`), except `401`/`403` (a
/// [`CloseReason::Refused`]) and `504` (the request times out).
///
/// Delivered by [`Client::server_errors`](super::Client::server_errors) and counted in
/// [`ClientMetrics::server_errors`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// The server's message.
    pub message: String,
    /// The HTTP status of an Ajax `POST` answer; `None` for a WebSocket `Error` frame.
    pub status: Option<u16>,
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(status) => write!(f, "HTTP {status}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Counters of a client: what it could not deliver, and what the server reported. See
/// [`Client::metrics`](super::Client::metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientMetrics {
    /// Connection attempts made (credentials asked, WebSocket or Ajax handshake started).
    pub connect_attempts: u64,
    /// Pushes dropped because [`Client::pushes`](super::Client::pushes) had not been called yet
    /// and [`ClientOptions::push_buffer`](super::ClientOptions::push_buffer) was full.
    pub pushes_dropped: u64,
    /// Events accepted into the send buffer (`send` returned `Ok`) but never sent, because the
    /// client stopped first (disconnect, or a refusal it gave up on). Buffered requests are
    /// not counted here: they complete with [`CbError::Closed`](crate::error::CbError::Closed).
    pub sends_dropped: u64,
    /// [`ServerError`]s received.
    pub server_errors: u64,
    /// The last one.
    pub last_server_error: Option<ServerError>,
    /// Positioned pushes received again (at or before the stream's position) and dropped: the
    /// app gets each push once.
    pub duplicates_dropped: u64,
    /// Gaps in a push stream, each closing the connection ([`CloseReason::PushGap`]).
    pub push_gaps: u64,
    /// Handshakes that recovered ([`Recovery::Recovered`]).
    pub recoveries: u64,
    /// Handshakes that did not recover pushes the client had positions for
    /// ([`Recovery::NotRecovered`]): each one told the app to reload its state.
    pub not_recovered: u64,
}

/// The last close: its reason and when it happened (client time, see [`ClientState`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastClose {
    /// Why.
    pub reason: CloseReason,
    /// When, as client time.
    pub at: Duration,
    /// Details from the transport (error text, HTTP status), if any.
    pub detail: Option<String>,
}

/// A snapshot of the client's state.
///
/// Times (`next_reconnect`, `last_close.at`) are *client time*: the monotonic time since an
/// arbitrary origin fixed by the runtime (see [`ClientIo::now`](super::runtime::ClientIo::now));
/// compare them with [`Client::now`](super::Client::now).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientState {
    /// The client is open: a handshake arrived on the current connection.
    pub open: bool,
    /// The client has been open at least once.
    pub ever_opened: bool,
    /// The current open is the client's first (the "ready" signal of Sente's `:first-open?`).
    pub first_open: bool,
    /// The transport of the current (or, when closed, the last) open connection.
    pub transport: Option<Transport>,
    /// The user id from the last handshake (`None`: anonymous, or no handshake yet).
    pub uid: Option<String>,
    /// This client's id.
    pub client_id: String,
    /// Whether the server saw this client id for the first time at the last handshake.
    pub first_handshake: bool,
    /// The raw handshake data of the last handshake; see [`handshake_data`](Self::handshake_data).
    pub handshake_data_raw: Option<Payload>,
    /// Whether the last handshake recovered the pushes missed while disconnected: see
    /// [`Recovery`].
    pub recovery: Recovery,
    /// The codec of the connection (decodes `handshake_data_raw`).
    pub codec: Codec,
    /// Why the last connection closed, if one did.
    pub last_close: Option<LastClose>,
    /// When the next reconnect attempt is scheduled, while waiting for it.
    pub next_reconnect: Option<Duration>,
    /// Reconnect attempts since the last successful handshake.
    pub reconnect_attempt: u32,
    /// The client will not connect again by itself: after a requested
    /// [`disconnect`](super::Client::disconnect), or after a refusal that retrying cannot fix
    /// when there is no credentials provider or the provider gave up (the refusal is in
    /// `last_close`). [`reconnect`](super::Client::reconnect) resumes. Sending fails with
    /// [`CbError::Closed`](crate::error::CbError::Closed) meanwhile.
    pub stopped: bool,
}

impl ClientState {
    pub(crate) fn new(client_id: String, codec: Codec) -> Self {
        Self {
            open: false,
            ever_opened: false,
            first_open: false,
            transport: None,
            uid: None,
            client_id,
            first_handshake: false,
            handshake_data_raw: None,
            recovery: Recovery::Fresh,
            codec,
            last_close: None,
            next_reconnect: None,
            reconnect_attempt: 0,
            stopped: false,
        }
    }

    /// Decodes the handshake data to a typed value: `None` when the server sent none.
    ///
    /// With the JSON codec, data whose value is `null` (`()`, `None`, a unit struct) cannot be
    /// told from no data on the wire (PROTOCOL.md, "Handshake data and `null` in JSON"); so when
    /// none arrived, a `T` that decodes from `null` is returned as such, as with postcard.
    pub fn handshake_data<T: DeserializeOwned>(&self) -> Option<Result<T, CodecError>> {
        match &self.handshake_data_raw {
            Some(p) => Some(self.codec.decode_payload(p)),
            #[cfg(feature = "json")]
            None if self.codec == Codec::Json => Codec::Json.decode(b"null").ok().map(Ok),
            None => None,
        }
    }

    /// The reason of the last close, if any.
    pub fn last_close_reason(&self) -> Option<&CloseReason> {
        self.last_close.as_ref().map(|c| &c.reason)
    }

    /// The refusal of the last close, when the server refused the last connection attempt.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self.last_close_reason() {
            Some(CloseReason::Refused(r)) => Some(r),
            _ => None,
        }
    }
}

/// A state change (Sente's `[:chsk/state [old new]]`), delivered by
/// [`Client::state_changes`](super::Client::state_changes).
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    /// Before.
    pub old: ClientState,
    /// After.
    pub new: ClientState,
}

impl StateChange {
    /// `open` changed.
    pub fn open_changed(&self) -> bool {
        self.old.open != self.new.open
    }

    /// The client just opened (a handshake arrived).
    pub fn opened(&self) -> bool {
        !self.old.open && self.new.open
    }

    /// The client just closed.
    pub fn closed(&self) -> bool {
        self.old.open && !self.new.open
    }

    /// The client just opened for the first time: the "ready" signal.
    pub fn first_open(&self) -> bool {
        self.opened() && self.new.first_open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "json")]
    #[test]
    fn json_null_handshake_data_decodes_like_postcard() {
        let json = ClientState::new("tab-1".into(), Codec::Json);
        assert_eq!(json.handshake_data::<()>().map(Result::ok), Some(Some(())));
        assert_eq!(
            json.handshake_data::<Option<u8>>().map(Result::ok),
            Some(Some(None))
        );
        assert!(json.handshake_data::<String>().is_none());
        let postcard = ClientState::new("tab-1".into(), Codec::Postcard);
        assert!(postcard.handshake_data::<()>().is_none());
    }
}
