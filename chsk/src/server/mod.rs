//! The server runtime (feature `server`): connections over WebSocket and Ajax long-polling,
//! typed dispatch to handlers, pushes to users, presence, keep-alive and limits.
//!
//! The runtime names no web framework: `chsk-axum` turns axum's requests and sockets into
//! [`HandshakeRequest`]s and a [`WsMessage`](mount::WsMessage) stream/sink, and mounts the routes.
//!
//! ```no_run
//! #[chsk::events(ns = "chat")]
//! #[derive(Debug, Clone)]
//! pub enum ChatEvent {
//!     Post(String),
//!     #[reply(Vec<String>)]
//!     History { limit: u32 },
//! }
//!
//! #[chsk::events(ns = "chat")]
//! #[derive(Debug, Clone)]
//! pub enum ChatPush {
//!     NewMessage(String),
//! }
//!
//! #[derive(Default)]
//! struct AppState {
//!     log: std::sync::Mutex<Vec<String>>,
//! }
//!
//! #[chsk::handler(ChatEvent::Post)]
//! async fn post(cx: chsk::Ctx<AppState>, text: String) {
//!     cx.state().log.lock().unwrap().push(text.clone());
//!     // Every connected client receives it (at once, or coalesced with the pushes that follow
//!     // while a write is in flight: one encoding per batch). `Ok(0)` when
//!     // nobody is connected; an error (too large, not encodable) is a bug: never ignore it.
//!     if let Err(e) = cx.server().send_to_all(ChatPush::NewMessage(text)) {
//!         tracing::error!(error = %e, "could not push a message");
//!     }
//! }
//!
//! #[chsk::handler(ChatEvent::History)]
//! async fn history(cx: chsk::Ctx<AppState>, limit: u32) -> Vec<String> {
//!     let log = cx.state().log.lock().unwrap();
//!     log.iter().rev().take(limit as usize).cloned().collect()
//! }
//!
//! # fn main() {
//! let server = chsk::Server::builder(AppState::default())
//!     .handler(post)
//!     .handler(history)
//!     .user_id(|req, _client_id| req.header("x-user").map(str::to_owned))
//!     .skip_csrf_check() // or .csrf_token(|req| ...): by default every request is refused
//!     .build();
//! // axum: Router::new().nest("/chsk", chsk_axum::routes(server.clone()))
//! # let _ = server;
//! # }
//! ```
//!
//! # Options and defaults
//!
//! | builder method | default | |
//! |---|---|---|
//! | [`user_id`](ServerBuilder::user_id) | anonymous | user id from the request and the client id |
//! | [`csrf_token`](ServerBuilder::csrf_token) / [`skip_csrf_check`](ServerBuilder::skip_csrf_check) | **reject all** (as Sente) | reference token; client sends `csrf-token` query or `x-csrf-token` / `x-xsrf-token` header |
//! | [`allowed_origins`](ServerBuilder::allowed_origins) | all | `Origin`, else `Referer` prefix |
//! | [`authorize`](ServerBuilder::authorize) | none | `false` → `401` |
//! | [`reject`](ServerBuilder::reject) | none | runs first; any status and body |
//! | [`handshake_data`](ServerBuilder::handshake_data) | none | any serializable value |
//! | [`codec`](ServerBuilder::codec) | postcard | |
//! | [`adapter`](ServerBuilder::adapter) | [`LocalAdapter`](adapter::LocalAdapter) | push, history and presence across server processes ([`adapter`] module; `chsk-redis` on Redis) |
//! | [`keep_headers`](ServerBuilder::keep_headers) | none | headers a connection keeps for handlers |
//! | [`history`](ServerBuilder::history) / [`without_history`](ServerBuilder::without_history) | in memory, per stream 1,000 events / 1 MiB / 2 minutes; a quiet stream forgotten 10 minutes after its last use | what a reconnecting client can get back (see [Recovery](#recovery)); a cluster adapter's shared store replaces the in-memory one |
//! | [`Timings`] | `ws_kalive` 25 s (sliding), `ws_ping_timeout` 10 s, `lp_timeout` 20 s, `send_buf_ws` 30 ms / `send_buf_ajax` 100 ms (the longest a push is held while the previous frame to its target is being written; an idle target gets it at once), grace 2.5 s WS / 5 s Ajax, `ajax_reply_timeout` 20 s, `write_timeout` 10 s | |
//! | [`Limits`] | `max_frame_bytes` 1 MiB, `max_send_frame_bytes` 1 MiB, `send_queue` 1024 frames / 8 MiB, `max_in_flight` 64 calls / 8 MiB, `max_conns_per_user` 64, `max_ajax_clients` 10,000, `max_kept_request_bytes` 8 KiB, `rate_limit` none | |
//! | `chsk_axum::WsOptions` (the adapter's) | tungstenite read buffer 512 B (socket reads up to 16 KiB go through a per-thread buffer), write buffer 8 KiB (axum's are 128 KiB) | per WebSocket connection; an idle connection holds no other read buffer |
//!
//! # Delivery
//!
//! A push to a target (a user, a client, all) whose previous frame has been written is sent at
//! once: encoded once and queued for every connection it reaches, with no window to wait for.
//! Pushes made while that frame is still being written (a WebSocket has not flushed it yet, an
//! Ajax client has no poll waiting to take it) are coalesced: they gather into one batch, sent
//! as one `Push` frame, encoded once for all its recipients, as soon as the previous frame is
//! written everywhere, and after [`Timings::send_buf_ws`] / [`Timings::send_buf_ajax`] at the
//! latest. So a lone push costs no delay, and a burst costs few frames and encodes: the batch
//! size adapts to how fast the recipients take frames. The trade-off: a broadcast's batch
//! waits for its slowest recipient's write (bounded by the window), and the first push of a
//! burst is a frame of its own. [`Flush::Now`] sends a push at once in any case (with what is
//! already gathered for the same target): the lowest latency during bursts, one frame and one
//! encode per push. Every connection gets pushes in the order they were pushed. A batch never
//! encodes to more than
//! [`Limits::max_send_frame_bytes`]: a full batch is sent at once and the next push opens
//! another, so a burst becomes several `Push` frames, in order. A push with no recipient
//! returns `Ok(0)` (counted in [`Metrics::pushes_undeliverable`]); a single event too large
//! for a frame returns [`PushError::TooLarge`], a bug the app must see (see [`PushError`]).
//!
//! Every connection's queue is bounded in frames and bytes; a connection whose queue is full is
//! closed (`slow consumer`), and so is one that accepts no bytes for
//! [`Timings::write_timeout`] (a frozen tab, a phone that stopped reading): its socket, queue
//! and presence entry are freed. **Nothing is dropped without being counted**: every push
//! handed to a connection counts once in [`Metrics::push_deliveries`], and once more in
//! [`Metrics::pushes_written`] or in one of the `pushes_dropped_*` counters (slow consumer,
//! closed, replaced, ping timeout, write timeout, encode failure), whatever the transport and
//! however the connection ends; so once connections have finished closing,
//! `push_deliveries == pushes_written + pushes_dropped()`. Drops are logged with `tracing`.
//!
//! An app that streams more than `send_queue_bytes` to one client paces itself (e.g. on
//! [`Metrics::queued_bytes`]) or sends large data over plain HTTP; otherwise the client is
//! closed as a slow consumer, by design: memory stays bounded.
//!
//! A push to an Ajax client whose poll is waiting answers that poll at once. Pushes to an Ajax
//! client between polls wait in its queue for its next poll (within the grace period), which
//! answers everything queued as one `Push` (up to `max_send_frame_bytes`). Handlers of one WebSocket run concurrently on its task, at most
//! [`Limits::max_in_flight`] at once (the socket is not read meanwhile); a handler still
//! running when its connection closes is finished on a task of its own.
//!
//! # Recovery
//!
//! Every push that is not volatile is appended to the history of its stream before it is sent,
//! and carries its position there: the stream `all` (broadcasts), `user:<uid>` or
//! `client:<client id>`, an epoch (new whenever the history behind the stream is lost, e.g. a
//! restart with the in-memory history) and a sequence number. A client presents its last
//! positions when it reconnects (the WebSocket upgrade, the Ajax handshake and every Ajax
//! poll); the server replays what it missed on every stream it reads, in order and before any
//! live push, and answers `recovered: true`, or replays nothing at all and answers
//! `recovered: false` when it cannot (a position older than the history keeps, another epoch,
//! an unknown stream): never a partial replay. Clients drop what they already have by position,
//! so the app gets each push once, in order, or is told to reload its state
//! ([`client::Recovery`](crate::client::Recovery)). The rules are in `PROTOCOL.md`, section 6.
//!
//! Pushes not worth keeping (typing indicators, presence snapshots, progress) opt out: mark the
//! variant `#[event(volatile)]`, or push with [`PushOptions`] `{ volatile: true }`. A push the
//! history cannot take fails ([`PushError::History`]) rather than being delivered without
//! being kept. Counted in [`Metrics`]: `recoveries`, `recoveries_failed`, `pushes_replayed`,
//! `pushes_resent` (an Ajax answer lost on the wire, sent again), and the gauges
//! `history_streams`, `history_events`, `history_bytes`.
//!
//! ```
//! # #[chsk::events(ns = "x")] #[derive(Debug, Clone)] enum Ev { A }
//! # #[chsk::handler(Ev::A)] async fn a(_cx: chsk::Ctx<()>) {}
//! #[chsk::events(ns = "doc")]
//! #[derive(Debug, Clone)]
//! pub enum DocPush {
//!     Message(String),
//!     #[event(volatile)]
//!     Typing { user: String },
//! }
//!
//! # fn main() {
//! use std::time::Duration;
//! use chsk::server::{HistoryOptions, PushOptions, Target};
//!
//! let server = chsk::Server::builder(())
//!     .handler(a)
//!     .history(HistoryOptions::default().max_age(Duration::from_secs(300)))
//!     .skip_csrf_check()
//!     .build();
//! // Kept: a client of alice that reconnects within 5 minutes gets it.
//! server.send_to_user("alice", DocPush::Message("hi".into())).expect("pushed");
//! // Not kept (the variant is volatile), nor is this one (the option).
//! server.send_to_all(DocPush::Typing { user: "bob".into() }).expect("pushed");
//! let volatile = PushOptions::default().volatile(true);
//! server.push(Target::All, DocPush::Message("ephemeral".into()), volatile).expect("pushed");
//! assert_eq!(server.metrics().history_events, 1);
//! # }
//! ```
//!
//! # Hostile input
//!
//! A malformed frame, an unknown event id or a payload that does not decode gets an `Error`
//! frame (WebSocket) or `400` (Ajax) with the message, or an error `Reply` for a request; it is
//! counted and logged once per connection, and never disturbs other clients. Decoding is
//! bounded in nesting depth ([`codec::MAX_DEPTH`](crate::codec::MAX_DEPTH)), so no payload can
//! overflow a worker's stack.
//!
//! # Mounting
//!
//! `chsk_axum::routes(server)` mounts the server in axum; [`mount`] has what an integration
//! with another web framework needs.

pub mod adapter;
mod builder;
mod conn;
mod dispatch;
mod handle;
pub mod handler;
pub mod history;
mod lifecycle;
mod mailbox;
mod metrics;
pub mod mount;
mod options;
mod poll;
mod presence;
mod push;
mod recovery;
mod registry;
mod request;
mod security;
mod shared;
mod socket;
#[cfg(feature = "test-util")]
mod testing;
mod ws;

pub use builder::ServerBuilder;
pub use conn::ConnId;
#[doc(no_inline)]
pub use handler::{Ctx, Handler};
pub use history::HistoryOptions;
pub use metrics::Metrics;
pub use options::{AllowedOrigins, Limits, RateLimit, Timings};
pub use presence::{ConnectedUids, PresenceEvent};
pub use push::{Flush, PushError, PushOptions, Target};
pub use request::HandshakeRequest;
pub use security::Rejection;
pub use shared::Server;
#[cfg(feature = "test-util")]
pub use testing::{MemAjax, MemClient, MemRequest};
