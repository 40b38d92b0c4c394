//! The servers under test, each run by `chsk-bench serve <kind>` in a child process on a
//! single-threaded tokio runtime (one server core, as in the design's performance notes).
//!
//! Every server has `GET /trigger?mode=users|all&m=M`: push `M` events to every connected
//! client, one send per client and event (`users`: each client is its own user) or one
//! broadcast per event (`all`).

use std::{
    collections::HashMap,
    io::{Read, Write},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use axum::{
    extract::{
        ws::{Message, WebSocket, WebSocketUpgrade},
        Query, State,
    },
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use futures_util::{FutureExt, SinkExt};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::wire::{self, sample_msg, Blob, Msg, PUSH_ID};

/// The server kinds `serve` accepts.
pub const KINDS: &[&str] = &["raw", "raw-small", "sio", "chsk"];

/// Query of `/trigger`.
#[derive(Debug, Deserialize)]
pub struct Trigger {
    /// `users` (one send per client) or `all` (one broadcast).
    pub mode: String,
    /// Events to push.
    pub m: u32,
}

/// Runs a server of `kind` on 127.0.0.1 (a free port), prints `LISTENING <addr>` on stdout, and
/// serves until stdin is closed.
pub fn serve(kind: &str) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let app = match kind {
        "raw" => raw_router(false),
        "raw-small" => raw_router(true),
        "sio" => sio_router(),
        "chsk" => crate::servers::chsk_router()?,
        other => return Err(format!("unknown server kind `{other}`; one of {KINDS:?}")),
    };
    // Exit when the parent goes away (stdin closes).
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        std::process::exit(0);
    });
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "LISTENING {addr}");
        let _ = out.flush();
        axum::serve(listener, app).await.map_err(|e| e.to_string())
    })
}

// ---------------------------------------------------------------------------------------------
// raw: the limit. `/echo` echoes binary messages (no registry, nothing per connection but the
// socket); `/push` also registers the connection for pushes.

#[derive(Default)]
struct RawState {
    small: bool,
    next: AtomicU64,
    conns: Mutex<HashMap<u64, mpsc::UnboundedSender<Message>>>,
}

fn raw_router(small: bool) -> Router {
    let st = Arc::new(RawState {
        small,
        ..RawState::default()
    });
    Router::new()
        .route("/echo", get(raw_echo))
        .route("/push", get(raw_push))
        .route("/trigger", get(raw_trigger))
        .with_state(st)
}

fn raw_upgrade(ws: WebSocketUpgrade, small: bool) -> WebSocketUpgrade {
    if small {
        ws.read_buffer_size(4 * 1024)
    } else {
        ws
    }
}

async fn raw_echo(ws: WebSocketUpgrade, State(st): State<Arc<RawState>>) -> Response {
    raw_upgrade(ws, st.small).on_upgrade(echo_loop)
}

/// Echo with write coalescing: every message ready now is answered, then one flush.
async fn echo_loop(mut sock: WebSocket) {
    while let Some(Ok(msg)) = sock.recv().await {
        if !echo_one(&mut sock, msg).await {
            return;
        }
        while let Some(Some(Ok(msg))) = sock.recv().now_or_never() {
            if !echo_one(&mut sock, msg).await {
                return;
            }
        }
        if sock.flush().await.is_err() {
            return;
        }
    }
}

async fn echo_one(sock: &mut WebSocket, msg: Message) -> bool {
    match msg {
        Message::Binary(_) | Message::Text(_) => sock.feed(msg).await.is_ok(),
        Message::Close(_) => false,
        _ => true,
    }
}

async fn raw_push(ws: WebSocketUpgrade, State(st): State<Arc<RawState>>) -> Response {
    raw_upgrade(ws, st.small).on_upgrade(move |sock| push_loop(sock, st))
}

async fn push_loop(mut sock: WebSocket, st: Arc<RawState>) {
    let id = st.next.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::unbounded_channel();
    if let Ok(mut conns) = st.conns.lock() {
        conns.insert(id, tx);
    }
    loop {
        tokio::select! {
            msg = sock.recv() => match msg {
                Some(Ok(msg)) => {
                    if !echo_one(&mut sock, msg).await || sock.flush().await.is_err() {
                        break;
                    }
                }
                _ => break,
            },
            out = rx.recv() => {
                let Some(out) = out else { break };
                if sock.feed(out).await.is_err() {
                    break;
                }
                let mut ok = true;
                while let Ok(out) = rx.try_recv() {
                    if sock.feed(out).await.is_err() {
                        ok = false;
                        break;
                    }
                }
                if !ok || sock.flush().await.is_err() {
                    break;
                }
            }
        }
    }
    if let Ok(mut conns) = st.conns.lock() {
        conns.remove(&id);
    }
}

