//! The client (feature `client`): typed events to the server, typed replies and pushes back,
//! over WebSocket or Ajax long-polling, with reconnects and a watchable state.
//!
//! # Connecting
//!
//! - **Native** (feature `client-native`, tokio): `Client::connect(url, options)` returns a
//!   [`Client`] at once and connects in the background; `client.wait_open(timeout)` waits for
//!   the handshake.
//! - **Browser** (`wasm32`): `chsk_web::connect(path, options)` returns the same [`Client`],
//!   on the page's WebSocket, `fetch` and timers.
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
//! let state = client.wait_open(Duration::from_secs(5)).await?;
//! println!("open over {:?} as {:?}", state.transport, state.uid);
//! client.send(ev)?;
//! # Ok(()) }
//! ```
//!
//! The [`ClientOptions`] choose the transport ([`TransportMode`]: `Auto` tries WebSocket and
//! falls back to Ajax), the codec, the reconnect [`BackoffOptions`], keep-alive and timeouts,
//! the CSRF token and the buffers below.
//!
//! # Using a client
//!
//! [`Client`] is a cheap-to-clone handle: [`send`](Client::send) an event,
//! [`send_with_reply`](Client::send_with_reply) a request and await its typed reply (or a
//! [`CbError`](crate::error::CbError) by cause: `Closed`, `Timeout`, the server's error, …), read typed
//! [`pushes`](Client::pushes), watch the [`state`](Client::state) ([`ClientState`]: open, the
//! [`Transport`](crate::transport::Transport) in use, the user id, the [`LastClose`] and its
//! [`CloseReason`], the [`Recovery`] of the last handshake, the next reconnect) and its
//! [`state_changes`](Client::state_changes), read
//! [`server_errors`](Client::server_errors) and [`metrics`](Client::metrics), and
//! [`disconnect`](Client::disconnect) or [`reconnect`](Client::reconnect).
//!
//! # Recovery: each push once, in order, or "reload"
//!
//! Every push the server keeps for recovery comes with its position in a stream (the pushes
//! to everyone, to the user, to this client: `protocol::StreamKind`). The client keeps, per
//! stream, the position of the last push delivered ([`Client::positions`]) and presents them
//! when it reconnects (`since`, on the WebSocket upgrade, the Ajax handshake and every Ajax
//! poll). The server then replays every push missed since then, in order, before the live
//! ones, or, when it no longer has them (a restart, or they left its bounded history), none:
//!
//! - recovered ([`Recovery::Recovered`] in [`ClientState::recovery`]): the missed pushes just
//!   come on [`Client::pushes`], as if there had been no cut;
//! - not recovered ([`Recovery::NotRecovered`]): the pushes stream yields
//!   [`RecvError::NotRecovered`], after the pushes of before the cut and before those that
//!   follow: the app reloads its state. A first connection is neither
//!   ([`Recovery::Fresh`]): there was nothing to recover.
//!
//! A push received twice (a retried poll, a replay overlapping live pushes) is dropped
//! ([`ClientMetrics::duplicates_dropped`]). A push that starts past the next one expected in
//! its stream means pushes are missing: the client closes the connection
//! ([`CloseReason::PushGap`]) and reconnects, and the recovery fills the gap or says it
//! cannot. Volatile pushes (not kept by the server) carry no position and come as they are.
//!
//! # Sends: at most once
//!
//! A call to [`send`](Client::send) or [`send_with_reply`](Client::send_with_reply) reaches
//! the server's handler **at most once**. The client hands each call to exactly one
//! connection, once:
//!
//! - while open, a call is handed to the current connection at once;
//! - while not open, it waits in the send buffer, which holds only calls never handed to any
//!   connection; the next handshake hands them over, in order, and empties the buffer;
//! - when a connection dies, nothing is taken back into the buffer and nothing is sent again
//!   on the next connection. A request sent on it fails with `CbError::Closed`: its handler
//!   **may or may not have run** (the request may have arrived, the reply may have been lost).
//!   An event sent on it may or may not have arrived.
//!
//! So a handler never runs twice for one call; whether to retry a failed call is the app's
//! decision (make the operation idempotent first if it changes something).
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
//!   for a refused connection), so the client makes an HTTP probe: an Ajax handshake `GET` of
//!   the same endpoint with the same credentials. A status other than `200` is the refusal; a
//!   `200` leaves a plain [`CloseReason::WsError`] (the server then has seen an Ajax handshake
//!   of this client id, which expires after its Ajax grace period); a network failure too.
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
//!   scheduled, pending and buffered requests fail with [`CbError::Closed`](crate::error::CbError),
//!   `send` fails with `Closed`, [`Client::opened`] returns `Err(Closed)`;
//!   [`Client::reconnect`] starts again. With a provider the next attempt (after the backoff
//!   delay, so never a retry storm) asks it for new credentials, with the refusal in the
//!   [`CredentialsRequest`]; the provider returns new [`Credentials`] (a CSRF token, extra
//!   query parameters) or `None` to give up, which stops the client the same way.
//!
//! A [`CredentialsProvider`] is any async `Fn(CredentialsRequest) -> Option<Credentials>`,
//! passed to `Client::connect_with_credentials` (native), `chsk_web::connect_with_credentials`
//! (browser) or [`Client::with_io_and_credentials`]. It is called before **every** connection
//! attempt, so it can also rotate short-lived tokens.
//!
//! # Buffers and limits
//!
//! - **Send buffer** ([`ClientOptions::send_buffer`], default [`DEFAULT_SEND_BUFFER`] calls):
//!   `send` and `send_with_reply` while not open (before the first handshake, or reconnecting)
//!   are queued and sent after the next handshake, in order; a full buffer or a stopped client
//!   fails the call with `Closed`.
//! - **First pushes** ([`ClientOptions::push_buffer`], default [`DEFAULT_PUSH_BUFFER`]
//!   events): kept for the first [`Client::pushes`] call; beyond it they are dropped and counted
//!   in [`ClientMetrics::pushes_dropped`] ([`Client::metrics`]).
//! - **Incoming frames** ([`ClientOptions::max_frame_bytes`], default
//!   [`DEFAULT_MAX_FRAME_BYTES`], 16 MiB): a larger frame closes the connection with
//!   [`CloseReason::FrameTooLarge`]; the client reconnects with backoff, without its
//!   positions (the pushes of that frame are lost: the app is told
//!   [`RecvError::NotRecovered`]).
//! - **WebSocket read buffer** (native client: [`ClientOptions::ws_read_buffer`], default
//!   [`DEFAULT_WS_READ_BUFFER`], 8 KiB; tungstenite's own is 128 KiB): held while the socket
//!   is open; a larger message grows it to its size.
//! - **Server errors**: a WebSocket `Error` frame, or a `4xx`/`5xx` answer (other than
//!   `401`/`403`/`504`) to an Ajax `POST`, is a [`ServerError`] on [`Client::server_errors`]
//!   and in [`ClientMetrics`]; the connection stays open.
//!
//! # Other runtimes
//!
//! The client is runtime-neutral: a sans-IO state machine, a driver loop, and the [`Client`]
//! handle. The native and browser clients only supply the IO. To run it elsewhere, or to read
//! how it works, see the [`runtime`] module.

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
pub mod runtime;
mod shared;
mod state;
mod streams;
#[cfg(test)]
mod tests;

pub use backoff::{Backoff, BackoffOptions};
pub use credentials::{Credentials, CredentialsProvider, CredentialsRequest};
pub use handle::Client;
pub use options::{
    ClientOptions, TransportMode, DEFAULT_MAX_FRAME_BYTES, DEFAULT_PUSH_BUFFER,
    DEFAULT_SEND_BUFFER, DEFAULT_WS_READ_BUFFER,
};
pub use state::{
    ClientMetrics, ClientState, CloseReason, LastClose, Recovery, Refusal, ServerError, StateChange,
};
pub use streams::{Pushes, RecvError, ServerErrors, StateChanges};
