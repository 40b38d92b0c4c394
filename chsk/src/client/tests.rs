//! Pure tests of the client state machine, with a fake clock.

use std::time::Duration;

use super::*;
use crate::{
    codec::{Codec, Payload},
    error::CbError,
    protocol::{EventFrame, Frame, Handshake},
};

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn opts(transport: TransportMode) -> ClientOptions {
    ClientOptions {
        transport,
        client_id: Some("c1".into()),
        backoff: BackoffOptions {
            base: ms(100),
            cap: ms(400),
            jitter: 0.0,
        },
        ws_kalive: ms(1000),
        ws_ping_timeout: ms(500),
        connect_timeout: ms(2000),
        ..Default::default()
    }
}

fn core(transport: TransportMode) -> ClientCore {
    ClientCore::new("http://h:1/chsk", opts(transport), 1)
}

fn drain(c: &mut ClientCore) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn enc(frame: &Frame) -> Vec<u8> {
    Codec::Postcard.encode_frame(frame).expect("encodes")
}

fn handshake(uid: &str, first: bool) -> Vec<u8> {
    enc(&Frame::Handshake(Handshake {
        uid: Some(uid.into()),
        client_id: "c1".into(),
        data: Some(Payload(Codec::Postcard.encode(&7u32).expect("encodes"))),
        first,
    }))
}

fn ev(id: &'static str) -> EventFrame {
    EventFrame {
        id: id.into(),
        payload: Payload(vec![]),
    }
}

/// The connection of the single `Connect` in `outs`.
fn connected(outs: &[Output]) -> (ConnId, Transport, String) {
    let found: Vec<_> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Connect {
                conn,
                transport,
                url,
            } => Some((*conn, *transport, url.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "expected one Connect in {outs:?}");
    found.into_iter().next().expect("one")
}

fn sent(outs: &[Output]) -> Vec<Frame> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { bytes, .. } => Some(Codec::Postcard.decode_frame(bytes).expect("frame")),
            _ => None,
        })
        .collect()
}

fn replies(outs: &[Output]) -> Vec<(u32, Result<Payload, CbError>)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Reply { reply_id, result } => Some((*reply_id, result.clone())),
            _ => None,
        })
        .collect()
}

fn states(outs: &[Output]) -> Vec<StateChange> {
    outs.iter()
        .filter_map(|o| match o {
            Output::State(s) => Some((**s).clone()),
            _ => None,
        })
        .collect()
}

/// Starts a WS client and completes its handshake at t = 0.
fn open_ws() -> (ClientCore, ConnId) {
    let mut c = core(TransportMode::Ws);
    c.start(ms(0));
    let (conn, _, _) = connected(&drain(&mut c));
    c.on_open(conn, ms(0));
    c.on_message(conn, ms(0), &handshake("alice", true));
    drain(&mut c);
    (c, conn)
}

#[test]
fn urls_carry_the_client_id_codec_token_and_params() {
    let mut o = opts(TransportMode::Ws);
    o.csrf_token = Some("t k".into());
    o.params = vec![("room".into(), "a&b".into())];
    let mut c = ClientCore::new("https://h/chsk/", o, 1);
    c.start(ms(0));
    let (_, transport, url) = connected(&drain(&mut c));
    assert_eq!(transport, Transport::Ws);
    assert_eq!(
        url,
        "wss://h/chsk?client-id=c1&codec=postcard&csrf-token=t%20k&room=a%26b"
    );
    assert_eq!(
        c.ajax_url(),
        "https://h/chsk?client-id=c1&codec=postcard&csrf-token=t%20k&room=a%26b"
    );
}

#[test]
fn generated_client_id_is_22_alphanumerics() {
    let c = ClientCore::new("http://h/chsk", ClientOptions::default(), 5);
    let id = &c.state().client_id;
    assert_eq!(id.len(), 22);
    assert!(id.chars().all(|ch| ch.is_ascii_alphanumeric()));
}

