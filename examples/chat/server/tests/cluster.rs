//! The chat on two nodes sharing a real redis-server (`ChatOptions::redis`), with chsk's native
//! client: both nodes serve the same CSRF token; a message posted on one node reaches the
//! clients of the other and is in the history both nodes answer; presence and `Online` count
//! the users of both nodes; nudges cross nodes. And a `History` asked while Redis cannot be
//! reached is answered (empty), not failed.
#![allow(clippy::unwrap_used)] // test helpers

use std::time::{Duration, Instant};

use chat_events::{chat_event, ChatPush, Message};
use chat_server::ChatOptions;
use chsk::client::TransportMode;
use chsk_redis_node::RedisServer;
use support::{client, next_push, page_token, ChatClient};

mod support;

const TOKEN: &str = "the-token-of-every-node";
const WAIT: Duration = Duration::from_secs(10);

/// A node of the chat on `redis`; returns its base URL.
async fn node(redis: &str, id: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let options = ChatOptions::new(std::env::temp_dir().join("chsk-chat-no-bundle"))
        .csrf_token(TOKEN)
        .redis(redis, id)
        .unwrap();
    let app = chat_server::app(options);
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// Asks `Online` until `pred` holds on the answer (at most [`WAIT`]).
async fn online_until(c: &ChatClient, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let online = c.send_with_reply(chat_event::Online, WAIT).await.unwrap();
        if pred(&online) || Instant::now() > deadline {
            return online;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn history(c: &ChatClient) -> Result<Vec<Message>, chsk::CbError> {
    let lobby = chat_event::History {
        room: "lobby".into(),
        limit: 10,
    };
    c.send_with_reply(lobby, WAIT).await
}

fn message(from: &str, text: &str) -> Message {
    Message {
        room: "lobby".into(),
        from: from.into(),
        text: text.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_messages_history_presence_and_nudges() {
    let redis = RedisServer::start().await;
    let a = node(&redis.url(), "a").await;
    let b = node(&redis.url(), "b").await;
    for base in [&a, &b] {
        assert_eq!(page_token(base).await, TOKEN);
    }

    let alice = client(&a, TOKEN, "alice", TransportMode::Ws, WAIT).await;
    let bob = client(&b, TOKEN, "bob", TransportMode::Ajax, WAIT).await;
    let (mut alice_pushes, mut bob_pushes) = (alice.pushes(), bob.pushes());

    // Each node counts the users of both.
    let both = |o: &[String]| o == ["alice", "bob"];
    assert_eq!(online_until(&alice, both).await, ["alice", "bob"]);
    assert_eq!(online_until(&bob, both).await, ["alice", "bob"]);

    // A message posted on A reaches bob on B; B's history has it.
    let hi = message("alice", "hi from node a");
    alice
        .send(chat_event::Post {
            room: "lobby".into(),
            text: hi.text.clone(),
        })
        .unwrap();
    assert_eq!(
        next_push(&mut bob_pushes, WAIT).await,
        ChatPush::NewMessage(hi.clone())
    );
    assert_eq!(
        next_push(&mut alice_pushes, WAIT).await,
        ChatPush::NewMessage(hi.clone())
    );
    assert_eq!(history(&bob).await, Ok(vec![hi.clone()]));

    // And the other way: bob on B to alice on A, and A's history has both.
    let back = message("bob", "hi from node b");
    bob.send(chat_event::Post {
        room: "lobby".into(),
        text: back.text.clone(),
    })
    .unwrap();
    assert_eq!(
        next_push(&mut alice_pushes, WAIT).await,
        ChatPush::NewMessage(back.clone())
    );
    assert_eq!(history(&alice).await, Ok(vec![hi, back]));

    // A nudge from B reaches alice on A.
    bob.send(chat_event::Nudge {
        user: "alice".into(),
    })
    .unwrap();
    assert_eq!(
        next_push(&mut alice_pushes, WAIT).await,
        ChatPush::Nudged { by: "bob".into() }
    );
}

#[tokio::test]
async fn history_is_answered_while_redis_is_down() {
    // A port where no Redis listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = ChatOptions::new(std::env::temp_dir().join("chsk-chat-no-bundle"))
        .redis(&format!("redis://127.0.0.1:{port}/"), "alone")
        .unwrap();
    let (server, _app) = chat_server::chat(options);
    let reply = server
        .call_local(
            Some("alice"),
            chat_event::History {
                room: "lobby".into(),
                limit: 10,
            },
        )
        .await;
    assert_eq!(reply, Ok(vec![]));
}

#[test]
fn a_malformed_redis_url_is_an_error() {
    assert!(ChatOptions::new("dist").redis("not a url", "x").is_err());
}
