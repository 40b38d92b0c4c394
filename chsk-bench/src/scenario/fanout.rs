//! Fan-out: clients connect, then `GET /trigger` makes the server push a burst of events to
//! every client; timed from the trigger until the last client has counted all of them.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use tokio::{sync::mpsc, task::JoinHandle};

use crate::{
    client::{self, classify, err, Error, Ws},
    http,
    proc::CpuMeter,
    wire::{In, Proto},
};

/// One fan-out case of the table.
#[derive(Debug, Clone, Copy)]
pub struct FanCase {
    /// The row's label.
    pub label: &'static str,
    /// Every client is the one user `u0` (otherwise client `i` is the user `u<i>`).
    pub one_user: bool,
    /// The trigger's mode for chsk (`users`: one push per user, `all`: one push to all).
    pub chsk_mode: &'static str,
    /// The trigger's mode for the baselines (`users`: one send per client, `all`: a broadcast).
    pub base_mode: &'static str,
    /// Run against chsk only (its baselines are then those of [`FanCase::baselines_of`]).
    pub chsk_only: bool,
    /// Appended to the trigger's query.
    pub extra: &'static str,
    /// For a chsk-only case: the case whose baseline figures it is compared with.
    pub baselines_of: Option<&'static str>,
}

const DISTINCT: &str = "distinct users: each client its own user, every event pushed to each user";

/// The cases of the table.
pub const CASES: [FanCase; 4] = [
    FanCase {
        label: DISTINCT,
        one_user: false,
        chsk_mode: "users",
        base_mode: "users",
        chsk_only: false,
        extra: "",
        baselines_of: None,
    },
    FanCase {
        label: "distinct users, chsk with `Flush::Now` (a frame per push)",
        one_user: false,
        chsk_mode: "users",
        base_mode: "users",
        chsk_only: true,
        extra: "&flush=now",
        baselines_of: Some(DISTINCT),
    },
    FanCase {
        label: "one user: every client of one user, every event pushed to the user",
        one_user: true,
        chsk_mode: "users",
        base_mode: "all",
        chsk_only: false,
        extra: "",
        baselines_of: None,
    },
    FanCase {
        label: "all: clients of distinct users, every event pushed to all",
        one_user: false,
        chsk_mode: "all",
        base_mode: "all",
        chsk_only: false,
        extra: "",
        baselines_of: None,
    },
];

/// A fan-out measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct FanResult {
    /// Clients.
    pub clients: usize,
    /// Events pushed to each client.
    pub events: u32,
    /// Time from the trigger until the last client had every event (median of the rounds), ms.
    pub ms: f64,
    /// Events delivered per second (clients × events / time).
    pub pushes_per_s: f64,
    /// Server CPU (fraction of one core) during the rounds.
    pub server_cpu: f64,
    /// Load-client CPU (fraction of one core) during the rounds.
    pub client_cpu: f64,
}

/// How much a fan-out run pushes.
#[derive(Debug, Clone, Copy)]
pub struct FanSize {
    /// Clients.
    pub clients: usize,
    /// Events per client and round.
    pub events: u32,
    /// Measured rounds (after a 10-event warm-up round).
    pub rounds: usize,
}

/// `size.clients` clients (each its own user, or all one user); `size.rounds` times the server
/// is triggered to push `size.events` events to each client, as `case` says for `proto`.
pub async fn fanout(
    addr: SocketAddr,
    proto: Proto,
    pid: u32,
    case: &FanCase,
    size: FanSize,
) -> Result<FanResult, Error> {
    let FanSize {
        clients,
        events,
        rounds,
    } = size;
    let one_user = case.one_user;
    let (mode, extra) = (
        if proto == Proto::Chsk {
            case.chsk_mode
        } else {
            case.base_mode
        },
        case.extra,
    );
    let socks = client::connect_many(addr, proto, clients, 32, |i| {
        let user = if one_user {
            "u0".to_string()
        } else {
            format!("u{i}")
        };
        client::ws_path(proto, i, &user, true)
    })
    .await?;
    let users = if one_user { 1 } else { clients };
    // Warm-up round of 10 events, then the measured rounds.
    let warm = 10u32;
    let mut targets = vec![u64::from(warm)];
    for r in 1..=rounds as u64 {
        targets.push(u64::from(warm) + r * u64::from(events));
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Instant)>();
    let tasks: Vec<JoinHandle<()>> = socks
        .into_iter()
        .map(|ws| tokio::spawn(fan_conn(ws, proto, targets.clone(), tx.clone())))
        .collect();
    drop(tx);
    let mut times = Vec::new();
    let mut cpu = None;
    let result = async {
        for (round, m) in std::iter::once(warm)
            .chain(std::iter::repeat_n(events, rounds))
            .enumerate()
        {
            if round == 1 {
                cpu = Some((CpuMeter::start(pid), CpuMeter::start(std::process::id())));
            }
            let t0 = Instant::now();
            let resp = http::get(
                addr,
                &format!("/trigger?mode={mode}&m={m}&n={users}{extra}"),
            )
            .await
            .map_err(err)?;
            if resp.status != 200 {
                return Err(format!(
                    "trigger: {} {}",
                    resp.status,
                    String::from_utf8_lossy(&resp.body)
                ));
            }
            let mut last = t0;
            for _ in 0..clients {
                match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
                    Ok(Some((r, at))) if r == round => last = last.max(at),
                    Ok(Some((r, _))) => return Err(format!("round {r} report in round {round}")),
                    _ => return Err(format!("round {round}: not every client got its pushes")),
                }
            }
            if round > 0 {
                times.push(last.duration_since(t0).as_secs_f64());
            }
        }
        Ok(())
    }
    .await;
    let (server_cpu, client_cpu) = cpu.map(|(s, c)| (s.stop(), c.stop())).unwrap_or_default();
    for t in tasks {
        t.abort();
    }
    result?;
    times.sort_by(f64::total_cmp);
    let secs = times[times.len() / 2];
    Ok(FanResult {
        clients,
        events,
        ms: secs * 1e3,
        pushes_per_s: clients as f64 * f64::from(events) / secs,
        server_cpu,
        client_cpu,
    })
}

async fn fan_conn(
    mut ws: Ws,
    proto: Proto,
    targets: Vec<u64>,
    done: mpsc::UnboundedSender<(usize, Instant)>,
) {
    let mut got = 0u64;
    let mut round = 0;
    while round < targets.len() {
        let Some(Ok(msg)) = ws.next().await else {
            return;
        };
        let seen = match (proto, classify(proto, &msg)) {
            // a raw push is one binary message
            (Proto::Raw, In::Reply(_)) => In::Push(1),
            (_, seen) => seen,
        };
        match seen {
            In::Push(n) => {
                got += u64::from(n);
                while round < targets.len() && got >= targets[round] {
                    let _ = done.send((round, Instant::now()));
                    round += 1;
                }
            }
            In::Ping => {
                let _ = client::answer_ping(&mut ws, proto).await;
            }
            _ => {}
        }
    }
    let _ = ws.close(None).await;
}
