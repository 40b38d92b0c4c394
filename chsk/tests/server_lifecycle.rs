//! A WebSocket's life on the paused clock: keep-alive pings and the ping timeout, replacement
//! by a newer connection of the same client id, closes by the server and by the client.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use chsk::{
    protocol::Frame,
    server::{mount::WsMessage, Flush, Target},
};
use support::*;

#[tokio::test(start_paused = true)]
async fn a_silent_client_is_pinged_then_closed() {
    let server = server();
    let t = *server.timings();
    let mut c = open(&server, "client-id=a").await;
    let start = tokio::time::Instant::now();
    assert_eq!(c.next().await, Frame::Ping);
    assert_eq!(start.elapsed(), t.ws_kalive, "after ws_kalive of silence");
    assert_eq!(
        c.next().await,
        Frame::Close {
            reason: "ping timeout".into()
        }
    );
    assert_eq!(start.elapsed(), t.ws_kalive + t.ws_ping_timeout);
    assert!(matches!(c.recv().await, Some(WsMessage::Close(1001, _))));
    assert_eq!(server.metrics().ping_timeouts, 1);
}

#[tokio::test(start_paused = true)]
async fn a_client_that_answers_pings_stays_open() {
    let server = server();
    let mut live = open(&server, "client-id=live").await;
    let mut dead = open(&server, "client-id=dead").await;
    for _ in 0..3 {
        assert_eq!(live.next().await, Frame::Ping);
        live.send(&Frame::Pong);
    }
    // The dead peer never answered its first ping.
    assert_eq!(dead.next().await, Frame::Ping);
    assert_eq!(dead.closed().await.0.as_deref(), Some("ping timeout"));
    live.send(&request(1, TestEvent::Echo { text: "ok".into() }));
    loop {
        match live.next().await {
            Frame::Ping => live.send(&Frame::Pong),
            f => {
                assert_eq!(reply_ok::<String>(f).0, 1);
                break;
            }
        }
    }
    assert_eq!(server.metrics().ping_timeouts, 1);
}

#[tokio::test(start_paused = true)]
async fn an_active_client_is_not_pinged() {
    let server = server();
    let mut c = open(&server, "client-id=a").await;
    // A frame every 20 s (less than ws_kalive): the sliding window never fires.
    assert!(server.timings().ws_kalive > Duration::from_secs(20));
    for i in 0..5 {
        tokio::time::sleep(Duration::from_secs(20)).await;
        c.send(&request(i, TestEvent::Echo { text: "x".into() }));
        assert!(matches!(c.next().await, Frame::Reply { .. }));
    }
    assert_eq!(server.metrics().ping_timeouts, 0);
}

#[tokio::test(start_paused = true)]
async fn a_newer_connection_replaces_the_older_one() {
    let server = server();
    let mut old = open(&server, "client-id=same&uid=fay").await;
    let (mut new, hs) = open_hs(&server, "client-id=same&uid=fay").await;
    assert!(!hs.first);
    let (reason, code) = old.closed().await;
    assert_eq!(reason.as_deref(), Some("replaced by a newer connection"));
    assert_eq!(code, Some(1000));
    assert_eq!(server.send_to_user("fay", TestPush::Seq(1)).unwrap(), 1);
    assert_eq!(new.pushes(1).await.concat(), [TestPush::Seq(1)]);
}

#[tokio::test(start_paused = true)]
async fn close_all_closes_every_connection() {
    let server = server();
    let mut ws = open(&server, "client-id=w").await;
    let ajax = server.ajax_mem("client-id=a");
    ajax.handshake().await;
    let poll = ajax.start_poll();
    server.close_all("shutting down");
    let (reason, code) = ws.closed().await;
    assert_eq!(reason.as_deref(), Some("shutting down"));
    assert_eq!(code, Some(1001));
    assert_eq!(
        poll.await.unwrap(),
        Frame::Close {
            reason: "shutting down".into()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_close_is_answered_with_a_close() {
    let server = server();
    let mut c = open(&server, "client-id=polite").await;
    c.close();
    assert!(matches!(c.recv().await, Some(WsMessage::Close(1000, _))));
    eventually(|| server.metrics().ws_closed == 1).await;
}

#[tokio::test(start_paused = true)]
async fn pushes_to_a_cut_connection_are_counted() {
    let server = server();
    let mut c = open(&server, "client-id=a&uid=alice").await;
    for n in 0..10 {
        server
            .push(
                Target::User("alice".into()),
                TestPush::Seq(n),
                Flush::Batched,
            )
            .unwrap();
    }
    // The client goes away inside the batching window.
    c.cut();
    drop(c);
    eventually(|| server.metrics().ws_closed == 1).await;
    // Every push reaches the connection or is counted as undeliverable, and every delivery
    // is written or counted as dropped.
    eventually(|| {
        let m = server.metrics();
        m.push_deliveries + m.pushes_undeliverable == 10 && balanced(&m)
    })
    .await;
}
