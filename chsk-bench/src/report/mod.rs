//! The one table (Markdown), the throughput-vs-concurrency plot ([`svg`]) and the burst table
//! ([`burst`]).

pub mod burst;
pub mod rec;
pub mod svg;

use std::fmt::Write as _;

use crate::{
    scenario::{
        ajax::AjaxResult,
        fanout::FanResult,
        idle::{AjaxIdle, IdlePoint, TaskSizes},
        latency::{LatResult, Via},
        reqrep::{self, RrResult},
    },
    units::{ratio, thousands, us},
    wire::{self, Proto, WireRow},
};
use rec::RecResults;

/// Everything one run measured.
#[derive(Debug, Default)]
pub struct Results {
    /// Machine description.
    pub machine: String,
    /// Request/reply sweep: (server, result).
    pub rr: Vec<(Proto, RrResult)>,
    /// Single push latency at a low rate: (server, how, result).
    pub lat: Vec<(Proto, Via, LatResult)>,
    /// Fan-out: (scenario label, server, result).
    pub fan: Vec<(&'static str, Proto, FanResult)>,
    /// Idle connections: (server kind, RSS with 10 connections in KiB, points).
    pub idle: Vec<(String, u64, Vec<IdlePoint>)>,
    /// The task of one WebSocket connection (measured with the idle connections).
    pub task: Option<TaskSizes>,
    /// Idle Ajax clients (chsk only).
    pub ajax_idle: Option<AjaxIdle>,
    /// Ajax long-poll (chsk only).
    pub ajax: Option<AjaxResult>,
    /// Recovery: the history's cost and the reconnect storm (chsk only).
    pub rec: Option<RecResults>,
    /// Bytes on the wire.
    pub wire: Vec<WireRow>,
    /// Scenarios that failed, with why.
    pub failures: Vec<String>,
}

/// Writes a row of the three servers: `cell` for each, then chsk's ratio to raw and to
/// socketioxide of the figure `v`.
fn row(
    s: &mut String,
    scenario: &str,
    cell: impl Fn(Proto) -> String,
    v: impl Fn(Proto) -> Option<f64>,
) {
    let _ = writeln!(
        s,
        "| {scenario} | {} | {} | {} | {} | {} |",
        cell(Proto::Chsk),
        cell(Proto::Raw),
        cell(Proto::Sio),
        ratio(v(Proto::Chsk), v(Proto::Raw)),
        ratio(v(Proto::Chsk), v(Proto::Sio)),
    );
}

impl Results {
    fn fan_of(&self, label: &str, p: Proto) -> Option<&FanResult> {
        self.fan
            .iter()
            .find(|(l, q, _)| *l == label && *q == p)
            .map(|(_, _, r)| r)
    }

    fn idle_of(&self, kind: &str, conns: usize) -> Option<&IdlePoint> {
        self.idle
            .iter()
            .find(|(k, _, _)| k == kind)
            .and_then(|(_, _, pts)| {
                pts.iter()
                    .find(|p| p.conns >= conns && p.conns <= conns + 10)
            })
    }

    /// The report as Markdown: the one table, then the bytes-on-the-wire table.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "Machine: {}\n", self.machine);
        let mut rows = String::new();
        self.rr_rows(&mut rows);
        self.lat_rows(&mut rows);
        self.fan_rows(&mut rows);
        self.idle_rows(&mut rows);
        self.ajax_rows(&mut rows);
        if !rows.is_empty() {
            let _ = writeln!(
                s,
                "| scenario | chsk | raw WS limit | socketioxide | chsk / raw | chsk / socketioxide |"
            );
            let _ = writeln!(s, "|---|---|---|---|---|---|");
            s.push_str(&rows);
        }
        if let Some(r) = &self.rec {
            rec::markdown(&mut s, r);
        }
        self.wire_table(&mut s);
        if !self.failures.is_empty() {
            let _ = writeln!(s, "\nFailed or skipped:\n");
            for f in &self.failures {
                let _ = writeln!(s, "- {f}");
            }
        }
        s
    }

    /// Throughput vs concurrency for the three servers, as SVG text.
    pub fn svg(&self) -> String {
        svg::throughput(&self.rr)
    }

