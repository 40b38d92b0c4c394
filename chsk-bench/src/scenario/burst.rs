//! Bursts and bounded memory (`chsk-bench burst`): the chsk server's RSS while it pushes about
//! 100 MB at once, to one slow (or normal) client, or fanned out to 1,000 clients, with the
//! server's own accounting of what was written and what was dropped, and why.
//!
//! Each case runs against a fresh `chsk-bench serve chsk` process (so its `VmHWM`, the peak RSS
//! since it started, belongs to that case alone). The server's RSS is sampled every 50 ms on a
//! thread of the bench; the push loop runs in the server (`GET /burst`), and the counters come
//! from its `GET /metrics` ([`chsk::server::Metrics`]) once every connection has closed.
//! The table is `report::burst`'s.

use std::{
    collections::HashMap,
    fmt::Write as _,
    net::SocketAddr,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use tokio::{net::TcpSocket, task::JoinHandle};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    client::{self, err, Error, Ws},
    http,
    proc::{self, RssSampler, ServerProc},
    servers::chsk::BurstReply,
    units::group_digits,
    wire::{self, In, Proto},
};

/// The slow reader's pace: it reads at most this many bytes per second (it sleeps after a
/// message until its average is back under the rate).
pub const SLOW_READ_BYTES_PER_S: f64 = 2.0 * 1024.0 * 1024.0;

/// The slow reader's socket receive buffer (`SO_RCVBUF`, set before connecting; Linux doubles
/// it), so that the kernel does not absorb the burst for it.
pub const SLOW_RCVBUF: u32 = 16 * 1024;

/// How long one case may run, from the trigger to the last client's end.
pub const CASE_LIMIT: Duration = Duration::from_secs(20);

/// One burst scenario.
#[derive(Debug, Clone)]
pub struct BurstCase {
    /// What the row is called.
    pub label: String,
    /// WebSocket clients (each its own user `u<i>`).
    pub clients: usize,
    /// Whether the (single) client reads slowly ([`SLOW_READ_BYTES_PER_S`], [`SLOW_RCVBUF`]).
    pub slow: bool,
    /// Push to all (`Target::All`) rather than to the user `u0`.
    pub to_all: bool,
    /// Pushes (events), each to every client the target reaches.
    pub events: u32,
    /// Bytes of filler per event.
    pub size: usize,
    /// `Flush::Now` instead of the default (coalescing) `Flush::Batched`.
    pub flush_now: bool,
    /// Pushes between pauses (0: unpaced, one synchronous loop).
    pub chunk: u32,
    /// Pause after each chunk, ms.
    pub pause_ms: u64,
}

impl BurstCase {
    /// How the pushes are made, for the table.
    pub fn how(&self) -> String {
        let flush = if self.flush_now {
            "`Flush::Now`"
        } else {
            "batched"
        };
        if self.chunk == 0 {
            format!("{flush}, unpaced")
        } else {
            format!("{flush}, paced ({} per {} ms)", self.chunk, self.pause_ms)
        }
    }
}

/// What one case measured.
#[derive(Debug, Clone, Default)]
pub struct BurstResult {
    /// The case.
    pub label: String,
    /// How the pushes were made.
    pub how: String,
    /// Clients connected.
    pub clients: usize,
    /// Pushes × clients the burst offered.
    pub offered: u64,
    /// Server RSS with the clients connected, before the burst, KiB.
    pub rss_before: u64,
    /// Largest RSS sampled from the trigger until `rss_after`, KiB.
    pub rss_peak: u64,
    /// `VmHWM` (peak RSS since the server started) at the end, KiB.
    pub hwm: u64,
    /// RSS one second after the burst settled (every client done or closed), KiB.
    pub rss_after: u64,
    /// RSS once every connection had closed (the clients still open closed after
    /// `rss_after`), half a second later, KiB.
    pub rss_closed: u64,
    /// RSS samples taken.
    pub samples: usize,
    /// The server's answer to the trigger.
    pub reply: BurstReply,
    /// The server's counters once every connection had closed.
    pub metrics: HashMap<String, u64>,
    /// Pushed events the clients received, all together.
    pub received: u64,
    /// Clients that received every event.
    pub complete: usize,
    /// Time from the trigger until every client had every event, ms (when all did).
    pub all_ms: Option<f64>,
    /// Time from the trigger until the last client's reading ended (everything received, or
    /// the connection closed), ms.
    pub end_ms: f64,
    /// How the clients' reading ended (distinct outcomes, with counts).
    pub ends: String,
}

impl BurstResult {
    /// The server's counter `k` once every connection had closed (0 if absent).
    pub fn m(&self, k: &str) -> u64 {
        self.metrics.get(k).copied().unwrap_or(0)
    }
}

