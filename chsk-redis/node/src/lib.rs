//! A chsk server process on chsk-redis, and what the multi-process tests and the cross-node
//! bench need around it: a real `redis-server` on a free loopback port ([`RedisServer`]), node
//! processes ([`NodeProcess`]), and an HTTP balancer that sends each request to the next node
//! ([`balancer`], for Ajax without sticky sessions).
//!
//! The node (`chsk-redis-node --port P --redis URL --node-id ID`) serves chsk at `/chsk`
//! (user id from the `uid` query parameter, no CSRF check: a test app) and control routes:
//! `POST /push/{all|user/<uid>|client/<id>}?from=N&count=K[&volatile=1][&local=1][&pad=P]`
//! pushes `NodePush::Seq` (or `Padded` with `P`) `N..N+K` and answers how many local
//! connections they reached;
//! `GET /flush` waits until the node's pushes are sent to Redis (`ok` or `unpublished N`);
//! `GET /presence` answers the connected users (`any`), comma-separated; `GET /metrics` the
//! adapter's and the server's counters, one `name value` per line. It prints
//! `LISTENING <addr>` once it serves.

#![allow(clippy::unwrap_used)] // a test harness: a failed setup fails the test

use std::{
    net::SocketAddr,
    path::Path,
    process::Stdio,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use axum::{
    extract::{Path as UrlPath, Query, State},
    routing::{get, post},
    Router,
};
use chsk::{
    server::{Limits, PushOptions, Target, Timings},
    Ctx, Server,
};
use chsk_redis::{RedisCluster, RedisOptions};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// What clients send.
#[chsk::events(ns = "node")]
#[derive(Debug, Clone)]
pub enum NodeEvent {
    /// The id of the node that answers.
    #[reply(String)]
    WhoAmI,
}

/// What nodes push.
#[chsk::events(ns = "node")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodePush {
    /// A numbered push.
    Seq(u64),
    /// A numbered push made larger by its padding.
    Padded(u64, String),
}

#[chsk::handler(NodeEvent::WhoAmI)]
async fn who_am_i(cx: Ctx<String>) -> String {
    cx.state().clone()
}

/// How a node runs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The Redis URL.
    pub redis: String,
    /// The node's id.
    pub node_id: String,
    /// The grace period of both transports (short in tests).
    pub grace: Duration,
    /// [`RedisOptions::node_timeout`].
    pub node_timeout: Duration,
    /// [`RedisOptions::heartbeat`].
    pub heartbeat: Duration,
    /// [`Limits::send_queue_bytes`] (the harness's nodes use 1 MiB, so that a test overflows a
    /// connection's queue whatever the kernel's socket buffers absorb).
    pub send_queue_bytes: usize,
}

/// Builds the node's server and router (inside a tokio runtime).
pub fn node_app(config: &NodeConfig) -> (Server, RedisCluster, Router) {
    let cluster = RedisCluster::new(
        &config.redis,
        RedisOptions::default()
            .node_id(&config.node_id)
            .node_timeout(config.node_timeout)
            .heartbeat(config.heartbeat)
            .timeout(Duration::from_secs(1))
            .retry(Duration::from_millis(200)),
    )
    .unwrap();
    let limits = Limits {
        send_queue_bytes: config.send_queue_bytes,
        ..Limits::default()
    };
    let (server, app) = app(&config.node_id, config.grace, limits, Some(cluster.clone()));
    (server, cluster, app)
}

/// The same app on one process, without Redis (the in-memory history): the baseline.
pub fn single_app(node_id: &str) -> (Server, Router) {
    app(node_id, Duration::from_secs(1), Limits::default(), None)
}

fn app(
    node_id: &str,
    grace: Duration,
    limits: Limits,
    cluster: Option<RedisCluster>,
) -> (Server, Router) {
    let timings = Timings {
        ws_grace: grace,
        ajax_grace: grace,
        ..Timings::default()
    };
    let mut builder = Server::builder::<NodeEvent, _>(node_id.to_owned())
        .handler(who_am_i)
        .user_id(|req, _| req.query("uid").map(str::to_owned))
        .skip_csrf_check()
        .timings(timings)
        .limits(limits);
    if let Some(cluster) = &cluster {
        builder = builder.adapter(cluster.clone());
    }
    let server = builder.build();
    let control = Router::new()
        .route("/push/all", post(push_all))
        .route("/push/user/{uid}", post(push_user))
        .route("/push/client/{id}", post(push_client))
        .route("/presence", get(presence))
        .route("/metrics", get(metrics))
        .route("/flush", get(flush))
        .with_state((server.clone(), cluster));
    let app = Router::new()
        .nest("/chsk", chsk_axum::routes(server.clone()))
        .merge(control);
    (server, app)
}

type Ctl = (Server, Option<RedisCluster>);

#[derive(Debug, serde::Deserialize)]
struct PushQuery {
    from: u64,
    count: u64,
    #[serde(default)]
    volatile: u8,
    #[serde(default)]
    local: u8,
    /// When not empty, the pushes are `Padded` with it.
    #[serde(default)]
    pad: String,
}

fn push(server: &Server, target: Target, q: &PushQuery) -> String {
    let options = PushOptions::default()
        .volatile(q.volatile == 1)
        .local(q.local == 1);
    let mut reached = 0;
    for n in q.from..q.from + q.count {
        let event = match q.pad.is_empty() {
            true => NodePush::Seq(n),
            false => NodePush::Padded(n, q.pad.clone()),
        };
        match server.push(target.clone(), event, options) {
            Ok(r) => reached += r,
            Err(e) => return format!("error {e}"),
        }
    }
    reached.to_string()
}

