//! Rough throughput and memory probes (ignored by default; no assertions on speed). Run one
//! at a time, on a quiet machine:
//! `cargo test --release -p chsk-axum --test server_throughput <name> -- --ignored --exact --nocapture`.
//!
//! Measured here (2 cores, other builds running): ~170k–300k echo round trips/s with the client
//! in the same process; ~12.4 KiB per idle WebSocket against ~5.9 KiB for a raw axum echo
//! socket with the same 4 KiB read buffer (heaptrack: the 4 KiB read buffer, the connection
//! task, the kept handshake request, the queue block and the registry entry).
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

/// Resident memory of this process, in bytes (Linux).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn idle_websocket_memory() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = start().await;
    // Warm up (allocator arenas, runtime), then measure many idle connections whose client
    // side is a bare TCP stream (the WebSocket handshake is written by hand).
    let n = 2_000;
    let mut streams = Vec::with_capacity(n + 100);
    let open = |i: usize| {
        let addr = t.addr;
        async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let req = format!(
                "GET /chsk?client-id=c{i} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n"
            );
            s.write_all(req.as_bytes()).await.unwrap();
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf).await.unwrap();
            s
        }
    };
    for i in 0..100 {
        streams.push(open(i).await);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = rss();
    for i in 100..100 + n {
        streams.push(open(i).await);
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let after = rss();
    println!(
        "{n} idle WebSocket connections: {:.1} KiB each (process RSS delta, bare TCP clients)",
        (after.saturating_sub(before)) as f64 / n as f64 / 1024.0
    );
}

#[test]
#[ignore = "a measurement, not a test"]
fn websocket_task_size() {
    use std::{
        pin::Pin,
        task::{Context, Poll},
    };
    struct Null;
    impl futures_util::Stream for Null {
        type Item = Result<chsk::server::mount::WsMessage, std::convert::Infallible>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(None)
        }
    }
    impl futures_util::Sink<chsk::server::mount::WsMessage> for Null {
        type Error = std::convert::Infallible;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(
            self: Pin<&mut Self>,
            _: chsk::server::mount::WsMessage,
        ) -> Result<(), Self::Error> {
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
    }
    let server = builder().build();
    let (parts, ()) = http::Request::get("/?client-id=x")
        .body(())
        .unwrap()
        .into_parts();
    let accepted = server
        .accept(chsk::server::HandshakeRequest::new(parts))
        .unwrap();
    let fut = server.serve_ws(accepted, Null);
    println!("serve_ws future: {} bytes", std::mem::size_of_val(&fut));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn idle_raw_axum_websocket_memory_baseline() {
    use axum::extract::ws::WebSocketUpgrade;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = axum::Router::new().route(
        "/chsk",
        axum::routing::get(|ws: WebSocketUpgrade| async move {
            ws.read_buffer_size(4096)
                .write_buffer_size(8192)
                .on_upgrade(|mut socket| async move {
                    let _ = socket
                        .send(axum::extract::ws::Message::Binary(vec![1u8; 16].into()))
                        .await;
                    while let Some(Ok(m)) = socket.recv().await {
                        if socket.send(m).await.is_err() {
                            break;
                        }
                    }
                })
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let n = 2_000;
    let mut streams = Vec::with_capacity(n + 100);
    let open = |i: usize| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET /chsk?client-id=c{i} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf).await.unwrap();
        s
    };
    for i in 0..100 {
        streams.push(open(i).await);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = rss();
    for i in 100..100 + n {
        streams.push(open(i).await);
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let after = rss();
    println!(
        "{n} idle raw axum WebSockets: {:.1} KiB each",
        (after.saturating_sub(before)) as f64 / n as f64 / 1024.0
    );
}
