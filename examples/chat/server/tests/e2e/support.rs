//! The harness of the end-to-end tests: the chat server on its own runtime, chat-server
//! processes on Redis, chromedriver, headless Chromium sessions, and waiting for what a page
//! shows.

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};

pub(crate) type Result<T = (), E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// The browser tests run one at a time (each drives several Chromium sessions; the machine may
/// have few cores): each holds this while it runs.
pub(crate) static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The bundle's directory (`CHAT_DIST`), checked.
pub(crate) fn dist() -> Result<PathBuf> {
    let dist =
        PathBuf::from(std::env::var("CHAT_DIST").map_err(|_| "set CHAT_DIST to the bundle dir")?);
    if !dist.join("chat_web_bg.wasm").exists() {
        return Err(format!("no bundle in {}", dist.display()).into());
    }
    Ok(dist)
}

/// chromedriver, killed on drop.
pub(crate) struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The chat server on its own runtime: stopping it drops every connection and all state (the
/// CSRF token included), as a process exit would.
pub(crate) struct ChatServer(Option<tokio::runtime::Runtime>);

impl ChatServer {
    /// Serves the chat app (and the bundle in `dist`) at `addr` (port 0: a free one); returns
    /// where it listens.
    pub(crate) async fn start(addr: SocketAddr, dist: PathBuf) -> Result<(Self, SocketAddr)> {
        // The port of a server that was just stopped may take a moment to free.
        let mut bound = TcpListener::bind(addr);
        for _ in 0..100 {
            if bound.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            bound = TcpListener::bind(addr);
        }
        let listener = bound?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        rt.spawn(async move {
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => {
                    let _ = axum::serve(
                        listener,
                        chat_server::app(chat_server::ChatOptions::new(dist)),
                    )
                    .await;
                }
                Err(e) => eprintln!("e2e: {e}"),
            }
        });
        Ok((Self(Some(rt)), addr))
    }
}

impl Drop for ChatServer {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// A `chat-server` process on Redis (`--redis`), one node of several, killed (SIGKILL) when
/// dropped; its output is printed with its id.
pub(crate) struct NodeProcess {
    /// Where it serves.
    pub(crate) addr: SocketAddr,
    child: tokio::process::Child,
}

impl NodeProcess {
    /// Starts node `id` on a free port, on the Redis at `redis`, with the CSRF token `token`
    /// and the bundle in `dist`; waits until it serves.
    pub(crate) async fn start(dist: &Path, redis: &str, token: &str, id: &str) -> Result<Self> {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chat-server"))
            .arg("--dist")
            .arg(dist)
            .args(["--addr", "127.0.0.1:0", "--redis", redis])
            .args(["--csrf-token", token, "--node-id", id])
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        // It prints `… open http://ADDR/ …` once it listens.
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[{id}] {line}");
                if let Some(rest) = line.split("open http://").nth(1) {
                    return rest.split('/').next().and_then(|a| a.parse().ok());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(|| format!("node {id} did not start"))?;
        let id = id.to_owned();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[{id}] {line}");
            }
        });
        Ok(Self { addr, child })
    }

    /// `kill -9`: its sockets close, it says goodbye to nobody (not to Redis either).
    pub(crate) async fn kill(&mut self) -> Result {
        self.child.kill().await?;
        Ok(())
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts chromedriver (`CHROMEDRIVER`, default `chromedriver` on PATH) on a free port.
pub(crate) async fn start_driver() -> Result<Driver> {
    let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = free_port()?;
    let child = Command::new(bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let driver = Driver(child, port);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(driver);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("chromedriver did not start".into())
}

/// A new headless Chromium session (`CHROMIUM`, default `/usr/bin/chromium`).
pub(crate) async fn browser(driver: &Driver) -> Result<Client> {
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--no-default-browser-check",
                     "--window-size=1100,700"]
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!("a JSON object literal")
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    Ok(ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await?)
}

/// Polls `read` until `pred` holds on its result (at most `secs`), returning the last value.
pub(crate) async fn eventually<F, Fut>(
    secs: u64,
    what: &str,
    mut read: F,
    pred: impl Fn(&str) -> bool,
) -> Result<String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<String>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(v) = read().await {
            if pred(&v) {
                return Ok(v);
            }
            last = v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("timed out waiting for {what}; last seen: {last:?}").into())
}

/// The text of the element `css`.
pub(crate) async fn text(c: &Client, css: &str) -> Result<String> {
    Ok(c.find(Locator::Css(css)).await?.text().await?)
}

/// The attribute `name` of the element `css` (empty when it has none).
pub(crate) async fn attr(c: &Client, css: &str, name: &str) -> Result<String> {
    let el = c.find(Locator::Css(css)).await?;
    Ok(el.attr(name).await?.unwrap_or_default())
}

/// Waits (at most `secs`) until the text of `css` satisfies `pred` on every page of `clients`;
/// `what` names it in the error.
pub(crate) async fn shown(
    clients: &[&Client],
    css: &str,
    secs: u64,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> Result {
    for c in clients {
        eventually(secs, what, || text(c, css), &pred).await?;
    }
    Ok(())
}

/// Opens the chat at `base` with `query` and waits until the client is open; returns the state
/// it shows.
pub(crate) async fn open_chat(c: &Client, base: &str, query: &str) -> Result<String> {
    c.goto(&format!("{base}/?{query}")).await?;
    eventually(
        15,
        "the client to open",
        || text(c, "#state"),
        |s| s.starts_with("open"),
    )
    .await
}

/// Clicks the element `css`.
pub(crate) async fn click(c: &Client, css: &str) -> Result {
    c.find(Locator::Css(css)).await?.click().await?;
    Ok(())
}

/// Types `message` and sends it.
pub(crate) async fn post(c: &Client, message: &str) -> Result {
    c.find(Locator::Css("#text"))
        .await?
        .send_keys(message)
        .await?;
    click(c, "#send").await
}
