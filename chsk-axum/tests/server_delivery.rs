//! Bounded and accounted delivery on a real server over loopback, with clients that misbehave
//! the way real ones do: a client that stops reading, a burst of pushes, a slow reader, a
//! hostile deeply nested frame, many requests in flight, many Ajax handshakes with huge headers.
//!
//! Assertions are on what the clients received and on the server's accounting
//! ([`chsk::server::Metrics`]), never on timing.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use chsk::{
    codec::Payload,
    protocol::{EventFrame, Frame},
    server::{Flush, Limits, Metrics, PushError, Target, Timings},
    Codec, Ctx, Event, Server,
};
use common::{eventually, fast_timings, serve, TestServer, Ws};
use futures_util::{SinkExt, StreamExt};
use tokio::{net::TcpSocket, sync::Semaphore};
use tokio_tungstenite::tungstenite::{protocol::WebSocketConfig, Message};

#[chsk::events(ns = "load")]
#[derive(Debug, Clone, PartialEq)]
pub enum LoadPush {
    Blob { seq: u32, data: String },
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Node {
    children: Vec<Node>,
}

impl Node {
    fn count(&self) -> u32 {
        1 + self.children.iter().map(Node::count).sum::<u32>()
    }
}

#[chsk::events(ns = "d")]
#[derive(Debug, Clone)]
pub enum DEvent {
    /// A recursive payload type.
    #[reply(u32)]
    Tree(Node),
    /// The same, without a reply.
    Plant(Node),
    /// Waits for a permit of the state's semaphore; replies with the data's length.
    #[reply(u32)]
    Big(Vec<u8>),
    /// A reply far larger than a frame may be.
    #[reply(String)]
    Huge(u32),
    #[reply(String)]
    Echo(String),
}

#[derive(Debug)]
pub struct DState {
    gate: Arc<Semaphore>,
    started: AtomicUsize,
}

#[chsk::handler(DEvent::Tree)]
async fn tree(_cx: Ctx<DState>, node: Node) -> u32 {
    node.count()
}

#[chsk::handler(DEvent::Plant)]
async fn plant(_cx: Ctx<DState>, _node: Node) {}

#[chsk::handler(DEvent::Big)]
async fn big(cx: Ctx<DState>, data: Vec<u8>) -> u32 {
    cx.state().started.fetch_add(1, Ordering::SeqCst);
    let gate = cx.state().gate.clone();
    let _permit = gate.acquire().await;
    data.len() as u32
}

#[chsk::handler(DEvent::Huge)]
async fn huge(_cx: Ctx<DState>, len: u32) -> String {
    "x".repeat(len as usize)
}

#[chsk::handler(DEvent::Echo)]
async fn echo(_cx: Ctx<DState>, text: String) -> String {
    text
}

/// Test timings with a keep-alive longer than any test: the raw clients here do not answer
/// the server's `Ping`.
fn timings() -> Timings {
    Timings {
        ws_kalive: Duration::from_secs(300),
        ..fast_timings()
    }
}

fn server(limits: Limits, timings: Timings) -> (Server, Arc<Semaphore>) {
    let gate = Arc::new(Semaphore::new(0));
    let server = Server::builder(DState {
        gate: gate.clone(),
        started: AtomicUsize::new(0),
    })
    .handler(tree)
    .handler(plant)
    .handler(big)
    .handler(huge)
    .handler(echo)
    .user_id(|req, _| req.query("uid").map(str::to_owned))
    .skip_csrf_check()
    .timings(timings)
    .limits(limits)
    .build();
    (server, gate)
}

fn blob(seq: u32) -> LoadPush {
    LoadPush::Blob {
        seq,
        data: "p".repeat(1000),
    }
}

fn request(reply_id: u32, ev: DEvent) -> Frame {
    Frame::Request {
        reply_id,
        event: ev.to_frame(Codec::Postcard).unwrap(),
    }
}

/// `push_deliveries == pushes_written + pushes_dropped()` (every push accounted for).
fn balanced(m: &Metrics) -> bool {
    m.push_deliveries == m.pushes_written + m.pushes_dropped()
}

/// A WebSocket client whose socket receive buffer is small, so a server writing to it stalls
/// as soon as the client stops reading.
async fn tight_ws(ts: &TestServer, query: &str) -> Ws {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(ts.addr).await.unwrap();
    let config = WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let (socket, _) = tokio_tungstenite::client_async_with_config(
        ts.ws_url(query),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
        Some(config),
    )
    .await
    .unwrap();
    Ws {
        socket,
        codec: Codec::Postcard,
    }
}

/// Reads every push until the server closes; returns the sequence numbers in arrival order and
/// the largest message seen. `pause` is slept after each message (a slow reader).
async fn read_all(ws: &mut Ws, pause: Duration) -> (Vec<u32>, usize) {
    read_until(ws, pause, usize::MAX).await
}

/// [`read_all`], stopping once `n` pushes arrived.
async fn read_until(ws: &mut Ws, pause: Duration, n: usize) -> (Vec<u32>, usize) {
    let mut seqs = Vec::new();
    let mut largest = 0;
    while seqs.len() < n {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.socket.next())
            .await
            .expect("a message within 20 s");
        let bytes = match msg {
            Some(Ok(Message::Binary(b))) => b,
            Some(Ok(Message::Close(_))) | None => return (seqs, largest),
            Some(Err(e)) => {
                eprintln!("read_all: {e} after {} pushes", seqs.len());
                return (seqs, largest);
            }
            Some(Ok(_)) => continue,
        };
        largest = largest.max(bytes.len());
        match Codec::Postcard.decode_frame(&bytes).unwrap() {
            Frame::Push(events) => {
                for e in events {
                    let LoadPush::Blob { seq, .. } =
                        LoadPush::from_frame(&e, Codec::Postcard).unwrap();
                    seqs.push(seq);
                }
            }
            Frame::Close { .. } => {}
            Frame::Ping => {}
            other => panic!("unexpected {other:?}"),
        }
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    (seqs, largest)
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_and_freed() {
    let timings = Timings {
        write_timeout: Duration::from_millis(800),
        ws_grace: Duration::from_millis(200),
        ..timings()
    };
    // A queue large enough that the write deadline, not the queue bound, ends the connection.
    let limits = Limits {
        send_queue: 1 << 20,
        send_queue_bytes: 1 << 30,
        ..Limits::default()
    };
    let (server, _gate) = server(limits, timings);
    let mut presence = server.presence_events();
    let ts = serve(server.clone()).await;
    let mut ws = tight_ws(&ts, "client-id=frozen&uid=frozen").await;
    ws.handshake().await;
    // Requests whose replies flow back, then the client stops reading for good.
    for i in 0..8 {
        ws.send(&request(i, DEvent::Huge(200_000))).await;
    }
    eventually(|| server.connected_uids().any.contains("frozen")).await;
    let mut pushed = 0u64;
    // Push until the server gives up on the connection (at most 200 MB).
    while pushed < 200_000 && server.metrics().write_timeouts == 0 {
        for _ in 0..1000 {
            let reached = server
                .push(
                    Target::User("frozen".into()),
                    blob(pushed as u32),
                    Flush::Now,
                )
                .expect("a valid push");
            if reached > 0 {
                pushed += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eventually(|| server.metrics().ws_closed == 1).await;
    // The connection is unregistered at once; its accounting completes when its socket is
    // closed (the `Close` frame gets one more second).
    eventually(|| balanced(&server.metrics())).await;
    let m = server.metrics();
    assert_eq!(m.write_timeouts, 1, "{m:?}");
    assert!(m.pushes_dropped_write_timeout > 0, "{m:?}");
    assert_eq!(m.push_deliveries, pushed, "{m:?}");
    assert!(balanced(&m), "{m:?}");
    assert_eq!(m.queued_bytes, 0, "the queue was freed: {m:?}");
    // The user's presence closes after the grace period.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(chsk::server::PresenceEvent::UidPortClose(uid)) = presence.recv().await {
                if uid == "frozen" {
                    return;
                }
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "presence closed");
    assert!(!server.connected_uids().any.contains("frozen"));
    drop(ws);
}

/// A 100,000 × 1 KiB burst to a client that reads. The producer paces itself on the server's
/// queue gauge (as an app streaming more than `send_queue_bytes` to one client must): it
/// pushes 256 events at a time and waits while more than 128 KiB are queued.
async fn burst_to_reader(flush: Flush) {
    const N: u32 = 100_000;
    let limits = Limits::default();
    let max = limits.max_send_frame_bytes;
    // Low enough for `Flush::Now`, where every push is a frame of its own and the queue also
    // holds at most `send_queue` frames.
    let high_water = 128 << 10;
    let (server, _gate) = server(limits, timings());
    let ts = serve(server.clone()).await;
    let mut ws = ts.ws("client-id=reader&uid=reader").await;
    ws.handshake().await;
    eventually(|| server.connected_uids().any.contains("reader")).await;
    let reader = tokio::spawn(async move {
        let mut seqs = Vec::new();
        let mut largest = 0;
        while seqs.len() < N as usize {
            let Some(Ok(msg)) = ws.socket.next().await else {
                break;
            };
            let Message::Binary(bytes) = msg else {
                continue;
            };
            largest = largest.max(bytes.len());
            if let Frame::Push(events) = Codec::Postcard.decode_frame(&bytes).unwrap() {
                for e in events {
                    let LoadPush::Blob { seq, .. } =
                        LoadPush::from_frame(&e, Codec::Postcard).unwrap();
                    seqs.push(seq);
                }
            }
        }
        (seqs, largest)
    });
    for seq in 0..N {
        if let Err(e) = server.push(Target::User("reader".into()), blob(seq), flush) {
            panic!("push {seq}: {e}; {:?}", server.metrics());
        }
        if seq % 256 == 255 {
            while server.metrics().queued_bytes > high_water {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    server.flush();
    let (seqs, largest) = tokio::time::timeout(Duration::from_secs(120), reader)
        .await
        .expect("the burst arrives")
        .unwrap();
    assert_eq!(seqs.len(), N as usize);
    assert!(
        seqs.iter().copied().eq(0..N),
        "every push, in order, exactly once"
    );
    assert!(largest <= max, "largest frame {largest} > {max}");
    let m = server.metrics();
    assert_eq!(m.pushes_written, u64::from(N), "{m:?}");
    assert_eq!(m.pushes_dropped(), 0, "{m:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batched_burst_arrives_complete_in_order_in_bounded_frames() {
    burst_to_reader(Flush::Batched).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_now_burst_arrives_complete_in_order_in_bounded_frames() {
    burst_to_reader(Flush::Now).await;
}

#[tokio::test]
async fn a_burst_to_a_client_that_does_not_read_closes_it_with_bounded_memory() {
    let limits = Limits::default();
    let bound = limits.send_queue_bytes + limits.max_send_frame_bytes;
    let (server, _gate) = server(limits, timings());
    let ts = serve(server.clone()).await;
    let mut ws = tight_ws(&ts, "client-id=stuck&uid=stuck").await;
    ws.handshake().await;
    eventually(|| server.connected_uids().any.contains("stuck")).await;
    let mut peak = 0;
    let mut pushed = 0u64;
    for round in 0..100u32 {
        for i in 0..1000u32 {
            let seq = round * 1000 + i;
            for flush in [Flush::Batched, Flush::Now] {
                let reached = server
                    .push(Target::User("stuck".into()), blob(seq), flush)
                    .expect("a valid push");
                if reached > 0 {
                    pushed += 1;
                }
            }
            peak = peak.max(server.metrics().queued_bytes);
        }
        tokio::task::yield_now().await;
    }
    server.flush();
    assert!(peak <= bound as u64, "queued {peak} > {bound}");
    eventually(|| server.metrics().ws_closed == 1).await;
    eventually(|| balanced(&server.metrics())).await;
    let m = server.metrics();
    assert_eq!(m.slow_consumer_closes, 1, "{m:?}");
    assert!(m.pushes_dropped_slow_consumer > 0, "{m:?}");
    assert!(m.push_deliveries <= pushed, "{m:?}");
    assert!(balanced(&m), "{m:?}");
    assert_eq!(m.queued_bytes, 0, "{m:?}");
    drop(ws);
}

/// A WebSocket burst read by a fast and by a slow client: what they received plus what the
/// server counted as dropped is exactly what was pushed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_bursts_are_accounted_exactly() {
    const N: u32 = 20_000;
    let limits = Limits {
        send_queue_bytes: 1 << 20,
        ..Limits::default()
    };
    let (server, _gate) = server(limits, timings());
    let ts = serve(server.clone()).await;
    let mut fast = ts.ws("client-id=fast&uid=u").await;
    fast.handshake().await;
    let mut slow = tight_ws(&ts, "client-id=slow&uid=u").await;
    slow.handshake().await;
    eventually(|| server.metrics().ws_opened == 2).await;
    let fast = tokio::spawn(async move {
        let seqs = read_until(&mut fast, Duration::ZERO, N as usize).await.0;
        // Then the fast client leaves.
        let _ = fast.socket.close(None).await;
        seqs
    });
    let slow = tokio::spawn(async move { read_all(&mut slow, Duration::from_millis(2)).await.0 });
    for seq in 0..N {
        let flush = if seq % 2 == 0 {
            Flush::Now
        } else {
            Flush::Batched
        };
        server
            .push(Target::User("u".into()), blob(seq), flush)
            .unwrap();
        if seq % 16 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    server.flush();
    // The fast client leaves once it has everything; the slow one is closed by the server.
    let fast = fast.await.unwrap();
    let slow = slow.await.unwrap();
    eventually(|| server.metrics().ws_closed == 2).await;
    eventually(|| balanced(&server.metrics())).await;
    let m = server.metrics();
    assert!(fast.iter().copied().eq(0..N), "the fast client got all");
    assert!(
        slow.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicate"
    );
    let received = (fast.len() + slow.len()) as u64;
    // Every push reached the fast client; the slow one until it was closed. Each of those
    // deliveries was received by its client or counted as dropped, exactly.
    let to_slow = m.push_deliveries - u64::from(N);
    assert!(to_slow >= slow.len() as u64, "{m:?}");
    assert_eq!(
        m.pushes_written,
        received,
        "fast {} slow {}: {m:?}",
        fast.len(),
        slow.len()
    );
    assert_eq!(received + m.pushes_dropped(), m.push_deliveries, "{m:?}");
    assert_eq!(m.pushes_dropped(), to_slow - slow.len() as u64, "{m:?}");
    assert!(m.pushes_dropped_slow_consumer > 0, "{m:?}");
    assert_eq!(m.pushes_undeliverable, 0, "{m:?}");
}

/// The same over Ajax: a client that polls promptly and one that stops polling.
#[tokio::test]
async fn ajax_bursts_are_accounted_exactly() {
    const N: u32 = 5_000;
    let limits = Limits {
        send_queue: 32,
        send_queue_bytes: 128 << 10,
        ..Limits::default()
    };
    let (server, _gate) = server(limits, timings());
    let ts = serve(server.clone()).await;
    let fast = ts.ajax("client-id=afast&uid=a");
    fast.handshake().await;
    let lazy = ts.ajax("client-id=alazy&uid=a");
    lazy.handshake().await;
    let reader = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while seqs.len() < N as usize {
            match fast.get_frame("").await {
                Frame::Push(events) => {
                    for e in events {
                        let LoadPush::Blob { seq, .. } =
                            LoadPush::from_frame(&e, Codec::Postcard).unwrap();
                        seqs.push(seq);
                    }
                }
                Frame::PollTimeout => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        seqs
    });
    for seq in 0..N {
        let flush = if seq % 3 == 0 {
            Flush::Now
        } else {
            Flush::Batched
        };
        server
            .push(Target::User("a".into()), blob(seq), flush)
            .unwrap();
        if seq % 16 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    server.flush();
    let got = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the fast Ajax client gets the burst")
        .unwrap();
    assert!(got.iter().copied().eq(0..N));
    // The lazy client's state is closed as a slow consumer; its poll learns why.
    eventually(|| server.metrics().slow_consumer_closes == 1).await;
    match lazy.get_frame("").await {
        Frame::Close { reason } => assert_eq!(reason, "slow consumer"),
        Frame::Handshake(_) => {}
        other => panic!("unexpected {other:?}"),
    }
    server.close(&Target::User("a".into()), "done");
    eventually(|| server.metrics().ajax_clients == 0).await;
    eventually(|| balanced(&server.metrics())).await;
    let m = server.metrics();
    // The fast client got every push; the lazy one's deliveries (until it was closed) were
    // all counted as dropped: nothing is unaccounted.
    assert_eq!(m.pushes_written, u64::from(N), "{m:?}");
    assert!(m.push_deliveries > u64::from(N), "{m:?}");
    assert_eq!(
        m.pushes_dropped(),
        m.push_deliveries - u64::from(N),
        "{m:?}"
    );
    assert_eq!(
        m.pushes_written + m.pushes_dropped(),
        m.push_deliveries,
        "{m:?}"
    );
    assert!(m.pushes_dropped_slow_consumer > 0, "{m:?}");
    assert_eq!(m.pushes_undeliverable, 0, "{m:?}");
}

/// Postcard bytes of a `Node` nested `depth` levels.
fn nested_node(depth: usize) -> Vec<u8> {
    let mut bytes = vec![1u8; depth];
    bytes.push(0);
    bytes
}

#[tokio::test]
async fn a_deeply_nested_frame_gets_an_error_and_the_server_keeps_serving() {
    let (server, _gate) = server(Limits::default(), timings());
    let ts = serve(server.clone()).await;
    let mut other = ts.ws("client-id=bystander").await;
    other.handshake().await;
    let deep = Payload(nested_node(13_000));
    let tree = |reply_id| Frame::Request {
        reply_id,
        event: EventFrame {
            id: "d/tree".into(),
            payload: deep.clone(),
        },
    };
    // WebSocket: a request gets an error reply, an event an `Error` frame.
    let mut ws = ts.ws("client-id=attacker").await;
    ws.handshake().await;
    ws.send(&tree(1)).await;
    let (id, err) = common::reply_err(ws.frame().await);
    assert_eq!(id, 1);
    assert!(err.contains("nesting too deep"), "{err}");
    ws.send(&Frame::Event(EventFrame {
        id: "d/plant".into(),
        payload: deep.clone(),
    }))
    .await;
    match ws.frame().await {
        Frame::Error { message } => assert!(message.contains("nesting too deep"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
    // Ajax: a request gets an error reply, an event `400` with the message.
    let ajax = ts.ajax("client-id=ajax-attacker");
    ajax.handshake().await;
    let (_, err) = common::reply_err(ajax.post_frame(&tree(2)).await);
    assert!(err.contains("nesting too deep"), "{err}");
    let (status, body) = ajax
        .post(&Frame::Event(EventFrame {
            id: "d/plant".into(),
            payload: deep,
        }))
        .await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("nesting too deep"));
    // A tree within the bound is served, and so is everybody else.
    ws.send(&request(
        3,
        DEvent::Tree(Node {
            children: vec![Node { children: vec![] }],
        }),
    ))
    .await;
    assert_eq!(common::reply_ok::<u32>(ws.frame().await), (3, 2));
    other
        .send(&request(4, DEvent::Echo("still here".into())))
        .await;
    assert_eq!(
        common::reply_ok::<String>(other.frame().await),
        (4, "still here".to_owned())
    );
}

#[tokio::test]
async fn ajax_bad_events_get_400_with_the_message() {
    let (server, _gate) = server(Limits::default(), timings());
    let ts = serve(server).await;
    let ajax = ts.ajax("client-id=bad");
    ajax.handshake().await;
    let (status, body) = ajax
        .post(&Frame::Event(EventFrame {
            id: "d/nope".into(),
            payload: Payload(vec![]),
        }))
        .await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("d/nope"));
    let (status, body) = ajax
        .post(&Frame::Event(EventFrame {
            id: "d/echo".into(),
            payload: Payload(vec![0xff, 0xff]),
        }))
        .await;
    assert_eq!(status, 400);
    assert!(!body.is_empty());
    // The same bad event over WebSocket gets an `Error` frame with a message.
    let mut ws = ts.ws("client-id=bad-ws").await;
    ws.handshake().await;
    ws.send(&Frame::Event(EventFrame {
        id: "d/nope".into(),
        payload: Payload(vec![]),
    }))
    .await;
    match ws.frame().await {
        Frame::Error { message } => assert!(message.contains("d/nope"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn requests_in_flight_are_bounded_per_connection() {
    let limits = Limits {
        max_frame_bytes: 2 << 20,
        ..Limits::default()
    };
    let max_bytes = limits.max_in_flight_bytes;
    let frame_max = limits.max_frame_bytes;
    let (server, gate) = server(limits, timings());
    let ts = serve(server.clone()).await;
    let (socket, _) = tokio_tungstenite::connect_async_with_config(
        ts.ws_url("client-id=greedy"),
        Some(
            WebSocketConfig::default()
                .max_message_size(Some(64 << 20))
                .max_frame_size(Some(64 << 20)),
        ),
        false,
    )
    .await
    .unwrap();
    let (mut tx, mut rx) = socket.split();
    async fn next_frame<S>(rx: &mut S) -> Frame
    where
        S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
            + Unpin,
    {
        let msg = tokio::time::timeout(Duration::from_secs(10), rx.next())
            .await
            .expect("a frame within 10 s");
        match msg {
            Some(Ok(Message::Binary(b))) => Codec::Postcard.decode_frame(&b).unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(matches!(next_frame(&mut rx).await, Frame::Handshake(_)));
    // 16 requests of 1 MiB each; the socket stops taking them once the server stops reading.
    let sender = tokio::spawn(async move {
        for i in 0..16 {
            let frame = request(i, DEvent::Big(vec![7; 1 << 20]));
            let bytes = Codec::Postcard.encode_frame(&frame).unwrap();
            tx.send(Message::Binary(bytes.into())).await.unwrap();
        }
        tx
    });
    // The server reads until its in-flight bound, then stops reading the socket.
    eventually(|| server.metrics().in_flight_bytes >= (max_bytes - frame_max) as u64).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = server.metrics();
    assert!(
        m.in_flight_bytes <= (max_bytes + frame_max) as u64,
        "in flight {} > {}",
        m.in_flight_bytes,
        max_bytes + frame_max
    );
    assert!(m.in_flight_bytes < 16 << 20, "{m:?}");
    // Releasing the handlers lets the rest in: every request gets its reply.
    gate.add_permits(16);
    let mut ids = Vec::new();
    for _ in 0..16 {
        let (id, len) = common::reply_ok::<u32>(next_frame(&mut rx).await);
        assert_eq!(len, 1 << 20);
        ids.push(id);
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..16).collect::<Vec<_>>());
    let _tx = sender.await.unwrap();
    eventually(|| server.metrics().in_flight_bytes == 0).await;
}

#[tokio::test]
async fn ajax_states_and_kept_requests_are_bounded() {
    let limits = Limits {
        max_ajax_clients: 1_500,
        ..Limits::default()
    };
    let max_kept = limits.max_kept_request_bytes;
    // States live long enough that all 2,000 handshakes overlap.
    let timings = Timings {
        ajax_grace: Duration::from_secs(120),
        ..timings()
    };
    let (server, _gate) = server(limits, timings);
    let ts = serve(server.clone()).await;
    let http = reqwest::Client::new();
    let junk = "j".repeat(200_000);
    let mut refused = 0;
    for i in 0..2_000 {
        let resp = http
            .get(ts.http_url(&format!("client-id=c{i}&handshake=1")))
            .header("x-junk", &junk)
            .send()
            .await
            .unwrap();
        match resp.status().as_u16() {
            200 => {}
            503 => {
                refused += 1;
                assert_eq!(resp.text().await.unwrap(), "too many clients");
            }
            other => panic!("status {other}"),
        }
    }
    let m = server.metrics();
    assert_eq!(refused, 500);
    assert_eq!(m.ajax_clients, 1_500, "{m:?}");
    assert_eq!(m.ajax_clients_refused, 500, "{m:?}");
    // Nothing of the 200 KB header is kept: only the URI (and headers the app asked for).
    assert!(
        m.kept_request_bytes <= 1_500 * max_kept as u64,
        "kept {} bytes",
        m.kept_request_bytes
    );
    assert!(
        m.kept_request_bytes <= 1_500 * 200,
        "kept {} bytes",
        m.kept_request_bytes
    );
}

#[tokio::test]
async fn too_large_pushes_and_replies_are_refused_with_a_reason() {
    let limits = Limits {
        max_send_frame_bytes: 64 << 10,
        ..Limits::default()
    };
    let (server, _gate) = server(limits, timings());
    let ts = serve(server.clone()).await;
    let mut ws = ts.ws("client-id=big&uid=big").await;
    ws.handshake().await;
    eventually(|| server.connected_uids().any.contains("big")).await;
    let too_big = LoadPush::Blob {
        seq: 0,
        data: "x".repeat(70 << 10),
    };
    match server.send_to_user("big", too_big) {
        Err(PushError::TooLarge { size, max, .. }) => assert!(size > max),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(server.metrics().pushes_too_large, 1);
    ws.send(&request(9, DEvent::Huge(100 << 10))).await;
    let (id, err) = common::reply_err(ws.frame().await);
    assert_eq!(id, 9);
    assert!(err.contains("more than a frame may hold"), "{err}");
    assert_eq!(server.metrics().replies_failed, 1);
}

#[tokio::test]
async fn a_client_close_gets_the_server_close_back() {
    use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
    let ts = common::start().await;
    let mut ws = ts.ws("client-id=polite").await;
    ws.handshake().await;
    ws.socket
        .close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .await
        .unwrap();
    // The server answers the closing handshake with its own Close (not a dropped socket).
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.socket.next())
            .await
            .expect("an answer within 10 s");
        match msg {
            Some(Ok(Message::Close(frame))) => {
                let frame = frame.expect("the server's Close has a code");
                assert_eq!(frame.code, CloseCode::Normal);
                break;
            }
            Some(Ok(_)) => {}
            other => panic!("the socket ended without the server's Close: {other:?}"),
        }
    }
}
