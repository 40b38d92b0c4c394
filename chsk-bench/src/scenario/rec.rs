//! Recovery (issue 11): what keeping the push history costs and what it buys. A steady push
//! load against chsk with its history and without ([`Load`]: pushes/s and server CPU per
//! delivered push), the memory a retained push takes ([`memory`]), and the reconnect storm
//! after an outage ([`super::storm`]).

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use tokio::{sync::Notify, task::JoinHandle};

use crate::{
    client::{self, classify, err, Error, Ws},
    http::HttpConn,
    proc,
    wire::{In, Proto},
};

/// A steady push load measured against one server.
#[derive(Debug, Clone, Copy, Default)]
pub struct SteadyResult {
    /// The server kept its push history (otherwise `without_history()`).
    pub history: bool,
    /// `users` (every push to one user, each client its own user) or `all` (`Target::All`).
    pub mode: &'static str,
    /// Clients receiving.
    pub clients: usize,
    /// Events delivered to the clients in the measured windows.
    pub delivered: u64,
    /// Length of the measured windows together, seconds.
    pub secs: f64,
    /// Server CPU in the measured windows, seconds (clock ticks of 10 ms).
    pub cpu_secs: f64,
}

impl SteadyResult {
    /// Events delivered per second.
    pub fn pushes_per_s(&self) -> f64 {
        self.delivered as f64 / self.secs.max(1e-9)
    }

    /// Server CPU per delivered event, µs.
    pub fn cpu_us_per_push(&self) -> f64 {
        self.cpu_secs * 1e6 / self.delivered.max(1) as f64
    }
}

/// Clients of one server receiving pushes, counted together; the server is pushed to through
/// its `/trigger` on one keep-alive connection.
#[derive(Debug)]
pub struct Load {
    pid: u32,
    clients: usize,
    got: Arc<AtomicU64>,
    more: Arc<Notify>,
    readers: Vec<JoinHandle<()>>,
    http: HttpConn,
}

impl Load {
    /// Connects `clients` WebSocket clients to the chsk server at `addr` (process `pid`),
    /// client `i` as the user `u<i>`.
    pub async fn start(addr: SocketAddr, pid: u32, clients: usize) -> Result<Load, Error> {
        let socks = client::connect_many(addr, Proto::Chsk, clients, 32, |i| {
            client::ws_path(Proto::Chsk, i, &format!("u{i}"), true)
        })
        .await?;
        let got = Arc::new(AtomicU64::new(0));
        let more = Arc::new(Notify::new());
        let readers = socks
            .into_iter()
            .map(|ws| tokio::spawn(count(ws, got.clone(), more.clone())))
            .collect();
        Ok(Load {
            pid,
            clients,
            got,
            more,
            readers,
            http: HttpConn::connect(addr).await.map_err(err)?,
        })
    }

