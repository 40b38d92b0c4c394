//! The reconnect storm after an outage: `clients` WebSocket clients, each its own user, keep
//! the positions of their handshake and of every run pushed to them; their sockets are all
//! closed (the outage), pushes go on meanwhile (to all and to every user), then every client
//! reconnects at once with `since`. Timed until every client has its `recovered: true`
//! handshake and every event it missed, each client checking that none is missing, none
//! came twice and all came in order.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use chsk::{
    protocol::{format_since, Frame, Handshake, Position, StreamKind},
    Codec,
};
use futures_util::{stream::FuturesUnordered, StreamExt};
use tokio::{
    sync::{watch, Notify},
    task::JoinHandle,
};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    client::{self, classify, err, Error, Ws},
    http::HttpConn,
    proc,
    scenario::rec::metrics,
    wire::{push_runs, In, Proto},
};

/// Connections opened at once before the outage.
const CONNECT_PARALLEL: usize = 64;
/// Reconnections under way at once in the storm.
const RECONNECT_PARALLEL: usize = 256;
/// Pushes during the outage: a round (one to all, one to every user) this often.
const ROUND: Duration = Duration::from_millis(100);

/// What the storm measured.
#[derive(Debug, Clone, Default)]
pub struct StormResult {
    /// Clients.
    pub clients: usize,
    /// How long their sockets were closed, ms.
    pub outage_ms: f64,
    /// Push rounds during the outage (each one push to all and one to every user).
    pub rounds: u64,
    /// Events each client missed (and must be replayed).
    pub missed_per_client: u64,
    /// Seconds to open the connections before the outage.
    pub connect_secs: f64,
    /// Seconds from the start of the reconnections until the last `recovered: true` handshake.
    pub handshakes_secs: f64,
    /// Seconds from the start of the reconnections until every client had every missed event.
    pub recovered_secs: f64,
    /// Server CPU during the storm, seconds.
    pub server_cpu_secs: f64,
    /// Load-client CPU during the storm (one thread, the clients' side), seconds.
    pub client_cpu_secs: f64,
    /// Clients recovered completely and correctly.
    pub ok: usize,
    /// Why clients failed (the first few), and how many did.
    pub failures: Vec<String>,
    /// Clients that failed.
    pub failed: usize,
    /// The server's `recoveries`, `recoveries_failed` and `pushes_replayed` over the storm.
    pub server: (u64, u64, u64),
}

/// Where a client is in each of its streams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Streams([Option<Position>; 3]);

fn slot(kind: StreamKind) -> usize {
    match kind {
        StreamKind::All => 0,
        StreamKind::User => 1,
        StreamKind::Client => 2,
    }
}

impl Streams {
    fn of(positions: &[Position]) -> Streams {
        let mut s = Streams::default();
        for p in positions {
            s.0[slot(p.stream)] = Some(*p);
        }
        s
    }

    /// Takes a run of `n` events at `at`: it must follow the last event of its stream.
    fn advance(&mut self, at: Position, n: u32) -> Result<(), String> {
        let cur = &mut self.0[slot(at.stream)];
        match cur {
            Some(c) if c.epoch == at.epoch && c.seq + 1 == at.seq => {
                c.seq += u64::from(n);
                Ok(())
            }
            _ => Err(format!("run at {at} after {cur:?}")),
        }
    }

    /// Takes the runs of a message; the events it holds (volatile ones too).
    fn take(&mut self, msg: &Message) -> Result<u64, String> {
        let Message::Binary(b) = msg else {
            return Ok(0);
        };
        let (mut events, mut bad) = (0u64, Ok(()));
        push_runs(b, |at, n| {
            events += u64::from(n);
            if let (Some(at), Ok(())) = (at, &bad) {
                bad = self.advance(at, n);
            }
        })
        .ok_or("malformed push")?;
        bad.map(|()| events)
    }

    fn since(&self) -> String {
        let at: Vec<Position> = self.0.iter().flatten().copied().collect();
        format_since(&at)
    }
}

/// The path of client `i` (user `u<i>`), with `since` when it has positions.
fn path(i: usize, since: Option<&Streams>) -> String {
    let base = format!("/chsk?v=2&client-id=r{i}&uid=u{i}");
    match since {
        Some(s) => format!("{base}&since={}", s.since()),
        None => base,
    }
}

