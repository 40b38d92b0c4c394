//! What the core tells its driver: [`Output`]s about connection attempts ([`AttemptId`]), and
//! what a driver tells the core about an Ajax poll ([`PollError`]).

use std::fmt;

#[cfg(doc)]
use super::super::{credentials::Credentials, io::WsOpenError};
#[cfg(doc)]
use super::ClientCore;
use crate::{
    client::{
        credentials::CredentialsRequest,
        state::{Refusal, ServerError, StateChange},
    },
    codec::Payload,
    error::CbError,
    protocol::{EventFrame, ReplyId},
    transport::Transport,
};

/// Identifies one connection attempt of a [`ClientCore`], and the connection it opens.
///
/// Every attempt (the first connect, each reconnect, the `Auto` fallback to Ajax) gets a new
/// id. Inputs about an older attempt are ignored, so a driver never has to worry about races
/// between a dying socket and its replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptId(pub u64);

impl fmt::Display for AttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "attempt#{}", self.0)
    }
}

/// The outcome of an Ajax poll (or handshake) `GET` other than a `200` body, as reported by a
/// driver with [`on_poll`](ClientCore::on_poll).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollError {
    /// The client-side HTTP timeout fired: just poll again (before the handshake, the attempt
    /// fails).
    Timeout,
    /// The request failed (network error).
    Failed(String),
    /// The server answered with an HTTP status other than 200: a refusal (e.g. `403 bad CSRF
    /// token` after a server restart made a new token).
    Refused(Refusal),
}

/// What the state machine asks its driver to do, or to deliver.
#[derive(Debug)]
#[non_exhaustive]
pub enum Output {
    /// Open a connection. WebSocket: connect to `url`, then report
    /// [`on_open`](ClientCore::on_open) (or [`on_connect_failed`](ClientCore::on_connect_failed)),
    /// each message ([`on_message`](ClientCore::on_message)) and the end
    /// ([`on_closed`](ClientCore::on_closed)). Ajax: `GET url` (the handshake) and report the
    /// answer with [`on_poll`](ClientCore::on_poll).
    ///
    /// A new attempt replaces the previous one: forget everything about it.
    Connect {
        /// The new attempt.
        attempt: AttemptId,
        /// Its transport: [`Transport::Ws`] or [`Transport::Ajax`].
        transport: Transport,
        /// The URL (`ws://…` or the Ajax handshake `http://…&handshake=1`).
        url: String,
    },
    /// Ajax: issue the next long-poll `GET url` and report it with
    /// [`on_poll`](ClientCore::on_poll). The URL carries the positions of the pushes received
    /// so far (`since`): build no poll URL of your own.
    Poll {
        /// The attempt whose connection polls.
        attempt: AttemptId,
        /// The poll URL.
        url: String,
    },
    /// Send an encoded frame: a WebSocket message (binary or text per codec), or an Ajax
    /// `POST` to [`ajax_url`](ClientCore::ajax_url) whose answer is reported with
    /// [`on_posted`](ClientCore::on_posted).
    Send {
        /// The attempt whose connection sends.
        attempt: AttemptId,
        /// The encoded frame.
        bytes: Vec<u8>,
        /// The request id, when the frame is a request.
        reply_id: Option<ReplyId>,
    },
    /// Close and forget the connection of `attempt` (WebSocket: close code 1000), and drop
    /// whatever is still in flight for it. Report nothing more about it.
    Close {
        /// The attempt.
        attempt: AttemptId,
    },
    /// Deliver a batch of pushed events to the application, in order (never empty).
    Push(Vec<EventFrame>),
    /// Tell the application, in order with the pushes, that the pushes it missed while
    /// disconnected are lost: it must reload its state (see
    /// [`Recovery::NotRecovered`](crate::client::Recovery::NotRecovered)). The pushes that
    /// follow continue from the server's current state.
    NotRecovered,
    /// Complete a request, exactly once.
    Reply {
        /// The request.
        reply_id: ReplyId,
        /// The reply payload, or why there is none.
        result: Result<Payload, CbError>,
    },
    /// The state changed.
    State(Box<StateChange>),
    /// Ask the credentials provider (see [`Credentials`]) for the credentials of `attempt` and
    /// report the answer with [`on_credentials`](ClientCore::on_credentials). Only with a
    /// provider ([`ClientCore::use_credentials_provider`]).
    Credentials {
        /// The attempt waiting for them.
        attempt: AttemptId,
        /// What to tell the provider.
        request: CredentialsRequest,
    },
    /// The WebSocket of `attempt` could not open for an unexplained reason
    /// ([`WsOpenError::Unexplained`]): `GET url` (an Ajax handshake of the same endpoint, same
    /// credentials) and report the outcome with [`on_probe`](ClientCore::on_probe), to learn
    /// the status and body of a refusal.
    Probe {
        /// The attempt.
        attempt: AttemptId,
        /// The probe URL.
        url: String,
    },
    /// Deliver an error the server reported about something this client sent.
    ServerError(ServerError),
}