async fn push_all(State((s, _)): State<Ctl>, Query(q): Query<PushQuery>) -> String {
    push(&s, Target::All, &q)
}

async fn push_user(
    State((s, _)): State<Ctl>,
    UrlPath(uid): UrlPath<String>,
    Query(q): Query<PushQuery>,
) -> String {
    push(&s, Target::User(uid), &q)
}

async fn push_client(
    State((s, _)): State<Ctl>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<PushQuery>,
) -> String {
    push(&s, Target::Client(id), &q)
}

async fn presence(State((s, _)): State<Ctl>) -> String {
    let uids: Vec<String> = s.connected_uids().any.into_iter().collect();
    uids.join(",")
}

async fn flush(State((_, c)): State<Ctl>) -> String {
    match c {
        Some(c) => match c.flush().await {
            Ok(()) => "ok".to_owned(),
            Err(chsk_redis::Error::Unpublished { pushes }) => format!("unpublished {pushes}"),
            Err(e) => format!("error {e}"),
        },
        None => "ok".to_owned(),
    }
}

async fn metrics(State((s, c)): State<Ctl>) -> String {
    let r = c.map(|c| c.metrics()).unwrap_or_default();
    let m = s.metrics();
    let lines = [
        ("redis_up", u64::from(r.redis_up)),
        ("subscribed", u64::from(r.subscribed)),
        ("published", r.published),
        ("publish_failed", r.publish_failed),
        ("received_runs", r.received_runs),
        ("malformed", r.malformed),
        ("commands", r.commands),
        ("batches", r.batches),
        ("resubscribed", r.resubscribed),
        ("epochs_reset", r.epochs_reset),
        ("nodes_gone", r.nodes_gone),
        ("recoveries", m.recoveries),
        ("recoveries_failed", m.recoveries_failed),
        ("pushes_replayed", m.pushes_replayed),
        ("push_deliveries", m.push_deliveries),
        ("pushes_written", m.pushes_written),
        ("pushes_dropped", m.pushes_dropped()),
        (
            "pushes_dropped_slow_consumer",
            m.pushes_dropped_slow_consumer,
        ),
        ("ws_open", m.ws_opened - m.ws_closed),
        ("ajax_clients", m.ajax_clients),
    ];
    lines.iter().map(|(k, v)| format!("{k} {v}\n")).collect()
}

/// Parses a `/metrics` answer.
pub fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in {text}"))
}

/// A `redis-server` of its own on a free loopback port, stopped (by its PID) when dropped.
#[derive(Debug)]
pub struct RedisServer {
    /// Its port.
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one and waits until it answers `PING`.
    pub async fn start() -> Self {
        let port = free_port();
        let mut redis = Self { port, child: None };
        redis.restart().await;
        redis
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Stops it (SIGKILL: nothing saved).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it again on the same port, empty.
    pub async fn restart(&mut self) {
        self.stop().await;
        let bin = if Path::new("/usr/bin/redis-server").exists() {
            "/usr/bin/redis-server"
        } else {
            "redis-server"
        };
        let child = Command::new(bin)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--loglevel",
                "warning",
            ])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("could not start redis-server ({e}): apt-get install -y redis-server")
            });
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if ping(self.port).await {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not answer within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn ping(port: u16) -> bool {
    use tokio::io::AsyncWriteExt;
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if s.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    let read = tokio::io::AsyncReadExt::read_exact(&mut s, &mut buf).await;
    read.is_ok() && &buf == b"+PONG\r\n"
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A node process, killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct NodeProcess {
    /// Its id.
    pub id: String,
    /// Where it serves.
    pub addr: SocketAddr,
    child: Option<Child>,
}

static NODES: AtomicUsize = AtomicUsize::new(0);

impl NodeProcess {
    /// Starts `bin` (the `chsk-redis-node` binary) as node `id` on Redis `redis`, with a grace
    /// period of `grace` and a node timeout of `node_timeout`; waits until it serves.
    pub async fn start(
        bin: &str,
        redis: &str,
        id: &str,
        grace: Duration,
        node_timeout: Duration,
    ) -> Self {
        let port = free_port();
        Self::start_on(bin, redis, id, port, grace, node_timeout).await
    }

    /// [`start`](Self::start) on a given port (a restarted node keeps its address).
    pub async fn start_on(
        bin: &str,
        redis: &str,
        id: &str,
        port: u16,
        grace: Duration,
        node_timeout: Duration,
    ) -> Self {
        NODES.fetch_add(1, Ordering::Relaxed);
        let mut child = Command::new(bin)
            .args([
                "--port",
                &port.to_string(),
                "--redis",
                redis,
                "--node-id",
                id,
                "--grace-ms",
                &grace.as_millis().to_string(),
                "--node-timeout-ms",
                &node_timeout.as_millis().to_string(),
                "--send-queue-bytes",
                &(1usize << 20).to_string(),
            ])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(Duration::from_secs(20), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = line.strip_prefix("LISTENING ") {
                    return addr.parse::<SocketAddr>().unwrap();
                }
            }
            panic!("node {id} exited before serving")
        })
        .await
        .expect("the node serves within 20 s");
        // Keep reading its output so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            id: id.to_owned(),
            addr,
            child: Some(child),
        }
    }

    /// `http://<addr>/chsk`.
    pub fn url(&self) -> String {
        format!("http://{}/chsk", self.addr)
    }

    /// `http://<addr>`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `kill -9`.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

pub mod balancer;
pub mod switch;
