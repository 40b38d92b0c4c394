//! What the server sends besides replies: pushes, errors, closes, and frames over the limit.

use super::*;
use crate::protocol::PushRun;

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
    c.on_message(
        conn,
        ms(5),
        &enc(&Frame::Push(vec![PushRun::volatile(batch.clone())])),
    );
    c.on_message(conn, ms(6), &[0xff, 0xff, 0xff]); // garbage: logged, ignored
    c.on_message(
        conn,
        ms(7),
        &enc(&Frame::Push(vec![PushRun::volatile(vec![ev("a/3")])])),
    );
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
fn frames_over_the_limit_close_with_a_typed_reason() {
    let mut o = opts(TransportMode::Ws);
    o.max_frame_bytes = 64;
    let (mut c, conn) = started(o);
    c.on_message(conn, ms(0), &handshake("u", true));
    drain(&mut c);
    let big = enc(&Frame::Push(vec![PushRun::volatile(vec![EventFrame {
        id: "a/big".into(),
        payload: Payload(vec![7; 100]),
    }])]));
    c.on_message(conn, ms(1), &big);
    let outs = drain(&mut c);
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Close { attempt: id } if *id == conn)));
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
