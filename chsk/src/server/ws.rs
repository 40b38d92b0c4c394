//! The WebSocket transport: one task per connection reads frames, runs handlers concurrently
//! (in a `FuturesUnordered`, no task per frame), drains the push queue and keeps the
//! connection alive.

use std::{fmt, pin::pin, sync::Arc, time::Duration};

use bytes::Bytes;
use futures::{stream::FuturesUnordered, FutureExt, Sink, SinkExt, Stream, StreamExt};
use tokio::time::{sleep_until, Instant};

use super::{
    conn::{Conn, ConnInfo},
    handle::{Accepted, Inner, Server},
    keepalive::{Due, Keepalive},
    metrics::Counters,
    options::Transport,
};
use crate::{
    codec::Codec,
    handler::BoxFuture,
    protocol::{Frame, Handshake, ReplyId},
};

/// A WebSocket message as the runtime sees it; the web-framework adapter converts its own
/// socket into a `Stream<Item = Result<WsMessage, E>> + Sink<WsMessage>`. Protocol-level
/// ping/pong messages stay in the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WsMessage {
    /// A binary message (postcard frames).
    Binary(Bytes),
    /// A text message holding UTF-8 (JSON frames).
    Text(Bytes),
    /// A close message: code and reason.
    Close(u16, String),
    /// Incoming only: the adapter refused a message over its own size cap (it was not read);
    /// answered like any oversized frame (`Close { reason: "frame too large" }`, code 1009).
    TooLarge,
}

/// Close codes.
const NORMAL: u16 = 1000;
const GOING_AWAY: u16 = 1001;
const POLICY: u16 = 1008;
const TOO_BIG: u16 = 1009;

/// Flush at least every this many fed frames, even while more work is ready.
const FLUSH_EVERY: usize = 64;

/// How long a closing connection may take to write its `Close` frame.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

type Pending = FuturesUnordered<BoxFuture<Option<(ReplyId, Result<crate::Payload, String>)>>>;

