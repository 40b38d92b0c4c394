//! The native client when the server refuses it, or reports errors: a typed refusal with status
//! and body on WebSocket, Ajax and Auto; no retry storm on a `403` (attempts counted by the
//! server); a credentials provider that fetches a fresh CSRF token; a provider that gives up;
//! a retryable `503`; a `429` that waits for `Retry-After`; server `Error` frames and Ajax
//! `400`s reaching the app; the incoming frame limit; `send` before the first handshake; the
//! bounded buffer of the first `pushes()`.
#![allow(clippy::unwrap_used)] // test helpers

mod support;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axum::{
    extract::Request,
    middleware::{self, Next},
    response::IntoResponse,
    routing::get,
};
use chsk::{
    client::{
        Client, ClientOptions, CloseReason, Credentials, CredentialsRequest, Refusal, ServerError,
        TransportMode,
    },
    CbError, Transport,
};
use support::*;

/// An event enum the server has no handler for (its ids are unknown there).
#[chsk::events(ns = "stray")]
#[derive(Debug, Clone)]
pub enum Stray {
    /// Unknown to the server.
    Poke(u32),
}

fn with_token(mode: TransportMode, token: &str) -> ClientOptions {
    ClientOptions {
        csrf_token: Some(token.into()),
        ..opts(mode, "alice")
    }
}

fn bad_csrf() -> Refusal {
    Refusal::new(403, "bad CSRF token")
}

#[tokio::test]
async fn a_403_is_the_same_typed_refusal_on_every_transport_and_is_not_retried() {
    for (mode, attempts) in [
        (TransportMode::Ws, 1),
        (TransportMode::Ajax, 1),
        // Auto: the WebSocket refusal may be a proxy's, so Ajax is tried once.
        (TransportMode::Auto, 2),
    ] {
        let server = CsrfServer::start("good").await;
        let client = TestClient::connect(&server.running.url(), with_token(mode, "stale"));
        let st = wait_state(&client, |s| s.stopped).await;
        assert_eq!(st.refusal(), Some(&bad_csrf()), "{mode:?}: {st:?}");
        assert_eq!(
            st.last_close_reason(),
            Some(&CloseReason::Refused(bad_csrf()))
        );
        assert!(!st.open && !st.ever_opened);
        assert_eq!(st.next_reconnect, None, "{mode:?}");
        assert_eq!(client.opened().await, Err(CbError::Closed), "terminal");
        assert_eq!(client.send(CEvent::Note("x".into())), Err(CbError::Closed));
        // No retry storm: the server saw exactly the attempts above, and no more come.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(server.requests(), attempts, "{mode:?}");
        assert_eq!(client.metrics().connect_attempts, attempts as u64);
        // The app can try again (with the same stale token: refused again, stopped again).
        client.reconnect();
        wait_state(&client, |s| s.stopped).await;
        assert_eq!(server.requests(), 2 * attempts, "{mode:?}");
    }
}

/// A provider that keeps its token until refused, then fetches `/csrf-token`.
fn fetching_provider(
    base: String,
    calls: Arc<Mutex<Vec<Option<u16>>>>,
) -> impl Fn(
    CredentialsRequest,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Credentials>> + Send>>
       + Send
       + Sync
       + 'static {
    move |req: CredentialsRequest| {
        calls
            .lock()
            .unwrap()
            .push(req.refusal.as_ref().map(|r| r.status));
        let url = format!("{base}/csrf-token");
        Box::pin(async move {
            match req.refusal {
                Some(r) if !r.retryable() => {
                    let token = reqwest::get(url).await.ok()?.text().await.ok()?;
                    Some(Credentials::csrf(token))
                }
                _ => Some(req.current),
            }
        })
    }
}

#[tokio::test]
async fn a_stale_csrf_token_is_replaced_by_the_provider_and_the_client_opens() {
    for mode in [TransportMode::Ws, TransportMode::Ajax, TransportMode::Auto] {
        let server = CsrfServer::start("fresh").await;
        let calls = Arc::new(Mutex::new(Vec::new()));
        let base = format!("http://{}", server.running.addr);
        let client = TestClient::connect_with_credentials(
            &server.running.url(),
            with_token(mode, "stale"),
            fetching_provider(base, calls.clone()),
        );
        client
            .wait_open(WAIT)
            .await
            .expect("opens with the fresh token");
        let st = client.state();
        assert_eq!(st.uid.as_deref(), Some("alice"));
        if mode != TransportMode::Ajax {
            assert_eq!(st.transport, Some(Transport::Ws), "{mode:?}");
        }
        let reply = ask_echo(&client, "hi").await;
        assert_eq!(reply.as_deref(), Ok("hi from alice"));
        // Asked before every attempt: first with nothing to report, then with the 403.
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls.first(), Some(&None), "{mode:?}: {calls:?}");
        assert!(calls.contains(&Some(403)), "{mode:?}: {calls:?}");
    }
}

