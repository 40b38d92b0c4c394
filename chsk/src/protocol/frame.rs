use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::position::Position;
use crate::{
    codec::{Codec, Payload},
    error::{CbError, CodecError},
};

/// Identifies a pending request on one connection; chosen by the client, echoed in the reply.
pub type ReplyId = u32;

/// An event on the wire: its id and its encoded payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFrame {
    /// The namespaced event id, e.g. `chat/post`.
    pub id: Cow<'static, str>,
    /// The variant's fields, encoded by the connection's codec.
    pub payload: Payload,
}

/// Sent by the server when a connection opens (every WebSocket open, every Ajax handshake poll).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handshake {
    /// The protocol version the server speaks ([`VERSION`](super::VERSION)).
    pub version: u32,
    /// The user id the server assigned, `None` for an anonymous client.
    pub uid: Option<String>,
    /// The client id (one per client instance: a browser tab).
    pub client_id: String,
    /// Optional application data from the server's handshake-data hook.
    pub data: Option<Payload>,
    /// `true` on the first handshake the server has seen for this client id.
    pub first: bool,
    /// `true` when every push the client missed since the positions it presented follows
    /// (in order, before any live push); `false` when the server replayed nothing (no position
    /// presented, or the history no longer has them: the app must reload its state).
    pub recovered: bool,
    /// For each stream the connection reads, the position that the pushes that follow continue
    /// from: the client's own when recovered, the stream's current one otherwise. Empty when
    /// the server keeps no history.
    pub positions: Vec<Position>,
}

/// Events of a `Push` frame that follow each other in one stream (`at` is the first one's
/// position), or volatile events (`at: None`), which are not kept for recovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRun {
    /// The stream and position of the first event; `None` for volatile events.
    pub at: Option<Position>,
    /// The events, in order.
    pub events: Vec<EventFrame>,
}

impl PushRun {
    /// A run of volatile events: no position, not recovered after a reconnect.
    ///
    /// ```
    /// use chsk::protocol::{EventFrame, Frame, PushRun};
    /// let event = EventFrame { id: "chat/typing".into(), payload: chsk::Payload(vec![]) };
    /// let frame = Frame::Push(vec![PushRun::volatile(vec![event])]);
    /// assert_eq!(frame.pushed_events().count(), 1);
    /// ```
    pub fn volatile(events: Vec<EventFrame>) -> Self {
        Self { at: None, events }
    }
}

/// Every message of the protocol, in both directions.
///
/// The frame is encoded as a whole by the connection's [`Codec`](crate::Codec); event payloads
/// inside it are [`Payload`]s encoded by the same codec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Frame {
    /// S→C: the connection is open.
    Handshake(Handshake),
    /// C→S: an event that wants no reply.
    Event(EventFrame),
    /// C→S: an event that wants exactly one reply, matched by `reply_id`.
    Request {
        /// Chosen by the client, unique among its pending requests.
        reply_id: ReplyId,
        /// The event.
        event: EventFrame,
    },
    /// S→C: the reply to a request: the handler's value, or an error of a known kind.
    Reply {
        /// The request's id.
        reply_id: ReplyId,
        /// `Ok(payload)`, or `Err` with the kind and message (unknown event, bad payload,
        /// handler failure, …).
        #[serde(with = "reply_result")]
        result: Result<Payload, ReplyError>,
    },
    /// S→C: pushed events, in order: runs of consecutive events of one stream each (with the
    /// first one's position), or of volatile events.
    Push(Vec<PushRun>),
    /// Either way: a keep-alive ping; the peer answers [`Frame::Pong`].
    Ping,
    /// Either way: the answer to a [`Frame::Ping`].
    Pong,
    /// S→C (Ajax): the long-poll was held for the poll timeout with nothing to send.
    PollTimeout,
    /// S→C: a protocol error that does not close the connection (e.g. a malformed frame).
    Error {
        /// What was wrong.
        message: String,
    },
    /// S→C: the server is closing the connection, and why.
    Close {
        /// The reason (e.g. `slow consumer`, `too many connections`).
        reason: String,
    },
}

impl Frame {
    /// The events of a `Push` frame, in order, whatever their runs (none for another frame).
    ///
    /// ```
    /// use chsk::protocol::{Frame, PushRun};
    /// assert_eq!(Frame::Push(vec![PushRun::volatile(vec![])]).pushed_events().count(), 0);
    /// assert_eq!(Frame::Ping.pushed_events().count(), 0);
    /// ```
    pub fn pushed_events(&self) -> impl Iterator<Item = &EventFrame> {
        let runs: &[PushRun] = match self {
            Frame::Push(runs) => runs,
            _ => &[],
        };
        runs.iter().flat_map(|r| r.events.iter())
    }
}

