//! `chat-server [--dist DIR] [--addr HOST:PORT] [--csrf-token TOKEN] [--redis URL [--node-id ID]]`:
//! serves the chsk chat demo. Usually started by `cargo run -p xtask -- demo` (one node), or
//! `demo --nodes N` (N nodes sharing a Redis and a CSRF token, behind a balancer), which build
//! the bundle first.
//!
//! With `--redis`, this process is one node of several: pushes, recovery history, presence and
//! the rooms' messages go through that Redis. `--node-id` names it among the others (default:
//! the address it listens on and its process id). Every node needs the same `--csrf-token`
//! (without one, each process makes a random token).

use std::{net::SocketAddr, path::PathBuf};

const USAGE: &str = "usage: chat-server [--dist DIR] [--addr HOST:PORT] [--csrf-token TOKEN] \
                     [--redis URL [--node-id ID]]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut dist = PathBuf::from("target/chat-dist");
    let mut addr: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let (mut csrf, mut redis, mut node_id) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--dist", Some(v)) => dist = v.into(),
            ("--addr", Some(v)) => addr = v.parse()?,
            ("--csrf-token", Some(v)) if !v.is_empty() => csrf = Some(v),
            ("--redis", Some(v)) => redis = Some(v),
            ("--node-id", Some(v)) if !v.is_empty() => node_id = Some(v),
            _ => return Err(USAGE.into()),
        }
    }
    if node_id.is_some() && redis.is_none() {
        return Err(format!("--node-id needs --redis\n{USAGE}").into());
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let mut options = chat_server::ChatOptions::new(dist);
    if let Some(token) = csrf {
        options = options.csrf_token(token);
    }
    let mut node = String::new();
    if let Some(url) = &redis {
        let id = node_id.unwrap_or_else(|| format!("{addr}/{}", std::process::id()));
        node = format!(" (node {id}, Redis {url})");
        options = options.redis(url, id)?;
    }
    let app = chat_server::app(options);
    eprintln!(
        "chsk chat demo{node}: open http://{addr}/ (or http://{addr}/?user=alice); Ctrl-C stops"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
