//! How the server writes a `Push` frame around events it encoded once (history replays,
//! batches to many connections): the same bytes as encoding the frame whole.

use std::fmt::{self, Write as _};

use bytes::Bytes;

use super::position::{Position, StreamKind};

/// A run of events each already encoded as one element of a `Push` frame's event list (the
/// codec's encoding of an [`EventFrame`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRun<'a> {
    pub(crate) at: Option<Position>,
    pub(crate) events: &'a [Bytes],
}

/// The postcard variant index of `Frame::Push` (its place in the enum).
const PUSH_VARIANT: u64 = 4;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl crate::codec::Codec {
    /// The bytes of `Frame::Push` holding `runs`, written around events the codec encoded
    /// before (each as [`Codec::encode`](crate::Codec::encode) of an [`EventFrame`]): the same
    /// bytes as encoding the frame whole, without decoding or copying any event twice.
    pub(crate) fn encode_push_raw(self, runs: &[RawRun<'_>]) -> Vec<u8> {
        let len: usize = runs
            .iter()
            .map(|r| 40 + r.events.iter().map(|e| e.len() + 1).sum::<usize>())
            .sum();
        let mut out = Vec::with_capacity(len + 16);
        match self {
            Self::Postcard => {
                varint(&mut out, PUSH_VARIANT);
                varint(&mut out, runs.len() as u64);
                for run in runs {
                    match run.at {
                        None => out.push(0),
                        Some(at) => {
                            out.push(1);
                            out.push(at.stream.index());
                            varint(&mut out, at.epoch);
                            varint(&mut out, at.seq);
                        }
                    }
                    varint(&mut out, run.events.len() as u64);
                    for e in run.events {
                        out.extend_from_slice(e);
                    }
                }
            }
            #[cfg(feature = "json")]
            Self::Json => {
                out.extend_from_slice(b"{\"push\":[");
                for (i, run) in runs.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"at\":");
                    match run.at {
                        None => out.extend_from_slice(b"null"),
                        Some(at) => {
                            let _ = write!(
                                Utf8(&mut out),
                                "{{\"stream\":\"{}\",\"epoch\":{},\"seq\":{}}}",
                                at.stream.json_name(),
                                at.epoch,
                                at.seq
                            );
                        }
                    }
                    out.extend_from_slice(b",\"events\":[");
                    for (j, e) in run.events.iter().enumerate() {
                        if j > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(e);
                    }
                    out.extend_from_slice(b"]}");
                }
                out.extend_from_slice(b"]}");
            }
        }
        out
    }
}

#[cfg(feature = "json")]
impl StreamKind {
    fn json_name(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::User => "user",
            Self::Client => "client",
        }
    }
}

/// `fmt::Write` into a byte vector (only ASCII is written through it).
#[cfg(feature = "json")]
struct Utf8<'a>(&'a mut Vec<u8>);

#[cfg(feature = "json")]
impl fmt::Write for Utf8<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        codec::Codec,
        protocol::{EventFrame, Frame, PushRun},
    };

    fn codecs() -> Vec<Codec> {
        #[allow(unused_mut)]
        let mut v = vec![Codec::Postcard];
        #[cfg(feature = "json")]
        v.push(Codec::Json);
        v
    }

    #[test]
    fn raw_push_is_byte_for_byte_the_encoded_frame() {
        for codec in codecs() {
            let ev = |i: u32| EventFrame {
                id: "t/ev".into(),
                payload: codec.encode_payload(&i).expect("encodes"),
            };
            let runs = vec![
                PushRun {
                    at: Some(Position {
                        stream: StreamKind::User,
                        epoch: (1 << 53) - 1,
                        seq: 300,
                    }),
                    events: vec![ev(1), ev(2)],
                },
                PushRun::volatile(vec![ev(3)]),
                PushRun {
                    at: Some(Position {
                        stream: StreamKind::Client,
                        epoch: 1,
                        seq: 1,
                    }),
                    events: vec![],
                },
            ];
            let encoded: Vec<Vec<Bytes>> = runs
                .iter()
                .map(|r| {
                    r.events
                        .iter()
                        .map(|e| Bytes::from(codec.encode(e).expect("encodes")))
                        .collect()
                })
                .collect();
            let raw: Vec<RawRun<'_>> = runs
                .iter()
                .zip(&encoded)
                .map(|(r, e)| RawRun {
                    at: r.at,
                    events: e,
                })
                .collect();
            let whole = codec.encode_frame(&Frame::Push(runs)).expect("encodes");
            assert_eq!(codec.encode_push_raw(&raw), whole, "{codec:?}");
            assert_eq!(
                codec.encode_push_raw(&[]),
                codec.encode_frame(&Frame::Push(vec![])).expect("encodes")
            );
        }
    }
}
