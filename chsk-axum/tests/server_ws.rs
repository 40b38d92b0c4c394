//! WebSocket: handshake, events, requests and replies, errors, keep-alive.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    sync::{atomic::AtomicUsize, Arc},
    time::Duration,
};

use chsk::{protocol::Frame, server::Timings};
use common::*;

#[tokio::test]
async fn handshake_then_event_reaches_its_handler() {
    let notes = Arc::new(AtomicUsize::new(0));
    let t = serve(
        builder_with(State {
            notes: notes.clone(),
        })
        .build(),
    )
    .await;
    let mut ws = t.ws("client-id=tab1&uid=alice").await;
    let hs = ws.handshake().await;
    assert_eq!(hs.uid.as_deref(), Some("alice"));
    assert_eq!(hs.client_id, "tab1");
    assert!(hs.first);
    ws.send(&event(TestEvent::Note("hi".into()))).await;
    eventually(|| counter(&notes) == 1).await;
}

#[tokio::test]
async fn request_gets_exactly_one_reply() {
    let t = start().await;
    let mut ws = t.ws("client-id=tab1&uid=alice").await;
    ws.handshake().await;
    ws.send(&request(
        7,
        TestEvent::Echo {
            text: "hello".into(),
        },
    ))
    .await;
    let (id, text): (u32, String) = reply_ok(ws.frame().await);
    assert_eq!((id, text.as_str()), (7, "hello from alice"));
    // A ping gets a pong, and no second reply is pending.
    ws.send(&Frame::Ping).await;
    assert_eq!(ws.frame().await, Frame::Pong);
}

#[tokio::test]
async fn slow_handler_does_not_block_other_frames() {
    let t = start().await;
    let mut ws = t.ws("client-id=tab1").await;
    ws.handshake().await;
    ws.send(&request(1, TestEvent::Slow { ms: 300 })).await;
    ws.send(&request(
        2,
        TestEvent::Echo {
            text: "fast".into(),
        },
    ))
    .await;
    let (id, _): (u32, String) = reply_ok(ws.frame().await);
    assert_eq!(id, 2);
    let (id, ms): (u32, u64) = reply_ok(ws.frame().await);
    assert_eq!((id, ms), (1, 300));
}

#[tokio::test]
async fn unknown_event_id_gets_an_error_reply_or_error_frame() {
    let t = start().await;
    let mut ws = t.ws("client-id=tab1").await;
    ws.handshake().await;
    let unknown = chsk::protocol::EventFrame {
        id: "nope/nothing".into(),
        payload: chsk::Payload::default(),
    };
    ws.send(&Frame::Request {
        reply_id: 3,
        event: unknown.clone(),
    })
    .await;
    let (id, msg) = reply_err(ws.frame().await);
    assert_eq!(id, 3);
    assert!(msg.starts_with("unknown event id `nope/nothing`"), "{msg}");
    // Without a reply id: an Error frame, and the connection stays.
    ws.send(&Frame::Event(unknown)).await;
    assert!(matches!(ws.frame().await, Frame::Error { .. }));
    // A known event without a handler.
    ws.send(&request(4, TestEvent::Unhandled)).await;
    let (id, msg) = reply_err(ws.frame().await);
    assert_eq!(id, 4);
    assert!(
        msg.contains("no handler for event `test/unhandled`"),
        "{msg}"
    );
    // A payload that does not fit the variant.
    let bad = chsk::protocol::EventFrame {
        id: "test/echo".into(),
        payload: chsk::Payload(vec![0xff, 0xff]),
    };
    ws.send(&Frame::Request {
        reply_id: 5,
        event: bad,
    })
    .await;
    let (id, msg) = reply_err(ws.frame().await);
    assert_eq!(id, 5);
    assert!(msg.contains("bad payload"), "{msg}");
    assert_eq!(t.server.metrics().bad_events, 4);
}

#[tokio::test]
async fn panicking_handler_gets_an_error_reply_and_the_server_keeps_serving() {
    let t = start().await;
    let mut ws = t.ws("client-id=tab1").await;
    ws.handshake().await;
    ws.send(&request(1, TestEvent::Boom)).await;
    let (id, msg) = reply_err(ws.frame().await);
    assert_eq!(id, 1);
    assert_eq!(msg, "handler for `test/boom` panicked");
    ws.send(&request(
        2,
        TestEvent::Echo {
            text: "still".into(),
        },
    ))
    .await;
    let (_, text): (u32, String) = reply_ok(ws.frame().await);
    assert_eq!(text, "still from anonymous");
    let mut other = t.ws("client-id=tab2").await;
    other.handshake().await;
    other
        .send(&request(1, TestEvent::Echo { text: "x".into() }))
        .await;
    let _: (u32, String) = reply_ok(other.frame().await);
    assert_eq!(t.server.metrics().handler_panics, 1);
}

