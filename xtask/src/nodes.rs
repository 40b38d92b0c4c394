//! `demo --nodes N`: the chat on N server processes behind one address.
//!
//! Starts a `redis-server` of its own (a free loopback port, nothing saved), N chat servers
//! (`chat-server --redis … --csrf-token … --node-id nodeI`) on the ports after the demo's
//! address (8081, 8082, … for the default 127.0.0.1:8080), all with one CSRF token, and a TCP
//! balancer on the demo's address: each new connection goes to the next node in turn, and to
//! the one after when a node refuses it, so the tabs of a killed node reconnect to the others.
//! Everything is stopped with the demo (Ctrl-C reaches every process of the terminal's group;
//! on an error the children are killed).

use std::{
    io::{self, Read, Write},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use crate::{cargo, status, target_dir, Result, SERVER_CRATE};

/// The most nodes `--nodes` takes.
pub(crate) const MAX_NODES: usize = 16;

/// A started process, killed (by its PID) when dropped.
struct Proc {
    name: String,
    child: Child,
    /// The command that starts it again (printed when it exits).
    cmd: String,
    exited: bool,
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A node of the balancer.
#[derive(Debug, Clone)]
struct Node {
    name: String,
    addr: SocketAddr,
}

/// Runs the demo on `nodes` chat servers behind a balancer at `addr`, with the bundle in
/// `dist`, until every process of it has exited (or Ctrl-C).
pub(crate) fn run(dist: &Path, addr: &str, nodes: usize) -> Result {
    let front: SocketAddr = addr
        .parse()
        .map_err(|e| format!("--addr {addr}: {e} (HOST:PORT, e.g. 127.0.0.1:8080)"))?;
    let listener =
        TcpListener::bind(front).map_err(|e| format!("the balancer cannot bind {front}: {e}"))?;
    status(cargo().args(["build", "-p", SERVER_CRATE]))?;
    let bin = target_dir()
        .join("debug")
        .join(format!("{SERVER_CRATE}{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        return Err(format!("{} was not built", bin.display()).into());
    }

    let mut procs = Vec::new();
    let (redis, redis_port) = start_redis()?;
    let url = format!("redis://127.0.0.1:{redis_port}/");
    procs.push(redis);
    let token = random_token()?;
    let mut ring = Vec::new();
    for i in 1..=nodes {
        let port = u16::try_from(usize::from(front.port()) + i)
            .map_err(|_| format!("no port after {} for node {i}", front.port()))?;
        let node = Node {
            name: format!("node{i}"),
            addr: SocketAddr::new(front.ip(), port),
        };
        procs.push(start_node(&bin, dist, &node, &url, &token)?);
        ring.push(node);
    }
    for (node, proc) in ring.iter().zip(&mut procs[1..]) {
        wait_listening(node.addr, proc)?;
    }

    let balancer = Balancer {
        nodes: ring.clone(),
        next: AtomicUsize::new(0),
        conns: AtomicUsize::new(0),
    };
    let balancer = Arc::new(balancer);
    thread::spawn(move || balancer.serve(listener));

    println!();
    println!("chsk chat demo on {nodes} nodes:");
    println!(
        "  redis-server  127.0.0.1:{redis_port:<6} pid {:<7} (redis-cli -p {redis_port})",
        procs[0].child.id()
    );
    for (node, proc) in ring.iter().zip(&procs[1..]) {
        println!(
            "  {:<13} http://{:<16} pid {}",
            node.name,
            node.addr,
            proc.child.id()
        );
    }
    println!(
        "  balancer      http://{front:<16} each new connection to the next node; a node that \
         refuses goes to the next"
    );
    println!();
    println!(
        "Open http://{front}/?user=alice in two tabs and http://{front}/?user=bob in another;"
    );
    println!("the balancer prints which node each tab's WebSocket went to.");
    if let Some(p) = procs.get(1) {
        println!(
            "Kill a node: kill -9 {} ({}): its tabs reconnect to another node and get what they \
             missed (\"reconnect: recovered\" in the state's tooltip).",
            p.child.id(),
            p.name
        );
    }
    println!("Ctrl-C stops everything.");
    println!();

    loop {
        thread::sleep(Duration::from_millis(500));
        for p in procs.iter_mut().filter(|p| !p.exited) {
            if let Ok(Some(st)) = p.child.try_wait() {
                p.exited = true;
                println!(
                    "xtask: {} exited ({st}); start it again with:\n  {}",
                    p.name, p.cmd
                );
            }
        }
        if procs.iter().all(|p| p.exited) {
            println!("xtask: every process of the demo has exited");
            return Ok(());
        }
    }
}

/// `redis-server` on a free loopback port, nothing saved; waits until it answers.
fn start_redis() -> Result<(Proc, u16)> {
    let find = || {
        ["redis-server", "/usr/bin/redis-server"]
            .into_iter()
            .find(|b| crate::on_path(b))
    };
    if find().is_none() {
        install_redis();
    }
    let bin = find().ok_or(
        "redis-server not found and could not be installed: install it \
         (Debian/Ubuntu: apt-get install redis-server)",
    )?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let port_arg = port.to_string();
    let child = Command::new(bin)
        .args(["--port", &port_arg, "--bind", "127.0.0.1", "--save", ""])
        .args(["--appendonly", "no", "--loglevel", "warning"])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("{bin}: {e}"))?;
    let mut proc = Proc {
        name: "redis-server".into(),
        child,
        cmd: format!(
            "{bin} --port {port} --bind 127.0.0.1 --save '' --appendonly no --loglevel warning"
        ),
        exited: false,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !redis_pong(port) {
        if Instant::now() > deadline || proc.child.try_wait()?.is_some() {
            proc.exited = proc.child.try_wait()?.is_some();
            return Err(format!("redis-server did not start on port {port}").into());
        }
        thread::sleep(Duration::from_millis(50));
    }
    Ok((proc, port))
}

/// Installs Debian's `redis-server` (as the test scripts do), and stops the system service the
/// package starts: the demo runs a server of its own. Errors are left to the caller's check.
fn install_redis() {
    eprintln!("redis-server is missing: installing it with apt-get (Debian's package)");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let run = |args: &[&str]| {
        let mut cmd = if root {
            Command::new(args[0])
        } else {
            let mut c = Command::new("sudo");
            c.arg(args[0]);
            c
        };
        let _ = cmd.args(&args[1..]).status();
    };
    run(&["apt-get", "update", "-qq"]);
    run(&[
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "-qq",
        "redis-server",
    ]);
    run(&["service", "redis-server", "stop"]);
}

fn redis_pong(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

fn start_node(bin: &Path, dist: &Path, node: &Node, url: &str, token: &str) -> Result<Proc> {
    let mut cmd = Command::new(bin);
    cmd.arg("--dist")
        .arg(dist)
        .args(["--addr", &node.addr.to_string()])
        .args([
            "--redis",
            url,
            "--csrf-token",
            token,
            "--node-id",
            &node.name,
        ]);
    let line = format!("{cmd:?}");
    let child = cmd.spawn().map_err(|e| format!("{}: {e}", bin.display()))?;
    Ok(Proc {
        name: node.name.clone(),
        child,
        cmd: line,
        exited: false,
    })
}

/// Waits until the node accepts connections (it exits when its port is taken).
fn wait_listening(addr: SocketAddr, proc: &mut Proc) -> Result {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        if let Some(st) = proc.child.try_wait()? {
            proc.exited = true;
            return Err(format!("{} exited ({st}) before serving at {addr}", proc.name).into());
        }
        if Instant::now() > deadline {
            return Err(format!("{} does not serve at {addr}", proc.name).into());
        }
        thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// 32 bytes from the OS random source, in hex.
fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("the OS random source failed: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The TCP balancer: round robin over the nodes, per connection.
struct Balancer {
    nodes: Vec<Node>,
    next: AtomicUsize,
    conns: AtomicUsize,
}

impl Balancer {
    fn serve(self: Arc<Self>, listener: TcpListener) {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let b = self.clone();
            thread::spawn(move || b.relay(client));
        }
    }

    /// Connects `client` to the next node that takes it, then relays both ways.
    fn relay(&self, client: TcpStream) {
        let n = self.conns.fetch_add(1, Ordering::Relaxed) + 1;
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for k in 0..self.nodes.len() {
            let node = &self.nodes[(start + k) % self.nodes.len()];
            match TcpStream::connect_timeout(&node.addr, Duration::from_secs(2)) {
                Ok(server) => {
                    if k > 0 {
                        println!("balancer: connection {n} -> {}", node.name);
                    }
                    let _ = pipe_both(client, server, &node.name);
                    return;
                }
                Err(e) => println!(
                    "balancer: {} ({}) refused connection {n} ({e}); trying the next node",
                    node.name, node.addr
                ),
            }
        }
        println!("balancer: no node took connection {n}");
    }
}

fn pipe_both(client: TcpStream, server: TcpStream, node: &str) -> io::Result<()> {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (c, s) = (client.try_clone()?, server.try_clone()?);
    let node = node.to_owned();
    let up = thread::spawn(move || pipe(c, s, Some(&node)));
    pipe(server, client, None);
    let _ = up.join();
    Ok(())
}

/// Copies `from` to `to` until `from` ends (then `to` is half-closed) or fails (then both
/// are closed, which ends the other direction too). With `node`, the first request is looked
/// at: a WebSocket upgrade on `/chsk` is printed with its user.
fn pipe(mut from: TcpStream, mut to: TcpStream, node: Option<&str>) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut first = node;
    let result = (|| -> io::Result<()> {
        loop {
            let n = from.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            if let Some(node) = first.take() {
                if let Some(user) = websocket_user(&buf[..n]) {
                    println!("balancer: {user}'s WebSocket -> {node}");
                }
            }
            to.write_all(&buf[..n])?;
        }
    })();
    match result {
        Ok(()) => {
            let _ = to.shutdown(Shutdown::Write);
        }
        Err(_) => {
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
        }
    }
}

/// The `user` of a request that opens a chsk WebSocket (`GET /chsk?…user=NAME… HTTP/1.1` with
/// `Upgrade: websocket`).
fn websocket_user(request: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(request).ok()?;
    let line = text.lines().next()?;
    let path = line.strip_prefix("GET /chsk")?;
    if !text.to_ascii_lowercase().contains("upgrade: websocket") {
        return None;
    }
    let query = path.split(' ').next()?.split_once('?')?.1;
    let user = query.split('&').find_map(|kv| kv.strip_prefix("user="))?;
    let valid = !user.is_empty()
        && user.len() <= 24
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    Some(if valid { user } else { "an anonymous user" }.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_user_of_a_websocket_upgrade() {
        let ws = b"GET /chsk?client-id=x&user=alice&v=1 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n";
        assert_eq!(websocket_user(ws).as_deref(), Some("alice"));
        let poll = b"GET /chsk?client-id=x&user=alice HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(websocket_user(poll), None);
        let page = b"GET /?user=alice HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
        assert_eq!(websocket_user(page), None);
    }
}
