//! Golden tests: the exact bytes (postcard) and text (JSON) of every frame kind.
//! PROTOCOL.md section 5 shows the same frames; change both together.
#![allow(clippy::unwrap_used)] // test fixtures

#[path = "support/golden.rs"]
mod golden;

use chsk::Codec;
use golden::samples;

const POSTCARD: &[(&str, &[u8])] = &[
    (
        "handshake",
        &[
            0x00, 0x01, 0x05, b'a', b'l', b'i', b'c', b'e', 0x02, b'c', b'1', 0x01, 0x05, 0x04,
            b'd', b'a', b'r', b'k', 0x01,
        ],
    ),
    (
        "handshake-anonymous",
        &[0x00, 0x00, 0x02, b'c', b'1', 0x00, 0x00],
    ),
    (
        "event",
        &[
            0x01, 0x09, b'c', b'h', b'a', b't', b'/', b'p', b'o', b's', b't', 0x03, 0x02, b'h',
            b'i',
        ],
    ),
    (
        "request",
        &[
            0x02, 0x07, 0x0c, b'c', b'h', b'a', b't', b'/', b'h', b'i', b's', b't', b'o', b'r',
            b'y', 0x07, 0x05, b'l', b'o', b'b', b'b', b'y', 0x02,
        ],
    ),
    (
        "reply-ok",
        &[0x03, 0x07, 0x00, 0x05, 0x02, 0x01, b'a', 0x01, b'b'],
    ),
    ("reply-err", b"\x03\x08\x01\x16unknown event id `x/y`"),
    (
        "push",
        &[
            0x04, 0x02, 0x08, b'c', b'h', b'a', b't', b'/', b'n', b'e', b'w', 0x01, 0x01, 0x08,
            b'c', b'h', b'a', b't', b'/', b'n', b'e', b'w', 0x01, 0x02,
        ],
    ),
    ("ping", &[0x05]),
    ("pong", &[0x06]),
    ("poll-timeout", &[0x07]),
    ("error", b"\x08\x03bad"),
    ("close", b"\x09\x0dslow consumer"),
];

const JSON: &[(&str, &str)] = &[
    (
        "handshake",
        r#"{"handshake":{"uid":"alice","client_id":"c1","data":"dark","first":true}}"#,
    ),
    (
        "handshake-anonymous",
        r#"{"handshake":{"uid":null,"client_id":"c1","data":null,"first":false}}"#,
    ),
    ("event", r#"{"event":{"id":"chat/post","payload":"hi"}}"#),
    (
        "request",
        r#"{"request":{"reply_id":7,"event":{"id":"chat/history","payload":["lobby",2]}}}"#,
    ),
    (
        "reply-ok",
        r#"{"reply":{"reply_id":7,"result":{"ok":["a","b"]}}}"#,
    ),
    (
        "reply-err",
        r#"{"reply":{"reply_id":8,"result":{"err":"unknown event id `x/y`"}}}"#,
    ),
    (
        "push",
        r#"{"push":[{"id":"chat/new","payload":1},{"id":"chat/new","payload":2}]}"#,
    ),
    ("ping", r#""ping""#),
    ("pong", r#""pong""#),
    ("poll-timeout", r#""poll_timeout""#),
    ("error", r#"{"error":{"message":"bad"}}"#),
    ("close", r#"{"close":{"reason":"slow consumer"}}"#),
];

#[test]
fn postcard_frames_have_the_documented_bytes() {
    let samples = samples(Codec::Postcard);
    assert_eq!(samples.len(), POSTCARD.len());
    for ((name, frame), (golden_name, golden)) in samples.iter().zip(POSTCARD) {
        assert_eq!(name, golden_name);
        let bytes = Codec::Postcard.encode_frame(frame).unwrap();
        assert_eq!(&bytes[..], *golden, "postcard bytes of `{name}`");
        assert_eq!(
            &Codec::Postcard.decode_frame(golden).unwrap(),
            frame,
            "{name}"
        );
    }
}

#[test]
fn json_frames_have_the_documented_text() {
    let samples = samples(Codec::Json);
    assert_eq!(samples.len(), JSON.len());
    for ((name, frame), (golden_name, golden)) in samples.iter().zip(JSON) {
        assert_eq!(name, golden_name);
        let bytes = Codec::Json.encode_frame(frame).unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            *golden,
            "json of `{name}`"
        );
        let back = Codec::Json.decode_frame(golden.as_bytes()).unwrap();
        assert_eq!(&back, frame, "{name}");
    }
}

#[test]
fn every_frame_kind_has_a_golden_sample() {
    // A new Frame variant must get a golden sample: this match stops compiling (the enum is
    // non_exhaustive only for other crates) ... so check by name instead.
    let names: Vec<_> = samples(Codec::Postcard)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for kind in [
        "handshake",
        "event",
        "request",
        "reply-ok",
        "reply-err",
        "push",
        "ping",
        "pong",
        "poll-timeout",
        "error",
        "close",
    ] {
        assert!(names.contains(&kind), "no golden sample for {kind}");
    }
}

#[test]
fn truncated_frames_are_errors_not_panics() {
    for codec in [Codec::Postcard, Codec::Json] {
        for (name, frame) in samples(codec) {
            let bytes = codec.encode_frame(&frame).unwrap();
            for cut in 0..bytes.len() {
                assert!(
                    codec.decode_frame(&bytes[..cut]).is_err(),
                    "{} `{name}` cut at {cut} decoded",
                    codec.name()
                );
            }
            // Trailing garbage is rejected too.
            let mut longer = bytes.clone();
            longer.push(b'x');
            assert!(codec.decode_frame(&longer).is_err(), "{name} + trailing");
        }
    }
}

/// xorshift64*: deterministic pseudo-random bytes without a dependency.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let mut next = rng(0x00c0_ffee);
    for codec in [Codec::Postcard, Codec::Json] {
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let _ = codec.decode_frame(&bytes);
        }
        for (_, frame) in samples(codec) {
            let bytes = codec.encode_frame(&frame).unwrap();
            for _ in 0..500 {
                let mut m = bytes.clone();
                let i = (next() as usize) % m.len();
                m[i] = next() as u8;
                if let Ok(decoded) = codec.decode_frame(&m) {
                    // Whatever decodes must re-encode without panicking.
                    let _ = codec.encode_frame(&decoded);
                }
            }
        }
    }
}

#[test]
fn huge_length_prefix_does_not_allocate_or_panic() {
    // An event frame claiming a 2^35-byte id.
    let bytes = [0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, b'x'];
    assert!(Codec::Postcard.decode_frame(&bytes).is_err());
}
