//! An in-memory transport for tests (feature `test-util`): WebSocket connections and Ajax
//! clients of a [`Server`] without a socket, so server behaviour (dispatch, push, presence,
//! batching, keep-alive, limits) can be tested in-process, with tokio's paused clock.
//!
//! Nothing here re-implements the server: a [`MemClient`] is a socket handed to
//! [`Server::serve_ws`] after [`Server::accept`], and a [`MemAjax`] calls
//! [`Server::ajax_get`] and [`Server::ajax_post`], exactly as a web-framework adapter does.

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures::{
    channel::mpsc as fmpsc,
    stream::{BoxStream, StreamExt},
    Sink, Stream,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use tokio::sync::mpsc;

use super::{
    mount::{HttpResponse, WsMessage},
    request::HandshakeRequest,
    security::Rejection,
    shared::Server,
};
use crate::{
    codec::Codec,
    protocol::{Frame, Handshake},
};

/// The sink of the server's end: a bounded channel (the client stops reading: the server's
/// writes stall, as on a full TCP buffer) or an unbounded one.
type Outgoing = Pin<Box<dyn Sink<WsMessage, Error = fmpsc::SendError> + Send>>;

/// The server's end of an in-memory WebSocket. Like tungstenite, it answers the peer's close
/// with a close of its own when the socket is closed.
struct MemSocket {
    incoming: mpsc::UnboundedReceiver<WsMessage>,
    outgoing: Outgoing,
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
    type Error = fmpsc::SendError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.outgoing.as_mut().poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, msg: WsMessage) -> Result<(), Self::Error> {
        if matches!(msg, WsMessage::Close(..)) {
            self.close_sent = true;
        }
        self.outgoing.as_mut().start_send(msg)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.outgoing.as_mut().poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if let (Some(code), false) = (self.peer_closed, self.close_sent) {
            match self.outgoing.as_mut().poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    self.close_sent = true;
                    let _ = self
                        .outgoing
                        .as_mut()
                        .start_send(WsMessage::Close(code, String::new()));
                }
                Poll::Ready(Err(_)) => self.close_sent = true,
                Poll::Pending => return Poll::Pending,
            }
        }
        self.outgoing.as_mut().poll_flush(cx)
    }
}

/// The opening request of an in-memory connection, built with [`Server::mem_request`]: a query
/// string, headers, and for a WebSocket how many messages the client's end buffers.
///
/// ```
/// # #[chsk::events(ns = "t")] #[derive(Debug, Clone)] enum Ev { Note(u32) }
/// # #[chsk::handler(Ev::Note)] async fn note(_n: u32) {}
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let server = chsk::Server::builder(())
///     .handler(note)
///     .csrf_token(|_| Some("s3cret".to_owned()))
///     .build();
/// let refused = server.connect_mem("client-id=t1").unwrap_err();
/// assert_eq!(refused.status(), 403);
/// let accepted = server
///     .mem_request("client-id=t1")
///     .header("x-csrf-token", "s3cret")
///     .connect();
/// assert!(accepted.is_ok());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MemRequest {
    server: Server,
    query: String,
    headers: HeaderMap,
    capacity: Option<usize>,
}

impl MemRequest {
    /// Adds a header to the request (e.g. `authorization`, `origin`, `x-csrf-token`).
    ///
    /// # Panics
    ///
    /// When the name or the value is not valid in a header.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName, Error: std::fmt::Debug>,
        V: TryInto<HeaderValue, Error: std::fmt::Debug>,
    {
        let name = name.try_into().expect("a valid header name");
        let value = value.try_into().expect("a valid header value");
        self.headers.append(name, value);
        self
    }

    /// Bounds the client's end of a WebSocket to `messages` unread messages: once the client
    /// stops reading, the server's writes stall (as on a full TCP buffer), so its queue fills
    /// and its write deadline runs. Unbounded by default.
    pub fn capacity(mut self, messages: usize) -> Self {
        self.capacity = Some(messages);
        self
    }

