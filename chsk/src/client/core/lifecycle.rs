//! The life of a connection attempt: starting it, timers, the frames that drive it (the
//! handshake first), its end, and what comes next (Ajax fallback, backoff, or a stop).

use std::time::Duration;

use super::{url::Endpoint, Attempt, AttemptId, Buffered, ClientCore, Output, Phase};
use crate::{
    client::{
        credentials::CredentialsRequest,
        state::{CloseReason, LastClose, Refusal, ServerError},
    },
    error::CbError,
    protocol::{
        keepalive::{Due, Keepalive},
        Frame, Handshake, VERSION,
    },
    transport::Transport,
};

impl ClientCore {
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
            self.reply(reply_id, Err(CbError::Timeout));
        }
        enum Step {
            Nothing,
            ConnectTimeout(Transport),
            Ping(AttemptId),
            PingTimeout,
        }
        let step = match &mut self.attempt {
            Some(a) if !a.handshaken && now >= a.started + self.opts.connect_timeout => {
                Step::ConnectTimeout(a.transport)
            }
            Some(a) if a.handshaken && a.transport == Transport::Ws => match a.keepalive.due(now) {
                Due::Later(_) => Step::Nothing,
                Due::Ping => Step::Ping(a.id),
                Due::Dead => Step::PingTimeout,
            },
            _ => Step::Nothing,
        };
        match step {
            Step::Nothing => {}
            Step::ConnectTimeout(transport) => {
                let detail = Some("no handshake within the connect timeout".into());
                self.fail(now, lost(transport), detail, true);
            }
            Step::Ping(id) => self.send_frame(id, &Frame::Ping),
            Step::PingTimeout => self.fail(now, CloseReason::PingTimeout, None, true),
        }
        if self.attempt.is_none() && !self.stopped && self.started {
            if let Some(at) = self.reconnect_at {
                if now >= at {
                    self.connect_now(now);
                }
            }
        }
        self.commit();
    }

    /// Starts a new attempt: asks the credentials provider first when there is one.
    pub(super) fn connect_now(&mut self, now: Duration) {
        self.reconnect_at = None;
        self.st().next_reconnect = None;
        self.metrics.connect_attempts += 1;
        let transport = self.auto.transport(self.opts.transport);
        let id = AttemptId(self.next_attempt);
        self.next_attempt += 1;
        let phase = if self.provider {
            Phase::Credentials
        } else {
            Phase::Connecting
        };
        self.attempt = Some(Attempt {
            id,
            transport,
            phase: phase.clone(),
            started: now,
            handshaken: false,
            keepalive: Keepalive::new(self.opts.ws_kalive, self.opts.ws_ping_timeout, now),
        });
        if phase == Phase::Credentials {
            let request = CredentialsRequest {
                refusal: self.last_refusal.clone(),
                current: self.creds.clone(),
                attempt: self.backoff.attempt(),
            };
            self.out.push_back(Output::Credentials {
                attempt: id,
                request,
            });
        } else {
            self.emit_connect(id, transport);
        }
    }

    /// Asks the driver to connect (the credentials are known).
    pub(super) fn emit_connect(&mut self, attempt: AttemptId, transport: Transport) {
        let endpoint = match transport {
            Transport::Ws => Endpoint::Ws,
            _ => Endpoint::Handshake,
        };
        let url = self.url(endpoint);
        self.out.push_back(Output::Connect {
            attempt,
            transport,
            url,
        });
    }

    /// A frame from the server on the current attempt.
    pub(super) fn on_frame(&mut self, now: Duration, frame: Frame) {
        match frame {
            Frame::Handshake(h) => self.on_handshake(h),
            Frame::Reply { reply_id, result } => {
                if self.pending.complete(reply_id) {
                    self.reply(reply_id, result.map_err(CbError::from));
                } else {
                    tracing::debug!(reply_id, "chsk client: late or unknown reply ignored");
                }
            }
            Frame::Push(runs) => self.on_push(now, runs),
            Frame::Ping => {
                if let Some(a) = &self.attempt {
                    let id = a.id;
                    self.send_frame(id, &Frame::Pong);
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

    /// The handshake: the client is open (the app is told first when the pushes it missed are
    /// lost); the positions become the handshake's; the send buffer goes out, in order.
    ///
    /// A handshake may also answer an Ajax poll of an open connection (the server lost the
    /// client's state): it is handled the same way.
    fn on_handshake(&mut self, h: Handshake) {
        let Some(a) = &mut self.attempt else {
            return;
        };
        a.handshaken = true;
        let (id, transport) = (a.id, a.transport);
        if h.client_id != self.state.client_id {
            tracing::warn!(
                sent = %self.state.client_id, got = %h.client_id,
                "chsk client: the handshake names another client id"
            );
        }
        if h.version != VERSION {
            tracing::warn!(
                ours = VERSION,
                theirs = h.version,
                "chsk client: the server speaks another protocol version"
            );
        }
        let recovery = self.on_recovery(&h);
        self.auto.on_open(transport);
        if self.gap_streak == 0 {
            self.backoff.reset();
        }
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
        st.recovery = recovery;
        st.next_reconnect = None;
        st.reconnect_attempt = 0;
        self.flush_buffer(id);
    }

    /// Reports an error the server sent about something this client sent.
    pub(super) fn server_error(&mut self, error: ServerError) {
        tracing::warn!(%error, "chsk client: the server reported an error");
        self.metrics.server_errors += 1;
        self.metrics.last_server_error = Some(error.clone());
        self.out.push_back(Output::ServerError(error));
    }

    /// Ends the current attempt: the server refused it.
    pub(super) fn refused(&mut self, now: Duration, refusal: Refusal, tell: bool) {
        let detail = Some(refusal.to_string());
        self.fail(now, CloseReason::Refused(refusal), detail, tell);
    }

    /// Ends the current attempt: a frame of `size` bytes exceeds the limit `max`.
    /// Its pushes, if any, are lost to the app (see `forget_positions`).
    pub(super) fn too_large(&mut self, now: Duration, size: usize, max: usize, tell: bool) {
        self.forget_positions();
        let detail = format!("a frame of {size} bytes exceeds the limit of {max} bytes");
        let reason = CloseReason::FrameTooLarge { size, max };
        self.fail(now, reason, Some(detail), tell);
    }

    /// Ends the current attempt on request (`disconnect`, `reconnect`), or records the close
    /// when there is none.
    pub(super) fn close_on_request(&mut self, now: Duration, reason: CloseReason) {
        if self.attempt.is_some() {
            self.fail(now, reason, None, true);
        } else {
            self.record_close(now, reason, None);
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
    pub(super) fn halt(&mut self) {
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
            self.reply(reply_id, Err(CbError::Closed));
        }
    }

    /// Ends the current attempt with `reason` (`tell`: ask the driver to close its connection),
    /// fails its requests, then decides what next: nothing (on request), an immediate Ajax
    /// downgrade, a stop (a refusal that retrying cannot fix, without a credentials provider),
    /// or a reconnect after backoff.
    pub(super) fn fail(
        &mut self,
        now: Duration,
        reason: CloseReason,
        detail: Option<String>,
        tell: bool,
    ) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        if tell {
            self.out.push_back(Output::Close {
                attempt: attempt.id,
            });
        }
        for reply_id in self.pending.close_sent() {
            self.reply(reply_id, Err(CbError::Closed));
        }
        let requested = matches!(
            reason,
            CloseReason::RequestedDisconnect | CloseReason::RequestedReconnect
        );
        if requested {
            self.record_close(now, reason, detail);
            return;
        }
        if self.auto.on_failure(self.opts.transport, attempt.transport) {
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
                self.halt();
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

/// Why a connection on `transport` was lost when nothing more is known: a WebSocket error, or
/// an unexpected end of an Ajax connection.
pub(super) fn lost(transport: Transport) -> CloseReason {
    match transport {
        Transport::Ws => CloseReason::WsError,
        _ => CloseReason::Unexpected,
    }
}
