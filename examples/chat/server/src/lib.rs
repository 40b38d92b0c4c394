//! The chsk chat demo's server: the page (`/`), the wasm bundle (`/pkg/*`, from the directory
//! built by `cargo run -p xtask -- build-web`) and the chsk routes (`/chsk`).
//!
//! The user id is the `user` query parameter (the page puts its own `?user=` on the chsk
//! requests); the CSRF token is 32 bytes from the OS random source per process unless one is
//! given ([`ChatOptions::csrf_token`]), given to the page in `<meta name="csrf-token">`, and at
//! `GET /csrf-token` for tabs whose token went stale when the server restarted. The page is
//! served `no-cache`; the bundle is served precompressed (brotli or gzip) from versioned,
//! immutable URLs.
//!
//! **Several nodes** ([`ChatOptions::redis`]): chsk's Redis adapter
//! ([`chsk_redis::RedisCluster`]) carries the pushes, the recovery history and presence
//! between the nodes, and the rooms' recent messages are kept in Redis (one list per room), so
//! every node answers `History` the same. The nodes must share one CSRF token.

use std::{collections::HashMap, fmt, path::PathBuf, sync::Arc};

use axum::{extract::Query, routing::get, Router};
use chat_events::{ChatEvent, ChatPush, Message, ROOMS};
use chsk::{
    server::{PushOptions, Server, Target},
    Ctx,
};
use chsk_redis::{RedisCluster, RedisOptions};

mod bundle;
mod page;
mod rooms;

use rooms::{RedisRooms, Rooms};

/// The chat's state: the rooms' recent messages (in memory, or in Redis with
/// [`ChatOptions::redis`]).
#[derive(Debug, Default)]
pub struct AppState {
    rooms: Rooms,
}

/// How the chat runs: where its bundle is, its CSRF token, and whether it is one node of
/// several sharing a Redis.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use chat_server::ChatOptions;
/// let options = ChatOptions::new("target/chat-dist")
///     .csrf_token("the-same-token-on-every-node")
///     .redis("redis://127.0.0.1:6379/", "node-1")?;
/// let app = chat_server::app(options); // inside a tokio runtime
/// # let _ = app; Ok(()) }
/// ```
pub struct ChatOptions {
    dist: PathBuf,
    csrf_token: String,
    cluster: Option<Cluster>,
}

/// The Redis pieces of a node.
struct Cluster {
    adapter: RedisCluster,
    rooms: RedisRooms,
}

impl fmt::Debug for ChatOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatOptions")
            .field("dist", &self.dist)
            .field("cluster", &self.cluster.as_ref().map(|c| &c.adapter))
            .finish_non_exhaustive()
    }
}

impl ChatOptions {
    /// One process, the bundle in `dist`, a random CSRF token.
    pub fn new(dist: impl Into<PathBuf>) -> Self {
        Self {
            dist: dist.into(),
            csrf_token: random_token(),
            cluster: None,
        }
    }

    /// This CSRF token instead of a random one (every node of a cluster needs the same).
    pub fn csrf_token(mut self, token: impl Into<String>) -> Self {
        self.csrf_token = token.into();
        self
    }

    /// One node of several: pushes, recovery history and presence go through the Redis at
    /// `url` (chsk-redis), and so do the rooms' messages. `node_id` must be unique among the
    /// nodes. Nothing is connected yet.
    ///
    /// # Errors
    ///
    /// When `url` is not a Redis URL.
    pub fn redis(
        mut self,
        url: &str,
        node_id: impl Into<String>,
    ) -> Result<Self, chsk_redis::Error> {
        let adapter = RedisCluster::new(url, RedisOptions::default().node_id(node_id))?;
        let rooms = RedisRooms::new(url).map_err(chsk_redis::Error::Url)?;
        self.cluster = Some(Cluster { adapter, rooms });
        Ok(self)
    }

    /// The Redis adapter, for its metrics (with [`redis`](Self::redis)).
    pub fn cluster(&self) -> Option<&RedisCluster> {
        self.cluster.as_ref().map(|c| &c.adapter)
    }
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
    // A message that could not be kept is still pushed to the users online now.
    if let Err(e) = cx.state().rooms.append(&msg).await {
        eprintln!("chat: could not keep a message of #{room}: {e}");
    }
    // 0 recipients is fine; an error (a message too large for a frame) is a bug to see.
    if let Err(e) = cx.server().send_to_all(ChatPush::NewMessage(msg)) {
        eprintln!("chat: could not push a message: {e}");
    }
}

#[chsk::handler(ChatEvent::History)]
async fn on_history(cx: Ctx<AppState>, room: String, limit: u32) -> Vec<Message> {
    // The reply type has no room for an error: the tab shows an empty room (and the log says why).
    cx.state()
        .rooms
        .recent(&room, limit)
        .await
        .unwrap_or_else(|e| {
            eprintln!("chat: could not read the history of #{room}: {e}");
            Vec::new()
        })
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

/// The chsk server of the chat (with `adapter`, one node of several) and its CSRF token.
fn chsk_server(state: AppState, csrf_token: String, adapter: Option<RedisCluster>) -> Server {
    let mut builder = Server::builder(state)
        .handler(on_post)
        .handler(on_history)
        .handler(on_online)
        .handler(on_nudge)
        .user_id(|req, _client_id| {
            req.query("user")
                .filter(|u| valid_user(u))
                .map(str::to_string)
        })
        .csrf_token(move |_| Some(csrf_token.clone()));
    if let Some(adapter) = adapter {
        builder = builder.adapter(adapter);
    }
    builder.build()
}

/// Pushes [`ChatPush::Online`] to everyone whenever the set of connected users changes.
/// Needs a tokio runtime; runs until the server is dropped.
///
/// On several nodes, each node's watch follows the users of every node (through the Redis
/// adapter), and each node pushes the list to its own tabs only (a local push), so a tab gets
/// each list once.
pub fn spawn_presence(server: &Server) {
    let mut uids = server.watch_connected_uids();
    let server = server.clone();
    tokio::spawn(async move {
        while uids.changed().await.is_ok() {
            let online: Vec<String> = uids.borrow_and_update().any.iter().cloned().collect();
            let here = PushOptions::default().local(true);
            if let Err(e) = server.push(Target::All, ChatPush::Online(online), here) {
                eprintln!("chat: could not push the online users: {e}");
            }
        }
    });
}

/// The whole app: page, bundle (compressed, cached: see the `bundle` module), chsk routes.
/// Spawns the presence task; call it inside a tokio runtime.
pub fn app(options: ChatOptions) -> Router {
    chat(options).1
}

/// [`app`], with its chsk server (for its metrics, or to call handlers in-process).
pub fn chat(options: ChatOptions) -> (Server, Router) {
    let ChatOptions {
        dist,
        csrf_token: csrf,
        cluster,
    } = options;
    let (state, adapter) = match cluster {
        Some(Cluster { adapter, rooms }) => (
            AppState {
                rooms: Rooms::Redis(Box::new(rooms)),
            },
            Some(adapter),
        ),
        None => (AppState::default(), None),
    };
    let server = chsk_server(state, csrf.clone(), adapter);
    spawn_presence(&server);
    let bundle = Arc::new(bundle::Bundle::new(dist));
    let pkg = bundle::routes(bundle.clone());
    let token = csrf.clone();
    let router = Router::new()
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
        .nest("/chsk", chsk_axum::routes(server.clone()));
    (server, router)
}

/// A CSRF token: 32 bytes from the operating system's random source, in hex.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
