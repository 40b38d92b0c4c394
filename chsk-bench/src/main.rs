//! `chsk-bench`: runs every scenario against chsk, the raw WebSocket limit and socketioxide, and
//! prints one table. `chsk-bench serve <kind>` is the server child it starts for each server.
//!
//! ```text
//! cargo run --release -p chsk-bench                 # everything (a few minutes)
//! cargo run --release -p chsk-bench -- --quick      # a short smoke run
//! cargo run --release -p chsk-bench -- --only rr,fan --svg /tmp/plot.svg
//! cargo run --release -p chsk-bench -- --only rec --rec-clients 2000   # recovery
//! cargo run --release -p chsk-bench -- burst        # RSS during 100 MB push bursts (~1 min)
//! ```

use std::process::ExitCode;

use chsk_bench::{
    proc,
    run::{self, Plan},
    servers,
    wire::Proto,
};

fn usage() -> ExitCode {
    eprintln!(
        "usage: chsk-bench [--quick] [--only rr,lat,fan,idle,ajax,rec] [--servers chsk,raw,sio] \
         [--idle 5000,10000] [--fan CLIENTSxEVENTS] [--rec-clients N] [--svg PATH] \
         [--out PATH]\n       \
         chsk-bench burst [--only TEXT] [--out PATH]\n       chsk-bench serve <{}>",
        servers::KINDS.join("|")
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("burst") => burst(&args[1..]),
        Some("run") => table(&args[1..]),
        _ => table(&args),
    }
}

/// `chsk-bench serve <kind>`: one server, until stdin closes.
fn serve(args: &[String]) -> ExitCode {
    let Some(kind) = args.first() else {
        return usage();
    };
    match servers::serve(kind) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve {kind}: {e}");
            println!("FAILED {e}");
            ExitCode::FAILURE
        }
    }
}

/// `chsk-bench [run] [options]`: the table (and the plot).
fn table(args: &[String]) -> ExitCode {
    let mut plan = Plan::default();
    let mut svg = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/throughput.svg").to_string());
    let mut out = None;
    let mut it = args.iter().map(String::as_str);
    while let Some(a) = it.next() {
        let mut val = || it.next().map(str::to_string);
        match a {
            "--quick" => plan.quick = true,
            "--only" => match val() {
                Some(v) => plan.only = v.split(',').map(str::to_string).collect(),
                None => return usage(),
            },
            "--fan" => match val().as_deref().and_then(|v| v.split_once('x')) {
                Some((c, e)) => match (c.parse(), e.parse()) {
                    (Ok(c), Ok(e)) => plan.fan_size = Some((c, e)),
                    _ => return usage(),
                },
                None => return usage(),
            },
            "--rec-clients" => match val().map(|v| v.parse()) {
                Some(Ok(n)) => plan.rec_clients = Some(n),
                _ => return usage(),
            },
            "--svg" => svg = val(),
            "--out" => out = val(),
            "--idle" => match val().map(|v| {
                v.split(',')
                    .map(str::parse)
                    .collect::<Result<Vec<usize>, _>>()
            }) {
                Some(Ok(v)) => plan.idle_steps = v,
                _ => return usage(),
            },
            "--servers" => match val() {
                Some(v) => plan.servers = v.split(',').filter_map(proto).collect(),
                None => return usage(),
            },
            _ => return usage(),
        }
    }
    let max_idle = plan.idle_steps.iter().copied().max().unwrap_or(0) as u64;
    // the storm's clients, and their old and new server sockets in the child
    let storm = plan
        .rec_clients
        .unwrap_or(if plan.quick { 1_000 } else { 10_000 }) as u64;
    proc::ensure_nofile(max_idle.max(2 * storm) + 1_000);
    let (soft, _) = proc::nofile_limits();
    if soft < max_idle + 200 {
        eprintln!(
            "open-files limit {soft} is below {} connections: idle steps capped",
            max_idle
        );
        plan.idle_steps.retain(|&n| (n as u64) + 200 <= soft);
    }
    let res = run::table(&plan);
    let md = res.markdown();
    println!("\n{md}");
    write(out.as_deref(), &md);
    if let Some(path) = &svg {
        if !res.rr.is_empty() && write(Some(path), &res.svg()) {
            eprintln!("plot written to {path}");
        }
    }
    ExitCode::SUCCESS
}

/// A server of `--servers`.
fn proto(name: &str) -> Option<Proto> {
    match name {
        "chsk" => Some(Proto::Chsk),
        "raw" => Some(Proto::Raw),
        "sio" | "socketioxide" => Some(Proto::Sio),
        _ => None,
    }
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
    let md = run::bursts(&run::runtime(), only.as_deref());
    println!("\n{md}");
    write(out.as_deref(), &md);
    ExitCode::SUCCESS
}

/// Writes `text` to `path` (if any); whether it was written. A failure is printed.
fn write(path: Option<&str>, text: &str) -> bool {
    let Some(path) = path else {
        return false;
    };
    match std::fs::write(path, text) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("writing {path}: {e}");
            false
        }
    }
}
