//! Reconnects: after a server restart (both transports), `Auto` falling back to Ajax when the
//! server refuses the WebSocket upgrade, requested reconnect/disconnect. These restart the test
//! server, so they live in their own binary (run after the others, one at a time).
#![cfg(target_arch = "wasm32")]

mod common;

use std::time::Duration;

use chsk::{
    client::{CloseReason, Recovery, RecvError, TransportMode},
    Transport,
};
use common::*;
use futures::StreamExt;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn reconnects_after_restart(mode: TransportMode) {
    let uid = new_uid("restart");
    let client = connect("/chsk", mode, &uid);
    client
        .wait_open(Duration::from_secs(5))
        .await
        .expect("opens");
    let mut changes = client.state_changes();
    let (tx, mut items) = futures::channel::mpsc::unbounded();
    client.on_push_result(move |item| {
        let _ = tx.unbounded_send(item);
    });
    restart_server(800).await;
    // The restart closed the connection, and the client came back by itself.
    let st = wait_state(&client, 15_000, |s| s.open && s.reconnect_attempt == 0)
        .await
        .expect("reopens after the restart");
    let mut saw_closed = false;
    while let Some(Some(c)) = within(10, changes.next()).await {
        saw_closed |= c.closed();
    }
    assert!(saw_closed, "the close was observed");
    assert!(st.open && !st.first_open, "not the first open any more");
    assert!(
        st.first_handshake,
        "the restarted server never saw this client: {st:?}"
    );
    let echo = client
        .send_with_reply(test_event::Echo("back".into()), Duration::from_secs(5))
        .await;
    assert_eq!(echo.as_deref(), Ok("back"));
    assert!(connected_uids().await.contains(&uid));
    // The restarted server has none of the old one's pushes: the app is told, in order,
    // before the new server's pushes.
    assert_eq!(st.recovery, Recovery::NotRecovered);
    client.send(test_event::PushMe("new".into())).expect("open");
    let first = within(5000, items.next()).await.flatten();
    assert!(
        matches!(first, Some(Err(RecvError::NotRecovered))),
        "{first:?}"
    );
    let next = within(5000, items.next()).await.flatten();
    assert_eq!(next, Some(Ok(TestPush::Said("new".into()))));
}

#[wasm_bindgen_test]
async fn ws_reconnects_after_server_restart() {
    reconnects_after_restart(TransportMode::Ws).await;
}

#[wasm_bindgen_test]
async fn ajax_reconnects_after_server_restart() {
    reconnects_after_restart(TransportMode::Ajax).await;
}

#[wasm_bindgen_test]
async fn auto_falls_back_to_ajax_when_the_upgrade_is_refused_and_retries_ws_on_reconnect() {
    let uid = new_uid("auto");
    let client = connect("/chsk-nows", TransportMode::Auto, &uid);
    let mut changes = client.state_changes();
    let st = client
        .wait_open(Duration::from_secs(10))
        .await
        .expect("opens over Ajax");
    assert_eq!(st.transport, Some(Transport::Ajax));
    assert_eq!(
        st.last_close_reason(),
        Some(&CloseReason::DowngradingWsToAjax)
    );
    let echo = client
        .send_with_reply(test_event::Echo("poll".into()), Duration::from_secs(5))
        .await;
    assert_eq!(echo.as_deref(), Ok("poll"));
    while within(10, changes.next()).await.flatten().is_some() {}

    // A requested reconnect tries the WebSocket first again: refused again, so another
    // downgrade is recorded before the client opens over Ajax.
    client.reconnect();
    let mut reasons = Vec::new();
    loop {
        let change = within(10_000, changes.next())
            .await
            .flatten()
            .expect("state changes after reconnect");
        if let Some(r) = change.new.last_close_reason() {
            if reasons.last() != Some(r) {
                reasons.push(r.clone());
            }
        }
        if change.opened() {
            assert_eq!(change.new.transport, Some(Transport::Ajax));
            break;
        }
    }
    assert_eq!(
        reasons,
        [
            CloseReason::RequestedReconnect,
            CloseReason::DowngradingWsToAjax
        ]
    );
}

#[wasm_bindgen_test]
async fn disconnect_stops_and_reconnect_resumes() {
    let uid = new_uid("disc");
    let client = connect("/chsk", TransportMode::Ws, &uid);
    client
        .wait_open(Duration::from_secs(5))
        .await
        .expect("opens");
    client.disconnect();
    let st = client.state();
    assert!(!st.open);
    assert_eq!(
        st.last_close_reason(),
        Some(&CloseReason::RequestedDisconnect)
    );
    sleep(1000).await;
    assert!(
        !client.state().open,
        "no reconnect after a requested disconnect"
    );
    client.reconnect();
    let st = client
        .wait_open(Duration::from_secs(5))
        .await
        .expect("reopens");
    assert_eq!(st.transport, Some(Transport::Ws));
}
