//! The chsk chat demo's server: the page (`/`), the wasm bundle (`/pkg/*`, from the directory
//! built by `cargo run -p xtask -- build-web`) and the chsk routes (`/chsk`).
//!
//! The user id is the `user` query parameter (the page puts its own `?user=` on the chsk
//! requests); the CSRF token is 32 bytes from the OS random source per process, given to the
//! page in `<meta name="csrf-token">`, and at `GET /csrf-token` for tabs whose token went stale
//! when the server restarted. The page is served `no-cache`; the bundle is served
//! precompressed (brotli or gzip) from versioned, immutable URLs.

use std::{
    collections::{HashMap, VecDeque},
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
};

use axum::{extract::Query, routing::get, Router};
use chat_events::{ChatEvent, ChatPush, Message, HISTORY_LEN, ROOMS};
use chsk::{server::Server, Ctx};

mod bundle;
mod page;

/// The rooms' recent messages.
#[derive(Debug, Default)]
pub struct AppState {
    rooms: Mutex<HashMap<String, VecDeque<Message>>>,
}

/// A valid user name: 1 to 24 of `[A-Za-z0-9_-]`.
pub fn valid_user(name: &str) -> bool {
    (1..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[chsk::handler(ChatEvent::Post)]
async fn on_post(cx: Ctx<AppState>, room: String, text: String) {
    let (Some(from), true) = (cx.uid(), ROOMS.contains(&room.as_str())) else {
        return;
    };
    let text: String = text.trim().chars().take(500).collect();
    if text.is_empty() {
        return;
    }
    let msg = Message {
        room: room.clone(),
        from: from.to_string(),
        text,
    };
    {
        let mut rooms = cx
            .state()
            .rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let history = rooms.entry(room).or_default();
        history.push_back(msg.clone());
        if history.len() > HISTORY_LEN {
            history.pop_front();
        }
    }
    // 0 recipients is fine; an error (a message too large for a frame) is a bug to see.
    if let Err(e) = cx.server().send_to_all(ChatPush::NewMessage(msg)) {
        eprintln!("chat: could not push a message: {e}");
    }
}

#[chsk::handler(ChatEvent::History)]
async fn on_history(cx: Ctx<AppState>, room: String, limit: u32) -> Vec<Message> {
    let rooms = cx
        .state()
        .rooms
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let history = rooms.get(&room).map(|h| h.iter()).into_iter().flatten();
    let all: Vec<Message> = history.cloned().collect();
    let skip = all.len().saturating_sub(limit as usize);
    all.into_iter().skip(skip).collect()
}

#[chsk::handler(ChatEvent::Online)]
async fn on_online(cx: Ctx<AppState>) -> Vec<String> {
    cx.server().connected_uids().any.into_iter().collect()
}

#[chsk::handler(ChatEvent::Nudge)]
async fn on_nudge(cx: Ctx<AppState>, user: String) {
    if let Some(by) = cx.uid() {
        let nudge = ChatPush::Nudged { by: by.to_string() };
        if let Err(e) = cx.server().send_to_user(&user, nudge) {
            eprintln!("chat: could not push a nudge: {e}");
        }
    }
}

/// The chsk server of the chat, with a random CSRF token.
pub fn chsk_server(csrf_token: String) -> Server {
    Server::builder(AppState::default())
        .handler(on_post)
        .handler(on_history)
        .handler(on_online)
        .handler(on_nudge)
        .user_id(|req, _client_id| {
            req.query("user")
                .filter(|u| valid_user(u))
                .map(str::to_string)
        })
        .csrf_token(move |_| Some(csrf_token.clone()))
        .build()
}

/// Pushes [`ChatPush::Online`] to everyone whenever the set of connected users changes.
/// Needs a tokio runtime; runs until the server is dropped.
pub fn spawn_presence(server: &Server) {
    let mut uids = server.watch_connected_uids();
    let server = server.clone();
    tokio::spawn(async move {
        while uids.changed().await.is_ok() {
            let online: Vec<String> = uids.borrow_and_update().any.iter().cloned().collect();
            if let Err(e) = server.send_to_all(ChatPush::Online(online)) {
                eprintln!("chat: could not push the online users: {e}");
            }
        }
    });
}

/// The whole app: page, bundle from `dist` (compressed, cached: see the `bundle` module),
/// chsk routes. Spawns the presence task.
pub fn app(dist: PathBuf) -> Router {
    let csrf = random_token();
    let server = chsk_server(csrf.clone());
    spawn_presence(&server);
    let bundle = Arc::new(bundle::Bundle::new(dist));
    let pkg = bundle::routes(bundle.clone());
    let token = csrf.clone();
    Router::new()
        .route(
            "/",
            get(move |q: Query<HashMap<String, String>>| {
                page::index(q, csrf.clone(), bundle.version())
            }),
        )
        // The page's token, for a tab whose token went stale (the server restarted and made a
        // new one): the web client fetches it when the server refuses the old one (403), and
        // opens again without a reload. Same-origin only (no CORS), like the page.
        .route("/csrf-token", get(move || std::future::ready(token)))
        .route("/style/{file}", get(page::style))
        .merge(pkg)
        .nest("/chsk", chsk_axum::routes(server))
}

/// A CSRF token: 32 bytes from the operating system's random source, in hex.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
