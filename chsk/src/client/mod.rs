//! The client: a runtime-neutral core (feature `client`) and the native client (feature
//! `client-native`).
//!
//! # Layers
//!
//! - [`ClientCore`]: the sans-IO state machine. It holds every decision: connecting and
//!   `Auto` fallback ([`TransportMode`]), the handshake, reconnects with [`Backoff`], keep-alive
//!   pings and ping timeout, pending replies and their timeouts, the opt-in send buffer, and the
//!   watchable [`ClientState`]. It is fed inputs (`on_open`, `on_message`, `on_poll`,
//!   `on_closed`, `tick`, `send`, `request`, …) with the current time and returns [`Output`]s.
//! - [`ClientIo`]: what a runtime provides: a WebSocket as two channels, HTTP requests, a timer,
//!   a clock and a random seed.
//! - The driver loop (internal) connects the two, and [`Client`] is the typed handle
//!   (`send`, `send_with_reply`, `pushes`, `state`, `state_changes`, `disconnect`,
//!   `reconnect`). Both are runtime-neutral: a browser client only implements [`ClientIo`] and
//!   spawns the driver future from [`Client::with_io`].
//! - `NativeIo` (feature `client-native`): tokio + tokio-tungstenite + reqwest, with
//!   `Client::connect` and `Client::wait_open`.
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
    core::{ClientCore, ConnId, Output, PollError, TransportClosed},
    credentials::{Credentials, CredentialsProvider, CredentialsRequest},
    handle::{Client, Pushes, ServerErrors, StateChanges},
    io::{
        parse_retry_after, ClientIo, HttpError, HttpMethod, HttpRequest, HttpResponse,
        WsConnection, WsEvent, WsOpenError,
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
