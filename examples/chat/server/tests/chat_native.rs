//! The chat server with chsk's native client (no browser): the page, messages, history,
//! presence and nudges, on WebSocket and Ajax.
#![allow(clippy::unwrap_used)] // test helpers

use std::time::Duration;

use chat_events::{chat_event, ChatPush, Message};
use chsk::client::TransportMode;
use support::{client, csrf_token, next_push, options, ChatClient};

mod support;

const WAIT: Duration = Duration::from_secs(5);

async fn start() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = chat_server::app(chat_server::ChatOptions::new(
        std::env::temp_dir().join("chsk-chat-no-bundle"),
    ));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn get(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn page_and_bundle_routes() {
    let base = start().await;
    let (status, form) = get(&format!("{base}/")).await;
    assert_eq!(status, 200);
    assert!(form.contains(r#"name="user""#) && !form.contains("csrf-token"));
    let (_, bad) = get(&format!("{base}/?user=<script>")).await;
    assert!(!bad.contains("<script>") && bad.contains(r#"name="user""#));
    let (_, chat) = get(&format!("{base}/?user=alice")).await;
    // The bundle's URL carries its version (`missing` when no bundle was built).
    assert!(chat.contains(r#"id="me">alice<"#) && chat.contains("/pkg/missing/chat_web.js"));
    assert!(!csrf_token(&chat).is_empty());
    let (status, _) = get(&format!("{base}/pkg/chat_web.js")).await;
    assert_eq!(status, 404, "no bundle was built in this test");
    let (status, _) = get(&format!("{base}/pkg/secret.txt")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn chat_over_websocket_and_ajax() {
    let base = start().await;
    let token = csrf_token(&get(&format!("{base}/?user=alice")).await.1);
    let alice = client(&base, &token, "alice", TransportMode::Ws, WAIT).await;
    let bob = client(&base, &token, "bob", TransportMode::Ajax, WAIT).await;
    let mut bob_pushes = bob.pushes();
    assert_eq!(alice.state().uid.as_deref(), Some("alice"));

    alice
        .send(chat_event::Post {
            room: "lobby".into(),
            text: "  hi bob  ".into(),
        })
        .unwrap();
    let hi = Message {
        room: "lobby".into(),
        from: "alice".into(),
        text: "hi bob".into(),
    };
    assert_eq!(
        next_push(&mut bob_pushes, WAIT).await,
        ChatPush::NewMessage(hi.clone())
    );
    // Unknown rooms and empty texts are ignored.
    alice
        .send(chat_event::Post {
            room: "nope".into(),
            text: "x".into(),
        })
        .unwrap();
    let history = bob
        .send_with_reply(
            chat_event::History {
                room: "lobby".into(),
                limit: 10,
            },
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(history, Ok(vec![hi]));
    let nope = bob
        .send_with_reply(
            chat_event::History {
                room: "nope".into(),
                limit: 10,
            },
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(nope, Ok(vec![]));

    let online = alice
        .send_with_reply(chat_event::Online, Duration::from_secs(5))
        .await;
    assert_eq!(online, Ok(vec!["alice".to_string(), "bob".to_string()]));

    alice
        .send(chat_event::Nudge { user: "bob".into() })
        .unwrap();
    assert_eq!(
        next_push(&mut bob_pushes, WAIT).await,
        ChatPush::Nudged { by: "alice".into() }
    );
}

#[tokio::test]
async fn a_wrong_csrf_token_is_refused() {
    let base = start().await;
    let client = ChatClient::connect(
        &format!("{base}/chsk"),
        options("wrong", "mallory", TransportMode::Ajax),
    );
    assert!(client.wait_open(Duration::from_millis(1500)).await.is_err());
}
