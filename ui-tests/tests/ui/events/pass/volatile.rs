//! `#[event(volatile)]`, alone and with an id: `Event::VOLATILE`, `is_volatile` and
//! `Variant::VOLATILE` agree per variant; the attribute leaves ids and payloads alone.

use chsk::{Codec, Event, Variant};

#[chsk::events(ns = "doc")]
#[derive(Debug, Clone, PartialEq)]
pub enum DocPush {
    Edited { text: String },
    #[event(volatile)]
    Typing { user: String },
    #[event(id = "doc/cursor", volatile)]
    CursorMoved(u32, u32),
    #[event(volatile, id = "doc/tick")]
    Tick,
    #[event(id = "doc/saved")]
    Saved,
}

const _: () = assert!(<doc_push::Typing as Variant>::VOLATILE);
const _: () = assert!(!<doc_push::Saved as Variant>::VOLATILE);

fn main() {
    assert_eq!(
        DocPush::IDS,
        ["doc/edited", "doc/typing", "doc/cursor", "doc/tick", "doc/saved"]
    );
    assert_eq!(DocPush::VOLATILE, [false, true, true, true, false]);
    let pushes = [
        DocPush::Edited { text: "a".into() },
        DocPush::Typing { user: "ann".into() },
        DocPush::CursorMoved(3, 4),
        DocPush::Tick,
        DocPush::Saved,
    ];
    for push in &pushes {
        assert_eq!(push.is_volatile(), DocPush::VOLATILE[push.index()]);
        let payload = push.encode_payload(Codec::Json).unwrap();
        assert_eq!(&DocPush::decode(push.id(), &payload, Codec::Json).unwrap(), push);
    }
    assert!(<doc_push::CursorMoved as Variant>::VOLATILE);
    assert!(<doc_push::Tick as Variant>::VOLATILE);
    assert!(!<doc_push::Edited as Variant>::VOLATILE);
}
