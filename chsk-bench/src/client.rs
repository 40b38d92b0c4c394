//! The load client's WebSockets: raw sockets (tokio-tungstenite) speaking each protocol's frames
//! directly, so that the client does as little as possible and the server is what is measured.

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use futures_util::{stream::FuturesUnordered, SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{
    client_async_with_config,
    tungstenite::{self, protocol::WebSocketConfig, Message},
    WebSocketStream,
};

use crate::wire::{self, classify_bin, classify_text, In, Out, Proto};

/// A client WebSocket.
pub type Ws = WebSocketStream<TcpStream>;

/// A boxed error message.
pub type Error = String;

/// An error as its message.
pub fn err(e: impl std::fmt::Display) -> Error {
    e.to_string()
}

/// Converts an outgoing message.
pub fn to_message(out: Out) -> Message {
    match out {
        Out::Bin(b) => Message::Binary(b),
        Out::Text(t) => Message::Text(t.into()),
    }
}

/// Classifies a received message.
pub fn classify(proto: Proto, msg: &Message) -> In {
    match msg {
        Message::Binary(b) => classify_bin(proto, b),
        Message::Text(t) => classify_text(proto, t.as_str()),
        _ => In::Other,
    }
}

/// Answers a protocol ping (sio `3`, chsk `Pong`; the raw protocol has none).
pub async fn answer_ping(ws: &mut Ws, proto: Proto) -> Result<(), tungstenite::Error> {
    match wire::pong(proto) {
        Some(p) => ws.send(to_message(p)).await,
        None => Ok(()),
    }
}

/// The WebSocket path of each server (`user` selects the chsk user id; the raw server's
/// `/push` route registers the connection for pushes).
pub fn ws_path(proto: Proto, client: usize, user: &str, push: bool) -> String {
    match proto {
        Proto::Raw if push => "/push".into(),
        Proto::Raw => "/echo".into(),
        Proto::Sio => "/socket.io/?EIO=4&transport=websocket".into(),
        Proto::Chsk if anonymous() => format!("/chsk?v=2&client-id=c{client}"),
        Proto::Chsk => format!("/chsk?v=2&client-id=c{client}&uid={user}"),
    }
}

/// `CHSK_BENCH_ANON=1`: chsk clients connect without a user id (anonymous), e.g. to measure
/// the idle cost of anonymous connections; the fan-out scenarios need user ids.
fn anonymous() -> bool {
    std::env::var_os("CHSK_BENCH_ANON").is_some_and(|v| v == "1")
}

/// Opens a WebSocket and completes the protocol's handshake (sio: `0{…}` → `40` → `40{…}`;
/// chsk: the `Handshake` frame).
pub async fn connect(addr: SocketAddr, proto: Proto, path: &str) -> Result<Ws, Error> {
    let tcp = tcp_connect(addr).await.map_err(err)?;
    connect_on(tcp, addr, proto, path).await
}

/// Source addresses the bench's loopback connections take in turn: each has its own ~28,000
/// ephemeral ports, so that 100,000 connections to one server port do not run out of them.
const SOURCES: usize = 8;

/// A TCP connection to `addr`; to a loopback IPv4 address from `127.0.0.1` to `127.0.0.8` in
/// turn.
pub async fn tcp_connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    if !(addr.is_ipv4() && addr.ip().is_loopback()) {
        return TcpStream::connect(addr).await;
    }
    let k = NEXT.fetch_add(1, Ordering::Relaxed) % SOURCES;
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, 1 + k as u8), 0)))?;
    socket.connect(addr).await
}

/// [`connect`] on a TCP connection already opened (e.g. with a small receive buffer).
pub async fn connect_on(
    tcp: TcpStream,
    addr: SocketAddr,
    proto: Proto,
    path: &str,
) -> Result<Ws, Error> {
    open_on(tcp, addr, proto, path).await.map(|(ws, _)| ws)
}

/// [`connect`], also returning the message that opened the connection (chsk: the `Handshake`
/// frame; none for the raw protocol).
pub async fn open(
    addr: SocketAddr,
    proto: Proto,
    path: &str,
) -> Result<(Ws, Option<Message>), Error> {
    let tcp = tcp_connect(addr).await.map_err(err)?;
    open_on(tcp, addr, proto, path).await
}

async fn open_on(
    tcp: TcpStream,
    addr: SocketAddr,
    proto: Proto,
    path: &str,
) -> Result<(Ws, Option<Message>), Error> {
    tcp.set_nodelay(true).map_err(err)?;
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let (mut ws, _) = client_async_with_config(format!("ws://{addr}{path}"), tcp, Some(config))
        .await
        .map_err(err)?;
    if proto == Proto::Raw {
        return Ok((ws, None));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => return Err(err(e)),
            Ok(None) => return Err("closed during handshake".into()),
            Err(_) => return Err("handshake timed out".into()),
        };
        match classify(proto, &msg) {
            In::EioOpen => ws.send(Message::Text("40".into())).await.map_err(err)?,
            In::Open => return Ok((ws, Some(msg))),
            In::Ping => answer_ping(&mut ws, proto).await.map_err(err)?,
            _ => {}
        }
    }
}

/// Opens `n` connections, `parallel` at a time; `path(i)` gives each one's path.
pub async fn connect_many(
    addr: SocketAddr,
    proto: Proto,
    n: usize,
    parallel: usize,
    path: impl Fn(usize) -> String,
) -> Result<Vec<Ws>, Error> {
    let mut out = Vec::with_capacity(n);
    let mut pending = FuturesUnordered::new();
    let mut next = 0;
    while out.len() < n {
        while next < n && pending.len() < parallel {
            let p = path(next);
            pending.push(async move { connect(addr, proto, &p).await });
            next += 1;
        }
        match pending.next().await {
            Some(Ok(ws)) => out.push(ws),
            Some(Err(e)) => return Err(format!("connection {} of {n}: {e}", out.len())),
            None => break,
        }
    }
    Ok(out)
}

/// Opens `n` connections, `parallel` at a time, client `i` (counted from `first`) as the user
/// `u<i>` (the request/reply and idle connections; not registered for raw pushes).
pub async fn connect_users(
    addr: SocketAddr,
    proto: Proto,
    first: usize,
    n: usize,
    parallel: usize,
) -> Result<Vec<Ws>, Error> {
    connect_many(addr, proto, n, parallel, |i| {
        let i = first + i;
        ws_path(proto, i, &format!("u{i}"), false)
    })
    .await
}
