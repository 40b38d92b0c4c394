//! Security and bad input: each refusal has its documented status, and another client on the
//! same server keeps working.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use chsk::server::{AllowedOrigins, Limits, RateLimit, Rejection};
use common::*;

/// A client that must keep working whatever the others do.
async fn still_works(t: &TestServer) {
    let mut ws = t.ws("client-id=bystander&uid=zed").await;
    ws.handshake().await;
    ws.send(&request(1, TestEvent::Echo { text: "ok".into() }))
        .await;
    let (_, text): (u32, String) = reply_ok(ws.frame().await);
    assert_eq!(text, "ok from zed");
}

#[tokio::test]
async fn missing_or_invalid_client_id_is_400() {
    let t = start().await;
    for query in ["uid=a", "client-id=", "client-id=has%20space"] {
        let (status, body) = t.ws_status(query, &[]).await;
        assert_eq!(
            (status, body.as_str()),
            (400, "missing or invalid client-id")
        );
        let (status, _) = t.ajax(query).get("handshake=1").await;
        assert_eq!(status, 400);
    }
    let (status, body) = t.ws_status("client-id=x&codec=json", &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (400, "codec mismatch: server uses postcard")
    );
    still_works(&t).await;
}

#[tokio::test]
async fn csrf_token_is_checked_from_query_or_header() {
    let server = builder()
        .csrf_token(|_req| Some("s3cret".to_owned()))
        .build();
    let t = serve(server).await;
    assert_eq!(
        t.ws_status("client-id=x", &[]).await,
        (403, "bad CSRF token".into())
    );
    assert_eq!(
        t.ws_status("client-id=x&csrf-token=wrong", &[]).await,
        (403, "bad CSRF token".into())
    );
    assert_eq!(
        t.ws_status("client-id=x&csrf-token=s3cret", &[]).await.0,
        101
    );
    // Ajax: the header works too.
    let ajax = t.ajax("client-id=y");
    let resp = ajax
        .http
        .get(format!("{}&handshake=1", ajax.url))
        .header("x-csrf-token", "s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = ajax
        .http
        .post(&ajax.url)
        .header("x-xsrf-token", "nope")
        .body(vec![])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let mut ok = t.ws("client-id=bystander&csrf-token=s3cret").await;
    ok.handshake().await;
}

#[tokio::test]
async fn csrf_without_configuration_rejects_everything() {
    let server = chsk::Server::builder(State::default())
        .handler(echo_handler())
        .build();
    let t = serve(server).await;
    assert_eq!(
        t.ws_status("client-id=x", &[]).await,
        (403, "bad CSRF token".into())
    );
}

fn echo_handler() -> impl chsk::handler::IntoHandler<
    State,
    Handler = impl chsk::Handler<State, Variant = test_event::Echo>,
> {
    common::echo_for_tests()
}

#[tokio::test]
async fn bad_origin_is_403() {
    let server = builder()
        .allowed_origins(AllowedOrigins::only(["http://good.example"]))
        .build();
    let t = serve(server).await;
    assert_eq!(
        t.ws_status("client-id=x", &[("origin", "http://evil.example")])
            .await,
        (403, "bad origin".into())
    );
    assert_eq!(t.ws_status("client-id=x", &[]).await.0, 403);
    assert_eq!(
        t.ws_status("client-id=x", &[("origin", "http://good.example")])
            .await
            .0,
        101
    );
    assert_eq!(
        t.ws_status("client-id=x", &[("referer", "http://good.example/page")])
            .await
            .0,
        101
    );
}

#[tokio::test]
async fn unauthorized_is_401_and_reject_hook_runs_first() {
    let server = builder()
        .csrf_token(|_| Some("t".to_owned()))
        .authorize(|req| req.header("authorization") == Some("Bearer ok"))
        .reject(|req| {
            (req.query("banned") == Some("1"))
                .then(|| Rejection::new(http::StatusCode::IM_A_TEAPOT, "go away"))
        })
        .build();
    let t = serve(server).await;
    assert_eq!(
        t.ws_status("client-id=x&csrf-token=t", &[]).await,
        (401, "unauthorized".into())
    );
    assert_eq!(
        t.ws_status(
            "client-id=x&csrf-token=t",
            &[("authorization", "Bearer ok")]
        )
        .await
        .0,
        101
    );
    // The reject hook answers before the CSRF check.
    assert_eq!(
        t.ws_status("client-id=x&banned=1", &[]).await,
        (418, "go away".into())
    );
    assert!(t.server.metrics().rejected_requests >= 2);
}

#[tokio::test]
async fn too_many_connections_per_user_is_429() {
    let server = builder()
        .limits(Limits {
            max_conns_per_user: 2,
            ..Limits::default()
        })
        .build();
    let t = serve(server).await;
    let mut a = t.ws("client-id=a&uid=eve").await;
    let mut b = t.ws("client-id=b&uid=eve").await;
    a.handshake().await;
    b.handshake().await;
    assert_eq!(
        t.ws_status("client-id=c&uid=eve", &[]).await,
        (429, "too many connections".into())
    );
    // Replacing one's own connection is fine.
    let mut a2 = t.ws("client-id=a&uid=eve").await;
    a2.handshake().await;
    still_works(&t).await;
}

#[tokio::test]
async fn malformed_frame_gets_an_error_and_the_connection_stays() {
    let t = start().await;
    let mut ws = t.ws("client-id=bad").await;
    ws.handshake().await;
    ws.send_raw(vec![0xff, 0xfe, 0x01]).await;
    match ws.frame().await {
        chsk::protocol::Frame::Error { message } => {
            assert!(message.starts_with("malformed frame: "), "{message}")
        }
        other => panic!("expected an error frame, got {other:?}"),
    }
    ws.send(&request(
        1,
        TestEvent::Echo {
            text: "after".into(),
        },
    ))
    .await;
    let _: (u32, String) = reply_ok(ws.frame().await);
    assert_eq!(t.server.metrics().malformed_frames, 1);
    still_works(&t).await;
}

#[tokio::test]
async fn oversized_frame_closes_with_1009() {
    let t = start().await; // max_frame_bytes 64 KiB
    let mut ws = t.ws("client-id=big").await;
    ws.handshake().await;
    ws.send_raw(vec![0; 64 * 1024 + 1]).await;
    let (reason, code) = ws.closed().await;
    assert_eq!(reason.as_deref(), Some("frame too large"));
    assert_eq!(code, Some(1009));
    assert_eq!(t.server.metrics().oversized_frames, 1);
    still_works(&t).await;
}

#[tokio::test]
async fn flood_closes_with_1008() {
    let server = builder()
        .limits(Limits {
            rate_limit: Some(RateLimit {
                per_second: 10,
                burst: 20,
            }),
            ..Limits::default()
        })
        .build();
    let t = serve(server).await;
    let mut ws = t.ws("client-id=flood").await;
    ws.handshake().await;
    for _ in 0..100 {
        ws.send(&chsk::protocol::Frame::Ping).await;
    }
    let (reason, code) = ws.closed().await;
    assert_eq!(reason.as_deref(), Some("rate limit exceeded"));
    assert_eq!(code, Some(1008));
    assert_eq!(t.server.metrics().rate_limited, 1);
    tokio::time::sleep(Duration::from_millis(10)).await;
    still_works(&t).await;
}

#[tokio::test]
async fn ajax_flood_is_429() {
    let server = builder()
        .limits(Limits {
            rate_limit: Some(RateLimit {
                per_second: 1,
                burst: 5,
            }),
            ..Limits::default()
        })
        .build();
    let t = serve(server).await;
    let ajax = t.ajax("client-id=flood");
    ajax.handshake().await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(ajax.post(&chsk::protocol::Frame::Ping).await.0);
    }
    assert_eq!(&statuses[..5], &[200; 5]);
    assert!(statuses[5..].contains(&429), "{statuses:?}");
    assert!(t.server.metrics().rate_limited >= 1);
    still_works(&t).await;
}

#[tokio::test]
async fn frame_over_the_socket_cap_also_closes_with_1009() {
    let t = start().await; // max_frame_bytes 64 KiB; the socket refuses more than 128 KiB
    let mut ws = t.ws("client-id=huge").await;
    ws.handshake().await;
    ws.send_raw(vec![0; 512 * 1024]).await;
    let (reason, code) = ws.closed().await;
    assert_eq!(reason.as_deref(), Some("frame too large"));
    assert_eq!(code, Some(1009));
    still_works(&t).await;
}
