//! raw: the limit. `/echo` echoes binary messages (no registry, nothing per connection but the
//! socket); `/push` also registers the connection for pushes.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use axum::{
    extract::{
        ws::{Message, WebSocket, WebSocketUpgrade},
        Query, State,
    },
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use tokio::sync::mpsc;

use super::Trigger;
use crate::wire::{self, sample_msg};

#[derive(Default)]
struct RawState {
    small: bool,
    next: AtomicU64,
    conns: Mutex<HashMap<u64, mpsc::UnboundedSender<Message>>>,
}

/// The raw server; `small`: a 4 KiB read buffer (axum's default is 128 KiB).
pub fn router(small: bool) -> Router {
    let st = Arc::new(RawState {
        small,
        ..RawState::default()
    });
    Router::new()
        .route("/echo", get(raw_echo))
        .route("/push", get(raw_push))
        .route("/trigger", get(raw_trigger))
        .with_state(st)
}

fn raw_upgrade(ws: WebSocketUpgrade, small: bool) -> WebSocketUpgrade {
    if small {
        ws.read_buffer_size(4 * 1024)
    } else {
        ws
    }
}

async fn raw_echo(ws: WebSocketUpgrade, State(st): State<Arc<RawState>>) -> Response {
    raw_upgrade(ws, st.small).on_upgrade(echo_loop)
}

/// Echo with write coalescing: every message ready now is answered, then one flush. The task
/// of each `/echo` connection (generic over the socket so that its size can be measured).
pub async fn echo_loop<S, E>(mut sock: S)
where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
{
    while let Some(Ok(msg)) = sock.next().await {
        if !echo_one(&mut sock, msg).await {
            return;
        }
        while let Some(Some(Ok(msg))) = sock.next().now_or_never() {
            if !echo_one(&mut sock, msg).await {
                return;
            }
        }
        if sock.flush().await.is_err() {
            return;
        }
    }
}

async fn echo_one<S: Sink<Message> + Unpin>(sock: &mut S, msg: Message) -> bool {
    match msg {
        Message::Binary(_) | Message::Text(_) => sock.feed(msg).await.is_ok(),
        Message::Close(_) => false,
        _ => true,
    }
}

async fn raw_push(ws: WebSocketUpgrade, State(st): State<Arc<RawState>>) -> Response {
    raw_upgrade(ws, st.small).on_upgrade(move |sock| push_loop(sock, st))
}

async fn push_loop(mut sock: WebSocket, st: Arc<RawState>) {
    let id = st.next.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::unbounded_channel();
    if let Ok(mut conns) = st.conns.lock() {
        conns.insert(id, tx);
    }
    loop {
        tokio::select! {
            msg = sock.recv() => match msg {
                Some(Ok(msg)) => {
                    if !echo_one(&mut sock, msg).await || sock.flush().await.is_err() {
                        break;
                    }
                }
                _ => break,
            },
            out = rx.recv() => {
                let Some(out) = out else { break };
                if sock.feed(out).await.is_err() {
                    break;
                }
                let mut ok = true;
                while let Ok(out) = rx.try_recv() {
                    if sock.feed(out).await.is_err() {
                        ok = false;
                        break;
                    }
                }
                if !ok || sock.flush().await.is_err() {
                    break;
                }
            }
        }
    }
    if let Ok(mut conns) = st.conns.lock() {
        conns.remove(&id);
    }
}

async fn raw_trigger(State(st): State<Arc<RawState>>, Query(t): Query<Trigger>) -> Response {
    let conns: Vec<_> = match st.conns.lock() {
        Ok(c) => c.values().cloned().collect(),
        Err(_) => return "poisoned".into_response(),
    };
    let msg = sample_msg();
    let mut sent = 0u64;
    for i in 0..t.m {
        if t.mode == "all" {
            // Encoded once, shared by every connection.
            let bytes = wire::raw_message(i, &msg);
            for tx in &conns {
                sent += u64::from(tx.send(Message::Binary(bytes.clone())).is_ok());
            }
        } else {
            for tx in &conns {
                let bytes = wire::raw_message(i, &msg);
                sent += u64::from(tx.send(Message::Binary(bytes)).is_ok());
            }
        }
    }
    format!("{sent}").into_response()
}