async fn raw_trigger(State(st): State<Arc<RawState>>, Query(t): Query<Trigger>) -> Response {
    let conns: Vec<_> = match st.conns.lock() {
        Ok(c) => c.values().cloned().collect(),
        Err(_) => return "poisoned".into_response(),
    };
    let msg = sample_msg();
    let mut sent = 0u64;
    for i in 0..t.m {
        if t.mode == "all" {
            // Encoded once, shared by every connection.
            let bytes = wire::raw_message(i, &msg);
            for tx in &conns {
                sent += u64::from(tx.send(Message::Binary(bytes.clone())).is_ok());
            }
        } else {
            for tx in &conns {
                let bytes = wire::raw_message(i, &msg);
                sent += u64::from(tx.send(Message::Binary(bytes)).is_ok());
            }
        }
    }
    format!("{sent}").into_response()
}

// ---------------------------------------------------------------------------------------------
// socketioxide: `bench/echo` acks its data back; `/trigger` emits `bench/push`.

fn sio_router() -> Router {
    use socketioxide::{
        extract::{AckSender, Data, SocketRef},
        SocketIo,
    };
    let (layer, io) = SocketIo::builder()
        // room for a whole burst of pushes per socket (the default is 128 packets)
        .max_buffer_size(1 << 16)
        .build_layer();
    io.ns("/", async |s: SocketRef| {
        s.on(wire::ECHO_ID, async |Data::<Msg>(m), ack: AckSender| {
            let _ = ack.send(&m);
        });
    });
    Router::new()
        .route("/trigger", get(sio_trigger))
        .with_state(io)
        .layer(layer)
}

async fn sio_trigger(
    State(io): State<socketioxide::SocketIo>,
    Query(t): Query<Trigger>,
) -> Response {
    let msg = sample_msg();
    let mut sent = 0u64;
    if t.mode == "all" {
        for _ in 0..t.m {
            sent += u64::from(io.emit(PUSH_ID, &msg).await.is_ok());
        }
    } else {
        let socks = io.sockets();
        for _ in 0..t.m {
            for s in &socks {
                sent += u64::from(s.emit(PUSH_ID, &msg).is_ok());
            }
        }
    }
    format!("{sent}").into_response()
}

// ---------------------------------------------------------------------------------------------
// chsk: `bench/echo` replies with its payload; `/trigger` pushes `bench/push`.

/// The bench's client → server events.
#[chsk::events(ns = "bench")]
#[derive(Debug, Clone)]
pub enum BenchEvent {
    /// Replies with the message (id `bench/echo`).
    #[reply(Msg)]
    Echo(Msg),
}

/// The bench's pushes.
#[chsk::events(ns = "bench")]
#[derive(Debug, Clone)]
pub enum BenchPush {
    /// A pushed message (id `bench/push`).
    Push(Msg),
    /// A pushed block of bytes (id `bench/blob`; the burst scenarios).
    Blob(Blob),
}

#[chsk::handler(BenchEvent::Echo)]
async fn echo(m: Msg) -> Msg {
    m
}

/// Query of the chsk `/trigger`: also the users (`u0`..`u{n-1}`) and the flush policy.
#[derive(Debug, Deserialize)]
pub struct ChskTrigger {
    /// `users` (one push per user `u0`..`u{n-1}`) or `all` (`send_to_all`).
    pub mode: String,
    /// Events to push.
    pub m: u32,
    /// Users.
    #[serde(default)]
    pub n: u32,
    /// `now` pushes with `Flush::Now` instead of the batching window.
    #[serde(default)]
    pub flush: String,
}

/// The chsk server: default options, except CSRF skipped, the user id taken from `?uid=`
/// and up to 1,024 connections per user.
pub fn chsk_server() -> chsk::Server {
    chsk::Server::builder(())
        .handler(echo)
        .user_id(|req, _client_id| req.query("uid").map(str::to_owned))
        .skip_csrf_check()
        // the one-user fan-out has 100 clients of one user (the default cap is 64)
        .limits(chsk::server::Limits {
            max_conns_per_user: 1024,
            ..chsk::server::Limits::default()
        })
        .build()
}

/// The chsk routes at `/chsk` plus `/trigger`, `/burst` and `/metrics`.
pub fn chsk_router() -> Result<Router, String> {
    let server = chsk_server();
    Ok(Router::new()
        .route("/trigger", get(chsk_trigger))
        .route("/burst", get(chsk_burst))
        .route("/metrics", get(chsk_metrics))
        .with_state(server.clone())
        .nest("/chsk", chsk_axum::routes(server)))
}