/// Opens client `i`'s connection; its handshake.
async fn open(addr: SocketAddr, path: &str) -> Result<(Ws, Handshake), Error> {
    let (ws, msg) = client::open(addr, Proto::Chsk, path).await?;
    match msg.map(Message::into_data) {
        Some(b) => match Codec::Postcard.decode_frame(&b) {
            Ok(Frame::Handshake(h)) => Ok((ws, h)),
            other => Err(format!("not a handshake: {other:?}")),
        },
        None => Err("no handshake".into()),
    }
}

/// A client before the outage: counts its events into `got` and follows its positions until
/// `stop`, then drops its socket; where it was.
async fn live(
    mut ws: Ws,
    mut at: Streams,
    mut stop: watch::Receiver<bool>,
    got: Arc<AtomicU64>,
    more: Arc<Notify>,
) -> Result<Streams, String> {
    loop {
        let msg = tokio::select! {
            _ = stop.changed() => return Ok(at),
            m = ws.next() => match m {
                Some(Ok(m)) => m,
                _ => return Err("closed before the outage".into()),
            },
        };
        if classify(Proto::Chsk, &msg) == In::Ping {
            client::answer_ping(&mut ws, Proto::Chsk)
                .await
                .map_err(err)?;
            continue;
        }
        let n = at.take(&msg)?;
        got.fetch_add(n, Ordering::Relaxed);
        more.notify_one();
    }
}

/// One reconnection: the handshake must say `recovered: true` and repeat the client's
/// positions; then exactly `missed` events must follow in order, after which the client is
/// where `expect` says. The socket (kept open until every client is done) and when the
/// handshake and the last event came.
async fn recover(
    addr: SocketAddr,
    i: usize,
    at: Streams,
    expect: Streams,
    missed: u64,
) -> Result<(Ws, Instant, Instant), String> {
    let (mut ws, h) = open(addr, &path(i, Some(&at))).await?;
    let shaken = Instant::now();
    if !h.recovered {
        return Err(format!("client {i}: recovered: false"));
    }
    if Streams::of(&h.positions) != at {
        return Err(format!("client {i}: handshake positions {:?}", h.positions));
    }
    let mut now = at;
    let mut got = 0;
    while got < missed {
        let msg = match tokio::time::timeout(Duration::from_secs(60), ws.next()).await {
            Ok(Some(Ok(m))) => m,
            _ => {
                return Err(format!(
                    "client {i}: {got} of {missed} events, then nothing"
                ))
            }
        };
        if classify(Proto::Chsk, &msg) == In::Ping {
            client::answer_ping(&mut ws, Proto::Chsk)
                .await
                .map_err(err)?;
            continue;
        }
        got += now.take(&msg).map_err(|e| format!("client {i}: {e}"))?;
    }
    if got != missed || now != expect {
        return Err(format!(
            "client {i}: {got} of {missed} events, at {} (expected {})",
            now.since(),
            expect.since()
        ));
    }
    Ok((ws, shaken, Instant::now()))
}

/// A `/trigger` that must answer 200.
async fn trigger(http: &mut HttpConn, query: &str) -> Result<(), Error> {
    let r = http.request("GET", query, None, &[]).await.map_err(err)?;
    if r.status != 200 {
        return Err(format!("{query}: {} {:?}", r.status, r.body));
    }
    Ok(())
}

/// One push to all and one to each of the `n` users.
async fn round(http: &mut HttpConn, n: usize) -> Result<(), Error> {
    trigger(http, "/trigger?mode=all&m=1").await?;
    trigger(http, &format!("/trigger?mode=users&m=1&n={n}")).await
}

