//! The watchable client state and its change events.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::options::Transport;
use crate::{
    codec::{Codec, Payload},
    error::CodecError,
};

/// Why the last connection closed (Sente's `:last-close :reason`, plus server-sent reasons).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The server closed the WebSocket cleanly (code 1000) without saying why.
    Clean,
    /// The connection failed or was lost (network error, Ajax HTTP error, connect timeout).
    Unexpected,
    /// [`Client::disconnect`](super::Client::disconnect) was called.
    RequestedDisconnect,
    /// [`Client::reconnect`](super::Client::reconnect) was called.
    RequestedReconnect,
    /// `Auto` mode: the WebSocket never opened, so the client switched to Ajax.
    DowngradingWsToAjax,
    /// No frame arrived within `ws_ping_timeout` after a keep-alive ping.
    PingTimeout,
    /// The WebSocket failed with an error (or could not be opened).
    WsError,
    /// The server sent `Close { reason }` (e.g. `slow consumer`), or refused the connection
    /// with an HTTP status (e.g. `403 bad CSRF token`).
    ServerClose(String),
}

/// The last close: its reason and when it happened (client time, see [`ClientState`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastClose {
    /// Why.
    pub reason: CloseReason,
    /// When, as client time.
    pub at: Duration,
    /// Details from the transport (error text, HTTP status), if any.
    pub detail: Option<String>,
}

/// A snapshot of the client's state.
///
/// Times (`next_reconnect`, `last_close.at`) are *client time*: the monotonic time since an
/// arbitrary origin fixed by the runtime (see [`ClientIo::now`](super::ClientIo::now));
/// compare them with [`Client::now`](super::Client::now).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientState {
    /// The client is open: a handshake arrived on the current connection.
    pub open: bool,
    /// The client has been open at least once.
    pub ever_opened: bool,
    /// The current open is the client's first (the "ready" signal of Sente's `:first-open?`).
    pub first_open: bool,
    /// The transport of the current (or, when closed, the last) open connection.
    pub transport: Option<Transport>,
    /// The user id from the last handshake (`None`: anonymous, or no handshake yet).
    pub uid: Option<String>,
    /// This client's id.
    pub client_id: String,
    /// Whether the server saw this client id for the first time at the last handshake.
    pub first_handshake: bool,
    /// The raw handshake data of the last handshake; see [`handshake_data`](Self::handshake_data).
    pub handshake_data_raw: Option<Payload>,
    /// The codec of the connection (decodes `handshake_data_raw`).
    pub codec: Codec,
    /// Why the last connection closed, if one did.
    pub last_close: Option<LastClose>,
    /// When the next reconnect attempt is scheduled, while waiting for it.
    pub next_reconnect: Option<Duration>,
    /// Reconnect attempts since the last successful handshake.
    pub reconnect_attempt: u32,
}

impl ClientState {
    pub(crate) fn new(client_id: String, codec: Codec) -> Self {
        Self {
            open: false,
            ever_opened: false,
            first_open: false,
            transport: None,
            uid: None,
            client_id,
            first_handshake: false,
            handshake_data_raw: None,
            codec,
            last_close: None,
            next_reconnect: None,
            reconnect_attempt: 0,
        }
    }

    /// Decodes the handshake data to a typed value: `None` when the server sent none.
    pub fn handshake_data<T: DeserializeOwned>(&self) -> Option<Result<T, CodecError>> {
        self.handshake_data_raw
            .as_ref()
            .map(|p| self.codec.decode_payload(p))
    }

    /// The reason of the last close, if any.
    pub fn last_close_reason(&self) -> Option<&CloseReason> {
        self.last_close.as_ref().map(|c| &c.reason)
    }
}

/// A state change (Sente's `[:chsk/state [old new]]`), delivered by
/// [`Client::state_changes`](super::Client::state_changes).
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    /// Before.
    pub old: ClientState,
    /// After.
    pub new: ClientState,
}

impl StateChange {
    /// `open` changed.
    pub fn open_changed(&self) -> bool {
        self.old.open != self.new.open
    }

    /// The client just opened (a handshake arrived).
    pub fn opened(&self) -> bool {
        !self.old.open && self.new.open
    }

    /// The client just closed.
    pub fn closed(&self) -> bool {
        self.old.open && !self.new.open
    }

    /// The client just opened for the first time: the "ready" signal.
    pub fn first_open(&self) -> bool {
        self.opened() && self.new.first_open
    }
}
