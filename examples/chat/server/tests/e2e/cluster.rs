//! The chat on two nodes in headless Chromium: a real redis-server, two `chat-server`
//! processes on it (`--redis`, one `--csrf-token`), and each page reached through a relay of
//! its own (`chsk_redis_node::switch::Switch`) so that the test can move it to another node.
//! alice has a tab on node A and one on node B, bob a tab on node B.
//!
//! Checked: presence counts the users of both nodes; a message posted on A appears once in the
//! tabs on B and one posted on B once in the tab on A; a tab that opens on B loads a history
//! holding what was posted on A (the rooms are in Redis), and so does a room switch on B;
//! bob's nudge (from B) reaches alice's tab on A. Then node A is killed (`kill -9`): alice's
//! A-tab goes down, bob posts while it is away, its relay is switched to B, and the tab opens
//! again on B by itself (no reload) with bob's message once, `data-recovery="recovered"` and
//! no history reload (`data-loads` unchanged): B replayed it from the history in Redis.

use fantoccini::Client;

use crate::support::{
    self, attr, browser, click, eventually, open_chat, post, shown, start_driver, text,
    NodeProcess, Result,
};
use chsk_redis_node::{switch::Switch, RedisServer};

const TOKEN: &str = "e2e-token-shared-by-every-node";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium, chromedriver, redis-server and the wasm bundle: run scripts/browser-tests.sh"]
async fn chat_on_two_nodes() -> Result {
    let _one_at_a_time = support::ONE_AT_A_TIME.lock().await;
    let dist = support::dist()?;
    let redis = RedisServer::start().await;
    let mut node_a = NodeProcess::start(&dist, &redis.url(), TOKEN, "node-a").await?;
    let node_b = NodeProcess::start(&dist, &redis.url(), TOKEN, "node-b").await?;
    // One relay per page: alice's tab on A, alice's tab on B, bob's tab on B.
    let (to_alice_a, to_alice_b, to_bob) = (
        Switch::start(node_a.addr).await,
        Switch::start(node_b.addr).await,
        Switch::start(node_b.addr).await,
    );

    let driver = start_driver().await?;
    let (alice_a, alice_b, bob) = (
        browser(&driver).await?,
        browser(&driver).await?,
        browser(&driver).await?,
    );
    let tabs = Tabs {
        alice_a: &alice_a,
        alice_b: &alice_b,
        bob: &bob,
    };
    let bases = [&to_alice_a, &to_alice_b, &to_bob].map(|s| format!("http://{}", s.addr));
    let mut result = tabs.across_nodes(&bases).await;
    if result.is_ok() {
        result = tabs
            .node_a_dies(&mut node_a, &to_alice_a, node_b.addr)
            .await;
    }
    for c in [alice_a, alice_b, bob] {
        let _ = c.close().await;
    }
    result
}

struct Tabs<'a> {
    alice_a: &'a Client,
    alice_b: &'a Client,
    bob: &'a Client,
}

/// How many times `needle` is in the message list of `c`.
async fn count(c: &Client, needle: &str) -> Result<usize> {
    Ok(text(c, "#messages").await?.matches(needle).count())
}

/// Waits until `needle` is in the message list of every tab of `clients`, then checks that it
/// is there once.
async fn shown_once(clients: &[&Client], needle: &str) -> Result {
    shown(clients, "#messages", 15, needle, |s| s.contains(needle)).await?;
    for c in clients {
        assert_eq!(count(c, needle).await?, 1, "{needle:?} is shown once");
    }
    Ok(())
}

const FROM_A: &str = "alice says hi from node A";
const FROM_B: &str = "bob answers from node B";
const FROM_B_ALICE: &str = "alice writes from her tab on node B";
const WHILE_DOWN: &str = "bob posts while node A is down";
const BACK: &str = "alice is back, now on node B";

