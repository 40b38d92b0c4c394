//! The servers under test, each run by `chsk-bench serve <kind>` in a child process on a
//! single-threaded tokio runtime (one server core, as in the design's performance notes):
//! [`raw`] (the limit), [`sio`] (socketioxide) and [`chsk`].
//!
//! Every server has `GET /trigger?mode=users|all&m=M`: push `M` events to every connected
//! client, one send per client and event (`users`: each client is its own user) or one
//! broadcast per event (`all`).

pub mod chsk;
pub mod raw;
pub mod sio;

use std::io::{Read, Write};

use serde::Deserialize;

/// The server kinds `serve` accepts (`chsk-nohist`: chsk built `without_history()`).
pub const KINDS: &[&str] = &["raw", "raw-small", "sio", "chsk", "chsk-nohist"];

/// Query of `/trigger`.
#[derive(Debug, Deserialize)]
pub struct Trigger {
    /// `users` (one send per client) or `all` (one broadcast).
    pub mode: String,
    /// Events to push.
    pub m: u32,
}

/// Runs a server of `kind` on 127.0.0.1 (a free port), prints `LISTENING <addr>` on stdout, and
/// serves until stdin is closed.
pub fn serve(kind: &str) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let app = match kind {
        "raw" => raw::router(false),
        "raw-small" => raw::router(true),
        "sio" => sio::router(),
        "chsk" => chsk::router(true),
        "chsk-nohist" => chsk::router(false),
        other => return Err(format!("unknown server kind `{other}`; one of {KINDS:?}")),
    };
    // Exit when the parent goes away (stdin closes).
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        std::process::exit(0);
    });
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "LISTENING {addr}");
        let _ = out.flush();
        axum::serve(listener, app).await.map_err(|e| e.to_string())
    })
}
