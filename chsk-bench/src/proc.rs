//! Server child processes and what `/proc` says about them (RSS, CPU time), the open-files
//! limit, and the machine description for the report.

use std::{
    io::{self, BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A server running in a child process (`chsk-bench serve <kind>`). Killed on drop; it also
/// exits by itself when its stdin closes (when the bench process dies).
#[derive(Debug)]
pub struct ServerProc {
    child: Child,
    /// Where it listens (127.0.0.1, a free port).
    pub addr: SocketAddr,
    /// Its kind (`raw`, `raw-small`, `sio`, `chsk`).
    pub kind: String,
}

impl ServerProc {
    /// Starts `chsk-bench serve <kind>` and waits for its `LISTENING <addr>` line.
    pub fn spawn(kind: &str) -> io::Result<ServerProc> {
        let exe = std::env::current_exe()?;
        // `CHSK_BENCH_WRAP="heaptrack -o /tmp/ht"` runs the server under a profiler (its RSS and
        // CPU figures are then the wrapper's).
        let wrap = std::env::var("CHSK_BENCH_WRAP").unwrap_or_default();
        let mut words = wrap.split_whitespace();
        let mut cmd = match words.next() {
            Some(program) => {
                let mut c = Command::new(program);
                c.args(words).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        let mut child = cmd
            .args(["serve", kind])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .strip_prefix("LISTENING ")
            .and_then(|a| a.trim().parse().ok());
        match addr {
            Some(addr) => Ok(ServerProc {
                child,
                addr,
                kind: kind.to_string(),
            }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(io::Error::other(format!(
                    "server `{kind}` did not start: {line:?}"
                )))
            }
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }

    /// User + system CPU time in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        cpu_ticks(self.pid())
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmRSS` of a process in KiB (0 if unreadable).
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// `VmHWM` of a process in KiB: its peak RSS since it started (0 if unreadable).
pub fn hwm_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

/// A `… kB` field of `/proc/<pid>/status`, in KiB (0 if unreadable).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// utime + stime of a process in clock ticks (0 if unreadable).
pub fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name may hold spaces: fields are counted after the closing parenthesis.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    let get = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(14) + get(15)
}

/// Clock ticks per second (`CLK_TCK`; 100 on Linux).
pub const TICKS_PER_SEC: f64 = 100.0;

/// Measures a server's CPU use (fraction of one core) over a span.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    pid: u32,
    ticks: u64,
    at: std::time::Instant,
}

impl CpuMeter {
    /// Starts measuring.
    pub fn start(pid: u32) -> CpuMeter {
        CpuMeter {
            pid,
            ticks: cpu_ticks(pid),
            at: std::time::Instant::now(),
        }
    }

    /// The fraction of one core used since `start`.
    pub fn stop(self) -> f64 {
        let secs = self.at.elapsed().as_secs_f64().max(1e-9);
        (cpu_ticks(self.pid).saturating_sub(self.ticks)) as f64 / TICKS_PER_SEC / secs
    }
}

/// The soft and hard `RLIMIT_NOFILE` of this process, from `/proc/self/limits`.
pub fn nofile_limits() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    for line in s.lines() {
        if let Some(rest) = line.strip_prefix("Max open files") {
            let mut it = rest.split_whitespace();
            let soft = it.next().and_then(|v| v.parse().ok()).unwrap_or(1024);
            let hard = it.next().and_then(|v| v.parse().ok()).unwrap_or(soft);
            return (soft, hard);
        }
    }
    (1024, 1024)
}

/// Raises the soft open-files limit to the hard one by re-executing this process through
/// `sh -c 'ulimit -n …'` (the workspace forbids `unsafe`, so no `setrlimit` call here). Children
/// inherit the raised limit. Returns only when no re-exec was needed or it failed.
pub fn ensure_nofile(wanted: u64) {
    use std::os::unix::process::CommandExt;
    let (soft, hard) = nofile_limits();
    if soft >= wanted || soft >= hard || std::env::var_os("CHSK_BENCH_REEXEC").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let target = hard.min(wanted.max(soft));
    eprintln!("raising the open-files limit from {soft} to {target} (re-exec)");
    let err = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {target} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env("CHSK_BENCH_REEXEC", "1")
        .exec();
    eprintln!("re-exec failed: {err}");
}

/// nproc, CPU model, memory, kernel, load average: the machine line of the report.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{nproc} CPUs ({model}), {:.1} GiB RAM, Linux {}, load average {}",
        mem_kib as f64 / 1024.0 / 1024.0,
        kernel.trim(),
        loadavg()
    )
}

/// `/proc/loadavg`'s first three fields.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sleeps (blocking) a moment, letting a server settle before a measurement.
pub fn settle(d: Duration) {
    std::thread::sleep(d);
}

/// Samples a process's RSS on a thread of its own (so a busy load client does not delay it)
/// until [`stop`](RssSampler::stop).
#[derive(Debug)]
pub struct RssSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(u64, usize)>,
}

impl RssSampler {
    /// Starts sampling `pid` every `every`.
    pub fn start(pid: u32, every: Duration) -> RssSampler {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut max, mut n) = (0u64, 0usize);
            while !flag.load(Ordering::Relaxed) {
                max = max.max(rss_kib(pid));
                n += 1;
                std::thread::sleep(every);
            }
            (max.max(rss_kib(pid)), n + 1)
        });
        RssSampler { stop, thread }
    }

    /// Stops; returns the largest RSS sampled (KiB) and the number of samples.
    pub fn stop(self) -> (u64, usize) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or((0, 0))
    }
}
