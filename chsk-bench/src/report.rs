//! The one table and the throughput-vs-concurrency plot (hand-written SVG).

use std::fmt::Write as _;

use crate::{
    load::{AjaxResult, FanResult, IdlePoint, RrResult},
    wire::{Proto, WireRow},
};

/// Everything one run measured.
#[derive(Debug, Default)]
pub struct Results {
    /// Machine description.
    pub machine: String,
    /// Request/reply sweep: (server, result).
    pub rr: Vec<(Proto, RrResult)>,
    /// Fan-out: (scenario label, server, result).
    pub fan: Vec<(&'static str, Proto, FanResult)>,
    /// Idle connections: (server kind, RSS with 10 connections in KiB, points).
    pub idle: Vec<(String, u64, Vec<IdlePoint>)>,
    /// Ajax long-poll (chsk only).
    pub ajax: Option<AjaxResult>,
    /// Bytes on the wire.
    pub wire: Vec<WireRow>,
    /// Scenarios that failed, with why.
    pub failures: Vec<String>,
}

fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    group_digits(v.round() as u64)
}

/// `1234567` as `1,234,567`.
pub(crate) fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn us(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v >= 10_000.0 {
        format!("{:.1} ms", v / 1000.0)
    } else {
        format!("{v:.0} µs")
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() => format!("{:.2}×", a / b),
        _ => "–".into(),
    }
}

impl Results {
    fn rr_of(&self, p: Proto, conns: usize, inflight: usize) -> Option<&RrResult> {
        self.rr
            .iter()
            .find(|(q, r)| *q == p && r.conns == conns && r.inflight == inflight)
            .map(|(_, r)| r)
    }

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
        let _ = writeln!(
            s,
            "| scenario | chsk | raw WS limit | socketioxide | chsk / raw | chsk / socketioxide |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        let mut configs: Vec<(usize, usize)> =
            self.rr.iter().map(|(_, r)| (r.conns, r.inflight)).collect();
        configs.dedup();
        configs.sort();
        configs.dedup();
        for (c, k) in configs {
            let cell = |p: Proto| {
                match self.rr_of(p, c, k) {
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
            let v = |p: Proto| self.rr_of(p, c, k).map(|r| r.rps);
            let _ = writeln!(
                s,
                "| request/reply, {c} conn × {k} in flight | {} | {} | {} | {} | {} |",
                cell(Proto::Chsk),
                cell(Proto::Raw),
                cell(Proto::Sio),
                ratio(v(Proto::Chsk), v(Proto::Raw)),
                ratio(v(Proto::Chsk), v(Proto::Sio)),
            );
        }
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
            let v = |p: Proto| self.fan_of(l, p).map(|r| r.pushes_per_s);
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
            let _ = writeln!(
                s,
                "| fan-out ({size}), {l} | {} | {} | {} | {} | {} |",
                cell(Proto::Chsk),
                cell(Proto::Raw),
                cell(Proto::Sio),
                ratio(v(Proto::Chsk), v(Proto::Raw)),
                ratio(v(Proto::Chsk), v(Proto::Sio)),
            );
        }
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
                    "{:.1} KiB/conn (RSS {:.1} MiB; opened in {:.1} s)",
                    p.bytes_per_conn / 1024.0,
                    p.rss_kib as f64 / 1024.0,
                    p.connect_secs
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
        if let Some(a) = &self.ajax {
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
                "| Ajax long-poll, {} clients: push latency (trigger → every poll answered) | batched (100 ms window): p50 {} · p99 {}; `Flush::Now`: p50 {} · p99 {} | – | – | – | – |",
                a.clients,
                us(a.push_p50_us),
                us(a.push_p99_us),
                us(a.push_now_p50_us),
                us(a.push_now_p99_us)
            );
        }
        if !self.wire.is_empty() {
            let (pp, pj) = crate::wire::payload_sizes();
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
        let mut configs: Vec<(usize, usize)> =
            self.rr.iter().map(|(_, r)| (r.conns, r.inflight)).collect();
        configs.sort_by_key(|&(c, k)| (c * k, c));
        configs.dedup();
        let series: Vec<(Proto, &str, Vec<Option<f64>>)> = [
            (Proto::Raw, "#888888"),
            (Proto::Chsk, "#d62728"),
            (Proto::Sio, "#1f77b4"),
        ]
        .into_iter()
        .map(|(p, color)| {
            (
                p,
                color,
                configs
                    .iter()
                    .map(|&(c, k)| self.rr_of(p, c, k).map(|r| r.rps))
                    .collect(),
            )
        })
        .collect();
        svg_plot(
            "Request/reply round trips per second vs concurrency (one server core)",
            &configs
                .iter()
                .map(|(c, k)| format!("{c}×{k}"))
                .collect::<Vec<_>>(),
            &series
                .iter()
                .map(|(p, color, v)| (p.name(), *color, v.as_slice()))
                .collect::<Vec<_>>(),
        )
    }
}

/// A line plot over categorical x values: `series` = (name, colour, one value per x).
pub fn svg_plot(title: &str, xs: &[String], series: &[(&str, &str, &[Option<f64>])]) -> String {
    let (w, h) = (720.0f64, 420.0f64);
    let (l, r, t, b) = (80.0, 160.0, 40.0, 60.0);
    let pw = w - l - r;
    let ph = h - t - b;
    let max = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().flatten().copied())
        .fold(0.0f64, f64::max);
    let step = nice_step(max / 5.0);
    let top = (max / step).ceil().max(1.0) * step;
    let xpos = |i: usize| {
        if xs.len() <= 1 {
            l + pw / 2.0
        } else {
            l + pw * i as f64 / (xs.len() - 1) as f64
        }
    };
    let ypos = |v: f64| t + ph - ph * v / top;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        w / 2.0,
        escape(title)
    );
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        let y = ypos(v);
        let _ = writeln!(
            s,
            r##"<line x1="{l}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            l + pw,
            l - 6.0,
            y + 4.0,
            thousands(v)
        );
        v += step;
    }
    for (i, x) in xs.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            xpos(i),
            t + ph + 18.0,
            escape(x)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">connections × requests in flight per connection</text>"#,
        l + pw / 2.0,
        h - 16.0
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{}" text-anchor="middle" transform="rotate(-90 18 {})">round trips / s</text>"#,
        t + ph / 2.0,
        t + ph / 2.0
    );
    let _ = writeln!(
        s,
        r##"<rect x="{l}" y="{t}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
    );
    for (n, (name, color, values)) in series.iter().enumerate() {
        let pts: Vec<String> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", xpos(i), ypos(v))))
            .collect();
        if pts.len() > 1 {
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
                pts.join(" ")
            );
        }
        for p in &pts {
            let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(s, r#"<circle cx="{x}" cy="{y}" r="3.5" fill="{color}"/>"#);
        }
        let ly = t + 10.0 + 22.0 * n as f64;
        let lx = l + pw + 16.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0,
            escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
