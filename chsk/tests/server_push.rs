//! Pushes: to a user's every client (both transports), to one client, to all; FIFO order,
//! batching windows and flushes; frames bounded in bytes; pushes through an adapter.
#![allow(clippy::unwrap_used)]

mod support;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use chsk::{
    protocol::{EventFrame, Frame},
    server::{
        adapter::{Adapter, LocalNode, NodeHandle},
        Flush, Limits, PushError, PushOptions, Target, Timings,
    },
    Codec, Event,
};
use support::*;

#[tokio::test(start_paused = true)]
async fn push_to_user_reaches_every_client_on_both_transports() {
    let server = server();
    let mut ws1 = open(&server, "client-id=w1&uid=alice").await;
    let mut ws2 = open(&server, "client-id=w2&uid=alice").await;
    let ajax = server.ajax_mem("client-id=a1&uid=alice");
    ajax.handshake().await;
    let mut bob = open(&server, "client-id=b1&uid=bob").await;
    let n = server
        .send_to_user("alice", TestPush::Text("hi".into()))
        .unwrap();
    assert_eq!(n, 3);
    let want = [TestPush::Text("hi".into())];
    assert_eq!(ws1.pushes(1).await.concat(), want);
    assert_eq!(ws2.pushes(1).await.concat(), want);
    assert_eq!(ajax_pushes(&ajax, 1).await.concat(), want);
    // Bob got nothing: his first push is the next one.
    server.send_to_user("bob", TestPush::Seq(2)).unwrap();
    assert_eq!(bob.pushes(1).await.concat(), [TestPush::Seq(2)]);
}

#[tokio::test(start_paused = true)]
async fn push_to_one_client_and_to_all() {
    let server = server();
    let mut a = open(&server, "client-id=a&uid=alice").await;
    let mut b = open(&server, "client-id=b&uid=alice").await;
    let mut anon = open(&server, "client-id=c").await;
    let poll = server.ajax_mem("client-id=d");
    poll.handshake().await;
    assert_eq!(server.send_to_client("b", TestPush::Seq(1)).unwrap(), 1);
    assert_eq!(server.send_to_all(TestPush::Seq(2)).unwrap(), 4);
    assert_eq!(a.pushes(1).await.concat(), [TestPush::Seq(2)]);
    assert_eq!(
        b.pushes(2).await.concat(),
        [TestPush::Seq(1), TestPush::Seq(2)]
    );
    assert_eq!(anon.pushes(1).await.concat(), [TestPush::Seq(2)]);
    assert_eq!(ajax_pushes(&poll, 1).await.concat(), [TestPush::Seq(2)]);
}

#[tokio::test(start_paused = true)]
async fn handler_can_broadcast() {
    let server = server();
    let mut a = open(&server, "client-id=a").await;
    let mut b = open(&server, "client-id=b").await;
    a.send(&event(TestEvent::Shout("all hands".into())));
    let want = [TestPush::Text("all hands".into())];
    assert_eq!(a.pushes(1).await.concat(), want);
    assert_eq!(b.pushes(1).await.concat(), want);
}

#[tokio::test(start_paused = true)]
async fn undeliverable_pushes_reach_zero_and_are_counted() {
    let server = server();
    assert_eq!(server.send_to_user("nobody", TestPush::Seq(1)), Ok(0));
    assert_eq!(server.send_to_client("ghost", TestPush::Seq(1)), Ok(0));
    assert_eq!(server.send_to_all(TestPush::Seq(1)), Ok(0));
    assert_eq!(server.metrics().pushes_undeliverable, 3);
}

#[tokio::test(start_paused = true)]
async fn a_thousand_pushes_arrive_in_order_across_targets() {
    let server = server();
    let mut ws = open(&server, "client-id=w&uid=alice").await;
    let ajax = server.ajax_mem("client-id=a&uid=alice");
    ajax.handshake().await;
    for i in 0..1000u32 {
        let ev = TestPush::Seq(i);
        match i % 10 {
            3 => server.send_to_all(ev).unwrap(),
            5 => server
                .push(Target::User("alice".into()), ev, Flush::Now)
                .unwrap(),
            _ => server.send_to_user("alice", ev).unwrap(),
        };
    }
    let want: Vec<TestPush> = (0..1000).map(TestPush::Seq).collect();
    assert_eq!(ws.pushes(1000).await.concat(), want);
    assert_eq!(ajax_pushes(&ajax, 1000).await.concat(), want);
}

