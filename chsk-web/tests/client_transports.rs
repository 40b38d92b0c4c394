//! The client on WebSocket and on Ajax against a real chsk server: handshake, typed replies
//! (value, timeout, closed), pushes to every client of a user, the JSON codec, CSRF.
#![cfg(target_arch = "wasm32")]

mod common;

use std::time::Duration;

use chsk::{
    client::{ClientOptions, TransportMode},
    CbError, Codec, Transport,
};
use common::*;
use futures::StreamExt;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn handshake(mode: TransportMode, transport: Transport) {
    let uid = new_uid("hs");
    let client = connect("/chsk", mode, &uid);
    let st = client
        .wait_open(Duration::from_secs(5))
        .await
        .expect("opens");
    assert!(st.open && st.ever_opened && st.first_open);
    assert_eq!(st.transport, Some(transport));
    assert_eq!(st.uid.as_deref(), Some(uid.as_str()));
    assert!(st.first_handshake);
    let me = client
        .send_with_reply(test_event::WhoAmI, Duration::from_secs(5))
        .await;
    assert_eq!(me, Ok(Some(uid)));
}

#[wasm_bindgen_test]
async fn ws_handshake() {
    handshake(TransportMode::Ws, Transport::Ws).await;
}

#[wasm_bindgen_test]
async fn ajax_handshake() {
    handshake(TransportMode::Ajax, Transport::Ajax).await;
}

#[wasm_bindgen_test]
async fn auto_uses_websocket_when_it_can() {
    handshake(TransportMode::Auto, Transport::Ws).await;
}

async fn replies(mode: TransportMode) {
    let client = connect("/chsk", mode, &new_uid("reply"));
    client
        .wait_open(Duration::from_secs(5))
        .await
        .expect("opens");
    // A value.
    let echo = client
        .send_with_reply(test_event::Echo("héllo".into()), Duration::from_secs(5))
        .await;
    assert_eq!(echo.as_deref(), Ok("héllo"));
    assert!(chsk::cb_success(&echo));
    // A timeout: the handler answers after 1.5 s, the client waits 300 ms.
    let slow = client
        .send_with_reply(test_event::Sleep { ms: 1500 }, Duration::from_millis(300))
        .await;
    assert_eq!(slow, Err(CbError::Timeout));
    // The late reply is ignored and the connection goes on.
    sleep(1500).await;
    let again = client
        .send_with_reply(test_event::Sleep { ms: 1 }, Duration::from_secs(5))
        .await;
    assert_eq!(again, Ok(1));
    // Closed: a disconnect fails the pending request at once.
    let pending = client.send_with_reply(test_event::Sleep { ms: 3000 }, Duration::from_secs(10));
    let disconnect = async {
        sleep(100).await;
        client.disconnect();
    };
    let (closed, ()) = futures::join!(pending, disconnect);
    assert_eq!(closed, Err(CbError::Closed));
    // Closed: sending while not open (no send buffer) fails at once.
    let not_open = within(
        500,
        client.send_with_reply(test_event::Echo("x".into()), Duration::from_secs(5)),
    )
    .await;
    assert_eq!(not_open, Some(Err(CbError::Closed)));
    assert_eq!(
        client.send(test_event::PushMe("x".into())),
        Err(CbError::Closed)
    );
}

#[wasm_bindgen_test]
async fn ws_replies_timeout_and_closed() {
    replies(TransportMode::Ws).await;
}

#[wasm_bindgen_test]
async fn ajax_replies_timeout_and_closed() {
    replies(TransportMode::Ajax).await;
}

