//! What goes on the wire: the typical ~100-byte event, the frames each protocol uses for it, and
//! cheap header parsers for the load client (the client reads just enough to count and match).

use std::borrow::Cow;

use bytes::Bytes;
use chsk::{
    protocol::{EventFrame, Frame, Position, PushRun, StreamKind},
    Codec, Payload,
};
use serde::{Deserialize, Serialize};

/// The event id of the request/reply benchmark.
pub const ECHO_ID: &str = "bench/echo";
/// The event id of pushed events.
pub const PUSH_ID: &str = "bench/push";

/// A typical event payload: a chat line, about 100 bytes as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Msg {
    /// Who wrote it.
    pub user: String,
    /// Where.
    pub room: String,
    /// The line.
    pub text: String,
    /// When (ms since the epoch).
    pub ts: u64,
}

/// A pushed block of bytes for the burst scenarios: a sequence number and `data` (ASCII, so the
/// JSON and postcard encodings are the same size).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    /// Position in the burst.
    pub seq: u32,
    /// The filler.
    pub data: String,
}

/// The sample payload used everywhere.
pub fn sample_msg() -> Msg {
    Msg {
        user: "alice".into(),
        room: "lobby".into(),
        text: "hello everyone, a typical chat line".into(),
        ts: 1_764_000_000_000,
    }
}

/// The payload as JSON text (what Socket.IO carries).
pub fn msg_json(msg: &Msg) -> String {
    serde_json::to_string(msg).expect("a Msg always serializes")
}

/// The three servers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// Plain WebSocket: a binary message is echoed; a push is one binary message.
    Raw,
    /// Engine.IO v4 / Socket.IO v5 over WebSocket, JSON (socketioxide).
    Sio,
    /// chsk frames, postcard codec.
    Chsk,
}

impl Proto {
    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Raw => "raw",
            Proto::Sio => "socketioxide",
            Proto::Chsk => "chsk",
        }
    }
}

/// A WebSocket message as the load client sends it.
#[derive(Debug, Clone)]
pub enum Out {
    /// Binary message.
    Bin(Bytes),
    /// Text message.
    Text(String),
}

/// The request for `slot` (raw: the 100-byte message with the slot in its first 4 bytes; sio:
/// `42<slot>["bench/echo",{…}]`; chsk: `Frame::Request { reply_id: slot, … }`).
pub fn request(proto: Proto, slot: u32, msg: &Msg) -> Out {
    match proto {
        Proto::Raw => Out::Bin(raw_message(slot, msg)),
        Proto::Sio => Out::Text(format!("42{slot}[\"{ECHO_ID}\",{}]", msg_json(msg))),
        Proto::Chsk => Out::Bin(Bytes::from(
            Codec::Postcard
                .encode_frame(&Frame::Request {
                    reply_id: slot,
                    event: event_frame(ECHO_ID, msg, Codec::Postcard),
                })
                .expect("a request frame encodes"),
        )),
    }
}

/// The raw message: 100 bytes, the slot (u32 LE) then the JSON payload, cut or padded.
pub fn raw_message(slot: u32, msg: &Msg) -> Bytes {
    let mut v = Vec::with_capacity(100);
    v.extend_from_slice(&slot.to_le_bytes());
    v.extend_from_slice(msg_json(msg).as_bytes());
    v.resize(100, b' ');
    Bytes::from(v)
}

/// An event frame part holding `msg` (a one-field tuple variant: the payload is the field).
pub fn event_frame(id: &'static str, msg: &Msg, codec: Codec) -> EventFrame {
    EventFrame {
        id: Cow::Borrowed(id),
        payload: codec.encode_payload(msg).expect("a Msg encodes"),
    }
}

/// What the load client saw in one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    /// The reply to the request in this slot.
    Reply(u32),
    /// This many pushed events.
    Push(u32),
    /// A protocol ping the client must answer (sio `2`, chsk `Ping`).
    Ping,
    /// The connection is open (sio `40…`, chsk `Handshake`).
    Open,
    /// The Engine.IO open packet (`0{…}`): the client must now connect the namespace.
    EioOpen,
    /// Anything else (an error reply counts here).
    Other,
}

