//! `chsk-bench`: runs every scenario against chsk, the raw WebSocket limit and socketioxide, and
//! prints one table. `chsk-bench serve <kind>` is the server child it starts for each server.
//!
//! ```text
//! cargo run --release -p chsk-bench                 # everything (a few minutes)
//! cargo run --release -p chsk-bench -- --quick      # a short smoke run
//! cargo run --release -p chsk-bench -- --only rr,fan --svg /tmp/plot.svg
//! cargo run --release -p chsk-bench -- burst        # RSS during 100 MB push bursts (~1 min)
//! ```

use std::{process::ExitCode, time::Duration};

use chsk_bench::{
    load,
    proc::{self, ServerProc},
    report::Results,
    servers,
    wire::{self, Proto},
};

struct Opts {
    quick: bool,
    only: Vec<String>,
    svg: Option<String>,
    out: Option<String>,
    idle_steps: Vec<usize>,
    servers: Vec<Proto>,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: chsk-bench [--quick] [--only rr,fan,idle,ajax] [--servers chsk,raw,sio] \
         [--idle 5000,10000] [--svg PATH] [--out PATH]\n       \
         chsk-bench burst [--only TEXT] [--out PATH]\n       chsk-bench serve <{}>",
        servers::KINDS.join("|")
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        let Some(kind) = args.get(1) else {
            return usage();
        };
        return match servers::serve(kind) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("serve {kind}: {e}");
                println!("FAILED {e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.first().map(String::as_str) == Some("burst") {
        return burst(&args[1..]);
    }
    let mut o = Opts {
        quick: false,
        only: vec![],
        svg: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/throughput.svg").to_string()),
        out: None,
        idle_steps: vec![5_000, 10_000],
        servers: vec![Proto::Chsk, Proto::Raw, Proto::Sio],
    };
    let mut it = args.iter().map(String::as_str);
    if let Some(first) = args.first() {
        if first == "run" {
            it.next();
        }
    }
    while let Some(a) = it.next() {
        let mut val = || it.next().map(str::to_string);
        match a {
            "--quick" => o.quick = true,
            "--only" => match val() {
                Some(v) => o.only = v.split(',').map(str::to_string).collect(),
                None => return usage(),
            },
            "--svg" => o.svg = val(),
            "--out" => o.out = val(),
            "--idle" => match val().map(|v| {
                v.split(',')
                    .map(str::parse)
                    .collect::<Result<Vec<usize>, _>>()
            }) {
                Some(Ok(v)) => o.idle_steps = v,
                _ => return usage(),
            },
            "--servers" => match val() {
                Some(v) => {
                    o.servers = v
                        .split(',')
                        .filter_map(|s| match s {
                            "chsk" => Some(Proto::Chsk),
                            "raw" => Some(Proto::Raw),
                            "sio" | "socketioxide" => Some(Proto::Sio),
                            _ => None,
                        })
                        .collect()
                }
                None => return usage(),
            },
            _ => return usage(),
        }
    }
    let max_idle = o.idle_steps.iter().copied().max().unwrap_or(0) as u64;
    proc::ensure_nofile(max_idle + 1_000);
    let (soft, _) = proc::nofile_limits();
    if soft < max_idle + 200 {
        eprintln!(
            "open-files limit {soft} is below {} connections: idle steps capped",
            max_idle
        );
        o.idle_steps.retain(|&n| (n as u64) + 200 <= soft);
    }
    let res = run(&o);
    let md = res.markdown();
    println!("\n{md}");
    if let Some(path) = &o.out {
        if let Err(e) = std::fs::write(path, &md) {
            eprintln!("writing {path}: {e}");
        }
    }
    if let Some(path) = &o.svg {
        if !res.rr.is_empty() {
            match std::fs::write(path, res.svg()) {
                Ok(()) => eprintln!("plot written to {path}"),
                Err(e) => eprintln!("writing {path}: {e}"),
            }
        }
    }
    ExitCode::SUCCESS
}