#[test]
fn handshake_opens_and_reports_first_open() {
    let mut c = core(TransportMode::Ws);
    c.start(ms(0));
    let (conn, _, _) = connected(&drain(&mut c));
    c.on_open(conn, ms(1));
    assert!(!c.state().open, "open only after the handshake");
    c.on_message(conn, ms(2), &handshake("alice", true));
    let outs = drain(&mut c);
    let changes = states(&outs);
    assert_eq!(changes.len(), 1);
    assert!(changes[0].opened() && changes[0].first_open());
    let st = c.state();
    assert_eq!(st.uid.as_deref(), Some("alice"));
    assert_eq!(st.transport, Some(Transport::Ws));
    assert!(st.ever_opened && st.first_handshake);
    assert_eq!(st.handshake_data::<u32>(), Some(Ok(7)));
}

#[test]
fn send_while_closed_fails_without_a_buffer() {
    let mut c = core(TransportMode::Ws);
    assert_eq!(c.send(ev("a/x")), Err(CbError::Closed));
    c.start(ms(0));
    drain(&mut c);
    assert_eq!(
        c.send(ev("a/x")),
        Err(CbError::Closed),
        "connecting is not open"
    );
    assert_eq!(c.request(ms(0), ev("a/x"), ms(100)), Err(CbError::Closed));
    assert_eq!(c.pending_replies(), 0);
}

#[test]
fn send_buffer_is_bounded_and_flushes_in_order_after_the_handshake() {
    let mut o = opts(TransportMode::Ws);
    o.send_buffer = Some(3);
    let mut c = ClientCore::new("http://h/chsk", o, 1);
    c.start(ms(0));
    let (conn, _, _) = connected(&drain(&mut c));
    c.send(ev("a/one")).expect("buffered");
    let rid = c.request(ms(0), ev("a/two"), ms(5000)).expect("buffered");
    c.send(ev("a/three")).expect("buffered");
    assert_eq!(c.send(ev("a/four")), Err(CbError::Closed), "buffer full");
    assert!(sent(&drain(&mut c)).is_empty());
    c.on_message(conn, ms(10), &handshake("u", true));
    let frames = sent(&drain(&mut c));
    assert_eq!(
        frames,
        vec![
            Frame::Event(ev("a/one")),
            Frame::Request {
                reply_id: rid,
                event: ev("a/two")
            },
            Frame::Event(ev("a/three")),
        ]
    );
}

#[test]
fn buffered_request_that_timed_out_is_not_sent() {
    let mut o = opts(TransportMode::Ws);
    o.send_buffer = Some(3);
    let mut c = ClientCore::new("http://h/chsk", o, 1);
    c.start(ms(0));
    let (conn, _, _) = connected(&drain(&mut c));
    let rid = c.request(ms(0), ev("a/two"), ms(50)).expect("buffered");
    c.tick(ms(60));
    assert_eq!(replies(&drain(&mut c)), vec![(rid, Err(CbError::Timeout))]);
    c.on_message(conn, ms(70), &handshake("u", true));
    assert!(sent(&drain(&mut c)).is_empty());
}

#[test]
fn reply_completes_once_and_late_replies_are_ignored() {
    let (mut c, conn) = open_ws();
    let a = c.request(ms(0), ev("a/x"), ms(100)).expect("open");
    let b = c.request(ms(0), ev("a/y"), ms(300)).expect("open");
    assert_eq!(sent(&drain(&mut c)).len(), 2);
    let reply = |id, v: u8| {
        enc(&Frame::Reply {
            reply_id: id,
            result: Ok(Payload(vec![v])),
        })
    };
    c.on_message(conn, ms(10), &reply(a, 1));
    assert_eq!(replies(&drain(&mut c)), vec![(a, Ok(Payload(vec![1])))]);
    c.on_message(conn, ms(20), &reply(a, 2));
    assert!(
        replies(&drain(&mut c)).is_empty(),
        "a duplicate reply is ignored"
    );

    assert_eq!(c.next_deadline(), Some(ms(300)));
    c.tick(ms(299));
    assert!(replies(&drain(&mut c)).is_empty());
    c.tick(ms(300));
    assert_eq!(replies(&drain(&mut c)), vec![(b, Err(CbError::Timeout))]);
    c.tick(ms(400));
    assert!(
        replies(&drain(&mut c)).is_empty(),
        "timeout fires exactly once"
    );
    c.on_message(conn, ms(500), &reply(b, 3));
    assert!(
        replies(&drain(&mut c)).is_empty(),
        "a late reply is ignored"
    );
}

