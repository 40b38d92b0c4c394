use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::{
    codec::{Codec, Payload},
    error::CodecError,
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
    /// The user id the server assigned, `None` for an anonymous client.
    pub uid: Option<String>,
    /// The client id (one per client instance: a browser tab).
    pub client_id: String,
    /// Optional application data from the server's handshake-data hook.
    pub data: Option<Payload>,
    /// `true` on the first handshake the server has seen for this client id.
    pub first: bool,
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
    /// S→C: the reply to a request: the handler's value, or an error message.
    Reply {
        /// The request's id.
        reply_id: ReplyId,
        /// `Ok(payload)` or `Err(message)` (unknown event, bad payload, handler failure).
        #[serde(with = "reply_result")]
        result: Result<Payload, String>,
    },
    /// S→C: one or more pushed events, in order.
    Push(Vec<EventFrame>),
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

/// `Result<Payload, String>` on the wire as `{"ok": …}` / `{"err": "…"}` (variant 0 / 1 in
/// postcard).
mod reply_result {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::codec::Payload;

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Ref<'a> {
        Ok(&'a Payload),
        Err(&'a str),
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Owned {
        Ok(Payload),
        Err(String),
    }

    pub(super) fn serialize<S: Serializer>(
        value: &Result<Payload, String>,
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
    ) -> Result<Result<Payload, String>, D::Error> {
        Ok(match Owned::deserialize(deserializer)? {
            Owned::Ok(p) => Ok(p),
            Owned::Err(e) => Err(e),
        })
    }
}
