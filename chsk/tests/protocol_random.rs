//! Randomized protocol tests (stable toolchain, a few seconds in a debug build): seeded
//! mutations of the golden frames of both codecs and of event payloads, including a recursive
//! payload type (deeply nested payloads: `protocol_deep.rs`).
//!
//! Properties: no input makes a decoder panic (or abort), and whatever decodes re-encodes and
//! decodes to the same value (and the same bytes). The nightly fuzz targets in `fuzz/` check the
//! same properties with libFuzzer; this file keeps them in CI.
//!
//! Every loop prints its seed; a failure names the seed, the case and the input in hex.
#![allow(clippy::unwrap_used)] // test fixtures

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};

use chsk::{
    protocol::{EventFrame, Frame, Handshake},
    Codec, Event, Payload,
};
use serde::{de::DeserializeOwned, Serialize};
use support::protocol::*;

// ---------------------------------------------------------------------------------------------
// Seeds: the golden frames (the samples of `protocol_golden.rs`, which pins their bytes) and
// frames and payloads of the event types above.

use support::golden::p;

/// The golden frames, then frames carrying the event types above.
fn frames(codec: Codec) -> Vec<Frame> {
    let mut frames: Vec<Frame> = support::golden::samples(codec)
        .into_iter()
        .map(|(_, f)| f)
        .collect();
    for (i, e) in tree_events().iter().enumerate() {
        let event = e.to_frame(codec).unwrap();
        frames.push(if i % 2 == 0 {
            Frame::Event(event)
        } else {
            Frame::Request {
                reply_id: i as u32,
                event,
            }
        });
    }
    frames.push(Frame::Push(vec![chsk::protocol::PushRun::volatile(
        chat_events()
            .iter()
            .map(|e| e.to_frame(codec).unwrap())
            .collect(),
    )]));
    frames.push(Frame::Reply {
        reply_id: 9,
        result: Ok(p(codec, sample_tree())),
    });
    frames
}

fn frame_seeds(codec: Codec) -> Vec<Vec<u8>> {
    frames(codec)
        .iter()
        .map(|f| codec.encode_frame(f).unwrap())
        .collect()
}

/// `(id, payload bytes)` of every sample event.
fn payload_seeds(codec: Codec) -> Vec<(&'static str, Vec<u8>)> {
    let trees = tree_events()
        .into_iter()
        .map(|e| (e.id(), e.encode_payload(codec).unwrap().0));
    let chats = chat_events()
        .into_iter()
        .map(|e| (e.id(), e.encode_payload(codec).unwrap().0));
    trees.chain(chats).collect()
}

// ---------------------------------------------------------------------------------------------
// The properties.

/// A frame that decodes re-encodes, decodes to the same frame, and encodes to the same bytes.
fn frame_round_trip(codec: Codec, frame: &Frame) {
    let bytes = codec.encode_frame(frame).unwrap();
    let back = codec.decode_frame(&bytes).unwrap();
    assert_eq!(&back, frame, "{} frame round trip", codec.name());
    assert_eq!(codec.encode_frame(&back).unwrap(), bytes, "stable bytes");
}

/// Decodes `(id, payload)` as `E`; whatever decodes round-trips. Returns whether it decoded.
fn event_round_trip<E: Event + PartialEq + std::fmt::Debug>(
    codec: Codec,
    id: &str,
    payload: &Payload,
) -> bool {
    let Ok(event) = E::decode(id, payload, codec) else {
        return false;
    };
    assert_eq!(event.id(), id);
    let frame = event.to_frame(codec).unwrap();
    let back = E::from_frame(&frame, codec).unwrap();
    assert_eq!(back, event, "{} event round trip", codec.name());
    assert_eq!(back.encode_payload(codec).unwrap(), frame.payload);
    true
}

fn value_round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    codec: Codec,
    payload: &Payload,
) {
    if let Ok(value) = codec.decode_payload::<T>(payload) {
        let bytes = codec.encode_payload(&value).unwrap();
        let back: T = codec.decode_payload(&bytes).unwrap();
        assert_eq!(back, value, "{} value round trip", codec.name());
        assert_eq!(codec.encode_payload(&back).unwrap(), bytes);
    }
}