/// Reads a postcard varint (u32).
fn varint(b: &[u8]) -> Option<(u32, usize)> {
    let mut v: u32 = 0;
    for (i, byte) in b.iter().take(5).enumerate() {
        v |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Reads a postcard varint (u64) at `*at`, moving past it.
fn varint64(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let byte = *b.get(*at + i)?;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *at += i + 1;
            return Some(v);
        }
    }
    None
}

/// Walks the runs of a postcard `Push` frame (`Frame::Push(Vec<PushRun>)`) without decoding
/// its events: `run(at, events)` for each run, its first event's position (`None`: volatile)
/// and how many events it holds. `None` if `b` is not a well-formed `Push` frame.
pub fn push_runs(b: &[u8], mut run: impl FnMut(Option<Position>, u32)) -> Option<()> {
    if b.first() != Some(&4) {
        return None;
    }
    let mut at = 1;
    let runs = varint64(b, &mut at)?;
    for _ in 0..runs {
        let pos = match b.get(at)? {
            0 => {
                at += 1;
                None
            }
            1 => {
                at += 1;
                let stream = *StreamKind::ALL.get(varint64(b, &mut at)? as usize)?;
                let epoch = varint64(b, &mut at)?;
                let seq = varint64(b, &mut at)?;
                Some(Position { stream, epoch, seq })
            }
            _ => return None,
        };
        let events = u32::try_from(varint64(b, &mut at)?).ok()?;
        // each event: the id and the payload, each a length and its bytes
        for _ in 0..2 * events {
            let len = usize::try_from(varint64(b, &mut at)?).ok()?;
            at = at.checked_add(len).filter(|&end| end <= b.len())?;
        }
        run(pos, events);
    }
    (at == b.len()).then_some(())
}

/// Classifies a binary message.
pub fn classify_bin(proto: Proto, b: &[u8]) -> In {
    match proto {
        Proto::Raw => match b.get(..4) {
            Some(s) => In::Reply(u32::from_le_bytes([s[0], s[1], s[2], s[3]])),
            None => In::Other,
        },
        Proto::Sio => In::Other,
        Proto::Chsk => match b.first() {
            Some(0) => In::Open,
            // Reply: 03 <reply_id varint> <00 = ok>
            Some(3) => match varint(&b[1..]) {
                Some((id, n)) if b.get(1 + n) == Some(&0) => In::Reply(id),
                _ => In::Other,
            },
            Some(4) => {
                let mut count = 0u32;
                match push_runs(b, |_, n| count += n) {
                    Some(()) => In::Push(count),
                    None => In::Other,
                }
            }
            Some(5) => In::Ping,
            _ => In::Other,
        },
    }
}

/// Classifies a text message.
pub fn classify_text(proto: Proto, t: &str) -> In {
    if proto != Proto::Sio {
        return In::Other;
    }
    let b = t.as_bytes();
    match b {
        [b'2'] => In::Ping,
        [b'0', b'{', ..] => In::EioOpen,
        [b'4', b'0', ..] => In::Open,
        [b'4', b'2', b'[', ..] => In::Push(1),
        [b'4', b'3', rest @ ..] => {
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            match t[2..2 + digits].parse() {
                Ok(id) if rest.get(digits) == Some(&b'[') => In::Reply(id),
                _ => In::Other,
            }
        }
        _ => In::Other,
    }
}

/// The answer to a protocol ping.
pub fn pong(proto: Proto) -> Option<Out> {
    match proto {
        Proto::Raw => None,
        Proto::Sio => Some(Out::Text("3".into())),
        Proto::Chsk => Some(Out::Bin(Bytes::from_static(&[6]))),
    }
}

/// One row of the bytes-on-the-wire comparison.
#[derive(Debug, Clone)]
pub struct WireRow {
    /// What is sent.
    pub what: &'static str,
    /// chsk, postcard codec (WebSocket message payload bytes).
    pub chsk_postcard: usize,
    /// chsk, JSON codec.
    pub chsk_json: usize,
    /// Socket.IO v5 over Engine.IO v4, the default JSON parser.
    pub socketio: usize,
}

