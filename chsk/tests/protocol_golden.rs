//! Golden tests: the exact bytes (postcard) and text (JSON) of every frame kind.
//! PROTOCOL.md section 5 shows the same frames; change both together.
#![allow(clippy::unwrap_used)] // test fixtures

mod support;

use chsk::{protocol::ReplyErrorKind, Codec};
use support::golden::samples;

const POSTCARD: &[(&str, &[u8])] = &[
    (
        "handshake",
        &[
            0x00, 0x02, 0x01, 0x05, b'a', b'l', b'i', b'c', b'e', 0x02, b'c', b'1', 0x01, 0x05,
            0x04, b'd', b'a', b'r', b'k', 0x00, 0x01, 0x03, 0x00, 0xac, 0x02, 0x02, 0x01, 0x05,
            0x00, 0x02, 0x06, 0x01,
        ],
    ),
    (
        "handshake-anonymous",
        &[0x00, 0x02, 0x00, 0x02, b'c', b'1', 0x00, 0x01, 0x00, 0x00],
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
    ("reply-err", b"\x03\x08\x01\x01\x16unknown event id `x/y`"),
    (
        "push",
        &[
            0x04, 0x01, 0x01, 0x01, 0x05, 0x01, 0x02, 0x08, b'c', b'h', b'a', b't', b'/', b'n',
            b'e', b'w', 0x01, 0x01, 0x08, b'c', b'h', b'a', b't', b'/', b'n', b'e', b'w', 0x01,
            0x02,
        ],
    ),
    (
        "push-runs",
        &[
            0x04, 0x02, 0x01, 0x00, 0xac, 0x02, 0x03, 0x01, 0x08, b'c', b'h', b'a', b't', b'/',
            b'n', b'e', b'w', 0x01, 0x03, 0x00, 0x01, 0x0b, b'c', b'h', b'a', b't', b'/', b't',
            b'y', b'p', b'i', b'n', b'g', 0x03, 0x02, b'b', b'o',
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
        r#"{"handshake":{"version":2,"uid":"alice","client_id":"c1","data":"dark","first":false,"recovered":true,"positions":[{"stream":"all","epoch":300,"seq":2},{"stream":"user","epoch":5,"seq":0},{"stream":"client","epoch":6,"seq":1}]}}"#,
    ),
    (
        "handshake-anonymous",
        r#"{"handshake":{"version":2,"uid":null,"client_id":"c1","data":null,"first":true,"recovered":false,"positions":[]}}"#,
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
        r#"{"reply":{"reply_id":8,"result":{"err":{"kind":"unknown_event","message":"unknown event id `x/y`"}}}}"#,
    ),
    (
        "push",
        r#"{"push":[{"at":{"stream":"user","epoch":5,"seq":1},"events":[{"id":"chat/new","payload":1},{"id":"chat/new","payload":2}]}]}"#,
    ),
    (
        "push-runs",
        r#"{"push":[{"at":{"stream":"all","epoch":300,"seq":3},"events":[{"id":"chat/new","payload":3}]},{"at":null,"events":[{"id":"chat/typing","payload":"bo"}]}]}"#,
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

/// The error kinds of a `Reply`: JSON name and postcard code (PROTOCOL.md section 2).
const REPLY_ERROR_KINDS: &[(ReplyErrorKind, &str, u8)] = &[
    (ReplyErrorKind::Handler, "handler", 0),
    (ReplyErrorKind::UnknownEvent, "unknown_event", 1),
    (ReplyErrorKind::BadPayload, "bad_payload", 2),
    (ReplyErrorKind::Refused, "refused", 3),
    (ReplyErrorKind::Server, "server", 4),
];

#[test]
fn reply_error_kinds_have_the_documented_codes() {
    for &(kind, name, code) in REPLY_ERROR_KINDS {
        let json = Codec::Json.encode(&kind).unwrap();
        assert_eq!(std::str::from_utf8(&json).unwrap(), format!("\"{name}\""));
        assert_eq!(Codec::Postcard.encode(&kind).unwrap(), [code], "{name}");
        let back: ReplyErrorKind = Codec::Json.decode(&json).unwrap();
        assert_eq!(back, kind);
        let back: ReplyErrorKind = Codec::Postcard.decode(&[code]).unwrap();
        assert_eq!(back, kind);
    }
    let variants = variants_of::<ReplyErrorKind>();
    let names: Vec<&str> = REPLY_ERROR_KINDS.iter().map(|k| k.1).collect();
    assert_eq!(
        variants, names,
        "every `ReplyErrorKind` needs a line here and in PROTOCOL.md"
    );
    // An unknown kind is a malformed frame, in both codecs.
    let json = br#"{"reply":{"reply_id":1,"result":{"err":{"kind":"nope","message":""}}}}"#;
    assert!(Codec::Json.decode_frame(json).is_err());
    assert!(Codec::Postcard
        .decode_frame(&[0x03, 0x01, 0x01, 0x05, 0x00])
        .is_err());
}

/// Every variant name of `Frame`, as its `Deserialize` impl declares them (so a variant added
/// to the enum shows up here without anyone updating a list).
fn frame_variants() -> &'static [&'static str] {
    variants_of::<chsk::protocol::Frame>()
}

/// Every variant name of the enum `T`, as its `Deserialize` impl declares them.
fn variants_of<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};

    #[derive(Debug)]
    struct Found(&'static [&'static str]);

    impl std::fmt::Display for Found {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }

    impl std::error::Error for Found {}

    impl de::Error for Found {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Found(&[])
        }
    }

    /// A deserializer that only records the variants it is asked for.
    struct Probe;

    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Found;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(&[]))
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(variants))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map struct
            identifier ignored_any
        }
    }

    match T::deserialize(Probe) {
        Err(Found(variants)) => variants,
        Ok(_) => unreachable!("the probe never produces a value"),
    }
}

