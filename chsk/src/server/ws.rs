//! The WebSocket transport: one task per connection reads frames, runs handlers concurrently
//! (in a `FuturesUnordered`, no task per frame), drains the push queue and keeps the
//! connection alive.

use std::{fmt, pin::pin, sync::Arc};

use futures::{
    stream::{FuturesUnordered, SplitSink, SplitStream},
    Future, FutureExt, Sink, SinkExt, Stream, StreamExt,
};
use tokio::time::{sleep_until, Instant};

use super::{
    conn::{Conn, ConnInfo},
    handle::Accepted,
    mailbox::Inbox,
    metrics::{Cause, Counters},
    shared::{BoxFuture, Inner, Server},
    socket::{
        close, Stop, Writer, WsMessage, CLOSE_WRITE_TIMEOUT, FLUSH_EVERY, GOING_AWAY, NORMAL,
        POLICY, TOO_BIG,
    },
};
use crate::{
    protocol::{
        keepalive::{Due, Keepalive},
        Frame, Position, ReplyError, ReplyId,
    },
    transport::Transport,
};

/// A running handler call: when it finishes, its reply (for a request) and the size of the
/// frame that started it.
type Pending = FuturesUnordered<BoxFuture<Done>>;

struct Done {
    reply: Option<(ReplyId, Result<crate::codec::Payload, ReplyError>)>,
    bytes: usize,
}

/// Keeps the server-wide `in_flight_bytes` gauge while a handler call runs (also when the call
/// outlives its connection).
struct InFlight {
    counters: Arc<Counters>,
    bytes: usize,
}

impl InFlight {
    fn new(counters: &Arc<Counters>, bytes: usize) -> Self {
        Counters::add(&counters.in_flight_bytes, bytes as u64);
        Self {
            counters: counters.clone(),
            bytes,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        Counters::sub(&self.counters.in_flight_bytes, self.bytes as u64);
    }
}

/// How the connection loop ended.
enum End {
    /// The peer closed, or the socket failed while reading.
    Peer,
    /// The server closes: a close request (any cause), or a protocol violation.
    Server,
    /// A write failed or timed out.
    Write(Stop),
}

impl Server {
    /// Runs an accepted WebSocket until it closes: handshake, frames, pushes, keep-alive.
    ///
    /// Every write has a deadline ([`Timings::write_timeout`](super::options::Timings::write_timeout));
    /// a peer that stops reading is closed and freed within it. Every push handed to this
    /// connection is counted as written or dropped (see [`Metrics`](super::metrics::Metrics)).
    ///
    /// The future owns what it needs (it does not borrow the server), so a web-framework
    /// adapter can hand it to its upgrade callback as it is, without wrapping it in a future
    /// of its own that would hold the socket and the `Accepted` a second time for the
    /// connection's life.
    pub fn serve_ws<T, E>(
        &self,
        accepted: Accepted,
        socket: T,
    ) -> impl Future<Output = ()> + use<T, E>
    where
        T: Stream<Item = Result<WsMessage, E>> + Sink<WsMessage> + Send + 'static,
        E: fmt::Display,
    {
        // This future lives as long as the connection, and it is as large as the most room any
        // of its steps needs, for the connection's whole life. So the socket is split and the
        // connection's identity built before it is made (the socket then lives once, in the
        // halves' shared allocation, and nothing is held twice, as an async fn's arguments
        // would be), and what only opening needs (the handshake frame) is scoped to it.
        let (sink, stream) = socket.split();
        let Accepted {
            request,
            client_id,
            uid,
            since,
        } = accepted;
        let info = ConnInfo {
            uid,
            client_id,
            conn_id: self.inner.conn_ids.next(),
            transport: Transport::Ws,
            request,
        };
        self.serve_split(info, since, sink, stream)
    }

