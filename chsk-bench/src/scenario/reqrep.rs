//! Request/reply: `c` connections × `k` requests in flight each, every reply immediately
//! followed by the next request on its slot.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    client::{self, classify, err, to_message, Error, Ws},
    stats::{self, percentile, Tally},
    wire::{self, In, Proto},
};

/// The sweep the bench runs: (connections, requests in flight per connection).
pub const SWEEP: &[(usize, usize)] = &[(1, 1), (1, 8), (1, 64), (10, 8), (100, 8)];

/// A request/reply measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct RrResult {
    /// Connections.
    pub conns: usize,
    /// Requests in flight per connection.
    pub inflight: usize,
    /// Round trips per second.
    pub rps: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// Server CPU (fraction of one core) during the measurement.
    pub server_cpu: f64,
    /// Load-client CPU (this process, fraction of one core) during the measurement.
    pub client_cpu: f64,
    /// Error replies, unexpected messages or dead connections seen.
    pub errors: u64,
}

/// `conns` connections with `inflight` requests each, kept full for `warmup + measure`; replies
/// received during `measure` are counted.
pub async fn reqrep(
    addr: SocketAddr,
    proto: Proto,
    pid: u32,
    conns: usize,
    inflight: usize,
    warmup: Duration,
    measure: Duration,
) -> Result<RrResult, Error> {
    let socks = client::connect_users(addr, proto, 0, conns, 32).await?;
    let start = Instant::now();
    let t_measure = start + warmup;
    let t_end = t_measure + measure;
    let msg = wire::sample_msg();
    let reqs: Arc<Vec<Message>> = Arc::new(
        (0..inflight)
            .map(|s| to_message(wire::request(proto, s as u32, &msg)))
            .collect(),
    );
    let tasks: Vec<JoinHandle<Tally>> = socks
        .into_iter()
        .map(|ws| tokio::spawn(rr_conn(ws, proto, reqs.clone(), t_measure, t_end)))
        .collect();
    let (server_cpu, client_cpu) = stats::cpu_window(pid, t_measure, t_end).await;
    let all = Tally::gather(tasks).await.map_err(err)?;
    Ok(RrResult {
        conns,
        inflight,
        rps: all.count as f64 / measure.as_secs_f64(),
        p50_us: percentile(&all.lats, 0.50),
        p99_us: percentile(&all.lats, 0.99),
        server_cpu,
        client_cpu,
        errors: all.errors,
    })
}

/// One connection of the request/reply load: the replies in the window, errors, and the
/// latencies of those replies.
async fn rr_conn(
    mut ws: Ws,
    proto: Proto,
    reqs: Arc<Vec<Message>>,
    t_measure: Instant,
    t_end: Instant,
) -> Tally {
    let inflight = reqs.len();
    let mut sent_at = vec![Instant::now(); inflight];
    let mut t = Tally {
        lats: Vec::with_capacity(1 << 16),
        ..Tally::default()
    };
    for (slot, req) in reqs.iter().enumerate() {
        sent_at[slot] = Instant::now();
        if ws.feed(req.clone()).await.is_err() {
            t.errors = 1;
            return t;
        }
    }
    if ws.flush().await.is_err() {
        t.errors = 1;
        return t;
    }
    let mut outstanding = inflight;
    let hard_stop = t_end + Duration::from_secs(5);
    while outstanding > 0 {
        let left = hard_stop.saturating_duration_since(Instant::now());
        let first = match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(m))) => m,
            _ => {
                t.errors += outstanding as u64;
                break;
            }
        };
        let mut next = Some(first);
        let mut handled = 0;
        while let Some(msg) = next.take() {
            match classify(proto, &msg) {
                In::Reply(slot) if (slot as usize) < inflight => {
                    let slot = slot as usize;
                    let now = Instant::now();
                    if now >= t_measure && now < t_end {
                        t.count += 1;
                        t.lats
                            .push(stats::micros(now.duration_since(sent_at[slot])));
                    }
                    if now < t_end {
                        sent_at[slot] = now;
                        if ws.feed(reqs[slot].clone()).await.is_err() {
                            t.errors += 1;
                            return t;
                        }
                    } else {
                        outstanding -= 1;
                    }
                }
                In::Ping => {
                    if let Some(p) = wire::pong(proto) {
                        let _ = ws.feed(to_message(p)).await;
                    }
                }
                In::Reply(_) | In::Other => t.errors += 1,
                _ => {}
            }
            handled += 1;
            if handled < 256 {
                if let Some(Some(Ok(m))) = ws.next().now_or_never() {
                    next = Some(m);
                }
            }
        }
        if ws.flush().await.is_err() {
            t.errors += 1;
            break;
        }
    }
    let _ = ws.close(None).await;
    t
}

/// The result of `proto` at `conns` × `inflight` among `results`.
pub fn find(
    results: &[(Proto, RrResult)],
    proto: Proto,
    conns: usize,
    inflight: usize,
) -> Option<&RrResult> {
    results
        .iter()
        .find(|(p, r)| *p == proto && r.conns == conns && r.inflight == inflight)
        .map(|(_, r)| r)
}
