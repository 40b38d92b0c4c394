//! What only a real socket shows: tungstenite's message cap, the WebSocket closing handshake,
//! and a TCP peer that stops reading (the write deadline).
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use chsk::server::{Flush, Limits, PresenceEvent, Target, Timings};
use futures_util::StreamExt;
use support::*;
use tokio_tungstenite::tungstenite::{
    protocol::{frame::coding::CloseCode, CloseFrame},
    Message,
};

#[tokio::test]
async fn oversized_frames_close_with_1009_below_and_above_the_socket_cap() {
    let server = builder(State::default())
        .limits(Limits {
            max_frame_bytes: 64 << 10,
            ..Limits::default()
        })
        .build();
    let running = serve_app(app(&server), any_port()).await;
    // Just over the limit: read, refused by chsk. Over the socket's cap (128 KiB here): refused
    // by tungstenite before it is buffered whole, and answered the same.
    for len in [(64 << 10) + 1, 512 << 10] {
        let (mut ws, _) = running.ws("client-id=big").await;
        ws.send_raw(vec![0; len]).await;
        let (reason, code) = ws.closed().await;
        assert_eq!(reason.as_deref(), Some("frame too large"), "{len}");
        assert_eq!(code, Some(1009), "{len}");
    }
    assert_eq!(server.metrics().oversized_frames, 2);
    let (mut ws, _) = running.ws("client-id=bystander").await;
    ws.send(&chsk::protocol::Frame::Ping).await;
    assert_eq!(ws.frame().await, chsk::protocol::Frame::Pong);
}

#[tokio::test]
async fn a_client_close_gets_the_server_close_back() {
    let (_server, _state, running) = start().await;
    let (mut ws, _) = running.ws("client-id=polite").await;
    ws.socket
        .close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .await
        .unwrap();
    // The server answers the closing handshake with its own Close (not a dropped socket).
    loop {
        let msg = tokio::time::timeout(WAIT, ws.socket.next())
            .await
            .expect("an answer in time");
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

#[tokio::test]
async fn a_peer_that_stops_reading_is_closed_at_the_write_deadline_and_freed() {
    let server = builder(State::default())
        .timings(Timings {
            write_timeout: Duration::from_millis(800),
            ws_grace: Duration::from_millis(200),
            ..timings()
        })
        // A queue large enough that the write deadline, not the queue bound, ends it.
        .limits(Limits {
            send_queue: 1 << 20,
            send_queue_bytes: 1 << 30,
            ..Limits::default()
        })
        .build();
    let mut presence = server.presence_events();
    let running = serve_app(app(&server), any_port()).await;
    let ws = running.tight_ws("client-id=frozen&uid=frozen").await;
    eventually(|| server.connected_uids().any.contains("frozen")).await;
    // Far more than the socket buffers hold; the client never reads.
    let mut pushed = 0u64;
    for seq in 0..20_000 {
        let blob = CPush::Text(format!("{seq:>1000}"));
        let reached = server
            .push(Target::User("frozen".into()), blob, Flush::Now)
            .expect("a valid push");
        if reached > 0 {
            pushed += 1;
        }
    }
    eventually(|| server.metrics().ws_closed == 1).await;
    // The connection is unregistered at once; its accounting completes when its socket is
    // closed (the `Close` frame gets one more second).
    eventually(|| {
        let m = server.metrics();
        m.push_deliveries == m.pushes_written + m.pushes_dropped()
    })
    .await;
    let m = server.metrics();
    assert_eq!(m.write_timeouts, 1, "{m:?}");
    assert!(m.pushes_dropped_write_timeout > 0, "{m:?}");
    assert_eq!(m.push_deliveries, pushed, "{m:?}");
    assert_eq!(m.queued_bytes, 0, "the queue was freed: {m:?}");
    // The user's presence closes after the grace period.
    assert_eq!(
        presence.recv().await.unwrap(),
        PresenceEvent::UidPortOpen("frozen".into())
    );
    let closed = tokio::time::timeout(WAIT, presence.recv()).await;
    assert_eq!(
        closed.expect("presence closes").unwrap(),
        PresenceEvent::UidPortClose("frozen".into())
    );
    assert!(!server.connected_uids().any.contains("frozen"));
    drop(ws);
}
