//! The chat demo end to end in headless Chromium (fantoccini + chromedriver): two sessions of
//! alice (one on WebSocket, one forced to Ajax) and one of bob. Messages, history, presence,
//! nudges pushed to every tab of a user, and the state with its transport on screen; recovery
//! (a tab that went offline gets the message posted meanwhile once it is back, replayed, not
//! reloaded); saves a screenshot. Then the server restarts on the same port with a new CSRF token: both open tabs
//! of alice open again by themselves (the web client fetches the new token when the old one is
//! refused), are told their missed pushes are lost (`not-recovered`), and exchange messages,
//! without a reload. The harness is in `support.rs`; the same chat on two nodes sharing a
//! Redis is in `cluster.rs`.
//!
//! Ignored by default: `scripts/browser-tests.sh` builds the bundle and runs it with
//! `CHAT_DIST=<bundle dir> cargo test -p chat-server --test e2e -- --ignored`.
//! `CHROMEDRIVER` (default `chromedriver` on PATH) and `CHAT_SCREENSHOT` (default
//! `target/e2e/chat.png`) may be set.

mod cluster;
mod support;

use std::{net::SocketAddr, path::PathBuf};

use fantoccini::{Client, Locator};
use support::{attr, browser, click, eventually, open_chat, post, shown, start_driver, text};
use support::{ChatServer, Result};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium, chromedriver and the wasm bundle: run scripts/browser-tests.sh"]
async fn chat_end_to_end() -> Result {
    let _one_at_a_time = support::ONE_AT_A_TIME.lock().await;
    let dist = support::dist()?;
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
    let everyone = [alice_ws, alice_ajax, bob];
    shown(&everyone, "#online", 10, "alice and bob online", |s| {
        s.contains("alice") && s.contains("bob")
    })
    .await?;

    // A message posted in one tab appears in the others (both transports).
    post(alice_ws, "hello from alice").await?;
    shown(&everyone, "#messages", 10, "the message", |s| {
        s.contains("hello from alice")
    })
    .await?;
    post(alice_ajax, "and from her Ajax tab").await?;
    shown(
        &[alice_ws, bob],
        "#messages",
        10,
        "the Ajax tab's message",
        |s| s.contains("and from her Ajax tab"),
    )
    .await?;

    // History through send_with_reply: another room is empty, coming back reloads the lobby.
    click(bob, "#rooms button[data-room='rust']").await?;
    shown(&[bob], "#messages", 10, "the empty rust room", |s| {
        !s.contains("hello from alice")
    })
    .await?;
    click(bob, "#rooms button[data-room='lobby']").await?;
    shown(&[bob], "#messages", 10, "the lobby's history", |s| {
        s.contains("hello from alice") && s.contains("and from her Ajax tab")
    })
    .await?;

    // A push to a user reaches every tab of that user, and nobody else.
    click(bob, "#online li[data-user='alice'] button.nudge").await?;
    shown(&[alice_ws, alice_ajax], "#notices", 10, "the nudge", |s| {
        s.contains("bob nudged you")
    })
    .await?;
    assert!(
        !text(bob, "#notices").await?.contains("nudged"),
        "bob is not nudged"
    );

    recovery(alice_ws, alice_ajax, bob).await?;

    // The switch: ticking "force Ajax" reloads bob's tab on Ajax; he still gets messages.
    click(bob, "#force-ajax").await?;
    shown(&[bob], "#state", 15, "bob's tab on Ajax", |s| {
        s == "open · Ajax"
    })
    .await?;
    post(alice_ws, "bob is on Ajax now").await?;
    shown(&[bob], "#messages", 10, "the message on Ajax", |s| {
        s.contains("bob is on Ajax now")
    })
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
    shown(&[alice_ws, alice_ajax], "#online", 20, "bob gone", |s| {
        s.contains("alice") && !s.contains("bob")
    })
    .await
}

/// Alice's WebSocket tab goes offline; bob posts; when the tab is back, the server replays the
/// message (once), and the tab does not reload the room's history.
async fn recovery(alice_ws: &Client, alice_ajax: &Client, bob: &Client) -> Result {
    let loads = attr(alice_ws, "#messages", "data-loads").await?;
    assert_eq!(attr(alice_ws, "#state", "data-recovery").await?, "fresh");
    click(alice_ws, "#offline").await?;
    shown(&[alice_ws], "#state", 10, "alice's tab offline", |s| {
        s == "offline"
    })
    .await?;
    let missed = "posted while alice was offline";
    post(bob, missed).await?;
    shown(
        &[alice_ajax],
        "#messages",
        10,
        "the message on her other tab",
        |s| s.contains(missed),
    )
    .await?;
    assert!(
        !text(alice_ws, "#messages").await?.contains(missed),
        "the offline tab has not got it yet"
    );
    click(alice_ws, "#offline").await?;
    shown(&[alice_ws], "#messages", 10, "the missed message", |s| {
        s.contains(missed)
    })
    .await?;
    assert_eq!(text(alice_ws, "#state").await?, "open · WebSocket");
    assert_eq!(
        attr(alice_ws, "#state", "data-recovery").await?,
        "recovered"
    );
    assert_eq!(
        attr(alice_ws, "#messages", "data-loads").await?,
        loads,
        "replayed, not reloaded"
    );
    assert_eq!(
        text(alice_ws, "#messages").await?.matches(missed).count(),
        1
    );
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
    let tabs = [alice_ws, alice_ajax];
    shown(&tabs, "#state", 15, "the tab to see the server go", |s| {
        !s.starts_with("open")
    })
    .await?;
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
        // The new server has none of the old one's messages to replay: the tab knows, and
        // loaded the room's history again.
        assert_eq!(attr(c, "#state", "data-recovery").await?, "not-recovered");
    }

    post(alice_ws, "after the restart, on WebSocket").await?;
    shown(
        &[alice_ajax],
        "#messages",
        10,
        "the WebSocket tab's message on the Ajax tab",
        |s| s.contains("after the restart, on WebSocket"),
    )
    .await?;
    post(alice_ajax, "after the restart, on Ajax").await?;
    shown(
        &[alice_ws],
        "#messages",
        10,
        "the Ajax tab's message on the WebSocket tab",
        |s| s.contains("after the restart, on Ajax"),
    )
    .await
}