/// Runs the storm against the chsk server at `addr` (process `pid`).
pub async fn storm(
    addr: SocketAddr,
    pid: u32,
    clients: usize,
    outage: Duration,
) -> Result<StormResult, Error> {
    let mut res = StormResult {
        clients,
        ..StormResult::default()
    };
    let mut http = HttpConn::connect(addr).await.map_err(err)?;
    // Connect, and one round of pushes received by everyone (positions past 0).
    let t0 = Instant::now();
    let mut opening = FuturesUnordered::new();
    let mut socks = Vec::with_capacity(clients);
    let mut next = 0;
    while socks.len() < clients {
        while next < clients && opening.len() < CONNECT_PARALLEL {
            let i = next;
            opening.push(async move { (i, open(addr, &path(i, None)).await) });
            next += 1;
        }
        match opening.next().await {
            Some((i, Ok((ws, h)))) => socks.push((i, ws, Streams::of(&h.positions))),
            Some((i, Err(e))) => return Err(format!("connecting client {i}: {e}")),
            None => break,
        }
    }
    res.connect_secs = t0.elapsed().as_secs_f64();
    let (stop, stopped) = watch::channel(false);
    let (got, more) = (Arc::new(AtomicU64::new(0)), Arc::new(Notify::new()));
    let lives: Vec<(usize, JoinHandle<Result<Streams, String>>)> = socks
        .into_iter()
        .map(|(i, ws, at)| {
            let task = live(ws, at, stopped.clone(), got.clone(), more.clone());
            (i, tokio::spawn(task))
        })
        .collect();
    round(&mut http, clients).await?;
    while got.load(Ordering::Relaxed) < 2 * clients as u64 {
        if tokio::time::timeout(Duration::from_secs(30), more.notified())
            .await
            .is_err()
        {
            let n = got.load(Ordering::Relaxed);
            return Err(format!("before the outage: {n} of {} events", 2 * clients));
        }
    }
    // The outage: every socket closed, pushes meanwhile.
    let _ = stop.send(true);
    let mut positions = Vec::with_capacity(clients);
    for (i, task) in lives {
        match task.await {
            Ok(Ok(at)) => positions.push((i, at)),
            Ok(Err(e)) => return Err(format!("client {i} before the outage: {e}")),
            Err(e) => return Err(format!("client {i}: {e}")),
        }
    }
    let out = Instant::now();
    while out.elapsed() < outage {
        round(&mut http, clients).await?;
        res.rounds += 1;
        tokio::time::sleep_until((out + ROUND * res.rounds as u32).into()).await;
    }
    res.outage_ms = out.elapsed().as_secs_f64() * 1e3;
    res.missed_per_client = 2 * res.rounds;
    // The storm.
    let before = metrics(&mut http).await?;
    let ticks = (proc::cpu_ticks(pid), proc::cpu_ticks(std::process::id()));
    let t0 = Instant::now();
    let mut pending = FuturesUnordered::new();
    let mut held = Vec::with_capacity(clients);
    let mut queue = positions.into_iter();
    let (mut last_shake, mut last_done) = (t0, t0);
    loop {
        while pending.len() < RECONNECT_PARALLEL {
            let Some((i, at)) = queue.next() else { break };
            let mut expect = at;
            for kind in [StreamKind::All, StreamKind::User] {
                if let Some(p) = &mut expect.0[slot(kind)] {
                    p.seq += res.rounds;
                }
            }
            pending.push(recover(addr, i, at, expect, res.missed_per_client));
        }
        match pending.next().await {
            Some(Ok((ws, shaken, done))) => {
                held.push(ws);
                last_shake = last_shake.max(shaken);
                last_done = last_done.max(done);
                res.ok += 1;
            }
            Some(Err(e)) => {
                res.failed += 1;
                if res.failures.len() < 5 {
                    res.failures.push(e);
                }
            }
            None => break,
        }
    }
    let secs = |pid: u32, from: u64| {
        proc::cpu_ticks(pid).saturating_sub(from) as f64 / proc::TICKS_PER_SEC
    };
    res.server_cpu_secs = secs(pid, ticks.0);
    res.client_cpu_secs = secs(std::process::id(), ticks.1);
    res.handshakes_secs = last_shake.duration_since(t0).as_secs_f64();
    res.recovered_secs = last_done.duration_since(t0).as_secs_f64();
    let after = metrics(&mut http).await?;
    let delta = |k: &str| after.get(k).saturating_sub(before.get(k));
    res.server = (
        delta("recoveries"),
        delta("recoveries_failed"),
        delta("pushes_replayed"),
    );
    drop(held);
    Ok(res)
}
