//! What a driver reports about an attempt: the provider's answer, the WebSocket opened or not,
//! messages, Ajax answers, the end of a connection.

use std::time::Duration;

use super::{lifecycle::lost, url::Endpoint, AttemptId, ClientCore, Output, Phase, PollError};
use crate::{
    client::{
        credentials::Credentials,
        io::{HttpAnswer, HttpError, TransportClosed, WsOpenError},
        state::{CloseReason, ServerError},
    },
    error::CbError,
    protocol::{Frame, ReplyId},
    transport::Transport,
};

impl ClientCore {
    /// The WebSocket of `attempt` is open (the client is not *open* until the handshake
    /// frame).
    pub fn on_open(&mut self, attempt: AttemptId, now: Duration) {
        if let Some(a) = self.attempt_mut(attempt) {
            a.keepalive.activity(now);
        }
    }

    /// The credentials provider answered for `attempt` ([`Output::Credentials`]): `Some`
    /// connects with them, `None` gives up (the client stops, see
    /// [`ClientState::stopped`](super::super::ClientState::stopped)).
    pub fn on_credentials(
        &mut self,
        attempt: AttemptId,
        now: Duration,
        creds: Option<Credentials>,
    ) {
        let _ = now; // every input takes the time; giving up needs none
        let Some(a) = self.attempt_mut(attempt) else {
            return;
        };
        if a.phase != Phase::Credentials {
            return;
        }
        match creds {
            Some(creds) => {
                a.phase = Phase::Connecting;
                let transport = a.transport;
                self.creds = creds;
                self.emit_connect(attempt, transport);
            }
            None => {
                tracing::info!("chsk client: the credentials provider gave up; stopping");
                self.attempt = None;
                self.halt();
            }
        }
        self.commit();
    }

    /// The WebSocket of `attempt` could not open.
    ///
    /// A refusal with a status is a [`CloseReason::Refused`] (in `Auto` mode, while the
    /// WebSocket has never opened, it falls back to Ajax instead: a proxy may refuse upgrades);
    /// an [`Unexplained`](WsOpenError::Unexplained) failure is probed over HTTP first
    /// ([`Output::Probe`]), unless `Auto` mode falls back to Ajax at once.
    pub fn on_connect_failed(&mut self, attempt: AttemptId, now: Duration, error: WsOpenError) {
        let Some(transport) = self.attempt_mut(attempt).map(|a| a.transport) else {
            return;
        };
        match error {
            WsOpenError::Refused(answer) => self.refused(now, answer.refusal(), false),
            WsOpenError::Failed(e) => self.fail(now, lost(transport), Some(e), false),
            WsOpenError::Unexplained(e) => {
                if self.auto.would_downgrade(self.opts.transport, transport) {
                    self.fail(now, CloseReason::WsError, Some(e), false);
                } else {
                    if let Some(a) = self.attempt_mut(attempt) {
                        a.phase = Phase::Probing(e);
                    }
                    let url = self.url(Endpoint::Handshake);
                    self.out.push_back(Output::Probe { attempt, url });
                }
            }
        }
        self.commit();
    }

