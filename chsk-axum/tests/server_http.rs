//! The axum routes over loopback HTTP: the real WebSocket upgrade, Ajax `GET`/`POST` with the
//! statuses, bodies and headers chsk answers, and refusals (client id, codec, CSRF, origin) as
//! HTTP responses. Server behaviour itself is tested in `chsk/tests` (in memory).
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use chsk::{
    protocol::Frame,
    server::{AllowedOrigins, Limits, Timings},
};
use futures_util::{SinkExt, StreamExt};
use support::{raw::*, *};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_websocket_carries_frames_both_ways() {
    let (server, state, running) = start().await;
    let (mut ws, hs) = running.ws("client-id=tab1&uid=alice").await;
    assert_eq!(hs.uid.as_deref(), Some("alice"));
    assert_eq!(hs.client_id, "tab1");
    assert!(hs.first);
    ws.send(&request(
        7,
        CEvent::Echo {
            text: "hello".into(),
        },
    ))
    .await;
    assert_eq!(
        reply_ok::<String>(ws.frame().await),
        (7, "hello from alice".into())
    );
    ws.send(&Frame::Event(
        chsk::Event::to_frame(&CEvent::Note("hi".into()), chsk::Codec::Postcard).unwrap(),
    ))
    .await;
    ws.send(&Frame::Ping).await;
    assert_eq!(ws.frame().await, Frame::Pong);
    eventually(|| state.notes() == 1).await;
    assert_eq!(server.send_to_user("alice", CPush::Seq(1)).unwrap(), 1);
    assert_eq!(ws.push().await, [CPush::Seq(1)]);
}

#[tokio::test]
async fn ajax_requests_get_chsk_answers_as_http_responses() {
    let server = builder(State::default())
        .timings(Timings {
            lp_timeout: Duration::from_millis(100),
            ..timings()
        })
        .limits(Limits {
            max_frame_bytes: 64 << 10,
            ..Limits::default()
        })
        .build();
    let running = serve_app(app(&server), any_port()).await;
    let ajax = running.ajax("client-id=ajax1&uid=dora");
    let resp = ajax.get("handshake=1").await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert!(matches!(frame_of(resp).await, Frame::Handshake(h) if h.first));
    assert_eq!(ajax.get_frame("").await, Frame::PollTimeout);
    let resp = ajax
        .post(&request(9, CEvent::Echo { text: "hey".into() }))
        .await;
    assert_eq!(
        reply_ok::<String>(frame_of(resp).await),
        (9, "hey from dora".into())
    );
    let note = chsk::Event::to_frame(&CEvent::Note("x".into()), chsk::Codec::Postcard).unwrap();
    let resp = ajax.post(&Frame::Event(note)).await;
    assert_eq!(resp.status(), 204);
    assert!(!resp.headers().contains_key("content-type"));
    let resp = ajax.post_raw(vec![0xff, 0x00, 0x13]).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().starts_with("malformed frame: "));
    // One byte over the limit reaches chsk; far over it is cut while the body is read.
    for len in [(64 << 10) + 1, 1 << 20] {
        let resp = ajax.post_raw(vec![0; len]).await;
        assert_eq!(resp.status(), 413, "{len}");
        assert_eq!(resp.text().await.unwrap(), "frame too large");
    }
}

#[tokio::test]
async fn refusals_are_http_responses_on_both_transports() {
    let (_server, _state, running) = start().await;
    for query in ["uid=a", "client-id=", "client-id=has%20space"] {
        let (status, body) = running.ws_status(query, &[]).await;
        assert_eq!(
            (status, body.as_str()),
            (400, "missing or invalid client-id")
        );
        let resp = running.ajax(query).get("handshake=1").await;
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(resp.text().await.unwrap(), "missing or invalid client-id");
    }
    let (status, body) = running.ws_status("client-id=x&codec=json", &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (400, "codec mismatch: server uses postcard")
    );
    let (mut ws, _) = running.ws("client-id=bystander").await;
    ws.send(&Frame::Ping).await;
    assert_eq!(ws.frame().await, Frame::Pong);
}

#[tokio::test]
async fn csrf_token_is_checked_from_query_or_header() {
    let server = CsrfServer::start("s3cret").await;
    let running = &server.running;
    assert_eq!(
        running.ws_status("client-id=x", &[]).await,
        (403, "bad CSRF token".into())
    );
    assert_eq!(
        running.ws_status("client-id=x&csrf-token=wrong", &[]).await,
        (403, "bad CSRF token".into())
    );
    assert_eq!(
        running
            .ws_status("client-id=x&csrf-token=s3cret", &[])
            .await
            .0,
        101
    );
    assert_eq!(
        running
            .ws_status("client-id=x", &[("x-csrf-token", "s3cret")])
            .await
            .0,
        101
    );
    // Ajax: the headers work too.
    let ajax = running.ajax("client-id=y");
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
}

