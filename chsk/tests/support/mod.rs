//! Shared fixtures of chsk's integration tests: the golden protocol samples, and a server with
//! events and handlers, reached through the in-memory transport (feature `test-util`, which the
//! dev-dependency of chsk on itself turns on) under tokio's paused clock.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    async_fn_in_trait,
    clippy::unwrap_used
)]

pub mod golden;
pub mod protocol;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use chsk::{
    protocol::{EventFrame, Frame, Handshake},
    server::{mount::WsMessage, MemAjax, MemClient, Metrics, PresenceEvent, ServerBuilder},
    Codec, Ctx, Event, Server,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, Semaphore};

/// A recursive payload type (hostile nesting).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Node {
    pub children: Vec<Node>,
}

impl Node {
    fn count(&self) -> u32 {
        1 + self.children.iter().map(Node::count).sum::<u32>()
    }
}

#[chsk::events(ns = "test")]
#[derive(Debug, Clone)]
pub enum TestEvent {
    /// Fire and forget: counted in the state.
    Note(String),
    #[reply(String)]
    Echo { text: String },
    /// Sleeps `ms` (on the paused clock: instantly, in order).
    #[reply(u64)]
    Slow { ms: u64 },
    #[reply(u32)]
    Boom,
    /// No handler is registered for this one.
    #[reply(u32)]
    Unhandled,
    /// The handler broadcasts a `TestPush::Text`.
    Shout(String),
    /// Counts the tree's nodes.
    #[reply(u32)]
    Tree(Node),
    /// The same, without a reply.
    Plant(Node),
    /// Waits for a permit of the state's gate; replies with the data's length.
    #[reply(u32)]
    Big(Vec<u8>),
    /// A reply of `n` bytes.
    #[reply(String)]
    Huge(u32),
}

#[chsk::events(ns = "test")]
#[derive(Debug, Clone, PartialEq)]
pub enum TestPush {
    Seq(u32),
    Text(String),
    Blob { seq: u32, data: String },
}

/// The handlers' state: shared counters the tests read.
#[derive(Debug, Clone)]
pub struct State {
    pub notes: Arc<AtomicUsize>,
    /// `Big` waits for a permit (none at first).
    pub gate: Arc<Semaphore>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            notes: Arc::default(),
            gate: Arc::new(Semaphore::new(0)),
        }
    }
}

