//! axum adapter for chsk: mounts a [`chsk::Server`] as one path with two methods.
//!
//! - `GET` with `Upgrade: websocket`: a WebSocket;
//! - `GET` without: an Ajax handshake or long-poll;
//! - `POST`: an Ajax send.
//!
//! WebSocket buffer sizes are [`WsOptions`] (small by default: an idle connection holds no read
//! buffer but tungstenite's small one), set with [`routes_with`].
//!
//! Every check (client id, codec, reject hook, CSRF, origin, authorization, connections per
//! user) runs in chsk before any state exists; this crate only converts types.
//!
//! ```no_run
//! # async fn run(server: chsk::Server) {
//! let app = axum::Router::new().nest("/chsk", chsk_axum::routes(server));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```

mod io;
mod router;
mod ws;

pub use router::{routes, routes_with, WsOptions};