/// How a client's reading ended.
#[derive(Debug)]
struct ClientOut {
    pushes: u64,
    done_at: Option<Instant>,
    ended_at: Instant,
    end: String,
}

/// Opens the slow client: a small receive buffer, then the chsk handshake.
async fn slow_connect(addr: SocketAddr, path: &str) -> Result<Ws, Error> {
    let sock = TcpSocket::new_v4().map_err(err)?;
    sock.set_recv_buffer_size(SLOW_RCVBUF).map_err(err)?;
    let tcp = sock.connect(addr).await.map_err(err)?;
    client::connect_on(tcp, addr, Proto::Chsk, path).await
}

/// Reads pushes until `expect` arrived, the connection ended, or `deadline`; with `rate`, at
/// most that many bytes per second. A client that got everything is returned still open.
async fn read_client(
    mut ws: Ws,
    rate: Option<f64>,
    expect: u64,
    deadline: Instant,
) -> (ClientOut, Option<Ws>) {
    let start = Instant::now();
    let (mut pushes, mut bytes) = (0u64, 0u64);
    let mut end = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = match tokio::time::timeout(left, ws.next()).await {
            Err(_) => {
                end.push_str("still open at the deadline");
                break;
            }
            Ok(None) => {
                end.push_str(if end.is_empty() { "EOF" } else { ", EOF" });
                break;
            }
            Ok(Some(Err(e))) => {
                let sep = if end.is_empty() { "" } else { ", " };
                let _ = write!(end, "{sep}read error ({e})");
                break;
            }
            Ok(Some(Ok(m))) => m,
        };
        match &msg {
            Message::Binary(b) => {
                bytes += b.len() as u64;
                match wire::classify_bin(Proto::Chsk, b) {
                    In::Push(n) => pushes += u64::from(n),
                    In::Ping => {
                        let _ = client::answer_ping(&mut ws, Proto::Chsk).await;
                    }
                    _ => {
                        if let Ok(chsk::protocol::Frame::Close { reason }) =
                            chsk::Codec::Postcard.decode_frame(b)
                        {
                            let _ = write!(end, "chsk Close \"{reason}\"");
                        }
                    }
                }
            }
            Message::Close(frame) => {
                let sep = if end.is_empty() { "" } else { ", " };
                match frame {
                    Some(f) => {
                        let _ = write!(end, "{sep}WebSocket close {}", u16::from(f.code));
                    }
                    None => {
                        let _ = write!(end, "{sep}WebSocket close");
                    }
                }
                break;
            }
            _ => {}
        }
        if pushes >= expect {
            let out = ClientOut {
                pushes,
                done_at: Some(Instant::now()),
                ended_at: Instant::now(),
                end: "got everything".into(),
            };
            return (out, Some(ws));
        }
        if let Some(rate) = rate {
            let due = start + Duration::from_secs_f64(bytes as f64 / rate);
            if due > Instant::now() + Duration::from_millis(1) {
                tokio::time::sleep_until(due.min(deadline).into()).await;
            }
        }
    }
    let out = ClientOut {
        pushes,
        done_at: None,
        ended_at: Instant::now(),
        end,
    };
    (out, None)
}

async fn metrics(addr: SocketAddr) -> Result<HashMap<String, u64>, Error> {
    let r = tokio::time::timeout(Duration::from_secs(10), http::get(addr, "/metrics"))
        .await
        .map_err(|_| "GET /metrics timed out".to_string())?
        .map_err(err)?;
    serde_json::from_slice(&r.body).map_err(|e| format!("/metrics: {e}"))
}

