//! `cargo run --release -p chsk-redis-node --bin chsk-redis-bench`: what scale-out on Redis
//! costs, measured in one run against one node without Redis (the baseline):
//!
//! - push throughput with the clients spread over two nodes (the pushes made on the first, so
//!   half of every push crosses Redis), against the same clients on one node;
//! - the latency of a lone push (p50/p99) on one node, and from one node to a client of the
//!   other (the Redis hop: one script call, one publication);
//! - Redis commands per push (the server's own count, `INFO` total).
//!
//! A real `redis-server` is started on a free loopback port. Environment: `CLIENTS` (default
//! 100), `ROUNDS` (pushes per user, default 200), `BROADCASTS` (default 500), `LONE` (lone
//! pushes, default 300).

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use chsk::{client::TransportMode, server::Server, Client, ClientOptions};
use chsk_redis_node::{node_app, single_app, NodeConfig, NodeEvent, NodePush, RedisServer};
use tokio::sync::mpsc;

type BenchClient = Client<NodeEvent, NodePush>;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/chsk")
}

/// Clients that count what they receive; one of them also reports each push's arrival.
struct Clients {
    clients: Vec<BenchClient>,
    received: Arc<AtomicU64>,
}

async fn connect(
    urls: &[String],
    n: u64,
    arrivals: mpsc::UnboundedSender<(u64, Instant)>,
) -> Clients {
    let received = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for k in 0..n {
        let url = &urls[k as usize % urls.len()];
        let options = ClientOptions {
            transport: TransportMode::Ws,
            params: vec![("uid".into(), format!("u{k}"))],
            ..Default::default()
        };
        let client = BenchClient::connect(url, options);
        client
            .wait_open(Duration::from_secs(10))
            .await
            .expect("the client opens");
        let mut pushes = client.pushes();
        let counter = received.clone();
        let report = (k == 1).then(|| arrivals.clone());
        tokio::spawn(async move {
            while let Some(batch) = pushes.recv_batch().await {
                let now = Instant::now();
                counter.fetch_add(batch.len() as u64, Ordering::Relaxed);
                if let Some(report) = &report {
                    for p in batch.into_iter().flatten() {
                        let (NodePush::Seq(n) | NodePush::Padded(n, _)) = p;
                        let _ = report.send((n, now));
                    }
                }
            }
        });
        clients.push(client);
    }
    Clients { clients, received }
}

