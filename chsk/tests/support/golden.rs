//! The golden samples: one frame of every kind, shared by `protocol_golden.rs` (which pins
//! their exact bytes), `protocol_random.rs` (which mutates them) and the fuzz targets' seed
//! corpus (`fuzz/examples/seed_corpus.rs`).

use chsk::{
    protocol::{
        EventFrame, Frame, Handshake, Position, PushRun, ReplyError, ReplyErrorKind, StreamKind,
    },
    Codec, Payload,
};
use serde::Serialize;

/// A sample payload.
pub(crate) fn p<T: Serialize>(codec: Codec, v: T) -> Payload {
    codec.encode_payload(&v).expect("a sample payload encodes")
}

/// One sample of every frame kind, with payloads encoded by `codec`.
pub(crate) fn samples(codec: Codec) -> Vec<(&'static str, Frame)> {
    let ev = |id: &'static str, payload| EventFrame {
        id: id.into(),
        payload,
    };
    vec![
        (
            "handshake",
            Frame::Handshake(Handshake {
                version: 2,
                uid: Some("alice".into()),
                client_id: "c1".into(),
                data: Some(p(codec, "dark")),
                first: false,
                recovered: true,
                positions: vec![
                    Position {
                        stream: StreamKind::All,
                        epoch: 300,
                        seq: 2,
                    },
                    Position {
                        stream: StreamKind::User,
                        epoch: 5,
                        seq: 0,
                    },
                    Position {
                        stream: StreamKind::Client,
                        epoch: 6,
                        seq: 1,
                    },
                ],
            }),
        ),
        (
            "handshake-anonymous",
            Frame::Handshake(Handshake {
                version: 2,
                uid: None,
                client_id: "c1".into(),
                data: None,
                first: true,
                recovered: false,
                positions: vec![],
            }),
        ),
        ("event", Frame::Event(ev("chat/post", p(codec, "hi")))),
        (
            "request",
            Frame::Request {
                reply_id: 7,
                event: ev("chat/history", p(codec, ("lobby", 2u32))),
            },
        ),
        (
            "reply-ok",
            Frame::Reply {
                reply_id: 7,
                result: Ok(p(codec, vec!["a", "b"])),
            },
        ),
        (
            "reply-err",
            Frame::Reply {
                reply_id: 8,
                result: Err(ReplyError::new(
                    ReplyErrorKind::UnknownEvent,
                    "unknown event id `x/y`",
                )),
            },
        ),
        (
            "push",
            Frame::Push(vec![PushRun {
                at: Some(Position {
                    stream: StreamKind::User,
                    epoch: 5,
                    seq: 1,
                }),
                events: vec![ev("chat/new", p(codec, 1u8)), ev("chat/new", p(codec, 2u8))],
            }]),
        ),
        (
            "push-runs",
            Frame::Push(vec![
                PushRun {
                    at: Some(Position {
                        stream: StreamKind::All,
                        epoch: 300,
                        seq: 3,
                    }),
                    events: vec![ev("chat/new", p(codec, 3u8))],
                },
                PushRun::volatile(vec![ev("chat/typing", p(codec, "bo"))]),
            ]),
        ),
        ("ping", Frame::Ping),
        ("pong", Frame::Pong),
        ("poll-timeout", Frame::PollTimeout),
        (
            "error",
            Frame::Error {
                message: "bad".into(),
            },
        ),
        (
            "close",
            Frame::Close {
                reason: "slow consumer".into(),
            },
        ),
    ]
}