    fn request(&self, method: Method, extra: &str) -> HandshakeRequest {
        let sep = if self.query.is_empty() || extra.is_empty() {
            ""
        } else {
            "&"
        };
        // The protocol version, unless the test sets `v` itself (to check the refusal).
        let given = |q: &str| q.split('&').any(|kv| kv.starts_with("v="));
        let version = if given(&self.query) || given(extra) {
            String::new()
        } else {
            format!("v={}&", crate::protocol::VERSION)
        };
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("/chsk?{version}{}{sep}{extra}", self.query));
        if let Some(headers) = builder.headers_mut() {
            headers.extend(self.headers.clone());
        }
        let (parts, ()) = builder
            .body(())
            .expect("a query string is a valid URI")
            .into_parts();
        HandshakeRequest::new(parts)
    }

    /// Opens a WebSocket: the same checks run as for a real request ([`Server::accept`]), then
    /// [`Server::serve_ws`] runs the connection on a task of its own (a tokio runtime is
    /// needed).
    ///
    /// # Errors
    ///
    /// The [`Rejection`] a real request would get.
    ///
    /// # Panics
    ///
    /// When the query is not valid in a URI.
    pub fn connect(self) -> Result<MemClient, Rejection> {
        let accepted = self.server.accept(self.request(Method::GET, ""))?;
        let (to_server, incoming) = mpsc::unbounded_channel();
        let (outgoing, from_server): (Outgoing, BoxStream<'static, WsMessage>) = match self.capacity
        {
            Some(n) => {
                let (tx, rx) = fmpsc::channel(n.max(1) - 1);
                (Box::pin(tx), rx.boxed())
            }
            None => {
                let (tx, rx) = fmpsc::unbounded();
                (Box::pin(tx), rx.boxed())
            }
        };
        let socket = MemSocket {
            incoming,
            outgoing,
            peer_closed: None,
            close_sent: false,
        };
        let server = self.server.clone();
        tokio::spawn(async move { server.serve_ws(accepted, socket).await });
        Ok(MemClient {
            codec: self.server.codec(),
            to_server: Some(to_server),
            from_server,
        })
    }

    /// An Ajax client sending this request's query and headers with every `GET` and `POST`.
    pub fn ajax(self) -> MemAjax {
        MemAjax { request: self }
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
pub struct MemClient {
    codec: Codec,
    to_server: Option<mpsc::UnboundedSender<WsMessage>>,
    from_server: BoxStream<'static, WsMessage>,
}

impl std::fmt::Debug for MemClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemClient")
            .field("codec", &self.codec)
            .field("open", &self.to_server.is_some())
            .finish_non_exhaustive()
    }
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
        self.from_server.next().await
    }

    /// The next message from the server if one is waiting now.
    pub fn try_recv(&mut self) -> Option<WsMessage> {
        futures::FutureExt::now_or_never(self.from_server.next()).flatten()
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

    /// Ends the connection without a close (a cut network); what the server sent until then
    /// can still be read.
    pub fn cut(&mut self) {
        self.to_server = None;
    }
}

/// An in-memory Ajax client of a [`Server`] (see [`Server::ajax_mem`]): every `GET` and
/// `POST` goes to [`Server::ajax_get`] / [`Server::ajax_post`] with the client's query and
/// headers. Cheap to clone (clones send the same client id).
///
/// ```
/// # #[chsk::events(ns = "t")] #[derive(Debug, Clone)] enum Ev { #[reply(u32)] Len(String) }
/// # #[chsk::handler(Ev::Len)] async fn len(s: String) -> u32 { s.len() as u32 }
/// use chsk::{protocol::Frame, Event};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let server = chsk::Server::builder(())
///     .handler(len)
///     .user_id(|req, _client_id| req.query("uid").map(str::to_owned))
///     .skip_csrf_check()
///     .build();
/// let ajax = server.ajax_mem("client-id=t1&uid=alice");
/// assert_eq!(ajax.handshake().await.uid.as_deref(), Some("alice"));
/// let event = Ev::Len("four".into()).to_frame(server.codec()).unwrap();
/// let reply = ajax.post(&Frame::Request { reply_id: 1, event }).await;
/// assert!(matches!(ajax.decode(&reply), Frame::Reply { reply_id: 1, result: Ok(_) }));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MemAjax {
    request: MemRequest,
}

