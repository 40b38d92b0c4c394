//! The test proxy itself (`support::proxy`): bytes flow both ways, `cut_all` ends both sides,
//! stall holds bytes and releases them in order, `set_upstream` and `refuse` steer new
//! connections; and a real chsk client reconnects after a cut.

mod support;

use std::{sync::Arc, time::Duration};

use chsk::client::TransportMode;
use support::{proxy::Proxy, *};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// A TCP server that greets each connection with its one-byte `tag`, then echoes, and counts
/// the bytes it received and the connections that ended.
struct Echo {
    addr: std::net::SocketAddr,
    received: watch::Receiver<usize>,
    ended: watch::Receiver<usize>,
}

impl Echo {
    async fn start(tag: u8) -> Echo {
        let listener = TcpListener::bind(any_port()).await.expect("echo binds");
        let addr = listener.local_addr().expect("bound address");
        let received = Arc::new(watch::Sender::new(0));
        let ended = Arc::new(watch::Sender::new(0));
        let (rx_received, rx_ended) = (received.subscribe(), ended.subscribe());
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let (received, ended) = (received.clone(), ended.clone());
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    if s.write_all(&[tag]).await.is_ok() {
                        while let Ok(n @ 1..) = s.read(&mut buf).await {
                            received.send_modify(|r| *r += n);
                            if s.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                    ended.send_modify(|e| *e += 1);
                });
            }
        });
        Echo {
            addr,
            received: rx_received,
            ended: rx_ended,
        }
    }

    fn received(&self) -> usize {
        *self.received.borrow()
    }
}

/// Connects through `proxy` and reads the greeting: the tag of the upstream reached.
async fn connect(proxy: &Proxy) -> (TcpStream, u8) {
    let mut s = TcpStream::connect(proxy.addr()).await.expect("connects");
    let mut tag = [0u8; 1];
    within(s.read_exact(&mut tag)).await.expect("a greeting");
    (s, tag[0])
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f).await.expect("within 10 s")
}

async fn round_trip(s: &mut TcpStream, text: &[u8]) {
    s.write_all(text).await.expect("sent");
    let mut back = vec![0u8; text.len()];
    within(s.read_exact(&mut back)).await.expect("echoed");
    assert_eq!(back, text);
}

/// The read fails or ends (the connection was cut or refused).
async fn assert_ends(s: &mut TcpStream) {
    let mut buf = [0u8; 16];
    let read = within(s.read(&mut buf)).await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

/// Nothing arrives for a while. (Under load this can only miss a forwarded byte, never fail
/// spuriously.)
async fn assert_quiet(s: &mut TcpStream) {
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_millis(150), s.read(&mut buf)).await;
    assert!(read.is_err(), "nothing while stalled, got {read:?}");
}

#[tokio::test]
async fn bytes_flow_both_ways_and_closes_pass_through() {
    let echo = Echo::start(b'A').await;
    let proxy = Proxy::start(echo.addr);
    let (mut s, tag) = connect(&proxy).await;
    assert_eq!(tag, b'A');
    round_trip(&mut s, b"hello").await;
    round_trip(&mut s, &[7u8; 100_000]).await;
    assert_eq!(proxy.live(), 1);
    drop(s);
    assert_eq!(proxy.wait_live(|n| n == 0).await, 0);
    let stats = proxy.stats();
    assert_eq!((stats.accepted, stats.cut, stats.refused), (1, 0, 0));
}

#[tokio::test]
async fn cut_all_ends_both_sides_and_counts() {
    let mut echo = Echo::start(b'A').await;
    let proxy = Proxy::start(echo.addr);
    let (mut a, _) = connect(&proxy).await;
    let (mut b, _) = connect(&proxy).await;
    round_trip(&mut a, b"a").await;
    round_trip(&mut b, b"b").await;
    assert_eq!(proxy.cut_all(), 2);
    assert_ends(&mut a).await;
    assert_ends(&mut b).await;
    within(echo.ended.wait_for(|&e| e == 2)).await.unwrap();
    assert_eq!(proxy.live(), 0);
    assert_eq!(proxy.cut_all(), 0);

    // New connections are still accepted.
    let (mut c, _) = connect(&proxy).await;
    round_trip(&mut c, b"c").await;
    let stats = proxy.stats();
    assert_eq!((stats.accepted, stats.cut, stats.live), (3, 2, 1));
}

