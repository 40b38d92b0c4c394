//! Presence: connected uids by transport, user-port open/close events after grace periods,
//! on the paused clock (grace periods pass instantly and exactly).
#![allow(clippy::unwrap_used)]

mod support;

use chsk::{
    protocol::Frame,
    server::{mount::WsMessage, PresenceEvent},
};
use support::*;

#[tokio::test(start_paused = true)]
async fn open_reconnect_within_grace_and_final_close() {
    let server = server();
    let grace = server.timings().ws_grace;
    let mut events = server.presence_events();
    let mut watch = server.watch_connected_uids();

    let mut tab = open(&server, "client-id=tab1&uid=alice").await;
    assert_eq!(
        presence(&mut events).await,
        PresenceEvent::UidPortOpen("alice".into())
    );
    let uids = server.connected_uids();
    assert!(uids.ws.contains("alice") && uids.any.contains("alice"));
    assert!(uids.ajax.is_empty());
    watch.changed().await.unwrap();
    assert!(watch.borrow_and_update().any.contains("alice"));

    // A reload: the tab closes (its close is answered) and a new one opens within the grace
    // period.
    tab.close();
    assert!(matches!(tab.recv().await, Some(WsMessage::Close(1000, _))));
    tokio::time::sleep(grace / 5).await;
    let (mut reloaded, hs) = open_hs(&server, "client-id=tab2&uid=alice").await;
    assert!(hs.first);
    // Well past the first close's grace period: still connected, no close event.
    tokio::time::sleep(grace * 2).await;
    assert!(server.connected_uids().ws.contains("alice"));
    assert!(
        events.try_recv().is_err(),
        "a reload within grace is not a close"
    );

    // The final close (a cut network): after the grace period, alice is gone.
    reloaded.cut();
    let start = tokio::time::Instant::now();
    assert_eq!(
        presence(&mut events).await,
        PresenceEvent::UidPortClose("alice".into())
    );
    assert!(start.elapsed() >= grace);
    assert!(server.connected_uids().any.is_empty());
    watch.changed().await.unwrap();
    assert!(watch.borrow_and_update().any.is_empty());
}

#[tokio::test(start_paused = true)]
async fn reconnect_with_the_same_client_id_within_grace_is_not_first() {
    let server = server();
    let (a, hs) = open_hs(&server, "client-id=same&uid=bob").await;
    assert!(hs.first);
    drop(a);
    tokio::time::sleep(server.timings().ws_grace / 5).await;
    let (_b, hs) = open_hs(&server, "client-id=same&uid=bob").await;
    assert!(!hs.first);
}

#[tokio::test(start_paused = true)]
async fn ajax_client_counts_until_its_grace_period_expires() {
    let server = server();
    let grace = server.timings().ajax_grace;
    let mut events = server.presence_events();
    let ajax = server.ajax_mem("client-id=poller&uid=carol");
    ajax.handshake().await;
    assert_eq!(
        presence(&mut events).await,
        PresenceEvent::UidPortOpen("carol".into())
    );
    // Polling keeps it alive beyond the grace period.
    let start = tokio::time::Instant::now();
    for _ in 0..3 {
        assert_eq!(ajax.poll().await, Frame::PollTimeout);
    }
    assert!(start.elapsed() > grace);
    let uids = server.connected_uids();
    assert!(uids.ajax.contains("carol") && !uids.ws.contains("carol"));
    // It stops polling: closed after the grace period.
    let start = tokio::time::Instant::now();
    assert_eq!(
        presence(&mut events).await,
        PresenceEvent::UidPortClose("carol".into())
    );
    assert!(start.elapsed() >= grace);
    assert!(server.connected_uids().ajax.is_empty());
    // Its next poll is answered with a handshake (the server has no state for it).
    assert!(matches!(ajax.poll().await, Frame::Handshake(h) if !h.first));
}

#[tokio::test(start_paused = true)]
async fn a_user_on_both_transports_closes_once() {
    let server = server();
    let mut events = server.presence_events();
    let ws = open(&server, "client-id=w&uid=dave").await;
    let ajax = server.ajax_mem("client-id=a&uid=dave");
    ajax.handshake().await;
    assert_eq!(
        presence(&mut events).await,
        PresenceEvent::UidPortOpen("dave".into())
    );
    drop(ws);
    // The WebSocket's grace passes; the Ajax client still holds the user port.
    eventually(|| !server.connected_uids().ws.contains("dave")).await;
    assert!(server.connected_uids().any.contains("dave"));
    assert!(events.try_recv().is_err());
    assert_eq!(
        presence(&mut events).await,
        PresenceEvent::UidPortClose("dave".into())
    );
}

#[tokio::test(start_paused = true)]
async fn moving_from_ajax_to_websocket_is_not_a_close() {
    let server = server();
    let mut events = server.presence_events();
    let ajax = server.ajax_mem("client-id=mover&uid=ivy");
    ajax.handshake().await;
    assert_eq!(
        presence(&mut events).await,
        PresenceEvent::UidPortOpen("ivy".into())
    );
    let _ws = open(&server, "client-id=mover&uid=ivy").await;
    // The Ajax state was replaced at once; the user never left.
    assert!(server.connected_uids().ajax.is_empty());
    assert!(server.connected_uids().ws.contains("ivy"));
    tokio::time::sleep(server.timings().ajax_grace * 2).await;
    assert!(events.try_recv().is_err(), "no close/open pair");
}
