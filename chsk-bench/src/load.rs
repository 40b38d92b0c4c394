//! The load client: raw sockets (tokio-tungstenite) speaking each protocol's frames directly,
//! so that the client does as little as possible and the server is what is measured.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::{stream::FuturesUnordered, FutureExt, SinkExt, StreamExt};
use tokio::{net::TcpStream, sync::mpsc, task::JoinHandle};
use tokio_tungstenite::{
    client_async_with_config,
    tungstenite::{protocol::WebSocketConfig, Message},
    WebSocketStream,
};

use crate::{
    http,
    proc::CpuMeter,
    wire::{self, classify_bin, classify_text, In, Out, Proto},
};

/// A client WebSocket.
pub type Ws = WebSocketStream<TcpStream>;

/// A boxed error message.
pub type Error = String;

fn err(e: impl std::fmt::Display) -> Error {
    e.to_string()
}

/// Converts an outgoing message.
pub fn to_message(out: Out) -> Message {
    match out {
        Out::Bin(b) => Message::Binary(b),
        Out::Text(t) => Message::Text(t.into()),
    }
}

/// Classifies a received message.
pub fn classify(proto: Proto, msg: &Message) -> In {
    match msg {
        Message::Binary(b) => classify_bin(proto, b),
        Message::Text(t) => classify_text(proto, t.as_str()),
        _ => In::Other,
    }
}

/// The WebSocket path of each server (`user` selects the chsk user id; the raw server's
/// `/push` route registers the connection for pushes).
pub fn ws_path(proto: Proto, client: usize, user: &str, push: bool) -> String {
    match proto {
        Proto::Raw if push => "/push".into(),
        Proto::Raw => "/echo".into(),
        Proto::Sio => "/socket.io/?EIO=4&transport=websocket".into(),
        Proto::Chsk => format!("/chsk?client-id=c{client}&uid={user}"),
    }
}

/// Opens a WebSocket and completes the protocol's handshake (sio: `0{…}` → `40` → `40{…}`;
/// chsk: the `Handshake` frame).
pub async fn connect(addr: SocketAddr, proto: Proto, path: &str) -> Result<Ws, Error> {
    let tcp = TcpStream::connect(addr).await.map_err(err)?;
    connect_on(tcp, addr, proto, path).await
}

/// [`connect`] on a TCP connection already opened (e.g. with a small receive buffer).
pub async fn connect_on(
    tcp: TcpStream,
    addr: SocketAddr,
    proto: Proto,
    path: &str,
) -> Result<Ws, Error> {
    tcp.set_nodelay(true).map_err(err)?;
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let (mut ws, _) = client_async_with_config(format!("ws://{addr}{path}"), tcp, Some(config))
        .await
        .map_err(err)?;
    if proto == Proto::Raw {
        return Ok(ws);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => return Err(err(e)),
            Ok(None) => return Err("closed during handshake".into()),
            Err(_) => return Err("handshake timed out".into()),
        };
        match classify(proto, &msg) {
            In::EioOpen => ws.send(Message::Text("40".into())).await.map_err(err)?,
            In::Open => return Ok(ws),
            In::Ping => {
                if let Some(p) = wire::pong(proto) {
                    ws.send(to_message(p)).await.map_err(err)?;
                }
            }
            _ => {}
        }
    }
}

