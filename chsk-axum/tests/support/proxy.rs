//! A controllable TCP proxy on loopback, put between clients and a server to play network
//! faults: cut every live connection, stall them, refuse new ones, or send new ones to
//! another upstream (a server restarted on a new port).
//!
//! - Cut: both sockets of a connection are shut down at once (`shutdown(Both)`: each peer reads
//!   end-of-stream immediately), then closed with `SO_LINGER` 0 (a reset: its writes fail).
//!   Nothing is forwarded after [`Proxy::cut_all`] returns.
//! - Stall: each direction stops forwarding. It holds at most the one buffer (16 KiB) it had
//!   already read, and reads no more, so the rest waits in the kernel's buffers and the sender
//!   eventually sees backpressure, as over a dead link. A half-close is held as well. On
//!   unstall everything flows on, in order, nothing lost.
//! - Refuse: new connections are accepted and closed at once with a reset (a server that is
//!   down). A connection whose upstream cannot be reached is closed the same way.

use std::{
    collections::HashMap,
    net::{Shutdown, SocketAddr},
    os::fd::AsFd,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        tcp::{OwnedReadHalf, OwnedWriteHalf},
        TcpListener, TcpStream,
    },
    sync::watch,
    task::{AbortHandle, JoinHandle},
};

/// A running proxy; dropping it stops it and cuts every connection.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

/// Counters since the proxy started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Connections taken from the listener, refused ones included.
    pub accepted: usize,
    /// Connections closed by [`Proxy::refuse`] (or because the upstream was unreachable).
    pub refused: usize,
    /// Connections ended by [`Proxy::cut_all`].
    pub cut: usize,
    /// Connections open now (see [`Proxy::live`]).
    pub live: usize,
}

struct Shared {
    upstream: Mutex<SocketAddr>,
    refuse: AtomicBool,
    stall: watch::Sender<bool>,
    conns: Mutex<HashMap<u64, Conn>>,
    /// The number of entries in `conns`, to be awaited.
    live: watch::Sender<usize>,
    next_id: AtomicU64,
    accepted: AtomicUsize,
    refused: AtomicUsize,
    cut: AtomicUsize,
}

/// A live connection: its task and duplicates of its sockets (to shut them down from outside).
struct Conn {
    task: AbortHandle,
    sockets: Vec<std::net::TcpStream>,
}

impl Conn {
    fn cut(self) {
        for s in &self.sockets {
            let _ = s.shutdown(Shutdown::Both);
        }
        // Dropping the task's sockets closes them; with SO_LINGER 0 that is a reset.
        self.task.abort();
    }
}