    /// [`serve_ws`](Self::serve_ws) on the split socket (an `async move` block, not an `async
    /// fn`, which would hold its arguments twice for the connection's life).
    #[allow(clippy::manual_async_fn)]
    fn serve_split<T, E>(
        &self,
        info: ConnInfo,
        since: Vec<Position>,
        sink: SplitSink<T, WsMessage>,
        stream: SplitStream<T>,
    ) -> impl Future<Output = ()> + use<T, E>
    where
        T: Stream<Item = Result<WsMessage, E>> + Sink<WsMessage> + Send + 'static,
        E: fmt::Display,
    {
        let server = self.clone();
        async move {
            let this = &server;
            let inner = &this.inner;
            let codec = inner.config.codec;
            let (conn, Some(mut rx)) = Conn::new(info, &inner.config.limits, &inner.counters)
            else {
                return;
            };
            let mut stream = pin!(stream);
            let mut out = Writer::new(sink, codec, &conn, inner.config.timings.write_timeout);
            let (registered, fed) = {
                let handshake = match inner.open(&conn, true, &since).await {
                    Ok(handshake) => handshake,
                    Err(rejection) => {
                        close(&mut out.sink, codec, rejection.body(), POLICY).await;
                        return;
                    }
                };
                // Unregisters however this future ends (closed, dropped, or a bug that panics).
                let registered = Registered {
                    inner: this.inner.clone(),
                    conn: conn.clone(),
                };
                (registered, out.feed_frame(&handshake).await)
            };
            let mut pending = Pending::new();
            let end = match fed {
                Ok(()) => {
                    this.run_ws(&conn, &mut out, &mut stream, &mut rx, &mut pending)
                        .await
                }
                Err(stop) => End::Write(stop),
            };
            let cause = match end {
                End::Write(Stop::Timeout) => {
                    Counters::inc(&inner.counters.write_timeouts);
                    tracing::info!(conn = %conn.id(), timeout = ?inner.config.timings.write_timeout,
                    "chsk: write timeout (the client does not read), closing");
                    conn.request_close("write timeout", GOING_AWAY, Cause::WriteTimeout);
                    conn.cause()
                }
                _ => {
                    conn.request_close("closed", NORMAL, Cause::Closed);
                    conn.cause()
                }
            }
            .unwrap_or(Cause::Closed);
            drop(registered);
            // Refuse new pushes and count the queued ones.
            rx.close(cause);
            // Close the socket. Frames fed but not flushed yet go out with the close: they count
            // as written when it completes, as dropped when it fails or times out.
            let flushed = match end {
                End::Server | End::Write(_) => {
                    let (reason, code) = conn.close_reason().unwrap_or((String::new(), NORMAL));
                    let flushed = close(&mut out.sink, codec, &reason, code).await;
                    if matches!(end, End::Server) {
                        // The closing handshake: wait (briefly) for the peer's close, so the socket
                        // is not reset while our `Close` frame is still unread.
                        let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, async {
                            while let Some(Ok(msg)) = stream.next().await {
                                if matches!(msg, WsMessage::Close(..)) {
                                    break;
                                }
                            }
                        })
                        .await;
                    }
                    flushed
                }
                // Complete the closing handshake the peer started: our close goes back.
                End::Peer => matches!(
                    tokio::time::timeout(CLOSE_WRITE_TIMEOUT, out.sink.close()).await,
                    Ok(Ok(()))
                ),
            };
            inner.counters.dropped(cause, out.lost_pushes);
            let unflushed = std::mem::take(&mut out.unflushed_pushes);
            if flushed {
                Counters::add(&inner.counters.pushes_written, unflushed);
            } else {
                inner.counters.dropped(cause, unflushed);
            }
            if !pending.is_empty() {
                // Handlers outlive their connection; their replies have nowhere to go.
                tokio::spawn(async move { while pending.next().await.is_some() {} });
            }
        }
    }

