//! axum's `WebSocket` as chsk's `Stream<Item = Result<WsMessage, _>> + Sink<WsMessage>`.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use chsk::server::mount::WsMessage;
use futures_util::{future, Sink, SinkExt, Stream, StreamExt};

/// Converts axum's socket; protocol-level ping/pong stay here (axum answers pings itself).
pub(crate) fn adapt(
    socket: WebSocket,
) -> impl Stream<Item = Result<WsMessage, axum::Error>> + Sink<WsMessage, Error = axum::Error> + Send
{
    socket
        .with(|msg: WsMessage| {
            future::ready(Ok::<_, axum::Error>(match msg {
                WsMessage::Binary(b) => Message::Binary(b),
                WsMessage::Text(b) => match Utf8Bytes::try_from(b) {
                    Ok(text) => Message::Text(text),
                    Err(e) => return future::ready(Err(axum::Error::new(e))),
                },
                WsMessage::Close(code, reason) => Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                })),
                // Incoming only; never sent.
                _ => return future::ready(Err(axum::Error::new("not an outgoing message"))),
            }))
        })
        .filter_map(|msg| {
            future::ready(match msg {
                Ok(Message::Binary(b)) => Some(Ok(WsMessage::Binary(b))),
                Ok(Message::Text(t)) => Some(Ok(WsMessage::Text(t.into()))),
                Ok(Message::Close(frame)) => Some(Ok(match frame {
                    Some(f) => WsMessage::Close(f.code, f.reason.to_string()),
                    None => WsMessage::Close(1005, String::new()),
                })),
                Ok(Message::Ping(_) | Message::Pong(_)) => None,
                Err(e) if too_large(&e) => Some(Ok(WsMessage::TooLarge)),
                Err(e) => Some(Err(e)),
            })
        })
}

/// Whether a read error is tungstenite refusing a message over `max_message_size` /
/// `max_frame_size` (axum does not expose the error type, only its message).
fn too_large(e: &axum::Error) -> bool {
    let msg = e.to_string();
    msg.contains("Message too long") || msg.contains("Space limit exceeded")
}