    /// Pushes for `window`: triggers of `m` events per user (`users`) or `m` events to all
    /// (`all`), each waited for until every client has its events; returns the events
    /// delivered, the seconds taken and the server's CPU clock ticks.
    pub async fn window(
        &mut self,
        mode: &str,
        m: u32,
        window: Duration,
    ) -> Result<(u64, f64, u64), Error> {
        let start = self.got.load(Ordering::Relaxed);
        let mut expected = start;
        let ticks = proc::cpu_ticks(self.pid);
        let t0 = Instant::now();
        while t0.elapsed() < window {
            let path = format!("/trigger?mode={mode}&m={m}&n={}", self.clients);
            let r = self
                .http
                .request("GET", &path, None, &[])
                .await
                .map_err(err)?;
            let sent: u64 = match std::str::from_utf8(&r.body).map(str::parse) {
                Ok(Ok(n)) if r.status == 200 => n,
                _ => return Err(format!("trigger: {} {:?}", r.status, r.body)),
            };
            expected += sent;
            while self.got.load(Ordering::Relaxed) < expected {
                if tokio::time::timeout(Duration::from_secs(30), self.more.notified())
                    .await
                    .is_err()
                {
                    let got = self.got.load(Ordering::Relaxed) - start;
                    return Err(format!(
                        "{mode}: {got} of {} pushes arrived",
                        expected - start
                    ));
                }
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        let ticks = proc::cpu_ticks(self.pid).saturating_sub(ticks);
        Ok((self.got.load(Ordering::Relaxed) - start, secs, ticks))
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for r in &self.readers {
            r.abort();
        }
    }
}

/// Counts the events a client receives into `got`, answering pings.
async fn count(mut ws: Ws, got: Arc<AtomicU64>, more: Arc<Notify>) {
    while let Some(Ok(msg)) = ws.next().await {
        match classify(Proto::Chsk, &msg) {
            In::Push(n) => {
                got.fetch_add(u64::from(n), Ordering::Relaxed);
                more.notify_one();
            }
            In::Ping => {
                let _ = client::answer_ping(&mut ws, Proto::Chsk).await;
            }
            _ => {}
        }
    }
}

/// Runs the steady load against both servers, `(history, load)`, window by window in turns
/// (`reps` windows of `window` per server and mode, so that a change in the machine's load
/// hits both alike); returns one result per server and mode.
pub async fn steady(
    loads: &mut [(bool, Load)],
    m: u32,
    window: Duration,
    reps: usize,
) -> Result<Vec<SteadyResult>, Error> {
    let mut out = Vec::new();
    for mode in ["users", "all"] {
        // warm-up: every stream exists and the buffers have grown
        for (_, load) in loads.iter_mut() {
            load.window(mode, m, Duration::from_millis(300)).await?;
        }
        let first = out.len();
        for (history, load) in loads.iter() {
            out.push(SteadyResult {
                history: *history,
                mode,
                clients: load.clients,
                ..SteadyResult::default()
            });
        }
        for _ in 0..reps {
            for (i, (_, load)) in loads.iter_mut().enumerate() {
                let (delivered, secs, ticks) = load.window(mode, m, window).await?;
                let r = &mut out[first + i];
                r.delivered += delivered;
                r.secs += secs;
                r.cpu_secs += ticks as f64 / proc::TICKS_PER_SEC;
            }
        }
    }
    Ok(out)
}

/// Memory of retained pushes: what one server says it keeps and its RSS growth.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemResult {
    /// The server kept its push history.
    pub history: bool,
    /// Pushes made (to users nobody is connected as).
    pub pushes: u64,
    /// Users (one stream each) they went to.
    pub users: u64,
    /// `Metrics::history_events` afterwards.
    pub history_events: u64,
    /// `Metrics::history_bytes` afterwards.
    pub history_bytes: u64,
    /// RSS growth over the pushes, KiB (negative: it shrank).
    pub rss_delta_kib: i64,
}

/// Pushes `per_user` events to each of `users` users nobody is connected as (a kept push is
/// retained all the same), then reads the server's history gauges and its RSS growth.
pub async fn memory(
    addr: SocketAddr,
    pid: u32,
    history: bool,
    users: u32,
    per_user: u32,
) -> Result<MemResult, Error> {
    let mut http = HttpConn::connect(addr).await.map_err(err)?;
    // one push per user first: the streams' maps and the allocator's arenas exist
    let trigger = |m: u32| format!("/trigger?mode=users&m={m}&n={users}");
    http.request("GET", &trigger(1), None, &[])
        .await
        .map_err(err)?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = metrics(&mut http).await?;
    let rss_before = proc::rss_kib(pid);
    let r = http
        .request("GET", &trigger(per_user), None, &[])
        .await
        .map_err(err)?;
    if r.status != 200 {
        return Err(format!("trigger: {} {:?}", r.status, r.body));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_after = proc::rss_kib(pid);
    let after = metrics(&mut http).await?;
    let delta = |k: &str| after.get(k).saturating_sub(before.get(k));
    Ok(MemResult {
        history,
        pushes: u64::from(users) * u64::from(per_user),
        users: u64::from(users),
        history_events: delta("history_events"),
        history_bytes: delta("history_bytes"),
        rss_delta_kib: rss_after as i64 - rss_before as i64,
    })
}

/// The server's counters (`GET /metrics`).
#[derive(Debug, Clone, Default)]
pub struct Counters(serde_json::Map<String, serde_json::Value>);

impl Counters {
    /// A counter (0 if absent).
    pub fn get(&self, name: &str) -> u64 {
        self.0
            .get(name)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    }
}

/// Reads the server's counters.
pub async fn metrics(http: &mut HttpConn) -> Result<Counters, Error> {
    let r = http
        .request("GET", "/metrics", None, &[])
        .await
        .map_err(err)?;
    match serde_json::from_slice(&r.body) {
        Ok(serde_json::Value::Object(map)) if r.status == 200 => Ok(Counters(map)),
        _ => Err(format!("/metrics: {} {:?}", r.status, r.body)),
    }
}
