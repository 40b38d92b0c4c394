//! Connecting: URLs, the client id, the handshake, disconnect and reconnect on request.

use super::*;

#[test]
fn urls_carry_the_client_id_version_codec_token_and_params() {
    let mut o = opts(TransportMode::Ws);
    o.csrf_token = Some("t k".into());
    o.params = vec![("room".into(), "a&b".into())];
    let mut c = ClientCore::new("https://h/chsk/", o, 1);
    c.start(ms(0));
    let (_, transport, url) = connected(&drain(&mut c));
    assert_eq!(transport, Transport::Ws);
    assert_eq!(
        url,
        "wss://h/chsk?client-id=c1&v=2&codec=postcard&csrf-token=t%20k&room=a%26b"
    );
    assert_eq!(
        c.ajax_url(),
        "https://h/chsk?client-id=c1&v=2&codec=postcard&csrf-token=t%20k&room=a%26b"
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
    let (mut c, conn) = start(TransportMode::Ws);
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
fn disconnect_stops_everything_until_reconnect() {
    let mut o = opts(TransportMode::Ws);
    o.send_buffer = Some(4);
    let (mut c, conn) = started(o);
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
