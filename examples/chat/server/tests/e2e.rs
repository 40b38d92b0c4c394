//! The chat demo end to end in headless Chromium (fantoccini + chromedriver): two sessions of
//! alice (one on WebSocket, one forced to Ajax) and one of bob. Messages, history, presence,
//! nudges pushed to every tab of a user, and the state with its transport on screen; saves a
//! screenshot.
//!
//! Ignored by default: `scripts/browser-tests.sh` builds the bundle and runs it with
//! `CHAT_DIST=<bundle dir> cargo test -p chat-server --test e2e -- --ignored`.
//! `CHROMEDRIVER` (default `chromedriver` on PATH) and `CHAT_SCREENSHOT` (default
//! `target/e2e/chat.png`) may be set.

use std::{
    net::TcpListener,
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, chat_server::app(dist)).await });

    let driver = start_driver().await?;
    let (alice_ws, alice_ajax, bob) = (
        browser(&driver).await?,
        browser(&driver).await?,
        browser(&driver).await?,
    );
    let result = scenario(&base, &alice_ws, &alice_ajax, &bob).await;
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
