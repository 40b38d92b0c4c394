//! Limits: oversized frames, rate limits, connections per user, requests in flight, Ajax
//! states and kept requests, slow consumers and stalled writers: each ends with its documented
//! status or close, with memory bounded, and other clients keep working.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use chsk::{
    protocol::Frame,
    server::{Flush, Limits, RateLimit, Target, Timings},
    Server,
};
use support::*;

fn limited(limits: Limits) -> Server {
    builder().limits(limits).build()
}

#[tokio::test(start_paused = true)]
async fn oversized_frame_closes_with_1009() {
    let server = limited(Limits {
        max_frame_bytes: 64 * 1024,
        ..Limits::default()
    });
    let mut c = open(&server, "client-id=big").await;
    c.send_raw(vec![0; 64 * 1024 + 1]);
    let (reason, code) = c.closed().await;
    assert_eq!(reason.as_deref(), Some("frame too large"));
    assert_eq!(code, Some(1009));
    assert_eq!(server.metrics().oversized_frames, 1);
    still_works(&server).await;
}

#[tokio::test(start_paused = true)]
async fn flood_closes_with_1008() {
    let server = limited(Limits {
        rate_limit: Some(RateLimit {
            per_second: 10,
            burst: 20,
        }),
        ..Limits::default()
    });
    let mut c = open(&server, "client-id=flood").await;
    for _ in 0..100 {
        c.send(&Frame::Ping);
    }
    let (reason, code) = c.closed().await;
    assert_eq!(reason.as_deref(), Some("rate limit exceeded"));
    assert_eq!(code, Some(1008));
    assert_eq!(server.metrics().rate_limited, 1);
    still_works(&server).await;
}

#[tokio::test(start_paused = true)]
async fn ajax_flood_is_429_until_the_bucket_refills() {
    let server = limited(Limits {
        rate_limit: Some(RateLimit {
            per_second: 1,
            burst: 5,
        }),
        ..Limits::default()
    });
    let ajax = server.ajax_mem("client-id=flood");
    ajax.handshake().await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(ajax.post(&Frame::Ping).await.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429, 429, 429]);
    assert_eq!(server.metrics().rate_limited, 5);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(ajax.post(&Frame::Ping).await.status, 200);
    still_works(&server).await;
}

#[tokio::test(start_paused = true)]
async fn too_many_connections_per_user_is_429() {
    let server = limited(Limits {
        max_conns_per_user: 2,
        ..Limits::default()
    });
    let _a = open(&server, "client-id=a&uid=eve").await;
    let _b = open(&server, "client-id=b&uid=eve").await;
    let refused = server.connect_mem("client-id=c&uid=eve").unwrap_err();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.body(), "too many connections");
    assert_eq!(
        server
            .ajax_mem("client-id=c&uid=eve")
            .get("handshake=1")
            .await
            .status,
        429
    );
    // Replacing one's own connection is fine.
    let _a2 = open(&server, "client-id=a&uid=eve").await;
    still_works(&server).await;
}

#[tokio::test(start_paused = true)]
async fn requests_in_flight_are_bounded_per_connection() {
    const REQUEST: usize = 64 << 10;
    let limits = Limits {
        max_frame_bytes: 2 * REQUEST,
        max_in_flight_bytes: 4 * REQUEST,
        ..Limits::default()
    };
    let (max_bytes, frame_max) = (limits.max_in_flight_bytes, limits.max_frame_bytes);
    let state = State::default();
    let server = builder_with(state.clone()).limits(limits).build();
    let mut c = open(&server, "client-id=greedy").await;
    // 16 requests of 64 KiB each; their handlers wait for the gate.
    for i in 0..16 {
        c.send(&request(i, TestEvent::Big(vec![7; REQUEST])));
    }
    // The server reads until its in-flight bound, then stops reading the socket.
    eventually(|| server.metrics().in_flight_bytes >= (max_bytes - frame_max) as u64).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let m = server.metrics();
    assert!(
        m.in_flight_bytes <= (max_bytes + frame_max) as u64,
        "in flight {} > {}",
        m.in_flight_bytes,
        max_bytes + frame_max
    );
    assert!(m.in_flight_bytes < 16 * REQUEST as u64, "{m:?}");
    // Releasing the handlers lets the rest in: every request gets its reply.
    state.gate.add_permits(16);
    let mut ids = Vec::new();
    for _ in 0..16 {
        let (id, len) = reply_ok::<u32>(c.next().await);
        assert_eq!(len as usize, REQUEST);
        ids.push(id);
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..16).collect::<Vec<_>>());
    eventually(|| server.metrics().in_flight_bytes == 0).await;
}

#[tokio::test(start_paused = true)]
async fn ajax_states_and_kept_requests_are_bounded() {
    let limits = Limits {
        max_ajax_clients: 1_500,
        ..Limits::default()
    };
    let max_kept = limits.max_kept_request_bytes;
    let server = limited(limits);
    let junk = http::HeaderValue::from_str(&"j".repeat(200_000)).unwrap();
    let mut refused = 0;
    // No time passes: all 2,000 states overlap.
    for i in 0..2_000 {
        let resp = server
            .mem_request(&format!("client-id=c{i}"))
            .header("x-junk", junk.clone())
            .ajax()
            .get("handshake=1")
            .await;
        match resp.status.as_u16() {
            200 => {}
            503 => {
                refused += 1;
                assert_eq!(&resp.body[..], b"too many clients");
            }
            other => panic!("status {other}"),
        }
    }
    let m = server.metrics();
    assert_eq!(refused, 500);
    assert_eq!(m.ajax_clients, 1_500, "{m:?}");
    assert_eq!(m.ajax_clients_refused, 500, "{m:?}");
    // Nothing of the 200 KB header is kept: only the URI (and headers the app asked for).
    assert!(m.kept_request_bytes <= 1_500 * max_kept as u64, "{m:?}");
    assert!(m.kept_request_bytes <= 1_500 * 200, "{m:?}");
}