impl Clients {
    async fn wait_for(&self, total: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.received.load(Ordering::Relaxed) < total {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        true
    }
}

/// This process's CPU seconds (user + system), from `/proc/self/stat` (10 ms ticks).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of the file (utime, stime) are 11 and 12 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

#[derive(Debug, Clone, Copy)]
struct Figures {
    /// CPU of this process (nodes and clients) per user push, µs.
    user_cpu_us: f64,
    /// Redis's CPU per user push, µs.
    user_redis_us: f64,
    user_pushes_per_s: f64,
    broadcast_deliveries_per_s: f64,
    p50_us: f64,
    p99_us: f64,
}

/// Runs the three measures with pushes made on `pusher` and clients on `urls`.
async fn measure(pusher: &Server, urls: &[String], name: &str, redis: Option<&str>) -> Figures {
    let n = env("CLIENTS", 100);
    let rounds = env("ROUNDS", 200);
    let broadcasts = env("BROADCASTS", 500);
    let lone = env("LONE", 300);
    let (tx, mut arrivals) = mpsc::unbounded_channel();
    let clients = connect(urls, n, tx).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Pushes to users: every user gets `rounds` pushes of its own.
    let redis_before = match redis {
        Some(url) => redis_totals(url).await.1,
        None => 0.0,
    };
    let cpu_before = cpu_secs();
    let start = Instant::now();
    for round in 0..rounds {
        for k in 0..n {
            pusher
                .send_to_user(&format!("u{k}"), NodePush::Seq(round))
                .expect("pushed");
        }
        if round % 8 == 7 {
            tokio::task::yield_now().await;
        }
    }
    assert!(
        clients.wait_for(n * rounds).await,
        "{name}: user pushes lost"
    );
    let user_pushes_per_s = (n * rounds) as f64 / start.elapsed().as_secs_f64();
    let user_cpu_us = (cpu_secs() - cpu_before) * 1e6 / (n * rounds) as f64;
    let user_redis_us = match redis {
        Some(url) => (redis_totals(url).await.1 - redis_before) * 1e6 / (n * rounds) as f64,
        None => 0.0,
    };

    // Broadcasts: each reaches every client.
    let base = clients.received.load(Ordering::Relaxed);
    let start = Instant::now();
    for i in 0..broadcasts {
        pusher.send_to_all(NodePush::Seq(i)).expect("pushed");
        if i % 8 == 7 {
            tokio::task::yield_now().await;
        }
    }
    assert!(
        clients.wait_for(base + n * broadcasts).await,
        "{name}: broadcasts lost"
    );
    let broadcast_deliveries_per_s = (n * broadcasts) as f64 / start.elapsed().as_secs_f64();
    while arrivals.try_recv().is_ok() {}

    // Lone pushes to client u1 (on the second node when there are two), 5 ms apart.
    let mut lat = Vec::new();
    for i in 0..lone {
        let seq = 1_000_000 + i;
        let sent = Instant::now();
        pusher
            .send_to_user("u1", NodePush::Seq(seq))
            .expect("pushed");
        loop {
            match tokio::time::timeout(Duration::from_secs(5), arrivals.recv()).await {
                Ok(Some((got, at))) if got == seq => {
                    lat.push(at.duration_since(sent).as_secs_f64() * 1e6);
                    break;
                }
                Ok(Some(_)) => {}
                _ => panic!("{name}: a lone push did not arrive"),
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    for c in &clients.clients {
        c.disconnect();
    }
    Figures {
        user_cpu_us,
        user_redis_us,
        user_pushes_per_s,
        broadcast_deliveries_per_s,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
    }
}

/// Redis's commands processed so far, and its CPU seconds (user + system).
async fn redis_totals(url: &str) -> (u64, f64) {
    let client = redis::Client::open(url).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let info: String = redis::cmd("INFO")
        .arg("all")
        .query_async(&mut conn)
        .await
        .expect("info");
    let field = |name: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    (
        field("total_commands_processed") as u64,
        field("used_cpu_user") + field("used_cpu_sys"),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let redis = RedisServer::start().await;
    println!(
        "chsk-redis-bench: {} clients, {} pushes per user, {} broadcasts, {} lone pushes",
        env("CLIENTS", 100),
        env("ROUNDS", 200),
        env("BROADCASTS", 500),
        env("LONE", 300)
    );

    let (single, app) = single_app("single");
    let url = serve(app).await;
    let one = measure(&single, &[url], "one node", None).await;

    let config = |id: &str| NodeConfig {
        redis: redis.url(),
        node_id: id.to_owned(),
        grace: Duration::from_secs(1),
        node_timeout: Duration::from_secs(10),
        heartbeat: Duration::from_secs(2),
        send_queue_bytes: chsk::server::Limits::default().send_queue_bytes,
    };
    let (s1, c1, app1) = node_app(&config("n1"));
    let (_s2, c2, app2) = node_app(&config("n2"));
    let urls = vec![serve(app1).await, serve(app2).await];
    while !(c1.metrics().subscribed && c2.metrics().subscribed) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // One node on Redis (every client on n1): the cost of Redis alone.
    let on_redis = measure(&s1, &urls[..1], "one node on Redis", Some(&redis.url())).await;
    let (before, cpu_before) = redis_totals(&redis.url()).await;
    let m_before = c1.metrics();
    let two = measure(&s1, &urls, "two nodes", Some(&redis.url())).await;
    let (after, cpu_after) = redis_totals(&redis.url()).await;
    let m1 = c1.metrics();
    let pushes = (m1.published - m_before.published).max(1);
    let batches = m1.batches - m_before.batches;
    let commands = m1.commands - m_before.commands;

    println!();
    println!(
        "| | one node (no Redis) | one node on Redis | two nodes on Redis | two nodes / one node |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| pushes to users, /s (each user its own stream) | {:.0} | {:.0} | {:.0} | {:.2}× |",
        one.user_pushes_per_s,
        on_redis.user_pushes_per_s,
        two.user_pushes_per_s,
        two.user_pushes_per_s / one.user_pushes_per_s
    );
    println!(
        "| CPU per user push, µs (nodes and clients + Redis) | {:.1} | {:.1} + {:.1} | {:.1} + {:.1} | {:.2}× |",
        one.user_cpu_us,
        on_redis.user_cpu_us,
        on_redis.user_redis_us,
        two.user_cpu_us,
        two.user_redis_us,
        (two.user_cpu_us + two.user_redis_us) / one.user_cpu_us
    );
    println!(
        "| broadcast deliveries, /s | {:.0} | {:.0} | {:.0} | {:.2}× |",
        one.broadcast_deliveries_per_s,
        on_redis.broadcast_deliveries_per_s,
        two.broadcast_deliveries_per_s,
        two.broadcast_deliveries_per_s / one.broadcast_deliveries_per_s
    );
    println!(
        "| lone push latency p50 | {:.0} µs | {:.0} µs | {:.0} µs | +{:.0} µs |",
        one.p50_us,
        on_redis.p50_us,
        two.p50_us,
        two.p50_us - one.p50_us
    );
    println!(
        "| lone push latency p99 | {:.0} µs | {:.0} µs | {:.0} µs | +{:.0} µs |",
        one.p99_us,
        on_redis.p99_us,
        two.p99_us,
        two.p99_us - one.p99_us
    );
    println!();
    println!(
        "Redis: {pushes} pushes published by n1 in {} pipelines of {} commands ({:.3} commands per push); \
         Redis processed {} commands in all meanwhile ({:.3} per push, heartbeats and handshakes included); \
         n2 received {} runs.",
        batches,
        commands,
        commands as f64 / pushes as f64,
        after - before,
        (after - before) as f64 / pushes as f64,
        c2.metrics().received_runs
    );
    println!(
        "Redis CPU: {:.2} s in all for the two-node run ({:.1} µs per push made; the lone \
         pushes and handshakes included).",
        cpu_after - cpu_before,
        (cpu_after - cpu_before) * 1e6 / pushes as f64
    );
    println!(
        "Publish failures: {} (n1), {} (n2).",
        m1.publish_failed,
        c2.metrics().publish_failed
    );
    drop(redis);
}
