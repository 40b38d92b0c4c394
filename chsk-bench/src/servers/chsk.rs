//! chsk: `bench/echo` replies with its payload; `/trigger` pushes `bench/push`, `/burst` pushes
//! blobs (the burst scenarios) and `/metrics` answers the server's counters.

use axum::{
    extract::{Query, State},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use chsk::server::{Flush, Target};
use serde::Deserialize;

use crate::wire::{sample_msg, Blob, Msg};

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
    /// `now` pushes with `Flush::Now` instead of the default (coalescing) `Flush::Batched`.
    #[serde(default)]
    pub flush: String,
}

/// The chsk server: default options (push history kept), except CSRF skipped, the user id
/// taken from `?uid=` and up to 1,024 connections per user.
pub fn chsk_server() -> chsk::Server {
    chsk_server_with(true)
}

/// [`chsk_server`], with the push history kept or not (`without_history`).
pub fn chsk_server_with(history: bool) -> chsk::Server {
    let builder = chsk::Server::builder(()).handler(echo);
    let builder = if history {
        builder
    } else {
        builder.without_history()
    };
    builder
        .user_id(|req, _client_id| req.query("uid").map(str::to_owned))
        .skip_csrf_check()
        // the one-user fan-out has 100 clients of one user (the default cap is 64)
        // and the idle Ajax step may hold more than the default 10,000 clients
        .limits(chsk::server::Limits {
            max_conns_per_user: 1024,
            max_ajax_clients: 200_000,
            ..chsk::server::Limits::default()
        })
        .build()
}

/// The chsk routes at `/chsk` plus `/trigger`, `/burst` and `/metrics`; the push history kept
/// or not.
pub fn router(history: bool) -> Router {
    let server = chsk_server_with(history);
    Router::new()
        .route("/trigger", get(chsk_trigger))
        .route("/burst", get(chsk_burst))
        .route("/metrics", get(chsk_metrics))
        .with_state(server.clone())
        .nest("/chsk", chsk_axum::routes(server))
}

/// `now`: `Flush::Now`; anything else: `Flush::Batched` (coalescing).
fn flush(query: &str) -> Flush {
    if query == "now" {
        Flush::Now
    } else {
        Flush::Batched
    }
}

async fn chsk_trigger(
    State(server): State<chsk::Server>,
    Query(t): Query<ChskTrigger>,
) -> Response {
    let msg = sample_msg();
    let flush = flush(&t.flush);
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
    /// `now` pushes with `Flush::Now` instead of the default (coalescing) `Flush::Batched`.
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
    let flush = flush(&q.flush);
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
    // (name, value) of each counter, named as in `Metrics`.
    macro_rules! counters {
        ($($field:ident),* ; $($method:ident()),*) => {
            [$((stringify!($field), m.$field),)* $((stringify!($method), m.$method()),)*]
        };
    }
    let fields: [(&str, u64); 24] = counters!(
        ws_opened,
        ws_closed,
        pushes_undeliverable,
        pushes_too_large,
        push_deliveries,
        pushes_written,
        pushes_dropped_slow_consumer,
        pushes_dropped_closed,
        pushes_dropped_replaced,
        pushes_dropped_ping_timeout,
        pushes_dropped_write_timeout,
        frames_dropped,
        slow_consumer_closes,
        write_timeouts,
        ping_timeouts,
        queued_bytes,
        in_flight_bytes,
        recoveries,
        recoveries_failed,
        pushes_replayed,
        history_streams,
        history_events,
        history_bytes;
        pushes_dropped()
    );
    let map: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).into()))
        .collect();
    serde_json::Value::Object(map).to_string().into_response()
}
