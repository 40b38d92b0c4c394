//! A rough throughput probe (ignored by default; no timing assertions):
//! `cargo test --release -p chsk-axum --test server_throughput -- --ignored --nocapture`.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Instant;

use chsk::protocol::Frame;
use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn echo_round_trips_with_64_in_flight() {
    let t = start().await;
    let mut ws = t.ws("client-id=bench").await;
    ws.handshake().await;
    let (mut tx, mut rx) = ws.socket.split();
    let total: u32 = 200_000;
    let window: u32 = 64;
    let frames: Vec<Vec<u8>> = (0..window)
        .map(|i| {
            chsk::Codec::Postcard
                .encode_frame(&request(i, TestEvent::Echo { text: "x".into() }))
                .unwrap()
        })
        .collect();
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        for i in 0..total {
            tx.feed(Message::Binary(
                frames[(i % window) as usize].clone().into(),
            ))
            .await
            .unwrap();
            if i % window == window - 1 {
                tx.flush().await.unwrap();
            }
        }
        tx.flush().await.unwrap();
        tx
    });
    let mut got = 0;
    while got < total {
        if let Message::Binary(b) = rx.next().await.unwrap().unwrap() {
            if let Frame::Reply { .. } = chsk::Codec::Postcard.decode_frame(&b).unwrap() {
                got += 1;
            }
        }
    }
    let _tx = writer.await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{total} round trips in {secs:.2} s: {:.0}/s",
        f64::from(total) / secs
    );
}
