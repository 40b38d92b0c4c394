//! Writes the seed corpora: the golden frames of `chsk/tests/protocol_golden.rs` (both codecs),
//! sample event payloads and sample query strings, into `fuzz/corpus/<target>/`.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example seed_corpus
//! ```
//!
//! The golden test pins these frames' bytes, so encoding the same samples here gives exactly
//! the golden bytes.

use std::{fs, path::Path};

use chsk::{
    protocol::{Frame, PushRun},
    Codec, Event,
};
use chsk_fuzz::{FuzzEvent, FuzzPush, Kind, Message, Node, TreeEvent};

#[path = "../../chsk/tests/support/golden.rs"]
mod golden;

use golden::p;

/// The golden samples (the frames `protocol_golden.rs` pins).
fn golden(codec: Codec) -> Vec<(&'static str, Frame)> {
    golden::samples(codec)
}

fn message() -> Message {
    Message {
        room: "lobby".into(),
        text: "hi".into(),
        tags: vec!["a".into()],
    }
}

fn leaf(label: &str) -> Node {
    Node {
        children: vec![],
        label: label.into(),
    }
}

/// Frames that carry the fuzz crate's own events, so the event decoders are reached at once.
fn typed(codec: Codec) -> Vec<(&'static str, Frame)> {
    let post = FuzzEvent::Post(message()).to_frame(codec).expect("encodes");
    let history = FuzzEvent::History {
        room: "lobby".into(),
        limit: 5,
    }
    .to_frame(codec)
    .expect("encodes");
    let kinds = FuzzEvent::Kinds(vec![
        Kind::Plain,
        Kind::Number(-3),
        Kind::Named { name: "n".into() },
    ])
    .to_frame(codec)
    .expect("encodes");
    let pushes = [
        FuzzPush::NewMessage(message()),
        FuzzPush::Online(vec!["bob".into()]),
        FuzzPush::Nudged { from: "bob".into() },
        FuzzPush::Tick,
    ]
    .iter()
    .map(|e| e.to_frame(codec).expect("encodes"))
    .collect();
    vec![
        ("typed-event", Frame::Event(post)),
        (
            "typed-request",
            Frame::Request {
                reply_id: 1,
                event: history,
            },
        ),
        ("typed-kinds", Frame::Event(kinds)),
        ("typed-push", Frame::Push(vec![PushRun::volatile(pushes)])),
        (
            "typed-reply",
            Frame::Reply {
                reply_id: 1,
                result: Ok(p(codec, vec![message()])),
            },
        ),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).expect("corpus dir");
    fs::write(dir.join(name), bytes).expect("write seed");
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (codec, suffix) in [(Codec::Postcard, "postcard"), (Codec::Json, "json")] {
        for side in ["server", "client"] {
            let dir = root.join(format!("{side}_frame_{suffix}"));
            for (name, frame) in golden(codec).into_iter().chain(typed(codec)) {
                write(&dir, name, &codec.encode_frame(&frame).expect("encodes"));
            }
        }
    }

    // event_payload: [selector, 0 (literal), payload..]; selector bit 0 = JSON, bit 1 =
    // FuzzEvent, bits 2.. = the id's index.
    let dir = root.join("event_payload");
    let tree = Node {
        children: vec![
            leaf("a"),
            Node {
                children: vec![leaf("b")],
                label: "c".into(),
            },
        ],
        label: "root".into(),
    };
    let trees = [
        TreeEvent::Tree(tree.clone()),
        TreeEvent::Opt(Some(Box::new(tree.clone()))),
        TreeEvent::Pair(tree.clone(), 7),
        TreeEvent::Many {
            nodes: vec![tree, leaf("x")],
            kind: Kind::Named { name: "k".into() },
        },
        TreeEvent::Unit,
    ];
    let events = [
        FuzzEvent::Post(message()),
        FuzzEvent::Pair(1, "x".into()),
        FuzzEvent::Maybe(Some(9)),
        FuzzEvent::Wide(-1, 2, true, 'é'),
    ];
    for (codec, bit) in [(Codec::Postcard, 0u8), (Codec::Json, 1)] {
        for ev in &trees {
            let sel = bit | (ev.index() as u8) << 2;
            let mut input = vec![sel, 0];
            input.extend_from_slice(ev.encode_payload(codec).expect("encodes").as_bytes());
            write(
                &dir,
                &format!("tree-{}-{}", codec.name(), ev.index()),
                &input,
            );
        }
        for ev in &events {
            let sel = bit | 2 | (ev.index() as u8) << 2;
            let mut input = vec![sel, 0];
            input.extend_from_slice(ev.encode_payload(codec).expect("encodes").as_bytes());
            write(
                &dir,
                &format!("event-{}-{}", codec.name(), ev.index()),
                &input,
            );
        }
    }
    // One repeat-mode seed per codec: 8 levels of nesting built from a repeated unit.
    write(
        &dir,
        "tree-postcard-repeat",
        &[0, 1, 8, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    write(
        &dir,
        "tree-json-repeat",
        b"\x01\x01\x08\x00\x0d{\"children\":[{\"children\":[],\"label\":\"\"}]",
    );

    let dir = root.join("ajax_query");
    for (name, q) in [
        (
            "plain",
            "client-id=tab1&csrf-token=t&codec=postcard&handshake=1",
        ),
        ("escaped", "client-id=a%2Db&x=y+z&c&d=%zz&e=%4"),
        ("utf8", "client-id=%C3%A9&csrf-token=%FF"),
    ] {
        write(&dir, name, q.as_bytes());
    }
    println!("seed corpora written under {}", root.display());
}