async fn chsk_trigger(
    State(server): State<chsk::Server>,
    Query(t): Query<ChskTrigger>,
) -> Response {
    use chsk::server::{Flush, Target};
    let msg = sample_msg();
    let flush = if t.flush == "now" {
        Flush::Now
    } else {
        Flush::Batched
    };
    let users: Vec<String> = (0..t.n.max(1)).map(|i| format!("u{i}")).collect();
    let (mut sent, mut failed) = (0u64, 0u64);
    for _ in 0..t.m {
        if t.mode == "all" {
            match server.push(Target::All, BenchPush::Push(msg.clone()), flush) {
                Ok(n) => sent += n as u64,
                Err(_) => failed += 1,
            }
        } else {
            for u in &users {
                match server.push(Target::User(u.clone()), BenchPush::Push(msg.clone()), flush) {
                    Ok(n) => sent += n as u64,
                    Err(_) => failed += 1,
                }
            }
        }
    }
    if failed > 0 {
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("{failed} pushes failed"),
        )
            .into_response();
    }
    format!("{sent}").into_response()
}

/// Query of the chsk `/burst`: `m` pushes of a [`Blob`] of `size` bytes, to one user or to all,
/// unpaced (one synchronous loop) or paced (a pause after every `chunk` pushes).
#[derive(Debug, Deserialize)]
pub struct BurstQuery {
    /// `all` (`Target::All`) or anything else for `Target::User(uid)`.
    pub to: String,
    /// The user of `Target::User`.
    #[serde(default)]
    pub uid: String,
    /// Pushes.
    pub m: u32,
    /// Bytes of each blob's data.
    pub size: usize,
    /// `now` pushes with `Flush::Now` instead of the batching window.
    #[serde(default)]
    pub flush: String,
    /// Pushes between pauses; 0: no pause at all.
    #[serde(default)]
    pub chunk: u32,
    /// Length of each pause, ms (0: a yield to the runtime).
    #[serde(default)]
    pub pause_ms: u64,
}

/// What `/burst` answers (JSON).
#[derive(Debug, Clone, Copy, Default, serde::Serialize, Deserialize)]
pub struct BurstReply {
    /// Pushes accepted for at least one connection (`Ok(n)`, `n > 0`).
    pub accepted: u64,
    /// Sum of the `n` of accepted pushes: connections they were meant for.
    pub recipients: u64,
    /// Pushes that reached nobody (`Ok(0)`: the user had no connection any more).
    pub no_recipient: u64,
    /// Pushes refused (`Err`: too large, not encodable).
    pub failed: u64,
    /// How long the loop took, ms.
    pub ms: f64,
}

async fn chsk_burst(State(server): State<chsk::Server>, Query(q): Query<BurstQuery>) -> Response {
    use chsk::server::{Flush, Target};
    let flush = if q.flush == "now" {
        Flush::Now
    } else {
        Flush::Batched
    };
    let target = if q.to == "all" {
        Target::All
    } else {
        Target::User(q.uid.clone())
    };
    let data = "x".repeat(q.size);
    let mut r = BurstReply::default();
    let t0 = std::time::Instant::now();
    for seq in 0..q.m {
        if q.chunk > 0 && seq > 0 && seq % q.chunk == 0 {
            if q.pause_ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(q.pause_ms)).await;
            } else {
                tokio::task::yield_now().await;
            }
        }
        let blob = Blob {
            seq,
            data: data.clone(),
        };
        match server.push(target.clone(), BenchPush::Blob(blob), flush) {
            Ok(0) => r.no_recipient += 1,
            Ok(n) => {
                r.accepted += 1;
                r.recipients += n as u64;
            }
            Err(_) => r.failed += 1,
        }
    }
    r.ms = t0.elapsed().as_secs_f64() * 1e3;
    serde_json::to_string(&r)
        .unwrap_or_default()
        .into_response()
}

/// The server's [`chsk::server::Metrics`] as a JSON object of counters (`GET /metrics`).
async fn chsk_metrics(State(server): State<chsk::Server>) -> Response {
    let m = server.metrics();
    let fields: [(&str, u64); 19] = [
        ("ws_opened", m.ws_opened),
        ("ws_closed", m.ws_closed),
        ("pushes_undeliverable", m.pushes_undeliverable),
        ("pushes_too_large", m.pushes_too_large),
        ("push_deliveries", m.push_deliveries),
        ("pushes_written", m.pushes_written),
        (
            "pushes_dropped_slow_consumer",
            m.pushes_dropped_slow_consumer,
        ),
        ("pushes_dropped_closed", m.pushes_dropped_closed),
        ("pushes_dropped_replaced", m.pushes_dropped_replaced),
        ("pushes_dropped_ping_timeout", m.pushes_dropped_ping_timeout),
        (
            "pushes_dropped_write_timeout",
            m.pushes_dropped_write_timeout,
        ),
        ("pushes_dropped_encode", m.pushes_dropped_encode),
        ("pushes_dropped", m.pushes_dropped()),
        ("frames_dropped", m.frames_dropped),
        ("slow_consumer_closes", m.slow_consumer_closes),
        ("write_timeouts", m.write_timeouts),
        ("ping_timeouts", m.ping_timeouts),
        ("queued_bytes", m.queued_bytes),
        ("in_flight_bytes", m.in_flight_bytes),
    ];
    let map: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).into()))
        .collect();
    serde_json::Value::Object(map).to_string().into_response()
}
