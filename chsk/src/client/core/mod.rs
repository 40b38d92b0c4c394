//! The sans-IO client state machine: every decision of the client, no IO, no clock.

use std::{collections::VecDeque, fmt, time::Duration};

use super::{
    auto::AutoFallback,
    backoff::Backoff,
    credentials::{Credentials, CredentialsRequest},
    io::{HttpError, HttpResponse, TransportClosed, WsOpenError},
    options::{ClientOptions, Transport},
    pending::Pending,
    rng::Rng,
    state::{
        ClientMetrics, ClientState, CloseReason, LastClose, Refusal, ServerError, StateChange,
    },
};
use crate::{
    codec::Payload,
    error::CbError,
    protocol::{EventFrame, Frame, Handshake, ReplyId},
};

/// Identifies one connection attempt. Inputs about an older connection are ignored, so a
/// driver never has to worry about races between a dying socket and its replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// The outcome of an Ajax poll (or handshake) GET, as reported by a driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollError {
    /// The client-side HTTP timeout fired: just poll again.
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
    /// [`on_open`](ClientCore::on_open), each message ([`on_message`](ClientCore::on_message))
    /// and the end ([`on_closed`](ClientCore::on_closed)). Ajax: `GET url` (the handshake) and
    /// report the response with [`on_poll`](ClientCore::on_poll).
    Connect {
        /// The new connection.
        conn: ConnId,
        /// Its transport.
        transport: Transport,
        /// The URL (`ws://…` or the Ajax handshake `http://…&handshake=1`).
        url: String,
    },
    /// Ajax: issue the next long-poll `GET url` and report it with
    /// [`on_poll`](ClientCore::on_poll).
    Poll {
        /// The connection.
        conn: ConnId,
        /// The poll URL.
        url: String,
    },
    /// Send an encoded frame: a WebSocket message (binary or text per codec), or an Ajax
    /// `POST` to [`ajax_url`](ClientCore::ajax_url) whose `200` body is reported with
    /// [`on_message`](ClientCore::on_message) and whose failure with
    /// [`on_send_failed`](ClientCore::on_send_failed).
    Send {
        /// The connection.
        conn: ConnId,
        /// The encoded frame.
        bytes: Vec<u8>,
        /// The request id, when the frame is a request.
        reply_id: Option<ReplyId>,
    },
    /// Close and forget the connection (WebSocket: close code 1000). Report nothing more.
    Close {
        /// The connection.
        conn: ConnId,
    },
    /// Deliver a batch of pushed events to the application, in order.
    Push(Vec<EventFrame>),
    /// Complete a request, exactly once.
    Reply {
        /// The request.
        reply_id: ReplyId,
        /// The reply payload, or why there is none.
        result: Result<Payload, CbError>,
    },
    /// The state changed.
    State(Box<StateChange>),
    /// Ask the credentials provider (see [`Credentials`]) for the credentials of connection
    /// `conn` and report the answer with [`on_credentials`](ClientCore::on_credentials). Only
    /// with a provider ([`ClientCore::use_credentials_provider`]).
    Credentials {
        /// The connection attempt waiting for them.
        conn: ConnId,
        /// What to tell the provider.
        request: CredentialsRequest,
    },
    /// The WebSocket of `conn` could not open for an unexplained reason
    /// ([`WsOpenError::Unexplained`]): `GET url` (an Ajax handshake of the same endpoint, same
    /// credentials) and report the outcome with [`on_probe`](ClientCore::on_probe), to learn
    /// the status and body of a refusal.
    Probe {
        /// The connection.
        conn: ConnId,
        /// The probe URL.
        url: String,
    },
    /// Deliver an error the server reported about something this client sent.
    ServerError(ServerError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Waiting for the credentials provider.
    Credentials,
    /// Opening (WebSocket) or handshaking; or open once `handshaken`.
    Connecting,
    /// The WebSocket failed to open for an unexplained reason (kept here); probing over HTTP.
    Probing(String),
}

