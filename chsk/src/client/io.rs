//! What a runtime must provide to drive a client: time, timers, a WebSocket and HTTP
//! ([`ClientIo`] and the types it speaks). See the [`runtime`](super::runtime) module.

use std::{future::Future, time::Duration};

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};

use super::state::Refusal;

/// How an open WebSocket ended, as the runtime reports it ([`WsEvent::Closed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportClosed {
    /// The WebSocket closed cleanly (close code 1000).
    Clean,
    /// The WebSocket closed with another code, errored, or the connection was lost. The text
    /// is kept in [`LastClose::detail`](super::LastClose::detail). (A WebSocket that could not
    /// open is a [`WsOpenError`]; a failed HTTP request an [`HttpError`].)
    Error(String),
    /// A received message was larger than the limit
    /// ([`ClientOptions::max_frame_bytes`](super::ClientOptions::max_frame_bytes)).
    FrameTooLarge {
        /// Its size, in bytes (as far as known).
        size: usize,
        /// The limit.
        max: usize,
    },
}

/// An event from an open WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    /// A binary or text message (text as its UTF-8 bytes).
    Message(Vec<u8>),
    /// The socket closed (the last event).
    Closed(TransportClosed),
}

/// An open WebSocket, as two channels.
///
/// The driver sends each encoded frame on `outgoing` (the IO sends it as a binary message, or
/// as a text message when the `binary` flag of [`ClientIo::connect_ws`] is `false`). When
/// `outgoing` is dropped, the IO closes the socket with code 1000. The IO reports every
/// received message on `incoming`, then one [`WsEvent::Closed`] (or just ends the channel).
#[derive(Debug)]
pub struct WsConnection {
    /// Frames to send.
    pub outgoing: UnboundedSender<Vec<u8>>,
    /// Received messages, then the close.
    pub incoming: UnboundedReceiver<WsEvent>,
}

/// The HTTP method of an Ajax request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// Handshake and long-poll.
    Get,
    /// Client → server frames.
    Post,
}

/// An Ajax request to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// GET or POST.
    pub method: HttpMethod,
    /// The full URL, query included.
    pub url: String,
    /// Headers to add (`content-type` for a POST, `x-csrf-token` when configured).
    pub headers: Vec<(&'static str, String)>,
    /// The POST body.
    pub body: Option<Vec<u8>>,
    /// Give up after this long with [`HttpError::Timeout`].
    pub timeout: Duration,
}

/// The answer to an [`HttpRequest`] (any status), as a runtime reports it to the client.
///
/// Named apart from the server's `chsk::server::HttpResponse` (what the server answers): this
/// is what the client got back.
///
/// ```
/// use std::time::Duration;
/// use chsk::client::runtime::HttpAnswer;
/// let answer = HttpAnswer {
///     retry_after: Some(Duration::from_secs(3)),
///     ..HttpAnswer::new(503, "restarting")
/// };
/// let refusal = answer.refusal();
/// assert!(refusal.retryable());
/// assert_eq!(refusal.to_string(), "HTTP 503: restarting");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// The `Retry-After` header, when it holds a number of seconds.
    pub retry_after: Option<Duration>,
}

impl HttpAnswer {
    /// An answer without `Retry-After`.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            body: body.into(),
            retry_after: None,
        }
    }

    /// The answer as a [`Refusal`](super::Refusal) of a connection attempt (its body
    /// as text, trimmed and bounded).
    pub fn refusal(&self) -> Refusal {
        Refusal {
            retry_after: self.retry_after,
            ..Refusal::new(self.status, String::from_utf8_lossy(&self.body))
        }
    }
}

/// Parses a `Retry-After` value given in seconds (an HTTP date is ignored), for
/// [`HttpAnswer::retry_after`].
///
/// ```
/// use std::time::Duration;
/// use chsk::client::runtime::parse_retry_after;
/// assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
/// ```
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Why a WebSocket could not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsOpenError {
    /// The server (or a proxy) answered the upgrade request with this HTTP answer (the native
    /// client sees it).
    Refused(HttpAnswer),
    /// The socket did not open and the runtime cannot tell why: a browser reports close code
    /// 1006 for a refused connection and for a refused upgrade alike. Unless `Auto` mode falls
    /// back to Ajax, the client then makes an HTTP probe of the endpoint (an Ajax handshake
    /// `GET`) to learn the status and body of a refusal.
    Unexplained(String),
    /// A network failure (connection refused, reset, DNS, TLS).
    Failed(String),
}

impl std::fmt::Display for WsOpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(answer) => answer.refusal().fmt(f),
            Self::Unexplained(e) | Self::Failed(e) => f.write_str(e),
        }
    }
}

/// An HTTP request that did not produce an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The request's timeout fired.
    Timeout,
    /// Any other failure (connection refused, reset, …).
    Failed(String),
}

/// The runtime and transports under a client.
///
/// The native client implements it on tokio, tokio-tungstenite and reqwest
/// (`NativeIo`, feature `client-native`); a browser client (`chsk_web::WebIo`) implements it
/// on `web_sys::WebSocket`, `fetch`, `setTimeout` and `performance.now()`. The state machine,
/// the driver loop and the typed [`Client`](super::Client) handle are shared; see the
/// [`runtime`](super::runtime) module for an example.
///
/// The futures need not be `Send`: the driver future is `Send` exactly when they are.
pub trait ClientIo: 'static {
    /// Opening a WebSocket: resolves once the socket is open, or with why it could not open.
    type Connect: Future<Output = Result<WsConnection, WsOpenError>>;
    /// One HTTP request.
    type Http: Future<Output = Result<HttpAnswer, HttpError>>;
    /// A timer.
    type Sleep: Future<Output = ()>;

    /// Opens a WebSocket to `url` (`ws://` or `wss://`); `binary` tells how to send frames.
    /// A received message longer than `max_message_bytes` should end the socket with
    /// [`TransportClosed::FrameTooLarge`] when the runtime can check it before buffering the
    /// message (the core checks every message's length anyway).
    fn connect_ws(&self, url: &str, binary: bool, max_message_bytes: usize) -> Self::Connect;
    /// Performs an HTTP request: its answer whatever the status, or [`HttpError`] when there is
    /// none (give up after [`HttpRequest::timeout`] with [`HttpError::Timeout`]).
    fn http(&self, request: HttpRequest) -> Self::Http;
    /// Sleeps for `duration`.
    fn sleep(&self, duration: Duration) -> Self::Sleep;
    /// Monotonic time since an arbitrary fixed origin (the client's clock).
    fn now(&self) -> Duration;
    /// A random seed (client id, backoff jitter).
    fn seed(&self) -> u64;
}
