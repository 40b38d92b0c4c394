//! A TCP relay whose backend can be switched, and whose connections can be cut (no close
//! handshake): it moves a client from one node to another, as a load balancer does when a
//! node dies or a client reconnects elsewhere. It can also swallow every byte while leaving the
//! sockets open (a network that died without telling either side).

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpListener,
    task::AbortHandle,
};

#[derive(Debug)]
struct Inner {
    backend: Mutex<SocketAddr>,
    conns: Mutex<Vec<AbortHandle>>,
    /// Bytes are read and dropped, in both directions.
    blackhole: AtomicBool,
}

/// Copies `from` to `to` until either ends, dropping what is read while the relay is a black
/// hole.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    relay: Arc<Inner>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if relay.blackhole.load(Ordering::Acquire) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// A running relay.
#[derive(Debug, Clone)]
pub struct Switch {
    /// Where it listens.
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl Switch {
    /// Starts a relay to `backend` on a free loopback port.
    pub async fn start(backend: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner {
            backend: Mutex::new(backend),
            conns: Mutex::default(),
            blackhole: AtomicBool::new(false),
        });
        let relay = inner.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let to = *relay.backend.lock().unwrap();
                let pumps = relay.clone();
                let task = tokio::spawn(async move {
                    if let Ok(server) = tokio::net::TcpStream::connect(to).await {
                        let (cr, cw) = client.into_split();
                        let (sr, sw) = server.into_split();
                        tokio::select! {
                            () = pump(cr, sw, pumps.clone()) => {}
                            () = pump(sr, cw, pumps) => {}
                        }
                    }
                });
                let mut conns = relay.conns.lock().unwrap();
                conns.retain(|c| !c.is_finished());
                conns.push(task.abort_handle());
            }
        });
        Self { addr, inner }
    }

    /// `http://<addr>/chsk`.
    pub fn url(&self) -> String {
        format!("http://{}/chsk", self.addr)
    }

    /// New connections go to `backend`; the open ones are cut.
    pub fn switch_to(&self, backend: SocketAddr) {
        *self.inner.backend.lock().unwrap() = backend;
        self.cut_all();
    }

    /// While `on`, every byte is swallowed (both ways) and the sockets stay open.
    pub fn blackhole(&self, on: bool) {
        self.inner.blackhole.store(on, Ordering::Release);
    }

    /// Cuts every relayed connection (both sides just see the socket close).
    pub fn cut_all(&self) {
        for c in self.inner.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}