#[tokio::test(start_paused = true)]
async fn a_burst_is_coalesced_behind_the_frame_in_flight_and_flush_now_is_at_once() {
    let server = server();
    let mut c = open(&server, "client-id=a&uid=alice").await;
    let start = tokio::time::Instant::now();
    for n in 0..3 {
        server.send_to_user("alice", TestPush::Seq(n)).unwrap();
    }
    // The first push goes out at once; the two made while it was being written follow as one
    // frame as soon as it is written, not when a window closes.
    assert_eq!(
        c.pushes(3).await,
        [
            vec![TestPush::Seq(0)],
            vec![TestPush::Seq(1), TestPush::Seq(2)]
        ]
    );
    assert_eq!(start.elapsed(), Duration::ZERO, "no window waited for");
    // `Flush::Now` sends what was gathered behind the frame in flight at once, with the
    // flushed event last, as one frame.
    for i in 3..10 {
        server.send_to_user("alice", TestPush::Seq(i)).unwrap();
    }
    server
        .push(Target::User("alice".into()), TestPush::Seq(10), Flush::Now)
        .unwrap();
    assert_eq!(
        c.pushes(8).await,
        [vec![TestPush::Seq(3)], (4..11).map(TestPush::Seq).collect()]
    );
    // `flush()` sends whatever is gathered, at once.
    server.send_to_user("alice", TestPush::Seq(11)).unwrap();
    server.send_to_user("alice", TestPush::Seq(12)).unwrap();
    server.flush();
    assert_eq!(
        c.pushes(2).await,
        [[TestPush::Seq(11)], [TestPush::Seq(12)]]
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
    let m = server.metrics();
    assert_eq!((m.push_deliveries, m.pushes_written), (13, 13));
}

#[tokio::test(start_paused = true)]
async fn too_large_pushes_are_refused_with_a_reason() {
    let server = builder()
        .limits(Limits {
            max_send_frame_bytes: 64 << 10,
            ..Limits::default()
        })
        .build();
    let _c = open(&server, "client-id=big&uid=big").await;
    let too_big = TestPush::Text("x".repeat(70 << 10));
    match server.send_to_user("big", too_big) {
        Err(PushError::TooLarge { size, max, .. }) => assert!(size > max),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(server.metrics().pushes_too_large, 1);
}

/// A burst of 1 KB pushes to a client that reads, with frames of at most 64 KiB: it arrives
/// complete, in order, exactly once, in frames within the bound. The producer paces itself on
/// the server's queue gauge (as an app streaming more than `send_queue_bytes` to one client
/// must).
async fn burst_to_reader(flush: Flush) {
    const N: u32 = 20_000;
    let max = 64 << 10;
    let server = builder()
        .limits(Limits {
            max_send_frame_bytes: max,
            ..Limits::default()
        })
        .timings(Timings {
            ws_kalive: Duration::from_secs(3600),
            ..Timings::default()
        })
        .build();
    // A small buffer on the client's side: the server's writes wait for the reader.
    let mut ws = server
        .mem_request("client-id=reader&uid=reader")
        .capacity(16)
        .connect()
        .unwrap();
    ws.handshake().await;
    let reader = tokio::spawn(async move {
        let (mut seqs, mut largest) = (Vec::new(), 0);
        while seqs.len() < N as usize {
            let Some(chsk::server::mount::WsMessage::Binary(bytes)) = ws.recv().await else {
                break;
            };
            largest = largest.max(bytes.len());
            if let Frame::Push(runs) = Codec::Postcard.decode_frame(&bytes).unwrap() {
                seqs.extend(support::seqs(&support::events(runs)));
            }
        }
        (seqs, largest)
    });
    for seq in 0..N {
        if let Err(e) = server.push(Target::User("reader".into()), blob(seq), flush) {
            panic!("push {seq}: {e}; {:?}", server.metrics());
        }
        if seq % 256 == 255 {
            eventually(|| server.metrics().queued_bytes <= 128 << 10).await;
        }
    }
    server.flush();
    let (seqs, largest) = reader.await.unwrap();
    assert!(
        seqs.iter().copied().eq(0..N),
        "every push, in order, exactly once"
    );
    assert!(largest <= max, "largest frame {largest} > {max}");
    let m = server.metrics();
    assert_eq!(m.pushes_written, u64::from(N), "{m:?}");
    assert_eq!(m.pushes_dropped(), 0, "{m:?}");
}

#[tokio::test(start_paused = true)]
async fn a_batched_burst_arrives_complete_in_order_in_bounded_frames() {
    burst_to_reader(Flush::Batched).await;
}

#[tokio::test(start_paused = true)]
async fn a_flush_now_burst_arrives_complete_in_order_in_bounded_frames() {
    burst_to_reader(Flush::Now).await;
}

/// An adapter that counts pushes and delivers them locally, as a cluster adapter would after
/// publishing them.
#[derive(Debug, Default)]
struct Counting {
    pushes: AtomicUsize,
    node: Mutex<Option<NodeHandle>>,
}

#[derive(Debug)]
struct Shared(Arc<Counting>);

impl Adapter for Shared {
    fn push(
        &self,
        node: LocalNode<'_>,
        target: Target,
        event: EventFrame,
        options: PushOptions,
    ) -> Result<usize, PushError> {
        self.0.pushes.fetch_add(1, Ordering::SeqCst);
        node.deliver(target, event, options)
    }

    fn attach(&self, node: NodeHandle) {
        *self.0.node.lock().unwrap() = Some(node);
    }
}

#[tokio::test(start_paused = true)]
async fn pushes_go_through_the_adapter() {
    let adapter = Arc::new(Counting::default());
    let server = builder().adapter(Shared(adapter.clone())).build();
    let mut ws = open(&server, "client-id=w&uid=hal").await;
    server.send_to_user("hal", TestPush::Seq(1)).unwrap();
    assert_eq!(adapter.pushes.load(Ordering::SeqCst), 1);
    // A push "from another process" arrives through the attached handle.
    let node = adapter.node.lock().unwrap().clone().unwrap();
    let frame = TestPush::Seq(2).to_frame(Codec::Postcard).unwrap();
    node.deliver(Target::User("hal".into()), frame, Flush::Now)
        .unwrap();
    assert_eq!(
        ws.pushes(2).await.concat(),
        [TestPush::Seq(1), TestPush::Seq(2)]
    );
}
