//! Dispatch over the in-memory WebSocket: events reach their handlers, requests get exactly one
//! reply, and bad input (unknown ids, bad payloads, malformed or hostile frames, panics) gets an
//! error without disturbing the connection or anybody else.
#![allow(clippy::unwrap_used)]

mod support;

use chsk::{
    protocol::{EventFrame, Frame},
    server::mount::WsMessage,
    CbError, Codec, Payload,
};
use support::*;

#[tokio::test(start_paused = true)]
async fn handshake_then_event_reaches_its_handler() {
    let state = State::default();
    let server = builder_with(state.clone()).build();
    let (mut c, hs) = open_hs(&server, "client-id=tab1&uid=alice").await;
    assert_eq!(hs.uid.as_deref(), Some("alice"));
    assert_eq!(hs.client_id, "tab1");
    assert!(hs.first);
    c.send(&event(TestEvent::Note("hi".into())));
    eventually(|| state.notes() == 1).await;
}

#[tokio::test(start_paused = true)]
async fn request_gets_exactly_one_reply() {
    let server = server();
    let mut c = open(&server, "client-id=tab1&uid=alice").await;
    c.send(&request(
        7,
        TestEvent::Echo {
            text: "hello".into(),
        },
    ));
    assert_eq!(
        reply_ok::<String>(c.next().await),
        (7, "hello from alice".into())
    );
    // A ping gets a pong, and no second reply is pending.
    c.send(&Frame::Ping);
    assert_eq!(c.next().await, Frame::Pong);
    assert!(c.try_recv().is_none());
}

#[tokio::test(start_paused = true)]
async fn slow_handler_does_not_block_other_frames() {
    let server = server();
    let mut c = open(&server, "client-id=tab1").await;
    c.send(&request(1, TestEvent::Slow { ms: 300 }));
    c.send(&request(
        2,
        TestEvent::Echo {
            text: "fast".into(),
        },
    ));
    assert_eq!(reply_ok::<String>(c.next().await).0, 2);
    assert_eq!(reply_ok::<u64>(c.next().await), (1, 300));
}

