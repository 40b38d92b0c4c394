//! Codec micro-benchmarks: encode/decode of a typical event frame, postcard vs JSON.
//! The bytes on the wire per event (against Socket.IO's JSON framing) are printed first.

use std::hint::black_box;

use chsk::{
    protocol::{Frame, PushRun},
    Codec,
};
use chsk_bench::wire::{event_frame, sample_msg, wire_sizes, Msg};
use criterion::{criterion_group, criterion_main, Criterion};

fn print_wire_sizes() {
    eprintln!("bytes per WebSocket message (chsk postcard / chsk JSON / Socket.IO):");
    for r in wire_sizes() {
        eprintln!(
            "  {:<56} {:>5} {:>5} {:>5}",
            r.what, r.chsk_postcard, r.chsk_json, r.socketio
        );
    }
}

fn codec(c: &mut Criterion) {
    print_wire_sizes();
    let msg = sample_msg();
    for codec in [Codec::Postcard, Codec::Json] {
        let name = codec.name();
        // Encode: the typed value → payload → whole frame, as a sender does.
        c.bench_function(&format!("{name}/encode event frame"), |b| {
            b.iter(|| {
                let frame = Frame::Event(event_frame("chat/post", black_box(&msg), codec));
                codec.encode_frame(&frame).expect("encodes")
            })
        });
        let bytes = codec
            .encode_frame(&Frame::Event(event_frame("chat/post", &msg, codec)))
            .expect("encodes");
        // Decode: frame → payload → typed value, as a receiver does.
        c.bench_function(&format!("{name}/decode event frame"), |b| {
            b.iter(|| {
                let frame = codec.decode_frame(black_box(&bytes)).expect("decodes");
                match frame {
                    Frame::Event(ev) => codec.decode_payload::<Msg>(&ev.payload).expect("payload"),
                    _ => unreachable!("an event frame"),
                }
            })
        });
        let batch = codec
            .encode_frame(&Frame::Push(vec![PushRun::volatile(vec![
                event_frame(
                    "chat/new", &msg, codec
                );
                10
            ])]))
            .expect("encodes");
        c.bench_function(&format!("{name}/encode push batch of 10"), |b| {
            b.iter(|| {
                let events = (0..10)
                    .map(|_| event_frame("chat/new", black_box(&msg), codec))
                    .collect();
                codec
                    .encode_frame(&Frame::Push(vec![PushRun::volatile(events)]))
                    .expect("encodes")
            })
        });
        c.bench_function(&format!("{name}/decode push batch of 10"), |b| {
            b.iter(|| codec.decode_frame(black_box(&batch)).expect("decodes"))
        });
    }
    // Where postcard's encode time goes: `to_stdvec` grows its Vec from empty (several
    // reallocations for a ~60-byte value); a pre-sized buffer avoids them.
    c.bench_function(
        "postcard/payload to_stdvec (Codec::encode before 4513d9a)",
        |b| b.iter(|| postcard::to_stdvec(black_box(&msg)).expect("encodes")),
    );
    c.bench_function(
        "postcard/payload to_extend into Vec::with_capacity(128)",
        |b| {
            b.iter(|| {
                postcard::to_extend(black_box(&msg), Vec::with_capacity(128)).expect("encodes")
            })
        },
    );
    // Socket.IO's JSON framing of the same event, for reference (serde_json both ways).
    c.bench_function(
        "socket.io json/encode event `42[\"chat/post\",{…}]`",
        |b| {
            b.iter(|| {
                let mut s = String::from("42");
                s.push_str(
                    &serde_json::to_string(&("chat/post", black_box(&msg))).expect("encodes"),
                );
                s
            })
        },
    );
    let sio = format!(
        "42{}",
        serde_json::to_string(&("chat/post", &msg)).expect("encodes")
    );
    c.bench_function("socket.io json/decode event", |b| {
        b.iter(|| {
            let text = black_box(&sio);
            let (_, m): (String, Msg) = serde_json::from_str(&text[2..]).expect("decodes");
            m
        })
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
