//! The writing side of a WebSocket: the message type the web-framework adapter converts its
//! socket to, and a writer where every write has a deadline.

use std::{
    future::{poll_fn, Future},
    pin::{pin, Pin},
    sync::Arc,
    task::Poll,
    time::Duration,
};

use bytes::Bytes;
use futures::{Sink, SinkExt};
use tokio::time::{sleep_until, Instant};

use super::{
    conn::Conn,
    mailbox::{Outgoing, Ticket},
    metrics::Counters,
    shared::Inner,
};
use crate::{
    codec::Codec,
    protocol::{Frame, ReplyError, ReplyErrorKind, ReplyId},
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
pub(crate) const NORMAL: u16 = 1000;
pub(crate) const GOING_AWAY: u16 = 1001;
pub(crate) const POLICY: u16 = 1008;
pub(crate) const TOO_BIG: u16 = 1009;

/// Flush at least every this many fed frames, even while more work is ready.
pub(crate) const FLUSH_EVERY: usize = 64;

/// How long a closing connection may take to write its `Close` frame.
pub(crate) const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a write stopped the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The socket failed.
    Io,
    /// The write did not complete within `write_timeout`.
    Timeout,
    /// A close was requested, and the pending write did not complete within its grace.
    Closing,
}

/// How much longer a pending write may take once a close is requested.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The writing side of a connection: every write has a deadline, and a close request cuts a
/// pending write short. Pushes are counted as written when the flush that follows them
/// succeeds; their batches' tickets are held until then, so pushes made meanwhile to the same
/// targets are coalesced (see `push`).
pub(crate) struct Writer<'a, K> {
    pub(crate) sink: K,
    codec: Codec,
    conn: &'a Conn,
    timeout: Duration,
    /// Frames fed since the last flush.
    pub(crate) unflushed: usize,
    /// Pushed events fed since the last flush.
    pub(crate) unflushed_pushes: u64,
    /// Pushed events whose frame the socket never took (a failed or abandoned feed).
    pub(crate) lost_pushes: u64,
    /// The tickets of the push frames fed since the last flush.
    tickets: Vec<Arc<Ticket>>,
}

/// Runs one write with the deadline; a close request cuts it short after `CLOSE_GRACE`.
///
/// The common case, a socket that takes the bytes at once, is one poll. Only a write that has
/// to wait goes on in a boxed future with its timers: every connection's task has room for
/// one write in progress, and an idle connection should not hold room for timers it rarely
/// needs.
async fn guarded<F, X>(conn: &Conn, timeout: Duration, mut op: F) -> Result<(), Stop>
where
    F: std::future::Future<Output = Result<(), X>> + Unpin,
{
    if let std::task::Poll::Ready(r) = futures::poll!(&mut op) {
        return r.map_err(|_| Stop::Io);
    }
    Box::pin(wait(conn, timeout, op)).await
}

/// The rest of a write that did not complete at once (see [`guarded`]).
async fn wait<F, X>(conn: &Conn, timeout: Duration, mut op: F) -> Result<(), Stop>
where
    F: std::future::Future<Output = Result<(), X>> + Unpin,
{
    let deadline = Instant::now() + timeout;
    let mut closed = pin!(conn.close_requested());
    closed.as_mut().enable();
    if !conn.is_closing() {
        tokio::select! {
            r = &mut op => return r.map_err(|_| Stop::Io),
            () = sleep_until(deadline) => return Err(Stop::Timeout),
            () = closed => {}
        }
    }
    let grace = deadline.min(Instant::now() + CLOSE_GRACE);
    tokio::select! {
        r = op => r.map_err(|_| Stop::Io),
        () = sleep_until(grace) => Err(Stop::Closing),
    }
}

impl<'a, K: Sink<WsMessage> + Unpin> Writer<'a, K> {
    pub(crate) fn new(sink: K, codec: Codec, conn: &'a Conn, timeout: Duration) -> Self {
        Self {
            sink,
            codec,
            conn,
            timeout,
            unflushed: 0,
            unflushed_pushes: 0,
            lost_pushes: 0,
            tickets: Vec::new(),
        }
    }

    // The futures below are part of every connection's task, whose size is the most room any
    // of its steps needs, for the connection's whole life: they hold their message once (an
    // `async move` block rather than an `async fn`, whose arguments are held twice) and keep
    // the waiting for a busy socket in a boxed future.

    /// Feeds a queued push frame; its ticket is released by the flush that writes it.
    #[allow(clippy::manual_async_fn)] // on purpose: see above
    pub(crate) fn feed_push(
        &mut self,
        item: Outgoing,
    ) -> impl Future<Output = Result<(), Stop>> + use<'_, 'a, K> {
        async move {
            let Outgoing {
                bytes,
                pushes,
                ticket,
                ..
            } = item;
            self.feed(message(self.codec, bytes), pushes).await?;
            self.tickets.extend(ticket);
            Ok(())
        }
    }