impl Server {
    /// Runs an accepted WebSocket until it closes: handshake, frames, pushes, keep-alive.
    pub async fn serve_ws<T, E>(&self, accepted: Accepted, socket: T)
    where
        T: Stream<Item = Result<WsMessage, E>> + Sink<WsMessage> + Send + 'static,
        E: fmt::Display,
    {
        let inner = &self.inner;
        let codec = inner.codec;
        let info = ConnInfo {
            uid: accepted.uid,
            client_id: accepted.client_id,
            conn_id: inner.conn_ids.next(),
            transport: Transport::Ws,
            request: accepted.request,
        };
        let (conn, rx) = Conn::new(info, inner.limits.send_queue, inner.limits.rate_limit);
        let Some(mut rx) = rx else { return };
        let (mut sink, stream) = socket.split();
        let mut stream = pin!(stream);
        // The app's hook runs before the connection is registered.
        let data = inner.handshake_data.as_ref().and_then(|f| {
            f(&conn.info.request, conn.info.uid.as_deref(), codec)
                .map_err(|e| tracing::error!(error = %e, "chsk: could not encode handshake data"))
                .ok()
                .flatten()
        });
        let first = match inner.register(&conn) {
            Ok(first) => first,
            Err(rejection) => {
                close(&mut sink, codec, rejection.body(), POLICY).await;
                return;
            }
        };
        // Unregisters however this future ends (closed, dropped, or a bug that panics).
        let registered = Registered {
            inner: self.inner.clone(),
            conn: conn.clone(),
        };
        let handshake = Frame::Handshake(Handshake {
            uid: conn.info.uid.clone(),
            client_id: conn.info.client_id.clone(),
            data,
            first,
        });
        let mut close_requested = pin!(conn.close_requested());
        close_requested.as_mut().enable();
        let mut keepalive = Keepalive::new(inner.timings.ws_kalive, inner.timings.ws_ping_timeout);
        let mut timer = pin!(sleep_until(keepalive.deadline()));
        let mut pending = Pending::new();
        let mut warned = false;
        let mut closing: Option<(String, u16)> = None;
        if send_frame(&mut sink, codec, &handshake).await.is_err() {
            return;
        }
        // Frames fed since the last flush. The socket is flushed when nothing else is ready
        // (the last, lowest-priority branch), or after `FLUSH_EVERY` frames: one write per
        // burst, not per frame.
        let mut unflushed = 0usize;
        if conn.is_closing() {
            closing = Some(conn.close_reason().unwrap_or((String::new(), NORMAL)));
        }
        let mut server_closed = false;
        loop {
            if let Some((reason, code)) = closing.take() {
                close(&mut sink, codec, &reason, code).await;
                server_closed = true;
                break;
            }
            let mut dirty = false;
            tokio::select! {
                biased;
                () = &mut close_requested => {
                    closing = Some(conn.close_reason().unwrap_or((String::new(), NORMAL)));
                }
                msg = stream.next() => match msg {
                    None | Some(Ok(WsMessage::Close(..))) => break,
                    Some(Err(e)) => {
                        tracing::debug!(conn = %conn.id(), error = %e, "chsk: websocket read error");
                        break;
                    }
                    Some(Ok(WsMessage::TooLarge)) => {
                        Counters::inc(&inner.counters.oversized_frames);
                        tracing::info!(conn = %conn.id(), "chsk: frame too large, closing");
                        closing = Some(("frame too large".into(), TOO_BIG));
                    }
                    Some(Ok(WsMessage::Binary(b) | WsMessage::Text(b))) => {
                        keepalive.activity();
                        match self.on_frame(&conn, &b, &mut pending, &mut warned) {
                            Incoming::Nothing => {}
                            Incoming::Send(frame) => {
                                dirty = true;
                                if feed_frame(&mut sink, codec, &frame).await.is_err() { break; }
                            }
                            Incoming::Close(reason, code) => closing = Some((reason.into(), code)),
                        }
                    }
                },
                Some(done) = pending.next(), if !pending.is_empty() => {
                    // Coalesce: every reply that is ready now goes out with the same flush.
                    let mut next = Some(done);
                    let mut failed = false;
                    for _ in 0..256 {
                        let Some(done) = next.take() else { break };
                        if let Some((reply_id, result)) = done {
                            dirty = true;
                            if feed_frame(&mut sink, codec, &Frame::Reply { reply_id, result }).await.is_err() {
                                failed = true;
                                break;
                            }
                        }
                        next = pending.next().now_or_never().flatten();
                    }
                    if failed { break; }
                }
                item = rx.recv() => {
                    let Some(item) = item else { break };
                    dirty = true;
                    if sink.feed(message(codec, item.bytes)).await.is_err() { break; }
                    // Coalesce: everything already queued goes out with one flush.
                    let mut failed = false;
                    for _ in 0..256 {
                        let Ok(item) = rx.try_recv() else { break };
                        if sink.feed(message(codec, item.bytes)).await.is_err() { failed = true; break; }
                    }
                    if failed { break; }
                }
                () = &mut timer => {
                    match keepalive.due(Instant::now()) {
                        Due::Later(deadline) => timer.as_mut().reset(deadline),
                        Due::Ping => {
                            dirty = true;
                            if feed_frame(&mut sink, codec, &Frame::Ping).await.is_err() { break; }
                            timer.as_mut().reset(keepalive.deadline());
                        }
                        Due::Dead => {
                            Counters::inc(&inner.counters.ping_timeouts);
                            tracing::debug!(conn = %conn.id(), "chsk: ping timeout, closing");
                            closing = Some(("ping timeout".into(), GOING_AWAY));
                        }
                    }
                }
                () = std::future::ready(()), if unflushed > 0 => {
                    unflushed = 0;
                    if sink.flush().await.is_err() { break; }
                }
            }
            if let Some((reason, code)) = closing.take() {
                close(&mut sink, codec, &reason, code).await;
                server_closed = true;
                break;
            }
            if dirty {
                unflushed += 1;
            }
            if unflushed >= FLUSH_EVERY {
                unflushed = 0;
                if sink.flush().await.is_err() {
                    break;
                }
            }
        }
        drop(registered);
        if server_closed {
            // The closing handshake: wait (briefly) for the peer's close, so the socket is not
            // reset while our `Close` frame is still unread.
            let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, async {
                while let Some(Ok(msg)) = stream.next().await {
                    if matches!(msg, WsMessage::Close(..)) {
                        break;
                    }
                }
            })
            .await;
        }
        if !pending.is_empty() {
            // Handlers outlive their connection; their replies have nowhere to go.
            tokio::spawn(async move { while pending.next().await.is_some() {} });
        }
    }

    /// Handles one incoming message.
    fn on_frame(
        &self,
        conn: &Arc<Conn>,
        bytes: &[u8],
        pending: &mut Pending,
        warned: &mut bool,
    ) -> Incoming {
        let inner: &Inner = &self.inner;
        if bytes.len() > inner.limits.max_frame_bytes {
            Counters::inc(&inner.counters.oversized_frames);
            tracing::info!(conn = %conn.id(), len = bytes.len(), "chsk: frame too large, closing");
            return Incoming::Close("frame too large", TOO_BIG);
        }
        if !conn.allow_frame() {
            Counters::inc(&inner.counters.rate_limited);
            tracing::info!(conn = %conn.id(), "chsk: rate limit exceeded, closing");
            return Incoming::Close("rate limit exceeded", POLICY);
        }
        let frame = match inner.codec.decode_frame(bytes) {
            Ok(frame) => frame,
            Err(e) => {
                Counters::inc(&inner.counters.malformed_frames);
                if !std::mem::replace(warned, true) {
                    tracing::info!(conn = %conn.id(), error = %e, "chsk: malformed frame");
                }
                return Incoming::Send(Frame::Error {
                    message: format!("malformed frame: {e}"),
                });
            }
        };
        match frame {
            Frame::Event(event) => match self.start(conn.info.clone(), &event) {
                Ok(fut) => {
                    let server = self.clone();
                    pending.push(Box::pin(async move {
                        let _ = server.finish(fut.await);
                        None
                    }));
                    Incoming::Nothing
                }
                Err(message) => Incoming::Send(Frame::Error { message }),
            },
            Frame::Request { reply_id, event } => match self.start(conn.info.clone(), &event) {
                Ok(fut) => {
                    let server = self.clone();
                    pending.push(Box::pin(async move {
                        Some((reply_id, server.finish(fut.await)))
                    }));
                    Incoming::Nothing
                }
                Err(message) => Incoming::Send(Frame::Reply {
                    reply_id,
                    result: Err(message),
                }),
            },
            Frame::Ping => Incoming::Send(Frame::Pong),
            Frame::Pong => Incoming::Nothing,
            other => {
                Counters::inc(&inner.counters.malformed_frames);
                Incoming::Send(Frame::Error {
                    message: format!("unexpected frame from a client: {}", kind(&other)),
                })
            }
        }
    }
}

