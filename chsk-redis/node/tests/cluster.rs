//! Three `chsk-redis-node` processes on one real `redis-server` behave as one chsk server:
//! pushes to a user, a client and all cross nodes in order; presence (with its grace period)
//! sees every node; a client that moves to another node recovers what it missed; Ajax works
//! with each request on another node; a `kill -9`ed node's users who do not come back close
//! within grace + node timeout; a Redis restart is survived (counted failures, reconnection,
//! and clients told exactly whether they recovered).

#![allow(clippy::unwrap_used)] // a poisoned lock or a failed setup: the test fails

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use chsk::{
    client::{BackoffOptions, Recovery, RecvError, TransportMode},
    Client, ClientOptions,
};
use chsk_redis_node::{
    balancer, metric, switch::Switch, NodeEvent, NodeProcess, NodePush, RedisServer,
};

const BIN: &str = env!("CARGO_BIN_EXE_chsk-redis-node");
const GRACE: Duration = Duration::from_millis(2_000);
const NODE_TIMEOUT: Duration = Duration::from_millis(3_000);
const WAIT: Duration = Duration::from_secs(20);

type TestClient = Client<NodeEvent, NodePush>;

struct Cluster {
    redis: RedisServer,
    nodes: Vec<NodeProcess>,
}

async fn cluster(n: usize) -> Cluster {
    let redis = RedisServer::start().await;
    let mut nodes = Vec::new();
    for i in 0..n {
        let id = format!("n{}", i + 1);
        nodes.push(NodeProcess::start(BIN, &redis.url(), &id, GRACE, NODE_TIMEOUT).await);
    }
    let c = Cluster { redis, nodes };
    // Every node is subscribed before the test pushes (a push made before would not reach it).
    for node in &c.nodes {
        eventually(|| async { metric(&get(node, "/metrics").await, "subscribed") == 1 }).await;
    }
    c
}

