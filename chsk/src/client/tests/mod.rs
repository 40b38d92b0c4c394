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
    let mut o = opts(TransportMode::Ws);
    o.send_buffer = None;
    let mut c = ClientCore::new("http://h/chsk", o, 1);
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

// ---- refusals, credentials, probe, server errors, frame limit ---------------------------------

fn refused(status: u16, body: &str) -> HttpResponse {
    HttpResponse::new(status, body.as_bytes().to_vec())
}

fn credential_requests(outs: &[Output]) -> Vec<(ConnId, CredentialsRequest)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Credentials { conn, request } => Some((*conn, request.clone())),
            _ => None,
        })
        .collect()
}

fn server_errors(outs: &[Output]) -> Vec<ServerError> {
    outs.iter()
        .filter_map(|o| match o {
            Output::ServerError(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_refusal_is_the_same_typed_reason_on_ws_and_ajax() {
    let want = CloseReason::Refused(Refusal::new(403, "bad CSRF token"));
    // WebSocket: the upgrade was answered with the status (native).
    let mut ws = core(TransportMode::Ws);
    ws.start(ms(0));
    let (conn, _, _) = connected(&drain(&mut ws));
    ws.on_connect_failed(
        conn,
        ms(1),
        WsOpenError::Refused(refused(403, "bad CSRF token\n")),
    );
    assert_eq!(ws.state().last_close_reason(), Some(&want));
    // Ajax: the handshake GET was answered with the status.
    let mut ajax = core(TransportMode::Ajax);
    ajax.start(ms(0));
    let (conn, _, _) = connected(&drain(&mut ajax));
    let refusal = refused(403, "bad CSRF token").refusal();
    ajax.on_poll(conn, ms(1), Err(PollError::Refused(refusal)));
    assert_eq!(ajax.state().last_close_reason(), Some(&want));
    // Browser WebSocket: unexplained failure, then the probe learns the status.
    let mut web = core(TransportMode::Ws);
    web.start(ms(0));
    let (conn, _, _) = connected(&drain(&mut web));
    web.on_connect_failed(conn, ms(1), WsOpenError::Unexplained("code 1006".into()));
    let outs = drain(&mut web);
    let probe_url = outs
        .iter()
        .find_map(|o| match o {
            Output::Probe { conn: c, url } if *c == conn => Some(url.clone()),
            _ => None,
        })
        .expect("a probe");
    assert!(probe_url.starts_with("http://h:1/chsk?") && probe_url.ends_with("handshake=1"));
    web.on_probe(conn, ms(2), Ok(refused(403, "bad CSRF token")));
    assert_eq!(web.state().last_close_reason(), Some(&want));
    for c in [&ws, &ajax, &web] {
        assert!(c.state().stopped, "403 without a provider: stopped");
        assert_eq!(c.state().next_reconnect, None);
    }
}

#[test]
fn a_non_retryable_refusal_without_provider_stops_and_empties_the_buffer() {
    let mut c = core(TransportMode::Ws);
    c.start(ms(0));
    let (conn, _, _) = connected(&drain(&mut c));
    c.send(ev("a/one")).expect("buffered by default");
    let rid = c.request(ms(0), ev("a/two"), ms(5000)).expect("buffered");
    c.on_connect_failed(
        conn,
        ms(1),
        WsOpenError::Refused(refused(401, "unauthorized")),
    );
    let outs = drain(&mut c);
    assert_eq!(replies(&outs), vec![(rid, Err(CbError::Closed))]);
    assert!(!outs.iter().any(|o| matches!(o, Output::Connect { .. })));
    assert_eq!(c.metrics().sends_dropped, 1);
    assert_eq!(c.send(ev("a/x")), Err(CbError::Closed), "stopped");
    assert_eq!(c.next_deadline(), None, "nothing scheduled");
    c.tick(ms(1_000_000));
    assert!(drain(&mut c).is_empty(), "no retry");
    assert_eq!(c.metrics().connect_attempts, 1);
    // `reconnect` resumes.
    c.reconnect(ms(1_000_001));
    connected(&drain(&mut c));
    assert!(!c.state().stopped);
}

#[test]
fn retryable_refusals_back_off_and_honour_retry_after() {
    let mut c = core(TransportMode::Ajax);
    c.start(ms(0));
    let (conn, _, _) = connected(&drain(&mut c));
    let mut busy = refused(503, "restarting").refusal();
    busy.retry_after = Some(Duration::from_secs(3));
    c.on_poll(conn, ms(10), Err(PollError::Refused(busy)));
    assert!(!c.state().stopped);
    assert_eq!(c.state().next_reconnect, Some(ms(3010)));
    c.tick(ms(3009));
    assert!(!drain(&mut c)
        .iter()
        .any(|o| matches!(o, Output::Connect { .. })));
    c.tick(ms(3010));
    let (conn, _, _) = connected(&drain(&mut c));
    // 429 without Retry-After: at least the backoff base (not immediate).
    c.on_poll(
        conn,
        ms(4000),
        Err(PollError::Refused(Refusal::new(429, "too many"))),
    );
    let at = c.state().next_reconnect.expect("scheduled");
    assert!(at >= ms(4100), "{at:?}");
}

#[test]
fn the_provider_is_asked_before_every_attempt_and_gets_the_refusal() {
    let mut o = opts(TransportMode::Ws);
    o.csrf_token = Some("old".into());
    let mut c = ClientCore::new("http://h/chsk", o, 1);
    c.use_credentials_provider();
    c.start(ms(0));
    let outs = drain(&mut c);
    let [(conn, ref req)] = credential_requests(&outs)[..] else {
        panic!("one credentials request: {outs:?}");
    };
    assert_eq!(req.refusal, None);
    assert_eq!(req.current.csrf_token.as_deref(), Some("old"));
    assert!(!outs.iter().any(|o| matches!(o, Output::Connect { .. })));
    c.on_credentials(conn, ms(1), Some(req.current.clone()));
    let (conn, _, url) = connected(&drain(&mut c));
    assert!(url.contains("csrf-token=old"), "{url}");
    // Refused: the next attempt (immediate, retry 1) asks with the refusal.
    c.on_connect_failed(
        conn,
        ms(2),
        WsOpenError::Refused(refused(403, "bad CSRF token")),
    );
    assert!(!c.state().stopped, "a provider may fix it");
    let outs = drain(&mut c);
    let [(conn, ref req)] = credential_requests(&outs)[..] else {
        panic!("asked again: {outs:?}");
    };
    assert_eq!(req.refusal, Some(Refusal::new(403, "bad CSRF token")));
    let mut fresh = Credentials::csrf("new");
    fresh.params.push(("auth".into(), "x".into()));
    c.on_credentials(conn, ms(3), Some(fresh));
    let (conn, _, url) = connected(&drain(&mut c));
    assert!(url.contains("csrf-token=new&auth=x"), "{url}");
    c.on_message(conn, ms(4), &handshake("u", true));
    assert!(c.state().open);
    // Lost: the next attempt asks without a refusal.
    c.on_closed(conn, ms(5), TransportClosed::Error("reset".into()));
    let outs = drain(&mut c);
    let [(conn, ref req)] = credential_requests(&outs)[..] else {
        panic!("asked again: {outs:?}");
    };
    assert_eq!(req.refusal, None);
    assert_eq!(req.current.csrf_token.as_deref(), Some("new"));
    // The provider gives up: stopped, no retry.
    c.on_credentials(conn, ms(6), None);
    assert!(c.state().stopped);
    c.tick(ms(100_000));
    assert!(!drain(&mut c)
        .iter()
        .any(|o| matches!(o, Output::Connect { .. } | Output::Credentials { .. })));
}

#[test]
fn a_provider_returning_stale_credentials_still_backs_off() {
    let mut c = core(TransportMode::Ws);
    c.use_credentials_provider();
    c.start(ms(0));
    let mut now = ms(0);
    let mut delays = Vec::new();
    for _ in 0..5 {
        let outs = drain(&mut c);
        let (conn, req) = credential_requests(&outs).pop().expect("asked");
        c.on_credentials(conn, now, Some(req.current));
        let (conn, _, _) = connected(&drain(&mut c));
        c.on_connect_failed(conn, now, WsOpenError::Refused(refused(403, "bad")));
        match c.state().next_reconnect {
            Some(at) => {
                delays.push((at - now).as_millis());
                c.tick(at);
                now = at;
            }
            None => delays.push(0),
        }
    }
    assert_eq!(delays, vec![0, 100, 200, 400, 400]);
}

#[test]
fn auto_falls_back_on_an_unexplained_ws_failure_without_probing() {
    let mut c = core(TransportMode::Auto);
    c.start(ms(0));
    let (ws, _, _) = connected(&drain(&mut c));
    c.on_connect_failed(ws, ms(1), WsOpenError::Unexplained("code 1006".into()));
    let outs = drain(&mut c);
    assert!(!outs.iter().any(|o| matches!(o, Output::Probe { .. })));
    let (ajax, t, _) = connected(&outs);
    assert_eq!(t, Transport::Ajax);
    // The Ajax handshake is refused too: the typed refusal, then stopped.
    c.on_poll(
        ajax,
        ms(2),
        Err(PollError::Refused(Refusal::new(403, "bad CSRF token"))),
    );
    assert_eq!(
        c.state().refusal(),
        Some(&Refusal::new(403, "bad CSRF token"))
    );
    assert!(c.state().stopped);
}

#[test]
fn an_accepted_probe_leaves_a_plain_ws_error() {
    let mut c = core(TransportMode::Ws);
    c.start(ms(0));
    let (ws, _, _) = connected(&drain(&mut c));
    c.on_connect_failed(ws, ms(1), WsOpenError::Unexplained("code 1006".into()));
    drain(&mut c);
    c.on_probe(ws, ms(2), Ok(HttpResponse::new(200, vec![])));
    assert_eq!(c.state().last_close_reason(), Some(&CloseReason::WsError));
    assert!(!c.state().stopped);
    connected(&drain(&mut c)); // retry 1 is immediate
}

#[test]
fn server_error_frames_reach_the_app() {
    let (mut c, conn) = open_ws();
    let frame = enc(&Frame::Error {
        message: "unknown event id `x/y`".into(),
    });
    c.on_message(conn, ms(1), &frame);
    let errors = server_errors(&drain(&mut c));
    assert_eq!(
        errors,
        vec![ServerError {
            message: "unknown event id `x/y`".into(),
            status: None
        }]
    );
    assert!(c.state().open, "not a close");
    assert_eq!(c.metrics().server_errors, 1);
}

#[test]
fn ajax_post_answers_errors_and_refusals() {
    let mut c = core(TransportMode::Ajax);
    c.start(ms(0));
    let (conn, _, _) = connected(&drain(&mut c));
    c.on_poll(conn, ms(1), Ok(&handshake("u", true)));
    drain(&mut c);
    let a = c.request(ms(2), ev("a/x"), ms(1000)).expect("open");
    drain(&mut c);
    c.on_posted(
        conn,
        ms(3),
        Some(a),
        Ok(refused(400, "malformed frame: bad")),
    );
    let outs = drain(&mut c);
    assert_eq!(
        server_errors(&outs),
        vec![ServerError {
            message: "malformed frame: bad".into(),
            status: Some(400)
        }]
    );
    assert_eq!(
        replies(&outs),
        vec![(
            a,
            Err(CbError::Error("HTTP 400: malformed frame: bad".into()))
        )]
    );
    assert!(c.state().open, "a 400 does not close");
    c.on_posted(
        conn,
        ms(4),
        None,
        Ok(refused(400, "unknown event id `x/y`")),
    );
    assert_eq!(server_errors(&drain(&mut c)).len(), 1);
    // A 403 on a POST: the credentials are stale, the connection is refused.
    c.on_posted(conn, ms(5), None, Ok(refused(403, "bad CSRF token")));
    assert_eq!(
        c.state().refusal(),
        Some(&Refusal::new(403, "bad CSRF token"))
    );
    assert!(!c.state().open);
}

#[test]
fn frames_over_the_limit_close_with_a_typed_reason() {
    let mut o = opts(TransportMode::Ws);
    o.max_frame_bytes = 64;
    let mut c = ClientCore::new("http://h/chsk", o, 1);
    c.start(ms(0));
    let (conn, _, _) = connected(&drain(&mut c));
    c.on_message(conn, ms(0), &handshake("u", true));
    drain(&mut c);
    let big = enc(&Frame::Push(vec![EventFrame {
        id: "a/big".into(),
        payload: Payload(vec![7; 100]),
    }]));
    c.on_message(conn, ms(1), &big);
    let outs = drain(&mut c);
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Close { conn: id } if *id == conn)));
    assert!(!outs.iter().any(|o| matches!(o, Output::Push(_))));
    assert_eq!(
        c.state().last_close_reason(),
        Some(&CloseReason::FrameTooLarge {
            size: big.len(),
            max: 64
        })
    );
    // The native reader reports it as a transport close.
    let (conn, _, _) = connected(&outs);
    c.on_closed(
        conn,
        ms(2),
        TransportClosed::FrameTooLarge { size: 500, max: 64 },
    );
    assert_eq!(
        c.state().last_close_reason(),
        Some(&CloseReason::FrameTooLarge { size: 500, max: 64 })
    );
}

#[test]
fn send_before_the_first_handshake_is_buffered_by_default() {
    let mut c = core(TransportMode::Ws);
    c.start(ms(0));
    let (conn, _, _) = connected(&drain(&mut c));
    for i in 0..DEFAULT_SEND_BUFFER {
        let id = if i == 0 { "a/first" } else { "a/next" };
        c.send(ev(id)).expect("buffered");
    }
    assert_eq!(c.send(ev("a/over")), Err(CbError::Closed), "bounded");
    c.on_message(conn, ms(1), &handshake("u", true));
    let frames = sent(&drain(&mut c));
    assert_eq!(frames.len(), DEFAULT_SEND_BUFFER);
    assert_eq!(frames[0], Frame::Event(ev("a/first")));
}

#[test]
fn a_refusal_body_is_trimmed_and_bounded() {
    assert_eq!(
        Refusal::new(403, "  bad CSRF token\n").body,
        "bad CSRF token"
    );
    let page = "é".repeat(Refusal::MAX_BODY);
    let r = Refusal::new(502, page);
    assert!(r.body.len() <= Refusal::MAX_BODY && r.body.len() >= Refusal::MAX_BODY - 1);
    assert!(r.body.chars().all(|c| c == 'é'));
}
