//! For authors of web-framework integrations: the types a framework glue handles.
//!
//! An app mounts its server with `chsk_axum::routes(server)` and never needs this module.
//! `chsk-axum` is about a hundred lines; an integration for another framework does the same:
//!
//! - `GET` with `Upgrade: websocket`: [`Server::accept`] on the request's parts (a
//!   [`Rejection`](super::security::Rejection) becomes the HTTP response), then upgrade and run
//!   [`Server::serve_ws`] with the [`Accepted`] request and the socket converted to a
//!   `Stream<Item = Result<WsMessage, E>> + Sink<WsMessage>`;
//! - other `GET`s: [`Server::ajax_get`]; `POST`: [`Server::ajax_post`] with the body (read at
//!   most `max_frame_bytes + 1` bytes); both return an [`HttpResponse`] to copy out.
//!
//! The request itself is a [`HandshakeRequest`](super::request::HandshakeRequest) built from the
//! framework's parts.
//!
//! [`Server::accept`]: super::shared::Server::accept
//! [`Server::serve_ws`]: super::shared::Server::serve_ws
//! [`Server::ajax_get`]: super::shared::Server::ajax_get
//! [`Server::ajax_post`]: super::shared::Server::ajax_post

pub use super::{handle::Accepted, security::HttpResponse, socket::WsMessage};
