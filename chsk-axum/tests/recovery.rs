//! Recovery over a faulty network (issue 11): clients reach the server through a TCP proxy
//! that cuts and stalls their connections while the server pushes. Every push reaches every
//! client exactly once and in order, on WebSocket and on Ajax; a client away for longer than
//! the history keeps is told `NotRecovered` and gets none of the missed pushes (never a partial
//! replay); a server restart behind the proxy is `NotRecovered` too.

#![allow(clippy::unwrap_used)] // a poisoned lock or an impossible conversion: the test fails

mod support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use chsk::{
    client::{Recovery, TransportMode},
    server::HistoryOptions,
    Server,
};
use support::{proxy::Proxy, *};

/// What one client's pushes stream gave the app.
#[derive(Default)]
struct Received {
    all: Vec<u32>,
    mine: Vec<u32>,
    errors: Vec<String>,
}

/// Reads `client`'s pushes into a shared [`Received`].
fn collect(client: &TestClient) -> Arc<Mutex<Received>> {
    let received = Arc::new(Mutex::new(Received::default()));
    let sink = received.clone();
    let mut pushes = client.pushes();
    tokio::spawn(async move {
        while let Some(item) = pushes.recv().await {
            let mut r = sink.lock().unwrap();
            match item {
                Ok(CPush::Seq(i)) => r.all.push(i),
                Ok(CPush::Text(t)) => r.mine.push(t.parse().expect("a number")),
                Err(e) => r.errors.push(e.to_string()),
            }
        }
    });
    received
}

/// A server (history on, its defaults) and a proxy in front of it.
async fn behind_proxy(history: HistoryOptions) -> (Server, Running, Proxy) {
    let server = builder(State::default()).history(history).build();
    let running = serve_app(app(&server), any_port()).await;
    let proxy = Proxy::start(running.addr);
    (server, running, proxy)
}