    /// The connection loop: reads frames (while fewer than the in-flight limits are running),
    /// writes replies, pushes and pings, and ends at the first close.
    async fn run_ws<K, S, E>(
        &self,
        conn: &Arc<Conn>,
        out: &mut Writer<'_, K>,
        stream: &mut std::pin::Pin<&mut S>,
        rx: &mut Inbox,
        pending: &mut Pending,
    ) -> End
    where
        K: Sink<WsMessage> + Unpin,
        S: Stream<Item = Result<WsMessage, E>>,
        E: fmt::Display,
    {
        let inner = &self.inner;
        let limits = &inner.config.limits;
        let mut close_requested = pin!(conn.close_requested());
        close_requested.as_mut().enable();
        let mut keepalive = Keepalive::new(
            inner.config.timings.ws_kalive,
            inner.config.timings.ws_ping_timeout,
            Instant::now(),
        );
        let mut timer = pin!(sleep_until(keepalive.deadline()));
        let mut warned = false;
        let mut in_flight_bytes = 0usize;
        if let Err(stop) = out.flush().await {
            return End::Write(stop);
        }
        if conn.is_closing() {
            return End::Server;
        }
        loop {
            let readable = pending.len() < limits.max_in_flight
                && in_flight_bytes < limits.max_in_flight_bytes;
            let step: Result<(), Stop> = tokio::select! {
                biased;
                () = &mut close_requested => return End::Server,
                msg = stream.next(), if readable => match msg {
                    None | Some(Ok(WsMessage::Close(..))) => return End::Peer,
                    Some(Err(e)) => {
                        tracing::debug!(conn = %conn.id(), error = %e, "chsk: websocket read error");
                        return End::Peer;
                    }
                    Some(Ok(WsMessage::TooLarge)) => {
                        Counters::inc(&inner.counters.oversized_frames);
                        tracing::info!(conn = %conn.id(), "chsk: frame too large, closing");
                        conn.request_close("frame too large", TOO_BIG, Cause::Closed);
                        return End::Server;
                    }
                    Some(Ok(WsMessage::Binary(b) | WsMessage::Text(b))) => {
                        keepalive.activity(Instant::now());
                        match self.on_frame(conn, &b, pending, &mut warned) {
                            Incoming::Nothing => Ok(()),
                            Incoming::Started(bytes) => {
                                in_flight_bytes += bytes;
                                Ok(())
                            }
                            Incoming::Send(frame) => {
                                out.send_frame(frame).await
                            }
                            Incoming::Close(reason, code) => {
                                conn.request_close(reason, code, Cause::Closed);
                                return End::Server;
                            }
                        }
                    }
                },
                Some(done) = pending.next(), if !pending.is_empty() => {
                    // Coalesce: every reply that is ready now goes out with the same flush.
                    let mut next = Some(done);
                    let mut r = Ok(());
                    for _ in 0..256 {
                        let Some(done) = next.take() else { break };
                        in_flight_bytes -= done.bytes;
                        if let Some((reply_id, result)) = done.reply {
                            r = out.feed_reply(inner, reply_id, result).await;
                            if r.is_err() {
                                break;
                            }
                        }
                        next = pending.next().now_or_never().flatten();
                    }
                    r
                }
                item = rx.recv() => {
                    let Some(item) = item else { return End::Server };
                    let mut r = out.feed_push(item).await;
                    // Coalesce: everything already queued goes out with one flush.
                    for _ in 0..256 {
                        if r.is_err() {
                            break;
                        }
                        let Some(item) = rx.try_recv() else { break };
                        r = out.feed_push(item).await;
                    }
                    r
                }
                () = &mut timer => {
                    if !readable {
                        // Not reading (back-pressure): the client's frames wait in the socket,
                        // so its silence means nothing.
                        keepalive.activity(Instant::now());
                    }
                    match keepalive.due(Instant::now()) {
                        Due::Later(deadline) => {
                            timer.as_mut().reset(deadline);
                            Ok(())
                        }
                        Due::Ping => {
                            timer.as_mut().reset(keepalive.deadline());
                            out.feed_frame(&Frame::Ping).await
                        }
                        Due::Dead => {
                            Counters::inc(&inner.counters.ping_timeouts);
                            tracing::debug!(conn = %conn.id(), "chsk: ping timeout, closing");
                            conn.request_close("ping timeout", GOING_AWAY, Cause::PingTimeout);
                            return End::Server;
                        }
                    }
                }
                () = std::future::ready(()), if out.unflushed > 0 => out.flush().await,
            };
            if let Err(stop) = step {
                return End::Write(stop);
            }
            // Frames fed since the last flush. The socket is flushed when nothing else is
            // ready (the last, lowest-priority branch), or after `FLUSH_EVERY` frames: one
            // write per burst, not per frame.
            if out.unflushed >= FLUSH_EVERY {
                if let Err(stop) = out.flush().await {
                    return End::Write(stop);
                }
            }
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
        if bytes.len() > inner.config.limits.max_frame_bytes {
            Counters::inc(&inner.counters.oversized_frames);
            tracing::info!(conn = %conn.id(), len = bytes.len(), "chsk: frame too large, closing");
            return Incoming::Close("frame too large", TOO_BIG);
        }
        if !conn.allow_frame() {
            Counters::inc(&inner.counters.rate_limited);
            tracing::info!(conn = %conn.id(), "chsk: rate limit exceeded, closing");
            return Incoming::Close("rate limit exceeded", POLICY);
        }
        let frame = match inner.config.codec.decode_frame(bytes) {
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
        let bytes = bytes.len();
        match frame {
            Frame::Event(event) => match self.start(conn.info.clone(), &event) {
                Ok(fut) => {
                    let server = self.clone();
                    let guard = InFlight::new(&inner.counters, bytes);
                    pending.push(Box::pin(async move {
                        let _ = server.finish(fut.await);
                        drop(guard);
                        Done { reply: None, bytes }
                    }));
                    Incoming::Started(bytes)
                }
                Err(e) => Incoming::Send(Frame::Error { message: e.message }),
            },
            Frame::Request { reply_id, event } => match self.start(conn.info.clone(), &event) {
                Ok(fut) => {
                    let server = self.clone();
                    let guard = InFlight::new(&inner.counters, bytes);
                    pending.push(Box::pin(async move {
                        let result = server.finish(fut.await);
                        drop(guard);
                        Done {
                            reply: Some((reply_id, result)),
                            bytes,
                        }
                    }));
                    Incoming::Started(bytes)
                }
                Err(e) => Incoming::Send(Frame::Reply {
                    reply_id,
                    result: Err(e),
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
    /// A handler call started for a frame of this many bytes.
    Started(usize),
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
