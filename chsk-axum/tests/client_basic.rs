//! The native client against a real server, over WebSocket and Ajax: handshake, send, typed
//! replies and timeouts, pushes (user, client, all, FIFO, batching, flush), sending while
//! closed without a send buffer, and the send buffer.

mod support;

use std::time::Duration;

use chsk::{
    client::{CloseReason, TransportMode},
    server::Timings,
    CbError, Transport,
};
use support::*;

fn mode(t: Transport) -> TransportMode {
    match t {
        Transport::Ws => TransportMode::Ws,
        Transport::Ajax => TransportMode::Ajax,
        other => unreachable!("not a client transport: {other}"),
    }
}

/// Runs an `async fn(Transport)` once per transport.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod ws {
            $(#[tokio::test]
            async fn $name() {
                super::$name(chsk::Transport::Ws).await
            })*
        }
        mod ajax {
            $(#[tokio::test]
            async fn $name() {
                super::$name(chsk::Transport::Ajax).await
            })*
        }
    };
}

both!(
    handshake_opens_the_client,
    send_reaches_the_handler,
    send_with_reply_is_typed,
    reply_timeout_then_late_reply_ignored,
    push_to_one_client_only,
    broadcast_reaches_every_user,
    thousand_pushes_arrive_in_order,
    batches_are_visible_and_flush_sends_at_once,
    send_while_closed_fails_with_closed,
    send_buffer_flushes_after_connecting,
    json_codec_and_typed_handshake_data,
);

