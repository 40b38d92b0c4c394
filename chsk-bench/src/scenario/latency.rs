//! Single push latency at a low rate: one client, one push at a time with a pause between
//! (nothing to coalesce with), timed from the trigger until the client has the push. Over a
//! WebSocket (chsk and the raw server, the same trigger path for both) and over a waiting Ajax
//! long-poll (chsk).

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::{
    client::{self, classify, err, Error},
    http::HttpConn,
    stats::{self, percentile},
    wire::{classify_bin, In, Proto},
};

/// How a single push reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A WebSocket.
    Ws,
    /// A waiting Ajax long-poll (chsk only).
    Ajax,
}

/// One latency measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct LatResult {
    /// Pushes timed.
    pub rounds: usize,
    /// Trigger → received, p50, µs.
    pub p50_us: f64,
    /// Trigger → received, p99, µs.
    pub p99_us: f64,
}

/// The pause between two pushes: a low rate, every push alone.
pub const PAUSE: Duration = Duration::from_millis(10);

/// `rounds` single pushes to one client (user `u0`) of the server at `addr`, `PAUSE` apart;
/// each is triggered with `GET /trigger?mode=users&m=1&n=1` on a kept-alive HTTP connection
/// (opened once, so no round pays for a TCP handshake) and timed until the client has it.
pub async fn latency(
    addr: SocketAddr,
    proto: Proto,
    via: Via,
    rounds: usize,
) -> Result<LatResult, Error> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Instant>();
    let task = match via {
        Via::Ws => {
            let ws = client::connect(addr, proto, &client::ws_path(proto, 0, "u0", true)).await?;
            tokio::spawn(ws_reader(ws, proto, tx))
        }
        Via::Ajax => tokio::spawn(ajax_reader(addr, tx)),
    };
    let result = async {
        let mut trigger = HttpConn::connect(addr).await.map_err(err)?;
        let mut lats = Vec::with_capacity(rounds);
        // Two untimed rounds first (connection set up, caches warm).
        for round in 0..rounds + 2 {
            // the pause also lets an Ajax client's next poll reach the server
            tokio::time::sleep(PAUSE).await;
            let t0 = Instant::now();
            let r = trigger
                .request("GET", "/trigger?mode=users&m=1&n=1", None, &[])
                .await
                .map_err(err)?;
            if r.status != 200 {
                return Err(format!("trigger: {}", r.status));
            }
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some(at)) if round >= 2 => lats.push(stats::micros(at.duration_since(t0))),
                Ok(Some(_)) => {}
                _ => return Err("a push did not arrive".into()),
            }
        }
        lats.sort_unstable();
        Ok(LatResult {
            rounds,
            p50_us: percentile(&lats, 0.5),
            p99_us: percentile(&lats, 0.99),
        })
    }
    .await;
    task.abort();
    result
}

/// Reports the arrival of every push on a WebSocket.
async fn ws_reader(mut ws: client::Ws, proto: Proto, tx: mpsc::UnboundedSender<Instant>) {
    while let Some(Ok(msg)) = ws.next().await {
        let seen = match (proto, classify(proto, &msg)) {
            // a raw push is one binary message
            (Proto::Raw, In::Reply(_)) => In::Push(1),
            (_, seen) => seen,
        };
        match seen {
            In::Push(_) => {
                let _ = tx.send(Instant::now());
            }
            In::Ping => {
                let _ = client::answer_ping(&mut ws, proto).await;
            }
            _ => {}
        }
    }
}

/// An Ajax client of user `u0`: a handshake, then long-polls, reporting every push answer.
async fn ajax_reader(addr: SocketAddr, tx: mpsc::UnboundedSender<Instant>) {
    let path = "/chsk?v=2&client-id=lat0&uid=u0";
    let Ok(mut c) = HttpConn::connect(addr).await else {
        return;
    };
    match c
        .request("GET", &format!("{path}&handshake=1"), None, &[])
        .await
    {
        Ok(r) if r.status == 200 => {}
        _ => return,
    }
    while let Ok(r) = c.request("GET", path, None, &[]).await {
        if r.status != 200 {
            return;
        }
        if let In::Push(_) = classify_bin(Proto::Chsk, &r.body) {
            let _ = tx.send(Instant::now());
        }
    }
}