#[tokio::test]
async fn after_a_restart_with_a_new_token_the_provider_recovers_both_transports() {
    let server = CsrfServer::start("one").await;
    let base = format!("http://{}", server.running.addr);
    let mut clients = Vec::new();
    for mode in [TransportMode::Ws, TransportMode::Ajax] {
        let client = TestClient::connect_with_credentials(
            &server.running.url(),
            with_token(mode, "one"),
            fetching_provider(base.clone(), Arc::default()),
        );
        client.wait_open(WAIT).await.expect("opens");
        clients.push(client);
    }
    // "Restart": a new token, every connection cut.
    let addr = server.running.addr;
    *server.token.lock().unwrap() = "two".into();
    let token = server.token.clone();
    server.running.stop();
    let reference = token.clone();
    let server2 = builder(State::default())
        .csrf_token(move |_| Some(reference.lock().unwrap().clone()))
        .build();
    let served = token.clone();
    let app2 = app(&server2).route(
        "/csrf-token",
        get(move || {
            let token = served.lock().unwrap().clone();
            async move { token }
        }),
    );
    let _running2 = serve_app(app2, addr).await;
    for client in &clients {
        wait_state(client, |s| s.open && s.reconnect_attempt == 0).await;
        let reply = ask_echo(client, "back").await;
        assert_eq!(reply.as_deref(), Ok("back from alice"));
    }
}

