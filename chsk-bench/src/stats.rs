//! What a measurement collects: replies and their latencies, quantiles, and CPU use over a
//! measured window.

use std::time::{Duration, Instant};

use tokio::task::{JoinError, JoinHandle};

use crate::proc::CpuMeter;

/// The `q` quantile of sorted samples.
pub fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)])
}

/// A latency sample: whole microseconds, saturating.
pub fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// What one client counted: round trips answered in the measured window, errors, and the
/// latencies of those round trips in µs.
#[derive(Debug, Default)]
pub struct Tally {
    /// Round trips answered in the window.
    pub count: u64,
    /// Error replies, unexpected messages or dead connections.
    pub errors: u64,
    /// Latencies in µs (sorted once gathered).
    pub lats: Vec<u32>,
}

impl Tally {
    /// Awaits every client's tally and adds them up; the latencies come out sorted.
    pub async fn gather(tasks: Vec<JoinHandle<Tally>>) -> Result<Tally, JoinError> {
        let mut all = Tally::default();
        for t in tasks {
            let t = t.await?;
            all.count += t.count;
            all.errors += t.errors;
            all.lats.extend(t.lats);
        }
        all.lats.sort_unstable();
        Ok(all)
    }
}

/// Waits until `from`, then measures until `to` the CPU use (fractions of one core) of the
/// server `pid` and of this process (the load client).
pub async fn cpu_window(pid: u32, from: Instant, to: Instant) -> (f64, f64) {
    tokio::time::sleep_until(from.into()).await;
    let server = CpuMeter::start(pid);
    let client = CpuMeter::start(std::process::id());
    tokio::time::sleep_until(to.into()).await;
    (server.stop(), client.stop())
}
