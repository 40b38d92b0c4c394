//! For runtime implementors: what a runtime provides to run a [`Client`], and the sans-IO
//! state machine under it.
//!
//! An app does not need this module: the native client (`Client::connect`, feature
//! `client-native`, on `NativeIo`) and the browser client (`chsk_web::connect`, on
//! `chsk_web::WebIo`) are ready to use. It is for running the client on another runtime (an
//! embedded executor, another WebSocket library, a test harness), and for reading how the
//! client works.
//!
//! # Layers
//!
//! - [`ClientCore`]: the sans-IO state machine. It holds every decision: connecting and `Auto`
//!   fallback, the handshake, reconnects with backoff, keep-alive pings and ping timeout,
//!   pending replies and their timeouts, the send buffer, refusals and the retry policy, and
//!   the watchable state. It is fed inputs (`on_open`, `on_message`, `on_poll`, `on_closed`,
//!   `tick`, `send`, `request`, …) with the current time and returns [`Output`]s, each about a
//!   connection attempt ([`AttemptId`]).
//! - [`ClientIo`]: what a runtime implements. A WebSocket as two channels ([`WsConnection`]:
//!   frames out, [`WsEvent`]s in, [`TransportClosed`] at the end, [`WsOpenError`] when it
//!   cannot open), HTTP requests ([`HttpRequest`] → [`HttpAnswer`] or [`HttpError`]), a timer,
//!   a monotonic clock and a random seed.
//! - The driver loop (internal, runtime-neutral) connects the two and serves the [`Client`]
//!   handles. A runtime starts it with [`Client::with_io`] (or
//!   [`Client::with_io_and_credentials`]), which returns the handle and the driver future: the
//!   runtime spawns that future (tokio `spawn`, wasm `spawn_local`, …). It connects at once and
//!   ends when the last handle is dropped. The driver future is `Send` exactly when the IO's
//!   futures are.
//!
//! A runtime that wants its own driver loop can use [`ClientCore`] directly: feed it, act on
//! every [`Output`], call [`tick`](ClientCore::tick) at
//! [`next_deadline`](ClientCore::next_deadline). An Ajax poll's answer other than a `200` body
//! is reported as a [`PollError`]; [`parse_retry_after`] reads a `Retry-After` header.
//!
//! # Example: a runtime
//!
//! The platform's own WebSocket, HTTP client, timer and executor (here the hidden module
//! `platform`) are adapted to [`ClientIo`]; the WebSocket is moved between the client's two
//! channels by a task of its own.
//!
//! ```no_run
//! use std::{future::Future, pin::Pin, time::Duration};
//!
//! use chsk::client::{
//!     runtime::{
//!         ClientIo, HttpAnswer, HttpError, HttpRequest, TransportClosed, WsConnection, WsEvent,
//!         WsOpenError,
//!     },
//!     Client, ClientOptions,
//! };
//! use futures::{channel::mpsc, FutureExt, StreamExt};
//!
//! type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
//!
//! #[derive(Clone)]
//! struct MyIo;
//!
//! impl ClientIo for MyIo {
//!     type Connect = BoxFuture<Result<WsConnection, WsOpenError>>;
//!     type Http = BoxFuture<Result<HttpAnswer, HttpError>>;
//!     type Sleep = BoxFuture<()>;
//!
//!     fn connect_ws(&self, url: &str, binary: bool, max_message_bytes: usize) -> Self::Connect {
//!         let url = url.to_string();
//!         Box::pin(async move {
//!             let mut socket = platform::WebSocket::open(&url, max_message_bytes)
//!                 .await
//!                 .map_err(WsOpenError::Failed)?;
//!             let (outgoing, mut to_send) = mpsc::unbounded::<Vec<u8>>();
//!             let (received, incoming) = mpsc::unbounded();
//!             platform::spawn(async move {
//!                 loop {
//!                     futures::select! {
//!                         frame = to_send.next() => match frame {
//!                             Some(frame) => socket.send(frame, binary).await,
//!                             None => return socket.close(1000).await, // the client let go
//!                         },
//!                         message = socket.recv().fuse() => match message {
//!                             Ok(bytes) => {
//!                                 let _ = received.unbounded_send(WsEvent::Message(bytes));
//!                             }
//!                             Err(closed) => {
//!                                 let _ = received.unbounded_send(WsEvent::Closed(closed));
//!                                 return;
//!                             }
//!                         },
//!                     }
//!                 }
//!             });
//!             Ok(WsConnection { outgoing, incoming })
//!         })
//!     }
//!
//!     fn http(&self, request: HttpRequest) -> Self::Http {
//!         Box::pin(platform::http(request))
//!     }
//!
//!     fn sleep(&self, duration: Duration) -> Self::Sleep {
//!         Box::pin(platform::sleep(duration))
//!     }
//!
//!     fn now(&self) -> Duration {
//!         platform::monotonic_now()
//!     }
//!
//!     fn seed(&self) -> u64 {
//!         platform::random_u64()
//!     }
//! }
//!
//! /// Starts a client: the handle for the app, the driver future for the executor.
//! fn connect<E: chsk::Event, P: chsk::Event>(url: &str) -> Client<E, P> {
//!     let (client, driver) = Client::with_io(url, ClientOptions::default(), MyIo);
//!     platform::spawn(driver);
//!     client
//! }
//! # fn main() {}
//! # mod platform {
//! #     use std::{future::Future, time::Duration};
//! #     use chsk::client::runtime::{HttpAnswer, HttpError, HttpRequest, TransportClosed};
//! #     pub struct WebSocket;
//! #     impl WebSocket {
//! #         pub async fn open(_: &str, _: usize) -> Result<Self, String> { Ok(Self) }
//! #         pub async fn send(&mut self, _: Vec<u8>, _: bool) {}
//! #         pub async fn recv(&mut self) -> Result<Vec<u8>, TransportClosed> { Err(TransportClosed::Clean) }
//! #         pub async fn close(self, _: u16) {}
//! #     }
//! #     pub fn spawn(_: impl Future<Output = ()> + Send + 'static) {}
//! #     pub async fn http(_: HttpRequest) -> Result<HttpAnswer, HttpError> { Err(HttpError::Timeout) }
//! #     pub async fn sleep(_: Duration) {}
//! #     pub fn monotonic_now() -> Duration { Duration::ZERO }
//! #     pub fn random_u64() -> u64 { 4 }
//! # }
//! ```
//!
//! [`Client`]: super::Client
//! [`Client::with_io`]: super::Client::with_io
//! [`Client::with_io_and_credentials`]: super::Client::with_io_and_credentials

pub use super::{
    core::{AttemptId, ClientCore, Output, PollError},
    io::{
        parse_retry_after, ClientIo, HttpAnswer, HttpError, HttpMethod, HttpRequest,
        TransportClosed, WsConnection, WsEvent, WsOpenError,
    },
};

#[cfg(feature = "client-native")]
pub use super::native::NativeIo;
