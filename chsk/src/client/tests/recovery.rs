//! Stream positions and recovery (protocol v2): `v` and `since` on the URLs, positioned pushes
//! delivered once and in order (duplicates dropped, a gap reconnects, epochs), the handshake's
//! verdict, and the app seeing "not recovered" in order with its pushes.

use super::*;
use crate::{
    client::Recovery,
    protocol::{Position, PushRun, StreamKind},
};

pub(super) const A: StreamKind = StreamKind::All;
const U: StreamKind = StreamKind::User;
const C: StreamKind = StreamKind::Client;

pub(super) fn pos(stream: StreamKind, epoch: u64, seq: u64) -> Position {
    Position { stream, epoch, seq }
}

/// An event named after its stream and seq: `a/5`, `c/1`.
fn named(stream: StreamKind, seq: u64) -> EventFrame {
    EventFrame {
        id: format!("{}/{seq}", stream.letter()).into(),
        payload: Payload(vec![]),
    }
}

/// A run of `n` events of `stream` in `epoch`, from `seq`.
pub(super) fn run(stream: StreamKind, epoch: u64, seq: u64, n: u64) -> PushRun {
    PushRun {
        at: Some(pos(stream, epoch, seq)),
        events: (seq..seq + n).map(|s| named(stream, s)).collect(),
    }
}

fn volatile(id: &'static str) -> PushRun {
    PushRun::volatile(vec![ev(id)])
}

pub(super) fn push(runs: Vec<PushRun>) -> Vec<u8> {
    enc(&Frame::Push(runs))
}

pub(super) fn hs(recovered: bool, positions: Vec<Position>) -> Vec<u8> {
    enc(&Frame::Handshake(Handshake {
        version: crate::protocol::VERSION,
        uid: Some("alice".into()),
        client_id: "c1".into(),
        data: None,
        first: false,
        recovered,
        positions,
    }))
}

/// What the app is told, in order: the ids of the pushed events, and `!` for "not recovered".
fn told(outs: &[Output]) -> Vec<String> {
    let mut out = Vec::new();
    for o in outs {
        match o {
            Output::Push(events) => out.extend(events.iter().map(|e| e.id.to_string())),
            Output::NotRecovered => out.push("!".into()),
            _ => {}
        }
    }
    out
}

fn polls(outs: &[Output]) -> Vec<String> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Poll { url, .. } => Some(url.clone()),
            _ => None,
        })
        .collect()
}

/// A WebSocket client open with `positions` (a first connection: nothing presented).
pub(super) fn ws_at(positions: Vec<Position>) -> (ClientCore, AttemptId) {
    let (mut c, conn) = start(TransportMode::Ws);
    c.on_open(conn, ms(0));
    c.on_message(conn, ms(0), &hs(false, positions));
    let outs = drain(&mut c);
    assert!(
        told(&outs).is_empty(),
        "a first connection is not \"not recovered\""
    );
    assert_eq!(c.state().recovery, Recovery::Fresh);
    (c, conn)
}

/// Cuts the connection of `conn` and returns the reconnect's attempt and URL.
fn cut(c: &mut ClientCore, conn: AttemptId, now: Duration) -> (AttemptId, String) {
    c.on_closed(conn, now, TransportClosed::Error("reset".into()));
    let (next, _, url) = connected(&drain(c));
    (next, url)
}