#[tokio::test]
async fn a_provider_that_gives_up_stops_the_client() {
    let server = CsrfServer::start("good").await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let client = TestClient::connect_with_credentials(
        &server.running.url(),
        with_token(TransportMode::Ws, "stale"),
        move |req: CredentialsRequest| {
            counted.fetch_add(1, Ordering::SeqCst);
            std::future::ready(req.refusal.is_none().then_some(req.current))
        },
    );
    let st = wait_state(&client, |s| s.stopped).await;
    assert_eq!(st.refusal(), Some(&bad_csrf()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "asked, refused, asked, gave up"
    );
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn a_503_is_retried_and_the_client_opens_when_it_ends() {
    let (server, _state, _) = start().await;
    let refusals = Arc::new(AtomicUsize::new(0));
    let counter = refusals.clone();
    let app = app(&server).layer(middleware::from_fn(move |req: Request, next: Next| {
        let counter = counter.clone();
        async move {
            if counter.fetch_add(1, Ordering::SeqCst) < 2 {
                return (http::StatusCode::SERVICE_UNAVAILABLE, "warming up").into_response();
            }
            next.run(req).await
        }
    }));
    let running = serve_app(app, any_port()).await;
    {
        let client = TestClient::connect(&running.url(), opts(TransportMode::Ws, "alice"));
        let mut changes = client.state_changes();
        client
            .wait_open(WAIT)
            .await
            .expect("opens once the server is warm");
        let mut seen = Vec::new();
        while let Ok(Some(c)) =
            tokio::time::timeout(Duration::from_millis(50), changes.recv()).await
        {
            if let Some(r) = c.new.refusal() {
                seen.push(r.clone());
            }
        }
        assert!(
            seen.contains(&Refusal::new(503, "warming up")),
            "the refusal was visible: {seen:?}"
        );
        assert_eq!(client.metrics().connect_attempts, 3);
    }
}

#[tokio::test]
async fn server_errors_reach_the_app_on_both_transports() {
    let (server, _state, _) = start().await;
    let running = serve_app(app(&server), any_port()).await;
    for mode in [TransportMode::Ws, TransportMode::Ajax] {
        let client = Client::<Stray, CPush>::connect(&running.url(), opts(mode, "alice"));
        client.wait_open(WAIT).await.expect("opens");
        let mut errors = client.server_errors();
        client.send(Stray::Poke(1)).expect("sent");
        let e: ServerError = tokio::time::timeout(WAIT, errors.recv())
            .await
            .expect("an error in time")
            .expect("alive");
        assert!(e.message.contains("stray/poke"), "{mode:?}: {e:?}");
        match mode {
            TransportMode::Ajax => assert_eq!(e.status, Some(400)),
            _ => assert_eq!(e.status, None, "a WebSocket Error frame"),
        }
        let m = client.metrics();
        assert_eq!(m.server_errors, 1);
        assert_eq!(m.last_server_error, Some(e));
        assert!(client.state().open, "an error does not close");
    }
}

#[tokio::test]
async fn frames_over_max_frame_bytes_close_with_a_typed_reason() {
    for mode in [TransportMode::Ws, TransportMode::Ajax] {
        let (server, _state, running) = start().await;
        let client = open(
            &running.url(),
            ClientOptions {
                max_frame_bytes: 300,
                ..opts(mode, "alice")
            },
        )
        .await;
        // Ajax: the push waits in the client's queue for its next poll.
        server
            .send_to_user("alice", CPush::Text("x".repeat(1000)))
            .expect("pushed");
        let st = wait_state(&client, |s| {
            matches!(
                s.last_close_reason(),
                Some(CloseReason::FrameTooLarge { .. })
            )
        })
        .await;
        let Some(CloseReason::FrameTooLarge { size, max }) = st.last_close_reason() else {
            unreachable!()
        };
        assert_eq!(*max, 300, "{mode:?}");
        assert!(*size > 1000, "{mode:?}: {size}");
        // It reconnects; small frames still pass.
        client.wait_open(WAIT).await.expect("reopens");
        let reply = ask_echo(&client, "s").await;
        assert_eq!(reply.as_deref(), Ok("s from alice"));
    }
}

#[tokio::test]
async fn send_right_after_connect_works_by_default() {
    for mode in [TransportMode::Ws, TransportMode::Ajax, TransportMode::Auto] {
        let (_server, state, running) = start().await;
        let client = TestClient::connect(&running.url(), opts(mode, "alice"));
        // Not open yet: buffered.
        client.send(CEvent::Note("early".into())).expect("buffered");
        let reply = ask_echo(&client, "early").await;
        assert_eq!(reply.as_deref(), Ok("early from alice"), "{mode:?}");
        eventually(|| state.notes() == 1).await;
    }
}

#[tokio::test]
async fn pushes_before_the_first_pushes_call_are_bounded_and_counted() {
    for mode in [TransportMode::Ws, TransportMode::Ajax] {
        let (server, _state, running) = start().await;
        let client = open(
            &running.url(),
            ClientOptions {
                push_buffer: 3,
                ..opts(mode, "alice")
            },
        )
        .await;
        for i in 0..10 {
            server.send_to_user("alice", CPush::Seq(i)).expect("pushed");
        }
        eventually(|| client.metrics().pushes_dropped == 7).await;
        let mut pushes = client.pushes();
        assert_eq!(
            next_pushes(&mut pushes, 3).await,
            [CPush::Seq(0), CPush::Seq(1), CPush::Seq(2)],
            "{mode:?}: the first ones are kept"
        );
        server
            .send_to_user("alice", CPush::Seq(99))
            .expect("pushed");
        assert_eq!(next_pushes(&mut pushes, 1).await, [CPush::Seq(99)]);
        assert_eq!(
            client.metrics().pushes_dropped,
            7,
            "no more drops once called"
        );
    }
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let (server, _state, _) = start().await;
    let refused = Arc::new(AtomicUsize::new(0));
    let counter = refused.clone();
    let app = app(&server).layer(middleware::from_fn(move |req: Request, next: Next| {
        let counter = counter.clone();
        async move {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                return (
                    http::StatusCode::TOO_MANY_REQUESTS,
                    [(http::header::RETRY_AFTER, "1")],
                    "too many connections",
                )
                    .into_response();
            }
            next.run(req).await
        }
    }));
    let running = serve_app(app, any_port()).await;
    for mode in [TransportMode::Ws, TransportMode::Ajax] {
        refused.store(0, Ordering::SeqCst);
        let client = TestClient::connect(&running.url(), opts(mode, "alice"));
        let st = wait_state(&client, |s| s.refusal().is_some()).await;
        let refusal = st.refusal().cloned().expect("refused");
        assert_eq!(refusal.status, 429);
        assert_eq!(
            refusal.retry_after,
            Some(Duration::from_secs(1)),
            "{mode:?}"
        );
        let (at, closed) = (
            st.next_reconnect.expect("retried"),
            st.last_close.as_ref().expect("closed").at,
        );
        assert!(at - closed >= Duration::from_secs(1), "{mode:?}: {st:?}");
        client.wait_open(WAIT).await.expect("opens after the wait");
    }
}
