//! `chsk-redis-node --port P --redis URL --node-id ID [--grace-ms MS] [--node-timeout-ms MS]
//! [--heartbeat-ms MS] [--send-queue-bytes N]`:
//! one chsk server process on chsk-redis (see the crate docs). Prints `LISTENING <addr>`.

use std::time::Duration;

use chsk::server::Limits;
use chsk_redis_node::{node_app, NodeConfig};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn ms(args: &[String], name: &str, default: u64) -> Duration {
    Duration::from_millis(
        arg(args, name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = arg(&args, "--port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let config = NodeConfig {
        redis: arg(&args, "--redis").unwrap_or_else(|| "redis://127.0.0.1:6379/".into()),
        node_id: arg(&args, "--node-id").unwrap_or_else(|| format!("node-{port}")),
        grace: ms(&args, "--grace-ms", 1_000),
        node_timeout: ms(&args, "--node-timeout-ms", 10_000),
        heartbeat: ms(&args, "--heartbeat-ms", 500),
        send_queue_bytes: arg(&args, "--send-queue-bytes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(Limits::default().send_queue_bytes),
    };
    let (_server, _cluster, app) = node_app(&config);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("LISTENING {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
