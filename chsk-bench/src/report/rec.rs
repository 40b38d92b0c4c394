//! The recovery tables: the history's cost under a steady push load, the memory of a retained
//! push, and the reconnect storm.

use std::fmt::Write as _;

use crate::{
    scenario::{
        rec::{MemResult, SteadyResult},
        storm::StormResult,
    },
    units::{ratio, thousands},
};

/// Everything the recovery scenario measured.
#[derive(Debug, Clone, Default)]
pub struct RecResults {
    /// The steady push load, history on and off, per mode.
    pub steady: Vec<SteadyResult>,
    /// Memory of retained pushes, history on and off.
    pub mem: Vec<MemResult>,
    /// The reconnect storm.
    pub storm: Option<StormResult>,
}

/// Writes the recovery section.
pub fn markdown(s: &mut String, r: &RecResults) {
    let _ = writeln!(
        s,
        "\nRecovery (chsk; push history kept, the default, vs `without_history()`):\n"
    );
    steady(s, &r.steady);
    memory(s, r);
    storm(s, r);
}

fn steady(s: &mut String, v: &[SteadyResult]) {
    let Some(first) = v.first() else { return };
    let _ = writeln!(
        s,
        "| steady push load, {} clients (each its own user) | history kept | without history | CPU per push, kept / without |",
        first.clients
    );
    let _ = writeln!(s, "|---|---|---|---|");
    for mode in ["users", "all"] {
        let of = |h: bool| v.iter().find(|r| r.mode == mode && r.history == h);
        let cell = |h: bool| match of(h) {
            Some(r) => format!(
                "{}/s · {:.2} µs server CPU per push · {} pushes in {:.1} s",
                thousands(r.pushes_per_s()),
                r.cpu_us_per_push(),
                thousands(r.delivered as f64),
                r.secs
            ),
            None => "n/a".into(),
        };
        let label = match mode {
            "users" => "every push to one user (a stream per user)",
            _ => "every push to all (one stream)",
        };
        let _ = writeln!(
            s,
            "| {label} | {} | {} | {} |",
            cell(true),
            cell(false),
            ratio(
                of(true).map(SteadyResult::cpu_us_per_push),
                of(false).map(SteadyResult::cpu_us_per_push)
            )
        );
    }
}

fn memory(s: &mut String, r: &RecResults) {
    if r.mem.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n| retained pushes (nobody connected) | history: bytes per event | RSS growth per push |"
    );
    let _ = writeln!(s, "|---|---|---|");
    for m in &r.mem {
        let per = |b: f64| b / m.pushes.max(1) as f64;
        let kept = if m.history {
            format!(
                "{:.0} ({} events, {} bytes)",
                m.history_bytes as f64 / m.history_events.max(1) as f64,
                thousands(m.history_events as f64),
                thousands(m.history_bytes as f64)
            )
        } else {
            "–".into()
        };
        let _ = writeln!(
            s,
            "| {} pushes over {} user streams, {} | {kept} | {:.0} bytes |",
            thousands(m.pushes as f64),
            thousands(m.users as f64),
            if m.history {
                "history kept"
            } else {
                "without history"
            },
            per(m.rss_delta_kib as f64 * 1024.0)
        );
    }
}

fn storm(s: &mut String, r: &RecResults) {
    let Some(st) = &r.storm else { return };
    let _ = writeln!(
        s,
        "\n| reconnect storm | clients | outage | missed per client | all handshakes `recovered: true` | every missed event replayed | CPU: server (client) | recovered / failed | server: recoveries, failed, replayed | first connect, for comparison |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
    let _ = writeln!(
        s,
        "| all sockets closed, pushes go on (a round per 100 ms: one to all, one to every user), then everyone reconnects with `since` | {} | {:.0} ms ({} rounds) | {} | {:.2} s | {:.2} s | {:.2} s ({:.2} s) | {} / {} | {}, {}, {} | {:.2} s |",
        thousands(st.clients as f64),
        st.outage_ms,
        st.rounds,
        st.missed_per_client,
        st.handshakes_secs,
        st.recovered_secs,
        st.server_cpu_secs,
        st.client_cpu_secs,
        thousands(st.ok as f64),
        st.failed,
        thousands(st.server.0 as f64),
        st.server.1,
        thousands(st.server.2 as f64),
        st.connect_secs
    );
    for f in &st.failures {
        let _ = writeln!(s, "\n- {f}");
    }
}