    /// Hands one message to the socket (not flushed yet): at once when the socket takes it
    /// (one poll), else with the deadline (see [`guarded`]).
    #[allow(clippy::manual_async_fn)] // on purpose: see above
    pub(crate) fn feed(
        &mut self,
        msg: WsMessage,
        pushes: u64,
    ) -> impl Future<Output = Result<(), Stop>> + use<'_, 'a, K> {
        async move {
            let ready = poll_fn(|cx| Poll::Ready(Pin::new(&mut self.sink).poll_ready(cx))).await;
            let fed = match ready {
                Poll::Ready(Ok(())) => Pin::new(&mut self.sink)
                    .start_send(msg)
                    .map_err(|_| Stop::Io),
                Poll::Ready(Err(_)) => Err(Stop::Io),
                Poll::Pending => Box::pin(wait(self.conn, self.timeout, self.sink.feed(msg))).await,
            };
            match fed {
                Ok(()) => {
                    self.unflushed += 1;
                    self.unflushed_pushes += pushes;
                    Ok(())
                }
                Err(stop) => {
                    self.lost_pushes += pushes;
                    Err(stop)
                }
            }
        }
    }

    /// Encodes and feeds a frame (an encode failure is logged; nothing is sent).
    pub(crate) fn feed_frame(
        &mut self,
        frame: &Frame,
    ) -> impl Future<Output = Result<(), Stop>> + use<'_, 'a, K> {
        let msg = encode(self.codec, frame).map(|bytes| message(self.codec, bytes));
        async move {
            match msg {
                Some(msg) => self.feed(msg, 0).await,
                None => Ok(()),
            }
        }
    }

    /// [`feed_frame`](Self::feed_frame), taking the frame: it is encoded before the future is
    /// made, so the caller's future does not hold it across the write.
    pub(crate) fn send_frame(
        &mut self,
        frame: Frame,
    ) -> impl Future<Output = Result<(), Stop>> + use<'_, 'a, K> {
        self.feed_frame(&frame)
    }

    /// Feeds a reply; one that cannot be encoded, or is larger than `max_send_frame_bytes`,
    /// becomes an error reply, so the caller learns why instead of timing out.
    pub(crate) fn feed_reply(
        &mut self,
        inner: &Inner,
        reply_id: ReplyId,
        result: Result<crate::codec::Payload, ReplyError>,
    ) -> impl Future<Output = Result<(), Stop>> + use<'_, 'a, K> {
        let msg = message(self.codec, reply_bytes(inner, reply_id, result));
        self.feed(msg, 0)
    }

    pub(crate) async fn flush(&mut self) -> Result<(), Stop> {
        guarded(self.conn, self.timeout, self.sink.flush()).await?;
        self.unflushed = 0;
        // Released (and the heap freed: an idle connection holds none).
        self.tickets = Vec::new();
        Counters::add(
            &self.conn.counters().pushes_written,
            std::mem::take(&mut self.unflushed_pushes),
        );
        Ok(())
    }
}

/// A reply frame's bytes: the reply, or an error reply when it cannot be sent as it is.
pub(crate) fn reply_bytes(
    inner: &Inner,
    reply_id: ReplyId,
    result: Result<crate::codec::Payload, ReplyError>,
) -> Bytes {
    let max = inner.config.limits.max_send_frame_bytes;
    let failure = match inner
        .config
        .codec
        .encode_frame(&Frame::Reply { reply_id, result })
    {
        Ok(bytes) if bytes.len() <= max => return Bytes::from(bytes),
        Ok(bytes) => format!(
            "the reply is {} bytes, more than a frame may hold ({max})",
            bytes.len()
        ),
        Err(e) => format!("could not encode the reply: {e}"),
    };
    Counters::inc(&inner.counters.replies_failed);
    tracing::warn!(reply_id, error = %failure, "chsk: reply replaced by an error reply");
    let frame = Frame::Reply {
        reply_id,
        result: Err(ReplyError::new(ReplyErrorKind::Server, failure)),
    };
    encode(inner.config.codec, &frame).unwrap_or_default()
}

pub(crate) fn message(codec: Codec, bytes: Bytes) -> WsMessage {
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

/// Sends `Close { reason }` and a WebSocket close, giving up after a short timeout (the peer
/// may not be reading); `true` when both were written (and so was everything fed before).
pub(crate) async fn close<K: Sink<WsMessage> + Unpin>(
    sink: &mut K,
    codec: Codec,
    reason: &str,
    code: u16,
) -> bool {
    let frame = Frame::Close {
        reason: reason.to_owned(),
    };
    let sent = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, async {
        feed_frame(sink, codec, &frame).await.is_ok()
            && sink
                .send(WsMessage::Close(code, reason.to_owned()))
                .await
                .is_ok()
    })
    .await
    .unwrap_or(false);
    let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, sink.close()).await;
    sent
}
