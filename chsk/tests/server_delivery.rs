//! Accounting of pushes on both transports: what the clients received plus what the server
//! counted as dropped is exactly what was pushed, with a fast and a slow reader.
//!
//! Assertions are on what the clients received and on the server's accounting
//! ([`chsk::server::Metrics`]), never on timing.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use chsk::{
    protocol::Frame,
    server::{mount::WsMessage, Flush, Limits, MemClient, Target, Timings},
    Codec, Server,
};
use support::*;

fn server(limits: Limits) -> Server {
    builder()
        .limits(limits)
        .timings(Timings {
            // The raw clients here do not answer the server's `Ping`.
            ws_kalive: Duration::from_secs(3600),
            ..Timings::default()
        })
        .build()
}

/// Reads pushes until `n` arrived or the server closed; `pause` is slept after each message
/// (a slow reader).
async fn read(ws: &mut MemClient, pause: Duration, n: usize) -> Vec<u32> {
    let mut seqs = Vec::new();
    while seqs.len() < n {
        let bytes = match ws.recv().await {
            Some(WsMessage::Binary(b)) => b,
            _ => break,
        };
        match Codec::Postcard.decode_frame(&bytes).unwrap() {
            Frame::Push(runs) => seqs.extend(support::seqs(&support::events(runs))),
            Frame::Close { .. } | Frame::Ping => {}
            other => panic!("unexpected {other:?}"),
        }
        tokio::time::sleep(pause).await;
    }
    seqs
}

/// A WebSocket burst read by a fast and by a slow client.
#[tokio::test(start_paused = true)]
async fn ws_bursts_are_accounted_exactly() {
    const N: u32 = 20_000;
    let server = server(Limits {
        send_queue_bytes: 1 << 20,
        ..Limits::default()
    });
    let mut fast = open(&server, "client-id=fast&uid=u").await;
    let mut slow = server
        .mem_request("client-id=slow&uid=u")
        .capacity(4)
        .connect()
        .unwrap();
    slow.handshake().await;
    let fast = tokio::spawn(async move {
        let seqs = read(&mut fast, Duration::ZERO, N as usize).await;
        // Then the fast client leaves.
        fast.close();
        seqs
    });
    let slow =
        tokio::spawn(async move { read(&mut slow, Duration::from_millis(2), usize::MAX).await });
    for seq in 0..N {
        let flush = if seq % 2 == 0 {
            Flush::Now
        } else {
            Flush::Batched
        };
        server
            .push(Target::User("u".into()), blob(seq), flush)
            .unwrap();
        if seq % 16 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    server.flush();
    // The fast client leaves once it has everything; the slow one is closed by the server.
    let fast = fast.await.unwrap();
    let slow = slow.await.unwrap();
    eventually(|| server.metrics().ws_closed == 2).await;
    eventually(|| balanced(&server.metrics())).await;
    let m = server.metrics();
    assert!(fast.iter().copied().eq(0..N), "the fast client got all");
    assert!(
        slow.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicate"
    );
    let received = (fast.len() + slow.len()) as u64;
    // Every push reached the fast client; the slow one until it was closed. Each of those
    // deliveries was received by its client or counted as dropped, exactly.
    let to_slow = m.push_deliveries - u64::from(N);
    assert!(to_slow >= slow.len() as u64, "{m:?}");
    assert_eq!(
        m.pushes_written,
        received,
        "fast {} slow {}: {m:?}",
        fast.len(),
        slow.len()
    );
    assert_eq!(received + m.pushes_dropped(), m.push_deliveries, "{m:?}");
    assert_eq!(m.pushes_dropped(), to_slow - slow.len() as u64, "{m:?}");
    assert!(m.pushes_dropped_slow_consumer > 0, "{m:?}");
    assert_eq!(m.pushes_undeliverable, 0, "{m:?}");
}

/// The same over Ajax: a client that polls promptly and one that stops polling.
#[tokio::test(start_paused = true)]
async fn ajax_bursts_are_accounted_exactly() {
    const N: u32 = 5_000;
    let server = server(Limits {
        send_queue: 32,
        send_queue_bytes: 128 << 10,
        ..Limits::default()
    });
    let fast = server.ajax_mem("client-id=afast&uid=a");
    fast.handshake().await;
    let lazy = server.ajax_mem("client-id=alazy&uid=a");
    lazy.handshake().await;
    let reader = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while seqs.len() < N as usize {
            match fast.poll().await {
                Frame::Push(runs) => seqs.extend(support::seqs(&support::events(runs))),
                Frame::PollTimeout => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        seqs
    });
    for seq in 0..N {
        let flush = if seq % 3 == 0 {
            Flush::Now
        } else {
            Flush::Batched
        };
        server
            .push(Target::User("a".into()), blob(seq), flush)
            .unwrap();
        if seq % 16 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    server.flush();
    let got = reader.await.unwrap();
    assert!(got.iter().copied().eq(0..N));
    // The lazy client's state is closed as a slow consumer; its poll learns why.
    eventually(|| server.metrics().slow_consumer_closes == 1).await;
    match lazy.poll().await {
        Frame::Close { reason } => assert_eq!(reason, "slow consumer"),
        Frame::Handshake(_) => {}
        other => panic!("unexpected {other:?}"),
    }
    server.close(&Target::User("a".into()), "done");
    eventually(|| server.metrics().ajax_clients == 0).await;
    eventually(|| balanced(&server.metrics())).await;
    let m = server.metrics();
    // The fast client got every push; the lazy one's deliveries (until it was closed) were
    // all counted as dropped: nothing is unaccounted.
    assert_eq!(m.pushes_written, u64::from(N), "{m:?}");
    assert!(m.push_deliveries > u64::from(N), "{m:?}");
    assert_eq!(
        m.pushes_dropped(),
        m.push_deliveries - u64::from(N),
        "{m:?}"
    );
    assert!(m.pushes_dropped_slow_consumer > 0, "{m:?}");
    assert_eq!(m.pushes_undeliverable, 0, "{m:?}");
}