/// `clients` clients (half WebSocket, half Ajax; user `u<k>` each) through a proxy that cuts
/// every connection or stalls them all, in turns, while the server pushes `rounds` events to
/// everyone and one to one user per round. Afterwards each client has every push once, in
/// order, and no reconnection was told to reload (each WebSocket recovered at least once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_and_stalls_lose_no_push_on_either_transport() {
    const CLIENTS: usize = 100;
    const ROUNDS: u32 = 400;
    let (server, _running, proxy) = behind_proxy(HistoryOptions::default()).await;
    let mut clients = Vec::new();
    for k in 0..CLIENTS {
        let mode = if k % 2 == 0 {
            TransportMode::Ws
        } else {
            TransportMode::Ajax
        };
        let client = open(&proxy.url(), opts(mode, &format!("u{k}"))).await;
        let received = collect(&client);
        clients.push((client, received));
    }

    let chaos = {
        let proxy = Arc::new(proxy);
        let p = proxy.clone();
        let task = tokio::spawn(async move {
            let mut turn = 0u32;
            loop {
                tokio::time::sleep(Duration::from_millis(150)).await;
                if turn % 2 == 0 {
                    p.cut_all();
                } else {
                    p.stall(true);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    p.stall(false);
                }
                turn += 1;
            }
        });
        (proxy, task)
    };

    let users = u32::try_from(CLIENTS).unwrap();
    for i in 0..ROUNDS {
        server.send_to_all(CPush::Seq(i)).expect("pushed");
        let user = format!("u{}", i % users);
        server
            .send_to_user(&user, CPush::Text(i.to_string()))
            .expect("pushed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (proxy, task) = chaos;
    task.abort();
    proxy.stall(false);
    let stats = proxy.stats();
    assert!(stats.cut >= CLIENTS, "the proxy cut connections: {stats:?}");

    let expected_all: Vec<u32> = (0..ROUNDS).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for (k, (client, received)) in clients.iter().enumerate() {
        let k = u32::try_from(k).unwrap();
        let expected_mine: Vec<u32> = (0..ROUNDS).filter(|i| i % users == k).collect();
        loop {
            {
                let r = received.lock().unwrap();
                let done = r.all.len() >= expected_all.len() && r.mine.len() >= expected_mine.len();
                if done || tokio::time::Instant::now() > deadline {
                    assert_eq!(r.errors, Vec::<String>::new(), "client u{k}");
                    assert_eq!(r.all, expected_all, "client u{k}: pushes to all");
                    assert_eq!(r.mine, expected_mine, "client u{k}: pushes to its user");
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let m = client.metrics();
        assert_eq!(m.not_recovered, 0, "client u{k}");
        assert_eq!(
            m.push_gaps, 0,
            "client u{k}: the server never skips a position"
        );
        if k % 2 == 0 {
            // A cut WebSocket always opens a new connection: its handshake recovered.
            assert_eq!(client.state().recovery, Recovery::Recovered, "client u{k}");
            assert!(m.recoveries >= 1, "client u{k}: {m:?}");
        } else {
            // An Ajax client may never have needed a new handshake: the server kept its state
            // through the cuts (within `ajax_grace`) and its polls went on with their cursor,
            // the lost answers sent again. Either way nothing was lost (above).
            assert_ne!(
                client.state().recovery,
                Recovery::NotRecovered,
                "client u{k}"
            );
        }
    }
    let m = server.metrics();
    eprintln!(
        "proxy {stats:?}; server: {} recoveries, {} replayed, {} Ajax answers resent",
        m.recoveries, m.pushes_replayed, m.pushes_resent
    );
    assert!(m.recoveries >= CLIENTS as u64 / 2, "{m:?}");
    assert_eq!(m.recoveries_failed, 0, "{m:?}");
    assert!(m.pushes_replayed > 0, "{m:?}");
}

/// A client away while fewer pushes than the history keeps were made is recovered with exactly
/// those; away while more were made, it is told `NotRecovered` and none of them is replayed.
async fn away_within_then_beyond_the_window(mode: TransportMode) {
    let (server, _running, proxy) = behind_proxy(HistoryOptions::default().max_count(5)).await;
    let client = open(&proxy.url(), opts(mode, "alice")).await;
    let mut pushes = client.pushes();
    server.send_to_user("alice", CPush::Seq(0)).expect("pushed");
    assert_eq!(next_pushes(&mut pushes, 1).await, [CPush::Seq(0)]);

    let away = |n: std::ops::Range<u32>| {
        let (server, proxy) = (&server, &proxy);
        async move {
            proxy.refuse(true);
            proxy.cut_all();
            // Gone from the server (an Ajax client once its grace period is over): the pushes
            // below can only reach it through the history.
            eventually(|| !server.connected_uids().any.contains("alice")).await;
            for i in n {
                server.send_to_user("alice", CPush::Seq(i)).expect("pushed");
            }
            proxy.refuse(false);
        }
    };

    // Within the window (3 ≤ 5): every missed push, in order, then the live ones.
    away(1..4).await;
    client.wait_open(WAIT).await.expect("back");
    assert_eq!(
        next_pushes(&mut pushes, 3).await,
        [CPush::Seq(1), CPush::Seq(2), CPush::Seq(3)],
        "{mode:?}"
    );
    assert_eq!(client.state().recovery, Recovery::Recovered, "{mode:?}");
    server.send_to_user("alice", CPush::Seq(4)).expect("pushed");
    assert_eq!(next_pushes(&mut pushes, 1).await, [CPush::Seq(4)]);

    // Beyond it (20 > 5): nothing of the 20, the app told to reload, then the live pushes.
    away(100..120).await;
    client.wait_open(WAIT).await.expect("back");
    next_is_not_recovered(&mut pushes).await;
    assert_eq!(client.state().recovery, Recovery::NotRecovered, "{mode:?}");
    server
        .send_to_user("alice", CPush::Seq(200))
        .expect("pushed");
    assert_eq!(
        next_pushes(&mut pushes, 1).await,
        [CPush::Seq(200)],
        "{mode:?}: no partial replay before the live push"
    );
    let m = client.metrics();
    assert_eq!((m.recoveries, m.not_recovered), (1, 1), "{mode:?}");
    let m = server.metrics();
    assert_eq!((m.recoveries, m.recoveries_failed), (1, 1), "{mode:?}");
    assert_eq!(m.pushes_replayed, 3, "{mode:?}");
}

#[tokio::test]
async fn ws_away_within_then_beyond_the_window() {
    away_within_then_beyond_the_window(TransportMode::Ws).await;
}

#[tokio::test]
async fn ajax_away_within_then_beyond_the_window() {
    away_within_then_beyond_the_window(TransportMode::Ajax).await;
}

/// The proxy sends new connections to a new server process (in-memory history: the old one's
/// streams are gone). Both transports reconnect to it and are told `NotRecovered`, before the
/// new server's pushes.
#[tokio::test]
async fn a_new_server_behind_the_proxy_is_not_recovered() {
    let (server, running, proxy) = behind_proxy(HistoryOptions::default()).await;
    let ws = open(&proxy.url(), opts(TransportMode::Ws, "alice")).await;
    let ajax = open(&proxy.url(), opts(TransportMode::Ajax, "alice")).await;
    let (mut ws_pushes, mut ajax_pushes) = (ws.pushes(), ajax.pushes());
    server.send_to_user("alice", CPush::Seq(1)).expect("pushed");
    assert_eq!(next_pushes(&mut ws_pushes, 1).await, [CPush::Seq(1)]);
    assert_eq!(next_pushes(&mut ajax_pushes, 1).await, [CPush::Seq(1)]);

    let (server2, _state2, running2) = start().await;
    proxy.set_upstream(running2.addr);
    running.stop();
    proxy.cut_all();
    for (client, pushes) in [(&ws, &mut ws_pushes), (&ajax, &mut ajax_pushes)] {
        next_is_not_recovered(pushes).await;
        assert_eq!(client.state().recovery, Recovery::NotRecovered);
    }
    eventually(|| server2.connected_uids().any.contains("alice")).await;
    server2
        .send_to_user("alice", CPush::Seq(2))
        .expect("pushed");
    assert_eq!(next_pushes(&mut ws_pushes, 1).await, [CPush::Seq(2)]);
    assert_eq!(next_pushes(&mut ajax_pushes, 1).await, [CPush::Seq(2)]);
}
