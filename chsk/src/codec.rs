//! Codecs: how frames and payloads become bytes on the wire.
//!
//! A codec is chosen once per server (and must match on the client). [`Codec::Postcard`] is the
//! compact binary default; `Codec::Json` (feature `json`) is text, for debugging.

use serde::{de::DeserializeOwned, Deserialize, Deserializer, Serialize, Serializer};

use crate::error::CodecError;

mod depth;

/// The deepest nesting a decoder accepts: every sequence, map, struct, enum variant, `Some` and
/// newtype counts one level. Deeper input is an error (`nesting too deep`), in both codecs,
/// never a stack overflow: a recursive payload type (`Node { children: Vec<Node> }`) cannot make
/// a peer's frame exhaust the stack of the task that decodes it.
pub const MAX_DEPTH: usize = 128;

/// The first allocation of an encode buffer: most events and frames fit, so encoding a typical
/// event allocates once instead of growing a `Vec` from empty (about 3× faster for a 54-byte
/// message, see BENCHMARKS.md).
const ENCODE_CAPACITY: usize = 128;

/// The wire encoding of frames and event payloads.
///
/// ```
/// use chsk::Codec;
/// let bytes = Codec::Postcard.encode(&(1u8, "hi")).unwrap();
/// assert_eq!(bytes, [1, 2, b'h', b'i']);
/// let back: (u8, String) = Codec::Postcard.decode(&bytes).unwrap();
/// assert_eq!(back, (1, "hi".to_string()));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// [postcard](https://docs.rs/postcard): compact binary; WebSocket binary messages.
    #[default]
    Postcard,
    /// serde_json: text; WebSocket text messages (feature `json`).
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    Json,
}

impl Codec {
    /// A short name, used in errors and the query string (`postcard` / `json`).
    pub fn name(self) -> &'static str {
        match self {
            Codec::Postcard => "postcard",
            #[cfg(feature = "json")]
            Codec::Json => "json",
        }
    }

    /// Parses a [`name`](Self::name); `None` for an unknown codec, and for `json` when the
    /// `json` feature is off.
    pub fn from_name(name: &str) -> Option<Codec> {
        match name {
            "postcard" => Some(Codec::Postcard),
            #[cfg(feature = "json")]
            "json" => Some(Codec::Json),
            _ => None,
        }
    }

    /// `true` when the codec produces binary (WebSocket binary messages,
    /// `application/octet-stream` bodies); `false` for text.
    pub fn is_binary(self) -> bool {
        matches!(self, Codec::Postcard)
    }

    /// The HTTP content type of an encoded body.
    pub fn content_type(self) -> &'static str {
        match self {
            Codec::Postcard => "application/octet-stream",
            #[cfg(feature = "json")]
            Codec::Json => "application/json",
        }
    }

    /// Encodes any serializable value.
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>, CodecError> {
        match self {
            Codec::Postcard => postcard::to_extend(value, Vec::with_capacity(ENCODE_CAPACITY))
                .map_err(|e| CodecError::new("postcard", e)),
            #[cfg(feature = "json")]
            Codec::Json => json::encode(value),
        }
    }

    /// Decodes a value; the whole input must be consumed.
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, CodecError> {
        match self {
            Codec::Postcard => {
                let hit = std::cell::Cell::new(false);
                let mut de = postcard::Deserializer::from_bytes(bytes);
                let value = T::deserialize(depth::Limited::new(
                    &mut de,
                    depth::Budget::new(MAX_DEPTH, &hit),
                ))
                .map_err(|e| {
                    if hit.get() {
                        CodecError::new("postcard", depth::TOO_DEEP)
                    } else {
                        CodecError::new("postcard", e)
                    }
                })?;
                let rest = de.finalize().map_err(|e| CodecError::new("postcard", e))?;
                if rest.is_empty() {
                    Ok(value)
                } else {
                    Err(CodecError::new(
                        "postcard",
                        format_args!("{} trailing bytes", rest.len()),
                    ))
                }
            }
            #[cfg(feature = "json")]
            Codec::Json => json::decode(bytes),
        }
    }

    /// Encodes a value as an event payload.
    pub fn encode_payload<T: Serialize + ?Sized>(self, value: &T) -> Result<Payload, CodecError> {
        self.encode(value).map(Payload)
    }

    /// Decodes an event payload.
    pub fn decode_payload<T: DeserializeOwned>(self, payload: &Payload) -> Result<T, CodecError> {
        self.decode(&payload.0)
    }
}

#[cfg(feature = "json")]
mod json {
    use super::*;

    pub(super) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(ENCODE_CAPACITY);
        serde_json::to_writer(&mut out, value).map_err(|e| CodecError::new("json", e))?;
        Ok(out)
    }

    pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
        let hit = std::cell::Cell::new(false);
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = T::deserialize(super::depth::Limited::new(
            &mut de,
            super::depth::Budget::new(MAX_DEPTH, &hit),
        ))
        .and_then(|value| de.end().map(|()| value));
        value.map_err(|e| {
            if hit.get() {
                CodecError::new("json", super::depth::TOO_DEEP)
            } else {
                CodecError::new("json", e)
            }
        })
    }

    pub(super) fn raw(bytes: &[u8]) -> Result<&serde_json::value::RawValue, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

/// An event payload (or reply value, or handshake data), already encoded by the connection's
/// [`Codec`].
///
/// In a postcard frame it is a length-prefixed byte string; in a JSON frame it is embedded as
/// the JSON value itself (not a string), so JSON frames stay readable.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Payload(pub Vec<u8>);

impl Payload {
    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(s) if !s.is_empty() && !s.contains(|c: char| c.is_control()) => {
                write!(f, "Payload({s})")
            }
            _ => write!(f, "Payload({:02x?})", self.0),
        }
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            #[cfg(feature = "json")]
            {
                let raw = json::raw(&self.0).map_err(serde::ser::Error::custom)?;
                return raw.serialize(serializer);
            }
            #[cfg(not(feature = "json"))]
            return Err(serde::ser::Error::custom(
                "the `json` feature of chsk is not enabled",
            ));
        }
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            #[cfg(feature = "json")]
            {
                let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
                return Ok(Payload(raw.get().as_bytes().to_vec()));
            }
            #[cfg(not(feature = "json"))]
            return Err(serde::de::Error::custom(
                "the `json` feature of chsk is not enabled",
            ));
        }
        struct BytesVisitor;
        impl<'de> serde::de::Visitor<'de> for BytesVisitor {
            type Value = Payload;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Payload, E> {
                Ok(Payload(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Payload, E> {
                Ok(Payload(v))
            }
        }
        deserializer.deserialize_bytes(BytesVisitor)
    }
}
