//! Error replies are typed the same way on every path: each failure of a request (a panicking
//! handler, an unknown event, no handler, a bad or too deep payload, a reply too large or not
//! encodable) gives a `Reply` whose error has the same kind over the in-memory WebSocket, over
//! Ajax (`Server::ajax_post`, in-process) and from `Server::call_local`, in both codecs, and
//! the client turns each kind into its own `CbError` variant.
#![allow(missing_docs, clippy::unwrap_used)]

use bytes::Bytes;
use chsk::{
    codec::Payload,
    protocol::{EventFrame, Frame, ReplyError, ReplyErrorKind},
    server::{HandshakeRequest, Limits},
    CbError, Codec, Event, Server,
};
use http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value whose encoding always fails (in both codecs).
#[derive(Debug, Clone, PartialEq)]
pub struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be encoded",
        ))
    }
}

impl<'de> Deserialize<'de> for Unencodable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u8::deserialize(d).map(|_| Unencodable)
    }
}

/// A recursive value, to send a payload deeper than the depth bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree(Vec<Tree>);

#[chsk::events(ns = "e")]
#[derive(Debug, Clone, PartialEq)]
pub enum ErrEvent {
    #[reply(String)]
    Echo(String),
    #[reply(u32)]
    Boom,
    #[reply(String)]
    Big(u32),
    #[reply(Unencodable)]
    BadReply,
    /// Registered in the enum, but the server has no handler for it.
    #[reply(u32)]
    Orphan,
    #[reply(u32)]
    Depth(Tree),
    #[reply(u32)]
    Send(Unencodable),
}

/// Another event enum, not this server's.
#[chsk::events(ns = "other")]
#[derive(Debug, Clone, PartialEq)]
pub enum OtherEvent {
    #[reply(u32)]
    Ping,
}

#[chsk::handler(ErrEvent::Echo)]
async fn echo(text: String) -> String {
    text
}

#[chsk::handler(ErrEvent::Boom)]
async fn boom() -> u32 {
    panic!("boom")
}

#[chsk::handler(ErrEvent::Big)]
async fn big(n: u32) -> String {
    "x".repeat(n as usize)
}

#[chsk::handler(ErrEvent::BadReply)]
async fn bad_reply() -> Unencodable {
    Unencodable
}

#[chsk::handler(ErrEvent::Depth)]
async fn depth(_tree: Tree) -> u32 {
    0
}

#[chsk::handler(ErrEvent::Send)]
async fn send(_v: Unencodable) -> u32 {
    0
}

const MAX_SEND: usize = 4096;

fn server(codec: Codec) -> Server {
    Server::builder(())
        .handler(echo)
        .handler(boom)
        .handler(big)
        .handler(bad_reply)
        .handler(depth)
        .handler(send)
        .codec(codec)
        .limits(Limits {
            max_send_frame_bytes: MAX_SEND,
            ..Limits::default()
        })
        .skip_csrf_check()
        .build()
}

/// An event frame with a raw payload.
fn raw(id: &'static str, payload: &[u8]) -> EventFrame {
    EventFrame {
        id: id.into(),
        payload: Payload(payload.to_vec()),
    }
}

/// A payload nested `levels` deep (`Tree(vec![Tree(vec![…])])`), written by hand: encoding it
/// with the codec would recurse as deep.
fn deep_tree(codec: Codec, levels: usize) -> Vec<u8> {
    match codec {
        // Each level is a sequence of length 1; the innermost is empty.
        Codec::Postcard => [vec![0x01; levels], vec![0x00]].concat(),
        _ => [vec![b'['; levels + 1], vec![b']'; levels + 1]].concat(),
    }
}

/// A request that fails on the server, the kind of its error reply, and a part of its message.
struct Case {
    name: &'static str,
    event: EventFrame,
    kind: ReplyErrorKind,
    says: &'static str,
}