#[test]
fn urls_carry_v2_and_since_on_ws_handshake_and_every_poll() {
    // WebSocket: no `since` before any position; the positions after.
    let (mut c, conn) = start(TransportMode::Ws);
    assert_eq!(c.positions(), vec![]);
    c.on_message(conn, ms(0), &hs(false, vec![pos(A, 5, 3), pos(C, 9, 0)]));
    c.on_message(conn, ms(1), &push(vec![run(C, 9, 1, 2)]));
    let (_, url) = cut(&mut c, conn, ms(2));
    assert_eq!(
        url,
        "ws://h:1/chsk?client-id=c1&v=2&codec=postcard&since=a.5.3,c.9.2"
    );
    // Ajax: the handshake and each poll present the positions at the time; POSTs do not.
    let (mut c, conn) = start(TransportMode::Ajax);
    c.on_poll(conn, ms(1), Ok(&hs(false, vec![pos(A, 5, 3)])));
    assert_eq!(
        polls(&drain(&mut c)),
        vec!["http://h:1/chsk?client-id=c1&v=2&codec=postcard&since=a.5.3"]
    );
    c.on_poll(conn, ms(2), Ok(&push(vec![run(A, 5, 4, 2)])));
    let outs = drain(&mut c);
    assert_eq!(told(&outs), ["a/4", "a/5"]);
    assert!(polls(&outs)[0].ends_with("&since=a.5.5"), "{outs:?}");
    c.on_poll(conn, ms(3), Err(PollError::Timeout));
    assert!(polls(&drain(&mut c))[0].ends_with("&since=a.5.5"));
    assert_eq!(
        c.ajax_url(),
        "http://h:1/chsk?client-id=c1&v=2&codec=postcard"
    );
    c.on_poll(conn, ms(4), Err(PollError::Failed("reset".into())));
    let (_, transport, url) = connected(&drain(&mut c));
    assert_eq!(transport, Transport::Ajax);
    assert_eq!(
        url,
        "http://h:1/chsk?client-id=c1&v=2&codec=postcard&since=a.5.5&handshake=1"
    );
}

#[test]
fn the_http_probe_presents_the_positions_too() {
    let (mut c, conn) = ws_at(vec![pos(U, 2, 7)]);
    let (next, _) = cut(&mut c, conn, ms(1));
    c.on_connect_failed(next, ms(2), WsOpenError::Unexplained("code 1006".into()));
    let probe = drain(&mut c)
        .into_iter()
        .find_map(|o| match o {
            Output::Probe { url, .. } => Some(url),
            _ => None,
        })
        .expect("a probe");
    assert!(probe.ends_with("&since=u.2.7&handshake=1"), "{probe}");
}

#[test]
fn a_refusal_of_the_version_is_final() {
    let (mut c, conn) = start(TransportMode::Ws);
    let body = "unsupported protocol version: this server speaks 3";
    c.on_connect_failed(conn, ms(1), WsOpenError::Refused(refused(400, body)));
    let outs = drain(&mut c);
    assert!(!connects(&outs));
    assert!(c.state().stopped, "400 is not retried");
    assert_eq!(c.state().refusal(), Some(&Refusal::new(400, body)));
}

#[test]
fn duplicates_are_dropped_by_position_and_volatile_runs_pass() {
    let (mut c, conn) = ws_at(vec![pos(A, 5, 3)]);
    // A replay overlapping what was delivered, with volatile events around it.
    let frame = push(vec![
        volatile("v/1"),
        run(A, 5, 2, 3),
        volatile("v/1"),
        run(A, 5, 4, 2),
    ]);
    c.on_message(conn, ms(1), &frame);
    assert_eq!(told(&drain(&mut c)), ["v/1", "a/4", "v/1", "a/5"]);
    // The same frame again: only the volatile events (they carry no position).
    c.on_message(conn, ms(2), &frame);
    assert_eq!(told(&drain(&mut c)), ["v/1", "v/1"]);
    assert_eq!(c.positions(), vec![pos(A, 5, 5)]);
    assert_eq!(c.metrics().duplicates_dropped, 2 + 1 + 3 + 2);
    assert!(c.state().open, "duplicates are no reason to close");
    // A stream without a position is taken from wherever it is.
    c.on_message(conn, ms(3), &push(vec![run(C, 4, 10, 1)]));
    assert_eq!(told(&drain(&mut c)), ["c/10"]);
    assert_eq!(c.positions(), vec![pos(A, 5, 5), pos(C, 4, 10)]);
}

