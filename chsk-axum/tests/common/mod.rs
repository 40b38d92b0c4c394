//! Shared test fixtures: a small event enum, handlers, a real axum server on 127.0.0.1:0, and
//! raw WebSocket / Ajax clients that speak frames encoded with `chsk::Codec`.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use chsk::{
    protocol::{EventFrame, Frame},
    server::{Limits, ServerBuilder, Timings},
    Codec, Ctx, Event, Server,
};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

#[chsk::events(ns = "test")]
#[derive(Debug, Clone)]
pub enum TestEvent {
    /// Fire and forget: counted in the state.
    Note(String),
    #[reply(String)]
    Echo { text: String },
    #[reply(u64)]
    Slow { ms: u64 },
    #[reply(u32)]
    Boom,
    /// No handler is registered for this one.
    #[reply(u32)]
    Unhandled,
    /// The handler broadcasts a `TestPush::Text`.
    Shout(String),
}

#[chsk::events(ns = "test")]
#[derive(Debug, Clone, PartialEq)]
pub enum TestPush {
    Seq(u32),
    Text(String),
}

#[derive(Debug, Default)]
pub struct State {
    pub notes: Arc<AtomicUsize>,
}

#[chsk::handler(TestEvent::Note)]
async fn note(cx: Ctx<State>, _text: String) {
    cx.state().notes.fetch_add(1, Ordering::SeqCst);
}

#[chsk::handler(TestEvent::Echo)]
async fn echo(cx: Ctx<State>, text: String) -> String {
    format!("{text} from {}", cx.uid().unwrap_or("anonymous"))
}

