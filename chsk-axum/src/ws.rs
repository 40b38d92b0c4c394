//! The WebSocket upgrade, and the upgraded socket as chsk's
//! `Stream<Item = Result<WsMessage, _>> + Sink<WsMessage>`.
//!
//! The upgrade is done here rather than by axum's `WebSocketUpgrade` so that tungstenite reads
//! through [`LeanRead`](crate::io::LeanRead): an idle connection then holds no read buffer
//! beyond tungstenite's small one (axum gives no way to wrap the upgraded socket).

use std::future::Future;

use axum::{
    body::Body,
    http::{header, request::Parts, HeaderMap, HeaderName, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use chsk::server::mount::WsMessage;
use futures_util::{future, Sink, SinkExt, Stream, StreamExt};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tungstenite_server::{
    tungstenite::{
        error::CapacityError,
        handshake::derive_accept_key,
        protocol::{frame::CloseFrame, Role, WebSocketConfig},
        Error, Message, Utf8Bytes,
    },
    WebSocketStream,
};

use crate::io::LeanRead;

/// The socket a connection runs on.
pub(crate) type Socket = WebSocketStream<LeanRead<TokioIo<Upgraded>>>;

/// A valid WebSocket upgrade request (RFC 6455 section 4.2.1, HTTP/1.1), taken from `parts`.
pub(crate) struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

impl Upgrade {
    /// Checks the upgrade headers of a request that [`asks_upgrade`] and takes the
    /// connection's upgrade handle; a request that is not a valid upgrade gets a [`refusal`]
    /// saying what is wrong.
    pub(crate) fn from_parts(parts: &mut Parts) -> Result<Self, (StatusCode, &'static str)> {
        if parts.method != Method::GET {
            return Err((
                StatusCode::METHOD_NOT_ALLOWED,
                "a WebSocket upgrade must be a GET",
            ));
        }
        if !has_token(&parts.headers, header::CONNECTION, "upgrade") {
            return Err((
                StatusCode::BAD_REQUEST,
                "`Connection` header did not include `upgrade`",
            ));
        }
        let Some(version) = parts.headers.get(header::SEC_WEBSOCKET_VERSION) else {
            return Err((
                StatusCode::BAD_REQUEST,
                "`Sec-WebSocket-Version` header missing",
            ));
        };
        if version.as_bytes() != b"13" {
            return Err((
                StatusCode::UPGRADE_REQUIRED,
                "`Sec-WebSocket-Version` must be 13",
            ));
        }
        let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
            return Err((
                StatusCode::BAD_REQUEST,
                "`Sec-WebSocket-Key` header missing",
            ));
        };
        let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
            return Err((
                StatusCode::UPGRADE_REQUIRED,
                "this connection cannot be upgraded",
            ));
        };
        Ok(Self { key, on_upgrade })
    }

    /// The `101 Switching Protocols` answer; once it is sent, `serve` runs on the socket (on a
    /// task of its own). An upgrade that fails (the client went away) is logged at debug level.
    pub(crate) fn answer<F, Fut>(self, config: WebSocketConfig, serve: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = derive_accept_key(self.key.as_bytes());
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(e) => {
                    tracing::debug!(error = %e, "chsk: WebSocket upgrade failed");
                    return;
                }
            };
            let io = LeanRead::new(TokioIo::new(upgraded));
            let socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
            serve(socket).await;
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

/// The answer to a refused upgrade: `status` and `why` as plain text (a `426` names the
/// supported version, as RFC 6455 asks).
pub(crate) fn refusal((status, why): (StatusCode, &'static str)) -> Response {
    let mut response = (status, why).into_response();
    if status == StatusCode::UPGRADE_REQUIRED {
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
    }
    response
}

/// Whether the request asks for a WebSocket (its `Upgrade` header lists `websocket`): the
/// routes' choice between a WebSocket and Ajax.
pub(crate) fn asks_upgrade(headers: &HeaderMap) -> bool {
    has_token(headers, header::UPGRADE, "websocket")
}

/// Whether header `name` lists `token` (comma-separated, any case).
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// Converts the socket; protocol-level ping/pong stay here (tungstenite answers pings itself).
pub(crate) fn adapt(
    socket: Socket,
) -> impl Stream<Item = Result<WsMessage, Error>> + Sink<WsMessage, Error = Error> + Send {
    socket
        .with(|msg: WsMessage| {
            future::ready(Ok::<_, Error>(match msg {
                WsMessage::Binary(b) => Message::Binary(b),
                WsMessage::Text(b) => match Utf8Bytes::try_from(b) {
                    Ok(text) => Message::Text(text),
                    Err(_) => return future::ready(Err(Error::Utf8("a text frame".into()))),
                },
                WsMessage::Close(code, reason) => Message::Close(Some(CloseFrame {
                    code: code.into(),
                    reason: reason.into(),
                })),
                // Incoming only; never sent.
                _ => return future::ready(Err(Error::Utf8("not an outgoing message".into()))),
            }))
        })
        .filter_map(|msg| {
            future::ready(match msg {
                Ok(Message::Binary(b)) => Some(Ok(WsMessage::Binary(b))),
                Ok(Message::Text(t)) => Some(Ok(WsMessage::Text(t.into()))),
                Ok(Message::Close(frame)) => Some(Ok(match frame {
                    Some(f) => WsMessage::Close(f.code.into(), f.reason.to_string()),
                    None => WsMessage::Close(1005, String::new()),
                })),
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => None,
                Err(Error::Capacity(CapacityError::MessageTooLong { .. })) => {
                    Some(Ok(WsMessage::TooLarge))
                }
                Err(e) => Some(Err(e)),
            })
        })
}
