//! The browser client when the server refuses it or reports errors: a typed refusal with status
//! and body on WebSocket (learned by the HTTP probe: the browser hides a refused upgrade's
//! status), Ajax and Auto; no retry storm on a `403` (requests counted by the server); a stale
//! CSRF token replaced through the credentials provider; `send` right after `connect`; the
//! bounded buffer of the first `pushes()`; server errors on WebSocket and Ajax; the incoming
//! frame limit.
#![cfg(target_arch = "wasm32")]

mod common;

use std::time::Duration;

use chsk::{
    client::{ClientOptions, CloseReason, Credentials, CredentialsRequest, Refusal, TransportMode},
    CbError, Transport,
};
use chsk_web::Ajax;
use common::*;
use futures::StreamExt;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// An event enum the server has no handler for.
#[chsk::events(ns = "stray")]
#[derive(Debug, Clone)]
pub enum Stray {
    /// Unknown to the server.
    Poke(u32),
}

fn stale(mode: TransportMode, uid: &str) -> ClientOptions {
    ClientOptions {
        csrf_token: Some("stale".into()),
        ..opts(mode, uid)
    }
}

/// How many requests of this client reached `/chsk`.
async fn requests_of(client: &TestClient) -> usize {
    let url = endpoint("/attempts");
    let resp = Ajax::get(url)
        .query("client-id", &client.state().client_id)
        .send()
        .await
        .expect("/attempts answers");
    resp.text().parse().expect("a number")
}

#[wasm_bindgen_test]
async fn a_403_is_the_same_typed_refusal_on_every_transport_and_is_not_retried() {
    // Requests per attempt: WebSocket upgrade + HTTP probe; Ajax handshake; Auto: WebSocket
    // upgrade, then the Ajax handshake (the fallback is the probe).
    for (mode, requests, attempts) in [
        (TransportMode::Ws, 2, 1),
        (TransportMode::Ajax, 1, 1),
        (TransportMode::Auto, 2, 2),
    ] {
        let client = chsk_web::connect::<TestEvent, TestPush>(
            &endpoint("/chsk"),
            stale(mode, &new_uid("refused")),
        );
        let st = wait_state(&client, 5000, |s| s.stopped)
            .await
            .expect("stops on the refusal");
        assert_eq!(
            st.last_close_reason(),
            Some(&CloseReason::Refused(Refusal::new(403, "bad CSRF token"))),
            "{mode:?}: {st:?}"
        );
        assert!(!st.open && st.next_reconnect.is_none(), "{mode:?}");
        assert_eq!(
            client.wait_open(Duration::from_secs(1)).await,
            Err(CbError::Closed),
            "terminal: no waiting"
        );
        sleep(1000).await;
        assert_eq!(requests_of(&client).await, requests, "{mode:?}: no retries");
        assert_eq!(client.metrics().connect_attempts, attempts, "{mode:?}");
    }
}

#[wasm_bindgen_test]
async fn a_stale_token_is_replaced_through_the_provider() {
    for mode in [TransportMode::Ws, TransportMode::Ajax, TransportMode::Auto] {
        let uid = new_uid("fresh");
        let client = chsk_web::connect_with_credentials::<TestEvent, TestPush>(
            &endpoint("/chsk"),
            stale(mode, &uid),
            |req: CredentialsRequest| async move {
                match req.refusal {
                    Some(r) if r.status == 403 => Some(Credentials::csrf(CSRF_TOKEN)),
                    _ => Some(req.current),
                }
            },
        );
        let mut changes = client.state_changes();
        let st = client
            .wait_open(Duration::from_secs(10))
            .await
            .expect("opens with the fresh token");
        if mode != TransportMode::Ajax {
            assert_eq!(st.transport, Some(Transport::Ws), "{mode:?}");
        }
        let mut refused = false;
        while let Some(Some(c)) = within(10, changes.next()).await {
            refused |= c.new.refusal().is_some_and(|r| r.status == 403);
        }
        assert!(refused, "{mode:?}: the refusal was visible");
        let me = client
            .send_with_reply(test_event::WhoAmI, Duration::from_secs(5))
            .await;
        assert_eq!(me, Ok(Some(uid)));
    }
}

#[wasm_bindgen_test]
async fn refresh_csrf_from_fetches_the_new_token() {
    for mode in [TransportMode::Ws, TransportMode::Ajax] {
        let client = chsk_web::connect_with_credentials::<TestEvent, TestPush>(
            &endpoint("/chsk"),
            stale(mode, &new_uid("refresh")),
            chsk_web::refresh_csrf_from(&endpoint("/csrf-token")),
        );
        client
            .wait_open(Duration::from_secs(10))
            .await
            .expect("opens with the fetched token");
    }
}

#[wasm_bindgen_test]
async fn refresh_csrf_from_gives_up_when_the_token_is_not_the_problem() {
    // The server refuses the very token it serves: fetching it again cannot help.
    let client = chsk_web::connect_with_credentials::<TestEvent, TestPush>(
        &endpoint("/chsk-refuse"),
        opts(TransportMode::Ajax, &new_uid("maint")),
        chsk_web::refresh_csrf_from(&endpoint("/csrf-token")),
    );
    let st = wait_state(&client, 5000, |s| s.stopped)
        .await
        .expect("stops");
    assert_eq!(
        st.refusal(),
        Some(&Refusal::new(403, "closed for maintenance"))
    );
    assert_eq!(
        client.metrics().connect_attempts,
        2,
        "one retry, then gave up"
    );
}

