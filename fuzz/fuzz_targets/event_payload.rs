//! Event payloads as a server (or a client) decodes them with `chsk::Event::decode`, including
//! the recursive `TreeEvent` (`Node { children: Vec<Node>, label }`).
//!
//! Input: `[selector, payload-builder..]`. Selector bit 0: codec (postcard / JSON); bit 1:
//! enum (`TreeEvent` / `FuzzEvent`); the bits above pick the id (one past the last is an
//! unknown id). The payload comes from `chsk_fuzz::build_payload`, which can repeat a unit up
//! to 65,535 times, so deep nesting is a few bytes of input away.
#![no_main]

use chsk::{Codec, Event, Payload};
use chsk_fuzz::{build_payload, event_round_trip, FuzzEvent, TreeEvent};
use libfuzzer_sys::fuzz_target;

fn run<E: Event + PartialEq + std::fmt::Debug>(codec: Codec, pick: usize, payload: &Payload) {
    let id = E::IDS
        .get(pick % (E::IDS.len() + 1))
        .copied()
        .unwrap_or("t/unknown");
    let decoded = event_round_trip::<E>(codec, id, payload);
    assert!(
        !decoded || E::index_of(id).is_some(),
        "an unknown id decoded"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Some(bytes) = build_payload(rest) else {
        return;
    };
    let codec = if sel & 1 == 0 {
        Codec::Postcard
    } else {
        Codec::Json
    };
    let payload = Payload(bytes);
    let pick = usize::from(sel >> 2);
    if sel & 2 == 0 {
        run::<TreeEvent>(codec, pick, &payload);
    } else {
        run::<FuzzEvent>(codec, pick, &payload);
    }
});