async fn handshake_opens_the_client(t: Transport) {
    let (_server, _state, running) = start().await;
    let client = TestClient::connect(&running.url(), opts(mode(t), "alice"));
    let mut changes = client.state_changes();
    client.wait_open(WAIT).await.expect("opens");
    let st = client.state();
    assert!(st.open && st.ever_opened && st.first_open && st.first_handshake);
    assert_eq!(st.uid.as_deref(), Some("alice"));
    assert_eq!(st.transport, Some(t));
    assert_eq!(st.client_id.len(), 22);
    assert!(st.client_id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(st.handshake_data::<()>(), None);
    // The "ready" event, as Sente's `:first-open?`.
    loop {
        let change = changes.recv().await.expect("a state change");
        if change.opened() {
            assert!(change.first_open());
            break;
        }
    }
}

async fn send_reaches_the_handler(t: Transport) {
    let (_server, state, running) = start().await;
    let client = open(&running.url(), opts(mode(t), "alice")).await;
    client.send(CEvent::Note("hi".into())).expect("sent");
    client
        .send(c_event::Note("again".into()))
        .expect("a variant struct works too");
    eventually(|| state.notes() == 2).await;
}

async fn send_with_reply_is_typed(t: Transport) {
    let (_server, _state, running) = start().await;
    let client = open(&running.url(), opts(mode(t), "alice")).await;
    let reply: String = ask_echo(&client, "hi").await.expect("a reply");
    assert_eq!(reply, "hi from alice");
    let ms: u64 = client
        .send_with_reply(c_event::Slow { ms: 1 }, WAIT)
        .await
        .expect("a reply");
    assert_eq!(ms, 1);
}

async fn reply_timeout_then_late_reply_ignored(t: Transport) {
    let (_server, _state, running) = start().await;
    let client = open(&running.url(), opts(mode(t), "alice")).await;
    let r = client
        .send_with_reply(c_event::Slow { ms: 600 }, Duration::from_millis(100))
        .await;
    assert_eq!(r, Err(CbError::Timeout));
    // The late reply arrives meanwhile and is ignored; the connection is still fine.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let reply = ask_echo(&client, "after").await;
    assert_eq!(reply.as_deref(), Ok("after from alice"));
    assert!(client.state().open);
}

#[tokio::test]
async fn push_to_a_user_reaches_all_three_of_its_clients() {
    let (server, _state, running) = start().await;
    let url = running.url();
    let a = open(&url, opts(TransportMode::Ws, "alice")).await;
    let b = open(&url, opts(TransportMode::Ws, "alice")).await;
    let c = open(&url, opts(TransportMode::Ajax, "alice")).await;
    let bob = open(&url, opts(TransportMode::Ws, "bob")).await;
    let (mut pa, mut pb, mut pc, mut pbob) = (a.pushes(), b.pushes(), c.pushes(), bob.pushes());
    assert_eq!(c.state().transport, Some(Transport::Ajax));
    let n = server
        .send_to_user("alice", CPush::Text("hello alice".into()))
        .expect("pushed");
    assert_eq!(n, 3, "three connections of alice");
    server.send_to_user("bob", CPush::Seq(1)).expect("pushed");
    for p in [&mut pa, &mut pb, &mut pc] {
        assert_eq!(next_pushes(p, 1).await, [CPush::Text("hello alice".into())]);
    }
    assert_eq!(
        next_pushes(&mut pbob, 1).await,
        [CPush::Seq(1)],
        "bob got only his"
    );
}

async fn push_to_one_client_only(t: Transport) {
    let (server, _state, running) = start().await;
    let url = running.url();
    let one = open(&url, opts(mode(t), "alice")).await;
    let other = open(&url, opts(mode(t), "alice")).await;
    let (mut p1, mut p2) = (one.pushes(), other.pushes());
    let id = one.state().client_id;
    assert_eq!(server.send_to_client(&id, CPush::Seq(1)), Ok(1));
    assert_eq!(next_pushes(&mut p1, 1).await, [CPush::Seq(1)]);
    // A marker to the whole user: the other client's first push is the marker.
    server.send_to_user("alice", CPush::Seq(2)).expect("pushed");
    assert_eq!(next_pushes(&mut p2, 1).await, [CPush::Seq(2)]);
    assert_eq!(next_pushes(&mut p1, 1).await, [CPush::Seq(2)]);
}

async fn broadcast_reaches_every_user(t: Transport) {
    let (server, _state, running) = start().await;
    let url = running.url();
    let a = open(&url, opts(mode(t), "alice")).await;
    let b = open(&url, opts(mode(t), "bob")).await;
    let (mut pa, mut pb) = (a.pushes(), b.pushes());
    server
        .send_to_all(CPush::Text("all".into()))
        .expect("pushed");
    assert_eq!(next_pushes(&mut pa, 1).await, [CPush::Text("all".into())]);
    assert_eq!(next_pushes(&mut pb, 1).await, [CPush::Text("all".into())]);
}

async fn thousand_pushes_arrive_in_order(t: Transport) {
    let (server, _state, running) = start().await;
    let client = open(&running.url(), opts(mode(t), "alice")).await;
    let mut pushes = client.pushes();
    for i in 0..1000 {
        server.send_to_user("alice", CPush::Seq(i)).expect("pushed");
        if i % 100 == 99 {
            tokio::task::yield_now().await;
        }
    }
    let got = next_pushes(&mut pushes, 1000).await;
    let want: Vec<_> = (0..1000).map(CPush::Seq).collect();
    assert_eq!(got, want);
}

async fn batches_are_visible_and_flush_sends_at_once(t: Transport) {
    // Long batching windows: the first push goes out at once, the two made while it is being
    // written gather behind it until the write completes or an explicit flush (never the 30 s
    // window). Client and server share this single-threaded runtime, so the connection has not
    // written push 0 when pushes 1 and 2 are made.
    let state = State::default();
    let window = Duration::from_secs(30);
    let server = builder(state)
        .timings(Timings {
            send_buf_ws: window,
            send_buf_ajax: window,
            ..timings()
        })
        .build();
    let running = serve_app(app(&server), any_port()).await;
    let client = open(&running.url(), opts(mode(t), "alice")).await;
    let mut pushes = client.pushes();
    for i in 0..3 {
        server.send_to_user("alice", CPush::Seq(i)).expect("pushed");
    }
    server.flush();
    let mut batches = Vec::new();
    while batches.iter().map(Vec::len).sum::<usize>() < 3 {
        let batch = tokio::time::timeout(Duration::from_secs(10), pushes.recv_batch())
            .await
            .expect("sent long before the 30 s window")
            .expect("alive");
        batches.push(batch.into_iter().map(Result::unwrap).collect::<Vec<_>>());
    }
    let want: Vec<Vec<CPush>> = match t {
        // One frame at once, then one frame for the two gathered behind it.
        Transport::Ws => vec![vec![CPush::Seq(0)], vec![CPush::Seq(1), CPush::Seq(2)]],
        // The poll answers everything queued by the time it runs as one `Push`.
        Transport::Ajax => vec![vec![CPush::Seq(0), CPush::Seq(1), CPush::Seq(2)]],
        other => unreachable!("not a client transport: {other}"),
    };
    assert_eq!(batches, want, "batches as sent");
}

async fn send_while_closed_fails_with_closed(t: Transport) {
    // Nothing listens there: the client never opens. Without a send buffer (Sente's way),
    // sending fails at once.
    let addr = free_addr().await;
    let options = chsk::client::ClientOptions {
        send_buffer: None,
        ..opts(mode(t), "alice")
    };
    let client = TestClient::connect(&format!("http://{addr}/chsk"), options);
    assert_eq!(client.send(CEvent::Note("x".into())), Err(CbError::Closed));
    let r = ask_echo(&client, "x").await;
    assert_eq!(r, Err(CbError::Closed));

    // And after a requested disconnect.
    let (_server, _state, running) = start().await;
    let client = open(&running.url(), opts(mode(t), "alice")).await;
    client.disconnect();
    assert_eq!(client.send(CEvent::Note("x".into())), Err(CbError::Closed));
    let st = client.state();
    assert!(!st.open);
    assert_eq!(
        st.last_close_reason(),
        Some(&CloseReason::RequestedDisconnect)
    );
    // `reconnect` resumes.
    client.reconnect();
    client.wait_open(WAIT).await.expect("open again");
    assert_eq!(client.send(CEvent::Note("x".into())), Ok(()));
}

async fn send_buffer_flushes_after_connecting(t: Transport) {
    let addr = free_addr().await;
    let options = chsk::client::ClientOptions {
        send_buffer: Some(8),
        ..opts(mode(t), "alice")
    };
    let client = TestClient::connect(&format!("http://{addr}/chsk"), options);
    // The server is not there yet: these wait in the buffer.
    client
        .send(CEvent::Note("buffered".into()))
        .expect("buffered");
    let asking = client.clone();
    let reply = tokio::spawn(async move { ask_echo(&asking, "early").await });
    // An attempt failed while the server was down.
    eventually(|| {
        client.metrics().connect_attempts >= 1 && client.state().last_close_reason().is_some()
    })
    .await;
    assert!(!client.state().open);
    let (_server, state, _running) = start_on(addr).await;
    assert_eq!(
        reply.await.expect("joined").as_deref(),
        Ok("early from alice")
    );
    eventually(|| state.notes() == 1).await;
}

async fn json_codec_and_typed_handshake_data(t: Transport) {
    let server = builder(State::default())
        .codec(chsk::Codec::Json)
        .handshake_data(|_req, uid| uid.map(|u| (u.to_uppercase(), 42u32)))
        .build();
    let running = serve_app(app(&server), any_port()).await;
    let options = chsk::client::ClientOptions {
        codec: chsk::Codec::Json,
        ..opts(mode(t), "alice")
    };
    let client = open(&running.url(), options).await;
    let data = client.state().handshake_data::<(String, u32)>();
    assert_eq!(data, Some(Ok(("ALICE".to_string(), 42))));
    let mut pushes = client.pushes();
    let reply = ask_echo(&client, "json").await;
    assert_eq!(reply.as_deref(), Ok("json from alice"));
    server.send_to_user("alice", CPush::Seq(5)).expect("pushed");
    assert_eq!(next_pushes(&mut pushes, 1).await, [CPush::Seq(5)]);
}
