//! Recovery on the server (protocol v2), in memory: stream positions on every push, replay of
//! what a reconnecting client missed (all of it, before any live push), or `recovered: false`
//! and nothing (never part of it); the version check; Ajax answers sent again when lost.
#![allow(clippy::unwrap_used)] // test fixtures

mod support;

use std::time::Duration;

use chsk::{
    protocol::{format_since, Frame, Position, PushRun, StreamKind},
    server::{Flush, HistoryOptions, MemClient, PushOptions, Target},
    Codec, Event, Server,
};
use support::{builder, TestPush, WsExt};

fn alice() -> Target {
    Target::User("alice".into())
}

fn push(server: &Server, target: Target, n: u32) {
    server.push(target, TestPush::Seq(n), Flush::Now).unwrap();
}

/// The pushed events of a frame with their positions (`None`: volatile).
fn positioned(frame: &Frame) -> Vec<(Option<(StreamKind, u64)>, u32)> {
    let Frame::Push(runs) = frame else {
        panic!("expected a push, got {frame:?}")
    };
    runs.iter()
        .flat_map(|run: &PushRun| {
            run.events.iter().enumerate().map(move |(i, e)| {
                let at = run.at.map(|p| (p.stream, p.seq + i as u64));
                match TestPush::from_frame(e, Codec::Postcard).unwrap() {
                    TestPush::Seq(n) => (at, n),
                    other => panic!("unexpected {other:?}"),
                }
            })
        })
        .collect()
}

/// Reads pushes until `n` events came; their positions and numbers.
async fn read(c: &mut MemClient, n: usize) -> Vec<(Option<(StreamKind, u64)>, u32)> {
    let mut got = Vec::new();
    while got.len() < n {
        match c.next().await {
            Frame::Ping => {}
            frame => got.extend(positioned(&frame)),
        }
    }
    got
}

/// The client's positions after reading `events` on top of its handshake's.
fn advance(
    mut positions: Vec<Position>,
    events: &[(Option<(StreamKind, u64)>, u32)],
) -> Vec<Position> {
    for (at, _) in events {
        if let Some((stream, seq)) = at {
            let p = positions.iter_mut().find(|p| p.stream == *stream).unwrap();
            assert_eq!(*seq, p.seq + 1, "consecutive on the wire");
            p.seq = *seq;
        }
    }
    positions
}

fn since(positions: &[Position]) -> String {
    format!("client-id=c1&uid=alice&since={}", format_since(positions))
}

#[tokio::test(start_paused = true)]
async fn a_reconnecting_client_gets_what_it_missed_before_live_pushes() {
    let server = builder().build();
    let (mut c, hs) = support::open_hs(&server, "client-id=c1&uid=alice").await;
    assert_eq!(hs.version, 2);
    assert!(!hs.recovered, "nothing presented: nothing recovered");
    let kinds: Vec<StreamKind> = hs.positions.iter().map(|p| p.stream).collect();
    assert_eq!(
        kinds,
        [StreamKind::All, StreamKind::User, StreamKind::Client]
    );
    assert!(hs.positions.iter().all(|p| p.seq == 0 && p.epoch != 0));

    for n in 1..=3 {
        push(&server, alice(), n);
    }
    push(&server, Target::All, 4);
    let got = read(&mut c, 4).await;
    assert_eq!(
        got,
        [
            (Some((StreamKind::User, 1)), 1),
            (Some((StreamKind::User, 2)), 2),
            (Some((StreamKind::User, 3)), 3),
            (Some((StreamKind::All, 1)), 4),
        ]
    );
    let positions = advance(hs.positions.clone(), &got);
    c.cut();
    drop(c);
    // Missed while away: on every stream the connection reads.
    push(&server, alice(), 5);
    push(&server, Target::Client("c1".into()), 6);
    push(&server, Target::All, 7);
    push(&server, alice(), 8);

    let (mut c, hs) = support::open_hs(&server, &since(&positions)).await;
    assert!(hs.recovered);
    assert_eq!(hs.positions, positions, "continues from what it presented");
    push(&server, alice(), 9); // live, after the replay
    let got = read(&mut c, 5).await;
    let numbers: Vec<u32> = got.iter().map(|(_, n)| *n).collect();
    // Per stream in order; the replay before the live push.
    assert_eq!(numbers.last(), Some(&9));
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [5, 6, 7, 8, 9], "each once");
    let after = advance(positions, &got);
    assert_eq!(after.iter().map(|p| p.seq).collect::<Vec<_>>(), [2, 6, 1]);
    let m = server.metrics();
    assert_eq!(
        (m.recoveries, m.recoveries_failed, m.pushes_replayed),
        (1, 0, 4)
    );
    assert_eq!(m.history_events, 9);
}

