//! Pushes: to a user's every client (both transports), to one client, to all; FIFO order,
//! batching and flush; undeliverable pushes reach 0 connections and are counted; slow
//! consumers are closed.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use chsk::server::{Flush, Limits, PushError, Target, Timings};
use common::*;

#[tokio::test]
async fn push_to_user_reaches_every_client_on_both_transports() {
    let t = start().await;
    let mut ws1 = t.ws("client-id=w1&uid=alice").await;
    let mut ws2 = t.ws("client-id=w2&uid=alice").await;
    let ajax = t.ajax("client-id=a1&uid=alice");
    let mut bob = t.ws("client-id=b1&uid=bob").await;
    ws1.handshake().await;
    ws2.handshake().await;
    ajax.handshake().await;
    bob.handshake().await;
    let n = t
        .server
        .send_to_user("alice", TestPush::Text("hi".into()))
        .unwrap();
    assert_eq!(n, 3);
    let want = vec![TestPush::Text("hi".into())];
    assert_eq!(ws1.pushes(1).await.concat(), want);
    assert_eq!(ws2.pushes(1).await.concat(), want);
    assert_eq!(ajax.pushes(1).await.concat(), want);
    // Bob got nothing: his first push is the next one.
    t.server.send_to_user("bob", TestPush::Seq(2)).unwrap();
    assert_eq!(bob.pushes(1).await.concat(), vec![TestPush::Seq(2)]);
}

#[tokio::test]
async fn push_to_one_client_and_to_all() {
    let t = start().await;
    let mut a = t.ws("client-id=a&uid=alice").await;
    let mut b = t.ws("client-id=b&uid=alice").await;
    let mut anon = t.ws("client-id=c").await;
    let poll = t.ajax("client-id=d");
    a.handshake().await;
    b.handshake().await;
    anon.handshake().await;
    poll.handshake().await;
    assert_eq!(t.server.send_to_client("b", TestPush::Seq(1)).unwrap(), 1);
    assert_eq!(t.server.send_to_all(TestPush::Seq(2)).unwrap(), 4);
    assert_eq!(a.pushes(1).await.concat(), vec![TestPush::Seq(2)]);
    assert_eq!(
        b.pushes(2).await.concat(),
        vec![TestPush::Seq(1), TestPush::Seq(2)]
    );
    assert_eq!(anon.pushes(1).await.concat(), vec![TestPush::Seq(2)]);
    assert_eq!(poll.pushes(1).await.concat(), vec![TestPush::Seq(2)]);
}

#[tokio::test]
async fn handler_can_broadcast() {
    let t = start().await;
    let mut a = t.ws("client-id=a").await;
    let mut b = t.ws("client-id=b").await;
    a.handshake().await;
    b.handshake().await;
    a.send(&event(TestEvent::Shout("all hands".into()))).await;
    let want = vec![TestPush::Text("all hands".into())];
    assert_eq!(a.pushes(1).await.concat(), want);
    assert_eq!(b.pushes(1).await.concat(), want);
}

#[tokio::test]
async fn undeliverable_pushes_reach_zero_and_are_counted() {
    let t = start().await;
    assert_eq!(t.server.send_to_user("nobody", TestPush::Seq(1)), Ok(0));
    assert_eq!(t.server.send_to_client("ghost", TestPush::Seq(1)), Ok(0));
    assert_eq!(t.server.send_to_all(TestPush::Seq(1)), Ok(0));
    assert_eq!(t.server.metrics().pushes_undeliverable, 3);
}

#[tokio::test]
async fn a_thousand_pushes_arrive_in_order_across_targets() {
    let t = start().await;
    let mut ws = t.ws("client-id=w&uid=alice").await;
    let ajax = t.ajax("client-id=a&uid=alice");
    ws.handshake().await;
    ajax.handshake().await;
    for i in 0..1000u32 {
        let ev = TestPush::Seq(i);
        match i % 10 {
            3 => t.server.send_to_all(ev).unwrap(),
            5 => t
                .server
                .push(Target::User("alice".into()), ev, Flush::Now)
                .unwrap(),
            _ => t.server.send_to_user("alice", ev).unwrap(),
        };
    }
    let want: Vec<TestPush> = (0..1000).map(TestPush::Seq).collect();
    assert_eq!(ws.pushes(1000).await.concat(), want);
    assert_eq!(ajax.pushes(1000).await.concat(), want);
}

