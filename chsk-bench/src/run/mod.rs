//! Which scenarios run against which servers, in what order, with progress on stderr: the
//! table run (`chsk-bench`) and the burst run (`chsk-bench burst`); the recovery scenario's
//! steps are in the `rec` submodule.

mod rec;

use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::{
    client::Error,
    proc::{self, ServerProc},
    report::{self, Results},
    scenario::{
        ajax,
        burst::{self, BurstResult},
        fanout::{self, FanSize},
        idle,
        latency::{self, Via},
        reqrep,
    },
    units::mib,
    wire::{self, Proto},
};

/// What the table run measures.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Short warm-up and measuring windows, fewer events and rounds.
    pub quick: bool,
    /// The scenarios to run (`rr`, `lat`, `fan`, `idle`, `ajax`, `rec`); empty: all.
    pub only: Vec<String>,
    /// Idle connections to open, step by step.
    pub idle_steps: Vec<usize>,
    /// The servers to measure.
    pub servers: Vec<Proto>,
    /// The fan-out's clients and events per round (default: 100 × 1,000; quick: 50 × 200).
    pub fan_size: Option<(usize, u32)>,
    /// Clients of the recovery scenario's reconnect storm (default 10,000; quick 1,000).
    pub rec_clients: Option<usize>,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            quick: false,
            only: vec![],
            idle_steps: vec![5_000, 10_000],
            servers: vec![Proto::Chsk, Proto::Raw, Proto::Sio],
            fan_size: None,
            rec_clients: None,
        }
    }
}

impl Plan {
    fn wants(&self, what: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|w| w == what)
    }
}

/// The load client's runtime: one thread (the server child has the other core).
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The `chsk-bench serve` kind of a server.
fn kind_of(p: Proto) -> &'static str {
    match p {
        Proto::Raw => "raw",
        Proto::Sio => "sio",
        Proto::Chsk => "chsk",
    }
}

/// Starts a server of `kind`; a failure is recorded as `what: why`.
fn spawn(
    kind: &str,
    failures: &mut Vec<String>,
    what: impl FnOnce() -> String,
) -> Option<ServerProc> {
    match ServerProc::spawn(kind) {
        Ok(s) => Some(s),
        Err(e) => {
            failures.push(format!("{}: {e}", what()));
            None
        }
    }
}

/// Ends a progress line with the measurement's `summary`, or with why it failed (then also
/// recorded as `what: why`).
fn outcome<T>(
    r: Result<T, Error>,
    failures: &mut Vec<String>,
    what: impl FnOnce() -> String,
    summary: impl FnOnce(&T) -> String,
) -> Option<T> {
    match r {
        Ok(r) => {
            eprintln!("{}", summary(&r));
            Some(r)
        }
        Err(e) => {
            eprintln!("failed: {e}");
            failures.push(format!("{}: {e}", what()));
            None
        }
    }
}

/// Runs the scenarios of `plan` and returns what they measured.
pub fn table(plan: &Plan) -> Results {
    let mut res = Results {
        machine: proc::machine(),
        wire: wire::wire_sizes(),
        ..Results::default()
    };
    eprintln!("machine: {}", res.machine);
    let rt = runtime();
    if plan.wants("rr") {
        request_reply(plan, &rt, &mut res);
    }
    if plan.wants("lat") {
        push_latency(plan, &rt, &mut res);
    }
    if plan.wants("fan") {
        fan_out(plan, &rt, &mut res);
    }
    if plan.wants("idle") && !plan.idle_steps.is_empty() {
        idle_connections(plan, &rt, &mut res);
    }
    if plan.wants("ajax") && plan.servers.contains(&Proto::Chsk) {
        ajax_long_poll(plan, &rt, &mut res);
    }
    if plan.wants("rec") && plan.servers.contains(&Proto::Chsk) {
        res.rec = Some(rec::recovery(plan, &rt, &mut res.failures));
    }
    res.machine = format!(
        "{} (load average at the end: {})",
        res.machine,
        proc::loadavg()
    );
    res
}

/// The warm-up and measuring windows of request/reply.
fn windows(plan: &Plan) -> (Duration, Duration) {
    if plan.quick {
        (Duration::from_millis(200), Duration::from_millis(700))
    } else {
        (Duration::from_millis(700), Duration::from_secs(3))
    }
}

