//! An in-memory transport for tests (feature `test-util`): a WebSocket connection to a
//! [`Server`] without a socket, so server behaviour (dispatch, push, presence, batching,
//! keep-alive, limits) can be tested in-process, with tokio's paused clock.

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context, Poll},
};

use futures::{Sink, Stream};
use tokio::sync::mpsc;

use super::{socket::WsMessage, HandshakeRequest, Rejection, Server};
use crate::{protocol::Frame, Codec};

/// The server's end of an in-memory WebSocket. Like tungstenite, it answers the peer's close
/// with a close of its own when the socket is closed.
#[derive(Debug)]
struct MemSocket {
    incoming: mpsc::UnboundedReceiver<WsMessage>,
    outgoing: mpsc::UnboundedSender<WsMessage>,
    /// The peer's close code, until it is answered.
    peer_closed: Option<u16>,
    close_sent: bool,
}

impl Stream for MemSocket {
    type Item = Result<WsMessage, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.incoming.poll_recv(cx);
        if let Poll::Ready(Some(WsMessage::Close(code, _))) = &polled {
            self.peer_closed = Some(*code);
        }
        polled.map(|m| m.map(Ok))
    }
}

impl Sink<WsMessage> for MemSocket {
    type Error = &'static str;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(mut self: Pin<&mut Self>, msg: WsMessage) -> Result<(), Self::Error> {
        if matches!(msg, WsMessage::Close(..)) {
            self.close_sent = true;
        }
        self.outgoing
            .send(msg)
            .map_err(|_| "the test client is gone")
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if let (Some(code), false) = (self.peer_closed, self.close_sent) {
            self.close_sent = true;
            let _ = self.outgoing.send(WsMessage::Close(code, String::new()));
        }
        Poll::Ready(Ok(()))
    }
}

/// The client's end of an in-memory WebSocket to a [`Server`]: send frames, read what the
/// server sends. Dropping it (or [`close`](Self::close)) closes the connection.
///
/// ```
/// # #[chsk::events(ns = "t")] #[derive(Debug, Clone)] enum Ev { #[reply(u32)] Len(String) }
/// # #[chsk::handler(Ev::Len)] async fn len(s: String) -> u32 { s.len() as u32 }
/// use chsk::{protocol::Frame, Event};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let server = chsk::Server::builder(()).handler(len).skip_csrf_check().build();
/// let mut client = server.connect_mem("client-id=t1").expect("accepted");
/// assert!(matches!(client.frame().await, Some(Frame::Handshake(_))));
/// let event = Ev::Len("four".into()).to_frame(server.codec()).unwrap();
/// client.send(&Frame::Request { reply_id: 1, event });
/// match client.frame().await {
///     Some(Frame::Reply { reply_id: 1, result: Ok(payload) }) => {
///         assert_eq!(server.codec().decode_payload::<u32>(&payload).unwrap(), 4);
///     }
///     other => panic!("{other:?}"),
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct MemClient {
    codec: Codec,
    to_server: Option<mpsc::UnboundedSender<WsMessage>>,
    from_server: mpsc::UnboundedReceiver<WsMessage>,
}

impl MemClient {
    /// Sends a frame (encoded with the server's codec).
    ///
    /// # Panics
    ///
    /// When the frame cannot be encoded.
    pub fn send(&mut self, frame: &Frame) {
        let bytes = self.codec.encode_frame(frame).expect("an encodable frame");
        self.send_raw(bytes);
    }

    /// Sends raw bytes as one message (binary for postcard, text for JSON), e.g. a malformed
    /// frame.
    pub fn send_raw(&mut self, bytes: Vec<u8>) {
        let msg = if self.codec.is_binary() {
            WsMessage::Binary(bytes.into())
        } else {
            WsMessage::Text(bytes.into())
        };
        if let Some(tx) = &self.to_server {
            let _ = tx.send(msg);
        }
    }

    /// The next message from the server; `None` once the server dropped the connection.
    pub async fn recv(&mut self) -> Option<WsMessage> {
        self.from_server.recv().await
    }

    /// The next frame from the server (skipping nothing); `None` at a WebSocket close or the
    /// end of the connection.
    ///
    /// # Panics
    ///
    /// When the server sent bytes that do not decode as a frame.
    pub async fn frame(&mut self) -> Option<Frame> {
        match self.recv().await? {
            WsMessage::Binary(b) | WsMessage::Text(b) => Some(
                self.codec
                    .decode_frame(&b)
                    .expect("the server sends valid frames"),
            ),
            _ => None,
        }
    }

    /// Sends a WebSocket close, as a browser does when a tab closes.
    pub fn close(&mut self) {
        if let Some(tx) = self.to_server.take() {
            let _ = tx.send(WsMessage::Close(1000, String::new()));
        }
    }

    /// Ends the connection without a close (a cut network).
    pub fn cut(&mut self) {
        self.to_server = None;
    }
}

impl Server {
    /// Opens an in-memory WebSocket to this server (feature `test-util`): `query` is the query
    /// string of the opening request (`client-id=…` at least, and whatever the server's hooks
    /// read, e.g. `uid=alice`). The same checks run as for a real request; the connection runs
    /// on a task of its own (a tokio runtime is needed).
    ///
    /// # Errors
    ///
    /// The [`Rejection`] a real request would get.
    pub fn connect_mem(&self, query: &str) -> Result<MemClient, Rejection> {
        let (parts, ()) = http::Request::get(format!("/chsk?{query}"))
            .body(())
            .map_err(|e| Rejection::new(http::StatusCode::BAD_REQUEST, e.to_string()))?
            .into_parts();
        let accepted = self.accept(HandshakeRequest::new(parts))?;
        let (to_server, incoming) = mpsc::unbounded_channel();
        let (outgoing, from_server) = mpsc::unbounded_channel();
        let server = self.clone();
        tokio::spawn(async move {
            server
                .serve_ws(
                    accepted,
                    MemSocket {
                        incoming,
                        outgoing,
                        peer_closed: None,
                        close_sent: false,
                    },
                )
                .await;
        });
        Ok(MemClient {
            codec: self.codec(),
            to_server: Some(to_server),
            from_server,
        })
    }
}