#[tokio::test]
async fn bad_origin_is_403() {
    let server = builder(State::default())
        .allowed_origins(AllowedOrigins::only(["http://good.example"]))
        .build();
    let running = serve_app(app(&server), any_port()).await;
    assert_eq!(
        running
            .ws_status("client-id=x", &[("origin", "http://evil.example")])
            .await,
        (403, "bad origin".into())
    );
    assert_eq!(running.ws_status("client-id=x", &[]).await.0, 403);
    assert_eq!(
        running
            .ws_status("client-id=x", &[("origin", "http://good.example")])
            .await
            .0,
        101
    );
    assert_eq!(
        running
            .ws_status("client-id=x", &[("referer", "http://good.example/page")])
            .await
            .0,
        101
    );
}

#[tokio::test]
async fn json_codec_uses_text_frames() {
    let server = builder(State::default()).codec(chsk::Codec::Json).build();
    let running = serve_app(app(&server), any_port()).await;
    let (mut socket, _) =
        tokio_tungstenite::connect_async(running.ws_url("client-id=j&codec=json"))
            .await
            .unwrap();
    let Some(Ok(Message::Text(hs))) = socket.next().await else {
        panic!("expected a text handshake")
    };
    assert!(hs.as_str().starts_with(r#"{"handshake":"#), "{hs}");
    let req = r#"{"request":{"reply_id":1,"event":{"id":"ct/echo","payload":{"text":"json"}}}}"#;
    socket.send(Message::Text(req.into())).await.unwrap();
    let Some(Ok(Message::Text(reply))) = socket.next().await else {
        panic!("expected a text reply")
    };
    assert_eq!(
        reply.as_str(),
        r#"{"reply":{"reply_id":1,"result":{"ok":"json from anonymous"}}}"#
    );
    let (status, body) = running.ws_status("client-id=p&codec=postcard", &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (400, "codec mismatch: server uses json")
    );
}

/// Sends `request` (HTTP/1.1 text) on a new connection and returns the response's status and
/// body (the server closes or the body ends within a second).
async fn raw_http(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(1), tcp.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.windows(4).any(|w| w == b"\r\n\r\n") && !got.starts_with(b"HTTP/1.1 101") {
            let text = String::from_utf8_lossy(&got);
            let len = text
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            let head = text.find("\r\n\r\n").unwrap() + 4;
            if got.len() >= head + len {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[tokio::test]
async fn malformed_websocket_upgrades_are_refused_with_a_reason() {
    let (_server, _state, running) = start().await;
    let path = format!("/chsk?v={}&client-id=bad&uid=u", chsk::protocol::VERSION);
    let host = running.addr;
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let cases: [(&str, u16, &str); 4] = [
        (
            "Connection: keep-alive\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: KEY\r\n",
            400,
            "`Connection` header did not include `upgrade`",
        ),
        (
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: KEY\r\n",
            400,
            "`Sec-WebSocket-Version` header missing",
        ),
        (
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: KEY\r\n",
            426,
            "`Sec-WebSocket-Version` must be 13",
        ),
        (
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
            400,
            "`Sec-WebSocket-Key` header missing",
        ),
    ];
    for (headers, status, reason) in cases {
        let headers = headers.replace("KEY", key);
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n");
        assert_eq!(
            raw_http(host, &request).await,
            (status, reason.to_owned()),
            "{headers}"
        );
    }
    // A valid upgrade gets the accept key of RFC 6455's example.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive, Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
    );
    let (status, _) = raw_http(host, &request).await;
    assert_eq!(status, 101);
    // And the server serves others as before.
    let (mut ws, _) = running.ws("client-id=after&uid=alice").await;
    ws.send(&Frame::Ping).await;
    assert_eq!(ws.frame().await, Frame::Pong);
}

#[tokio::test]
async fn a_burst_of_frames_larger_than_the_read_buffer_arrives_whole() {
    // tungstenite's read buffer is 512 B by default; reads from the socket are larger and what
    // does not fit waits for the next step. 300 requests of ~1 KiB written at once, then one
    // request of 200 KiB: every reply, each once.
    let (_server, _state, running) = start().await;
    let (mut ws, _) = running.ws("client-id=burst&uid=bob").await;
    let text = "y".repeat(1_000);
    for id in 1..=300u32 {
        ws.send(&request(
            id,
            CEvent::Echo {
                text: format!("{id}:{text}"),
            },
        ))
        .await;
    }
    let mut got = Vec::new();
    while got.len() < 300 {
        let (id, reply) = reply_ok::<String>(ws.frame().await);
        assert_eq!(reply, format!("{id}:{text} from bob"));
        got.push(id);
    }
    got.sort_unstable();
    assert_eq!(got, (1..=300).collect::<Vec<_>>());
    let big = "z".repeat(200 * 1024);
    ws.send(&request(1_000, CEvent::Echo { text: big.clone() }))
        .await;
    assert_eq!(
        reply_ok::<String>(ws.frame().await),
        (1_000, format!("{big} from bob"))
    );
}