#[tokio::test]
async fn pushes_in_one_window_form_one_batch_and_flush_sends_at_once() {
    let server = builder()
        .timings(Timings {
            // A long window, so the batch cannot be split by a slow machine.
            send_buf_ws: Duration::from_secs(3),
            ..fast_timings()
        })
        .build();
    let t = serve(server).await;
    let mut ws = t.ws("client-id=w&uid=alice").await;
    ws.handshake().await;
    for i in 0..10 {
        t.server.send_to_user("alice", TestPush::Seq(i)).unwrap();
    }
    // The flush pushes the whole batch, with the flushed event last, as one frame.
    t.server
        .push(Target::User("alice".into()), TestPush::Seq(10), Flush::Now)
        .unwrap();
    let batches = ws.pushes(11).await;
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0], (0..11).map(TestPush::Seq).collect::<Vec<_>>());
    // `flush()` sends whatever is batched.
    t.server.send_to_user("alice", TestPush::Seq(11)).unwrap();
    t.server.send_to_user("alice", TestPush::Seq(12)).unwrap();
    t.server.flush();
    let batches = ws.pushes(2).await;
    assert_eq!(batches, vec![vec![TestPush::Seq(11), TestPush::Seq(12)]]);
}

#[tokio::test]
async fn slow_consumer_is_closed_and_counted_and_others_keep_working() {
    let server = builder()
        .limits(Limits {
            send_queue: 4,
            max_frame_bytes: 64 * 1024,
            ..Limits::default()
        })
        .build();
    let t = serve(server).await;
    let mut stuck = t.ws("client-id=stuck&uid=slow").await;
    stuck.handshake().await;
    let mut fine = t.ws("client-id=fine&uid=fast").await;
    fine.handshake().await;
    // The stuck client never reads: the socket buffers fill, then its queue.
    let big = "x".repeat(256 * 1024);
    let mut i = 0;
    while t.server.metrics().slow_consumer_closes == 0 {
        assert!(i < 10_000, "the slow consumer was never closed");
        t.server
            .push(
                Target::User("slow".into()),
                TestPush::Text(big.clone()),
                Flush::Now,
            )
            .expect("a valid push");
        i += 1;
        if i % 8 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert!(t.server.metrics().frames_dropped >= 1);
    fine.send(&request(1, TestEvent::Echo { text: "ok".into() }))
        .await;
    let (_, text): (u32, String) = reply_ok(fine.frame().await);
    assert_eq!(text, "ok from fast");
    // The stuck client's connection ends and leaves the registry.
    drop(stuck);
    eventually(|| t.server.send_to_user("slow", TestPush::Seq(0)) == Ok(0)).await;
    eventually(|| !t.server.connected_uids().ws.contains("slow")).await;
}

/// An adapter that counts pushes and delivers them locally, as a cluster adapter would after
/// publishing them.
#[derive(Debug, Default)]
struct Counting {
    pushes: std::sync::atomic::AtomicUsize,
    node: std::sync::Mutex<Option<chsk::server::adapter::NodeHandle>>,
}

#[derive(Debug)]
struct Shared(std::sync::Arc<Counting>);

impl chsk::server::adapter::Adapter for Shared {
    fn push(
        &self,
        node: chsk::server::adapter::LocalNode<'_>,
        target: Target,
        event: chsk::protocol::EventFrame,
        flush: Flush,
    ) -> Result<usize, PushError> {
        self.0
            .pushes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        node.deliver(target, event, flush)
    }

    fn attach(&self, node: chsk::server::adapter::NodeHandle) {
        *self.0.node.lock().unwrap() = Some(node);
    }
}

#[tokio::test]
async fn pushes_go_through_the_adapter() {
    let adapter = std::sync::Arc::new(Counting::default());
    let t = serve(builder().adapter(Shared(adapter.clone())).build()).await;
    let mut ws = t.ws("client-id=w&uid=hal").await;
    ws.handshake().await;
    t.server.send_to_user("hal", TestPush::Seq(1)).unwrap();
    assert_eq!(counter(&adapter.pushes), 1);
    // A push "from another process" arrives through the attached handle.
    let node = adapter.node.lock().unwrap().clone().unwrap();
    let frame = chsk::Event::to_frame(&TestPush::Seq(2), chsk::Codec::Postcard).unwrap();
    node.deliver(Target::User("hal".into()), frame, Flush::Now)
        .unwrap();
    assert_eq!(
        ws.pushes(2).await.concat(),
        vec![TestPush::Seq(1), TestPush::Seq(2)]
    );
}