/// Opens `n` connections, `parallel` at a time; `path(i)` gives each one's path.
pub async fn connect_many(
    addr: SocketAddr,
    proto: Proto,
    n: usize,
    parallel: usize,
    path: impl Fn(usize) -> String,
) -> Result<Vec<Ws>, Error> {
    let mut out = Vec::with_capacity(n);
    let mut pending = FuturesUnordered::new();
    let mut next = 0;
    while out.len() < n {
        while next < n && pending.len() < parallel {
            let p = path(next);
            pending.push(async move { connect(addr, proto, &p).await });
            next += 1;
        }
        match pending.next().await {
            Some(Ok(ws)) => out.push(ws),
            Some(Err(e)) => return Err(format!("connection {} of {n}: {e}", out.len())),
            None => break,
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Request/reply

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
    let socks = connect_many(addr, proto, conns, 32, |i| {
        ws_path(proto, i, &format!("u{i}"), false)
    })
    .await?;
    let start = Instant::now();
    let t_measure = start + warmup;
    let t_end = t_measure + measure;
    let msg = wire::sample_msg();
    let reqs: Arc<Vec<Message>> = Arc::new(
        (0..inflight)
            .map(|s| to_message(wire::request(proto, s as u32, &msg)))
            .collect(),
    );
    let tasks: Vec<JoinHandle<(u64, u64, Vec<u32>)>> = socks
        .into_iter()
        .map(|ws| tokio::spawn(rr_conn(ws, proto, reqs.clone(), t_measure, t_end)))
        .collect();
    tokio::time::sleep_until(t_measure.into()).await;
    let cpu = CpuMeter::start(pid);
    let me = CpuMeter::start(std::process::id());
    tokio::time::sleep_until(t_end.into()).await;
    let server_cpu = cpu.stop();
    let client_cpu = me.stop();
    let (mut count, mut errors, mut lats) = (0u64, 0u64, Vec::new());
    for t in tasks {
        let (c, e, l) = t.await.map_err(err)?;
        count += c;
        errors += e;
        lats.extend(l);
    }
    lats.sort_unstable();
    Ok(RrResult {
        conns,
        inflight,
        rps: count as f64 / measure.as_secs_f64(),
        p50_us: percentile(&lats, 0.50),
        p99_us: percentile(&lats, 0.99),
        server_cpu,
        client_cpu,
        errors,
    })
}

/// The `q` quantile of sorted samples.
pub fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)])
}

/// One connection of the request/reply load: returns (replies in the window, errors,
/// latencies in µs of those replies).
async fn rr_conn(
    mut ws: Ws,
    proto: Proto,
    reqs: Arc<Vec<Message>>,
    t_measure: Instant,
    t_end: Instant,
) -> (u64, u64, Vec<u32>) {
    let inflight = reqs.len();
    let mut sent_at = vec![Instant::now(); inflight];
    let mut count = 0u64;
    let mut errors = 0u64;
    let mut lats = Vec::with_capacity(1 << 16);
    for (slot, req) in reqs.iter().enumerate() {
        sent_at[slot] = Instant::now();
        if ws.feed(req.clone()).await.is_err() {
            return (0, 1, lats);
        }
    }
    if ws.flush().await.is_err() {
        return (0, 1, lats);
    }
    let mut outstanding = inflight;
    let hard_stop = t_end + Duration::from_secs(5);
    while outstanding > 0 {
        let left = hard_stop.saturating_duration_since(Instant::now());
        let first = match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(m))) => m,
            _ => {
                errors += outstanding as u64;
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
                        count += 1;
                        let us = now.duration_since(sent_at[slot]).as_micros();
                        lats.push(u32::try_from(us).unwrap_or(u32::MAX));
                    }
                    if now < t_end {
                        sent_at[slot] = now;
                        if ws.feed(reqs[slot].clone()).await.is_err() {
                            return (count, errors + 1, lats);
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
                In::Reply(_) | In::Other => errors += 1,
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
            errors += 1;
            break;
        }
    }
    let _ = ws.close(None).await;
    (count, errors, lats)
}

// ---------------------------------------------------------------------------------------------
// Fan-out

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

/// `clients` clients (each its own user, or all one user); `rounds` times the server is
/// triggered to push `events` events to each client (`mode`: `users` = one send per user,
/// `all` = one broadcast; for chsk `users` with `one_user` = one push to the shared user);
/// `extra` is appended to the trigger's query (`&flush=now`).
#[allow(clippy::too_many_arguments)]
pub async fn fanout(
    addr: SocketAddr,
    proto: Proto,
    pid: u32,
    clients: usize,
    one_user: bool,
    mode: &str,
    events: u32,
    rounds: usize,
    extra: &str,
) -> Result<FanResult, Error> {
    let socks = connect_many(addr, proto, clients, 32, |i| {
        let user = if one_user {
            "u0".to_string()
        } else {
            format!("u{i}")
        };
        ws_path(proto, i, &user, true)
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
                if let Some(p) = wire::pong(proto) {
                    let _ = ws.send(to_message(p)).await;
                }
            }
            _ => {}
        }
    }
    let _ = ws.close(None).await;
}

