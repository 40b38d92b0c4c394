//! Refusals: the typed reason on every transport, retries, the credentials provider, the probe.

use super::*;

#[test]
fn a_refusal_is_the_same_typed_reason_on_ws_and_ajax() {
    let want = CloseReason::Refused(Refusal::new(403, "bad CSRF token"));
    // WebSocket: the upgrade was answered with the status (native).
    let (mut ws, conn) = start(TransportMode::Ws);
    ws.on_connect_failed(
        conn,
        ms(1),
        WsOpenError::Refused(refused(403, "bad CSRF token\n")),
    );
    assert_eq!(ws.state().last_close_reason(), Some(&want));
    // Ajax: the handshake GET was answered with the status.
    let (mut ajax, conn) = start(TransportMode::Ajax);
    let refusal = refused(403, "bad CSRF token").refusal();
    ajax.on_poll(conn, ms(1), Err(PollError::Refused(refusal)));
    assert_eq!(ajax.state().last_close_reason(), Some(&want));
    // Browser WebSocket: unexplained failure, then the probe learns the status.
    let (mut web, conn) = start(TransportMode::Ws);
    web.on_connect_failed(conn, ms(1), WsOpenError::Unexplained("code 1006".into()));
    let outs = drain(&mut web);
    let probe_url = outs
        .iter()
        .find_map(|o| match o {
            Output::Probe { attempt: c, url } if *c == conn => Some(url.clone()),
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
    let (mut c, conn) = start(TransportMode::Ws);
    c.send(ev("a/one")).expect("buffered by default");
    let rid = c.request(ms(0), ev("a/two"), ms(5000)).expect("buffered");
    c.on_connect_failed(
        conn,
        ms(1),
        WsOpenError::Refused(refused(401, "unauthorized")),
    );
    let outs = drain(&mut c);
    assert_eq!(replies(&outs), vec![(rid, Err(CbError::Closed))]);
    assert!(!connects(&outs));
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
    let (mut c, conn) = start(TransportMode::Ajax);
    let mut busy = refused(503, "restarting").refusal();
    busy.retry_after = Some(Duration::from_secs(3));
    c.on_poll(conn, ms(10), Err(PollError::Refused(busy)));
    assert!(!c.state().stopped);
    assert_eq!(c.state().next_reconnect, Some(ms(3010)));
    c.tick(ms(3009));
    assert!(!connects(&drain(&mut c)));
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
    assert!(!connects(&outs));
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
    let (mut c, ws) = start(TransportMode::Auto);
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
    let (mut c, ws) = start(TransportMode::Ws);
    c.on_connect_failed(ws, ms(1), WsOpenError::Unexplained("code 1006".into()));
    drain(&mut c);
    c.on_probe(ws, ms(2), Ok(HttpAnswer::new(200, vec![])));
    assert_eq!(c.state().last_close_reason(), Some(&CloseReason::WsError));
    assert!(!c.state().stopped);
    connected(&drain(&mut c)); // retry 1 is immediate
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