#[tokio::test(start_paused = true)]
async fn beyond_the_history_nothing_is_replayed_on_any_stream() {
    let server = builder()
        .history(HistoryOptions::default().max_count(3))
        .build();
    let (c, hs) = support::open_hs(&server, "client-id=c1&uid=alice").await;
    drop(c);
    // The broadcast stream still has everything; the user stream lost its oldest events.
    push(&server, Target::All, 1);
    for n in 2..=6 {
        push(&server, alice(), n);
    }
    let (mut c, again) = support::open_hs(&server, &since(&hs.positions)).await;
    assert!(!again.recovered, "all or none");
    let tops: Vec<u64> = again.positions.iter().map(|p| p.seq).collect();
    assert_eq!(
        tops,
        [1, 5, 0],
        "live pushes continue after the current tops"
    );
    push(&server, Target::All, 7);
    let got = read(&mut c, 1).await;
    assert_eq!(
        got,
        [(Some((StreamKind::All, 2)), 7)],
        "no replay, only the live push"
    );
    assert_eq!(server.metrics().recoveries_failed, 1);
}

#[tokio::test(start_paused = true)]
async fn positions_of_another_server_are_not_recovered() {
    let before = builder().build();
    let (_c, hs) = support::open_hs(&before, "client-id=c1&uid=alice").await;
    // A restart: the in-memory history is gone, every stream has a new epoch.
    let after = builder().build();
    let (_c2, again) = support::open_hs(&after, &since(&hs.positions)).await;
    assert!(!again.recovered);
    for (old, new) in hs.positions.iter().zip(&again.positions) {
        assert_ne!(old.epoch, new.epoch, "{:?}", old.stream);
    }
}

