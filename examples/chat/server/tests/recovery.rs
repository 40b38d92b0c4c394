//! The chat server and the native client after a CSRF refusal: a client with a stale token gets
//! a fresh one from its credentials provider (`GET /csrf-token`) and opens; after a server
//! restart (same port, new token) open clients on WebSocket and on Ajax open again by
//! themselves and exchange messages.
#![allow(clippy::unwrap_used)] // test helpers

use std::{net::SocketAddr, time::Duration};

use chat_events::{chat_event, ChatPush, Message};
use chsk::client::{
    CloseReason, Credentials, CredentialsRequest, Recovery, RecvError, TransportMode,
};
use support::{options, page_token, ChatClient};

mod support;

const WAIT: Duration = Duration::from_secs(10);

/// The chat app on its own runtime: stopping it drops every connection and all state, as a
/// process exit would.
struct ChatServer {
    rt: Option<tokio::runtime::Runtime>,
    addr: SocketAddr,
}

impl ChatServer {
    async fn start(addr: SocketAddr) -> Self {
        // The port of a server that was just stopped may take a moment to free.
        let mut listener = None;
        for _ in 0..100 {
            if let Ok(l) = std::net::TcpListener::bind(addr) {
                listener = Some(l);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let listener = listener.expect("the port binds");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = chat_server::app(chat_server::ChatOptions::new(
                std::env::temp_dir().join("chsk-chat-no-bundle"),
            ));
            let _ = axum::serve(listener, app).await;
        });
        Self { rt: Some(rt), addr }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn stop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for ChatServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Keeps the token until it is refused, then fetches `/csrf-token` (what the web client does
/// with `chsk_web::refresh_csrf_from("/csrf-token")`).
fn provider(
    base: String,
) -> impl Fn(
    CredentialsRequest,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Credentials>> + Send>>
       + Send
       + Sync
       + 'static {
    move |req: CredentialsRequest| {
        let url = format!("{base}/csrf-token");
        Box::pin(async move {
            match req.refusal {
                Some(r) if !r.retryable() => {
                    let token = reqwest::get(url).await.ok()?.text().await.ok()?;
                    Some(Credentials::csrf(token))
                }
                _ => Some(req.current),
            }
        })
    }
}

fn connect(base: &str, token: &str, user: &str, transport: TransportMode) -> ChatClient {
    ChatClient::connect_with_credentials(
        &format!("{base}/chsk"),
        options(token, user, transport),
        provider(base.to_string()),
    )
}

/// The next message pushed, past other pushes and the "not recovered" of a restart.
async fn next_message(pushes: &mut chsk::client::Pushes<ChatPush>) -> Message {
    loop {
        let push = tokio::time::timeout(WAIT, pushes.recv())
            .await
            .expect("a push in time")
            .expect("the client is alive");
        match push {
            Ok(ChatPush::NewMessage(m)) => return m,
            Ok(_) | Err(RecvError::NotRecovered) => {}
            Err(e) => panic!("a push that decodes: {e}"),
        }
    }
}

#[tokio::test]
async fn a_stale_token_is_refreshed_by_the_provider() {
    let server = ChatServer::start("127.0.0.1:0".parse().unwrap()).await;
    for transport in [TransportMode::Ws, TransportMode::Ajax] {
        let client = connect(&server.base(), "stale", "alice", transport);
        let mut changes = client.state_changes();
        client
            .wait_open(WAIT)
            .await
            .expect("opens with the fresh token");
        // The refusal was visible on the way.
        let mut refused = false;
        while let Ok(Some(c)) =
            tokio::time::timeout(Duration::from_millis(50), changes.recv()).await
        {
            refused |= c
                .new
                .refusal()
                .is_some_and(|r| r.status == 403 && r.body == "bad CSRF token");
        }
        assert!(refused, "{transport:?}: the 403 was reported");
        let online = client
            .send_with_reply(chat_event::Online, WAIT)
            .await
            .expect("a reply");
        assert!(online.contains(&"alice".to_string()));
    }
}

#[tokio::test]
async fn open_clients_recover_from_a_server_restart() {
    let mut server = ChatServer::start("127.0.0.1:0".parse().unwrap()).await;
    let base = server.base();
    let token = page_token(&base).await;
    let ws = connect(&base, &token, "alice", TransportMode::Ws);
    let ajax = connect(&base, &token, "bob", TransportMode::Ajax);
    for c in [&ws, &ajax] {
        c.wait_open(WAIT).await.expect("opens");
    }

    server.stop();
    for c in [&ws, &ajax] {
        let deadline = tokio::time::Instant::now() + WAIT;
        while c.state().open {
            assert!(tokio::time::Instant::now() < deadline, "the stop is seen");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let server2 = ChatServer::start(server.addr).await;
    assert_ne!(page_token(&base).await, token, "a new token");
    for c in [&ws, &ajax] {
        c.wait_open(WAIT).await.expect("opens again");
        let st = c.state();
        assert!(!st.stopped);
        assert!(
            st.first_handshake,
            "the new server never saw this client: {st:?}"
        );
        assert!(
            !matches!(
                st.last_close_reason(),
                Some(CloseReason::RequestedReconnect)
            ),
            "recovered by itself"
        );
        assert_eq!(
            st.recovery,
            Recovery::NotRecovered,
            "a restart loses the pushes"
        );
    }
    // They talk again, both ways.
    let (mut ws_pushes, mut ajax_pushes) = (ws.pushes(), ajax.pushes());
    ws.send(chat_event::Post {
        room: "lobby".into(),
        text: "back on ws".into(),
    })
    .expect("sent");
    assert_eq!(next_message(&mut ajax_pushes).await.text, "back on ws");
    ajax.send(chat_event::Post {
        room: "lobby".into(),
        text: "back on ajax".into(),
    })
    .expect("sent");
    let mut texts = vec![next_message(&mut ws_pushes).await.text];
    texts.push(next_message(&mut ws_pushes).await.text);
    assert_eq!(texts, ["back on ws", "back on ajax"]);
    drop(server2);
}