    fn rr_rows(&self, s: &mut String) {
        let mut configs: Vec<(usize, usize)> =
            self.rr.iter().map(|(_, r)| (r.conns, r.inflight)).collect();
        configs.dedup();
        configs.sort();
        configs.dedup();
        for (c, k) in configs {
            let rr_of = |p: Proto| reqrep::find(&self.rr, p, c, k);
            let cell = |p: Proto| {
                match rr_of(p) {
                Some(r) => format!(
                    "{}/s · p50 {} · p99 {} · cpu {:.0}% (client {:.0}%) · {:.2} µs server cpu/rt{}",
                    thousands(r.rps),
                    us(r.p50_us),
                    us(r.p99_us),
                    r.server_cpu * 100.0,
                    r.client_cpu * 100.0,
                    r.server_cpu * 1e6 / r.rps.max(1.0),
                    if r.errors > 0 {
                        format!(" · {} errors", r.errors)
                    } else {
                        String::new()
                    }
                ),
                None => "n/a".into(),
            }
            };
            let label = format!("request/reply, {c} conn × {k} in flight");
            row(s, &label, cell, |p| rr_of(p).map(|r| r.rps));
        }
    }

    fn lat_rows(&self, s: &mut String) {
        let of = |p: Proto, via: Via| {
            self.lat
                .iter()
                .find(|(q, v, _)| *q == p && *v == via)
                .map(|(_, _, r)| r)
        };
        let cell = |r: Option<&LatResult>| match r {
            Some(r) => format!("p50 {} · p99 {}", us(r.p50_us), us(r.p99_us)),
            None => "n/a".into(),
        };
        let Some(rounds) = self.lat.first().map(|(_, _, r)| r.rounds) else {
            return;
        };
        let pause = crate::scenario::latency::PAUSE.as_millis();
        row(
            s,
            &format!("single push latency at a low rate ({rounds} pushes, {pause} ms apart), WebSocket: trigger → received (lower is better)"),
            |p| cell(of(p, Via::Ws)),
            |p| of(p, Via::Ws).map(|r| r.p50_us),
        );
        if let Some(a) = of(Proto::Chsk, Via::Ajax) {
            let raw = of(Proto::Raw, Via::Ws);
            let _ = writeln!(
                s,
                "| single push latency at a low rate, Ajax: trigger → waiting poll answered | {} | (WebSocket) {} | – | {} | – |",
                cell(Some(a)),
                cell(raw),
                ratio(Some(a.p50_us), raw.map(|r| r.p50_us)),
            );
        }
    }

    fn fan_rows(&self, s: &mut String) {
        let mut labels: Vec<&str> = Vec::new();
        for (l, _, _) in &self.fan {
            if !labels.contains(l) {
                labels.push(l);
            }
        }
        for l in labels {
            let cell = |p: Proto| match self.fan_of(l, p) {
                Some(r) => format!(
                    "{}/s · all in {:.1} ms · cpu {:.0}% (client {:.0}%)",
                    thousands(r.pushes_per_s),
                    r.ms,
                    r.server_cpu * 100.0,
                    r.client_cpu * 100.0
                ),
                None => "n/a".into(),
            };
            let size = [Proto::Chsk, Proto::Raw, Proto::Sio]
                .into_iter()
                .find_map(|p| self.fan_of(l, p))
                .map(|r| {
                    format!(
                        "{} clients × {} events",
                        r.clients,
                        thousands(f64::from(r.events))
                    )
                })
                .unwrap_or_default();
            let label = format!("fan-out ({size}), {l}");
            row(s, &label, cell, |p| {
                self.fan_of(l, p).map(|r| r.pushes_per_s)
            });
        }
    }