// Frames are encoded by the codec; the methods live here so that the codec knows nothing of
// frames (the protocol builds on the codec, not the other way round).
impl Codec {
    /// Encodes a whole frame, ready to send.
    ///
    /// ```
    /// use chsk::{protocol::Frame, Codec};
    /// let bytes = Codec::Postcard.encode_frame(&Frame::Ping)?;
    /// assert_eq!(Codec::Postcard.decode_frame(&bytes)?, Frame::Ping);
    /// # Ok::<(), chsk::CodecError>(())
    /// ```
    pub fn encode_frame(self, frame: &Frame) -> Result<Vec<u8>, CodecError> {
        self.encode(frame)
    }

    /// Decodes a whole frame received from the peer.
    pub fn decode_frame(self, bytes: &[u8]) -> Result<Frame, CodecError> {
        self.decode(bytes)
    }
}

/// The error side of a [`Frame::Reply`]: why the server did not answer with a value.
///
/// On the wire (PROTOCOL.md section 2): JSON `{"kind":"handler","message":"…"}`, postcard the
/// kind's varint followed by the message string. The client turns it into the matching
/// [`CbError`] variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyError {
    /// What went wrong.
    pub kind: ReplyErrorKind,
    /// The human-readable reason.
    pub message: String,
}

impl ReplyError {
    /// An error reply of `kind`.
    ///
    /// ```
    /// use chsk::protocol::{ReplyError, ReplyErrorKind};
    /// let e = ReplyError::new(ReplyErrorKind::UnknownEvent, "unknown event id `x/y`");
    /// assert_eq!(chsk::CbError::from(e).message(), Some("unknown event id `x/y`"));
    /// ```
    pub fn new(kind: ReplyErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// An error reply from the server as the client (and `Server::call_local`) returns it: the
/// [`CbError`] variant of the same name, with the message.
impl From<ReplyError> for CbError {
    fn from(e: ReplyError) -> Self {
        let message = e.message;
        match e.kind {
            ReplyErrorKind::Handler => CbError::Handler { message },
            ReplyErrorKind::UnknownEvent => CbError::UnknownEvent { message },
            ReplyErrorKind::BadPayload => CbError::BadPayload { message },
            ReplyErrorKind::Refused => CbError::Refused {
                status: None,
                message,
            },
            ReplyErrorKind::Server => CbError::Server { message },
        }
    }
}

/// The kind of a [`ReplyError`]; each is one [`CbError`] variant of the same
/// name. On the wire: the snake_case name in JSON, the index (in this order, from 0) in
/// postcard. A kind is never renumbered; a new one is a protocol change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReplyErrorKind {
    /// `handler` (0): the handler panicked.
    Handler,
    /// `unknown_event` (1): no such event id, or no handler for it on this server.
    UnknownEvent,
    /// `bad_payload` (2): the payload does not decode as the event's fields (or is nested
    /// deeper than the depth bound).
    BadPayload,
    /// `refused` (3): the server refused to run the call.
    Refused,
    /// `server` (4): the handler ran but its reply could not be sent (too large for a frame,
    /// or not encodable).
    Server,
}

/// `Result<Payload, ReplyError>` on the wire as `{"ok": …}` / `{"err": {"kind": …, "message":
/// …}}` (variant 0 / 1 in postcard).
mod reply_result {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::ReplyError;
    use crate::codec::Payload;

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Ref<'a> {
        Ok(&'a Payload),
        Err(&'a ReplyError),
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Owned {
        Ok(Payload),
        Err(ReplyError),
    }

    pub(super) fn serialize<S: Serializer>(
        value: &Result<Payload, ReplyError>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Ok(p) => Ref::Ok(p),
            Err(e) => Ref::Err(e),
        }
        .serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Result<Payload, ReplyError>, D::Error> {
        Ok(match Owned::deserialize(deserializer)? {
            Owned::Ok(p) => Ok(p),
            Owned::Err(e) => Err(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_kind_maps_to_its_variant_with_the_message() {
        let m = || "m".to_owned();
        let cases = [
            (ReplyErrorKind::Handler, CbError::Handler { message: m() }),
            (
                ReplyErrorKind::UnknownEvent,
                CbError::UnknownEvent { message: m() },
            ),
            (
                ReplyErrorKind::BadPayload,
                CbError::BadPayload { message: m() },
            ),
            (
                ReplyErrorKind::Refused,
                CbError::Refused {
                    status: None,
                    message: m(),
                },
            ),
            (ReplyErrorKind::Server, CbError::Server { message: m() }),
        ];
        for (kind, want) in cases {
            let got = CbError::from(ReplyError::new(kind, "m"));
            assert_eq!(got, want, "{kind:?}");
            assert_eq!(got.message(), Some("m"));
            assert_eq!(got.status(), None);
        }
    }
}