impl State {
    pub fn notes(&self) -> usize {
        self.notes.load(Ordering::SeqCst)
    }
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

#[chsk::handler(TestEvent::Tree)]
async fn tree(node: Node) -> u32 {
    node.count()
}

#[chsk::handler(TestEvent::Plant)]
async fn plant(_node: Node) {}

#[chsk::handler(TestEvent::Big)]
async fn big(cx: Ctx<State>, data: Vec<u8>) -> u32 {
    let gate = cx.state().gate.clone();
    let _permit = gate.acquire().await;
    data.len() as u32
}

#[chsk::handler(TestEvent::Huge)]
async fn huge(n: u32) -> String {
    "x".repeat(n as usize)
}

/// The `echo` handler, for builders that register handlers themselves.
pub fn echo_handler() -> impl chsk::handler::IntoHandler<
    State,
    Handler = impl chsk::Handler<State, Variant = test_event::Echo>,
> {
    echo
}

/// Every handler but `Unhandled`, user id from `?uid=`, CSRF skipped, default timings and
/// limits (the clock is paused: real durations cost nothing).
pub fn builder_with(state: State) -> ServerBuilder<TestEvent, State> {
    Server::builder(state)
        .handler(note)
        .handler(echo)
        .handler(slow)
        .handler(boom)
        .handler(shout)
        .handler(tree)
        .handler(plant)
        .handler(big)
        .handler(huge)
        .user_id(|req, _client_id| req.query("uid").map(str::to_owned))
        .skip_csrf_check()
}

pub fn builder() -> ServerBuilder<TestEvent, State> {
    builder_with(State::default())
}

pub fn server() -> Server {
    builder().build()
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

/// A raw event frame (any id, any payload bytes).
pub fn raw_event(id: &'static str, payload: Vec<u8>) -> EventFrame {
    EventFrame {
        id: id.into(),
        payload: chsk::Payload(payload),
    }
}

/// A 1 KB push.
pub fn blob(seq: u32) -> TestPush {
    TestPush::Blob {
        seq,
        data: "p".repeat(1000),
    }
}

/// Decodes the events of a push batch.
/// The events of a `Push` frame's runs, in order.
pub fn events(runs: Vec<chsk::protocol::PushRun>) -> Vec<EventFrame> {
    runs.into_iter().flat_map(|r| r.events).collect()
}

pub fn pushes(frames: &[EventFrame]) -> Vec<TestPush> {
    frames
        .iter()
        .map(|f| TestPush::from_frame(f, Codec::Postcard).unwrap())
        .collect()
}

/// The sequence numbers of a push batch (`Seq` or `Blob`).
pub fn seqs(frames: &[EventFrame]) -> Vec<u32> {
    pushes(frames)
        .into_iter()
        .map(|p| match p {
            TestPush::Seq(n) | TestPush::Blob { seq: n, .. } => n,
            TestPush::Text(t) => panic!("expected a numbered push, got {t:?}"),
        })
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

/// Opens an in-memory WebSocket and reads its handshake.
/// A client that must keep working whatever the others do: it opens and gets its reply.
pub async fn still_works(server: &Server) {
    let mut c = open(server, "client-id=bystander&uid=zed").await;
    c.send(&request(1, TestEvent::Echo { text: "ok".into() }));
    assert_eq!(
        reply_ok::<String>(c.next().await),
        (1, "ok from zed".into())
    );
}

pub async fn open(server: &Server, query: &str) -> MemClient {
    open_hs(server, query).await.0
}

pub async fn open_hs(server: &Server, query: &str) -> (MemClient, Handshake) {
    let mut client = server.connect_mem(query).unwrap();
    let hs = client.handshake().await;
    (client, hs)
}

/// Reading a WebSocket in tests.
pub trait WsExt {
    /// The next frame; panics at a close.
    async fn next(&mut self) -> Frame;
    async fn handshake(&mut self) -> Handshake;
    /// Skips frames until the socket closes: the `Close` frame's reason and the close code.
    async fn closed(&mut self) -> (Option<String>, Option<u16>);
    /// Push batches until `n` events arrived (pings skipped).
    async fn pushes(&mut self, n: usize) -> Vec<Vec<TestPush>>;
}

impl WsExt for MemClient {
    async fn next(&mut self) -> Frame {
        match self.recv().await {
            Some(WsMessage::Binary(b) | WsMessage::Text(b)) => {
                Codec::Postcard.decode_frame(&b).expect("a valid frame")
            }
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    async fn handshake(&mut self) -> Handshake {
        match self.next().await {
            Frame::Handshake(h) => h,
            other => panic!("expected a handshake, got {other:?}"),
        }
    }

    async fn closed(&mut self) -> (Option<String>, Option<u16>) {
        let mut reason = None;
        loop {
            match self.recv().await {
                Some(WsMessage::Binary(b)) => {
                    if let Frame::Close { reason: r } = Codec::Postcard.decode_frame(&b).unwrap() {
                        reason = Some(r);
                    }
                }
                Some(WsMessage::Close(code, _)) => return (reason, Some(code)),
                None => return (reason, None),
                Some(other) => panic!("unexpected {other:?}"),
            }
        }
    }

    async fn pushes(&mut self, n: usize) -> Vec<Vec<TestPush>> {
        let mut batches = Vec::new();
        let mut count = 0;
        while count < n {
            match self.next().await {
                Frame::Push(runs) => {
                    let evs = events(runs);
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

/// Polls until `n` pushed events arrived; returns the batches.
pub async fn ajax_pushes(ajax: &MemAjax, n: usize) -> Vec<Vec<TestPush>> {
    let mut batches = Vec::new();
    let mut count = 0;
    while count < n {
        match ajax.poll().await {
            Frame::Push(runs) => {
                let evs = events(runs);
                count += evs.len();
                batches.push(pushes(&evs));
            }
            Frame::PollTimeout => {}
            other => panic!("expected a push, got {other:?}"),
        }
    }
    batches
}

/// Waits until `cond` holds, checking whenever every task is idle: on the paused clock the
/// runtime advances time only when no task can run, so this awaits what the other tasks do
/// (panics after a minute of virtual time).
pub async fn eventually(mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within a minute"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The next presence event.
pub async fn presence(rx: &mut broadcast::Receiver<PresenceEvent>) -> PresenceEvent {
    rx.recv().await.expect("a presence event")
}

/// `push_deliveries == pushes_written + pushes_dropped()`: every push accounted for.
pub fn balanced(m: &Metrics) -> bool {
    m.push_deliveries == m.pushes_written + m.pushes_dropped()
}