impl Tabs<'_> {
    /// Messages, history, presence and a nudge across the two nodes.
    async fn across_nodes(&self, bases: &[String; 3]) -> Result {
        let [base_alice_a, base_alice_b, base_bob] = bases;
        let Self {
            alice_a,
            alice_b,
            bob,
        } = *self;
        // alice on A and bob on B: each sees the other, from the other node.
        assert!(open_chat(alice_a, base_alice_a, "user=alice")
            .await?
            .starts_with("open"));
        assert!(open_chat(bob, base_bob, "user=bob")
            .await?
            .starts_with("open"));
        shown(
            &[alice_a, bob],
            "#online",
            15,
            "alice and bob online",
            |s| s.contains("alice") && s.contains("bob"),
        )
        .await?;

        // Posted on A: on A and on B, once.
        post(alice_a, FROM_A).await?;
        shown_once(&[alice_a, bob], FROM_A).await?;

        // A tab that opens on B loads the room's history from B: it has the message from A.
        assert!(open_chat(alice_b, base_alice_b, "user=alice")
            .await?
            .starts_with("open"));
        shown(&[alice_b], "#messages", 15, "the history on B", |s| {
            s.contains(FROM_A)
        })
        .await?;
        assert_eq!(attr(alice_b, "#messages", "data-loads").await?, "1");
        assert_eq!(count(alice_b, FROM_A).await?, 1);
        shown(
            &[alice_a, alice_b, bob],
            "#online",
            15,
            "alice and bob online on every tab",
            |s| s.contains("alice") && s.contains("bob"),
        )
        .await?;

        // Posted on B: on A (and on B), once; and from alice's tab on B to her tab on A.
        post(bob, FROM_B).await?;
        shown_once(&[alice_a, alice_b, bob], FROM_B).await?;
        post(alice_b, FROM_B_ALICE).await?;
        shown_once(&[alice_a, alice_b, bob], FROM_B_ALICE).await?;

        // A room switch on B loads the history again, from Redis.
        click(bob, "#rooms button[data-room='rust']").await?;
        shown(&[bob], "#messages", 15, "the empty rust room", |s| {
            !s.contains(FROM_A)
        })
        .await?;
        click(bob, "#rooms button[data-room='lobby']").await?;
        shown(&[bob], "#messages", 15, "the lobby's history on B", |s| {
            s.contains(FROM_A) && s.contains(FROM_B) && s.contains(FROM_B_ALICE)
        })
        .await?;
        for m in [FROM_A, FROM_B, FROM_B_ALICE] {
            assert_eq!(count(bob, m).await?, 1, "{m:?} once in the history");
        }

        // bob (on B) nudges alice: both her tabs, the one on A included, get it.
        click(bob, "#online li[data-user='alice'] button.nudge").await?;
        shown(&[alice_a, alice_b], "#notices", 10, "the nudge", |s| {
            s.contains("bob nudged you")
        })
        .await?;
        assert!(
            !text(bob, "#notices").await?.contains("nudged"),
            "bob is not nudged"
        );
        Ok(())
    }

    /// Node A is killed; alice's A-tab comes back on B and gets what was posted meanwhile,
    /// replayed from the history in Redis.
    async fn node_a_dies(
        &self,
        node_a: &mut NodeProcess,
        to_alice_a: &Switch,
        node_b: std::net::SocketAddr,
    ) -> Result {
        let Self {
            alice_a,
            alice_b,
            bob,
        } = *self;
        alice_a
            .execute("window.__e2eNoReload = 1; return 1;", vec![])
            .await?;
        let loads = attr(alice_a, "#messages", "data-loads").await?;
        assert_eq!(attr(alice_a, "#state", "data-recovery").await?, "fresh");

        node_a.kill().await?;
        shown(
            &[alice_a],
            "#state",
            15,
            "alice's A-tab to see node A go",
            |s| !s.starts_with("open"),
        )
        .await?;

        // While the tab is away (its relay still leads to the dead node), bob posts on B.
        post(bob, WHILE_DOWN).await?;
        shown_once(&[alice_b, bob], WHILE_DOWN).await?;
        assert_eq!(count(alice_a, WHILE_DOWN).await?, 0, "the tab is away");

        // The tab's connections now go to B; it opens again by itself (its backoff is capped
        // at 30 s) and is given what it missed.
        to_alice_a.switch_to(node_b);
        let opened = eventually(
            45,
            "alice's A-tab to open again on B",
            || text(alice_a, "#state"),
            |s| s.starts_with("open"),
        )
        .await;
        if let Err(e) = opened {
            let why = alice_a
                .find(fantoccini::Locator::Css("#state"))
                .await?
                .attr("title")
                .await?
                .unwrap_or_default();
            return Err(format!("{e} ({why})").into());
        }
        shown(&[alice_a], "#messages", 15, "the message missed", |s| {
            s.contains(WHILE_DOWN)
        })
        .await?;
        let state = text(alice_a, "#state").await?;
        eprintln!("e2e: alice's A-tab is back on node B: {state}");
        assert_eq!(attr(alice_a, "#state", "data-recovery").await?, "recovered");
        assert_eq!(
            attr(alice_a, "#messages", "data-loads").await?,
            loads,
            "replayed, not reloaded"
        );
        let same_page = alice_a
            .execute("return window.__e2eNoReload === 1;", vec![])
            .await?;
        assert_eq!(same_page, serde_json::Value::Bool(true), "not reloaded");
        assert_eq!(count(alice_a, WHILE_DOWN).await?, 1, "replayed once");

        // It goes on from B; nothing was shown twice anywhere.
        post(alice_a, BACK).await?;
        shown_once(&[alice_a, alice_b, bob], BACK).await?;
        for c in [alice_a, alice_b, bob] {
            for m in [FROM_A, FROM_B, FROM_B_ALICE, WHILE_DOWN, BACK] {
                assert_eq!(count(c, m).await?, 1, "{m:?} once on every tab");
            }
        }
        Ok(())
    }
}
