//! Presence: connected uids by transport, user-port open/close events with grace periods.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use chsk::server::PresenceEvent;
use common::*;

async fn next_event(rx: &mut tokio::sync::broadcast::Receiver<PresenceEvent>) -> PresenceEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a presence event within 10 s")
        .expect("no lag")
}

#[tokio::test]
async fn open_reconnect_within_grace_and_final_close() {
    let t = start().await; // ws_grace 500 ms
    let mut events = t.server.presence_events();
    let mut watch = t.server.watch_connected_uids();

    let mut tab = t.ws("client-id=tab1&uid=alice").await;
    tab.handshake().await;
    assert_eq!(
        next_event(&mut events).await,
        PresenceEvent::UidPortOpen("alice".into())
    );
    let uids = t.server.connected_uids();
    assert!(uids.ws.contains("alice") && uids.any.contains("alice"));
    assert!(uids.ajax.is_empty());
    watch.changed().await.unwrap();
    assert!(watch.borrow_and_update().any.contains("alice"));

    // A reload: the socket closes, a new one opens within the grace period.
    drop(tab);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut reloaded = t.ws("client-id=tab2&uid=alice").await;
    assert!(reloaded.handshake().await.first);
    // Well past the first close's grace period: still connected, no close event.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(t.server.connected_uids().ws.contains("alice"));
    assert!(
        events.try_recv().is_err(),
        "a reload within grace is not a close"
    );

    // The final close: after the grace period, alice is gone.
    drop(reloaded);
    assert_eq!(
        next_event(&mut events).await,
        PresenceEvent::UidPortClose("alice".into())
    );
    assert!(t.server.connected_uids().any.is_empty());
    watch.changed().await.unwrap();
    assert!(watch.borrow_and_update().any.is_empty());
}

#[tokio::test]
async fn reconnect_with_the_same_client_id_within_grace_is_not_first() {
    let t = start().await;
    let mut a = t.ws("client-id=same&uid=bob").await;
    assert!(a.handshake().await.first);
    drop(a);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut b = t.ws("client-id=same&uid=bob").await;
    assert!(!b.handshake().await.first);
}

#[tokio::test]
async fn ajax_client_counts_until_its_grace_period_expires() {
    let t = start().await; // ajax_grace 1.5 s, lp_timeout 500 ms
    let mut events = t.server.presence_events();
    let ajax = t.ajax("client-id=poller&uid=carol");
    ajax.handshake().await;
    assert_eq!(
        next_event(&mut events).await,
        PresenceEvent::UidPortOpen("carol".into())
    );
    // Polling keeps it alive beyond the grace period.
    for _ in 0..3 {
        ajax.get_frame("").await;
    }
    let uids = t.server.connected_uids();
    assert!(uids.ajax.contains("carol") && !uids.ws.contains("carol"));
    // It stops polling: closed after the grace period.
    assert_eq!(
        next_event(&mut events).await,
        PresenceEvent::UidPortClose("carol".into())
    );
    assert!(t.server.connected_uids().ajax.is_empty());
    // Its next poll is answered with a handshake (the server has no state for it).
    assert!(matches!(ajax.get_frame("").await, chsk::protocol::Frame::Handshake(h) if !h.first));
}

#[tokio::test]
async fn a_user_on_both_transports_closes_once() {
    let t = start().await;
    let mut events = t.server.presence_events();
    let mut ws = t.ws("client-id=w&uid=dave").await;
    ws.handshake().await;
    let ajax = t.ajax("client-id=a&uid=dave");
    ajax.handshake().await;
    assert_eq!(
        next_event(&mut events).await,
        PresenceEvent::UidPortOpen("dave".into())
    );
    drop(ws);
    // The WebSocket's grace passes; the Ajax client still holds the user port.
    eventually(|| !t.server.connected_uids().ws.contains("dave")).await;
    assert!(t.server.connected_uids().any.contains("dave"));
    assert_eq!(
        next_event(&mut events).await,
        PresenceEvent::UidPortClose("dave".into())
    );
}

#[tokio::test]
async fn moving_from_ajax_to_websocket_is_not_a_close() {
    let t = start().await;
    let mut events = t.server.presence_events();
    let ajax = t.ajax("client-id=mover&uid=ivy");
    ajax.handshake().await;
    assert_eq!(
        next_event(&mut events).await,
        PresenceEvent::UidPortOpen("ivy".into())
    );
    let mut ws = t.ws("client-id=mover&uid=ivy").await;
    ws.handshake().await;
    // The Ajax state was replaced at once; the user never left.
    eventually(|| t.server.connected_uids().ajax.is_empty()).await;
    assert!(t.server.connected_uids().ws.contains("ivy"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(events.try_recv().is_err(), "no close/open pair");
}