/// Bytes per WebSocket message payload for the same events (WebSocket's own header is the same
/// 2–8 bytes for every protocol and is not counted).
pub fn wire_sizes() -> Vec<WireRow> {
    let msg = sample_msg();
    let json = msg_json(&msg);
    let size =
        |codec: Codec, frame: &Frame| codec.encode_frame(frame).map(|v| v.len()).unwrap_or(0);
    let both = |frame_of: &dyn Fn(Codec) -> Frame| {
        (
            size(Codec::Postcard, &frame_of(Codec::Postcard)),
            size(Codec::Json, &frame_of(Codec::Json)),
        )
    };
    let mut rows = Vec::new();

    let (p, j) = both(&|c| Frame::Event(event_frame("chat/post", &msg, c)));
    let sio = format!("42[\"chat/post\",{json}]").len();
    rows.push(WireRow {
        what: "event C→S `chat/post`",
        chsk_postcard: p,
        chsk_json: j,
        socketio: sio,
    });

    let (p, j) = both(&|c| Frame::Request {
        reply_id: 7,
        event: event_frame("chat/post", &msg, c),
    });
    let sio = format!("427[\"chat/post\",{json}]").len();
    rows.push(WireRow {
        what: "request C→S (id 7)",
        chsk_postcard: p,
        chsk_json: j,
        socketio: sio,
    });

    let (p, j) = both(&|c| Frame::Reply {
        reply_id: 7,
        result: Ok(c.encode_payload(&msg).unwrap_or_default()),
    });
    let sio = format!("437[{json}]").len();
    rows.push(WireRow {
        what: "reply S→C (id 7)",
        chsk_postcard: p,
        chsk_json: j,
        socketio: sio,
    });

    let (p, j) = both(&|c| {
        Frame::Push(vec![PushRun::volatile(vec![event_frame(
            "chat/new", &msg, c,
        )])])
    });
    let sio = format!("42[\"chat/new\",{json}]").len();
    rows.push(WireRow {
        what: "push S→C, 1 event",
        chsk_postcard: p,
        chsk_json: j,
        socketio: sio,
    });

    let (p, j) = both(&|c| {
        Frame::Push(vec![PushRun::volatile(vec![
            event_frame(
                "chat/new", &msg, c
            );
            10
        ])])
    });
    rows.push(WireRow {
        what: "push S→C, 10 events (chsk: 1 batch; sio: 10 messages)",
        chsk_postcard: p,
        chsk_json: j,
        socketio: 10 * sio,
    });

    let ping = |c: Codec| size(c, &Frame::Ping);
    rows.push(WireRow {
        what: "ping",
        chsk_postcard: ping(Codec::Postcard),
        chsk_json: ping(Codec::Json),
        socketio: 1,
    });
    rows
}

/// Payload bytes of the sample message alone: (postcard, JSON).
pub fn payload_sizes() -> (usize, usize) {
    let msg = sample_msg();
    let p: Payload = Codec::Postcard.encode_payload(&msg).unwrap_or_default();
    (p.0.len(), msg_json(&msg).len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_runs_reads_positions_and_counts_of_an_encoded_frame() {
        let msg = sample_msg();
        let ev = || event_frame(PUSH_ID, &msg, Codec::Postcard);
        let at = Position {
            stream: StreamKind::User,
            epoch: (1 << 53) - 1,
            seq: 300,
        };
        let frame = Frame::Push(vec![
            PushRun {
                at: Some(at),
                events: vec![ev(), ev(), ev()],
            },
            PushRun::volatile(vec![ev()]),
        ]);
        let bytes = Codec::Postcard.encode_frame(&frame).expect("encodes");
        let mut runs = Vec::new();
        assert_eq!(push_runs(&bytes, |p, n| runs.push((p, n))), Some(()));
        assert_eq!(runs, vec![(Some(at), 3), (None, 1)]);
        assert_eq!(classify_bin(Proto::Chsk, &bytes), In::Push(4));
        assert_eq!(push_runs(&bytes[..bytes.len() - 1], |_, _| {}), None);
    }
}