#[chsk::handler(TestEvent::Slow)]
async fn slow(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[chsk::handler(TestEvent::Boom)]
async fn boom() -> u32 {
    panic!("boom handler")
}

#[chsk::handler(TestEvent::Shout)]
async fn shout(cx: Ctx<State>, text: String) {
    cx.server()
        .send_to_all(TestPush::Text(text))
        .expect("a shout is a valid push");
}

/// The `echo` handler, for builders that register handlers themselves.
pub fn echo_for_tests() -> impl chsk::handler::IntoHandler<
    State,
    Handler = impl chsk::Handler<State, Variant = test_event::Echo>,
> {
    echo
}

/// Short timings for tests.
pub fn fast_timings() -> Timings {
    Timings {
        ws_kalive: Duration::from_secs(5),
        ws_ping_timeout: Duration::from_secs(5),
        lp_timeout: Duration::from_millis(500),
        send_buf_ws: Duration::from_millis(30),
        send_buf_ajax: Duration::from_millis(30),
        ws_grace: Duration::from_millis(500),
        ajax_grace: Duration::from_millis(1500),
        ajax_reply_timeout: Duration::from_millis(300),
        write_timeout: Duration::from_secs(2),
    }
}

/// The usual builder: every handler but `Unhandled`, user id from `?uid=`, CSRF skipped.
pub fn builder() -> ServerBuilder<TestEvent, State> {
    builder_with(State::default())
}

pub fn builder_with(state: State) -> ServerBuilder<TestEvent, State> {
    Server::builder(state)
        .handler(note)
        .handler(echo)
        .handler(slow)
        .handler(boom)
        .handler(shout)
        .user_id(|req, _client_id| req.query("uid").map(str::to_owned))
        .skip_csrf_check()
        .timings(fast_timings())
        .limits(Limits {
            max_frame_bytes: 64 * 1024,
            ..Limits::default()
        })
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub server: Server,
}

impl TestServer {
    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/chsk?{query}", self.addr)
    }

    pub fn http_url(&self, query: &str) -> String {
        format!("http://{}/chsk?{query}", self.addr)
    }

    pub async fn ws(&self, query: &str) -> Ws {
        let (socket, _) = tokio_tungstenite::connect_async(self.ws_url(query))
            .await
            .expect("websocket connects");
        Ws {
            socket,
            codec: self.server.codec(),
        }
    }

    /// The HTTP status of a refused WebSocket upgrade.
    pub async fn ws_status(&self, query: &str, headers: &[(&str, &str)]) -> (u16, String) {
        use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Error};
        let mut req = self.ws_url(query).into_client_request().unwrap();
        for (k, v) in headers {
            let name = http::HeaderName::from_bytes(k.as_bytes()).unwrap();
            req.headers_mut().insert(name, v.parse().unwrap());
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok(_) => (101, String::new()),
            Err(Error::Http(resp)) => {
                let body = resp
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                (resp.status().as_u16(), body)
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }

    pub fn ajax(&self, query: &str) -> Ajax {
        Ajax {
            http: reqwest::Client::new(),
            url: self.http_url(query),
            codec: self.server.codec(),
        }
    }
}

/// Starts `server` on 127.0.0.1:0, nested at `/chsk` of an app with its own state.
pub async fn serve(server: Server) -> TestServer {
    #[derive(Clone)]
    struct AppState;
    let app = axum::Router::new()
        .nest("/chsk", chsk_axum::routes(server.clone()))
        .with_state(AppState);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    TestServer { addr, server }
}

pub async fn start() -> TestServer {
    serve(builder().build()).await
}

/// The client → server frames of a typed event.
pub fn event(ev: TestEvent) -> Frame {
    Frame::Event(ev.to_frame(Codec::Postcard).unwrap())
}

pub fn request(reply_id: u32, ev: TestEvent) -> Frame {
    Frame::Request {
        reply_id,
        event: ev.to_frame(Codec::Postcard).unwrap(),
    }
}

/// Decodes the events of a push batch.
pub fn pushes(frames: &[EventFrame]) -> Vec<TestPush> {
    frames
        .iter()
        .map(|f| TestPush::from_frame(f, Codec::Postcard).unwrap())
        .collect()
}

pub fn reply_ok<T: serde::de::DeserializeOwned>(frame: Frame) -> (u32, T) {
    match frame {
        Frame::Reply {
            reply_id,
            result: Ok(payload),
        } => (reply_id, Codec::Postcard.decode_payload(&payload).unwrap()),
        other => panic!("expected an Ok reply, got {other:?}"),
    }
}

pub fn reply_err(frame: Frame) -> (u32, String) {
    match frame {
        Frame::Reply {
            reply_id,
            result: Err(chsk::protocol::ReplyError { message, .. }),
        } => (reply_id, message),
        other => panic!("expected an Err reply, got {other:?}"),
    }
}

const WAIT: Duration = Duration::from_secs(10);

/// A raw WebSocket client.
pub struct Ws {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub codec: Codec,
}

/// What the server sent: a frame, or the end of the socket.
#[derive(Debug)]
pub enum Got {
    Frame(Frame),
    Closed(Option<(u16, String)>),
}

impl Ws {
    pub async fn send(&mut self, frame: &Frame) {
        let bytes = self.codec.encode_frame(frame).unwrap();
        self.send_raw(bytes).await;
    }

    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        self.socket
            .send(Message::Binary(bytes.into()))
            .await
            .unwrap();
    }

    /// The next message (frame or close), waiting at most 10 s.
    pub async fn next(&mut self) -> Got {
        loop {
            let msg = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a message within 10 s");
            match msg {
                None | Some(Err(_)) => return Got::Closed(None),
                Some(Ok(Message::Binary(b))) => {
                    return Got::Frame(self.codec.decode_frame(&b).expect("a valid frame"))
                }
                Some(Ok(Message::Text(t))) => {
                    return Got::Frame(
                        self.codec
                            .decode_frame(t.as_bytes())
                            .expect("a valid frame"),
                    )
                }
                Some(Ok(Message::Close(c))) => {
                    return Got::Closed(c.map(|c| (u16::from(c.code), c.reason.to_string())))
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn frame(&mut self) -> Frame {
        match self.next().await {
            Got::Frame(f) => f,
            Got::Closed(c) => panic!("socket closed: {c:?}"),
        }
    }

    /// Reads the handshake (the first frame).
    pub async fn handshake(&mut self) -> chsk::protocol::Handshake {
        match self.frame().await {
            Frame::Handshake(h) => h,
            other => panic!("expected a handshake, got {other:?}"),
        }
    }

    /// Skips frames until a close; returns the `Close` frame's reason and the close code.
    pub async fn closed(&mut self) -> (Option<String>, Option<u16>) {
        let mut reason = None;
        loop {
            match self.next().await {
                Got::Frame(Frame::Close { reason: r }) => reason = Some(r),
                Got::Frame(_) => {}
                Got::Closed(c) => return (reason, c.map(|c| c.0)),
            }
        }
    }

    /// Reads push batches until `n` events arrived; returns the batches.
    pub async fn pushes(&mut self, n: usize) -> Vec<Vec<TestPush>> {
        let mut batches = Vec::new();
        let mut count = 0;
        while count < n {
            match self.frame().await {
                Frame::Push(evs) => {
                    count += evs.len();
                    batches.push(pushes(&evs));
                }
                Frame::Ping => {}
                other => panic!("expected a push, got {other:?}"),
            }
        }
        batches
    }
}

/// A raw Ajax client.
pub struct Ajax {
    pub http: reqwest::Client,
    pub url: String,
    pub codec: Codec,
}

impl Ajax {
    pub async fn get(&self, extra: &str) -> (u16, Vec<u8>) {
        let url = if extra.is_empty() {
            self.url.clone()
        } else {
            format!("{}&{extra}", self.url)
        };
        let resp = self.http.get(url).send().await.unwrap();
        (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
    }

    pub async fn get_frame(&self, extra: &str) -> Frame {
        let (status, body) = self.get(extra).await;
        assert_eq!(status, 200, "body: {}", String::from_utf8_lossy(&body));
        self.codec.decode_frame(&body).unwrap()
    }

    pub async fn handshake(&self) -> chsk::protocol::Handshake {
        match self.get_frame("handshake=1").await {
            Frame::Handshake(h) => h,
            other => panic!("expected a handshake, got {other:?}"),
        }
    }

    pub async fn post_raw(&self, body: Vec<u8>) -> (u16, Vec<u8>) {
        let resp = self.http.post(&self.url).body(body).send().await.unwrap();
        (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
    }

    pub async fn post(&self, frame: &Frame) -> (u16, Vec<u8>) {
        self.post_raw(self.codec.encode_frame(frame).unwrap()).await
    }

    pub async fn post_frame(&self, frame: &Frame) -> Frame {
        let (status, body) = self.post(frame).await;
        assert_eq!(status, 200, "body: {}", String::from_utf8_lossy(&body));
        self.codec.decode_frame(&body).unwrap()
    }

    /// Polls until `n` pushed events arrived.
    pub async fn pushes(&self, n: usize) -> Vec<Vec<TestPush>> {
        let mut batches = Vec::new();
        let mut count = 0;
        let deadline = tokio::time::Instant::now() + WAIT;
        while count < n {
            assert!(tokio::time::Instant::now() < deadline, "pushes within 10 s");
            match self.get_frame("").await {
                Frame::Push(evs) => {
                    count += evs.len();
                    batches.push(pushes(&evs));
                }
                Frame::PollTimeout => {}
                other => panic!("expected a push, got {other:?}"),
            }
        }
        batches
    }
}

/// Waits (up to 10 s) until `cond` holds.
pub async fn eventually(mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn counter(n: &AtomicUsize) -> usize {
    n.load(Ordering::SeqCst)
}
