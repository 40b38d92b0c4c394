//! Ajax: handshake, long-poll, sends with and without a reply, timeouts, bad bodies.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{atomic::AtomicUsize, Arc};

use chsk::protocol::Frame;
use common::*;

#[tokio::test]
async fn handshake_then_poll_times_out_with_nothing_to_send() {
    let t = start().await;
    let ajax = t.ajax("client-id=ajax1&uid=alice");
    let hs = ajax.handshake().await;
    assert_eq!(hs.uid.as_deref(), Some("alice"));
    assert_eq!(hs.client_id, "ajax1");
    assert!(hs.first);
    assert_eq!(ajax.get_frame("").await, Frame::PollTimeout);
}

#[tokio::test]
async fn poll_without_state_gets_a_non_first_handshake() {
    let t = start().await;
    let ajax = t.ajax("client-id=ajax1");
    match ajax.get_frame("").await {
        Frame::Handshake(hs) => assert!(!hs.first),
        other => panic!("expected a handshake, got {other:?}"),
    }
    // The state now exists: the next poll is a real poll.
    assert_eq!(ajax.get_frame("").await, Frame::PollTimeout);
}

#[tokio::test]
async fn event_is_204_and_reaches_its_handler() {
    let notes = Arc::new(AtomicUsize::new(0));
    let t = serve(
        builder_with(State {
            notes: notes.clone(),
        })
        .build(),
    )
    .await;
    let ajax = t.ajax("client-id=ajax1");
    let (status, body) = ajax.post(&event(TestEvent::Note("x".into()))).await;
    assert_eq!(status, 204);
    assert!(body.is_empty());
    eventually(|| counter(&notes) == 1).await;
}

#[tokio::test]
async fn request_reply_unknown_and_panic() {
    let t = start().await;
    let ajax = t.ajax("client-id=ajax1&uid=dora");
    let (id, text): (u32, String) = reply_ok(
        ajax.post_frame(&request(9, TestEvent::Echo { text: "hey".into() }))
            .await,
    );
    assert_eq!((id, text.as_str()), (9, "hey from dora"));
    let unknown = chsk::protocol::EventFrame {
        id: "nope/x".into(),
        payload: chsk::Payload::default(),
    };
    let (_, msg) = reply_err(
        ajax.post_frame(&Frame::Request {
            reply_id: 1,
            event: unknown,
        })
        .await,
    );
    assert!(msg.starts_with("unknown event id `nope/x`"), "{msg}");
    let (_, msg) = reply_err(ajax.post_frame(&request(2, TestEvent::Boom)).await);
    assert_eq!(msg, "handler for `test/boom` panicked");
    // Still serving.
    let _: (u32, String) = reply_ok(
        ajax.post_frame(&request(
            3,
            TestEvent::Echo {
                text: "again".into(),
            },
        ))
        .await,
    );
    assert_eq!(ajax.post_frame(&Frame::Ping).await, Frame::Pong);
}

#[tokio::test]
async fn slow_reply_is_504() {
    let t = start().await; // ajax_reply_timeout is 300 ms
    let ajax = t.ajax("client-id=ajax1");
    let (status, body) = ajax.post(&request(1, TestEvent::Slow { ms: 2_000 })).await;
    assert_eq!(status, 504);
    assert_eq!(body, b"reply timeout");
    assert_eq!(t.server.metrics().reply_timeouts, 1);
}

#[tokio::test]
async fn malformed_and_oversized_bodies() {
    let t = start().await; // max_frame_bytes is 64 KiB
    let ajax = t.ajax("client-id=ajax1");
    let (status, body) = ajax.post_raw(vec![0xff, 0x00, 0x13]).await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).starts_with("malformed frame: "));
    let (status, body) = ajax.post_raw(vec![0; 64 * 1024 + 1]).await;
    assert_eq!(status, 413);
    assert_eq!(body, b"frame too large");
    // A server → client frame from a client is malformed too.
    let (status, _) = ajax.post(&Frame::PollTimeout).await;
    assert_eq!(status, 400);
    let _: (u32, String) = reply_ok(
        ajax.post_frame(&request(1, TestEvent::Echo { text: "ok".into() }))
            .await,
    );
}

#[tokio::test]
async fn push_between_polls_waits_in_the_mailbox() {
    let t = start().await;
    let ajax = t.ajax("client-id=ajax1&uid=erin");
    ajax.handshake().await;
    // No poll is outstanding: the push is kept until the next poll.
    assert_eq!(t.server.send_to_user("erin", TestPush::Seq(1)).unwrap(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let batches = ajax.pushes(1).await;
    assert_eq!(batches.concat(), vec![TestPush::Seq(1)]);
}

#[tokio::test]
async fn newer_poll_ends_the_older_one() {
    let t = start().await;
    let ajax = t.ajax("client-id=ajax1");
    ajax.handshake().await;
    let first = {
        let ajax = t.ajax("client-id=ajax1");
        tokio::spawn(async move { ajax.get_frame("").await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let second = {
        let ajax = t.ajax("client-id=ajax1");
        tokio::spawn(async move { ajax.get_frame("").await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    t.server
        .push(
            chsk::server::Target::Client("ajax1".into()),
            TestPush::Seq(5),
            chsk::server::Flush::Now,
        )
        .unwrap();
    assert_eq!(first.await.unwrap(), Frame::PollTimeout);
    match second.await.unwrap() {
        Frame::Push(evs) => assert_eq!(pushes(&evs), vec![TestPush::Seq(5)]),
        other => panic!("expected the push, got {other:?}"),
    }
}

#[tokio::test]
async fn closing_a_client_ends_its_outstanding_poll_with_close() {
    let t = start().await;
    let ajax = t.ajax("client-id=ajax1&uid=gus");
    ajax.handshake().await;
    let poll = {
        let ajax = t.ajax("client-id=ajax1&uid=gus");
        tokio::spawn(async move { ajax.get_frame("").await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let n = t
        .server
        .close(&chsk::server::Target::User("gus".into()), "bye");
    assert_eq!(n, 1);
    assert_eq!(
        poll.await.unwrap(),
        Frame::Close {
            reason: "bye".into()
        }
    );
    // The state is gone: the next poll is a handshake.
    assert!(matches!(ajax.get_frame("").await, Frame::Handshake(h) if !h.first));
}
