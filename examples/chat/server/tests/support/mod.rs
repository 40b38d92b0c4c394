//! Helpers shared by the chat server's tests with chsk's native client: a client's options and
//! opening, the next push past presence updates, and the CSRF token of a chat page.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::time::Duration;

use chat_events::{ChatEvent, ChatPush};
use chsk::client::{Client, ClientOptions, Pushes, TransportMode};

pub type ChatClient = Client<ChatEvent, ChatPush>;

/// A chat client's options: `user` as the page sends it, with the page's CSRF `token`.
pub fn options(token: &str, user: &str, transport: TransportMode) -> ClientOptions {
    ClientOptions {
        transport,
        csrf_token: Some(token.into()),
        params: vec![("user".into(), user.into())],
        ..Default::default()
    }
}

/// A client of the chat at `base` (`http://host:port`) as `user`, open within `wait`.
pub async fn client(
    base: &str,
    token: &str,
    user: &str,
    transport: TransportMode,
    wait: Duration,
) -> ChatClient {
    let client = ChatClient::connect(&format!("{base}/chsk"), options(token, user, transport));
    if let Err(e) = client.wait_open(wait).await {
        panic!("{e}: {:?}", client.state());
    }
    client
}

/// The next push that is not a presence update, within `wait`.
pub async fn next_push(pushes: &mut Pushes<ChatPush>, wait: Duration) -> ChatPush {
    loop {
        let push = tokio::time::timeout(wait, pushes.recv())
            .await
            .expect("a push in time")
            .expect("the client is alive")
            .expect("a push that decodes");
        if !matches!(push, ChatPush::Online(_)) {
            return push;
        }
    }
}

/// The CSRF token in a chat page.
pub fn csrf_token(page: &str) -> String {
    let tag = r#"name="csrf-token" content=""#;
    let start = page.find(tag).expect("the meta tag") + tag.len();
    page[start..].split('"').next().unwrap().to_string()
}

/// The CSRF token of the chat page at `base` (as user `x`).
pub async fn page_token(base: &str) -> String {
    let page = reqwest::get(format!("{base}/?user=x"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    csrf_token(&page)
}