fn request_reply(plan: &Plan, rt: &Runtime, res: &mut Results) {
    let (warm, measure) = windows(plan);
    for &p in &plan.servers {
        let Some(server) = spawn(kind_of(p), &mut res.failures, || {
            format!("request/reply, {}", p.name())
        }) else {
            continue;
        };
        for &(c, k) in reqrep::SWEEP {
            eprint!("request/reply {} {c}×{k} … ", p.name());
            let r = rt.block_on(reqrep::reqrep(
                server.addr,
                p,
                server.pid(),
                c,
                k,
                warm,
                measure,
            ));
            let what = || format!("request/reply {c}×{k}, {}", p.name());
            let summary = |r: &reqrep::RrResult| {
                format!(
                    "{:.0}/s p50 {:.0} µs p99 {:.0} µs cpu {:.0}% client {:.0}% errors {}",
                    r.rps,
                    r.p50_us,
                    r.p99_us,
                    r.server_cpu * 100.0,
                    r.client_cpu * 100.0,
                    r.errors
                )
            };
            if let Some(r) = outcome(r, &mut res.failures, what, summary) {
                res.rr.push((p, r));
            }
            proc::settle(Duration::from_millis(200));
        }
    }
}

fn fan_out(plan: &Plan, rt: &Runtime, res: &mut Results) {
    let mut size = if plan.quick {
        FanSize {
            clients: 50,
            events: 200,
            rounds: 2,
        }
    } else {
        FanSize {
            clients: 100,
            events: 1000,
            rounds: 5,
        }
    };
    if let Some((clients, events)) = plan.fan_size {
        size.clients = clients;
        size.events = events;
    }

    for &p in &plan.servers {
        for case in &fanout::CASES {
            if case.chsk_only && p != Proto::Chsk {
                continue;
            }
            // a fresh server per case: no leftover connections or queues
            let Some(server) = spawn(kind_of(p), &mut res.failures, || {
                format!("fan-out, {}", p.name())
            }) else {
                break;
            };
            let label = case.label;
            eprint!("fan-out {} {label} … ", p.name());
            let r = rt.block_on(fanout::fanout(server.addr, p, server.pid(), case, size));
            let what = || format!("fan-out {label}, {}", p.name());
            let summary = |r: &fanout::FanResult| {
                format!(
                    "{:.0} pushes/s, {:.1} ms, cpu {:.0}% client {:.0}%",
                    r.pushes_per_s,
                    r.ms,
                    r.server_cpu * 100.0,
                    r.client_cpu * 100.0
                )
            };
            if let Some(r) = outcome(r, &mut res.failures, what, summary) {
                res.fan.push((label, p, r));
            }
        }
    }
    // A chsk-only case is compared with the baselines of the case it names.
    for case in &fanout::CASES {
        let Some(of) = case.baselines_of else {
            continue;
        };
        let copies: Vec<_> = res
            .fan
            .iter()
            .filter(|(l, p, _)| *l == of && *p != Proto::Chsk)
            .map(|(_, p, r)| (case.label, *p, *r))
            .collect();
        res.fan.extend(copies);
    }
}

/// Single push latency at a low rate: chsk and raw over a WebSocket, chsk over a waiting Ajax
/// poll; a fresh server for each.
fn push_latency(plan: &Plan, rt: &Runtime, res: &mut Results) {
    let rounds = if plan.quick { 100 } else { 500 };
    let mut cases = Vec::new();
    for &p in &plan.servers {
        match p {
            Proto::Chsk => cases.extend([(p, Via::Ws), (p, Via::Ajax)]),
            Proto::Raw => cases.push((p, Via::Ws)),
            Proto::Sio => {}
        }
    }
    for (p, via) in cases {
        let what = || format!("push latency, {} {via:?}", p.name());
        let Some(server) = spawn(kind_of(p), &mut res.failures, what) else {
            continue;
        };
        eprint!("push latency {} {via:?} … ", p.name());
        let r = rt.block_on(latency::latency(server.addr, p, via, rounds));
        let summary =
            |r: &latency::LatResult| format!("p50 {:.0} µs p99 {:.0} µs", r.p50_us, r.p99_us);
        if let Some(r) = outcome(r, &mut res.failures, what, summary) {
            res.lat.push((p, via, r));
        }
    }
}