// ---------------------------------------------------------------------------------------------
// Idle connections

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
    let base_socks = connect_many(addr, proto, 10, 10, |i| {
        ws_path(proto, i, &format!("u{i}"), false)
    })
    .await?;
    let mut held: Vec<JoinHandle<String>> = base_socks
        .into_iter()
        .map(|ws| tokio::spawn(hold(ws, proto)))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = crate::proc::rss_kib(pid);
    let mut points = Vec::new();
    for &target in steps {
        let have = held.len();
        let t0 = Instant::now();
        if target > have {
            let socks = connect_many(addr, proto, target - have, 64, |i| {
                let i = have + i;
                ws_path(proto, i, &format!("u{i}"), false)
            })
            .await?;
            held.extend(socks.into_iter().map(|ws| tokio::spawn(hold(ws, proto))));
        }
        let connect_secs = t0.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let rss = crate::proc::rss_kib(pid);
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
        points.push(IdlePoint {
            conns: held.len(),
            rss_kib: rss,
            bytes_per_conn: (rss.saturating_sub(base) as f64 * 1024.0) / (held.len() - 10) as f64,
            connect_secs,
        });
    }
    for h in held {
        h.abort();
    }
    Ok((base, points))
}

/// Holds an idle connection open, answering protocol pings; returns why it ended.
async fn hold(mut ws: Ws, proto: Proto) -> String {
    loop {
        let msg = match ws.next().await {
            Some(Ok(msg)) => msg,
            Some(Err(e)) => return format!("read error: {e}"),
            None => return "closed".into(),
        };
        match classify(proto, &msg) {
            In::Ping => {
                if let Some(p) = wire::pong(proto) {
                    if let Err(e) = ws.send(to_message(p)).await {
                        return format!("write error: {e}");
                    }
                }
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

// ---------------------------------------------------------------------------------------------
// Ajax long-poll (chsk only)

/// Ajax long-poll: `clients` clients doing request/reply over POST (one in flight each) for
/// `warmup + measure` while their long polls are held, then `push_rounds` pushes to all
/// clients, each timed from the trigger until every client's poll has returned it: first with
/// the default batching window, then with `Flush::Now`.
pub async fn ajax(
    addr: SocketAddr,
    pid: u32,
    clients: usize,
    warmup: Duration,
    measure: Duration,
    push_rounds: usize,
) -> Result<AjaxResult, Error> {
    let path = |i: usize| format!("/chsk?client-id=a{i}&uid=u{i}");
    // Handshakes.
    let mut polls = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut c = http::HttpConn::connect(addr).await.map_err(err)?;
        let r = c
            .request("GET", &format!("{}&handshake=1", path(i)), None, &[])
            .await
            .map_err(err)?;
        if r.status != 200 || classify_bin(Proto::Chsk, &r.body) != In::Open {
            return Err(format!(
                "ajax handshake: {} {:?}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
        }
        polls.push(c);
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
        // Request/reply over POST.
        let start = Instant::now();
        let t_measure = start + warmup;
        let t_end = t_measure + measure;
        let body = match wire::request(Proto::Chsk, 0, &wire::sample_msg()) {
            Out::Bin(b) => b,
            Out::Text(t) => t.into_bytes().into(),
        };
        let mut posters = Vec::with_capacity(clients);
        for i in 0..clients {
            let mut c = http::HttpConn::connect(addr).await.map_err(err)?;
            let p = path(i);
            let body = body.clone();
            posters.push(tokio::spawn(async move {
                let (mut count, mut errors, mut lats) = (0u64, 0u64, Vec::new());
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
                                count += 1;
                                lats.push(
                                    u32::try_from(now.duration_since(sent).as_micros())
                                        .unwrap_or(u32::MAX),
                                );
                            }
                        }
                        _ => {
                            errors += 1;
                            break;
                        }
                    }
                }
                (count, errors, lats)
            }));
        }
        tokio::time::sleep_until(t_measure.into()).await;
        let cpu = CpuMeter::start(pid);
        tokio::time::sleep_until(t_end.into()).await;
        let server_cpu = cpu.stop();
        let (mut count, mut errors, mut lats) = (0u64, 0u64, Vec::new());
        for p in posters {
            let (c, e, l) = p.await.map_err(err)?;
            count += c;
            errors += e;
            lats.extend(l);
        }
        if errors > 0 {
            return Err(format!("{errors} Ajax request/reply errors"));
        }
        lats.sort_unstable();
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
                            push[k].push(
                                u32::try_from(at.duration_since(t0).as_micros())
                                    .unwrap_or(u32::MAX),
                            );
                        }
                        _ => return Err("a pushed event did not reach every Ajax client".into()),
                    }
                }
            }
            push[k].sort_unstable();
        }
        Ok(AjaxResult {
            clients,
            rps: count as f64 / measure.as_secs_f64(),
            rt_p50_us: percentile(&lats, 0.5),
            rt_p99_us: percentile(&lats, 0.99),
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