/// Removes a connection from the registry when dropped.
struct Registered {
    inner: Arc<Inner>,
    conn: Arc<Conn>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.inner.drop_conn(&self.conn);
    }
}

/// What an incoming frame asks of the connection loop.
enum Incoming {
    Nothing,
    Send(Frame),
    Close(&'static str, u16),
}

/// The frame kind's name, for errors.
pub(crate) fn kind(frame: &Frame) -> &'static str {
    match frame {
        Frame::Handshake(_) => "handshake",
        Frame::Event(_) => "event",
        Frame::Request { .. } => "request",
        Frame::Reply { .. } => "reply",
        Frame::Push(_) => "push",
        Frame::Ping => "ping",
        Frame::Pong => "pong",
        Frame::PollTimeout => "poll_timeout",
        Frame::Error { .. } => "error",
        Frame::Close { .. } => "close",
    }
}

fn message(codec: Codec, bytes: Bytes) -> WsMessage {
    if codec.is_binary() {
        WsMessage::Binary(bytes)
    } else {
        WsMessage::Text(bytes)
    }
}

fn encode(codec: Codec, frame: &Frame) -> Option<Bytes> {
    match codec.encode_frame(frame) {
        Ok(b) => Some(Bytes::from(b)),
        Err(e) => {
            tracing::error!(error = %e, "chsk: could not encode a frame");
            None
        }
    }
}

async fn feed_frame<K: Sink<WsMessage> + Unpin>(
    sink: &mut K,
    codec: Codec,
    frame: &Frame,
) -> Result<(), K::Error> {
    match encode(codec, frame) {
        Some(bytes) => sink.feed(message(codec, bytes)).await,
        None => Ok(()),
    }
}

async fn send_frame<K: Sink<WsMessage> + Unpin>(
    sink: &mut K,
    codec: Codec,
    frame: &Frame,
) -> Result<(), K::Error> {
    feed_frame(sink, codec, frame).await?;
    sink.flush().await
}

/// Sends `Close { reason }` and a WebSocket close, giving up after a short timeout (the peer
/// may not be reading).
async fn close<K: Sink<WsMessage> + Unpin>(sink: &mut K, codec: Codec, reason: &str, code: u16) {
    let frame = Frame::Close {
        reason: reason.to_owned(),
    };
    let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, async {
        let _ = feed_frame(sink, codec, &frame).await;
        let _ = sink.send(WsMessage::Close(code, reason.to_owned())).await;
        let _ = sink.close().await;
    })
    .await;
}
