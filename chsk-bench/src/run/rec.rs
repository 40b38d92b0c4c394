//! The recovery scenario's steps (`--only rec`): the steady push load with the history on and
//! off, the memory of retained pushes, and the reconnect storm, each on fresh server children.

use std::time::Duration;

use tokio::runtime::Runtime;

use super::{outcome, spawn, Plan};
use crate::{
    report::rec::RecResults,
    scenario::{
        rec::{self as scenario, Load, MemResult, SteadyResult},
        storm::{self, StormResult},
    },
    units::thousands,
};

/// How long the clients are away in the storm.
const OUTAGE: Duration = Duration::from_secs(2);

/// Runs the three steps; a step that fails is recorded in `failures` and left out.
pub(super) fn recovery(plan: &Plan, rt: &Runtime, failures: &mut Vec<String>) -> RecResults {
    let mut out = RecResults::default();
    let (clients, window, reps) = if plan.quick {
        (50, Duration::from_millis(500), 2)
    } else {
        (100, Duration::from_secs(2), 3)
    };
    let on = spawn("chsk", failures, || "recovery, chsk".into());
    let off = spawn("chsk-nohist", failures, || {
        "recovery, chsk without history".into()
    });
    if let (Some(on), Some(off)) = (&on, &off) {
        eprint!("recovery: steady push load, {clients} clients, history on / off … ");
        let r = rt.block_on(async {
            let mut loads = vec![
                (true, Load::start(on.addr, on.pid(), clients).await?),
                (false, Load::start(off.addr, off.pid(), clients).await?),
            ];
            scenario::steady(&mut loads, 50, window, reps).await
        });
        let summary = |v: &Vec<SteadyResult>| {
            let cells: Vec<String> = v
                .iter()
                .map(|r| {
                    format!(
                        "{} {}: {}/s {:.2} µs/push",
                        r.mode,
                        if r.history { "on" } else { "off" },
                        thousands(r.pushes_per_s()),
                        r.cpu_us_per_push()
                    )
                })
                .collect();
            cells.join("; ")
        };
        let what = || "recovery, steady push load".to_string();
        out.steady = outcome(r, failures, what, summary).unwrap_or_default();
    }
    drop((on, off));

    let (users, per_user) = if plan.quick { (500, 20) } else { (1_000, 100) };
    for (history, kind) in [(true, "chsk"), (false, "chsk-nohist")] {
        let what = || format!("recovery, memory, {kind}");
        let Some(server) = spawn(kind, failures, what) else {
            continue;
        };
        eprint!("recovery: memory, {users} users × {per_user} pushes, {kind} … ");
        let r = rt.block_on(scenario::memory(
            server.addr,
            server.pid(),
            history,
            users,
            per_user,
        ));
        let summary = |m: &MemResult| {
            format!(
                "history {} events, {} bytes; RSS +{} KiB",
                m.history_events, m.history_bytes, m.rss_delta_kib
            )
        };
        out.mem.extend(outcome(r, failures, what, summary));
    }

    let n = plan
        .rec_clients
        .unwrap_or(if plan.quick { 1_000 } else { 10_000 });
    if let Some(server) = spawn("chsk", failures, || "recovery, storm".into()) {
        eprint!(
            "recovery: {n} clients, {} s outage, reconnect … ",
            OUTAGE.as_secs()
        );
        let r = rt.block_on(storm::storm(server.addr, server.pid(), n, OUTAGE));
        let summary = |s: &StormResult| {
            format!(
                "{} missed each; all recovered in {:.2} s (handshakes {:.2} s), cpu {:.2} s \
                 (client {:.2} s); ok {}, failed {}; first connect {:.2} s{}",
                s.missed_per_client,
                s.recovered_secs,
                s.handshakes_secs,
                s.server_cpu_secs,
                s.client_cpu_secs,
                s.ok,
                s.failed,
                s.connect_secs,
                s.failures
                    .iter()
                    .map(|f| format!("\n  {f}"))
                    .collect::<String>()
            )
        };
        out.storm = outcome(r, failures, || "recovery, storm".into(), summary);
    }
    out
}
