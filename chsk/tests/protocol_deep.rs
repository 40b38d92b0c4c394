//! Deep nesting: a peer can send a payload nested far deeper than any real one. Decoding it
//! must be an error, not a stack overflow (which aborts the whole process: the server, or this
//! test binary).
#![allow(clippy::unwrap_used)] // test fixtures

mod support;

use chsk::{
    protocol::{EventFrame, Frame},
    Codec, Event, Payload,
};
use support::protocol::{Node, TreeEvent};

/// Levels of nesting in the deep cases.
const DEEP: usize = 100_000;

/// The postcard encoding of `DEEP` nested Nodes (each with one child; the innermost a leaf), all
/// labels empty: `01` × DEEP, `00 00` (the leaf), `00` × DEEP (the labels). A valid encoding.
fn deep_postcard_tree() -> Vec<u8> {
    let mut bytes = vec![0x01; DEEP];
    bytes.extend_from_slice(&[0x00, 0x00]);
    bytes.extend(std::iter::repeat_n(0x00, DEEP));
    bytes
}

/// The JSON of `DEEP` nested Nodes: `{"children":[` × DEEP, the leaf, `],"label":""}` × DEEP.
fn deep_json_tree() -> Vec<u8> {
    let mut text = r#"{"children":["#.repeat(DEEP);
    text.push_str(r#"{"children":[],"label":""}"#);
    text.push_str(&r#"],"label":""}"#.repeat(DEEP));
    text.into_bytes()
}

/// `[[[ … ]]]`, `DEEP` levels: Nodes as JSON sequences (serde accepts a struct as an array of
/// its fields): `[[` × DEEP, the leaf `[[],""]`, `],""]` × DEEP.
fn deep_json_brackets() -> Vec<u8> {
    let mut text = "[[".repeat(DEEP);
    text.push_str(r#"[[],""]"#);
    text.push_str(&r#"],""]"#.repeat(DEEP));
    text.into_bytes()
}

/// Every variant of `TreeEvent` that holds a Node, with `node` (an encoded Node) as payload.
fn deep_payloads(codec: Codec, node: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    match codec {
        Codec::Json => {
            let node = std::str::from_utf8(node).unwrap();
            vec![
                ("t/tree", node.as_bytes().to_vec()),
                ("t/opt", node.as_bytes().to_vec()),
                ("t/pair", format!("[{node},1]").into_bytes()),
                (
                    "t/many",
                    format!(r#"{{"nodes":[{node}],"kind":"Plain"}}"#).into_bytes(),
                ),
            ]
        }
        _ => {
            let mut opt = vec![0x01];
            opt.extend_from_slice(node);
            let mut pair = node.to_vec();
            pair.push(0x01);
            let mut many = vec![0x01];
            many.extend_from_slice(node);
            many.push(0x00);
            vec![
                ("t/tree", node.to_vec()),
                ("t/opt", opt),
                ("t/pair", pair),
                ("t/many", many),
            ]
        }
    }
}

/// Decoding `node` as a Node, as each Node-holding event, and inside an event frame must each
/// be an error.
fn assert_deep_is_error(codec: Codec, node: &[u8]) {
    assert!(
        codec.decode::<Node>(node).is_err(),
        "{}: {DEEP} nested Nodes decoded",
        codec.name()
    );
    for (id, payload) in deep_payloads(codec, node) {
        let payload = Payload(payload);
        assert!(
            TreeEvent::decode(id, &payload, codec).is_err(),
            "{}: `{id}` with {DEEP} nested Nodes decoded",
            codec.name()
        );
        let frame = Frame::Event(EventFrame {
            id: id.into(),
            payload,
        });
        // The frame itself is fine (the payload is opaque to it); its event is not.
        let Ok(bytes) = codec.encode_frame(&frame) else {
            continue;
        };
        if let Ok(Frame::Event(ev)) = codec.decode_frame(&bytes) {
            assert!(
                TreeEvent::from_frame(&ev, codec).is_err(),
                "{id} in a frame"
            );
        }
    }
}

#[test]
fn deep_postcard_tree_is_an_error() {
    assert_deep_is_error(Codec::Postcard, &deep_postcard_tree());
}

#[test]
fn deep_postcard_unterminated_nesting_is_an_error() {
    // A run of `01` bytes: every byte opens one more level, and the input ends mid-way.
    let bytes = vec![0x01; DEEP];
    assert!(Codec::Postcard.decode::<Node>(&bytes).is_err());
    assert!(TreeEvent::decode("t/tree", &Payload(bytes), Codec::Postcard).is_err());
}

#[test]
fn deep_json_tree_is_an_error() {
    assert_deep_is_error(Codec::Json, &deep_json_tree());
}

#[test]
fn deep_json_brackets_are_an_error() {
    let bytes = deep_json_brackets();
    assert_deep_is_error(Codec::Json, &bytes);
    // Unterminated: `[` × DEEP.
    let open = vec![b'['; DEEP];
    assert!(Codec::Json.decode::<Node>(&open).is_err());
    assert!(TreeEvent::decode("t/tree", &Payload(open), Codec::Json).is_err());
}

#[test]
fn deep_json_frame_payload_is_an_error_or_opaque() {
    // A whole JSON frame whose payload nests DEEP levels: the frame decoder must not overflow
    // while it skips over the payload; if it keeps the payload, decoding the event fails.
    for payload in [deep_json_brackets(), vec![b'['; DEEP]] {
        let mut text = br#"{"event":{"id":"t/tree","payload":"#.to_vec();
        text.extend_from_slice(&payload);
        text.extend_from_slice(b"}}");
        if let Ok(Frame::Event(ev)) = Codec::Json.decode_frame(&text) {
            assert!(TreeEvent::from_frame(&ev, Codec::Json).is_err());
        }
    }
}