#[test]
fn server_error_reply_is_cb_error() {
    let (mut c, conn) = open_ws();
    let a = c.request(ms(0), ev("a/x"), ms(100)).expect("open");
    let frame = enc(&Frame::Reply {
        reply_id: a,
        result: Err("no handler".into()),
    });
    c.on_message(conn, ms(1), &frame);
    assert_eq!(
        replies(&drain(&mut c)),
        vec![(a, Err(CbError::Error("no handler".into())))]
    );
}

#[test]
fn close_fails_pending_requests_with_closed() {
    let (mut c, conn) = open_ws();
    let a = c.request(ms(0), ev("a/x"), ms(1000)).expect("open");
    drain(&mut c);
    c.on_closed(conn, ms(5), TransportClosed::Error("reset".into()));
    let outs = drain(&mut c);
    assert_eq!(replies(&outs), vec![(a, Err(CbError::Closed))]);
    let st = c.state();
    assert!(!st.open && st.ever_opened);
    assert_eq!(st.last_close_reason(), Some(&CloseReason::WsError));
    assert_eq!(
        st.last_close.as_ref().and_then(|l| l.detail.as_deref()),
        Some("reset")
    );
    c.tick(ms(2000));
    assert!(replies(&drain(&mut c)).is_empty(), "no later timeout");
}

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
        assert!(drain(&mut c)
            .iter()
            .all(|o| !matches!(o, Output::Connect { .. })));
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
        .any(|o| matches!(o, Output::Close { conn: id } if *id == conn)));
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
fn server_close_frame_is_the_close_reason() {
    let (mut c, conn) = open_ws();
    let frame = enc(&Frame::Close {
        reason: "slow consumer".into(),
    });
    c.on_message(conn, ms(5), &frame);
    let outs = drain(&mut c);
    assert!(outs.iter().any(|o| matches!(o, Output::Close { .. })));
    assert_eq!(
        c.state().last_close_reason(),
        Some(&CloseReason::ServerClose("slow consumer".into()))
    );
}

