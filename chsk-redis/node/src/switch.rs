//! A TCP relay whose backend can be switched, and whose connections can be cut (no close
//! handshake): it moves a client from one node to another, as a load balancer does when a
//! node dies or a client reconnects elsewhere.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::{net::TcpListener, task::AbortHandle};

#[derive(Debug)]
struct Inner {
    backend: Mutex<SocketAddr>,
    conns: Mutex<Vec<AbortHandle>>,
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
        });
        let relay = inner.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let to = *relay.backend.lock().unwrap();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
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

    /// Cuts every relayed connection (both sides just see the socket close).
    pub fn cut_all(&self) {
        for c in self.inner.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}