#[wasm_bindgen_test]
async fn send_right_after_connect_works() {
    // The README's example: `send` right after `connect`, before the handshake.
    for mode in [TransportMode::Ws, TransportMode::Ajax, TransportMode::Auto] {
        let client = connect("/chsk", mode, &new_uid("early"));
        assert!(!client.state().open);
        let mut pushes = client.pushes();
        client
            .send(test_event::PushMe("first".into()))
            .expect("buffered until the handshake");
        client
            .send(test_event::PushMe("second".into()))
            .expect("buffered");
        let echo = client
            .send_with_reply(test_event::Echo("early".into()), Duration::from_secs(5))
            .await;
        assert_eq!(echo.as_deref(), Ok("early"), "{mode:?}");
        let mut got = Vec::new();
        for _ in 0..2 {
            match within(5000, pushes.next()).await.flatten() {
                Some(Ok(TestPush::Said(t))) => got.push(t),
                other => panic!("{mode:?}: expected a push, got {other:?}"),
            }
        }
        if mode == TransportMode::Ajax {
            // Sent in order, but each Ajax event is its own POST: the server may handle them
            // in any order.
            got.sort();
        }
        assert_eq!(got, ["first", "second"], "{mode:?}: in order");
    }
}

#[wasm_bindgen_test]
async fn pushes_before_the_first_pushes_call_are_bounded_and_counted() {
    let uid = new_uid("bounded");
    let client = chsk_web::connect::<TestEvent, TestPush>(
        &endpoint("/chsk"),
        ClientOptions {
            push_buffer: 3,
            ..opts(TransportMode::Ws, &uid)
        },
    );
    for i in 0..10 {
        client
            .send(test_event::PushMe(format!("p{i}")))
            .expect("sent or buffered");
    }
    let mut waited = 0;
    while client.metrics().pushes_dropped < 7 {
        assert!(waited < 5000, "metrics: {:?}", client.metrics());
        sleep(20).await;
        waited += 20;
    }
    let mut pushes = client.pushes();
    let mut got = Vec::new();
    for _ in 0..3 {
        match within(5000, pushes.next()).await.flatten() {
            Some(Ok(TestPush::Said(t))) => got.push(t),
            other => panic!("expected a push, got {other:?}"),
        }
    }
    assert_eq!(got, ["p0", "p1", "p2"], "the first ones are kept");
    assert_eq!(client.metrics().pushes_dropped, 7);
    client
        .send(test_event::PushMe("later".into()))
        .expect("open");
    let later = within(5000, pushes.next()).await.flatten();
    assert_eq!(later, Some(Ok(TestPush::Said("later".into()))));
}

#[wasm_bindgen_test]
async fn server_errors_reach_the_app_on_both_transports() {
    for mode in [TransportMode::Ws, TransportMode::Ajax] {
        let client =
            chsk_web::connect::<Stray, TestPush>(&endpoint("/chsk"), opts(mode, &new_uid("err")));
        client
            .wait_open(Duration::from_secs(5))
            .await
            .expect("opens");
        let (tx, mut rx) = futures::channel::mpsc::unbounded();
        client.on_server_error(move |e| {
            let _ = tx.unbounded_send(e);
        });
        client.send(Stray::Poke(1)).expect("sent");
        let e = within(5000, rx.next())
            .await
            .flatten()
            .expect("the server's error");
        assert!(e.message.contains("stray/poke"), "{mode:?}: {e:?}");
        let want_status = match mode {
            TransportMode::Ajax => Some(400),
            _ => None,
        };
        assert_eq!(e.status, want_status, "{mode:?}");
        assert_eq!(client.metrics().server_errors, 1, "{mode:?}");
        assert!(client.state().open, "an error does not close");
    }
}

#[wasm_bindgen_test]
async fn frames_over_max_frame_bytes_close_with_a_typed_reason() {
    for mode in [TransportMode::Ws, TransportMode::Ajax] {
        let client = chsk_web::connect::<TestEvent, TestPush>(
            &endpoint("/chsk"),
            ClientOptions {
                max_frame_bytes: 300,
                ..opts(mode, &new_uid("big"))
            },
        );
        client
            .wait_open(Duration::from_secs(5))
            .await
            .expect("opens");
        client
            .send(test_event::PushMe("x".repeat(1000)))
            .expect("sent");
        let st = wait_state(&client, 5000, |s| {
            matches!(
                s.last_close_reason(),
                Some(CloseReason::FrameTooLarge { .. })
            )
        })
        .await
        .expect("closed on the big frame");
        let Some(CloseReason::FrameTooLarge { size, max }) = st.last_close_reason() else {
            unreachable!()
        };
        assert_eq!(*max, 300);
        assert!(*size > 1000, "{mode:?}: {size}");
        client
            .wait_open(Duration::from_secs(5))
            .await
            .expect("reopens");
        client.disconnect();
    }
}