#[test]
fn every_frame_kind_has_a_golden_sample() {
    let variants = frame_variants();
    assert!(variants.len() >= 10, "{variants:?}");
    // One list of samples serves both codecs; its JSON encoding names each sample's variant:
    // `"ping"` or `{"handshake":…}`.
    let kinds: Vec<String> = samples(Codec::Json)
        .into_iter()
        .map(|(_, frame)| {
            let json = Codec::Json.encode_frame(&frame).unwrap();
            let text = String::from_utf8(json).unwrap();
            text.trim_start_matches('{')
                .trim_start_matches('"')
                .split('"')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    for variant in variants {
        assert!(
            kinds.iter().any(|k| k == variant),
            "`Frame::{variant}` has no golden sample: add one to tests/support/golden.rs and PROTOCOL.md"
        );
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

/// The streams of a position: JSON name, postcard code and `since` letter (PROTOCOL.md
/// section 6).
#[test]
fn stream_kinds_have_the_documented_codes() {
    use chsk::protocol::StreamKind;
    for (kind, name, code, letter) in [
        (StreamKind::All, "all", 0u8, 'a'),
        (StreamKind::User, "user", 1, 'u'),
        (StreamKind::Client, "client", 2, 'c'),
    ] {
        let json = Codec::Json.encode(&kind).unwrap();
        assert_eq!(std::str::from_utf8(&json).unwrap(), format!("\"{name}\""));
        assert_eq!(Codec::Postcard.encode(&kind).unwrap(), [code], "{name}");
        assert_eq!(kind.letter(), letter);
    }
}

/// The `since` parameter of the golden handshake's positions.
#[test]
fn since_parameter_has_the_documented_text() {
    use chsk::protocol::{format_since, parse_since, Frame};
    let Some((_, Frame::Handshake(h))) = samples(Codec::Postcard).into_iter().next() else {
        panic!("the first sample is the handshake");
    };
    assert_eq!(format_since(&h.positions), "a.300.2,u.5.0,c.6.1");
    assert_eq!(parse_since("a.300.2,u.5.0,c.6.1").unwrap(), h.positions);
    assert_eq!(chsk::protocol::VERSION, 2);
}