/// Everything a peer does with received bytes: the frame, then the payloads inside it as the
/// server (events, requests) and the client (handshake data, reply values, pushes) decode them.
/// Returns how many frames (0 or 1) and events decoded.
fn check_frame_bytes(codec: Codec, bytes: &[u8]) -> (usize, usize) {
    let Ok(frame) = codec.decode_frame(bytes) else {
        return (0, 0);
    };
    frame_round_trip(codec, &frame);
    let events: Vec<&EventFrame> = match &frame {
        Frame::Event(ev) | Frame::Request { event: ev, .. } => vec![ev],
        Frame::Push(_) => frame.pushed_events().collect(),
        Frame::Handshake(Handshake { data: Some(d), .. }) => {
            value_round_trip::<Option<String>>(codec, d);
            vec![]
        }
        Frame::Reply { result: Ok(v), .. } => {
            value_round_trip::<Vec<String>>(codec, v);
            value_round_trip::<Node>(codec, v);
            vec![]
        }
        _ => vec![],
    };
    let mut decoded = 0;
    for ev in events {
        decoded += usize::from(event_round_trip::<TreeEvent>(codec, &ev.id, &ev.payload));
        decoded += usize::from(event_round_trip::<ChatEvent>(codec, &ev.id, &ev.payload));
    }
    (1, decoded)
}

/// Returns whether the payload decoded.
fn check_payload(codec: Codec, id: &str, bytes: &[u8]) -> bool {
    let payload = Payload(bytes.to_vec());
    event_round_trip::<TreeEvent>(codec, id, &payload)
        | event_round_trip::<ChatEvent>(codec, id, &payload)
}