#[wasm_bindgen_test]
async fn push_reaches_every_client_of_the_user_on_both_transports() {
    let uid = new_uid("push");
    let ws = connect("/chsk", TransportMode::Ws, &uid);
    let ajax = connect("/chsk", TransportMode::Ajax, &uid);
    let other = connect("/chsk", TransportMode::Ws, &new_uid("other"));
    for c in [&ws, &ajax, &other] {
        c.wait_open(Duration::from_secs(5)).await.expect("opens");
    }
    let (mut ws_pushes, mut ajax_pushes, mut other_pushes) =
        (ws.pushes(), ajax.pushes(), other.pushes());
    ajax.send(test_event::PushMe("one".into())).expect("open");
    ws.send(test_event::PushMe("two".into())).expect("open");
    // Sent on two connections, so in no particular order.
    for pushes in [&mut ws_pushes, &mut ajax_pushes] {
        let mut got = Vec::new();
        for _ in 0..2 {
            match within(5000, pushes.next()).await.flatten() {
                Some(Ok(TestPush::Said(text))) => got.push(text),
                other => panic!("expected a push, got {other:?}"),
            }
        }
        got.sort();
        assert_eq!(got, ["one", "two"]);
    }
    assert!(
        within(500, other_pushes.next()).await.is_none(),
        "another user gets nothing"
    );
}

#[wasm_bindgen_test]
async fn on_push_callback_gets_pushes() {
    let uid = new_uid("cb");
    let client = connect("/chsk", TransportMode::Ws, &uid);
    client
        .wait_open(Duration::from_secs(5))
        .await
        .expect("opens");
    let (tx, mut rx) = futures::channel::mpsc::unbounded();
    client.on_push(move |p| {
        let _ = tx.unbounded_send(p);
    });
    client.send(test_event::PushMe("cb".into())).expect("open");
    let got = within(5000, rx.next()).await.flatten();
    assert_eq!(got, Some(TestPush::Said("cb".into())));
}

#[wasm_bindgen_test]
async fn json_codec_on_both_transports() {
    for transport in [TransportMode::Ws, TransportMode::Ajax] {
        let uid = new_uid("json");
        let client = chsk_web::connect::<TestEvent, TestPush>(
            &endpoint("/chsk-json"),
            ClientOptions {
                codec: Codec::Json,
                ..opts(transport, &uid)
            },
        );
        client
            .wait_open(Duration::from_secs(5))
            .await
            .expect("opens");
        let echo = client
            .send_with_reply(test_event::Echo("json".into()), Duration::from_secs(5))
            .await;
        assert_eq!(echo.as_deref(), Ok("json"), "{transport:?}");
        let mut pushes = client.pushes();
        client.send(test_event::PushMe("j".into())).expect("open");
        let got = within(5000, pushes.next()).await.flatten();
        assert_eq!(got, Some(Ok(TestPush::Said("j".into()))), "{transport:?}");
    }
}

#[wasm_bindgen_test]
async fn bad_csrf_token_is_refused_with_the_servers_reason() {
    let client = chsk_web::connect::<TestEvent, TestPush>(
        &endpoint("/chsk"),
        ClientOptions {
            csrf_token: Some("wrong".into()),
            ..opts(TransportMode::Ajax, &new_uid("csrf"))
        },
    );
    let st = wait_state(&client, 5000, |s| s.last_close.is_some())
        .await
        .expect("the handshake fails");
    assert!(!st.open);
    assert_eq!(
        st.refusal(),
        Some(&chsk::client::Refusal::new(403, "bad CSRF token"))
    );
    let detail = st.last_close.and_then(|c| c.detail).unwrap_or_default();
    assert!(detail.contains("403"), "{detail}");
    client.disconnect();
}

#[wasm_bindgen_test]
async fn client_pings_keep_an_idle_websocket_open() {
    // Pings every 200 ms of silence; a missing Pong would close within 500 ms.
    let client = chsk_web::connect::<TestEvent, TestPush>(
        &endpoint("/chsk"),
        ClientOptions {
            ws_kalive: Duration::from_millis(200),
            ws_ping_timeout: Duration::from_millis(500),
            ..opts(TransportMode::Ws, &new_uid("ping"))
        },
    );
    client
        .wait_open(Duration::from_secs(5))
        .await
        .expect("opens");
    sleep(2500).await;
    let st = client.state();
    assert!(st.open, "{st:?}");
    assert_eq!(st.last_close, None, "never closed");
}