/// `chsk-bench burst [--only TEXT] [--out PATH]`: the burst cases (those whose name contains
/// TEXT), one table.
fn burst(args: &[String]) -> ExitCode {
    let (mut only, mut out) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--only", Some(v)) => only = Some(v.clone()),
            ("--out", Some(v)) => out = Some(v.clone()),
            _ => return usage(),
        }
    }
    // 1,000 clients and their 1,000 server sockets
    proc::ensure_nofile(2_500);
    let md = chsk_bench::burst::run(&runtime(), only.as_deref());
    println!("\n{md}");
    if let Some(path) = &out {
        if let Err(e) = std::fs::write(path, &md) {
            eprintln!("writing {path}: {e}");
        }
    }
    ExitCode::SUCCESS
}

fn wants(o: &Opts, what: &str) -> bool {
    o.only.is_empty() || o.only.iter().any(|w| w == what)
}

fn kind_of(p: Proto) -> &'static str {
    match p {
        Proto::Raw => "raw",
        Proto::Sio => "sio",
        Proto::Chsk => "chsk",
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn run(o: &Opts) -> Results {
    let mut res = Results {
        machine: proc::machine(),
        wire: wire::wire_sizes(),
        ..Results::default()
    };
    eprintln!("machine: {}", res.machine);
    let rt = runtime();
    let (warm, measure) = if o.quick {
        (Duration::from_millis(200), Duration::from_millis(700))
    } else {
        (Duration::from_millis(700), Duration::from_secs(3))
    };

    if wants(o, "rr") {
        let sweep: &[(usize, usize)] = &[(1, 1), (1, 8), (1, 64), (10, 8), (100, 8)];
        for &p in &o.servers {
            let server = match ServerProc::spawn(kind_of(p)) {
                Ok(s) => s,
                Err(e) => {
                    res.failures
                        .push(format!("request/reply, {}: {e}", p.name()));
                    continue;
                }
            };
            for &(c, k) in sweep {
                eprint!("request/reply {} {c}×{k} … ", p.name());
                match rt.block_on(load::reqrep(
                    server.addr,
                    p,
                    server.pid(),
                    c,
                    k,
                    warm,
                    measure,
                )) {
                    Ok(r) => {
                        eprintln!(
                            "{:.0}/s p50 {:.0} µs p99 {:.0} µs cpu {:.0}% client {:.0}% errors {}",
                            r.rps,
                            r.p50_us,
                            r.p99_us,
                            r.server_cpu * 100.0,
                            r.client_cpu * 100.0,
                            r.errors
                        );
                        res.rr.push((p, r));
                    }
                    Err(e) => {
                        eprintln!("failed: {e}");
                        res.failures
                            .push(format!("request/reply {c}×{k}, {}: {e}", p.name()));
                    }
                }
                proc::settle(Duration::from_millis(200));
            }
        }
    }

    if wants(o, "fan") {
        let (clients, events, rounds) = if o.quick {
            (50, 200, 2)
        } else {
            (100, 1000, 5)
        };
        // (label, one user?, chsk mode, baseline mode, chsk only?, trigger extra)
        type Case = (
            &'static str,
            bool,
            &'static str,
            &'static str,
            bool,
            &'static str,
        );
        let cases: [Case; 4] = [
            (
                "distinct users: each client its own user, every event pushed to each user",
                false,
                "users",
                "users",
                false,
                "",
            ),
            (
                "distinct users, chsk with `Flush::Now` (no batching window)",
                false,
                "users",
                "users",
                true,
                "&flush=now",
            ),
            (
                "one user: every client of one user, every event pushed to the user",
                true,
                "users",
                "all",
                false,
                "",
            ),
            (
                "all: clients of distinct users, every event pushed to all",
                false,
                "all",
                "all",
                false,
                "",
            ),
        ];
        for &p in &o.servers {
            for &(label, one_user, chsk_mode, base_mode, chsk_only, extra) in &cases {
                if chsk_only && p != Proto::Chsk {
                    continue;
                }
                let mode = if p == Proto::Chsk {
                    chsk_mode
                } else {
                    base_mode
                };
                // a fresh server per case: no leftover connections or queues
                let server = match ServerProc::spawn(kind_of(p)) {
                    Ok(s) => s,
                    Err(e) => {
                        res.failures.push(format!("fan-out, {}: {e}", p.name()));
                        break;
                    }
                };
                eprint!("fan-out {} {label} … ", p.name());
                match rt.block_on(load::fanout(
                    server.addr,
                    p,
                    server.pid(),
                    clients,
                    one_user,
                    mode,
                    events,
                    rounds,
                    extra,
                )) {
                    Ok(r) => {
                        eprintln!(
                            "{:.0} pushes/s, {:.1} ms, cpu {:.0}% client {:.0}%",
                            r.pushes_per_s,
                            r.ms,
                            r.server_cpu * 100.0,
                            r.client_cpu * 100.0
                        );
                        res.fan.push((label, p, r));
                    }
                    Err(e) => {
                        eprintln!("failed: {e}");
                        res.failures
                            .push(format!("fan-out {label}, {}: {e}", p.name()));
                    }
                }
            }
        }

        // The `Flush::Now` row is chsk only: its baselines are the distinct-users ones.
        let copies: Vec<_> = res
            .fan
            .iter()
            .filter(|(l, p, _)| *l == cases[0].0 && *p != Proto::Chsk)
            .map(|(_, p, r)| (cases[1].0, *p, *r))
            .collect();
        res.fan.extend(copies);
    }

    if wants(o, "idle") && !o.idle_steps.is_empty() {
        let mut kinds: Vec<&str> = Vec::new();
        for &p in &o.servers {
            kinds.push(kind_of(p));
            if p == Proto::Raw {
                kinds.push("raw-small");
            }
        }
        let steps: Vec<usize> = o.idle_steps.iter().map(|n| n + 10).collect();
        for kind in kinds {
            let p = match kind {
                "chsk" => Proto::Chsk,
                "sio" => Proto::Sio,
                _ => Proto::Raw,
            };
            let server = match ServerProc::spawn(kind) {
                Ok(s) => s,
                Err(e) => {
                    res.failures.push(format!("idle, {kind}: {e}"));
                    continue;
                }
            };
            eprint!("idle {kind} … ");
            match rt.block_on(load::idle(server.addr, p, server.pid(), &steps)) {
                Ok((base, pts)) => {
                    for pt in &pts {
                        eprint!(
                            "{} conns: {:.1} KiB/conn (step opened in {:.1} s); ",
                            pt.conns - 10,
                            pt.bytes_per_conn / 1024.0,
                            pt.connect_secs
                        );
                    }
                    eprintln!("(RSS at 10 connections {base} KiB)");
                    res.idle.push((kind.to_string(), base, pts));
                }
                Err(e) => {
                    eprintln!("failed: {e}");
                    res.failures.push(format!("idle, {kind}: {e}"));
                }
            }
            drop(server);
            // let the closed sockets drain before the next server
            proc::settle(Duration::from_secs(1));
        }
    }

    if wants(o, "ajax") && o.servers.contains(&Proto::Chsk) {
        match ServerProc::spawn("chsk") {
            Ok(server) => {
                eprint!("ajax chsk … ");
                match rt.block_on(chsk_bench::load::ajax(
                    server.addr,
                    server.pid(),
                    100,
                    warm,
                    measure,
                    if o.quick { 20 } else { 200 },
                )) {
                    Ok(a) => {
                        eprintln!("{:.0}/s, push p50 {:.0} µs", a.rps, a.push_p50_us);
                        res.ajax = Some(a);
                    }
                    Err(e) => {
                        eprintln!("failed: {e}");
                        res.failures.push(format!("ajax, chsk: {e}"));
                    }
                }
            }
            Err(e) => res.failures.push(format!("ajax, chsk: {e}")),
        }
    }
    res.machine = format!(
        "{} (load average at the end: {})",
        res.machine,
        proc::loadavg()
    );
    res
}
