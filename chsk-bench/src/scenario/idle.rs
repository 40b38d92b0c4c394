//! Idle connections: the server's RSS per open, idle WebSocket, per idle Ajax client, and the
//! size of the task each WebSocket connection runs.

use std::{
    convert::Infallible,
    marker::PhantomData,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures_util::{Sink, Stream, StreamExt};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    client::{self, classify, err, Error, Ws},
    http::{self, HttpConn},
    proc, servers,
    wire::{In, Proto},
};

/// RSS of the server at a number of idle connections.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdlePoint {
    /// Open, idle connections.
    pub conns: usize,
    /// Server RSS, KiB.
    pub rss_kib: u64,
    /// (RSS − RSS with the first 10 connections) / the connections opened since, bytes.
    pub bytes_per_conn: f64,
    /// Seconds it took to open the connections of this step (64 handshakes in parallel).
    pub connect_secs: f64,
    /// chsk only: one push to all (`Target::All`), from the trigger until every open
    /// connection had it, ms (median of 3).
    pub broadcast_ms: Option<f64>,
}

/// Opens idle connections up to each count in `steps` and reads the server's RSS at each.
pub async fn idle(
    addr: SocketAddr,
    proto: Proto,
    pid: u32,
    steps: &[usize],
) -> Result<(u64, Vec<IdlePoint>), Error> {
    // A few connections first so lazily-initialised server state is not charged to the
    // per-connection figure; they stay open and are counted.
    let base_socks = client::connect_users(addr, proto, 0, 10, 10).await?;
    let (got_tx, mut got_rx) = mpsc::unbounded_channel::<Instant>();
    let mut held: Vec<JoinHandle<String>> = base_socks
        .into_iter()
        .map(|ws| tokio::spawn(hold(ws, proto, got_tx.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = proc::rss_kib(pid);
    let mut points = Vec::new();
    for &target in steps {
        let have = held.len();
        let t0 = Instant::now();
        if target > have {
            let socks = client::connect_users(addr, proto, have, target - have, 64).await?;
            held.extend(
                socks
                    .into_iter()
                    .map(|ws| tokio::spawn(hold(ws, proto, got_tx.clone()))),
            );
        }
        let connect_secs = t0.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let rss = proc::rss_kib(pid);
        let live = held.iter().filter(|h| !h.is_finished()).count();
        if live < held.len() {
            let n = held.len();
            let mut why = String::new();
            for h in held {
                if h.is_finished() {
                    why = h.await.unwrap_or_default();
                    break;
                }
            }
            return Err(format!(
                "{} of {n} idle connections closed (one: {why})",
                n - live,
            ));
        }
        let broadcast_ms = if proto == Proto::Chsk {
            Some(broadcast(addr, held.len(), &mut got_rx).await?)
        } else {
            None
        };
        points.push(IdlePoint {
            conns: held.len(),
            rss_kib: rss,
            bytes_per_conn: (rss.saturating_sub(base) as f64 * 1024.0) / (held.len() - 10) as f64,
            connect_secs,
            broadcast_ms,
        });
    }
    for h in held {
        h.abort();
    }
    Ok((base, points))
}

/// Times one push to all `n` open connections (each reports its arrival on `got`), three
/// times: the median, ms.
async fn broadcast(
    addr: SocketAddr,
    n: usize,
    got: &mut mpsc::UnboundedReceiver<Instant>,
) -> Result<f64, Error> {
    let mut times = Vec::new();
    for _ in 0..3 {
        let t0 = Instant::now();
        let resp = http::get(addr, "/trigger?mode=all&m=1&n=1")
            .await
            .map_err(err)?;
        if resp.status != 200 {
            return Err(format!("broadcast trigger: {}", resp.status));
        }
        let mut last = t0;
        for i in 0..n {
            match tokio::time::timeout(Duration::from_secs(60), got.recv()).await {
                Ok(Some(at)) => last = last.max(at),
                _ => return Err(format!("broadcast: {i} of {n} connections got it")),
            }
        }
        times.push(last.duration_since(t0).as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    times.sort_by(f64::total_cmp);
    Ok(times[1])
}

/// The server's memory per idle Ajax client (chsk only).
#[derive(Debug, Clone, Copy, Default)]
pub struct AjaxIdle {
    /// Clients.
    pub clients: usize,
    /// Bytes of RSS per client between polls: handshaken, no connection open (the server's
    /// state for the client alone).
    pub between_polls: f64,
    /// Bytes of RSS per client while each holds a long poll (its HTTP connection, the waiting
    /// poll and the client's state).
    pub polling: f64,
}

/// The chsk path of idle Ajax client `i`.
fn ajax_path(i: usize) -> String {
    format!("/chsk?v=2&client-id=idle{i}&uid=u{i}")
}

/// Handshakes Ajax clients `first..first + n`, 64 at a time, each on a connection of its own
/// that is closed after the handshake.
async fn ajax_handshakes(addr: SocketAddr, first: usize, n: usize) -> Result<(), Error> {
    let mut next = first;
    while next < first + n {
        let batch: Vec<_> = (next..(next + 64).min(first + n))
            .map(|i| tokio::spawn(async move { super::ajax::handshake(addr, &ajax_path(i)).await }))
            .collect();
        next += batch.len();
        for h in batch {
            drop(h.await.map_err(err)??); // closed: the client is between polls
        }
    }
    Ok(())
}

/// `n` idle Ajax clients: the server's RSS per client between polls (right after their
/// handshakes, within the server's `ajax_grace`), then while each holds a long poll (within
/// `lp_timeout`).
pub async fn idle_ajax(addr: SocketAddr, pid: u32, n: usize) -> Result<AjaxIdle, Error> {
    // A few clients first, so lazily-initialised server state is not charged to the others.
    ajax_handshakes(addr, 0, 10).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let base = proc::rss_kib(pid);
    ajax_handshakes(addr, 10, n).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let between = proc::rss_kib(pid);
    let polls: Vec<JoinHandle<()>> = (10..10 + n)
        .map(|i| {
            tokio::spawn(async move {
                if let Ok(mut c) = HttpConn::connect(addr).await {
                    // Answered after `lp_timeout` (20 s), long after the reading below.
                    let _ = c.request("GET", &ajax_path(i), None, &[]).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let polling = proc::rss_kib(pid);
    let finished = polls.iter().filter(|h| h.is_finished()).count();
    for h in polls {
        h.abort();
    }
    if finished > 0 {
        return Err(format!("{finished} of {n} long polls ended early"));
    }
    let per = |kib: u64| (kib.saturating_sub(base) as f64 * 1024.0) / n as f64;
    Ok(AjaxIdle {
        clients: n,
        between_polls: per(between),
        polling: per(polling),
    })
}

/// Holds an idle connection open, answering protocol pings and reporting when a push arrives;
/// returns why it ended.
async fn hold(mut ws: Ws, proto: Proto, got: mpsc::UnboundedSender<Instant>) -> String {
    loop {
        let msg = match ws.next().await {
            Some(Ok(msg)) => msg,
            Some(Err(e)) => return format!("read error: {e}"),
            None => return "closed".into(),
        };
        match classify(proto, &msg) {
            In::Ping => {
                if let Err(e) = client::answer_ping(&mut ws, proto).await {
                    return format!("write error: {e}");
                }
            }
            In::Push(_) => {
                let _ = got.send(Instant::now());
            }
            _ => {
                if let Message::Close(frame) = &msg {
                    return format!("close frame {frame:?}");
                }
                if let Message::Binary(b) = &msg {
                    if b.first() == Some(&9) {
                        return format!("chsk Close frame {:?}", String::from_utf8_lossy(&b[1..]));
                    }
                }
            }
        }
    }
}

/// The size of the task one WebSocket connection runs, before its first poll, with the socket
/// itself not counted (a zero-sized socket stands in for it).
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskSizes {
    /// chsk's `Server::serve_ws` future, bytes (`None` if the handshake was refused).
    pub chsk: Option<usize>,
    /// The raw server's `/echo` loop, bytes.
    pub raw: usize,
}

/// A socket of messages `M` that holds nothing: it never yields a message and accepts every one.
struct NullSocket<M>(PhantomData<fn() -> M>);

impl<M> Stream for NullSocket<M> {
    type Item = Result<M, Infallible>;
    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(None)
    }
}

impl<M> Sink<M> for NullSocket<M> {
    type Error = Infallible;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(self: Pin<&mut Self>, _: M) -> Result<(), Infallible> {
        Ok(())
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
}

/// Measures [`TaskSizes`]: the futures are made (chsk's after accepting a handshake request for
/// `?v=2&client-id=c0&uid=u0`) and dropped unpolled. The sizes are fixed at compile time.
pub fn task_sizes() -> TaskSizes {
    let server = servers::chsk::chsk_server();
    let request = axum::http::Request::get("/chsk?v=2&client-id=c0&uid=u0")
        .body(())
        .map(|r| chsk::server::HandshakeRequest::new(r.into_parts().0));
    let chsk = request
        .ok()
        .and_then(|r| server.accept(r).ok())
        .map(|accepted| std::mem::size_of_val(&server.serve_ws(accepted, NullSocket(PhantomData))));
    let raw = std::mem::size_of_val(&servers::raw::echo_loop(NullSocket(PhantomData)));
    TaskSizes { chsk, raw }
}