#[test]
fn pushes_are_delivered_in_order() {
    let (mut c, conn) = open_ws();
    let batch = vec![ev("a/1"), ev("a/2")];
    c.on_message(conn, ms(5), &enc(&Frame::Push(batch.clone())));
    c.on_message(conn, ms(6), &[0xff, 0xff, 0xff]); // garbage: logged, ignored
    c.on_message(conn, ms(7), &enc(&Frame::Push(vec![ev("a/3")])));
    let pushes: Vec<_> = drain(&mut c)
        .into_iter()
        .filter_map(|o| match o {
            Output::Push(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(pushes, vec![batch, vec![ev("a/3")]]);
    assert!(c.state().open, "a bad frame does not close");
}

#[test]
fn auto_downgrades_to_ajax_when_ws_never_opened() {
    let mut c = core(TransportMode::Auto);
    c.start(ms(0));
    let (ws, t, _) = connected(&drain(&mut c));
    assert_eq!(t, Transport::Ws);
    c.on_closed(ws, ms(3), TransportClosed::Error("HTTP error: 400".into()));
    let outs = drain(&mut c);
    let (ajax, t, url) = connected(&outs);
    assert_eq!(t, Transport::Ajax);
    assert!(
        url.starts_with("http://h:1/chsk?") && url.ends_with("&handshake=1"),
        "{url}"
    );
    assert_eq!(
        c.state().last_close_reason(),
        Some(&CloseReason::DowngradingWsToAjax)
    );
    // The Ajax handshake opens the client, then it polls.
    c.on_poll(ajax, ms(5), Ok(&handshake("alice", true)));
    let outs = drain(&mut c);
    assert!(outs.iter().any(|o| matches!(o, Output::Poll { conn, url }
        if *conn == ajax && !url.contains("handshake"))));
    assert!(c.state().open);
    assert_eq!(c.state().transport, Some(Transport::Ajax));
    // Ajax losses reconnect with Ajax.
    c.on_poll(ajax, ms(6), Err(PollError::Failed("reset".into())));
    let (_, t, _) = connected(&drain(&mut c));
    assert_eq!(t, Transport::Ajax);
    assert_eq!(
        c.state().last_close_reason(),
        Some(&CloseReason::Unexpected)
    );
    // A requested reconnect tries the WebSocket again.
    c.reconnect(ms(10));
    let (_, t, _) = connected(&drain(&mut c));
    assert_eq!(t, Transport::Ws);
    assert_eq!(
        c.state().last_close_reason(),
        Some(&CloseReason::RequestedReconnect)
    );
}

#[test]
fn auto_keeps_ws_after_it_opened_once() {
    let mut c = core(TransportMode::Auto);
    c.start(ms(0));
    let (ws, _, _) = connected(&drain(&mut c));
    c.on_message(ws, ms(1), &handshake("u", true));
    c.on_closed(ws, ms(2), TransportClosed::Error("reset".into()));
    let (ws2, t, _) = connected(&drain(&mut c));
    assert_eq!(t, Transport::Ws);
    c.on_closed(ws2, ms(3), TransportClosed::Error("refused".into()));
    assert_eq!(c.state().last_close_reason(), Some(&CloseReason::WsError));
    assert!(c.state().next_reconnect.is_some());
}

#[test]
fn ajax_poll_timeout_repolls_and_poll_handshake_refreshes() {
    let mut c = core(TransportMode::Ajax);
    c.start(ms(0));
    let (conn, _, _) = connected(&drain(&mut c));
    c.on_poll(conn, ms(1), Ok(&handshake("u", true)));
    drain(&mut c);
    c.on_poll(conn, ms(2), Err(PollError::Timeout));
    assert!(matches!(drain(&mut c).as_slice(), [Output::Poll { .. }]));
    c.on_poll(conn, ms(3), Ok(&enc(&Frame::PollTimeout)));
    assert!(matches!(drain(&mut c).as_slice(), [Output::Poll { .. }]));
    // The server restarted: it answers a poll with a fresh handshake.
    c.on_poll(conn, ms(4), Ok(&handshake("u2", false)));
    let outs = drain(&mut c);
    assert!(states(&outs).iter().all(|s| !s.open_changed()));
    assert_eq!(c.state().uid.as_deref(), Some("u2"));
    assert!(c.state().open);
}

#[test]
fn ajax_send_failures_complete_requests() {
    let mut c = core(TransportMode::Ajax);
    c.start(ms(0));
    let (conn, _, _) = connected(&drain(&mut c));
    c.on_poll(conn, ms(1), Ok(&handshake("u", true)));
    drain(&mut c);
    let a = c.request(ms(2), ev("a/x"), ms(100)).expect("open");
    c.on_send_failed(conn, Some(a), CbError::Timeout);
    c.on_send_failed(conn, Some(a), CbError::Error("again".into()));
    assert_eq!(replies(&drain(&mut c)), vec![(a, Err(CbError::Timeout))]);
}

#[test]
fn connect_timeout_counts_as_a_failure() {
    let mut c = core(TransportMode::Auto);
    c.start(ms(0));
    let (ws, _, _) = connected(&drain(&mut c));
    c.on_open(ws, ms(1)); // opened, but no handshake ever comes (a hanging proxy)
    assert_eq!(c.next_deadline(), Some(ms(2000)));
    c.tick(ms(2000));
    let outs = drain(&mut c);
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Close { conn } if *conn == ws)));
    let (_, t, _) = connected(&outs);
    assert_eq!(t, Transport::Ajax, "a hanging WebSocket downgrades too");
}

#[test]
fn disconnect_stops_everything_until_reconnect() {
    let mut o = opts(TransportMode::Ws);
    o.send_buffer = Some(4);
    let mut c = ClientCore::new("http://h/chsk", o, 1);
    c.start(ms(0));
    let (conn, _, _) = connected(&drain(&mut c));
    c.on_message(conn, ms(0), &handshake("u", true));
    let a = c.request(ms(0), ev("a/x"), ms(100)).expect("open");
    drain(&mut c);
    c.disconnect(ms(1));
    let outs = drain(&mut c);
    assert!(outs.iter().any(|o| matches!(o, Output::Close { .. })));
    assert_eq!(replies(&outs), vec![(a, Err(CbError::Closed))]);
    assert!(states(&outs).iter().any(StateChange::closed));
    assert_eq!(
        c.state().last_close_reason(),
        Some(&CloseReason::RequestedDisconnect)
    );
    assert_eq!(
        c.send(ev("a/y")),
        Err(CbError::Closed),
        "no buffering after disconnect"
    );
    assert_eq!(c.next_deadline(), None);
    c.tick(ms(100_000));
    assert!(drain(&mut c).is_empty(), "no reconnect");
    c.reconnect(ms(100_001));
    connected(&drain(&mut c));
}