#[tokio::test]
async fn call_local_goes_through_dispatch() {
    let t = start().await;
    let reply = t
        .server
        .call_local(
            Some("bob"),
            test_event::Echo {
                text: "local".into(),
            },
        )
        .await;
    assert_eq!(reply.unwrap(), "local from bob");
    let err = t
        .server
        .call_local(None, test_event::Boom)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        chsk::CbError::Handler {
            message: "handler for `test/boom` panicked".into()
        }
    );
}

#[tokio::test]
async fn handshake_data_is_sent() {
    let server = builder()
        .handshake_data(|_req, uid| Some(format!("theme for {}", uid.unwrap_or("-"))))
        .build();
    let t = serve(server).await;
    let mut ws = t.ws("client-id=tab1&uid=carol").await;
    let hs = ws.handshake().await;
    let data: String = chsk::Codec::Postcard
        .decode_payload(&hs.data.unwrap())
        .unwrap();
    assert_eq!(data, "theme for carol");
}

#[tokio::test]
async fn server_pings_an_idle_client_and_closes_a_silent_one() {
    let server = builder()
        .timings(Timings {
            ws_kalive: Duration::from_millis(100),
            ws_ping_timeout: Duration::from_millis(400),
            ..fast_timings()
        })
        .build();
    let t = serve(server).await;
    // A live client answers pings and stays open.
    let mut live = t.ws("client-id=live").await;
    live.handshake().await;
    // A dead peer never answers.
    let mut dead = t.ws("client-id=dead").await;
    dead.handshake().await;
    for _ in 0..3 {
        assert_eq!(live.frame().await, Frame::Ping);
        live.send(&Frame::Pong).await;
    }
    assert_eq!(dead.frame().await, Frame::Ping);
    let (reason, _) = dead.closed().await;
    assert_eq!(reason.as_deref(), Some("ping timeout"));
    live.send(&request(1, TestEvent::Echo { text: "ok".into() }))
        .await;
    loop {
        match live.frame().await {
            Frame::Ping => live.send(&Frame::Pong).await,
            f => {
                let _: (u32, String) = reply_ok(f);
                break;
            }
        }
    }
    assert_eq!(t.server.metrics().ping_timeouts, 1);
}

#[test]
#[should_panic(expected = "two handlers registered for event `test/echo`")]
fn two_handlers_for_one_variant_panic_at_build() {
    let _ = builder().handler(echo_for_tests()).build();
}

#[tokio::test]
async fn json_codec_uses_text_frames() {
    let t = serve(builder().codec(chsk::Codec::Json).build()).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(t.ws_url("client-id=j&codec=json"))
        .await
        .unwrap();
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let Some(Ok(Message::Text(hs))) = socket.next().await else {
        panic!("expected a text handshake")
    };
    assert!(hs.as_str().starts_with(r#"{"handshake":"#), "{hs}");
    let req = r#"{"request":{"reply_id":1,"event":{"id":"test/echo","payload":{"text":"json"}}}}"#;
    socket.send(Message::Text(req.into())).await.unwrap();
    let Some(Ok(Message::Text(reply))) = socket.next().await else {
        panic!("expected a text reply")
    };
    assert_eq!(
        reply.as_str(),
        r#"{"reply":{"reply_id":1,"result":{"ok":"json from anonymous"}}}"#
    );
    // A postcard client is told the codec does not match.
    let (status, body) = t.ws_status("client-id=p&codec=postcard", &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (400, "codec mismatch: server uses json")
    );
}

#[tokio::test]
async fn a_newer_connection_replaces_the_older_one() {
    let t = start().await;
    let mut old = t.ws("client-id=same&uid=fay").await;
    old.handshake().await;
    let mut new = t.ws("client-id=same&uid=fay").await;
    assert!(!new.handshake().await.first);
    let (reason, code) = old.closed().await;
    assert_eq!(reason.as_deref(), Some("replaced by a newer connection"));
    assert_eq!(code, Some(1000));
    assert_eq!(t.server.send_to_user("fay", TestPush::Seq(1)).unwrap(), 1);
    assert_eq!(new.pushes(1).await.concat(), vec![TestPush::Seq(1)]);
}

#[tokio::test]
async fn close_all_closes_every_connection() {
    let t = start().await;
    let mut ws = t.ws("client-id=w").await;
    ws.handshake().await;
    t.server.close_all("shutting down");
    let (reason, code) = ws.closed().await;
    assert_eq!(reason.as_deref(), Some("shutting down"));
    assert_eq!(code, Some(1001));
}
