//! How the server writes a `Push` frame around events it encoded once (history replays,
//! batches to many connections): the same bytes as encoding the frame whole.

#[cfg(feature = "json")]
use std::fmt::{self, Write as _};

use bytes::Bytes;

use super::position::Position;
#[cfg(feature = "json")]
use super::position::StreamKind;

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
    /// What a `Push` frame costs around its runs, and a run around its events, from above:
    /// postcard's variant and run count (6 bytes), a run's tag, stream, epoch, sequence number
    /// and event count (32 bytes); JSON's `{"push":[]}` (11 bytes) and
    /// `{"at":{"stream":"client","epoch":…,"seq":…},"events":[]},` (96 bytes with the
    /// largest numbers).
    pub(crate) fn push_overheads(self) -> (usize, usize) {
        match self {
            Self::Postcard => (6, 32),
            #[cfg(feature = "json")]
            Self::Json => (11, 96),
        }
    }

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

/// Encodes runs of events as `Push` frames of at most `max` bytes each (a run is split
/// between frames where needed, each part with its own position); with each frame, its runs.
/// An event larger than `max` alone still makes a frame of its own.
pub(crate) fn frames<'a>(
    codec: crate::codec::Codec,
    runs: &[(Option<Position>, &'a [Bytes])],
    max: usize,
) -> Vec<(Bytes, Vec<RawRun<'a>>)> {
    let (frame_overhead, run_overhead) = codec.push_overheads();
    let mut out = Vec::new();
    let mut parts: Vec<RawRun<'a>> = Vec::new();
    let mut size = frame_overhead;
    for &(at, run) in runs {
        let mut start = 0;
        while start < run.len() {
            if !parts.is_empty() && size + run_overhead + run[start].len() + 1 > max {
                let done = std::mem::take(&mut parts);
                out.push((Bytes::from(codec.encode_push_raw(&done)), done));
                size = frame_overhead;
            }
            size += run_overhead;
            let mut end = start;
            while end < run.len() && (end == start || size + run[end].len() < max) {
                size += run[end].len() + 1;
                end += 1;
            }
            let at = at.map(|p| Position {
                seq: p.seq + start as u64,
                ..p
            });
            parts.push(RawRun {
                at,
                events: &run[start..end],
            });
            start = end;
        }
    }
    if !parts.is_empty() {
        out.push((Bytes::from(codec.encode_push_raw(&parts)), parts));
    }
    out
}

/// The number of events of some runs.
pub(crate) fn count(runs: &[RawRun<'_>]) -> u64 {
    runs.iter().map(|r| r.events.len() as u64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::StreamKind;
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

    fn at(stream: StreamKind, epoch: u64, seq: u64) -> Position {
        Position { stream, epoch, seq }
    }

    fn ev(codec: Codec, i: u32, pad: usize) -> Bytes {
        let event = EventFrame {
            id: "t/e".into(),
            payload: codec
                .encode_payload(&(i, "x".repeat(pad)))
                .expect("encodes"),
        };
        Bytes::from(codec.encode(&event).expect("encodes"))
    }

    #[test]
    fn frames_stay_under_the_bound_and_keep_every_position() {
        let codec = Codec::Postcard;
        let a: Vec<Bytes> = (0..50).map(|i| ev(codec, i, 40)).collect();
        let b: Vec<Bytes> = (50..60).map(|i| ev(codec, i, 10)).collect();
        let pa = at(StreamKind::All, 7, 11);
        let pb = at(StreamKind::User, 9, 1);
        let out = frames(codec, &[(Some(pa), &a), (Some(pb), &b)], 600);
        assert!(out.len() > 3, "{}", out.len());
        let mut seen: Vec<(StreamKind, u64, u32)> = Vec::new();
        for (bytes, parts) in &out {
            let n = count(parts);
            assert!(bytes.len() <= 600, "{}", bytes.len());
            let Frame::Push(runs) = codec.decode_frame(bytes).expect("decodes") else {
                panic!("a push")
            };
            assert_eq!(
                n as usize,
                runs.iter().map(|r| r.events.len()).sum::<usize>()
            );
            for run in runs {
                let p = run.at.expect("positioned");
                for (k, e) in run.events.iter().enumerate() {
                    let (i, _): (u32, String) = codec.decode_payload(&e.payload).expect("decodes");
                    seen.push((p.stream, p.seq + k as u64, i));
                }
            }
        }
        let want: Vec<(StreamKind, u64, u32)> = (0..50)
            .map(|i| (StreamKind::All, 11 + i as u64, i))
            .chain((50..60).map(|i| (StreamKind::User, 1 + (i - 50) as u64, i)))
            .collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn a_single_event_larger_than_the_bound_still_goes_alone() {
        let codec = Codec::Postcard;
        let big = vec![ev(codec, 1, 500), ev(codec, 2, 1)];
        let out = frames(codec, &[(None, &big)], 100);
        assert_eq!(
            out.iter().map(|(_, p)| count(p)).collect::<Vec<_>>(),
            [1, 1]
        );
    }
}