#[tokio::test(start_paused = true)]
async fn unknown_event_id_gets_an_error_reply_or_error_frame() {
    let server = server();
    let mut c = open(&server, "client-id=tab1").await;
    let unknown = raw_event("nope/nothing", vec![]);
    c.send(&Frame::Request {
        reply_id: 3,
        event: unknown.clone(),
    });
    let (id, msg) = reply_err(c.next().await);
    assert_eq!(id, 3);
    assert!(msg.starts_with("unknown event id `nope/nothing`"), "{msg}");
    // Without a reply id: an Error frame with the message, and the connection stays.
    c.send(&Frame::Event(unknown));
    match c.next().await {
        Frame::Error { message } => assert!(message.contains("nope/nothing"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
    // A known event without a handler.
    c.send(&request(4, TestEvent::Unhandled));
    let (id, msg) = reply_err(c.next().await);
    assert_eq!(id, 4);
    assert!(
        msg.contains("no handler for event `test/unhandled`"),
        "{msg}"
    );
    // A payload that does not fit the variant.
    c.send(&Frame::Request {
        reply_id: 5,
        event: raw_event("test/echo", vec![0xff, 0xff]),
    });
    let (id, msg) = reply_err(c.next().await);
    assert_eq!(id, 5);
    assert!(msg.contains("bad payload"), "{msg}");
    assert_eq!(server.metrics().bad_events, 4);
}

#[tokio::test(start_paused = true)]
async fn panicking_handler_gets_an_error_reply_and_the_server_keeps_serving() {
    let server = server();
    let mut c = open(&server, "client-id=tab1").await;
    c.send(&request(1, TestEvent::Boom));
    assert_eq!(
        reply_err(c.next().await),
        (1, "handler for `test/boom` panicked".into())
    );
    c.send(&request(
        2,
        TestEvent::Echo {
            text: "still".into(),
        },
    ));
    assert_eq!(reply_ok::<String>(c.next().await).1, "still from anonymous");
    still_works(&server).await;
    assert_eq!(server.metrics().handler_panics, 1);
}

#[tokio::test(start_paused = true)]
async fn call_local_goes_through_dispatch() {
    let server = server();
    let reply = server
        .call_local(
            Some("bob"),
            test_event::Echo {
                text: "local".into(),
            },
        )
        .await;
    assert_eq!(reply.unwrap(), "local from bob");
    let err = server.call_local(None, test_event::Boom).await.unwrap_err();
    assert_eq!(
        err,
        CbError::Handler {
            message: "handler for `test/boom` panicked".into()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn handshake_data_is_sent() {
    let server = builder()
        .handshake_data(|_req, uid| Some(format!("theme for {}", uid.unwrap_or("-"))))
        .build();
    let (_c, hs) = open_hs(&server, "client-id=tab1&uid=carol").await;
    let data: String = Codec::Postcard.decode_payload(&hs.data.unwrap()).unwrap();
    assert_eq!(data, "theme for carol");
}

#[test]
#[should_panic(expected = "two handlers registered for event `test/echo`")]
fn two_handlers_for_one_variant_panic_at_build() {
    let _ = builder().handler(echo_handler()).build();
}

#[tokio::test(start_paused = true)]
async fn json_codec_uses_text_frames() {
    let server = builder().codec(Codec::Json).build();
    let mut c = server.connect_mem("client-id=j&codec=json").unwrap();
    let Some(WsMessage::Text(hs)) = c.recv().await else {
        panic!("expected a text handshake")
    };
    assert!(hs.starts_with(br#"{"handshake":"#));
    let req = r#"{"request":{"reply_id":1,"event":{"id":"test/echo","payload":{"text":"json"}}}}"#;
    c.send_raw(req.as_bytes().to_vec());
    let Some(WsMessage::Text(reply)) = c.recv().await else {
        panic!("expected a text reply")
    };
    assert_eq!(
        &reply[..],
        br#"{"reply":{"reply_id":1,"result":{"ok":"json from anonymous"}}}"#
    );
    // A postcard client is told the codec does not match.
    let refused = server
        .connect_mem("client-id=p&codec=postcard")
        .unwrap_err();
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.body(), "codec mismatch: server uses json");
}

#[tokio::test(start_paused = true)]
async fn malformed_frame_gets_an_error_and_the_connection_stays() {
    let server = server();
    let mut c = open(&server, "client-id=bad").await;
    c.send_raw(vec![0xff, 0xfe, 0x01]);
    match c.next().await {
        Frame::Error { message } => assert!(message.starts_with("malformed frame: "), "{message}"),
        other => panic!("expected an error frame, got {other:?}"),
    }
    // A server → client frame from a client is malformed too.
    c.send(&Frame::PollTimeout);
    match c.next().await {
        Frame::Error { message } => assert!(message.contains("poll_timeout"), "{message}"),
        other => panic!("expected an error frame, got {other:?}"),
    }
    c.send(&request(
        1,
        TestEvent::Echo {
            text: "after".into(),
        },
    ));
    assert_eq!(reply_ok::<String>(c.next().await).0, 1);
    assert_eq!(server.metrics().malformed_frames, 2);
    still_works(&server).await;
}

/// Postcard bytes of a `Node` nested `depth` levels.
fn nested_node(depth: usize) -> Payload {
    let mut bytes = vec![1u8; depth];
    bytes.push(0);
    Payload(bytes)
}

#[tokio::test(start_paused = true)]
async fn a_deeply_nested_frame_gets_an_error_and_the_server_keeps_serving() {
    let server = server();
    let deep = nested_node(13_000);
    let tree = |reply_id| Frame::Request {
        reply_id,
        event: EventFrame {
            id: "test/tree".into(),
            payload: deep.clone(),
        },
    };
    let plant = Frame::Event(EventFrame {
        id: "test/plant".into(),
        payload: deep.clone(),
    });
    // WebSocket: a request gets an error reply, an event an `Error` frame.
    let mut c = open(&server, "client-id=attacker").await;
    c.send(&tree(1));
    let (id, err) = reply_err(c.next().await);
    assert_eq!(id, 1);
    assert!(err.contains("nesting too deep"), "{err}");
    c.send(&plant);
    match c.next().await {
        Frame::Error { message } => assert!(message.contains("nesting too deep"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
    // Ajax: a request gets an error reply, an event `400` with the message.
    let ajax = server.ajax_mem("client-id=ajax-attacker");
    ajax.handshake().await;
    let (_, err) = reply_err(ajax.decode(&ajax.post(&tree(2)).await));
    assert!(err.contains("nesting too deep"), "{err}");
    let resp = ajax.post(&plant).await;
    assert_eq!(resp.status, 400);
    assert!(String::from_utf8_lossy(&resp.body).contains("nesting too deep"));
    // A tree within the bound is served, and so is everybody else.
    let small = Node {
        children: vec![Node { children: vec![] }],
    };
    c.send(&request(3, TestEvent::Tree(small)));
    assert_eq!(reply_ok::<u32>(c.next().await), (3, 2));
    still_works(&server).await;
}

#[tokio::test(start_paused = true)]
async fn too_large_replies_become_error_replies() {
    let server = builder()
        .limits(chsk::server::Limits {
            max_send_frame_bytes: 64 << 10,
            ..Default::default()
        })
        .build();
    let mut c = open(&server, "client-id=big&uid=big").await;
    c.send(&request(9, TestEvent::Huge(100 << 10)));
    let (id, err) = reply_err(c.next().await);
    assert_eq!(id, 9);
    assert!(err.contains("more than a frame may hold"), "{err}");
    assert_eq!(server.metrics().replies_failed, 1);
}