#[test]
fn a_gap_closes_and_the_reconnect_recovers_it() {
    let (mut c, conn) = ws_at(vec![pos(A, 5, 3)]);
    let frame = push(vec![
        run(A, 5, 4, 1),
        volatile("v/1"),
        run(A, 5, 7, 1), // 5 and 6 are missing
        run(A, 5, 8, 1),
    ]);
    c.on_message(conn, ms(1), &frame);
    let outs = drain(&mut c);
    assert_eq!(told(&outs), ["a/4", "v/1"], "nothing from the gap on");
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Close { attempt } if *attempt == conn)));
    assert_eq!(
        c.state().last_close_reason(),
        Some(&CloseReason::PushGap {
            known: pos(A, 5, 4),
            got: pos(A, 5, 7)
        })
    );
    assert_eq!(c.metrics().push_gaps, 1);
    // The reconnect (at once: the backoff was reset by the handshake) presents the position.
    let (next, _, url) = connected(&outs);
    assert!(url.ends_with("&since=a.5.4"), "{url}");
    c.on_message(next, ms(2), &hs(true, vec![pos(A, 5, 4)]));
    c.on_message(next, ms(2), &push(vec![run(A, 5, 5, 4)]));
    let outs = drain(&mut c);
    assert_eq!(told(&outs), ["a/5", "a/6", "a/7", "a/8"]);
    assert_eq!(c.state().recovery, Recovery::Recovered);
    assert_eq!(c.metrics().recoveries, 1);
    assert_eq!(c.metrics().not_recovered, 0);
}

#[test]
fn another_epoch_while_connected_is_a_gap_even_from_its_first_event() {
    for first in [1, 3] {
        let (mut c, conn) = ws_at(vec![pos(A, 5, 3)]);
        // The stream's history was lost while connected (a shared store lost it): pushes made
        // before the new epoch's first may be missing, so nothing is delivered and the client
        // reconnects with its old position (the handshake will say "not recovered").
        c.on_message(conn, ms(1), &push(vec![run(A, 6, first, 2)]));
        let outs = drain(&mut c);
        assert!(told(&outs).is_empty(), "{first}");
        assert_eq!(
            c.state().last_close_reason(),
            Some(&CloseReason::PushGap {
                known: pos(A, 5, 3),
                got: pos(A, 6, first)
            })
        );
        let (_, _, url) = connected(&outs);
        assert!(url.ends_with("&since=a.5.3"), "{url}");
    }
}

#[test]
fn not_recovered_is_told_before_the_pushes_that_follow_it() {
    let (mut c, conn) = ws_at(vec![pos(A, 5, 0)]);
    c.on_message(conn, ms(1), &push(vec![run(A, 5, 1, 1)]));
    assert_eq!(told(&drain(&mut c)), ["a/1"]);
    let (next, url) = cut(&mut c, conn, ms(2));
    assert!(url.ends_with("&since=a.5.1"), "{url}");
    // The server restarted: another epoch, nothing replayed.
    c.on_message(next, ms(3), &hs(false, vec![pos(A, 8, 4)]));
    c.on_message(next, ms(3), &push(vec![run(A, 8, 5, 1)]));
    let outs = drain(&mut c);
    assert_eq!(told(&outs), ["!", "a/5"]);
    let st = c.state();
    assert!(st.open);
    assert_eq!(st.recovery, Recovery::NotRecovered);
    assert_eq!(c.positions(), vec![pos(A, 8, 5)]);
    assert_eq!(c.metrics().not_recovered, 1);
    // The next recovered handshake says so.
    let (next, _) = cut(&mut c, next, ms(4));
    c.on_message(next, ms(5), &hs(true, vec![pos(A, 8, 5)]));
    assert!(told(&drain(&mut c)).is_empty());
    assert_eq!(c.state().recovery, Recovery::Recovered);
}

#[test]
fn a_poll_answered_with_a_handshake_is_a_handshake() {
    let (mut c, conn) = start(TransportMode::Ajax);
    c.on_poll(conn, ms(1), Ok(&hs(false, vec![pos(A, 5, 2)])));
    drain(&mut c);
    // The server lost this client's state (a restart): the poll is answered as a handshake.
    c.on_poll(conn, ms(2), Ok(&hs(false, vec![pos(A, 9, 0)])));
    let outs = drain(&mut c);
    assert_eq!(told(&outs), ["!"]);
    assert!(polls(&outs)[0].ends_with("&since=a.9.0"));
    assert!(c.state().open, "still open, on the same attempt");
    assert_eq!(c.current().map(|(id, _)| id), Some(conn));
}

