//! The native client when things go wrong: server restart, backoff while the server is down,
//! a server that stops answering (client ping timeout), `Auto` fallback to Ajax when the
//! WebSocket upgrade is refused.

mod support;

use std::time::Duration;

use axum::{
    extract::{ws::Message, Request, WebSocketUpgrade},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use chsk::{
    client::{BackoffOptions, ClientOptions, CloseReason, Recovery, TransportMode},
    protocol::{Frame, Handshake},
    Codec, Transport,
};
use support::*;

#[tokio::test]
async fn server_restart_clients_reconnect_with_capped_backoff() {
    let (_server, _state, running) = start().await;
    let addr = running.addr;
    let url = running.url();
    let backoff = BackoffOptions {
        base: Duration::from_millis(40),
        cap: Duration::from_millis(160),
        jitter: 0.0,
    };
    let ws = open(
        &url,
        ClientOptions {
            backoff,
            ..opts(TransportMode::Ws, "alice")
        },
    )
    .await;
    let ajax = open(
        &url,
        ClientOptions {
            backoff,
            ..opts(TransportMode::Ajax, "alice")
        },
    )
    .await;
    let (mut ws_changes, mut ajax_changes) = (ws.state_changes(), ajax.state_changes());

    running.stop();
    // While the server is down, the scheduled delays grow and stop at the cap. They are read
    // from the state: `next_reconnect - last_close.at`.
    for (client, changes) in [(&ws, &mut ws_changes), (&ajax, &mut ajax_changes)] {
        let mut delays = Vec::new();
        while delays.len() < 6 {
            let change = tokio::time::timeout(WAIT, changes.recv())
                .await
                .expect("state changes while down")
                .expect("alive");
            if let (Some(at), Some(close)) = (change.new.next_reconnect, &change.new.last_close) {
                if change.old.next_reconnect != Some(at) {
                    delays.push((at - close.at).as_millis());
                }
            }
        }
        assert!(!client.state().open);
        // Retry 1 is immediate (never scheduled); then 40, 80, 160 (cap), 160, …
        assert_eq!(&delays[..4], [40, 80, 160, 160], "{delays:?}");
        assert!(delays.iter().all(|&d| d <= 160), "{delays:?}");
        assert!(client.state().reconnect_attempt >= 5);
    }

    // A new server on the same port: both clients come back on their own.
    let (server2, _state2, _running2) = start_on(addr).await;
    for client in [&ws, &ajax] {
        client.wait_open(WAIT).await.expect("reopened");
        let st = client.state();
        assert!(
            st.first_handshake,
            "the new server never saw this client id"
        );
        assert!(!st.first_open, "not the client's first open");
        assert_eq!(st.reconnect_attempt, 0, "backoff reset by the handshake");
        assert_eq!(
            st.recovery,
            Recovery::NotRecovered,
            "the new server has no history of the old one's streams"
        );
        let reply = ask_echo(client, "back").await;
        assert_eq!(reply.as_deref(), Ok("back from alice"));
    }
    assert_eq!(ws.state().transport, Some(Transport::Ws));
    assert_eq!(ajax.state().transport, Some(Transport::Ajax));
    let mut pushes = ws.pushes();
    // The first `pushes()` gets what was kept since the client was created: the app is told
    // that the pushes of the old server are lost, before the new server's.
    next_is_not_recovered(&mut pushes).await;
    server2
        .send_to_user("alice", CPush::Seq(9))
        .expect("pushed");
    assert_eq!(next_pushes(&mut pushes, 1).await, [CPush::Seq(9)]);
}

/// A WebSocket endpoint that sends a handshake, then never sends anything again.
async fn silent(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(|mut socket| async move {
        let hs = Frame::Handshake(Handshake {
            version: chsk::protocol::VERSION,
            uid: Some("alice".into()),
            client_id: "x".into(),
            data: None,
            first: true,
            recovered: false,
            positions: vec![],
        });
        let bytes = Codec::Postcard.encode_frame(&hs).expect("encodes");
        if socket.send(Message::Binary(bytes.into())).await.is_err() {
            return;
        }
        // Read (and ignore) whatever the client sends, pings included.
        while let Some(Ok(_)) = socket.recv().await {}
    })
}

#[tokio::test]
async fn client_ping_timeout_detects_a_silent_server() {
    let app = axum::Router::new().route("/chsk", get(silent));
    let running = serve_app(app, any_port()).await;
    let options = ClientOptions {
        ws_kalive: Duration::from_millis(150),
        ws_ping_timeout: Duration::from_millis(150),
        client_id: Some("x".into()),
        ..opts(TransportMode::Ws, "alice")
    };
    let client = open(&running.url(), options).await;
    let st = wait_state(&client, |s| {
        s.last_close_reason() == Some(&CloseReason::PingTimeout)
    })
    .await;
    assert!(st.ever_opened);
    // It reconnects (the silent server opens it again) and times out again.
    client.wait_open(WAIT).await.expect("reopened");
}

/// Refuses every WebSocket upgrade with `400`, as some proxies do.
async fn refuse_upgrades(req: Request, next: Next) -> Response {
    if req.headers().contains_key(http::header::UPGRADE) {
        return (http::StatusCode::BAD_REQUEST, "no websockets here").into_response();
    }
    next.run(req).await
}

#[tokio::test]
async fn auto_falls_back_to_ajax_when_the_upgrade_is_refused() {
    let (server, _state, running_plain) = start().await;
    // A normal server: Auto uses the WebSocket.
    let client = open(&running_plain.url(), opts(TransportMode::Auto, "alice")).await;
    assert_eq!(client.state().transport, Some(Transport::Ws));
    assert_eq!(client.state().last_close, None);

    let app = app(&server).layer(middleware::from_fn(refuse_upgrades));
    let running = serve_app(app, any_port()).await;
    let client = open(&running.url(), opts(TransportMode::Auto, "bob")).await;
    let st = client.state();
    assert_eq!(st.transport, Some(Transport::Ajax));
    assert_eq!(
        st.last_close_reason(),
        Some(&CloseReason::DowngradingWsToAjax)
    );
    let detail = st.last_close.and_then(|c| c.detail).unwrap_or_default();
    assert!(detail.contains("400"), "{detail}");
    let reply = ask_echo(&client, "poll").await;
    assert_eq!(reply.as_deref(), Ok("poll from bob"));

    // A requested reconnect tries the WebSocket again, then falls back again.
    let mut changes = client.state_changes();
    client.reconnect();
    let mut reasons = Vec::new();
    loop {
        let change = tokio::time::timeout(WAIT, changes.recv())
            .await
            .expect("changes")
            .expect("alive");
        if let Some(reason) = change.new.last_close_reason() {
            if reasons.last() != Some(reason) {
                reasons.push(reason.clone());
            }
        }
        if change.opened() {
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
    assert_eq!(client.state().transport, Some(Transport::Ajax));
}

#[tokio::test]
async fn server_close_reason_is_reported_then_the_client_reconnects() {
    let (server, _state, running) = start().await;
    for mode in [TransportMode::Ws, TransportMode::Ajax] {
        let client = open(&running.url(), opts(mode, "alice")).await;
        let mut changes = client.state_changes();
        // Ajax: let the first long-poll reach the server (it carries the `Close` frame; without
        // an outstanding poll the server just forgets the client, which re-handshakes).
        tokio::time::sleep(Duration::from_millis(150)).await;
        server.close_all("maintenance");
        let mut closed_with = None;
        while closed_with.is_none() {
            let change = tokio::time::timeout(WAIT, changes.recv())
                .await
                .expect("changes")
                .expect("alive");
            if change.closed() {
                closed_with = change.new.last_close_reason().cloned();
            }
        }
        assert_eq!(
            closed_with,
            Some(CloseReason::ServerClose("maintenance".into())),
            "{mode:?}"
        );
        client.wait_open(WAIT).await.expect("reconnects");
    }
}

#[tokio::test]
async fn send_buffer_flushes_after_a_reconnect() {
    for mode in [TransportMode::Ws, TransportMode::Ajax] {
        let (_server, _state, running) = start().await;
        let addr = running.addr;
        let client = open(
            &running.url(),
            ClientOptions {
                send_buffer: Some(4),
                ..opts(mode, "alice")
            },
        )
        .await;
        running.stop();
        wait_state(&client, |s| !s.open).await;
        client
            .send(CEvent::Note("while down".into()))
            .expect("buffered");
        let asking = client.clone();
        let reply = tokio::spawn(async move { ask_echo(&asking, "queued").await });
        let (_server2, state2, _running2) = start_on(addr).await;
        assert_eq!(
            reply.await.expect("joined").as_deref(),
            Ok("queued from alice"),
            "{mode:?}"
        );
        eventually(|| state2.notes() == 1).await;
    }
}
