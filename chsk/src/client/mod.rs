//! The client: a runtime-neutral core (feature `client`) and the native client (feature
//! `client-native`).
//!
//! # Layers
//!
//! - [`ClientCore`]: the sans-IO state machine. It holds every decision: connecting and
//!   `Auto` fallback ([`TransportMode`]), the handshake, reconnects with [`Backoff`], keep-alive
//!   pings and ping timeout, pending replies and their timeouts, the send buffer, refusals
//!   and the retry policy, and the watchable [`ClientState`]. It is fed inputs (`on_open`, `on_message`, `on_poll`,
//!   `on_closed`, `tick`, `send`, `request`, …) with the current time and returns [`Output`]s.
//! - [`ClientIo`]: what a runtime provides: a WebSocket as two channels, HTTP requests, a timer,
//!   a clock and a random seed; the app's [`CredentialsProvider`], optionally.
//! - The driver loop (internal) connects the two, and [`Client`] is the typed handle
//!   (`send`, `send_with_reply`, `pushes`, `state`, `state_changes`, `server_errors`,
//!   `metrics`, `disconnect`, `reconnect`). Both are runtime-neutral: a browser client only implements [`ClientIo`] and
//!   spawns the driver future from [`Client::with_io`].
//! - `NativeIo` (feature `client-native`): tokio + tokio-tungstenite + reqwest, with
//!   `Client::connect` and `Client::wait_open`.
//!
//! # Refusals, retries and credentials
//!
//! A server refuses a connection attempt with an HTTP status and a plain-text body (see
//! `PROTOCOL.md` §1: the app's reject hook, `403 bad CSRF token`, `403 bad origin`,
//! `401 unauthorized`, `429 too many connections`, or a proxy's `5xx`). The client reports
//! every refusal the same way on every transport: [`CloseReason::Refused`] with a [`Refusal`]
//! (`status`, `body`, `retry_after`), in [`ClientState::last_close`]. Where it comes from:
//!
//! - WebSocket, native: the upgrade's answer (status and body, read by tokio-tungstenite).
//! - WebSocket, browser: a browser hides the status of a refused upgrade (close code 1006, as
//!   for a refused connection), so the runtime reports [`WsOpenError::Unexplained`] and the core
//!   asks for an HTTP probe ([`Output::Probe`]): an Ajax handshake `GET` of the same endpoint
//!   with the same credentials. A status other than `200` is the refusal; a `200` leaves a
//!   plain [`CloseReason::WsError`] (the server then has seen an Ajax handshake of this client
//!   id, which expires after its Ajax grace period); a network failure too.
//! - Ajax: the handshake or poll `GET`'s answer; a `401`/`403` answer to a `POST` also refuses
//!   the connection.
//! - `Auto`: while the WebSocket has never opened, any WebSocket failure (a refusal included:
//!   it may be a proxy's) falls back to Ajax at once, and the Ajax handshake's refusal is the
//!   one reported.
//!
//! What happens next depends on [`Refusal::retryable`]:
//!
//! - `408`, `429`, `5xx`: retried with the reconnect backoff, waiting at least the server's
//!   `Retry-After` (or the backoff base when it sent none).
//! - anything else (`400`, `401`, `403`, `404`, …): retrying alone cannot fix it. Without a
//!   credentials provider the client **stops** at once: [`ClientState::stopped`], no reconnect
//!   scheduled, pending and buffered requests fail with [`CbError::Closed`](crate::CbError),
//!   `send` fails with `Closed`, [`Client::opened`] returns `Err(Closed)`;
//!   [`Client::reconnect`] starts again. With a provider the next attempt (after the backoff
//!   delay, so never a retry storm) asks it for new credentials, with the refusal in the
//!   [`CredentialsRequest`]; the provider returns new [`Credentials`] (a CSRF token, extra
//!   query parameters) or `None` to give up, which stops the client the same way.
//!
//! A [`CredentialsProvider`] is any async `Fn(CredentialsRequest) -> Option<Credentials>`,
//! passed to `Client::connect_with_credentials` (native), `chsk_web::Client::
//! connect_with_credentials` (browser) or [`Client::with_io_and_credentials`]. It is called
//! before **every** connection attempt, so it can also rotate short-lived tokens.
//!
//! # Buffers and limits
//!
//! - **Send buffer** ([`ClientOptions::send_buffer`], default 256 calls): `send` and
//!   `send_with_reply` while not open (before the first handshake, or reconnecting) are
//!   queued and sent after the next handshake, in order; a full buffer or a stopped client
//!   fails the call with `Closed`.
//! - **First pushes** ([`ClientOptions::push_buffer`], default 1024 events): kept for the first
//!   [`Client::pushes`] call; beyond it they are dropped and counted in
//!   [`ClientMetrics::pushes_dropped`] ([`Client::metrics`]).
//! - **Incoming frames** ([`ClientOptions::max_frame_bytes`], default 16 MiB): a larger frame
//!   closes the connection with [`CloseReason::FrameTooLarge`]; the client reconnects with
//!   backoff.
//! - **Server errors**: a WebSocket `Error` frame, or a `4xx`/`5xx` answer (other than
//!   `401`/`403`/`504`) to an Ajax `POST`, is a [`ServerError`] on [`Client::server_errors`]
//!   and in [`ClientMetrics`]; the connection stays open.
//!
//! # Example (native)
//!
//! ```no_run
//! # #[cfg(feature = "client-native")]
//! # async fn demo<E: chsk::Event, P: chsk::Event>(ev: E) -> Result<(), chsk::CbError> {
//! use std::time::Duration;
//! use chsk::client::{Client, ClientOptions, TransportMode};
//! let client = Client::<E, P>::connect(
//!     "http://127.0.0.1:3000/chsk",
//!     ClientOptions { transport: TransportMode::Auto, ..Default::default() },
//! );
//! client.wait_open(Duration::from_secs(5)).await?;
//! client.send(ev)?;
//! println!("{:?}", client.state());
//! # Ok(()) }
//! ```

mod auto;
mod backoff;
mod core;
mod credentials;
mod driver;
mod handle;
mod io;
#[cfg(feature = "client-native")]
mod native;
mod options;
mod pending;
mod rng;
mod state;
#[cfg(test)]
mod tests;

pub use self::{
    backoff::{Backoff, BackoffOptions},
    core::{ClientCore, ConnId, Output, PollError},
    credentials::{Credentials, CredentialsProvider, CredentialsRequest},
    handle::{Client, Pushes, ServerErrors, StateChanges},
    io::{
        parse_retry_after, ClientIo, HttpError, HttpMethod, HttpRequest, HttpResponse,
        TransportClosed, WsConnection, WsEvent, WsOpenError,
    },
    options::{
        ClientOptions, Transport, TransportMode, DEFAULT_MAX_FRAME_BYTES, DEFAULT_PUSH_BUFFER,
        DEFAULT_SEND_BUFFER,
    },
    state::{
        ClientMetrics, ClientState, CloseReason, LastClose, Refusal, ServerError, StateChange,
    },
};

#[cfg(feature = "client-native")]
pub use self::native::NativeIo;
