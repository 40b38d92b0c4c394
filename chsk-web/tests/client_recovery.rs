//! Recovery in the browser: a client whose connection is cut (through the test server's relay:
//! no close frame, no answer) or that disconnected gets every push made meanwhile, once and in
//! order, before the live ones; a client away for longer than the server's history keeps is
//! told `NotRecovered` and gets none of them. Both transports. A second client of the same
//! user, connected directly (never cut), makes the pushes (`PushMe` goes to every client of the
//! user).
#![cfg(target_arch = "wasm32")]

mod common;

use std::time::Duration;

use chsk::client::{Recovery, RecvError, TransportMode};
use chsk_web_test_server::SHORT_HISTORY;
use common::*;
use futures::{channel::mpsc, StreamExt};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

type Items = mpsc::UnboundedReceiver<Result<TestPush, RecvError>>;

/// Connects to `url` and waits for the handshake; every push result goes to the returned
/// channel.
async fn open(url: &str, mode: TransportMode, uid: &str) -> (TestClient, Items) {
    let client = chsk_web::connect(url, opts(mode, uid));
    client
        .wait_open(Duration::from_secs(5))
        .await
        .expect("opens");
    let (tx, items) = mpsc::unbounded();
    client.on_push_result(move |item| {
        let _ = tx.unbounded_send(item);
    });
    (client, items)
}

async fn next(items: &mut Items) -> Option<Result<TestPush, RecvError>> {
    within(5000, items.next()).await.flatten()
}

fn said(text: &str) -> Option<Result<TestPush, RecvError>> {
    Some(Ok(TestPush::Said(text.into())))
}

/// `pusher` makes pushes `texts` to its user, and waits until it got them itself: the server
/// has made them.
async fn push_all(pusher: &TestClient, pusher_items: &mut Items, texts: &[String]) {
    for t in texts {
        pusher.send(test_event::PushMe(t.clone())).expect("open");
    }
    for t in texts {
        assert_eq!(next(pusher_items).await, said(t), "the pusher's own copy");
    }
}

/// Away (a requested disconnect) while `missed` pushes were made on `path`, then back.
async fn away_and_back(path: &str, mode: TransportMode, missed: usize) -> (Items, TestClient) {
    let uid = new_uid("recovery");
    let (client, mut items) = open(&endpoint(path), mode, &uid).await;
    let (pusher, mut pusher_items) = open(&endpoint(path), TransportMode::Ws, &uid).await;
    push_all(&pusher, &mut pusher_items, &["before".into()]).await;
    assert_eq!(next(&mut items).await, said("before"));

    client.disconnect();
    let texts: Vec<String> = (1..=missed).map(|i| format!("missed {i}")).collect();
    push_all(&pusher, &mut pusher_items, &texts).await;
    client.reconnect();
    client
        .wait_open(Duration::from_secs(5))
        .await
        .expect("reopens");
    // The app's own order: what it gets from now on, then one live push.
    pusher
        .send(test_event::PushMe("live".into()))
        .expect("open");
    (items, client)
}

/// The connection is cut and new ones refused for a second; the pusher makes five pushes
/// meanwhile.
async fn cut_connection_gets_every_push_once(mode: TransportMode) {
    let uid = new_uid("cut");
    let (client, mut items) = open(&relayed("/chsk"), mode, &uid).await;
    let (pusher, mut pusher_items) = open(&endpoint("/chsk"), TransportMode::Ws, &uid).await;
    push_all(&pusher, &mut pusher_items, &["before".into()]).await;
    assert_eq!(next(&mut items).await, said("before"));

    cut_relay(1000).await;
    if mode == TransportMode::Ws {
        wait_state(&client, 5000, |s| !s.open)
            .await
            .expect("the cut is seen");
    }
    let texts: Vec<String> = (1..=5).map(|i| format!("missed {i}")).collect();
    push_all(&pusher, &mut pusher_items, &texts).await;
    client
        .wait_open(Duration::from_secs(10))
        .await
        .expect("reopens");
    pusher
        .send(test_event::PushMe("live".into()))
        .expect("open");
    for t in &texts {
        assert_eq!(next(&mut items).await, said(t), "{mode:?}");
    }
    assert_eq!(next(&mut items).await, said("live"), "{mode:?}");
    assert!(
        within(300, items.next()).await.is_none(),
        "{mode:?}: nothing twice"
    );
    let m = client.metrics();
    assert_eq!(m.not_recovered, 0, "{mode:?}");
    if mode == TransportMode::Ws {
        // A new connection: its handshake presented the positions and the server replayed.
        assert_eq!(client.state().recovery, Recovery::Recovered);
        assert_eq!(m.recoveries, 1);
    }
    // (An Ajax client whose poll was cut polls again with its cursor and gets what was queued
    // meanwhile; once the server has forgotten it, it handshakes and recovers.)
}

#[wasm_bindgen_test]
async fn ws_cut_connection_gets_every_push_once() {
    cut_connection_gets_every_push_once(TransportMode::Ws).await;
}

#[wasm_bindgen_test]
async fn ajax_cut_connection_gets_every_push_once() {
    cut_connection_gets_every_push_once(TransportMode::Ajax).await;
}

async fn missed_pushes_come_once_in_order(mode: TransportMode) {
    let (mut items, client) = away_and_back("/chsk", mode, 5).await;
    for i in 1..=5 {
        assert_eq!(
            next(&mut items).await,
            said(&format!("missed {i}")),
            "{mode:?}"
        );
    }
    assert_eq!(next(&mut items).await, said("live"), "{mode:?}");
    assert!(
        within(300, items.next()).await.is_none(),
        "{mode:?}: nothing twice"
    );
    assert_eq!(client.state().recovery, Recovery::Recovered, "{mode:?}");
    let m = client.metrics();
    assert_eq!((m.recoveries, m.not_recovered), (1, 0), "{mode:?}");
}

#[wasm_bindgen_test]
async fn ws_missed_pushes_come_once_in_order() {
    missed_pushes_come_once_in_order(TransportMode::Ws).await;
}

#[wasm_bindgen_test]
async fn ajax_missed_pushes_come_once_in_order() {
    missed_pushes_come_once_in_order(TransportMode::Ajax).await;
}

async fn away_too_long_is_not_recovered(mode: TransportMode) {
    let (mut items, client) = away_and_back("/chsk-short", mode, SHORT_HISTORY + 2).await;
    let first = next(&mut items).await;
    assert!(
        matches!(first, Some(Err(RecvError::NotRecovered))),
        "{mode:?}: {first:?}"
    );
    assert_eq!(
        next(&mut items).await,
        said("live"),
        "{mode:?}: none of the missed pushes (never a partial replay)"
    );
    assert_eq!(client.state().recovery, Recovery::NotRecovered, "{mode:?}");
    assert_eq!(client.metrics().not_recovered, 1, "{mode:?}");
}

#[wasm_bindgen_test]
async fn ws_away_too_long_is_not_recovered() {
    away_too_long_is_not_recovered(TransportMode::Ws).await;
}

#[wasm_bindgen_test]
async fn ajax_away_too_long_is_not_recovered() {
    away_too_long_is_not_recovered(TransportMode::Ajax).await;
}