fn idle_connections(plan: &Plan, rt: &Runtime, res: &mut Results) {
    let mut kinds: Vec<&str> = Vec::new();
    for &p in &plan.servers {
        kinds.push(kind_of(p));
        if p == Proto::Raw {
            kinds.push("raw-small");
        }
    }
    let steps: Vec<usize> = plan.idle_steps.iter().map(|n| n + 10).collect();
    for kind in kinds {
        let p = match kind {
            "chsk" => Proto::Chsk,
            "sio" => Proto::Sio,
            _ => Proto::Raw,
        };
        let Some(server) = spawn(kind, &mut res.failures, || format!("idle, {kind}")) else {
            continue;
        };
        eprint!("idle {kind} … ");
        let r = rt.block_on(idle::idle(server.addr, p, server.pid(), &steps));
        let summary = |(base, pts): &(u64, Vec<idle::IdlePoint>)| {
            let mut line = String::new();
            for pt in pts {
                line.push_str(&format!(
                    "{} conns: {:.1} KiB/conn (step opened in {:.1} s{}); ",
                    pt.conns - 10,
                    pt.bytes_per_conn / 1024.0,
                    pt.connect_secs,
                    pt.broadcast_ms
                        .map(|ms| format!(", a push to all in {ms:.1} ms"))
                        .unwrap_or_default()
                ));
            }
            format!("{line}(RSS at 10 connections {base} KiB)")
        };
        if let Some((base, pts)) =
            outcome(r, &mut res.failures, || format!("idle, {kind}"), summary)
        {
            res.idle.push((kind.to_string(), base, pts));
        }
        drop(server);
        // let the closed sockets drain before the next server
        proc::settle(Duration::from_secs(1));
    }
    if plan.servers.contains(&Proto::Chsk) {
        idle_ajax(plan, rt, res);
    }
    if plan.servers.contains(&Proto::Chsk) || plan.servers.contains(&Proto::Raw) {
        let t = idle::task_sizes();
        eprintln!(
            "task of one WebSocket connection: chsk {} bytes, raw {} bytes",
            t.chsk.map_or_else(|| "n/a".to_string(), |b| b.to_string()),
            t.raw
        );
        res.task = Some(t);
    }
}

/// Idle Ajax clients on a fresh chsk server, as many as the first idle step.
fn idle_ajax(plan: &Plan, rt: &Runtime, res: &mut Results) {
    let Some(&n) = plan.idle_steps.first() else {
        return;
    };
    let Some(server) = spawn("chsk", &mut res.failures, || "idle Ajax, chsk".into()) else {
        return;
    };
    eprint!("idle Ajax chsk … ");
    let r = rt.block_on(idle::idle_ajax(server.addr, server.pid(), n));
    let summary = |a: &idle::AjaxIdle| {
        format!(
            "{} clients: {:.1} KiB/client between polls, {:.1} KiB/client holding a long poll",
            a.clients,
            a.between_polls / 1024.0,
            a.polling / 1024.0
        )
    };
    res.ajax_idle = outcome(r, &mut res.failures, || "idle Ajax, chsk".into(), summary);
    drop(server);
    proc::settle(Duration::from_secs(1));
}

fn ajax_long_poll(plan: &Plan, rt: &Runtime, res: &mut Results) {
    let (warm, measure) = windows(plan);
    let Some(server) = spawn("chsk", &mut res.failures, || "ajax, chsk".into()) else {
        return;
    };
    eprint!("ajax chsk … ");
    let rounds = if plan.quick { 20 } else { 200 };
    let r = rt.block_on(ajax::ajax(
        server.addr,
        server.pid(),
        100,
        warm,
        measure,
        rounds,
    ));
    let summary =
        |a: &ajax::AjaxResult| format!("{:.0}/s, push p50 {:.0} µs", a.rps, a.push_p50_us);
    res.ajax = outcome(r, &mut res.failures, || "ajax, chsk".into(), summary);
}

/// Runs the burst cases whose name contains `filter` (all without one) and returns the
/// Markdown report.
pub fn bursts(rt: &Runtime, filter: Option<&str>) -> String {
    let machine = proc::machine();
    eprintln!("machine: {machine}");
    let (mut results, mut failures) = (Vec::new(), Vec::new());
    for case in burst::cases() {
        let name = format!("{} — {}", case.label, case.how());
        if filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        eprint!("burst: {name} … ");
        let t = Instant::now();
        let summary = |r: &BurstResult| {
            format!(
                "{:.1} s: written {}, dropped {}, RSS {} → {} → {} MiB",
                t.elapsed().as_secs_f64(),
                r.m("pushes_written"),
                r.m("pushes_dropped"),
                mib(r.rss_before),
                mib(r.rss_peak),
                mib(r.rss_after)
            )
        };
        let r = rt.block_on(burst::run_case(&case));
        results.extend(outcome(r, &mut failures, || name.clone(), summary));
        // let the closed sockets drain before the next server
        proc::settle(Duration::from_millis(300));
    }
    let machine = format!("{machine} (load average at the end: {})", proc::loadavg());
    report::burst::markdown(&machine, &results, &failures)
}