    fn idle_rows(&self, s: &mut String) {
        let mut steps: Vec<usize> = self
            .idle
            .iter()
            .flat_map(|(_, _, p)| p.iter().map(|p| p.conns - 10))
            .collect();
        steps.sort();
        steps.dedup();
        for n in steps {
            let kib = |kind: &str| self.idle_of(kind, n).map(|p| p.bytes_per_conn / 1024.0);
            let cell = |kind: &str| match self.idle_of(kind, n) {
                Some(p) => format!(
                    "{:.1} KiB/conn (RSS {:.1} MiB; opened in {:.1} s{})",
                    p.bytes_per_conn / 1024.0,
                    p.rss_kib as f64 / 1024.0,
                    p.connect_secs,
                    p.broadcast_ms
                        .map(|ms| format!("; one push to all received by all in {ms:.1} ms"))
                        .unwrap_or_default()
                ),
                None => "n/a".into(),
            };
            let raw = match (self.idle_of("raw", n), self.idle_of("raw-small", n)) {
                (Some(_), Some(_)) => {
                    format!("{}; 4 KiB read buffer: {}", cell("raw"), cell("raw-small"))
                }
                (Some(_), None) => cell("raw"),
                _ => cell("raw-small"),
            };
            let _ = writeln!(
                s,
                "| idle WebSocket connections: {} (RSS per connection, lower is better) | {} | {} | {} | {} (4 KiB-buffer raw: {}) | {} |",
                thousands(n as f64),
                cell("chsk"),
                raw,
                cell("sio"),
                ratio(kib("chsk"), kib("raw")),
                ratio(kib("chsk"), kib("raw-small")),
                ratio(kib("chsk"), kib("sio")),
            );
        }
        if let Some(t) = &self.task {
            let bytes = |p: Proto| match p {
                Proto::Chsk => t.chsk,
                Proto::Raw => Some(t.raw),
                Proto::Sio => None,
            };
            let cell = |p: Proto| match (p, bytes(p)) {
                (Proto::Chsk, Some(b)) => {
                    format!("{} bytes (`Server::serve_ws`)", thousands(b as f64))
                }
                (Proto::Raw, Some(b)) => {
                    format!("{} bytes (the `/echo` loop)", thousands(b as f64))
                }
                (Proto::Sio, _) => "–".into(),
                _ => "n/a".into(),
            };
            row(
                s,
                "task of one WebSocket connection before its first poll, the socket not counted (bytes, lower is better)",
                cell,
                |p| bytes(p).map(|b| b as f64),
            );
        }
        if let Some(a) = &self.ajax_idle {
            let _ = writeln!(
                s,
                "| idle Ajax clients: {} (RSS per client, lower is better) | {:.1} KiB/client holding a long poll; {:.1} KiB/client between polls | – | – | – | – |",
                thousands(a.clients as f64),
                a.polling / 1024.0,
                a.between_polls / 1024.0,
            );
        }
    }

    fn ajax_rows(&self, s: &mut String) {
        let Some(a) = &self.ajax else { return };
        let _ = writeln!(
            s,
            "| Ajax long-poll, {} clients: request/reply (POST) | {}/s · p50 {} · p99 {} · cpu {:.0}% | – | – | – | – |",
            a.clients,
            thousands(a.rps),
            us(a.rt_p50_us),
            us(a.rt_p99_us),
            a.server_cpu * 100.0
        );
        let _ = writeln!(
            s,
            "| Ajax long-poll, {} clients: push latency (trigger → every poll answered) | default (coalesced): p50 {} · p99 {}; `Flush::Now`: p50 {} · p99 {} | – | – | – | – |",
            a.clients,
            us(a.push_p50_us),
            us(a.push_p99_us),
            us(a.push_now_p50_us),
            us(a.push_now_p99_us)
        );
    }

    fn wire_table(&self, s: &mut String) {
        if self.wire.is_empty() {
            return;
        }
        let (pp, pj) = wire::payload_sizes();
        let _ = writeln!(
            s,
            "\nBytes per WebSocket message for the same event (payload `Msg`: {pp} bytes in postcard, {pj} in JSON):\n"
        );
        let _ = writeln!(
            s,
            "| message | chsk postcard | chsk JSON | Socket.IO | chsk postcard / Socket.IO |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|");
        for r in &self.wire {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.2}× |",
                r.what,
                r.chsk_postcard,
                r.chsk_json,
                r.socketio,
                r.chsk_postcard as f64 / r.socketio.max(1) as f64
            );
        }
    }
}