impl Proxy {
    /// Listens on `127.0.0.1:<any port>` and forwards each connection to `upstream` (the one
    /// current when it is accepted). Needs a tokio runtime.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("proxy binds");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("bound address");
        let listener = TcpListener::from_std(listener).expect("inside a tokio runtime");
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            refuse: AtomicBool::new(false),
            stall: watch::Sender::new(false),
            conns: Mutex::default(),
            live: watch::Sender::new(0),
            next_id: AtomicU64::new(0),
            accepted: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            cut: AtomicUsize::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Proxy {
            addr,
            shared,
            accept,
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The chsk endpoint through the proxy (the support server's `/chsk`).
    pub fn url(&self) -> String {
        format!("http://{}/chsk", self.addr)
    }

    /// Ends every live connection abruptly (see the module doc) and returns how many. New
    /// connections are still accepted.
    pub fn cut_all(&self) -> usize {
        let conns = self.shared.drain();
        let n = conns.len();
        self.shared.cut.fetch_add(n, Ordering::SeqCst);
        conns.into_iter().for_each(Conn::cut);
        n
    }

    /// Stalls (`true`) or resumes (`false`) forwarding on every connection, new ones included.
    pub fn stall(&self, on: bool) {
        self.shared.stall.send_replace(on);
    }

    /// Connections accepted from now on go to `upstream`; live ones stay where they are.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.shared.upstream.lock().unwrap() = upstream;
    }

    /// While `true`, new connections are closed at once with a reset; live ones are untouched.
    pub fn refuse(&self, on: bool) {
        self.shared.refuse.store(on, Ordering::SeqCst);
    }

    /// Connections open now: accepted, not refused, and not yet ended or cut.
    pub fn live(&self) -> usize {
        *self.shared.live.borrow()
    }

    /// Waits until the number of live connections satisfies `cond`, and returns it.
    pub async fn wait_live(&self, mut cond: impl FnMut(usize) -> bool) -> usize {
        let mut live = self.shared.live.subscribe();
        let n = *live
            .wait_for(|n| cond(*n))
            .await
            .expect("the proxy is alive");
        n
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let s = &self.shared;
        Stats {
            accepted: s.accepted.load(Ordering::SeqCst),
            refused: s.refused.load(Ordering::SeqCst),
            cut: s.cut.load(Ordering::SeqCst),
            live: self.live(),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.shared.drain().into_iter().for_each(Conn::cut);
    }
}

impl Shared {
    fn drain(&self) -> Vec<Conn> {
        let mut conns = self.conns.lock().unwrap();
        let drained = conns.drain().map(|(_, c)| c).collect();
        self.live.send_replace(0);
        drained
    }

    fn remove(&self, id: u64) -> Option<Conn> {
        let mut conns = self.conns.lock().unwrap();
        let removed = conns.remove(&id);
        self.live.send_replace(conns.len());
        removed
    }
}

/// A duplicate of `s`'s socket, to shut it down while the task owns `s`.
fn dup(s: &TcpStream) -> Option<std::net::TcpStream> {
    let fd = s.as_fd().try_clone_to_owned().ok()?;
    Some(std::net::TcpStream::from(fd))
}

/// Sets up a proxied socket: no Nagle delay, and a reset when it is dropped.
fn prepare(s: &TcpStream) {
    let _ = s.set_nodelay(true);
    let _ = s.set_zero_linger();
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::task::yield_now().await;
            continue;
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        prepare(&client);
        if shared.refuse.load(Ordering::SeqCst) {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            drop(client);
            continue;
        }
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        let sockets = dup(&client).into_iter().collect();
        // Registered under the lock, so the task cannot deregister before it is registered.
        let mut conns = shared.conns.lock().unwrap();
        let task = tokio::spawn(connection(shared.clone(), id, client));
        let task = task.abort_handle();
        conns.insert(id, Conn { task, sockets });
        shared.live.send_replace(conns.len());
    }
}

async fn connection(shared: Arc<Shared>, id: u64, client: TcpStream) {
    let upstream = *shared.upstream.lock().unwrap();
    let Ok(server) = TcpStream::connect(upstream).await else {
        if shared.remove(id).is_some() {
            shared.refused.fetch_add(1, Ordering::SeqCst);
        }
        return;
    };
    prepare(&server);
    match (shared.conns.lock().unwrap().get_mut(&id), dup(&server)) {
        (Some(conn), Some(d)) => conn.sockets.push(d),
        (Some(_), None) => {}
        (None, _) => return, // cut meanwhile
    }
    let (client_r, client_w) = client.into_split();
    let (server_r, server_w) = server.into_split();
    let stall = shared.stall.subscribe();
    tokio::join!(
        pump(client_r, server_w, stall.clone()),
        pump(server_r, client_w, stall),
    );
    shared.remove(id);
}

/// Copies `from` to `to` until end-of-stream or an error, holding what it read while stalled.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut stall: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 16 * 1024];
    'copy: loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut sent = 0;
        while sent < n {
            if stall.wait_for(|on| !on).await.is_err() {
                break 'copy; // the proxy is gone
            }
            tokio::select! {
                biased;
                _ = stall.wait_for(|on| *on) => {}
                written = to.write(&buf[sent..n]) => match written {
                    Ok(0) | Err(_) => break 'copy,
                    Ok(w) => sent += w,
                },
            }
        }
    }
    // Passes a half-close on (the other direction may go on); held while stalled, too.
    let _ = stall.wait_for(|on| !on).await;
    let _ = to.shutdown().await;
}
