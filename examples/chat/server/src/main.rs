//! `chat-server [--dist DIR] [--addr HOST:PORT]`: serves the chsk chat demo. Usually started by
//! `cargo run -p xtask -- demo`, which builds the bundle first.

use std::{net::SocketAddr, path::PathBuf};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut dist = PathBuf::from("target/chat-dist");
    let mut addr: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--dist", Some(v)) => dist = v.into(),
            ("--addr", Some(v)) => addr = v.parse()?,
            _ => return Err("usage: chat-server [--dist DIR] [--addr HOST:PORT]".into()),
        }
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let app = chat_server::app(dist);
    eprintln!("chsk chat demo: open http://{addr}/ (or http://{addr}/?user=alice); Ctrl-C stops");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