/// Runs `check`, turning a panic into a failure that names the seed, the case and the input.
fn guarded<T>(seed: u64, case: usize, what: &str, bytes: &[u8], check: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(check)) {
        Ok(v) => v,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            panic!(
            "seed {seed:#x}, case {case}, {what}: {msg}\ninput ({} bytes): {bytes:02x?}\nas text: {:?}",
            bytes.len(),
            String::from_utf8_lossy(bytes)
        )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations.

/// Inputs stay below this size, so the nesting a mutation can build (at most one postcard level
/// per byte) stays well below what overflows a 2 MiB test thread's stack in a debug build even
/// without a decode depth bound (1,000 Node levels decode there; 2,000 overflow).
const MAX_LEN: usize = 512;

const INTERESTING: &[u8] = &[
    0x00, 0x01, 0x02, 0x7f, 0x80, 0x81, 0xfe, 0xff, b'"', b'[', b']', b'{', b'}', b',', b':',
    b'\\', b'0', b'-', b'n', b'e',
];

const TOKENS: &[&[u8]] = &[
    b"null",
    b"true",
    b"[",
    b"]",
    b"{}",
    b"[]",
    b"\"\"",
    b"\"\\ud800\"",
    b"\"\\u00e9\"",
    b"1e999",
    b"-0",
    b"340282366920938463463374607431768211456",
    b",",
    b":",
    b"{\"ok\":",
    b"{\"err\":\"e\"}",
    b"\"ping\"",
];

/// Varints that claim huge lengths (postcard length prefixes), and overlong / overflowing ones.
const BIG_VARINTS: &[&[u8]] = &[
    &[0xff, 0xff, 0xff, 0xff, 0x0f],
    &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
    &[0x80, 0x00],
    &[0xff; 11],
    &[0x7f],
    &[0xe8, 0x07],
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, others: &[Vec<u8>]) {
    // Half the cases get one mutation (those still decode often), the rest two to four.
    let rounds = if rng.below(2) == 0 {
        1
    } else {
        2 + rng.below(3)
    };
    for _ in 0..rounds {
        let len = input.len();
        let at = rng.below(len + 1);
        match rng.below(12) {
            // Bit flip.
            0 if len > 0 => input[at.min(len - 1)] ^= 1 << rng.below(8),
            // Random byte.
            1 if len > 0 => input[at.min(len - 1)] = rng.byte(),
            // Interesting byte.
            2 if len > 0 => input[at.min(len - 1)] = *rng.pick(INTERESTING),
            // Insert 1–4 random bytes.
            3 => {
                let n = 1 + rng.below(4);
                let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
                input.splice(at..at, bytes);
            }
            // Delete 1–4 bytes.
            4 if len > 0 => {
                let start = at.min(len - 1);
                let end = (start + 1 + rng.below(4)).min(len);
                input.drain(start..end);
            }
            // Truncate.
            5 => input.truncate(at),
            // Splice in a slice of another seed (of either codec).
            6 => {
                let other = rng.pick(others);
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = a + rng.below(other.len() - a) + 1;
                    let replace_end = (at + rng.below(8)).min(len);
                    input.splice(at..replace_end, other[a..b].iter().copied());
                }
            }
            // Length-prefix inflation: a byte becomes a bigger varint, or grows by one.
            7 if len > 0 => {
                let i = at.min(len - 1);
                if rng.below(2) == 0 {
                    input.splice(i..=i, rng.pick(BIG_VARINTS).iter().copied());
                } else {
                    input[i] = input[i].wrapping_add(1 + rng.below(3) as u8);
                }
            }
            // Repeat a chunk.
            8 if len > 0 => {
                let start = at.min(len - 1);
                let end = (start + 1 + rng.below(8)).min(len);
                let chunk = input[start..end].to_vec();
                for _ in 0..1 + rng.below(4) {
                    input.splice(start..start, chunk.iter().copied());
                }
            }
            // A JSON token.
            9 => {
                input.splice(at..at, rng.pick(TOKENS).iter().copied());
            }
            // Swap two bytes.
            10 if len > 1 => {
                let j = rng.below(len);
                input.swap(at.min(len - 1), j);
            }
            // Replace everything after a point with another seed's tail.
            _ => {
                let other = rng.pick(others);
                let from = rng.below(other.len() + 1);
                input.truncate(at);
                input.extend_from_slice(&other[from..]);
            }
        }
        input.truncate(MAX_LEN);
    }
}

// ---------------------------------------------------------------------------------------------
// The loops.

#[test]
fn seeds_round_trip() {
    for codec in [Codec::Postcard, Codec::Json] {
        for (i, bytes) in frame_seeds(codec).iter().enumerate() {
            assert!(
                codec.decode_frame(bytes).is_ok(),
                "{} seed {i}",
                codec.name()
            );
            check_frame_bytes(codec, bytes);
        }
        for (id, bytes) in payload_seeds(codec) {
            let payload = Payload(bytes);
            assert!(
                event_round_trip::<TreeEvent>(codec, id, &payload)
                    || event_round_trip::<ChatEvent>(codec, id, &payload),
                "{} payload seed `{id}` does not decode",
                codec.name()
            );
        }
    }
}

#[test]
fn mutated_frames_never_panic_and_round_trip() {
    const SEED: u64 = 0x00c4_5b00_f00d_0001;
    const CASES: usize = 40_000;
    println!("mutated frames: seed {SEED:#x}, {CASES} cases per codec");
    let mut rng = Rng(SEED);
    let mut all = frame_seeds(Codec::Postcard);
    all.extend(frame_seeds(Codec::Json));
    for codec in [Codec::Postcard, Codec::Json] {
        let seeds = frame_seeds(codec);
        let (mut frames, mut events) = (0, 0);
        for case in 0..CASES {
            let mut input = rng.pick(&seeds).clone();
            mutate(&mut rng, &mut input, &all);
            let (f, e) = guarded(SEED, case, codec.name(), &input, || {
                check_frame_bytes(codec, &input)
            });
            frames += f;
            events += e;
        }
        println!(
            "{}: {frames} mutated frames and {events} events decoded",
            codec.name()
        );
        // The round-trip checks ran on a fair share of the cases.
        assert!(
            frames > CASES / 100 && events > CASES / 200,
            "{frames} {events}"
        );
    }
}