impl MemAjax {
    /// A `GET` (handshake or long-poll) with `extra` appended to the query (e.g.
    /// `handshake=1`, or empty).
    pub async fn get(&self, extra: &str) -> HttpResponse {
        let request = self.request.request(Method::GET, extra);
        self.request.server.ajax_get(request).await
    }

    /// A `POST` of one frame (encoded with the server's codec).
    ///
    /// # Panics
    ///
    /// When the frame cannot be encoded.
    pub async fn post(&self, frame: &Frame) -> HttpResponse {
        let codec = self.request.server.codec();
        self.post_raw(codec.encode_frame(frame).expect("an encodable frame"))
            .await
    }

    /// A `POST` of raw bytes, e.g. a malformed frame.
    pub async fn post_raw(&self, body: impl Into<Bytes>) -> HttpResponse {
        let request = self.request.request(Method::POST, "");
        self.request.server.ajax_post(request, body.into()).await
    }

    /// A handshake (`GET` with `handshake=1`).
    ///
    /// # Panics
    ///
    /// When the answer is not `200` with a `Handshake` frame.
    pub async fn handshake(&self) -> Handshake {
        match self.decode(&self.get("handshake=1").await) {
            Frame::Handshake(h) => h,
            other => panic!("expected a handshake, got {other:?}"),
        }
    }

    /// A long-poll (`GET`): a `Push`, `PollTimeout`, `Close`, or a `Handshake` when the
    /// server has no state for this client.
    ///
    /// # Panics
    ///
    /// When the answer is not `200` with a frame.
    pub async fn poll(&self) -> Frame {
        self.decode(&self.get("").await)
    }

    /// Starts a long-poll on a task of its own and returns once the server holds it (a push,
    /// a newer poll or a close now ends it); a tokio runtime is needed.
    pub fn start_poll(&self) -> tokio::task::JoinHandle<Frame> {
        let ajax = self.clone();
        let mut poll = Box::pin(async move { ajax.poll().await });
        // The first poll of the future runs the request up to its first wait: the server has
        // registered the long-poll by then. The task polls it again (with its own waker).
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        match std::future::Future::poll(poll.as_mut(), &mut cx) {
            Poll::Ready(frame) => tokio::spawn(async move { frame }),
            Poll::Pending => tokio::spawn(poll),
        }
    }

    /// The frame in a `200` response.
    ///
    /// # Panics
    ///
    /// When the status is not `200` or the body is not a frame.
    pub fn decode(&self, response: &HttpResponse) -> Frame {
        assert_eq!(
            response.status,
            http::StatusCode::OK,
            "body: {}",
            String::from_utf8_lossy(&response.body)
        );
        self.request
            .server
            .codec()
            .decode_frame(&response.body)
            .expect("the server sends valid frames")
    }
}

impl Server {
    /// The opening request of an in-memory connection (feature `test-util`): `query` is its
    /// query string (`client-id=…` at least, and whatever the server's hooks read, e.g.
    /// `uid=alice`, or the stream positions `since=…`); `v=2` is added unless the query sets
    /// `v`; add headers with [`MemRequest::header`].
    pub fn mem_request(&self, query: &str) -> MemRequest {
        MemRequest {
            server: self.clone(),
            query: query.to_owned(),
            headers: HeaderMap::new(),
            capacity: None,
        }
    }

    /// Opens an in-memory WebSocket to this server (feature `test-util`); the shorthand of
    /// [`mem_request(query).connect()`](MemRequest::connect).
    ///
    /// # Errors
    ///
    /// The [`Rejection`] a real request would get.
    pub fn connect_mem(&self, query: &str) -> Result<MemClient, Rejection> {
        self.mem_request(query).connect()
    }

    /// An in-memory Ajax client of this server (feature `test-util`); the shorthand of
    /// [`mem_request(query).ajax()`](MemRequest::ajax).
    pub fn ajax_mem(&self, query: &str) -> MemAjax {
        self.mem_request(query).ajax()
    }
}