#[test]
fn the_handshake_positions_replace_the_clients() {
    let (mut c, conn) = ws_at(vec![pos(A, 5, 3), pos(U, 2, 7), pos(C, 9, 1)]);
    let (next, url) = cut(&mut c, conn, ms(1));
    assert!(url.ends_with("&since=a.5.3,u.2.7,c.9.1"), "{url}");
    // Logged out: the user stream is gone; the others recovered.
    c.on_message(next, ms(2), &hs(true, vec![pos(A, 5, 3), pos(C, 9, 1)]));
    assert!(told(&drain(&mut c)).is_empty());
    assert_eq!(c.positions(), vec![pos(A, 5, 3), pos(C, 9, 1)]);
    // A server keeping no history: no position at all, so nothing to present or recover.
    let (next, _) = cut(&mut c, next, ms(3));
    c.on_message(next, ms(4), &hs(false, vec![]));
    assert_eq!(told(&drain(&mut c)), ["!"], "the client had positions");
    let (next, url) = cut(&mut c, next, ms(5));
    assert!(!url.contains("since"), "{url}");
    c.on_message(next, ms(6), &hs(false, vec![]));
    assert!(told(&drain(&mut c)).is_empty(), "nothing was presented");
    assert_eq!(c.state().recovery, Recovery::Fresh);
}

#[test]
fn gap_after_gap_backs_off_until_the_stream_goes_on() {
    let (mut c, mut conn) = ws_at(vec![pos(A, 5, 3)]);
    let mut now = ms(0);
    let mut delays = Vec::new();
    for _ in 0..4 {
        // A server that always skips a push (the handshake recovers, then a gap).
        c.on_message(conn, now, &push(vec![run(A, 5, 5, 1)]));
        let mut outs = drain(&mut c);
        let at = c.state().next_reconnect.unwrap_or(now);
        delays.push((at - now).as_millis());
        if !connects(&outs) {
            c.tick(at);
            outs = drain(&mut c);
        }
        (conn, _, _) = connected(&outs);
        now = at;
        c.on_message(conn, now, &hs(true, vec![pos(A, 5, 3)]));
    }
    assert_eq!(delays, [0, 100, 200, 400]);
    assert_eq!(c.metrics().push_gaps, 4);
    // The stream goes on: the next gap reconnects at once again.
    c.on_message(conn, now, &push(vec![run(A, 5, 4, 1)]));
    assert_eq!(told(&drain(&mut c)), ["a/4"]);
    c.on_message(conn, now, &push(vec![run(A, 5, 6, 1)]));
    connected(&drain(&mut c));
    assert_eq!(c.state().next_reconnect, None, "at once");
}

#[test]
fn a_frame_over_the_limit_loses_its_pushes_so_the_reconnect_does_not_recover() {
    let mut o = opts(TransportMode::Ws);
    o.max_frame_bytes = 64;
    let (mut c, conn) = started(o);
    c.on_message(conn, ms(0), &hs(false, vec![pos(A, 5, 3), pos(C, 2, 0)]));
    drain(&mut c);
    let big = push(vec![PushRun {
        at: Some(pos(A, 5, 4)),
        events: vec![EventFrame {
            id: "a/4".into(),
            payload: Payload(vec![7; 100]),
        }],
    }]);
    c.on_message(conn, ms(1), &big);
    // Presenting `a.5.3` would get the same frame replayed, over the limit again: the
    // reconnect presents nothing, and the app is told.
    let (next, _, url) = connected(&drain(&mut c));
    assert!(!url.contains("since"), "{url}");
    c.on_message(next, ms(2), &hs(false, vec![pos(A, 5, 4), pos(C, 2, 0)]));
    assert_eq!(told(&drain(&mut c)), ["!"]);
    assert_eq!(c.state().recovery, Recovery::NotRecovered);
    assert_eq!(c.positions(), vec![pos(A, 5, 4), pos(C, 2, 0)]);
    // Without positions there was nothing to lose (the server keeps no history).
    let (mut c, conn) = started(ClientOptions {
        max_frame_bytes: 64,
        ..opts(TransportMode::Ws)
    });
    c.on_message(conn, ms(0), &hs(false, vec![]));
    c.on_closed(
        conn,
        ms(1),
        TransportClosed::FrameTooLarge { size: 99, max: 64 },
    );
    let (next, _, _) = connected(&drain(&mut c));
    c.on_message(next, ms(2), &hs(false, vec![]));
    assert_eq!(c.state().recovery, Recovery::Fresh);
}
