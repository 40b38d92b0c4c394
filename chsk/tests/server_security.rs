//! The checks before any state exists (PROTOCOL.md section 1): each refusal has its documented
//! status and body, on both transports, and the hooks run in protocol order.
#![allow(clippy::unwrap_used)]

mod support;

use chsk::server::{AllowedOrigins, Rejection};
use support::*;

/// The status and body of a refused WebSocket and of a refused Ajax handshake (they agree).
async fn refused(req: chsk::server::MemRequest) -> (u16, String) {
    let ajax = req.clone().ajax().get("handshake=1").await;
    let ws = req.connect().unwrap_err();
    assert_eq!(ajax.status, ws.status());
    assert_eq!(&ajax.body[..], ws.body().as_bytes());
    (ws.status().as_u16(), ws.body().to_owned())
}

#[tokio::test(start_paused = true)]
async fn missing_or_invalid_client_id_or_codec_is_400() {
    let server = server();
    for query in ["uid=a", "client-id=", "client-id=has%20space"] {
        assert_eq!(
            refused(server.mem_request(query)).await,
            (400, "missing or invalid client-id".into())
        );
    }
    assert_eq!(
        refused(server.mem_request("client-id=x&codec=json")).await,
        (400, "codec mismatch: server uses postcard".into())
    );
    let _ok = open(&server, "client-id=bystander").await;
}

#[tokio::test(start_paused = true)]
async fn csrf_token_is_checked_from_query_or_header() {
    let server = builder()
        .csrf_token(|_req| Some("s3cret".to_owned()))
        .build();
    let bad = (403, "bad CSRF token".to_owned());
    assert_eq!(refused(server.mem_request("client-id=x")).await, bad);
    let wrong = server.mem_request("client-id=x&csrf-token=wrong");
    assert_eq!(refused(wrong).await, bad);
    assert!(server.connect_mem("client-id=x&csrf-token=s3cret").is_ok());
    for header in ["x-csrf-token", "x-xsrf-token"] {
        let req = server.mem_request("client-id=y").header(header, "s3cret");
        assert!(req.clone().connect().is_ok(), "{header}");
        assert_eq!(req.ajax().get("handshake=1").await.status, 200);
        let wrong = server.mem_request("client-id=z").header(header, "nope");
        assert_eq!(wrong.ajax().post_raw(vec![]).await.status, 403);
    }
}

#[tokio::test(start_paused = true)]
async fn csrf_without_configuration_rejects_everything() {
    let server = chsk::Server::builder(State::default())
        .handler(echo_handler())
        .build();
    assert_eq!(
        refused(server.mem_request("client-id=x")).await,
        (403, "bad CSRF token".into())
    );
}

#[tokio::test(start_paused = true)]
async fn bad_origin_is_403() {
    let server = builder()
        .allowed_origins(AllowedOrigins::only(["http://good.example"]))
        .build();
    let evil = server
        .mem_request("client-id=x")
        .header("origin", "http://evil.example");
    assert_eq!(refused(evil).await, (403, "bad origin".into()));
    assert_eq!(refused(server.mem_request("client-id=x")).await.0, 403);
    let good = server
        .mem_request("client-id=x")
        .header("origin", "http://good.example");
    assert!(good.connect().is_ok());
    let referer = server
        .mem_request("client-id=x")
        .header("referer", "http://good.example/page");
    assert!(referer.connect().is_ok());
}

#[tokio::test(start_paused = true)]
async fn unauthorized_is_401_and_reject_hook_runs_first() {
    let server = builder()
        .csrf_token(|_| Some("t".to_owned()))
        .authorize(|req| req.header("authorization") == Some("Bearer ok"))
        .reject(|req| {
            (req.query("banned") == Some("1"))
                .then(|| Rejection::new(http::StatusCode::IM_A_TEAPOT, "go away"))
        })
        .build();
    assert_eq!(
        refused(server.mem_request("client-id=x&csrf-token=t")).await,
        (401, "unauthorized".into())
    );
    let authorized = server
        .mem_request("client-id=x&csrf-token=t")
        .header("authorization", "Bearer ok");
    assert!(authorized.connect().is_ok());
    // The reject hook answers before the CSRF check.
    assert_eq!(
        refused(server.mem_request("client-id=x&banned=1")).await,
        (418, "go away".into())
    );
    assert!(server.metrics().rejected_requests >= 2);
}
