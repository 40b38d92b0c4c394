//! `#[event(volatile)]`: the per-variant table `Event::VOLATILE`, `Event::is_volatile` and
//! `Variant::VOLATILE`, for generated impls and for hand-written ones (which need nothing).
#![allow(clippy::unwrap_used)] // test fixtures

use chsk::{Codec, CodecError, DecodeError, Event, Payload, Variant};

#[chsk::events(ns = "doc")]
#[derive(Debug, Clone, PartialEq)]
enum DocPush {
    Edited {
        text: String,
    },
    #[event(volatile)]
    Typing {
        user: String,
    },
    #[event(id = "doc/cursor", volatile)]
    CursorMoved(u32, u32),
    #[event(volatile, id = "doc/tick")]
    Tick,
    #[event(id = "doc/saved")]
    Saved,
    Renamed(String),
}

fn doc_pushes() -> Vec<DocPush> {
    vec![
        DocPush::Edited { text: "a".into() },
        DocPush::Typing { user: "ann".into() },
        DocPush::CursorMoved(3, 4),
        DocPush::Tick,
        DocPush::Saved,
        DocPush::Renamed("b".into()),
    ]
}

#[test]
fn generated_table_has_one_entry_per_variant_in_id_order() {
    assert_eq!(
        DocPush::IDS,
        [
            "doc/edited",
            "doc/typing",
            "doc/cursor",
            "doc/tick",
            "doc/saved",
            "doc/renamed"
        ]
    );
    assert_eq!(DocPush::VOLATILE, [false, true, true, true, false, false]);
}

#[test]
fn is_volatile_per_variant() {
    let volatile: Vec<(&str, bool)> = doc_pushes()
        .iter()
        .map(|push| (push.id(), push.is_volatile()))
        .collect();
    assert_eq!(
        volatile,
        [
            ("doc/edited", false),
            ("doc/typing", true),
            ("doc/cursor", true),
            ("doc/tick", true),
            ("doc/saved", false),
            ("doc/renamed", false),
        ]
    );
}

#[test]
fn variant_const_agrees_with_the_table() {
    let per_variant = [
        <doc_push::Edited as Variant>::VOLATILE,
        <doc_push::Typing as Variant>::VOLATILE,
        <doc_push::CursorMoved as Variant>::VOLATILE,
        <doc_push::Tick as Variant>::VOLATILE,
        <doc_push::Saved as Variant>::VOLATILE,
        <doc_push::Renamed as Variant>::VOLATILE,
    ];
    assert_eq!(per_variant, [false, true, true, true, false, false]);
}

#[test]
fn volatile_changes_neither_ids_nor_payloads() {
    for codec in [Codec::Postcard, Codec::Json] {
        for push in doc_pushes() {
            let frame = push.to_frame(codec).unwrap();
            assert_eq!(DocPush::from_frame(&frame, codec).unwrap(), push);
        }
    }
}

/// A hand-written impl: `VOLATILE` left out, or shorter than `IDS`.
#[derive(Debug)]
enum Manual {
    A,
    B,
    C,
}

impl Event for Manual {
    const NAME: &'static str = "Manual";
    const IDS: &'static [&'static str] = &["m/a", "m/b", "m/c"];

    fn id(&self) -> &'static str {
        Self::IDS[self.index()]
    }

    fn index(&self) -> usize {
        match self {
            Manual::A => 0,
            Manual::B => 1,
            Manual::C => 2,
        }
    }

    fn encode_payload(&self, codec: Codec) -> Result<Payload, CodecError> {
        codec.encode_payload(&())
    }

    fn decode(id: &str, _: &Payload, _: Codec) -> Result<Self, DecodeError> {
        match id {
            "m/a" => Ok(Manual::A),
            "m/b" => Ok(Manual::B),
            "m/c" => Ok(Manual::C),
            _ => Err(DecodeError::UnknownId {
                id: id.into(),
                ty: Self::NAME,
            }),
        }
    }
}

/// The same events with a table that covers only the first two.
#[derive(Debug)]
struct Short(Manual);

impl Event for Short {
    const NAME: &'static str = "Short";
    const IDS: &'static [&'static str] = Manual::IDS;
    const VOLATILE: &'static [bool] = &[false, true];

    fn id(&self) -> &'static str {
        self.0.id()
    }

    fn index(&self) -> usize {
        self.0.index()
    }

    fn encode_payload(&self, codec: Codec) -> Result<Payload, CodecError> {
        self.0.encode_payload(codec)
    }

    fn decode(id: &str, payload: &Payload, codec: Codec) -> Result<Self, DecodeError> {
        Manual::decode(id, payload, codec).map(Short)
    }
}

#[test]
fn hand_written_impls_are_not_volatile_unless_their_table_says_so() {
    assert!(Manual::VOLATILE.is_empty());
    for event in [Manual::A, Manual::B, Manual::C] {
        assert!(!event.is_volatile(), "{event:?}");
    }
    let short: Vec<bool> = [Manual::A, Manual::B, Manual::C]
        .into_iter()
        .map(|event| Short(event).is_volatile())
        .collect();
    assert_eq!(short, [false, true, false]);
}