#[test]
fn mutated_payloads_never_panic_and_round_trip() {
    const SEED: u64 = 0x00c4_5b00_f00d_0002;
    const CASES: usize = 40_000;
    println!("mutated payloads: seed {SEED:#x}, {CASES} cases per codec");
    let mut rng = Rng(SEED);
    let ids: Vec<&str> = TreeEvent::IDS
        .iter()
        .chain(ChatEvent::IDS)
        .copied()
        .chain(["t/nope", ""])
        .collect();
    for codec in [Codec::Postcard, Codec::Json] {
        let seeds = payload_seeds(codec);
        let bytes: Vec<Vec<u8>> = seeds.iter().map(|(_, b)| b.clone()).collect();
        let mut decoded = 0;
        for case in 0..CASES {
            let (id, seed) = rng.pick(&seeds);
            let mut input = seed.clone();
            mutate(&mut rng, &mut input, &bytes);
            // Mostly the seed's own id (the payload fits it nearly), sometimes any id.
            let id = if rng.below(4) == 0 {
                *rng.pick(&ids)
            } else {
                *id
            };
            decoded += usize::from(guarded(SEED, case, id, &input, || {
                check_payload(codec, id, &input)
            }));
        }
        println!("{}: {decoded} mutated payloads decoded", codec.name());
        assert!(decoded > CASES / 100, "{decoded}");
    }
}

#[test]
fn random_bytes_never_panic() {
    const SEED: u64 = 0x00c4_5b00_f00d_0003;
    const CASES: usize = 20_000;
    println!("random bytes: seed {SEED:#x}, {CASES} cases per codec");
    let mut rng = Rng(SEED);
    for codec in [Codec::Postcard, Codec::Json] {
        for case in 0..CASES {
            let len = rng.below(96);
            let input: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
            guarded(SEED, case, codec.name(), &input, || {
                check_frame_bytes(codec, &input);
                for id in TreeEvent::IDS.iter().chain(ChatEvent::IDS) {
                    check_payload(codec, id, &input);
                }
            });
        }
    }
}

/// A random tree of at most `depth` levels.
fn random_tree(rng: &mut Rng, depth: usize) -> Node {
    let width = if depth == 0 { 0 } else { rng.below(3) };
    let label: String = (0..rng.below(4))
        .map(|_| *rng.pick(&['a', 'é', '"', '\\', '\n', '😀']))
        .collect();
    Node {
        children: (0..width).map(|_| random_tree(rng, depth - 1)).collect(),
        label,
    }
}

/// Valid recursive payloads of modest depth always decode, to the same value, in both codecs.
#[test]
fn generated_trees_round_trip() {
    const SEED: u64 = 0x00c4_5b00_f00d_0004;
    println!("generated trees: seed {SEED:#x}");
    let mut rng = Rng(SEED);
    for case in 0..2_000 {
        let depth = 1 + rng.below(10);
        let tree = random_tree(&mut rng, depth);
        let event = match case % 4 {
            0 => TreeEvent::Tree(tree),
            1 => TreeEvent::Opt(Some(Box::new(tree))),
            2 => TreeEvent::Pair(tree, rng.byte()),
            _ => TreeEvent::Many {
                nodes: vec![tree.clone(), tree],
                kind: Kind::Plain,
            },
        };
        for codec in [Codec::Postcard, Codec::Json] {
            let frame = Frame::Event(event.to_frame(codec).unwrap());
            let bytes = codec.encode_frame(&frame).unwrap();
            let Ok(Frame::Event(back)) = codec.decode_frame(&bytes) else {
                panic!("seed {SEED:#x}, case {case}: {} frame", codec.name());
            };
            let decoded = TreeEvent::from_frame(&back, codec)
                .unwrap_or_else(|e| panic!("seed {SEED:#x}, case {case}: {e}"));
            assert_eq!(decoded, event, "seed {SEED:#x}, case {case}");
        }
    }
}
