//! Ajax and `Auto`: the fallback to Ajax, long-polls, and the answers to Ajax `POST`s.

use super::*;

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
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Poll { attempt: conn, url }
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
    let (mut c, ws) = start(TransportMode::Auto);
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
    let (mut c, conn) = open_ajax();
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
    let (mut c, conn) = open_ajax();
    let a = c.request(ms(2), ev("a/x"), ms(100)).expect("open");
    c.on_send_failed(conn, Some(a), CbError::Timeout);
    c.on_send_failed(conn, Some(a), CbError::refused(429, "again"));
    assert_eq!(replies(&drain(&mut c)), vec![(a, Err(CbError::Timeout))]);
}

#[test]
fn ajax_post_answers_errors_and_refusals() {
    let (mut c, conn) = open_ajax();
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
            Err(CbError::Refused {
                status: Some(400),
                message: "malformed frame: bad".into()
            })
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
