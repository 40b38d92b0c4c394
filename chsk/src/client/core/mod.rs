//! The sans-IO client state machine: every decision of the client, no IO, no clock.
//!
//! - `mod.rs`: [`ClientCore`], its state and what it reports;
//! - `output`: what it asks of its driver ([`Output`], [`AttemptId`], [`PollError`]);
//! - `runtime_inputs`: what the driver reports (socket opened, message, poll answer, …);
//! - `app_calls`: what the app asks (send, request, disconnect, reconnect);
//! - `lifecycle`: timers, connecting, the handshake, failures and what comes next;
//! - `recovery`: stream positions, positioned pushes (duplicates, gaps) and recovery;
//! - `url`: the endpoint URLs of each attempt.

mod app_calls;
mod lifecycle;
mod output;
mod recovery;
mod runtime_inputs;
mod url;

use std::{collections::VecDeque, time::Duration};

pub use self::output::{AttemptId, Output, PollError};
use super::{
    auto::AutoFallback,
    backoff::Backoff,
    credentials::Credentials,
    options::ClientOptions,
    pending::Pending,
    rng::Rng,
    state::{ClientMetrics, ClientState, Refusal, StateChange},
};
use crate::{
    codec::Payload,
    error::CbError,
    protocol::{keepalive::Keepalive, ReplyId},
    transport::Transport,
};

/// Where the current attempt is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Waiting for the credentials provider.
    Credentials,
    /// Opening (WebSocket) or handshaking; or open once `handshaken`.
    Connecting,
    /// The WebSocket failed to open for an unexplained reason (kept here); probing over HTTP.
    Probing(String),
}

/// The current connection attempt, and its connection.
#[derive(Debug)]
struct Attempt {
    id: AttemptId,
    transport: Transport,
    phase: Phase,
    started: Duration,
    handshaken: bool,
    /// WebSocket keep-alive (PROTOCOL.md, "Keep-alive"), once handshaken.
    keepalive: Keepalive<Duration>,
}

/// A call kept in the send buffer until the next handshake.
#[derive(Debug)]
enum Buffered {
    Event(Vec<u8>),
    Request(ReplyId, Vec<u8>),
}

/// The client state machine (sans-IO).
///
/// Feed it inputs with the current client time (`now`, a monotonic [`Duration`] since any fixed
/// origin); collect [`Output`]s with [`poll_output`](Self::poll_output); call
/// [`tick`](Self::tick) at [`next_deadline`](Self::next_deadline). It owns reconnects and
/// backoff, `Auto` fallback, the handshake, keep-alive pings, pending replies and their
/// timeouts, the send buffer, the stream positions and recovery, and the [`ClientState`].
/// Drivers (native tokio, browser) only move
/// bytes and sleep. The driver shipped with chsk (started by
/// [`Client::with_io`](super::Client::with_io)) is the reference use.
///
/// ```
/// use std::time::Duration;
/// use chsk::client::{runtime::{ClientCore, Output}, ClientOptions};
/// let mut core = ClientCore::new("http://127.0.0.1:3000/chsk", ClientOptions::default(), 7);
/// core.start(Duration::ZERO);
/// let mut connect = None;
/// while let Some(out) = core.poll_output() {
///     if let Output::Connect { attempt, url, .. } = out {
///         connect = Some((attempt, url));
///     }
/// }
/// let (attempt, url) = connect.expect("the first attempt");
/// assert!(url.starts_with("ws://127.0.0.1:3000/chsk?client-id="));
/// assert!(url.contains("&v=2&"), "every request names the protocol version");
/// // The runtime opens the WebSocket, then reports it:
/// core.on_open(attempt, Duration::from_millis(5));
/// ```
#[derive(Debug)]
pub struct ClientCore {
    opts: ClientOptions,
    base_url: String,
    state: ClientState,
    published: ClientState,
    dirty: bool,
    backoff: Backoff,
    auto: AutoFallback,
    pending: Pending,
    /// Calls made while not open, never handed to a connection yet (see `app_calls`).
    buffer: VecDeque<Buffered>,
    positions: recovery::Positions,
    /// Gaps since a positioned push was last delivered: while there are, a handshake does not
    /// reset the backoff (a server that keeps sending gaps is not reconnected to in a loop).
    gap_streak: u32,
    /// Pushes were lost to the app since the last handshake (a frame over the limit): the next
    /// handshake does not recover.
    lost: bool,
    attempt: Option<Attempt>,
    next_attempt: u64,
    reconnect_at: Option<Duration>,
    started: bool,
    stopped: bool,
    provider: bool,
    creds: Credentials,
    last_refusal: Option<Refusal>,
    metrics: ClientMetrics,
    out: VecDeque<Output>,
}

