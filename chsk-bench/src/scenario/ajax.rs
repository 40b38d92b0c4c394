//! Ajax long-poll (chsk only): request/reply over `POST` while every client holds a long poll,
//! then the latency of a push to all clients until every poll has returned it.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use tokio::{sync::mpsc, task::JoinHandle};

use crate::{
    client::{err, Error},
    http::{self, HttpConn},
    stats::{self, percentile, Tally},
    wire::{self, classify_bin, In, Out, Proto},
};

/// The Ajax long-poll measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct AjaxResult {
    /// Clients.
    pub clients: usize,
    /// Request/reply round trips per second (POST → reply), all clients.
    pub rps: f64,
    /// Round trip p50, µs.
    pub rt_p50_us: f64,
    /// Round trip p99, µs.
    pub rt_p99_us: f64,
    /// Push latency (trigger → every long-poll has it) p50, µs.
    pub push_p50_us: f64,
    /// Push latency p99, µs.
    pub push_p99_us: f64,
    /// Push latency with `Flush::Now` p50, µs.
    pub push_now_p50_us: f64,
    /// Push latency with `Flush::Now` p99, µs.
    pub push_now_p99_us: f64,
    /// Server CPU during the round trips.
    pub server_cpu: f64,
}

/// The chsk path of Ajax client `i`.
fn path(i: usize) -> String {
    format!("/chsk?v=2&client-id=a{i}&uid=u{i}")
}

/// Opens a connection and makes the Ajax handshake of the client at chsk path `path` on it.
pub async fn handshake(addr: SocketAddr, path: &str) -> Result<HttpConn, Error> {
    let mut c = HttpConn::connect(addr).await.map_err(err)?;
    let r = c
        .request("GET", &format!("{path}&handshake=1"), None, &[])
        .await
        .map_err(err)?;
    if r.status != 200 || classify_bin(Proto::Chsk, &r.body) != In::Open {
        return Err(format!(
            "ajax handshake: {} {:?}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    Ok(c)
}

/// Ajax long-poll: `clients` clients doing request/reply over POST (one in flight each) for
/// `warmup + measure` while their long polls are held, then `push_rounds` pushes to all
/// clients, each timed from the trigger until every client's poll has returned it: first with
/// the default (coalescing) flush, then with `Flush::Now`.
pub async fn ajax(
    addr: SocketAddr,
    pid: u32,
    clients: usize,
    warmup: Duration,
    measure: Duration,
    push_rounds: usize,
) -> Result<AjaxResult, Error> {
    // Handshakes.
    let mut polls = Vec::with_capacity(clients);
    for i in 0..clients {
        polls.push(handshake(addr, &path(i)).await?);
    }
    // Long polls, reporting every push they return.
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, u32, Instant)>();
    let poll_tasks: Vec<JoinHandle<()>> = polls
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            let tx = tx.clone();
            let p = path(i);
            tokio::spawn(async move {
                while let Ok(r) = c.request("GET", &p, None, &[]).await {
                    if r.status != 200 {
                        return;
                    }
                    if let In::Push(n) = classify_bin(Proto::Chsk, &r.body) {
                        let _ = tx.send((i, n, Instant::now()));
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let result = async {
        let (rt, server_cpu) = round_trips(addr, pid, clients, warmup, measure).await?;
        // Push latency: one push to all clients per round.
        let mut push = [Vec::new(), Vec::new()];
        for (k, flush) in ["", "&flush=now"].iter().enumerate() {
            for _ in 0..push_rounds {
                // let every client's next poll reach the server
                tokio::time::sleep(Duration::from_millis(20)).await;
                let t0 = Instant::now();
                let r = http::get(addr, &format!("/trigger?mode=all&m=1&n={clients}{flush}"))
                    .await
                    .map_err(err)?;
                if r.status != 200 {
                    return Err(format!("trigger: {}", r.status));
                }
                let mut seen = 0;
                while seen < clients {
                    match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
                        Ok(Some((_, n, at))) => {
                            seen += n as usize;
                            push[k].push(stats::micros(at.duration_since(t0)));
                        }
                        _ => return Err("a pushed event did not reach every Ajax client".into()),
                    }
                }
            }
            push[k].sort_unstable();
        }
        Ok(AjaxResult {
            clients,
            rps: rt.count as f64 / measure.as_secs_f64(),
            rt_p50_us: percentile(&rt.lats, 0.5),
            rt_p99_us: percentile(&rt.lats, 0.99),
            push_p50_us: percentile(&push[0], 0.5),
            push_p99_us: percentile(&push[0], 0.99),
            push_now_p50_us: percentile(&push[1], 0.5),
            push_now_p99_us: percentile(&push[1], 0.99),
            server_cpu,
        })
    }
    .await;
    for t in poll_tasks {
        t.abort();
    }
    result
}

/// Request/reply over POST on a second keep-alive connection per client, one in flight each,
/// for `warmup + measure`: the round trips of the measured window and the server's CPU use.
async fn round_trips(
    addr: SocketAddr,
    pid: u32,
    clients: usize,
    warmup: Duration,
    measure: Duration,
) -> Result<(Tally, f64), Error> {
    let start = Instant::now();
    let t_measure = start + warmup;
    let t_end = t_measure + measure;
    let body = match wire::request(Proto::Chsk, 0, &wire::sample_msg()) {
        Out::Bin(b) => b,
        Out::Text(t) => t.into_bytes().into(),
    };
    let mut posters = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut c = HttpConn::connect(addr).await.map_err(err)?;
        let p = path(i);
        let body = body.clone();
        posters.push(tokio::spawn(async move {
            let mut t = Tally::default();
            loop {
                let sent = Instant::now();
                if sent >= t_end {
                    break;
                }
                match c
                    .request("POST", &p, Some("application/octet-stream"), &body)
                    .await
                {
                    Ok(r)
                        if r.status == 200
                            && classify_bin(Proto::Chsk, &r.body) == In::Reply(0) =>
                    {
                        let now = Instant::now();
                        if now >= t_measure && now < t_end {
                            t.count += 1;
                            t.lats.push(stats::micros(now.duration_since(sent)));
                        }
                    }
                    _ => {
                        t.errors += 1;
                        break;
                    }
                }
            }
            t
        }));
    }
    let (server_cpu, _) = stats::cpu_window(pid, t_measure, t_end).await;
    let all = Tally::gather(posters).await.map_err(err)?;
    if all.errors > 0 {
        return Err(format!("{} Ajax request/reply errors", all.errors));
    }
    Ok((all, server_cpu))
}