    /// The outcome of the HTTP probe of `attempt` ([`Output::Probe`]): a status other than
    /// `200` is the refusal; otherwise the WebSocket failure stays unexplained
    /// ([`CloseReason::WsError`]).
    pub fn on_probe(
        &mut self,
        attempt: AttemptId,
        now: Duration,
        result: Result<HttpAnswer, HttpError>,
    ) {
        let Some(a) = self.attempt_mut(attempt) else {
            return;
        };
        let Phase::Probing(ws_error) = a.phase.clone() else {
            return;
        };
        match result {
            Ok(answer) if answer.status != 200 => {
                let refusal = answer.refusal();
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

    /// A WebSocket message arrived on `attempt`. (A `200` answer to an Ajax `POST` is reported
    /// with [`on_posted`](Self::on_posted), which treats its body the same way.)
    pub fn on_message(&mut self, attempt: AttemptId, now: Duration, bytes: &[u8]) {
        let max = self.opts.max_frame_bytes;
        let Some(a) = self.attempt_mut(attempt) else {
            return;
        };
        a.keepalive.activity(now);
        if bytes.len() > max {
            self.too_large(now, bytes.len(), max, true);
        } else {
            match self.opts.codec.decode_frame(bytes) {
                Ok(frame) => self.on_frame(now, frame),
                Err(e) => {
                    tracing::warn!(%attempt, error = %e, "chsk client: undecodable frame ignored")
                }
            }
        }
        self.commit();
    }

    /// An Ajax `GET` (the handshake of [`Output::Connect`] or an [`Output::Poll`]) finished
    /// with a `200` body, or failed. While the attempt lives on, the next
    /// [`Output::Poll`] follows.
    pub fn on_poll(&mut self, attempt: AttemptId, now: Duration, result: Result<&[u8], PollError>) {
        let max = self.opts.max_frame_bytes;
        let Some(a) = self.attempt_mut(attempt) else {
            return;
        };
        a.keepalive.activity(now);
        let handshaken = a.handshaken;
        match result {
            Ok(bytes) if bytes.len() > max => self.too_large(now, bytes.len(), max, true),
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
            Err(PollError::Refused(refusal)) => self.refused(now, refusal, false),
        }
        if self.attempt.as_ref().is_some_and(|a| a.id == attempt) {
            let url = self.url(Endpoint::Poll);
            self.out.push_back(Output::Poll { attempt, url });
        }
        self.commit();
    }

    /// The connection of `attempt` ended.
    pub fn on_closed(&mut self, attempt: AttemptId, now: Duration, how: TransportClosed) {
        let Some(transport) = self.attempt_mut(attempt).map(|a| a.transport) else {
            return;
        };
        match how {
            TransportClosed::Clean if transport == Transport::Ws => {
                self.fail(now, CloseReason::Clean, None, false);
            }
            TransportClosed::Clean => self.fail(now, lost(transport), None, false),
            TransportClosed::Error(e) => self.fail(now, lost(transport), Some(e), false),
            TransportClosed::FrameTooLarge { size, max } => self.too_large(now, size, max, false),
        }
        self.commit();
    }

    /// An Ajax `POST` of `attempt` failed: a request gets `err` (e.g. [`CbError::Timeout`] for a
    /// `504`), an event is logged.
    pub fn on_send_failed(&mut self, attempt: AttemptId, reply_id: Option<ReplyId>, err: CbError) {
        if self.attempt_mut(attempt).is_none() {
            return;
        }
        match reply_id {
            Some(reply_id) if self.pending.complete(reply_id) => self.reply(reply_id, Err(err)),
            Some(_) => {}
            None => tracing::warn!(%attempt, error = %err, "chsk client: sending an event failed"),
        }
    }

    /// The outcome of an Ajax `POST` of `attempt` ([`Output::Send`] on Ajax), `reply_id` when
    /// it carried a request:
    ///
    /// - `200`: the body is a frame (a `Reply`), as [`on_message`](Self::on_message);
    /// - `204`: done;
    /// - `504`: the request times out ([`CbError::Timeout`]);
    /// - `401` / `403`: the connection is refused ([`CloseReason::Refused`], as a refused
    ///   poll), the request fails with [`CbError::Refused`] (with the status);
    /// - any other status (`400 malformed frame`, `413`, `429`, `5xx`): an
    ///   [`Output::ServerError`] with the status and body, and the request fails with
    ///   [`CbError::Refused`] (with the status);
    /// - no answer: the request fails ([`CbError::Timeout`], or [`CbError::Closed`] when the
    ///   `POST` failed).
    pub fn on_posted(
        &mut self,
        attempt: AttemptId,
        now: Duration,
        reply_id: Option<ReplyId>,
        result: Result<HttpAnswer, HttpError>,
    ) {
        if self.attempt_mut(attempt).is_none() {
            return;
        }
        match result {
            Ok(answer) if answer.status == 200 => {
                return self.on_message(attempt, now, &answer.body)
            }
            Ok(answer) if answer.status == 204 => {}
            Ok(answer) if answer.status == 504 => {
                self.on_send_failed(attempt, reply_id, CbError::Timeout)
            }
            Ok(answer) => {
                let refusal = answer.refusal();
                let err = CbError::refused(refusal.status, refusal.body.clone());
                self.on_send_failed(attempt, reply_id, err);
                if matches!(answer.status, 401 | 403) {
                    self.refused(now, refusal, true);
                } else {
                    self.server_error(ServerError {
                        message: refusal.body,
                        status: Some(answer.status),
                    });
                }
            }
            Err(HttpError::Timeout) => self.on_send_failed(attempt, reply_id, CbError::Timeout),
            Err(HttpError::Failed(e)) => {
                tracing::debug!(%attempt, error = %e, "chsk client: a POST failed");
                self.on_send_failed(attempt, reply_id, CbError::Closed);
            }
        }
        self.commit();
    }
}