#[derive(Debug)]
struct Conn {
    id: ConnId,
    transport: Transport,
    phase: Phase,
    started: Duration,
    handshaken: bool,
    last_recv: Duration,
    ping_sent: Option<Duration>,
}

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
/// timeouts, the send buffer and the [`ClientState`]. Drivers (native tokio, browser) only move
/// bytes and sleep.
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
    buffer: VecDeque<Buffered>,
    conn: Option<Conn>,
    next_conn: u64,
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
            conn: None,
            next_conn: 0,
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

    /// The transport of the current connection attempt, if any.
    pub fn current(&self) -> Option<(ConnId, Transport)> {
        self.conn.as_ref().map(|c| (c.id, c.transport))
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
        let conn = self.conn.as_ref().and_then(|c| {
            if !c.handshaken {
                Some(c.started + self.opts.connect_timeout)
            } else if c.transport == Transport::Ws {
                Some(match c.ping_sent {
                    None => c.last_recv + self.opts.ws_kalive,
                    Some(t) => t + self.opts.ws_ping_timeout,
                })
            } else {
                None
            }
        });
        [conn, self.reconnect_at, self.pending.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The URL of Ajax polls and sends (`POST`).
    pub fn ajax_url(&self) -> String {
        self.url(Transport::Ajax, false)
    }

    fn url(&self, transport: Transport, handshake: bool) -> String {
        let mut url = match transport {
            Transport::Ajax => self.base_url.clone(),
            Transport::Ws => {
                if let Some(rest) = self.base_url.strip_prefix("http") {
                    format!("ws{rest}")
                } else {
                    self.base_url.clone()
                }
            }
        };
        let mut sep = if url.contains('?') { '&' } else { '?' };
        let mut param = |k: &str, v: &str| {
            url.push(sep);
            sep = '&';
            encode_component(&mut url, k);
            url.push('=');
            encode_component(&mut url, v);
        };
        param("client-id", &self.state.client_id);
        param("codec", self.opts.codec.name());
        if let Some(token) = &self.creds.csrf_token {
            param("csrf-token", token);
        }
        for (k, v) in self.opts.params.iter().chain(&self.creds.params) {
            param(k, v);
        }
        if handshake {
            param("handshake", "1");
        }
        url
    }

    // ---- inputs ------------------------------------------------------------------------

    /// Starts connecting (once; later calls do nothing).
    pub fn start(&mut self, now: Duration) {
        if !self.started {
            self.started = true;
            self.connect_now(now);
            self.commit();
        }
    }

    /// Timers: reply timeouts, connect timeout, keep-alive pings and ping timeout, scheduled
    /// reconnects.
    pub fn tick(&mut self, now: Duration) {
        for reply_id in self.pending.expire(now) {
            self.out.push_back(Output::Reply {
                reply_id,
                result: Err(CbError::Timeout),
            });
        }
        enum Due {
            Nothing,
            ConnectTimeout(Transport),
            Ping(ConnId),
            PingTimeout,
        }
        let (kalive, ping_timeout) = (self.opts.ws_kalive, self.opts.ws_ping_timeout);
        let due = match &mut self.conn {
            Some(c) if !c.handshaken && now >= c.started + self.opts.connect_timeout => {
                Due::ConnectTimeout(c.transport)
            }
            Some(c) if c.handshaken && c.transport == Transport::Ws => match c.ping_sent {
                None if now >= c.last_recv + kalive => {
                    c.ping_sent = Some(now);
                    Due::Ping(c.id)
                }
                Some(t) if now >= t + ping_timeout => Due::PingTimeout,
                _ => Due::Nothing,
            },
            _ => Due::Nothing,
        };
        match due {
            Due::Nothing => {}
            Due::ConnectTimeout(transport) => {
                let reason = match transport {
                    Transport::Ws => CloseReason::WsError,
                    Transport::Ajax => CloseReason::Unexpected,
                };
                let detail = Some("no handshake within the connect timeout".into());
                self.fail(now, reason, detail, true);
            }
            Due::Ping(id) => self.send_frame(id, &Frame::Ping, None),
            Due::PingTimeout => self.fail(now, CloseReason::PingTimeout, None, true),
        }
        if self.conn.is_none() && !self.stopped && self.started {
            if let Some(at) = self.reconnect_at {
                if now >= at {
                    self.connect_now(now);
                }
            }
        }
        self.commit();
    }

    /// The WebSocket of `conn` is open (the client is not *open* until the handshake frame).
    pub fn on_open(&mut self, conn: ConnId, now: Duration) {
        if let Some(c) = self.conn_mut(conn) {
            c.last_recv = now;
        }
    }

    /// The credentials provider answered for `conn` ([`Output::Credentials`]): `Some` connects
    /// with them, `None` gives up (the client stops, see [`ClientState::stopped`]).
    pub fn on_credentials(&mut self, conn: ConnId, now: Duration, creds: Option<Credentials>) {
        let Some(c) = self.conn_mut(conn) else {
            return;
        };
        if c.phase != Phase::Credentials {
            return;
        }
        match creds {
            Some(creds) => {
                c.phase = Phase::Connecting;
                let transport = c.transport;
                self.creds = creds;
                self.emit_connect(conn, transport);
            }
            None => {
                tracing::info!("chsk client: the credentials provider gave up; stopping");
                self.conn = None;
                self.halt(now);
            }
        }
        self.commit();
    }

    /// The WebSocket of `conn` could not open.
    ///
    /// A refusal with a status is a [`CloseReason::Refused`] (in `Auto` mode, while the
    /// WebSocket has never opened, it falls back to Ajax instead: a proxy may refuse upgrades);
    /// an [`Unexplained`](WsOpenError::Unexplained) failure is probed over HTTP first
    /// ([`Output::Probe`]).
    pub fn on_connect_failed(&mut self, conn: ConnId, now: Duration, error: WsOpenError) {
        let Some(transport) = self.conn_mut(conn).map(|c| c.transport) else {
            return;
        };
        match error {
            WsOpenError::Refused(resp) => {
                let refusal = resp.refusal();
                let detail = Some(refusal.to_string());
                self.fail(now, CloseReason::Refused(refusal), detail, false);
            }
            WsOpenError::Failed(e) => {
                let reason = failure_reason(transport, &TransportClosed::Error(String::new()));
                self.fail(now, reason, Some(e), false);
            }
            WsOpenError::Unexplained(e) => {
                if self.auto.would_downgrade(self.opts.transport, transport) {
                    self.fail(now, CloseReason::WsError, Some(e), false);
                } else {
                    if let Some(c) = self.conn_mut(conn) {
                        c.phase = Phase::Probing(e);
                    }
                    let url = self.url(Transport::Ajax, true);
                    self.out.push_back(Output::Probe { conn, url });
                }
            }
        }
        self.commit();
    }

    /// The outcome of the HTTP probe of `conn` ([`Output::Probe`]): a status other than `200`
    /// is the refusal; otherwise the WebSocket failure stays unexplained
    /// ([`CloseReason::WsError`]).
    pub fn on_probe(
        &mut self,
        conn: ConnId,
        now: Duration,
        result: Result<HttpResponse, HttpError>,
    ) {
        let Some(c) = self.conn_mut(conn) else {
            return;
        };
        let Phase::Probing(ws_error) = c.phase.clone() else {
            return;
        };
        match result {
            Ok(resp) if resp.status != 200 => {
                let refusal = resp.refusal();
                let detail = Some(format!("{ws_error}; HTTP probe: {refusal}"));
                self.fail(now, CloseReason::Refused(refusal), detail, false);
            }
            Ok(_) => {
                let detail = format!("{ws_error}; an HTTP request to the endpoint succeeded");
                self.fail(now, CloseReason::WsError, Some(detail), false);
            }
            Err(_) => self.fail(now, CloseReason::WsError, Some(ws_error), false),
        }
        self.commit();
    }

    /// A message arrived on `conn` (a WebSocket message, or the `200` body of an Ajax `POST`).
    pub fn on_message(&mut self, conn: ConnId, now: Duration, bytes: &[u8]) {
        let max = self.opts.max_frame_bytes;
        let Some(c) = self.conn_mut(conn) else {
            return;
        };
        c.last_recv = now;
        c.ping_sent = None;
        if bytes.len() > max {
            self.too_large(now, bytes.len());
        } else {
            match self.opts.codec.decode_frame(bytes) {
                Ok(frame) => self.on_frame(now, frame),
                Err(e) => {
                    tracing::warn!(%conn, error = %e, "chsk client: undecodable frame ignored")
                }
            }
        }
        self.commit();
    }

    /// An Ajax GET (the handshake of [`Output::Connect`] or an [`Output::Poll`]) finished with
    /// a `200` body, or failed.
    pub fn on_poll(&mut self, conn: ConnId, now: Duration, result: Result<&[u8], PollError>) {
        let max = self.opts.max_frame_bytes;
        let Some(c) = self.conn_mut(conn) else {
            return;
        };
        c.last_recv = now;
        let handshaken = c.handshaken;
        match result {
            Ok(bytes) if bytes.len() > max => self.too_large(now, bytes.len()),
            Ok(bytes) => match self.opts.codec.decode_frame(bytes) {
                Ok(frame) => {
                    if !handshaken && !matches!(frame, Frame::Handshake(_)) {
                        let detail = format!("expected a handshake, got {frame:?}");
                        self.fail(now, CloseReason::Unexpected, Some(detail), false);
                    } else {
                        self.on_frame(now, frame);
                    }
                }
                Err(e) => {
                    let detail = format!("undecodable poll response: {e}");
                    self.fail(now, CloseReason::Unexpected, Some(detail), false);
                }
            },
            Err(PollError::Timeout) if handshaken => {}
            Err(PollError::Timeout) => {
                let detail = Some("handshake request timed out".to_string());
                self.fail(now, CloseReason::Unexpected, detail, false);
            }
            Err(PollError::Failed(detail)) => {
                self.fail(now, CloseReason::Unexpected, Some(detail), false);
            }
            Err(PollError::Refused(refusal)) => {
                let detail = Some(refusal.to_string());
                self.fail(now, CloseReason::Refused(refusal), detail, false);
            }
        }
        if self.conn.as_ref().is_some_and(|c| c.id == conn) {
            let url = self.ajax_url();
            self.out.push_back(Output::Poll { conn, url });
        }
        self.commit();
    }

    /// The transport of `conn` ended (or could not open).
    pub fn on_closed(&mut self, conn: ConnId, now: Duration, how: TransportClosed) {
        let Some(c) = self.conn_mut(conn) else {
            return;
        };
        let reason = failure_reason(c.transport, &how);
        let detail = match how {
            TransportClosed::Clean => None,
            TransportClosed::Error(e) => Some(e),
            TransportClosed::FrameTooLarge { size, max } => Some(format!(
                "a frame of {size} bytes exceeds the limit of {max} bytes"
            )),
        };
        self.fail(now, reason, detail, false);
        self.commit();
    }

    /// An Ajax `POST` of `conn` failed: a request gets `err` (e.g. [`CbError::Timeout`] for a
    /// `504`), an event is logged.
    pub fn on_send_failed(&mut self, conn: ConnId, reply_id: Option<ReplyId>, err: CbError) {
        if self.conn_mut(conn).is_none() {
            return;
        }
        match reply_id {
            Some(reply_id) if self.pending.complete(reply_id) => {
                self.out.push_back(Output::Reply {
                    reply_id,
                    result: Err(err),
                })
            }
            Some(_) => {}
            None => tracing::warn!(%conn, error = %err, "chsk client: sending an event failed"),
        }
    }

    /// The outcome of an Ajax `POST` of `conn` ([`Output::Send`] on Ajax), `reply_id` when it
    /// carried a request:
    ///
    /// - `200`: the body is a frame (a `Reply`), as [`on_message`](Self::on_message);
    /// - `204`: done;
    /// - `504`: the request times out ([`CbError::Timeout`]);
    /// - `401` / `403`: the connection is refused ([`CloseReason::Refused`], as a refused
    ///   poll), the request fails with [`CbError::Error`];
    /// - any other status (`400 malformed frame`, `413`, `429`, `5xx`): an
    ///   [`Output::ServerError`] with the status and body, and the request fails with
    ///   [`CbError::Error`];
    /// - no response: the request fails ([`CbError::Timeout`] or [`CbError::Error`]).
    pub fn on_posted(
        &mut self,
        conn: ConnId,
        now: Duration,
        reply_id: Option<ReplyId>,
        result: Result<HttpResponse, HttpError>,
    ) {
        if self.conn_mut(conn).is_none() {
            return;
        }
        match result {
            Ok(resp) if resp.status == 200 => return self.on_message(conn, now, &resp.body),
            Ok(resp) if resp.status == 204 => {}
            Ok(resp) if resp.status == 504 => self.on_send_failed(conn, reply_id, CbError::Timeout),
            Ok(resp) => {
                let refusal = resp.refusal();
                self.on_send_failed(conn, reply_id, CbError::Error(refusal.to_string()));
                if matches!(resp.status, 401 | 403) {
                    let detail = Some(refusal.to_string());
                    self.fail(now, CloseReason::Refused(refusal), detail, true);
                } else {
                    self.server_error(ServerError {
                        message: refusal.body,
                        status: Some(resp.status),
                    });
                }
            }
            Err(HttpError::Timeout) => self.on_send_failed(conn, reply_id, CbError::Timeout),
            Err(HttpError::Failed(e)) => self.on_send_failed(conn, reply_id, CbError::Error(e)),
        }
        self.commit();
    }

    /// Sends an event that wants no reply. Fails with [`CbError::Closed`] when not open (unless
    /// the send buffer takes it).
    pub fn send(&mut self, event: EventFrame) -> Result<(), CbError> {
        if self.stopped {
            return Err(CbError::Closed);
        }
        let bytes = self.opts.codec.encode_frame(&Frame::Event(event))?;
        if let Some(id) = self.open_conn() {
            self.queue(id, bytes, None);
            Ok(())
        } else if self.buffer_has_room() {
            self.buffer.push_back(Buffered::Event(bytes));
            Ok(())
        } else {
            Err(CbError::Closed)
        }
    }

    /// Sends a request; its [`Output::Reply`] comes exactly once: the reply, a timeout after
    /// `timeout`, or [`CbError::Closed`].
    pub fn request(
        &mut self,
        now: Duration,
        event: EventFrame,
        timeout: Duration,
    ) -> Result<ReplyId, CbError> {
        if self.stopped {
            return Err(CbError::Closed);
        }
        let open = self.open_conn();
        if open.is_none() && !self.buffer_has_room() {
            return Err(CbError::Closed);
        }
        let reply_id = self.pending.insert(now + timeout, open.is_some());
        let frame = Frame::Request { reply_id, event };
        let bytes = match self.opts.codec.encode_frame(&frame) {
            Ok(bytes) => bytes,
            Err(e) => {
                self.pending.complete(reply_id);
                return Err(e.into());
            }
        };
        match open {
            Some(id) => self.queue(id, bytes, Some(reply_id)),
            None => self.buffer.push_back(Buffered::Request(reply_id, bytes)),
        }
        Ok(reply_id)
    }

    /// Closes the connection and stops reconnecting (reason
    /// [`RequestedDisconnect`](CloseReason::RequestedDisconnect)). Every pending request gets
    /// [`CbError::Closed`]; the send buffer is emptied.
    pub fn disconnect(&mut self, now: Duration) {
        if self.conn.is_some() {
            self.stopped = true;
            self.fail(now, CloseReason::RequestedDisconnect, None, true);
        } else {
            self.record_close(now, CloseReason::RequestedDisconnect, None);
        }
        self.halt(now);
        self.commit();
    }

    /// Closes the connection (reason [`RequestedReconnect`](CloseReason::RequestedReconnect))
    /// and connects again at once, WebSocket first in `Auto` mode. Also resumes after
    /// [`disconnect`](Self::disconnect) or after the client stopped on a refusal.
    pub fn reconnect(&mut self, now: Duration) {
        self.started = true;
        self.stopped = false;
        self.st().stopped = false;
        if self.conn.is_some() {
            self.fail(now, CloseReason::RequestedReconnect, None, true);
        } else {
            self.record_close(now, CloseReason::RequestedReconnect, None);
        }
        self.last_refusal = None;
        self.auto.reset();
        self.backoff.reset();
        self.connect_now(now);
        self.commit();
    }

    // ---- internals ---------------------------------------------------------------------

    fn st(&mut self) -> &mut ClientState {
        self.dirty = true;
        &mut self.state
    }

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

    fn conn_mut(&mut self, conn: ConnId) -> Option<&mut Conn> {
        self.conn.as_mut().filter(|c| c.id == conn)
    }

    fn open_conn(&self) -> Option<ConnId> {
        self.conn.as_ref().filter(|c| c.handshaken).map(|c| c.id)
    }

    fn buffer_has_room(&self) -> bool {
        self.opts
            .send_buffer
            .is_some_and(|cap| self.buffer.len() < cap)
    }

    fn queue(&mut self, conn: ConnId, bytes: Vec<u8>, reply_id: Option<ReplyId>) {
        self.out.push_back(Output::Send {
            conn,
            bytes,
            reply_id,
        });
    }

    fn send_frame(&mut self, conn: ConnId, frame: &Frame, reply_id: Option<ReplyId>) {
        match self.opts.codec.encode_frame(frame) {
            Ok(bytes) => self.queue(conn, bytes, reply_id),
            Err(e) => tracing::error!(error = %e, "chsk client: cannot encode {frame:?}"),
        }
    }

    fn server_error(&mut self, error: ServerError) {
        tracing::warn!(%error, "chsk client: the server reported an error");
        self.metrics.server_errors += 1;
        self.metrics.last_server_error = Some(error.clone());
        self.out.push_back(Output::ServerError(error));
    }

    fn too_large(&mut self, now: Duration, size: usize) {
        let max = self.opts.max_frame_bytes;
        let detail = format!("a frame of {size} bytes exceeds the limit of {max} bytes");
        self.fail(
            now,
            CloseReason::FrameTooLarge { size, max },
            Some(detail),
            true,
        );
    }

    fn connect_now(&mut self, now: Duration) {
        self.reconnect_at = None;
        self.st().next_reconnect = None;
        self.metrics.connect_attempts += 1;
        let transport = self.auto.transport(self.opts.transport);
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        let phase = if self.provider {
            Phase::Credentials
        } else {
            Phase::Connecting
        };
        self.conn = Some(Conn {
            id,
            transport,
            phase: phase.clone(),
            started: now,
            handshaken: false,
            last_recv: now,
            ping_sent: None,
        });
        if phase == Phase::Credentials {
            let request = CredentialsRequest {
                refusal: self.last_refusal.clone(),
                current: self.creds.clone(),
                attempt: self.backoff.attempt(),
            };
            self.out
                .push_back(Output::Credentials { conn: id, request });
        } else {
            self.emit_connect(id, transport);
        }
    }

    fn emit_connect(&mut self, conn: ConnId, transport: Transport) {
        let url = self.url(transport, transport == Transport::Ajax);
        self.out.push_back(Output::Connect {
            conn,
            transport,
            url,
        });
    }

    fn on_frame(&mut self, now: Duration, frame: Frame) {
        match frame {
            Frame::Handshake(h) => self.on_handshake(h),
            Frame::Reply { reply_id, result } => {
                if self.pending.complete(reply_id) {
                    self.out.push_back(Output::Reply {
                        reply_id,
                        result: result.map_err(CbError::Error),
                    });
                } else {
                    tracing::debug!(reply_id, "chsk client: late or unknown reply ignored");
                }
            }
            Frame::Push(events) => self.out.push_back(Output::Push(events)),
            Frame::Ping => {
                if let Some(c) = &self.conn {
                    let id = c.id;
                    self.send_frame(id, &Frame::Pong, None);
                }
            }
            Frame::Pong | Frame::PollTimeout => {}
            Frame::Error { message } => self.server_error(ServerError {
                message,
                status: None,
            }),
            Frame::Close { reason } => {
                self.fail(now, CloseReason::ServerClose(reason), None, true);
            }
            other => tracing::warn!(frame = ?other, "chsk client: unexpected frame ignored"),
        }
    }

    fn on_handshake(&mut self, h: Handshake) {
        let Some(c) = &mut self.conn else {
            return;
        };
        c.handshaken = true;
        let (id, transport) = (c.id, c.transport);
        if h.client_id != self.state.client_id {
            tracing::warn!(
                sent = %self.state.client_id, got = %h.client_id,
                "chsk client: the handshake names another client id"
            );
        }
        self.auto.on_open(transport);
        self.backoff.reset();
        self.last_refusal = None;
        let st = self.st();
        if !st.open {
            st.first_open = !st.ever_opened;
        }
        st.open = true;
        st.ever_opened = true;
        st.transport = Some(transport);
        st.uid = h.uid;
        st.first_handshake = h.first;
        st.handshake_data_raw = h.data;
        st.next_reconnect = None;
        st.reconnect_attempt = 0;
        while let Some(b) = self.buffer.pop_front() {
            match b {
                Buffered::Event(bytes) => self.queue(id, bytes, None),
                Buffered::Request(reply_id, bytes) => {
                    // A buffered request may have timed out meanwhile.
                    if self.pending.contains(reply_id) {
                        self.pending.mark_sent(reply_id);
                        self.queue(id, bytes, Some(reply_id));
                    }
                }
            }
        }
    }

    fn record_close(&mut self, now: Duration, reason: CloseReason, detail: Option<String>) {
        let st = self.st();
        st.open = false;
        st.first_open = false;
        st.last_close = Some(LastClose {
            reason,
            at: now,
            detail,
        });
    }

    /// Stops for good (until `reconnect`): no reconnect scheduled, the send buffer emptied
    /// (buffered requests fail with `Closed`, buffered events are counted), every pending
    /// request failed with `Closed`.
    fn halt(&mut self, _now: Duration) {
        self.stopped = true;
        self.reconnect_at = None;
        let st = self.st();
        st.next_reconnect = None;
        st.stopped = true;
        for b in std::mem::take(&mut self.buffer) {
            if let Buffered::Event(_) = b {
                self.metrics.sends_dropped += 1;
            }
        }
        for reply_id in self.pending.drain() {
            self.out.push_back(Output::Reply {
                reply_id,
                result: Err(CbError::Closed),
            });
        }
    }

    /// Ends the current connection with `reason`, fails its requests, then decides what next:
    /// nothing (on request), an immediate Ajax downgrade, a stop (a refusal that retrying
    /// cannot fix, without a credentials provider), or a reconnect after backoff.
    fn fail(&mut self, now: Duration, reason: CloseReason, detail: Option<String>, tell: bool) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if tell {
            self.out.push_back(Output::Close { conn: conn.id });
        }
        for reply_id in self.pending.close_sent() {
            self.out.push_back(Output::Reply {
                reply_id,
                result: Err(CbError::Closed),
            });
        }
        let requested = matches!(
            reason,
            CloseReason::RequestedDisconnect | CloseReason::RequestedReconnect
        );
        if requested {
            self.record_close(now, reason, detail);
            return;
        }
        if self.auto.on_failure(self.opts.transport, conn.transport) {
            tracing::info!(
                ?detail,
                "chsk client: the WebSocket never opened; using Ajax"
            );
            self.record_close(now, CloseReason::DowngradingWsToAjax, detail);
            self.connect_now(now);
            return;
        }
        let refusal = match &reason {
            CloseReason::Refused(r) => Some(r.clone()),
            _ => None,
        };
        self.record_close(now, reason, detail);
        if self.stopped {
            return;
        }
        let mut delay = self.backoff.next_delay();
        if let Some(r) = &refusal {
            if !r.retryable() && !self.provider {
                tracing::warn!(
                    refusal = %r,
                    "chsk client: refused, and retrying cannot fix it without new credentials; stopping"
                );
                self.halt(now);
                return;
            }
            if r.retryable() {
                delay = delay.max(r.retry_after.unwrap_or(self.opts.backoff.base));
            }
        }
        self.last_refusal = refusal;
        let at = now + delay;
        let attempt = self.backoff.attempt();
        self.reconnect_at = Some(at);
        let st = self.st();
        st.next_reconnect = Some(at);
        st.reconnect_attempt = attempt;
        if at <= now {
            self.connect_now(now);
        }
    }
}

fn failure_reason(transport: Transport, how: &TransportClosed) -> CloseReason {
    match (transport, how) {
        (Transport::Ws, TransportClosed::Clean) => CloseReason::Clean,
        (_, TransportClosed::FrameTooLarge { size, max }) => CloseReason::FrameTooLarge {
            size: *size,
            max: *max,
        },
        (Transport::Ws, TransportClosed::Error(_)) => CloseReason::WsError,
        (Transport::Ajax, _) => CloseReason::Unexpected,
    }
}

/// Percent-encodes a query component (everything but `[A-Za-z0-9-_.~]`).
fn encode_component(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
}
