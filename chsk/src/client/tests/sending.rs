//! Sending: the send buffer, requests and their replies (once, timeouts, late replies, closes).

use super::*;

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
    let (mut c, conn) = started(o);
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
fn send_before_the_first_handshake_is_buffered_by_default() {
    let (mut c, conn) = start(TransportMode::Ws);
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
fn buffered_request_that_timed_out_is_not_sent() {
    let mut o = opts(TransportMode::Ws);
    o.send_buffer = Some(3);
    let (mut c, conn) = started(o);
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
        result: Err(ReplyError::new(ReplyErrorKind::UnknownEvent, "no handler")),
    });
    c.on_message(conn, ms(1), &frame);
    assert_eq!(
        replies(&drain(&mut c)),
        vec![(
            a,
            Err(CbError::UnknownEvent {
                message: "no handler".into()
            })
        )]
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

/// At most once: a call handed to a connection that dies is never sent again, on either
/// transport; only calls never handed to a connection (buffered while not open) go out after
/// the reconnect, once.
#[test]
fn a_frame_sent_on_a_connection_that_dies_is_not_sent_again() {
    for mode in [TransportMode::Ws, TransportMode::Ajax] {
        let (mut c, conn) = start(mode);
        let buffered = c.send(ev("a/early")).map(|()| Frame::Event(ev("a/early")));
        // A frame from the server: a WebSocket message, or the answer to the pending `GET`.
        let receive = |c: &mut ClientCore, attempt, now, bytes: &[u8]| match mode {
            TransportMode::Ws => c.on_message(attempt, now, bytes),
            _ => c.on_poll(attempt, now, Ok(bytes)),
        };
        receive(&mut c, conn, ms(1), &handshake("u", true));
        let outs = drain(&mut c);
        assert_eq!(sent(&outs), vec![buffered.expect("buffered")], "{mode:?}");
        c.send(ev("a/event")).expect("open");
        let rid = c.request(ms(1), ev("a/request"), ms(10_000)).expect("open");
        let on_the_wire = sent(&drain(&mut c));
        assert_eq!(on_the_wire.len(), 2, "{mode:?}");
        // The connection dies before any answer.
        match mode {
            TransportMode::Ws => c.on_closed(conn, ms(2), TransportClosed::Error("reset".into())),
            _ => c.on_poll(conn, ms(2), Err(PollError::Failed("reset".into()))),
        }
        let outs = drain(&mut c);
        assert_eq!(
            replies(&outs),
            vec![(rid, Err(CbError::Closed))],
            "{mode:?}"
        );
        let (next, _, _) = connected(&outs);
        // A call while reconnecting waits in the buffer.
        c.send(ev("a/later")).expect("buffered");
        receive(&mut c, next, ms(3), &handshake("u", false));
        let resent = sent(&drain(&mut c));
        assert_eq!(resent, vec![Frame::Event(ev("a/later"))], "{mode:?}");
        // A late reply to the first request changes nothing.
        let late = enc(&Frame::Reply {
            reply_id: rid,
            result: Ok(Payload(vec![])),
        });
        receive(&mut c, next, ms(4), &late);
        assert!(replies(&drain(&mut c)).is_empty(), "{mode:?}");
    }
}