#[tokio::test(start_paused = true)]
async fn slow_consumer_is_closed_and_counted_and_others_keep_working() {
    let server = limited(Limits {
        send_queue: 4,
        ..Limits::default()
    });
    // The stuck client never reads: its socket buffer fills, then its queue.
    let stuck = server
        .mem_request("client-id=stuck&uid=slow")
        .capacity(4)
        .connect()
        .unwrap();
    let big = "x".repeat(256 * 1024);
    let mut i = 0;
    while server.metrics().slow_consumer_closes == 0 {
        assert!(i < 100, "the slow consumer was never closed");
        server
            .push(
                Target::User("slow".into()),
                TestPush::Text(big.clone()),
                Flush::Now,
            )
            .expect("a valid push");
        i += 1;
        tokio::task::yield_now().await;
    }
    assert!(server.metrics().frames_dropped >= 1);
    still_works(&server).await;
    // The stuck client's connection ends and leaves the registry.
    drop(stuck);
    eventually(|| server.send_to_user("slow", TestPush::Seq(0)) == Ok(0)).await;
    eventually(|| !server.connected_uids().ws.contains("slow")).await;
}

#[tokio::test(start_paused = true)]
async fn a_burst_to_a_client_that_does_not_read_closes_it_with_bounded_memory() {
    let limits = Limits {
        send_queue_bytes: 1 << 20,
        max_send_frame_bytes: 64 << 10,
        ..Limits::default()
    };
    let bound = (limits.send_queue_bytes + limits.max_send_frame_bytes) as u64;
    let server = builder()
        .limits(limits)
        .timings(Timings {
            ws_kalive: Duration::from_secs(3600),
            ..Timings::default()
        })
        .build();
    let mut ws = server
        .mem_request("client-id=stuck&uid=stuck")
        .capacity(4)
        .connect()
        .unwrap();
    ws.handshake().await;
    let (mut peak, mut pushed) = (0, 0u64);
    for seq in 0..4_000u32 {
        for flush in [Flush::Batched, Flush::Now] {
            let reached = server
                .push(Target::User("stuck".into()), blob(seq), flush)
                .expect("a valid push");
            if reached > 0 {
                pushed += 1;
            }
        }
        peak = peak.max(server.metrics().queued_bytes);
        if seq % 500 == 499 {
            tokio::task::yield_now().await;
        }
    }
    server.flush();
    assert!(peak <= bound, "queued {peak} > {bound}");
    eventually(|| server.metrics().ws_closed == 1).await;
    eventually(|| balanced(&server.metrics())).await;
    let m = server.metrics();
    assert_eq!(m.slow_consumer_closes, 1, "{m:?}");
    assert!(m.pushes_dropped_slow_consumer > 0, "{m:?}");
    assert!(m.push_deliveries <= pushed, "{m:?}");
    assert_eq!(m.queued_bytes, 0, "{m:?}");
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_reading_is_closed_at_the_write_deadline_and_freed() {
    let timings = Timings {
        ws_kalive: Duration::from_secs(3600),
        ..Timings::default()
    };
    // A queue large enough that the write deadline, not the queue bound, ends the connection.
    let server = builder()
        .timings(timings)
        .limits(Limits {
            send_queue: 1 << 20,
            send_queue_bytes: 1 << 30,
            ..Limits::default()
        })
        .build();
    let mut presence_rx = server.presence_events();
    let mut ws = server
        .mem_request("client-id=frozen&uid=frozen")
        .capacity(8)
        .connect()
        .unwrap();
    ws.handshake().await;
    let mut pushed = 0u64;
    for seq in 0..100 {
        server
            .push(Target::User("frozen".into()), blob(seq), Flush::Now)
            .unwrap();
        pushed += 1;
    }
    let start = tokio::time::Instant::now();
    eventually(|| server.metrics().ws_closed == 1).await;
    assert!(start.elapsed() >= timings.write_timeout);
    // Its accounting completes when its socket is closed (the `Close` frame gets a second).
    eventually(|| balanced(&server.metrics())).await;
    let m = server.metrics();
    assert_eq!(m.write_timeouts, 1, "{m:?}");
    assert!(m.pushes_dropped_write_timeout > 0, "{m:?}");
    assert_eq!(m.push_deliveries, pushed, "{m:?}");
    assert_eq!(m.queued_bytes, 0, "the queue was freed: {m:?}");
    // The user's presence closes after the grace period.
    assert_eq!(
        presence(&mut presence_rx).await,
        chsk::server::PresenceEvent::UidPortOpen("frozen".into())
    );
    assert_eq!(
        presence(&mut presence_rx).await,
        chsk::server::PresenceEvent::UidPortClose("frozen".into())
    );
    assert!(!server.connected_uids().any.contains("frozen"));
    drop(ws);
}