fn cases(codec: Codec) -> Vec<Case> {
    let typed = |ev: ErrEvent| ev.to_frame(codec).unwrap();
    // The wrong type for `e/echo`'s `String`: a number in JSON, a truncated length in postcard.
    let not_a_string: &[u8] = if codec == Codec::Json { b"1" } else { &[0xff] };
    vec![
        Case {
            name: "panicking handler",
            event: typed(ErrEvent::Boom),
            kind: ReplyErrorKind::Handler,
            says: "handler for `e/boom` panicked",
        },
        Case {
            name: "unknown event id",
            event: raw("e/nope", b"null"),
            kind: ReplyErrorKind::UnknownEvent,
            says: "unknown event id `e/nope`",
        },
        Case {
            name: "no handler",
            event: typed(ErrEvent::Orphan),
            kind: ReplyErrorKind::UnknownEvent,
            says: "no handler for event `e/orphan`",
        },
        Case {
            name: "bad payload",
            event: raw("e/echo", not_a_string),
            kind: ReplyErrorKind::BadPayload,
            says: "bad payload for event `e/echo`",
        },
        Case {
            name: "reply too large",
            event: typed(ErrEvent::Big(MAX_SEND as u32)),
            kind: ReplyErrorKind::Server,
            says: "more than a frame may hold",
        },
        Case {
            name: "reply not encodable",
            event: typed(ErrEvent::BadReply),
            kind: ReplyErrorKind::Server,
            says: "could not encode the reply of `e/bad-reply`",
        },
        Case {
            name: "payload deeper than the bound",
            event: raw("e/depth", &deep_tree(codec, chsk::codec::MAX_DEPTH + 10)),
            kind: ReplyErrorKind::BadPayload,
            says: "nesting too deep",
        },
    ]
}

/// Checks an error reply against a case, and that the client's error is the matching variant
/// with the same message.
fn check(case: &Case, path: &str, result: &Result<Payload, ReplyError>) {
    let err = match result {
        Err(err) => err,
        Ok(p) => panic!("{path}, {}: expected an error reply, got {p:?}", case.name),
    };
    assert_eq!(err.kind, case.kind, "{path}, {}: {err:?}", case.name);
    assert!(
        err.message.contains(case.says),
        "{path}, {}: {:?} does not say {:?}",
        case.name,
        err.message,
        case.says
    );
    let typed = CbError::from(err.clone());
    let variant_matches = match case.kind {
        ReplyErrorKind::Handler => matches!(typed, CbError::Handler { .. }),
        ReplyErrorKind::UnknownEvent => matches!(typed, CbError::UnknownEvent { .. }),
        ReplyErrorKind::BadPayload => matches!(typed, CbError::BadPayload { .. }),
        ReplyErrorKind::Server => matches!(typed, CbError::Server { .. }),
        _ => false,
    };
    assert!(variant_matches, "{path}, {}: {typed:?}", case.name);
    assert_eq!(typed.message(), Some(err.message.as_str()));
}

fn reply_of(frame: Frame, reply_id: u32) -> Result<Payload, ReplyError> {
    match frame {
        Frame::Reply {
            reply_id: id,
            result,
        } if id == reply_id => result,
        other => panic!("expected reply {reply_id}, got {other:?}"),
    }
}

fn post_request(query: &str) -> HandshakeRequest {
    let (parts, ()) = http::Request::post(format!("/chsk?v=2&{query}"))
        .body(())
        .unwrap()
        .into_parts();
    HandshakeRequest::new(parts)
}