impl ClientCore {
    /// A new, idle state machine. `url_base` is the absolute `http(s)://…/chsk` endpoint;
    /// `seed` feeds the client id (when not given in the options) and the backoff jitter.
    pub fn new(url_base: &str, opts: ClientOptions, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let client_id = opts.client_id.clone().unwrap_or_else(|| rng.client_id());
        let state = ClientState::new(client_id, opts.codec);
        let creds = Credentials {
            csrf_token: opts.csrf_token.clone(),
            params: Vec::new(),
        };
        Self {
            backoff: Backoff::new(opts.backoff, rng.next_u64()),
            opts,
            base_url: url_base.trim_end_matches('/').to_string(),
            published: state.clone(),
            state,
            dirty: false,
            auto: AutoFallback::default(),
            pending: Pending::default(),
            buffer: VecDeque::new(),
            positions: recovery::Positions::default(),
            gap_streak: 0,
            lost: false,
            attempt: None,
            next_attempt: 0,
            reconnect_at: None,
            started: false,
            stopped: false,
            provider: false,
            creds,
            last_refusal: None,
            metrics: ClientMetrics::default(),
            out: VecDeque::new(),
        }
    }

    /// Asks a credentials provider before every connection attempt (see
    /// [`Output::Credentials`]); without one the options' token is used, and a refusal that
    /// retrying cannot fix stops the client. Call before [`start`](Self::start).
    pub fn use_credentials_provider(&mut self) {
        self.provider = true;
    }

    /// The credentials of the current (or last) attempt.
    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    /// The counters kept by the core (all but
    /// [`pushes_dropped`](ClientMetrics::pushes_dropped), which the push delivery keeps).
    pub fn metrics(&self) -> &ClientMetrics {
        &self.metrics
    }

    /// The current state.
    pub fn state(&self) -> &ClientState {
        &self.state
    }

    /// The options.
    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// The current connection attempt and its transport, if any.
    pub fn current(&self) -> Option<(AttemptId, Transport)> {
        self.attempt.as_ref().map(|a| (a.id, a.transport))
    }

    /// Number of requests waiting for a reply (sent or buffered).
    pub fn pending_replies(&self) -> usize {
        self.pending.len()
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The earliest time at which [`tick`](Self::tick) has something to do.
    pub fn next_deadline(&self) -> Option<Duration> {
        let attempt = self.attempt.as_ref().and_then(|a| {
            if !a.handshaken {
                Some(a.started + self.opts.connect_timeout)
            } else if a.transport == Transport::Ws {
                Some(a.keepalive.deadline())
            } else {
                None
            }
        });
        [attempt, self.reconnect_at, self.pending.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The state, to change: the change is reported by the next [`commit`](Self::commit).
    fn st(&mut self) -> &mut ClientState {
        self.dirty = true;
        &mut self.state
    }

    /// Reports the state change since the last commit, if any ([`Output::State`]).
    fn commit(&mut self) {
        if !std::mem::take(&mut self.dirty) || self.state == self.published {
            return;
        }
        let old = std::mem::replace(&mut self.published, self.state.clone());
        self.out.push_back(Output::State(Box::new(StateChange {
            old,
            new: self.state.clone(),
        })));
    }

    /// The current attempt, when it is `id` (inputs about older attempts are ignored).
    fn attempt_mut(&mut self, id: AttemptId) -> Option<&mut Attempt> {
        self.attempt.as_mut().filter(|a| a.id == id)
    }

    /// Completes a request ([`Output::Reply`]).
    fn reply(&mut self, reply_id: ReplyId, result: Result<Payload, CbError>) {
        self.out.push_back(Output::Reply { reply_id, result });
    }
}
