//! Losing the connection: reconnect backoff, stale inputs, keep-alive pings, the connect timeout.

use super::*;

#[test]
fn reconnects_first_at_once_then_with_growing_capped_backoff() {
    let (mut c, conn) = open_ws();
    c.on_closed(conn, ms(0), TransportClosed::Clean);
    let outs = drain(&mut c);
    assert_eq!(c.state().last_close_reason(), Some(&CloseReason::Clean));
    let (mut conn, _, _) = connected(&outs);
    let mut now = ms(0);
    let mut delays = Vec::new();
    for _ in 0..5 {
        c.on_closed(conn, now, TransportClosed::Error("refused".into()));
        let at = c.state().next_reconnect.expect("scheduled");
        delays.push((at - now).as_millis());
        assert!(!connects(&drain(&mut c)));
        c.tick(at - ms(1));
        assert!(drain(&mut c).is_empty());
        c.tick(at);
        (conn, _, _) = connected(&drain(&mut c));
        assert_eq!(c.state().next_reconnect, None);
        now = at;
    }
    assert_eq!(delays, vec![100, 200, 400, 400, 400]);
    assert_eq!(c.state().reconnect_attempt, 6);
    // A handshake resets the backoff: the next failure retries at once.
    c.on_message(conn, now, &handshake("alice", false));
    assert_eq!(c.state().reconnect_attempt, 0);
    assert!(!c.state().first_open, "not the first open any more");
    drain(&mut c);
    c.on_closed(conn, now, TransportClosed::Clean);
    connected(&drain(&mut c));
}

#[test]
fn stale_connection_inputs_are_ignored() {
    let (mut c, old) = open_ws();
    c.on_closed(old, ms(0), TransportClosed::Clean);
    let (new, _, _) = connected(&drain(&mut c));
    c.on_message(old, ms(1), &handshake("x", false));
    c.on_closed(old, ms(1), TransportClosed::Clean);
    assert!(drain(&mut c).is_empty());
    assert!(!c.state().open);
    assert_eq!(c.current().map(|(id, _)| id), Some(new));
}

#[test]
fn client_pings_after_idle_and_times_out_without_an_answer() {
    let (mut c, conn) = open_ws();
    assert_eq!(c.next_deadline(), Some(ms(1000)));
    c.tick(ms(999));
    assert!(sent(&drain(&mut c)).is_empty());
    // Any frame slides the window.
    c.on_message(conn, ms(600), &enc(&Frame::Push(vec![])));
    drain(&mut c);
    c.tick(ms(1000));
    assert!(sent(&drain(&mut c)).is_empty(), "window slid to 1600");
    c.tick(ms(1600));
    assert_eq!(sent(&drain(&mut c)), vec![Frame::Ping]);
    // The pong arrives: no timeout.
    c.on_message(conn, ms(1700), &enc(&Frame::Pong));
    c.tick(ms(2100));
    assert!(drain(&mut c).is_empty());
    // Next ping goes unanswered.
    c.tick(ms(2700));
    assert_eq!(sent(&drain(&mut c)), vec![Frame::Ping]);
    c.tick(ms(3199));
    assert!(drain(&mut c).is_empty());
    c.tick(ms(3200));
    let outs = drain(&mut c);
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Close { attempt: id } if *id == conn)));
    assert_eq!(
        c.state().last_close_reason(),
        Some(&CloseReason::PingTimeout)
    );
    connected(&outs); // first retry is immediate
}

#[test]
fn server_ping_is_answered_with_pong() {
    let (mut c, conn) = open_ws();
    c.on_message(conn, ms(5), &enc(&Frame::Ping));
    assert_eq!(sent(&drain(&mut c)), vec![Frame::Pong]);
}

#[test]
fn connect_timeout_counts_as_a_failure() {
    let (mut c, ws) = start(TransportMode::Auto);
    c.on_open(ws, ms(1)); // opened, but no handshake ever comes (a hanging proxy)
    assert_eq!(c.next_deadline(), Some(ms(2000)));
    c.tick(ms(2000));
    let outs = drain(&mut c);
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Close { attempt: conn } if *conn == ws)));
    let (_, t, _) = connected(&outs);
    assert_eq!(t, Transport::Ajax, "a hanging WebSocket downgrades too");
}