/// Runs one case against a fresh chsk server process.
pub async fn run_case(case: &BurstCase) -> Result<BurstResult, Error> {
    let server = ServerProc::spawn("chsk").map_err(err)?;
    let (addr, pid) = (server.addr, server.pid());
    let socks = if case.slow {
        vec![slow_connect(addr, &client::ws_path(Proto::Chsk, 0, "u0", true)).await?]
    } else {
        client::connect_many(addr, Proto::Chsk, case.clients, 64, |i| {
            client::ws_path(Proto::Chsk, i, &format!("u{i}"), true)
        })
        .await?
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = proc::rss_kib(pid);
    let sampler = RssSampler::start(pid, Duration::from_millis(50));
    let t0 = Instant::now();
    let deadline = t0 + CASE_LIMIT;
    let expect = u64::from(case.events);
    let rate = case.slow.then_some(SLOW_READ_BYTES_PER_S);
    let readers: Vec<JoinHandle<(ClientOut, Option<Ws>)>> = socks
        .into_iter()
        .map(|ws| tokio::spawn(read_client(ws, rate, expect, deadline)))
        .collect();
    let query = format!(
        "/burst?to={}&uid=u0&m={}&size={}&flush={}&chunk={}&pause_ms={}",
        if case.to_all { "all" } else { "user" },
        case.events,
        case.size,
        if case.flush_now { "now" } else { "batched" },
        case.chunk,
        case.pause_ms
    );
    let trigger = tokio::time::timeout(CASE_LIMIT, http::get(addr, &query)).await;
    let reply: BurstReply = match trigger {
        Ok(Ok(r)) if r.status == 200 => {
            serde_json::from_slice(&r.body).map_err(|e| format!("/burst: {e}"))?
        }
        Ok(Ok(r)) => return Err(format!("/burst: {}", r.status)),
        Ok(Err(e)) => return Err(format!("/burst: {e}")),
        Err(_) => return Err("/burst timed out".into()),
    };
    let mut held = Vec::new();
    let (mut received, mut complete, mut last) = (0u64, 0usize, None::<Instant>);
    let mut ended = t0;
    let mut ends: Vec<(String, usize)> = Vec::new();
    for r in readers {
        let (out, ws) = r.await.map_err(err)?;
        received += out.pushes;
        ended = ended.max(out.ended_at);
        if let Some(at) = out.done_at {
            complete += 1;
            last = Some(last.map_or(at, |l: Instant| l.max(at)));
        }
        match ends.iter_mut().find(|(e, _)| *e == out.end) {
            Some((_, n)) => *n += 1,
            None => ends.push((out.end, 1)),
        }
        held.extend(ws);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = proc::rss_kib(pid);
    let (rss_peak, samples) = sampler.stop();
    let hwm = proc::hwm_kib(pid);
    // Close the clients still open, then wait (bounded) until the server has closed every
    // connection, so that its accounting is complete.
    drop(held);
    let settle_until = Instant::now() + Duration::from_secs(5);
    let mut m = metrics(addr).await?;
    while m.get("ws_closed") != m.get("ws_opened") && Instant::now() < settle_until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        m = metrics(addr).await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_closed = proc::rss_kib(pid);
    let all_ms = (complete == case.clients)
        .then(|| last.map(|l| l.duration_since(t0).as_secs_f64() * 1e3))
        .flatten();
    let ends = ends
        .iter()
        .map(|(e, n)| {
            if case.clients > 1 {
                format!("{n}× {e}")
            } else {
                e.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    Ok(BurstResult {
        label: case.label.clone(),
        how: case.how(),
        clients: case.clients,
        offered: u64::from(case.events) * case.clients as u64,
        rss_before,
        rss_peak,
        hwm,
        rss_after,
        rss_closed,
        samples,
        reply,
        metrics: m,
        received,
        complete,
        all_ms,
        end_ms: ended.duration_since(t0).as_secs_f64() * 1e3,
        ends,
    })
}

/// The cases of `chsk-bench burst`: 100,000 × 1 KiB pushes to one client (slow, then reading
/// normally), then 100 × 1 KiB to each of 1,000 clients, batched and `Flush::Now`, unpaced
/// and paced; last 1,000 × 1 KiB to each of 200 clients (batches as large as a frame may be).
pub fn cases() -> Vec<BurstCase> {
    let one = |slow: bool, flush_now: bool, paced: bool| BurstCase {
        label: if slow {
            "1 slow client (reads 2 MiB/s, 16 KiB SO_RCVBUF), 100,000 × 1 KiB to its user".into()
        } else {
            "1 client reading normally, 100,000 × 1 KiB to its user".into()
        },
        clients: 1,
        slow,
        to_all: false,
        events: 100_000,
        size: 1024,
        flush_now,
        chunk: if paced { 500 } else { 0 },
        pause_ms: if paced { 5 } else { 0 },
    };
    let all = |clients: usize, events: u32, flush_now: bool, paced: bool| BurstCase {
        label: format!(
            "{} clients reading normally, {} × 1 KiB to all",
            group_digits(clients as u64),
            group_digits(u64::from(events))
        ),
        clients,
        slow: false,
        to_all: true,
        events,
        size: 1024,
        flush_now,
        chunk: if paced { 10 } else { 0 },
        pause_ms: if paced { 10 } else { 0 },
    };
    let mut v = Vec::new();
    for slow in [true, false] {
        for paced in [false, true] {
            for now in [false, true] {
                v.push(one(slow, now, paced));
            }
        }
    }
    for paced in [false, true] {
        for now in [false, true] {
            v.push(all(1000, 100, now, paced));
        }
    }
    // The same bytes per client in ~1 MiB batches (the frame bound) instead of 100 KiB ones.
    for now in [false, true] {
        v.push(all(200, 1000, now, false));
    }
    v
}
