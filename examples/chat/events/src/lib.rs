//! The chat demo's events, shared by the server (`chat-server`) and the browser UI
//! (`chat-web`). Wire ids are `chat/<kebab-case variant>`.

use serde::{Deserialize, Serialize};

/// The rooms of the demo.
pub const ROOMS: &[&str] = &["lobby", "rust", "random"];

/// How many messages a room keeps.
pub const HISTORY_LEN: usize = 100;

/// A chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The room it was posted in.
    pub room: String,
    /// The user who posted it.
    pub from: String,
    /// The text.
    pub text: String,
}

/// Browser → server.
#[chsk::events(ns = "chat")]
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// Post a message; the server pushes it to everyone as [`ChatPush::NewMessage`].
    Post {
        /// The room.
        room: String,
        /// The text.
        text: String,
    },
    /// The last `limit` messages of a room, oldest first.
    #[reply(Vec<Message>)]
    History {
        /// The room.
        room: String,
        /// At most this many.
        limit: u32,
    },
    /// Who is online now (from the server's connected uids).
    #[reply(Vec<String>)]
    Online,
    /// Nudge a user: the server pushes [`ChatPush::Nudged`] to every tab of that user.
    Nudge {
        /// The user to nudge.
        user: String,
    },
}

/// Server → browser.
#[chsk::events(ns = "chat")]
#[derive(Debug, Clone, PartialEq)]
pub enum ChatPush {
    /// A message was posted (pushed to every user).
    NewMessage(Message),
    /// Who is online changed (pushed to every user). Volatile: not kept for recovery, since
    /// a client that comes back asks for the current list anyway ([`ChatEvent::Online`]).
    #[event(volatile)]
    Online(Vec<String>),
    /// Someone nudged you (pushed to every tab of your user).
    Nudged {
        /// Who nudged.
        by: String,
    },
}
