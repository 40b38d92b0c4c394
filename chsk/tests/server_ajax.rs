//! Ajax through the in-memory client (the server's own `ajax_get` / `ajax_post`): handshake,
//! long-poll, sends with and without a reply, timeouts, bad bodies.
#![allow(clippy::unwrap_used)]

mod support;

use chsk::{
    protocol::Frame,
    server::{Flush, Target},
};
use support::*;

#[tokio::test(start_paused = true)]
async fn handshake_then_poll_times_out_with_nothing_to_send() {
    let server = server();
    let ajax = server.ajax_mem("client-id=ajax1&uid=alice");
    let hs = ajax.handshake().await;
    assert_eq!(hs.uid.as_deref(), Some("alice"));
    assert_eq!(hs.client_id, "ajax1");
    assert!(hs.first);
    let start = tokio::time::Instant::now();
    assert_eq!(ajax.poll().await, Frame::PollTimeout);
    assert_eq!(
        start.elapsed(),
        server.timings().lp_timeout,
        "held lp_timeout"
    );
}

#[tokio::test(start_paused = true)]
async fn poll_without_state_gets_a_non_first_handshake() {
    let server = server();
    let ajax = server.ajax_mem("client-id=ajax1");
    match ajax.poll().await {
        Frame::Handshake(hs) => assert!(!hs.first),
        other => panic!("expected a handshake, got {other:?}"),
    }
    // The state now exists: the next poll is a real poll.
    assert_eq!(ajax.poll().await, Frame::PollTimeout);
}

#[tokio::test(start_paused = true)]
async fn event_is_204_and_reaches_its_handler() {
    let state = State::default();
    let server = builder_with(state.clone()).build();
    let ajax = server.ajax_mem("client-id=ajax1");
    let resp = ajax.post(&event(TestEvent::Note("x".into()))).await;
    assert_eq!(resp.status, 204);
    assert!(resp.body.is_empty());
    eventually(|| state.notes() == 1).await;
}

#[tokio::test(start_paused = true)]
async fn request_reply_unknown_and_panic() {
    let server = server();
    let ajax = server.ajax_mem("client-id=ajax1&uid=dora");
    let post = |frame: Frame| {
        let ajax = ajax.clone();
        async move { ajax.decode(&ajax.post(&frame).await) }
    };
    let echo = |id, text: &str| request(id, TestEvent::Echo { text: text.into() });
    assert_eq!(
        reply_ok::<String>(post(echo(9, "hey")).await),
        (9, "hey from dora".into())
    );
    let unknown = Frame::Request {
        reply_id: 1,
        event: raw_event("nope/x", vec![]),
    };
    let (_, msg) = reply_err(post(unknown).await);
    assert!(msg.starts_with("unknown event id `nope/x`"), "{msg}");
    let (_, msg) = reply_err(post(request(2, TestEvent::Boom)).await);
    assert_eq!(msg, "handler for `test/boom` panicked");
    // Still serving.
    assert_eq!(reply_ok::<String>(post(echo(3, "again")).await).0, 3);
    assert_eq!(post(Frame::Ping).await, Frame::Pong);
}

#[tokio::test(start_paused = true)]
async fn slow_reply_is_504() {
    let server = server();
    let ajax = server.ajax_mem("client-id=ajax1");
    let slow = server.timings().ajax_reply_timeout.as_millis() as u64 * 2;
    let resp = ajax.post(&request(1, TestEvent::Slow { ms: slow })).await;
    assert_eq!(resp.status, 504);
    assert_eq!(&resp.body[..], b"reply timeout");
    assert_eq!(server.metrics().reply_timeouts, 1);
}

#[tokio::test(start_paused = true)]
async fn malformed_and_oversized_bodies() {
    let server = builder()
        .limits(chsk::server::Limits {
            max_frame_bytes: 64 * 1024,
            ..Default::default()
        })
        .build();
    let ajax = server.ajax_mem("client-id=ajax1");
    let resp = ajax.post_raw(vec![0xff, 0x00, 0x13]).await;
    assert_eq!(resp.status, 400);
    assert!(String::from_utf8_lossy(&resp.body).starts_with("malformed frame: "));
    let resp = ajax.post_raw(vec![0; 64 * 1024 + 1]).await;
    assert_eq!(resp.status, 413);
    assert_eq!(&resp.body[..], b"frame too large");
    // A server → client frame from a client is malformed too.
    assert_eq!(ajax.post(&Frame::PollTimeout).await.status, 400);
    let resp = ajax
        .post(&request(1, TestEvent::Echo { text: "ok".into() }))
        .await;
    assert_eq!(reply_ok::<String>(ajax.decode(&resp)).0, 1);
    let m = server.metrics();
    assert_eq!((m.malformed_frames, m.oversized_frames), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn bad_events_get_400_with_the_message() {
    let server = server();
    let ajax = server.ajax_mem("client-id=bad");
    ajax.handshake().await;
    let resp = ajax
        .post(&Frame::Event(raw_event("test/nope", vec![])))
        .await;
    assert_eq!(resp.status, 400);
    assert!(String::from_utf8_lossy(&resp.body).contains("test/nope"));
    let resp = ajax
        .post(&Frame::Event(raw_event("test/echo", vec![0xff, 0xff])))
        .await;
    assert_eq!(resp.status, 400);
    assert!(!resp.body.is_empty());
    assert_eq!(server.metrics().bad_events, 2);
}

#[tokio::test(start_paused = true)]
async fn push_between_polls_waits_in_the_mailbox() {
    let server = server();
    let ajax = server.ajax_mem("client-id=ajax1&uid=erin");
    ajax.handshake().await;
    // No poll is outstanding: the push is kept until the next poll.
    assert_eq!(server.send_to_user("erin", TestPush::Seq(1)).unwrap(), 1);
    tokio::time::sleep(server.timings().send_buf_ajax * 3).await;
    assert_eq!(ajax_pushes(&ajax, 1).await.concat(), [TestPush::Seq(1)]);
}

#[tokio::test(start_paused = true)]
async fn newer_poll_ends_the_older_one() {
    let server = server();
    let ajax = server.ajax_mem("client-id=ajax1");
    ajax.handshake().await;
    let first = ajax.start_poll();
    let second = ajax.start_poll();
    // The older poll ends at once, without waiting for `lp_timeout`.
    let start = tokio::time::Instant::now();
    assert_eq!(first.await.unwrap(), Frame::PollTimeout);
    assert_eq!(start.elapsed(), std::time::Duration::ZERO);
    server
        .push(Target::Client("ajax1".into()), TestPush::Seq(5), Flush::Now)
        .unwrap();
    match second.await.unwrap() {
        Frame::Push(runs) => assert_eq!(pushes(&support::events(runs)), [TestPush::Seq(5)]),
        other => panic!("expected the push, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn closing_a_client_ends_its_outstanding_poll_with_close() {
    let server = server();
    let ajax = server.ajax_mem("client-id=ajax1&uid=gus");
    ajax.handshake().await;
    let poll = ajax.start_poll();
    assert_eq!(server.close(&Target::User("gus".into()), "bye"), 1);
    assert_eq!(
        poll.await.unwrap(),
        Frame::Close {
            reason: "bye".into()
        }
    );
    // The state is gone: the next poll is a handshake.
    assert!(matches!(ajax.poll().await, Frame::Handshake(h) if !h.first));
}