#[tokio::test(start_paused = true)]
async fn every_failure_has_its_kind_over_websocket() {
    for codec in [Codec::Postcard, Codec::Json] {
        let server = server(codec);
        let mut client = server.connect_mem("client-id=ws").unwrap();
        assert!(matches!(client.frame().await, Some(Frame::Handshake(_))));
        let cases = cases(codec);
        for (reply_id, case) in (1..).zip(&cases) {
            client.send(&Frame::Request {
                reply_id,
                event: case.event.clone(),
            });
            let result = reply_of(client.frame().await.unwrap(), reply_id);
            check(case, &format!("WebSocket {codec:?}"), &result);
        }
        // The connection is still usable after every failure.
        client.send(&Frame::Request {
            reply_id: 99,
            event: ErrEvent::Echo("still here".into()).to_frame(codec).unwrap(),
        });
        let ok = reply_of(client.frame().await.unwrap(), 99).unwrap();
        assert_eq!(codec.decode_payload::<String>(&ok).unwrap(), "still here");
        let m = server.metrics();
        assert_eq!(m.handler_panics, 1, "{codec:?}: {m:?}");
        assert_eq!(m.replies_failed, 1, "{codec:?}: the too-large reply: {m:?}");
        let bad = cases
            .iter()
            .filter(|c| {
                matches!(
                    c.kind,
                    ReplyErrorKind::UnknownEvent | ReplyErrorKind::BadPayload
                )
            })
            .count() as u64;
        assert_eq!(m.bad_events, bad, "{codec:?}: {m:?}");
    }
}

#[tokio::test]
async fn every_failure_has_its_kind_over_ajax() {
    for codec in [Codec::Postcard, Codec::Json] {
        let server = server(codec);
        for (reply_id, case) in (1..).zip(cases(codec)) {
            let frame = Frame::Request {
                reply_id,
                event: case.event.clone(),
            };
            let body = Bytes::from(codec.encode_frame(&frame).unwrap());
            let resp = server.ajax_post(post_request("client-id=aj"), body).await;
            assert_eq!(resp.status, StatusCode::OK, "{}: {resp:?}", case.name);
            let result = reply_of(codec.decode_frame(&resp.body).unwrap(), reply_id);
            check(&case, &format!("Ajax {codec:?}"), &result);
        }
    }
}

#[tokio::test]
async fn an_ajax_event_without_reply_that_fails_to_dispatch_is_a_400_with_the_message() {
    let server = server(Codec::Postcard);
    let frame = Frame::Event(raw("e/nope", &[]));
    let body = Bytes::from(Codec::Postcard.encode_frame(&frame).unwrap());
    let resp = server.ajax_post(post_request("client-id=aj"), body).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    let text = std::str::from_utf8(&resp.body).unwrap();
    assert!(text.contains("unknown event id `e/nope`"), "{text}");
}

#[tokio::test]
async fn call_local_returns_the_same_typed_errors() {
    let server = server(Codec::Postcard);
    assert_eq!(
        server.call_local(None, err_event::Echo("hi".into())).await,
        Ok("hi".to_owned())
    );
    match server.call_local(None, err_event::Boom).await {
        Err(CbError::Handler { message }) => {
            assert_eq!(message, "handler for `e/boom` panicked");
        }
        other => panic!("{other:?}"),
    }
    match server.call_local(None, err_event::Orphan).await {
        Err(CbError::UnknownEvent { message }) => {
            assert!(
                message.contains("no handler for event `e/orphan`"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    match server.call_local(None, err_event::BadReply).await {
        Err(CbError::Server { message }) => {
            assert!(message.contains("could not encode the reply"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // The request itself does not encode: nothing reaches the handler.
    // (postcard's error drops the value's own message.)
    match server.call_local(None, err_event::Send(Unencodable)).await {
        Err(err @ CbError::Encode(_)) => {
            assert!(err
                .to_string()
                .starts_with("could not encode the request: postcard codec"));
        }
        other => panic!("{other:?}"),
    }
    // An event of another enum: no handler on this server.
    match server.call_local(None, other_event::Ping).await {
        Err(CbError::UnknownEvent { message }) => {
            assert!(
                message.contains("not this server's event enum"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let m = server.metrics();
    assert_eq!((m.handler_panics, m.bad_events), (1, 1), "{m:?}");
}