#[tokio::test]
async fn stall_holds_bytes_and_unstall_releases_them_in_order() {
    let mut echo = Echo::start(b'A').await;
    let proxy = Proxy::start(echo.addr);
    let (mut s, _) = connect(&proxy).await;
    round_trip(&mut s, b"before").await;
    let received = echo.received();

    proxy.stall(true);
    s.write_all(b"held").await.unwrap();
    // A connection made while stalled is accepted, but its greeting is held too, and so is
    // its half-close.
    let mut late = TcpStream::connect(proxy.addr()).await.unwrap();
    proxy.wait_live(|n| n == 2).await;
    late.shutdown().await.unwrap();
    assert_quiet(&mut s).await;
    assert_quiet(&mut late).await;
    assert_eq!(echo.received(), received, "nothing reached the upstream");
    assert_eq!(
        *echo.ended.borrow(),
        0,
        "no end-of-stream reached the upstream"
    );

    // More than the proxy's buffer while stalled: it must come out whole and in order.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = s.into_split();
    let to_send = big.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&to_send).await.unwrap();
        w
    });
    proxy.stall(false);
    let mut back = vec![0u8; 4 + big.len()];
    within(r.read_exact(&mut back)).await.unwrap();
    assert_eq!(&back[..4], b"held");
    assert!(back[4..] == big[..], "the bytes came back in order");
    within(writer).await.unwrap();
    let mut tag = [0u8; 1];
    within(late.read_exact(&mut tag)).await.unwrap();
    assert_eq!(tag, [b'A']);
    within(echo.ended.wait_for(|&e| e == 1)).await.unwrap();
    assert_ends(&mut late).await;
}

#[tokio::test]
async fn set_upstream_sends_new_connections_elsewhere() {
    let (a, b) = (Echo::start(b'A').await, Echo::start(b'B').await);
    let proxy = Proxy::start(a.addr);
    let (mut old, tag) = connect(&proxy).await;
    assert_eq!(tag, b'A');
    proxy.set_upstream(b.addr);
    let (mut new, tag) = connect(&proxy).await;
    assert_eq!(tag, b'B');
    // The live connection stays with its upstream.
    round_trip(&mut old, b"old").await;
    round_trip(&mut new, b"new").await;
    assert_eq!((a.received(), b.received()), (3, 3));
}

#[tokio::test]
async fn refuse_and_unreachable_upstreams_close_new_connections() {
    let echo = Echo::start(b'A').await;
    let proxy = Proxy::start(echo.addr);
    let (mut live, _) = connect(&proxy).await;
    proxy.refuse(true);
    let mut refused = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_ends(&mut refused).await;
    round_trip(&mut live, b"untouched").await;
    proxy.refuse(false);
    let (mut again, _) = connect(&proxy).await;
    round_trip(&mut again, b"again").await;

    // Nothing listening upstream: the connection is closed the same way.
    proxy.set_upstream(free_addr().await);
    let mut unreachable = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_ends(&mut unreachable).await;
    let stats = proxy.stats();
    assert_eq!((stats.accepted, stats.refused, stats.live), (4, 2, 2));
}

#[tokio::test]
async fn a_chsk_client_reconnects_after_a_cut() {
    let (_server, _state, running) = start().await;
    let proxy = Proxy::start(running.addr);
    for mode in [TransportMode::Ws, TransportMode::Ajax] {
        let client = open(&proxy.url(), opts(mode, "alice")).await;
        let mut changes = client.state_changes();
        assert!(proxy.cut_all() >= 1, "{mode:?}");
        loop {
            let change = within(changes.recv()).await.expect("alive");
            if change.closed() {
                break;
            }
        }
        client.wait_open(WAIT).await.expect("reopened");
        let reply = ask_echo(&client, "through").await;
        assert_eq!(reply.as_deref(), Ok("through from alice"), "{mode:?}");
    }
    assert!(proxy.stats().cut >= 2);
}