#[tokio::test(start_paused = true)]
async fn a_stream_without_a_position_is_not_recovered() {
    // Logged in since: the user stream had no position.
    let server = builder().build();
    let (c, hs) = support::open_hs(&server, "client-id=c1").await;
    assert_eq!(hs.positions.len(), 2, "anonymous: all and client");
    drop(c);
    let (_c, again) = support::open_hs(&server, &since(&hs.positions)).await;
    assert!(!again.recovered);
    assert_eq!(again.positions.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn volatile_pushes_carry_no_position_and_are_not_replayed() {
    let server = builder().build();
    let (mut c, hs) = support::open_hs(&server, "client-id=c1&uid=alice").await;
    let volatile = PushOptions::default().volatile(true).flush(Flush::Now);
    server.push(alice(), TestPush::Seq(1), volatile).unwrap();
    push(&server, alice(), 2);
    let got = read(&mut c, 2).await;
    assert_eq!(got, [(None, 1), (Some((StreamKind::User, 1)), 2)]);
    let positions = advance(hs.positions, &got);
    drop(c);
    server.push(alice(), TestPush::Seq(3), volatile).unwrap();
    push(&server, alice(), 4);
    let (mut c, again) = support::open_hs(&server, &since(&positions)).await;
    assert!(again.recovered);
    assert_eq!(read(&mut c, 1).await, [(Some((StreamKind::User, 2)), 4)]);
    assert_eq!(server.metrics().history_events, 2);
}

#[tokio::test(start_paused = true)]
async fn pushes_to_nobody_are_kept_for_who_reconnects() {
    let server = builder().build();
    let (c, hs) = support::open_hs(&server, "client-id=c1&uid=alice").await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.send_to_user("alice", TestPush::Seq(1)), Ok(0));
    let (mut c, again) = support::open_hs(&server, &since(&hs.positions)).await;
    assert!(again.recovered);
    assert_eq!(read(&mut c, 1).await, [(Some((StreamKind::User, 1)), 1)]);
}

#[tokio::test(start_paused = true)]
async fn an_old_client_and_a_bad_since_are_refused_clearly() {
    let server = builder().build();
    for query in ["client-id=c1&v=1", "client-id=c1&v="] {
        let refused = server.connect_mem(query).unwrap_err();
        assert_eq!(refused.status(), 400);
        assert_eq!(
            refused.body(),
            "unsupported protocol version: this server speaks 2"
        );
    }
    for bad in ["a.1", "x.1.2", "a.1.2,a.1.3", "a.-1.2"] {
        let refused = server
            .connect_mem(&format!("client-id=c1&since={bad}"))
            .unwrap_err();
        assert_eq!(refused.status(), 400, "{bad}");
        assert!(
            refused.body().starts_with("malformed `since`"),
            "{}",
            refused.body()
        );
        let ajax = server.ajax_mem(&format!("client-id=c1&since={bad}"));
        assert_eq!(ajax.get("handshake=1").await.status, 400);
    }
    support::still_works(&server).await;
}

#[tokio::test(start_paused = true)]
async fn without_history_nothing_is_positioned_or_recovered() {
    let server = builder().without_history().build();
    let (mut c, hs) = support::open_hs(&server, "client-id=c1&uid=alice").await;
    assert!(hs.positions.is_empty() && !hs.recovered);
    push(&server, alice(), 1);
    assert_eq!(read(&mut c, 1).await, [(None, 1)]);
    let m = server.metrics();
    assert_eq!((m.history_streams, m.history_events), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn ajax_recovers_on_its_handshake_and_resends_a_lost_answer() {
    let server = builder().build();
    let ajax = server.ajax_mem("client-id=c1&uid=alice");
    let hs = ajax.handshake().await;
    let since = |p: &[Position]| format!("since={}", format_since(p));
    push(&server, alice(), 1);
    push(&server, alice(), 2);
    let first = ajax.decode(&ajax.get(&since(&hs.positions)).await);
    let got = positioned(&first);
    assert_eq!(got.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [1, 2]);
    // That answer was lost: the next poll still presents the old cursor.
    push(&server, alice(), 3);
    let again = ajax.decode(&ajax.get(&since(&hs.positions)).await);
    assert_eq!(
        positioned(&again),
        [
            (Some((StreamKind::User, 1)), 1),
            (Some((StreamKind::User, 2)), 2)
        ],
        "the lost answer, first"
    );
    let positions = advance(hs.positions.clone(), &positioned(&again));
    let next = ajax.decode(&ajax.get(&since(&positions)).await);
    assert_eq!(positioned(&next), [(Some((StreamKind::User, 3)), 3)]);
    assert_eq!(server.metrics().pushes_resent, 2);

    // A new Ajax state (e.g. after the grace period): the handshake recovers, the replay
    // waits for the next poll.
    let positions = advance(positions, &positioned(&next));
    push(&server, alice(), 4);
    let fresh = server.ajax_mem(&format!("client-id=c1&uid=alice&{}", since(&positions)));
    let hs2 = fresh.handshake().await;
    assert!(hs2.recovered);
    push(&server, alice(), 5);
    let mut got = Vec::new();
    while got.len() < 2 {
        match fresh.poll().await {
            Frame::PollTimeout => {}
            frame => got.extend(positioned(&frame)),
        }
    }
    assert_eq!(
        got,
        [
            (Some((StreamKind::User, 4)), 4),
            (Some((StreamKind::User, 5)), 5)
        ]
    );
}

/// Pushes with a volatile variant.
#[chsk::events(ns = "rv")]
#[derive(Debug, Clone, PartialEq)]
pub enum RvPush {
    /// Kept in the history.
    Kept(u32),
    /// Never kept.
    #[event(volatile)]
    Typing(u32),
}

#[tokio::test(start_paused = true)]
async fn a_volatile_variant_is_never_kept() {
    let server = builder().build();
    let (mut c, _) = support::open_hs(&server, "client-id=c1&uid=alice").await;
    server.push(alice(), RvPush::Typing(1), Flush::Now).unwrap();
    server.push(alice(), RvPush::Kept(2), Flush::Now).unwrap();
    let mut runs = Vec::new();
    while runs.len() < 2 {
        if let Frame::Push(r) = c.next().await {
            runs.extend(r);
        }
    }
    let ats: Vec<Option<u64>> = runs.iter().map(|r| r.at.map(|p| p.seq)).collect();
    assert_eq!(ats, [None, Some(1)]);
    assert_eq!(server.metrics().history_events, 1);
}