fn opts(transport: TransportMode, uid: &str) -> ClientOptions {
    ClientOptions {
        transport,
        params: vec![("uid".into(), uid.into())],
        backoff: BackoffOptions {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(300),
            jitter: 1.0,
        },
        connect_timeout: Duration::from_secs(3),
        ajax_timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

async fn open(url: &str, options: ClientOptions) -> TestClient {
    let client = TestClient::connect(url, options);
    client.wait_open(WAIT).await.expect("the client opens");
    client
}

/// What a client's app got: the pushes' numbers, and how often it was told to reload.
#[derive(Debug, Default)]
struct Got {
    seqs: Vec<u64>,
    not_recovered: usize,
}

fn collect(client: &TestClient) -> Arc<Mutex<Got>> {
    let got = Arc::new(Mutex::new(Got::default()));
    let sink = got.clone();
    let mut pushes = client.pushes();
    tokio::spawn(async move {
        while let Some(item) = pushes.recv().await {
            let mut g = sink.lock().unwrap();
            match item {
                Ok(NodePush::Seq(n) | NodePush::Padded(n, _)) => g.seqs.push(n),
                Err(RecvError::NotRecovered) => g.not_recovered += 1,
                Err(e) => panic!("unexpected push error: {e}"),
            }
        }
    });
    got
}

/// The numbers in `lo..hi` that `got` received, in order.
fn range(got: &Arc<Mutex<Got>>, lo: u64, hi: u64) -> Vec<u64> {
    let g = got.lock().unwrap();
    g.seqs
        .iter()
        .copied()
        .filter(|n| (lo..hi).contains(n))
        .collect()
}

async fn get(node: &NodeProcess, path: &str) -> String {
    reqwest::get(format!("{}{path}", node.base()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Pushes `from..from+count` to `to` (`all`, `user/<uid>`, `client/<id>`) from `node`.
async fn push(node: &NodeProcess, to: &str, from: u64, count: u64) {
    let sep = if to.contains('?') { "&" } else { "?" };
    let url = format!("{}/push/{to}{sep}from={from}&count={count}", node.base());
    let answer = reqwest::Client::new()
        .post(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!answer.starts_with("error"), "{answer}");
}

async fn presence(node: &NodeProcess) -> Vec<String> {
    let text = get(node, "/presence").await;
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn eventually<F, Fut>(mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until `got` has every number of `lo..hi`, then checks they came once, in order.
async fn has_exactly(got: &Arc<Mutex<Got>>, lo: u64, hi: u64, who: &str) {
    let want: Vec<u64> = (lo..hi).collect();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let have = range(got, lo, hi);
        if have.len() >= want.len() || tokio::time::Instant::now() > deadline {
            assert_eq!(have, want, "{who}: pushes {lo}..{hi}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_to_user_client_and_all_cross_nodes_in_order() {
    let c = cluster(3).await;
    let [n1, n2, n3] = &c.nodes[..] else { panic!() };
    let alice_ws = open(&n1.url(), opts(TransportMode::Ws, "alice")).await;
    let alice_ajax = open(&n2.url(), opts(TransportMode::Ajax, "alice")).await;
    let bob = open(&n3.url(), opts(TransportMode::Ws, "bob")).await;
    let got = [collect(&alice_ws), collect(&alice_ajax), collect(&bob)];
    let bob_id = bob.state().client_id;
    let to_bob = format!("client/{bob_id}");

    // From three nodes at once: to alice (from n3), to all (from n1), to bob's client (n2).
    let (a, b, d) = tokio::join!(
        push(n3, "user/alice", 1_000, 300),
        push(n1, "all", 0, 300),
        push(n2, &to_bob, 5_000, 100),
    );
    let _ = (a, b, d);
    for (g, who) in got.iter().zip(["alice ws", "alice ajax", "bob"]) {
        has_exactly(g, 0, 300, who).await;
    }
    has_exactly(&got[0], 1_000, 1_300, "alice ws").await;
    has_exactly(&got[1], 1_000, 1_300, "alice ajax").await;
    has_exactly(&got[2], 5_000, 5_100, "bob").await;
    assert!(
        range(&got[2], 1_000, 1_300).is_empty(),
        "bob got alice's pushes"
    );
    assert!(
        range(&got[0], 5_000, 5_100).is_empty(),
        "alice got bob's pushes"
    );
    // Volatile pushes cross nodes too (no position); a local one stays on its node.
    push(n2, "all?volatile=1", 7_000, 3).await;
    push(n1, "all?local=1", 8_000, 3).await;
    for (g, who) in got.iter().zip(["alice ws", "alice ajax", "bob"]) {
        has_exactly(g, 7_000, 7_003, who).await;
    }
    has_exactly(&got[0], 8_000, 8_003, "alice ws (on n1)").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        range(&got[1], 8_000, 8_003).is_empty(),
        "a local push left n1"
    );
    assert!(
        range(&got[2], 8_000, 8_003).is_empty(),
        "a local push left n1"
    );
    for g in &got {
        assert_eq!(g.lock().unwrap().not_recovered, 0);
    }
    // A run of pushes is one script call (and one message) per batch, not one per push.
    let m1 = get(n1, "/metrics").await;
    assert_eq!(
        metric(&m1, "published"),
        300,
        "the local push is not published"
    );
    assert_eq!(metric(&m1, "publish_failed"), 0);
    assert!(metric(&m1, "commands") <= 300, "{m1}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_sees_every_node_and_keeps_the_grace_period() {
    let c = cluster(3).await;
    let [n1, n2, n3] = &c.nodes[..] else { panic!() };
    let alice = open(&n1.url(), opts(TransportMode::Ws, "alice")).await;
    for node in [n1, n2, n3] {
        eventually(|| async { presence(node).await == ["alice"] }).await;
    }
    // Alice moves from n1 to n2 (a reload on another node): never closed anywhere.
    let watcher = {
        let n3_base = n3.base();
        tokio::spawn(async move {
            let mut dropped = 0;
            for _ in 0..60 {
                let text = reqwest::get(format!("{n3_base}/presence"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                if !text.split(',').any(|u| u == "alice") {
                    dropped += 1;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            dropped
        })
    };
    alice.disconnect();
    let alice2 = open(&n2.url(), opts(TransportMode::Ws, "alice")).await;
    assert_eq!(
        watcher.await.unwrap(),
        0,
        "alice was seen closed on n3 while moving"
    );
    // Gone from every node: closed everywhere after the grace period.
    alice2.disconnect();
    let left = tokio::time::Instant::now();
    for node in [n1, n2, n3] {
        eventually(|| async { presence(node).await.is_empty() }).await;
    }
    assert!(
        left.elapsed() >= GRACE.saturating_sub(Duration::from_millis(100)),
        "closed before the grace period: {:?}",
        left.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_moves_to_another_node_recovers_what_it_missed() {
    let c = cluster(3).await;
    let [n1, n2, n3] = &c.nodes[..] else { panic!() };
    for mode in [TransportMode::Ws, TransportMode::Ajax] {
        let switch = Switch::start(n1.addr).await;
        let uid = format!("mover-{mode:?}");
        let client = open(&switch.url(), opts(mode, &uid)).await;
        let got = collect(&client);
        push(n3, &format!("user/{uid}"), 0, 10).await;
        push(n3, "all", 100, 10).await;
        has_exactly(&got, 0, 10, &uid).await;
        // Its node becomes unreachable for it; pushes go on meanwhile; it comes back on n2.
        switch.switch_to(unreachable());
        tokio::time::sleep(Duration::from_millis(200)).await;
        push(n3, &format!("user/{uid}"), 10, 20).await;
        push(n1, "all", 110, 20).await;
        switch.switch_to(n2.addr);
        has_exactly(&got, 0, 30, &uid).await;
        has_exactly(&got, 100, 130, &uid).await;
        eventually(|| async { client.state().open }).await;
        assert_eq!(client.state().recovery, Recovery::Recovered, "{uid}");
        assert_eq!(got.lock().unwrap().not_recovered, 0, "{uid}");
        assert_eq!(client.metrics().push_gaps, 0, "{uid}");
        client.disconnect();
    }
    assert!(metric(&get(n2, "/metrics").await, "recoveries") >= 1);
}

/// An address where nothing listens (a node that cannot be reached).
fn unreachable() -> std::net::SocketAddr {
    ([127, 0, 0, 1], chsk_redis_node::free_port()).into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ajax_without_sticky_sessions_each_request_on_another_node() {
    let c = cluster(3).await;
    let [n1, n2, n3] = &c.nodes[..] else { panic!() };
    let lb = balancer::start(c.nodes.iter().map(|n| n.base()).collect()).await;
    let client = open(&lb.url(), opts(TransportMode::Ajax, "rr")).await;
    let got = collect(&client);
    // Sends (POST) land on every node and are answered.
    let mut answered_by = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let who: String = client
            .send_with_reply(chsk_redis_node::node_event::WhoAmI, WAIT)
            .await
            .unwrap();
        answered_by.insert(who);
    }
    assert!(answered_by.len() >= 2, "{answered_by:?}");
    // Pushes from every node, while its polls go round the nodes.
    for round in 0..10u64 {
        let from = [n1, n2, n3][round as usize % 3];
        push(from, "user/rr", round * 10, 10).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    has_exactly(&got, 0, 100, "rr").await;
    assert_eq!(got.lock().unwrap().not_recovered, 0);
    assert_eq!(client.metrics().push_gaps, 0);
    let sent = lb.sent();
    assert!(sent.iter().all(|&n| n >= 3), "requests per node: {sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_moves_its_clients_and_closes_its_users_who_do_not_return() {
    let mut c = cluster(3).await;
    let switch = Switch::start(c.nodes[0].addr).await;
    let alice = open(&switch.url(), opts(TransportMode::Ws, "alice")).await;
    let got = collect(&alice);
    let carol = open(&c.nodes[0].url(), opts(TransportMode::Ws, "carol")).await;
    for node in &c.nodes[1..] {
        eventually(|| async {
            let p = presence(node).await;
            p.contains(&"alice".to_owned()) && p.contains(&"carol".to_owned())
        })
        .await;
    }
    push(&c.nodes[2], "user/alice", 0, 5).await;
    has_exactly(&got, 0, 5, "alice").await;

    // kill -9: no close, no goodbye. Alice's balancer sends her to n2; carol is gone.
    c.nodes[0].kill().await;
    let killed = tokio::time::Instant::now();
    switch.switch_to(c.nodes[1].addr);
    push(&c.nodes[2], "user/alice", 5, 10).await;
    has_exactly(&got, 0, 15, "alice").await;
    assert_eq!(alice.state().recovery, Recovery::Recovered);
    assert_eq!(got.lock().unwrap().not_recovered, 0);
    for node in &c.nodes[1..] {
        eventually(|| async { presence(node).await == ["alice"] }).await;
    }
    let closed_after = killed.elapsed();
    // Grace + node timeout + heartbeat: well under 30 s (here about 5.5 s).
    assert!(
        closed_after < GRACE + NODE_TIMEOUT + Duration::from_secs(5),
        "{closed_after:?}"
    );
    assert!(
        closed_after >= NODE_TIMEOUT.saturating_sub(Duration::from_millis(600)),
        "carol closed before the node timeout: {closed_after:?}"
    );
    drop(carol);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_is_counted_survived_and_told_exactly() {
    let mut c = cluster(2).await;
    let a = open(&c.nodes[0].url(), opts(TransportMode::Ws, "u1")).await;
    let b = open(&c.nodes[1].url(), opts(TransportMode::Ajax, "u2")).await;
    let got_a = collect(&a);
    let got_b = collect(&b);
    push(&c.nodes[0], "all", 0, 5).await;
    has_exactly(&got_a, 0, 5, "a").await;
    has_exactly(&got_b, 0, 5, "b").await;

    // Redis goes away: n1's clients still get n1's pushes; n2's cannot; every one is counted.
    assert_eq!(get(&c.nodes[0], "/flush").await, "ok");
    c.redis.stop().await;
    push(&c.nodes[0], "all", 5, 3).await;
    // The app can ask: they did not reach Redis.
    assert_eq!(get(&c.nodes[0], "/flush").await, "unpublished 3");
    has_exactly(&got_a, 5, 8, "a (local while Redis is down)").await;
    let m1 = get(&c.nodes[0], "/metrics").await;
    assert_eq!(metric(&m1, "publish_failed"), 3, "{m1}");
    assert_eq!(metric(&m1, "redis_up"), 0, "{m1}");
    assert!(range(&got_b, 5, 8).is_empty());

    // Redis comes back empty: the nodes reconnect by themselves; the history is gone, so both
    // clients are told they were not recovered (b missed pushes, a's stream was reset).
    c.redis.restart().await;
    for node in &c.nodes {
        eventually(|| async {
            let m = get(node, "/metrics").await;
            metric(&m, "subscribed") == 1 && metric(&m, "resubscribed") >= 1
        })
        .await;
    }
    eventually(|| async {
        a.state().recovery == Recovery::NotRecovered && b.state().recovery == Recovery::NotRecovered
    })
    .await;
    // The state changes before the app's task reads the `NotRecovered` item from its channel.
    let told = |got: &Arc<Mutex<Got>>| got.lock().unwrap().not_recovered;
    eventually(|| async { told(&got_a) >= 1 && told(&got_b) >= 1 }).await;
    // And pushes cross nodes again.
    eventually(|| async { a.state().open && b.state().open }).await;
    push(&c.nodes[1], "all", 100, 5).await;
    has_exactly(&got_a, 100, 105, "a after").await;
    has_exactly(&got_b, 100, 105, "b after").await;
    // Told exactly once: the channel is in order, so every item before these pushes was read.
    assert_eq!(told(&got_a), 1);
    assert_eq!(told(&got_b), 1);
    let m1 = get(&c.nodes[0], "/metrics").await;
    assert_eq!(metric(&m1, "redis_up"), 1, "{m1}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_redis_outage_without_data_loss_recovers_everyone() {
    // Redis is unreachable for a moment but keeps its data (the node cannot reach it; here:
    // the nodes' subscription and commands fail while the server pauses). Clients of both
    // nodes end with every push that reached Redis, and those that may have missed pushes
    // published only locally are told so.
    let c = cluster(2).await;
    let a = open(&c.nodes[0].url(), opts(TransportMode::Ws, "p1")).await;
    let b = open(&c.nodes[1].url(), opts(TransportMode::Ws, "p2")).await;
    let got_a = collect(&a);
    let got_b = collect(&b);
    push(&c.nodes[1], "user/p1", 0, 5).await;
    has_exactly(&got_a, 0, 5, "a").await;
    // Pause Redis for 3 s (longer than the command timeout): n1 cannot publish.
    let pid = c.redis_pid();
    std::process::Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()
        .unwrap();
    push(&c.nodes[0], "user/p2", 0, 2).await;
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    std::process::Command::new("kill")
        .args(["-CONT", &pid.to_string()])
        .status()
        .unwrap();
    // p2's stream lost pushes that never reached Redis: p2 is told (or got them, if the
    // publish went through after the pause); never a silent hole.
    let n1 = &c.nodes[0];
    eventually(|| async {
        let failed = metric(&get(n1, "/metrics").await, "publish_failed");
        let g = got_b.lock().unwrap();
        range_of(&g.seqs, 0, 2) == [0, 1] || failed == 2
    })
    .await;
    // Once n1 reaches Redis again, p2's stream starts a new epoch (n1 cannot know whether
    // its pushes reached Redis before the timeout): p2 is told to reload (it cannot tell
    // whether it missed anything), and gets what follows.
    eventually(|| async {
        let m = get(n1, "/metrics").await;
        metric(&m, "redis_up") == 1 && metric(&m, "epochs_reset") == 1
    })
    .await;
    push(n1, "user/p2", 2, 1).await;
    eventually(|| async { got_b.lock().unwrap().not_recovered == 1 }).await;
    eventually(|| async { b.state().open }).await;
    push(&c.nodes[1], "user/p2", 3, 1).await;
    has_exactly(&got_b, 3, 4, "b after").await;
    // p1's stream was untouched: it lost nothing and is not told to reload.
    push(&c.nodes[1], "user/p1", 5, 5).await;
    has_exactly(&got_a, 0, 10, "a").await;
}

fn range_of(seqs: &[u64], lo: u64, hi: u64) -> Vec<u64> {
    seqs.iter()
        .copied()
        .filter(|n| (lo..hi).contains(n))
        .collect()
}

impl Cluster {
    fn redis_pid(&self) -> u32 {
        self.redis.pid().expect("redis runs")
    }
}

/// Clients moved between three nodes at random while all three push: every client gets every
/// push exactly once and in order, on both transports, and is never told to reload (every
/// move is a reconnect to another node that recovers from the history in Redis).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_moved_between_nodes_under_load_lose_nothing() {
    const CLIENTS: usize = 24;
    const ROUNDS: u64 = 150;
    let c = cluster(3).await;
    let mut clients = Vec::new();
    for k in 0..CLIENTS {
        let switch = Switch::start(c.nodes[k % 3].addr).await;
        let mode = if k % 2 == 0 {
            TransportMode::Ws
        } else {
            TransportMode::Ajax
        };
        let client = open(&switch.url(), opts(mode, &format!("m{k}"))).await;
        let got = collect(&client);
        clients.push((switch, client, got));
    }
    let switches: Vec<Switch> = clients.iter().map(|(s, _, _)| s.clone()).collect();
    let addrs: Vec<_> = c.nodes.iter().map(|n| n.addr).collect();
    let chaos = tokio::spawn(async move {
        let mut moves = 0usize;
        let mut turn = 0usize;
        loop {
            tokio::time::sleep(Duration::from_millis(120)).await;
            // A third of the clients move to the next node, in turns.
            for (k, s) in switches.iter().enumerate() {
                if (k + turn) % 3 == 0 {
                    s.switch_to(addrs[(k + turn + 1) % 3]);
                    moves += 1;
                }
            }
            turn += 1;
            if turn > 1_000 {
                return moves;
            }
        }
    });
    let users = CLIENTS as u64;
    for round in 0..ROUNDS {
        let from = &c.nodes[round as usize % 3];
        push(from, "all", round, 1).await;
        let user = round % users;
        push(
            &c.nodes[(round as usize + 1) % 3],
            &format!("user/m{user}"),
            10_000 + round,
            1,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(8)).await;
    }
    chaos.abort();
    for (k, (_, client, got)) in clients.iter().enumerate() {
        let who = format!("m{k}");
        has_exactly(got, 0, ROUNDS, &who).await;
        let mine: Vec<u64> = (0..ROUNDS)
            .filter(|r| r % users == k as u64)
            .map(|r| 10_000 + r)
            .collect();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let have = range(got, 10_000, 10_000 + ROUNDS);
            if have.len() >= mine.len() || tokio::time::Instant::now() > deadline {
                assert_eq!(have, mine, "{who}: its user's pushes");
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(got.lock().unwrap().not_recovered, 0, "{who}");
        assert_eq!(client.metrics().not_recovered, 0, "{who}");
    }
    let mut recoveries = 0;
    for node in &c.nodes {
        recoveries += metric(&get(node, "/metrics").await, "recoveries");
    }
    assert!(
        recoveries >= CLIENTS as u64,
        "moves recovered on other nodes: {recoveries}"
    );
}

/// A node restarted (same address) is one its clients come back to and recover from: the
/// history is in Redis, not in the process that died.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_a_restarted_node_recover_on_it() {
    let mut c = cluster(2).await;
    let addr = c.nodes[0].addr;
    let mut clients = Vec::new();
    for (k, mode) in [TransportMode::Ws, TransportMode::Ajax]
        .into_iter()
        .enumerate()
    {
        let client = open(&c.nodes[0].url(), opts(mode, &format!("r{k}"))).await;
        let got = collect(&client);
        clients.push((client, got));
    }
    push(&c.nodes[1], "all", 0, 5).await;
    push(&c.nodes[1], "user/r0", 100, 3).await;
    for (k, (_, got)) in clients.iter().enumerate() {
        has_exactly(got, 0, 5, &format!("r{k}")).await;
    }
    // kill -9, pushes meanwhile (from the other node), then the same node again.
    c.nodes[0].kill().await;
    push(&c.nodes[1], "all", 5, 5).await;
    push(&c.nodes[1], "user/r0", 103, 3).await;
    push(&c.nodes[1], "user/r1", 200, 2).await;
    let restarted =
        NodeProcess::start_on(BIN, &c.redis.url(), "n1", addr.port(), GRACE, NODE_TIMEOUT).await;
    for (k, (client, got)) in clients.iter().enumerate() {
        let who = format!("r{k}");
        has_exactly(got, 0, 10, &who).await;
        eventually(|| async { client.state().open }).await;
        assert_eq!(client.state().recovery, Recovery::Recovered, "{who}");
        assert_eq!(got.lock().unwrap().not_recovered, 0, "{who}");
    }
    has_exactly(&clients[0].1, 100, 106, "r0").await;
    has_exactly(&clients[1].1, 200, 202, "r1").await;
    assert!(metric(&get(&restarted, "/metrics").await, "recoveries") >= 2);
}

/// The network between a node and Redis dies without closing anything (every byte lost, the
/// sockets open): the node's subscription hears no heartbeat for the node timeout, is made
/// again once the network is back, and its clients recover the pushes they missed — without
/// any further push to reveal the gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silently_dead_link_to_redis_is_noticed_and_recovered_from() {
    let redis = RedisServer::start().await;
    let relay = Switch::start(([127, 0, 0, 1], redis.port).into()).await;
    let via_relay = format!("redis://{}/", relay.addr);
    let n1 = NodeProcess::start(BIN, &via_relay, "n1", GRACE, NODE_TIMEOUT).await;
    let n2 = NodeProcess::start(BIN, &redis.url(), "n2", GRACE, NODE_TIMEOUT).await;
    for node in [&n1, &n2] {
        eventually(|| async { metric(&get(node, "/metrics").await, "subscribed") == 1 }).await;
    }
    let alice = open(&n1.url(), opts(TransportMode::Ws, "alice")).await;
    let got = collect(&alice);
    push(&n2, "user/alice", 0, 3).await;
    has_exactly(&got, 0, 3, "alice").await;

    relay.blackhole(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    push(&n2, "user/alice", 3, 4).await; // lost on the way to n1
    tokio::time::sleep(NODE_TIMEOUT + Duration::from_millis(1_500)).await;
    relay.blackhole(false);
    // No further push: n1 must notice by itself.
    has_exactly(&got, 0, 7, "alice").await;
    eventually(|| async { alice.state().open }).await;
    assert_eq!(alice.state().recovery, Recovery::Recovered);
    assert_eq!(got.lock().unwrap().not_recovered, 0);
    assert!(metric(&get(&n1, "/metrics").await, "resubscribed") >= 1);
}

/// A burst from one node to a client of another that stops reading: that node closes it as a
/// slow consumer (its queue bound), a reading client of the same node gets every push of the
/// same burst in order, and every push handed to a connection there is written or counted as
/// dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_on_another_node_is_closed_and_accounted() {
    let c = cluster(2).await;
    let [n1, n2] = &c.nodes[..] else { panic!() };
    // A WebSocket with a tiny receive buffer that never reads after its handshake.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(n2.addr).await.unwrap();
    let url = format!(
        "ws://{}/chsk?v={}&client-id=frozen&uid=frozen",
        n2.addr,
        chsk::protocol::VERSION
    );
    let (_frozen, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    let reader = open(&n2.url(), opts(TransportMode::Ws, "reader")).await;
    let got = collect(&reader);
    eventually(|| async { presence(n1).await.contains(&"frozen".to_owned()) }).await;

    // 12,000 pushes of ~1 KiB to the frozen user (more than its 1 MiB queue and the kernel's
    // socket buffers together), interleaved with
    // pushes to the reader, all from n1.
    let pad = "x".repeat(1_000);
    let client = reqwest::Client::new();
    for chunk in 0..12u64 {
        let url = format!(
            "{}/push/user/frozen?from={}&count=1000&pad={pad}",
            n1.base(),
            chunk * 1_000
        );
        client.post(url).send().await.unwrap();
        push(n1, "user/reader", chunk * 10, 10).await;
    }
    has_exactly(&got, 0, 120, "reader").await;
    eventually(|| async {
        let m = get(n2, "/metrics").await;
        metric(&m, "pushes_dropped_slow_consumer") > 0
            && metric(&m, "push_deliveries")
                == metric(&m, "pushes_written") + metric(&m, "pushes_dropped")
    })
    .await;
    eventually(|| async { !presence(n2).await.contains(&"frozen".to_owned()) }).await;
    assert_eq!(got.lock().unwrap().not_recovered, 0);
}
