//! The chat demo end to end in headless Chromium (fantoccini + chromedriver): two sessions of
//! alice (one on WebSocket, one forced to Ajax) and one of bob. Messages, history, presence,
//! nudges pushed to every tab of a user, and the state with its transport on screen; saves a
//! screenshot. Then the server restarts on the same port with a new CSRF token: both open tabs
//! of alice open again by themselves (the web client fetches the new token when the old one is
//! refused) and exchange messages, without a reload.
//!
//! Ignored by default: `scripts/browser-tests.sh` builds the bundle and runs it with
//! `CHAT_DIST=<bundle dir> cargo test -p chat-server --test e2e -- --ignored`.
//! `CHROMEDRIVER` (default `chromedriver` on PATH) and `CHAT_SCREENSHOT` (default
//! `target/e2e/chat.png`) may be set.

use std::{
    net::{SocketAddr, TcpListener},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};

type Result<T = (), E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// chromedriver, killed on drop.
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The chat server on its own runtime: stopping it drops every connection and all state (the
/// CSRF token included), as a process exit would.
struct ChatServer(Option<tokio::runtime::Runtime>);

impl ChatServer {
    async fn start(addr: SocketAddr, dist: PathBuf) -> Result<(Self, SocketAddr)> {
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
                    let _ = axum::serve(listener, chat_server::app(dist)).await;
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

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn start_driver() -> Result<Driver> {
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

async fn browser(driver: &Driver) -> Result<Client> {
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
async fn eventually<F, Fut>(
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

async fn text(c: &Client, css: &str) -> Result<String> {
    Ok(c.find(Locator::Css(css)).await?.text().await?)
}

async fn open_chat(c: &Client, base: &str, query: &str) -> Result<String> {
    c.goto(&format!("{base}/?{query}")).await?;
    eventually(
        15,
        "the client to open",
        || text(c, "#state"),
        |s| s.starts_with("open"),
    )
    .await
}

async fn post(c: &Client, message: &str) -> Result {
    c.find(Locator::Css("#text"))
        .await?
        .send_keys(message)
        .await?;
    c.find(Locator::Css("#send")).await?.click().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium, chromedriver and the wasm bundle: run scripts/browser-tests.sh"]
async fn chat_end_to_end() -> Result {
    let dist =
        PathBuf::from(std::env::var("CHAT_DIST").map_err(|_| "set CHAT_DIST to the bundle dir")?);
    assert!(
        dist.join("chat_web_bg.wasm").exists(),
        "no bundle in {}",
        dist.display()
    );
    let (server, addr) = ChatServer::start(([127, 0, 0, 1], 0).into(), dist.clone()).await?;
    let base = format!("http://{addr}");

    let driver = start_driver().await?;
    let (alice_ws, alice_ajax, bob) = (
        browser(&driver).await?,
        browser(&driver).await?,
        browser(&driver).await?,
    );
    let mut result = scenario(&base, &alice_ws, &alice_ajax, &bob).await;
    if result.is_ok() {
        result = restart(server, addr, dist, &alice_ws, &alice_ajax).await;
    }
    for c in [alice_ws, alice_ajax, bob] {
        let _ = c.close().await;
    }
    result
}

async fn scenario(base: &str, alice_ws: &Client, alice_ajax: &Client, bob: &Client) -> Result {
    // The state on screen shows the transport: Auto picks WebSocket; the switch forces Ajax.
    assert_eq!(
        open_chat(alice_ws, base, "user=alice").await?,
        "open · WebSocket"
    );
    assert_eq!(
        open_chat(alice_ajax, base, "user=alice&transport=ajax").await?,
        "open · Ajax"
    );
    assert!(
        alice_ajax
            .find(Locator::Css("#force-ajax"))
            .await?
            .prop("checked")
            .await?
            .as_deref()
            == Some("true"),
        "the switch shows Ajax is forced"
    );
    assert_eq!(open_chat(bob, base, "user=bob").await?, "open · WebSocket");

    // Presence: everyone sees alice and bob online.
    for c in [alice_ws, alice_ajax, bob] {
        eventually(
            10,
            "alice and bob online",
            || text(c, "#online"),
            |s| s.contains("alice") && s.contains("bob"),
        )
        .await?;
    }

    // A message posted in one tab appears in the others (both transports).
    post(alice_ws, "hello from alice").await?;
    for c in [alice_ws, alice_ajax, bob] {
        eventually(
            10,
            "the message",
            || text(c, "#messages"),
            |s| s.contains("hello from alice"),
        )
        .await?;
    }
    post(alice_ajax, "and from her Ajax tab").await?;
    for c in [alice_ws, bob] {
        eventually(
            10,
            "the Ajax tab's message",
            || text(c, "#messages"),
            |s| s.contains("and from her Ajax tab"),
        )
        .await?;
    }

    // History through send_with_reply: another room is empty, coming back reloads the lobby.
    bob.find(Locator::Css("#rooms button[data-room='rust']"))
        .await?
        .click()
        .await?;
    eventually(
        10,
        "the empty rust room",
        || text(bob, "#messages"),
        |s| !s.contains("hello from alice"),
    )
    .await?;
    bob.find(Locator::Css("#rooms button[data-room='lobby']"))
        .await?
        .click()
        .await?;
    eventually(
        10,
        "the lobby's history",
        || text(bob, "#messages"),
        |s| s.contains("hello from alice") && s.contains("and from her Ajax tab"),
    )
    .await?;

    // A push to a user reaches every tab of that user, and nobody else.
    bob.find(Locator::Css("#online li[data-user='alice'] button.nudge"))
        .await?
        .click()
        .await?;
    for c in [alice_ws, alice_ajax] {
        eventually(
            10,
            "the nudge",
            || text(c, "#notices"),
            |s| s.contains("bob nudged you"),
        )
        .await?;
    }
    assert!(
        !text(bob, "#notices").await?.contains("nudged"),
        "bob is not nudged"
    );

    // The switch: ticking "force Ajax" reloads bob's tab on Ajax; he still gets messages.
    bob.find(Locator::Css("#force-ajax")).await?.click().await?;
    eventually(
        15,
        "bob's tab on Ajax",
        || text(bob, "#state"),
        |s| s == "open · Ajax",
    )
    .await?;
    post(alice_ws, "bob is on Ajax now").await?;
    eventually(
        10,
        "the message on Ajax",
        || text(bob, "#messages"),
        |s| s.contains("bob is on Ajax now"),
    )
    .await?;

    let shot = std::env::var("CHAT_SCREENSHOT").unwrap_or_else(|_| "target/e2e/chat.png".into());
    let png = alice_ws.screenshot().await?;
    if let Some(dir) = std::path::Path::new(&shot).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&shot, png)?;
    eprintln!("e2e: screenshot saved to {shot}");

    // Presence updates when bob leaves (after the server's grace period).
    bob.close_window().await?;
    for c in [alice_ws, alice_ajax] {
        eventually(
            20,
            "bob gone",
            || text(c, "#online"),
            |s| s.contains("alice") && !s.contains("bob"),
        )
        .await?;
    }
    Ok(())
}

/// The server restarts on the same port with a new CSRF token; alice's WebSocket tab and Ajax
/// tab (still open, never reloaded) open again within their backoff and exchange messages.
async fn restart(
    server: ChatServer,
    addr: SocketAddr,
    dist: PathBuf,
    alice_ws: &Client,
    alice_ajax: &Client,
) -> Result {
    let marker = "return window.__e2eNoReload === 1;";
    for c in [alice_ws, alice_ajax] {
        c.execute("window.__e2eNoReload = 1; return 1;", vec![])
            .await?;
    }
    let token = |c: &Client| {
        let c = c.clone();
        async move {
            let v = c
                .execute(
                    "return document.querySelector('meta[name=csrf-token]').content;",
                    vec![],
                )
                .await?;
            Ok::<_, Box<dyn std::error::Error>>(v.as_str().unwrap_or_default().to_string())
        }
    };
    let old_token = token(alice_ws).await?;

    drop(server);
    for c in [alice_ws, alice_ajax] {
        eventually(
            15,
            "the tab to see the server go",
            || text(c, "#state"),
            |s| !s.starts_with("open"),
        )
        .await?;
    }
    let (_server, _) = ChatServer::start(addr, dist).await?;
    let fresh = reqwest::get(format!("http://{addr}/csrf-token"))
        .await?
        .text()
        .await?;
    assert_ne!(fresh, old_token, "the restarted server has a new token");
    assert_eq!(
        token(alice_ws).await?,
        old_token,
        "the page still has the old one"
    );

    // Each tab opens again by itself (its backoff is capped at 30 s).
    for (c, want) in [(alice_ws, "open · WebSocket"), (alice_ajax, "open · Ajax")] {
        let opened = eventually(
            40,
            "the tab to open again",
            || text(c, "#state"),
            |s| s == want,
        )
        .await;
        if let Err(e) = opened {
            let why = c
                .find(Locator::Css("#state"))
                .await?
                .attr("title")
                .await?
                .unwrap_or_default();
            return Err(format!("{want}: {e} ({why})").into());
        }
        let same_page = c.execute(marker, vec![]).await?;
        assert_eq!(same_page, serde_json::Value::Bool(true), "not reloaded");
    }

    post(alice_ws, "after the restart, on WebSocket").await?;
    eventually(
        10,
        "the WebSocket tab's message on the Ajax tab",
        || text(alice_ajax, "#messages"),
        |s| s.contains("after the restart, on WebSocket"),
    )
    .await?;
    post(alice_ajax, "after the restart, on Ajax").await?;
    eventually(
        10,
        "the Ajax tab's message on the WebSocket tab",
        || text(alice_ws, "#messages"),
        |s| s.contains("after the restart, on Ajax"),
    )
    .await?;
    Ok(())
}
