//! The burst table (`chsk-bench burst`): per case, what the server wrote, dropped and could not
//! deliver, what the clients received, and the server's RSS.

use std::fmt::Write as _;

use crate::{
    scenario::burst::BurstResult,
    units::{group_digits as n, mib},
};

/// The results as a Markdown table (plus the machine line).
pub fn markdown(machine: &str, results: &[BurstResult], failures: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Machine: {machine}\n");
    let _ = writeln!(
        s,
        "| case | pushes | push loop | delivered | written | dropped (why) | no connection | \
         received by the clients | the client saw | time | server RSS, MiB: before / peak \
         (VmHWM) / after / all closed |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        let reasons = [
            ("pushes_dropped_slow_consumer", "slow consumer"),
            ("pushes_dropped_closed", "closed"),
            ("pushes_dropped_write_timeout", "write timeout"),
            ("pushes_dropped_ping_timeout", "ping timeout"),
            ("pushes_dropped_replaced", "replaced"),
        ];
        let why: Vec<String> = reasons
            .iter()
            .filter(|(k, _)| r.m(k) > 0)
            .map(|(k, what)| format!("{} {what}", n(r.m(k))))
            .collect();
        let dropped = r.m("pushes_dropped");
        let balance = r.m("push_deliveries") == r.m("pushes_written") + dropped;
        let mut dropped = if why.is_empty() {
            n(dropped)
        } else {
            format!("{} ({})", n(dropped), why.join(", "))
        };
        let closes = r.m("slow_consumer_closes");
        if closes > 0 {
            let _ = write!(dropped, "; {} slow-consumer close(s)", n(closes));
        }
        let received = if r.clients > 1 {
            format!(
                "{} of {} ({} of {} clients complete)",
                n(r.received),
                n(r.offered),
                n(r.complete as u64),
                n(r.clients as u64)
            )
        } else {
            format!("{} of {}", n(r.received), n(r.offered))
        };
        let time = match r.all_ms {
            Some(ms) => format!("all received in {ms:.0} ms"),
            None => format!("reading ended after {:.0} ms", r.end_ms),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {:.0} ms | {}{} | {} | {} | {} | {} | {} | {} | {} / {} ({}) / {} / {} |",
            r.label,
            r.how,
            r.reply.ms,
            n(r.m("push_deliveries")),
            if balance {
                ""
            } else {
                " (≠ written + dropped)"
            },
            n(r.m("pushes_written")),
            dropped,
            n(r.m("pushes_undeliverable")),
            received,
            r.ends,
            time,
            mib(r.rss_before),
            mib(r.rss_peak),
            mib(r.hwm),
            mib(r.rss_after),
            mib(r.rss_closed),
        );
    }
    for f in failures {
        let _ = writeln!(s, "\nFAILED: {f}");
    }
    s
}
