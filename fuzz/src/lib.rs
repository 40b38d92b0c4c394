//! Shared pieces of the chsk fuzz targets: event enums whose payloads a peer controls, and the
//! round-trip properties every target checks.
//!
//! The property everywhere: whatever decodes must encode, and decoding that encoding gives the
//! same value (and the same bytes again). Anything that does not decode must be an `Err`, never
//! a panic, an abort or a stack overflow.

use chsk::{
    protocol::{EventFrame, Frame},
    Codec, Event, Payload,
};
use serde::{Deserialize, Serialize};

/// A plain struct field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub room: String,
    pub text: String,
    pub tags: Vec<String>,
}

/// A serde enum field (externally tagged in JSON, a varint tag in postcard).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Plain,
    Number(i64),
    Named { name: String },
}

/// Client → server events with every payload shape the macro generates (unit, one field,
/// tuple, struct) and a spread of field types. Not recursive: the frame targets use it so that
/// they do not keep finding the known deep-nesting overflow (that is `event_payload`'s job).
#[chsk::events(ns = "f")]
#[derive(Debug, Clone, PartialEq)]
pub enum FuzzEvent {
    Post(Message),
    #[reply(Vec<Message>)]
    History {
        room: String,
        limit: u32,
    },
    #[reply(Vec<String>)]
    Online,
    Pair(u8, String),
    Kinds(Vec<Kind>),
    Maybe(Option<u64>),
    Bytes(Vec<u8>),
    Wide(i128, u16, bool, char),
}

/// Server → client pushes.
#[chsk::events(ns = "p")]
#[derive(Debug, Clone, PartialEq)]
pub enum FuzzPush {
    NewMessage(Message),
    Online(Vec<String>),
    Nudged { from: String },
    Tick,
}

/// A recursive payload type: its decoders recurse once per nesting level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub children: Vec<Node>,
    pub label: String,
}

/// Events whose payloads nest without bound unless the decoder bounds the depth.
#[chsk::events(ns = "t")]
#[derive(Debug, Clone, PartialEq)]
pub enum TreeEvent {
    Tree(Node),
    Opt(Option<Box<Node>>),
    Pair(Node, u8),
    Many { nodes: Vec<Node>, kind: Kind },
    Unit,
}

/// A frame that decodes must re-encode, and decoding that gives the same frame and bytes.
pub fn frame_round_trip(codec: Codec, frame: &Frame) {
    let bytes = codec.encode_frame(frame).unwrap_or_else(|e| {
        panic!(
            "{} frame {frame:?} decoded but does not encode: {e}",
            codec.name()
        )
    });
    let back = codec.decode_frame(&bytes).unwrap_or_else(|e| {
        panic!(
            "{} re-encoded frame {frame:?} does not decode: {e}",
            codec.name()
        )
    });
    assert_eq!(&back, frame, "{} frame round trip", codec.name());
    let again = codec.encode_frame(&back).expect("second encode");
    assert_eq!(
        again,
        bytes,
        "{} frame encoding is not stable",
        codec.name()
    );
}

/// Decodes an event of `E` from `(id, payload)`; when it decodes, checks the round trip.
/// Returns whether it decoded.
pub fn event_round_trip<E: Event + PartialEq + std::fmt::Debug>(
    codec: Codec,
    id: &str,
    payload: &Payload,
) -> bool {
    let Ok(event) = E::decode(id, payload, codec) else {
        return false;
    };
    assert_eq!(event.id(), id, "decoded event has another id");
    let frame = event.to_frame(codec).unwrap_or_else(|e| {
        panic!(
            "{} event {event:?} decoded but does not encode: {e}",
            codec.name()
        )
    });
    let back = E::from_frame(&frame, codec).unwrap_or_else(|e| {
        panic!(
            "{} re-encoded event {event:?} does not decode: {e}",
            codec.name()
        )
    });
    assert_eq!(back, event, "{} event round trip", codec.name());
    let again = back.encode_payload(codec).expect("second encode");
    assert_eq!(
        again,
        frame.payload,
        "{} payload encoding is not stable",
        codec.name()
    );
    true
}

/// Decodes any payload value `T` (reply values, handshake data); checks the round trip.
pub fn value_round_trip<T>(codec: Codec, payload: &Payload)
where
    T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let Ok(value) = codec.decode_payload::<T>(payload) else {
        return;
    };
    let bytes = codec.encode_payload(&value).expect("decoded value encodes");
    let back: T = codec
        .decode_payload(&bytes)
        .expect("re-encoded value decodes");
    assert_eq!(back, value, "{} value round trip", codec.name());
    assert_eq!(codec.encode_payload(&back).expect("encodes"), bytes);
}

/// What a server does with bytes from a client (`ws.rs`, `poll.rs`, `dispatch.rs`): decode the
/// frame, and for an event or a request decode the event.
pub fn server_bound(codec: Codec, data: &[u8]) {
    let Ok(frame) = codec.decode_frame(data) else {
        return;
    };
    frame_round_trip(codec, &frame);
    match &frame {
        Frame::Event(ev) | Frame::Request { event: ev, .. } => {
            event_round_trip::<FuzzEvent>(codec, &ev.id, &ev.payload);
        }
        _ => {}
    }
}

/// What a client does with bytes from the server (`client/core.rs`, `state.rs`, `handle.rs`):
/// decode the frame, the handshake data, a reply value and pushed events.
pub fn client_bound(codec: Codec, data: &[u8]) {
    let Ok(frame) = codec.decode_frame(data) else {
        return;
    };
    frame_round_trip(codec, &frame);
    match &frame {
        Frame::Handshake(h) => {
            if let Some(data) = &h.data {
                value_round_trip::<Option<String>>(codec, data);
                value_round_trip::<Message>(codec, data);
            }
        }
        Frame::Reply {
            result: Ok(payload),
            ..
        } => {
            value_round_trip::<Vec<Message>>(codec, payload);
            value_round_trip::<Vec<String>>(codec, payload);
            value_round_trip::<()>(codec, payload);
        }
        Frame::Reply { result: Err(e), .. } => {
            // The client's typed error keeps the server's message.
            let err = chsk::CbError::from(e.clone());
            assert_eq!(err.message(), Some(e.message.as_str()));
        }
        Frame::Push(runs) => {
            for ev in runs.iter().flat_map(|r| &r.events) {
                push(codec, ev);
            }
        }
        _ => {}
    }
}

fn push(codec: Codec, ev: &EventFrame) {
    event_round_trip::<FuzzPush>(codec, &ev.id, &ev.payload);
}

/// Builds an event payload from fuzz input, so the fuzzer can reach long, deeply nested
/// payloads without having to grow a 100 KB input byte by byte:
///
/// - `[0, rest..]`: the payload is `rest`;
/// - `[1, n_lo, n_hi, k, unit(k).., tail..]`: `unit` repeated `n` times (n < 65,536,
///   k ≤ 16), then `tail`.
pub fn build_payload(data: &[u8]) -> Option<Vec<u8>> {
    let (&mode, rest) = data.split_first()?;
    match mode & 1 {
        0 => Some(rest.to_vec()),
        _ => {
            let [lo, hi, k, rest @ ..] = rest else {
                return None;
            };
            let n = usize::from(u16::from_le_bytes([*lo, *hi]));
            let k = usize::from(*k % 17);
            if rest.len() < k {
                return None;
            }
            let (unit, tail) = rest.split_at(k);
            let mut out = Vec::with_capacity(n * k + tail.len());
            for _ in 0..n {
                out.extend_from_slice(unit);
            }
            out.extend_from_slice(tail);
            Some(out)
        }
    }
}
