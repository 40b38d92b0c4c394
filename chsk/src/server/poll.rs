//! The Ajax transport: handshake and long-poll (GET), sends (POST). A client's state (and its
//! queued pushes) lives between polls for the Ajax grace period.

use std::sync::{atomic::Ordering, Arc};

use tokio::time::Instant;

use bytes::Bytes;
use http::StatusCode;

use super::{
    conn::{Conn, ConnInfo},
    mailbox::{Outgoing, OwnedRun},
    metrics::Counters,
    request::HandshakeRequest,
    security::{HttpResponse, Rejection},
    shared::{Inner, Server},
    ws::kind,
};
use crate::{
    protocol::{raw::RawRun, Frame, Position, ReplyError, ReplyErrorKind},
    transport::Transport,
};

impl Server {
    /// Answers an Ajax `GET`: a handshake (`handshake=1`, or no state for this client), or a
    /// long-poll held up to `lp_timeout`.
    pub async fn ajax_get(&self, request: HandshakeRequest) -> HttpResponse {
        let inner = &self.inner;
        let (client_id, uid) = match inner.check(&request) {
            Ok(ok) => ok,
            Err(rejection) => return rejection.into_response(),
        };
        let handshake = request.query("handshake") == Some("1");
        let existing = inner
            .registry
            .get(&client_id)
            .filter(|c| c.transport() == Transport::Ajax && c.info.uid == uid && !c.is_closing());
        let since = request.since();
        match existing {
            Some(conn) if !handshake => self.poll(&conn, &since).await,
            _ => {
                self.ajax_handshake(request, client_id, uid, handshake, &since)
                    .await
            }
        }
    }

    /// Creates (or re-creates) the client's state and answers `Handshake`; what the client
    /// missed after `since` waits in its queue for the next poll.
    async fn ajax_handshake(
        &self,
        request: HandshakeRequest,
        client_id: String,
        uid: Option<String>,
        asked: bool,
        since: &[Position],
    ) -> HttpResponse {
        let inner = &self.inner;
        let info = ConnInfo {
            uid,
            client_id,
            conn_id: inner.conn_ids.next(),
            transport: Transport::Ajax,
            request: Arc::new(inner.detach(request)),
        };
        let (conn, _) = Conn::new(info, &inner.config.limits, &inner.counters);
        match inner.open(&conn, asked, since).await {
            // A poll that found no state here (it went to another server process, or this
            // one dropped it) and whose cursor recovered is a poll: the client's stream goes
            // on, with what it missed first. (Answering a handshake would leave the missed
            // pushes for the next poll, which may go elsewhere again.)
            Ok(Frame::Handshake(h)) if !asked && h.recovered => {
                schedule_reap(inner, &conn);
                self.poll(&conn, since).await
            }
            Ok(handshake) => {
                schedule_reap(inner, &conn);
                self.frame_response(StatusCode::OK, &handshake)
            }
            Err(rejection) => rejection.into_response(),
        }
    }

    /// Holds one poll: the first queued item (plus everything else queued) as one `Push`, or
    /// `PollTimeout`. When the poll's cursor (`since`) shows that the previous answer was lost,
    /// its positioned events are answered again first.
    async fn poll(&self, conn: &Arc<Conn>, cursor: &[Position]) -> HttpResponse {
        let Some(ajax) = &conn.ajax else {
            return self.frame_response(StatusCode::OK, &Frame::PollTimeout);
        };
        let lost = ajax.unacked(cursor);
        if !lost.is_empty() {
            let n: u64 = lost.iter().map(|r| r.events.len() as u64).sum();
            Counters::add(&self.inner.counters.pushes_resent, n);
            tracing::debug!(conn = %conn.id(), events = n, "chsk: Ajax answer lost; sent again");
            let body = self.inner.config.codec.encode_push_raw(&raw_runs(&lost));
            ajax.sent(lost);
            return self.bytes_response(StatusCode::OK, Bytes::from(body));
        }
        // A newer poll ends this one.
        let mut gen = ajax.poll_gen.subscribe();
        ajax.poll_gen.send_modify(|g| *g += 1);
        let mine = *gen.borrow_and_update();
        ajax.active_polls.fetch_add(1, Ordering::AcqRel);
        let _guard = PollGuard {
            inner: self.inner.clone(),
            conn: conn.clone(),
        };
        let mut close_requested = std::pin::pin!(conn.close_requested());
        close_requested.as_mut().enable();
        if conn.is_closing() {
            let reason = conn.close_reason().map(|(r, _)| r).unwrap_or_default();
            return self.frame_response(StatusCode::OK, &Frame::Close { reason });
        }
        let superseded = async {
            loop {
                if gen.changed().await.is_err() || *gen.borrow() != mine {
                    return;
                }
            }
        };
        // What was gathered for this client while it had no poll waiting goes out now.
        self.inner
            .batcher(Transport::Ajax)
            .flush_for(&self.inner, conn);
        let deadline = tokio::time::sleep(self.inner.config.timings.lp_timeout);
        let max = self.inner.config.limits.max_send_frame_bytes;
        let got = async {
            let mut rx = ajax.rx.lock().await;
            let first = rx.recv().await;
            first.map(|first| {
                // Everything else queued goes out with it, as one `Push` of at most `max`
                // bytes; the rest waits for the next poll.
                let mut size = first.bytes.len();
                let mut items = vec![first];
                while let Some(more) = rx.try_recv() {
                    if size + more.bytes.len() > max {
                        rx.put_back(more);
                        break;
                    }
                    size += more.bytes.len();
                    items.push(more);
                }
                let pushes: u64 = items.iter().map(|i| i.pushes).sum();
                Counters::add(&self.inner.counters.pushes_written, pushes);
                items
            })
        };
        tokio::select! {
            items = got => match items {
                Some(items) => {
                    let runs: Vec<OwnedRun> = items
                        .iter()
                        .flat_map(|i| i.runs.iter().flat_map(|r| r.iter().cloned()))
                        .collect();
                    let body = match <[Outgoing; 1]>::try_from(items) {
                        Ok([one]) => one.bytes,
                        Err(_) => Bytes::from(
                            self.inner.config.codec.encode_push_raw(&raw_runs(&runs)),
                        ),
                    };
                    ajax.sent(runs);
                    self.bytes_response(StatusCode::OK, body)
                }
                None => self.frame_response(StatusCode::OK, &Frame::PollTimeout),
            },
            () = &mut close_requested => {
                let reason = conn.close_reason().map(|(r, _)| r).unwrap_or_default();
                self.frame_response(StatusCode::OK, &Frame::Close { reason })
            }
            () = superseded => self.frame_response(StatusCode::OK, &Frame::PollTimeout),
            () = deadline => self.frame_response(StatusCode::OK, &Frame::PollTimeout),
        }
    }

    /// Answers an Ajax `POST`: one frame in the body.
    pub async fn ajax_post(&self, request: HandshakeRequest, body: Bytes) -> HttpResponse {
        let inner = &self.inner;
        let (client_id, uid) = match inner.check(&request) {
            Ok(ok) => ok,
            Err(rejection) => return rejection.into_response(),
        };
        if body.len() > inner.config.limits.max_frame_bytes {
            Counters::inc(&inner.counters.oversized_frames);
            return Rejection::new(StatusCode::PAYLOAD_TOO_LARGE, "frame too large")
                .into_response();
        }
        let conn = inner
            .registry
            .get(&client_id)
            .filter(|c| c.transport() == Transport::Ajax && c.info.uid == uid);
        if let Some(conn) = &conn {
            if !conn.allow_frame() {
                Counters::inc(&inner.counters.rate_limited);
                return Rejection::new(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded")
                    .into_response();
            }
        }
        // Calls running for this client (its state counts them across its `POST`s).
        let _in_flight = match conn.as_ref().and_then(|c| c.ajax.as_ref().map(|a| (c, a))) {
            Some((conn, ajax)) => {
                let n = ajax.in_flight.fetch_add(1, Ordering::AcqRel);
                let guard = AjaxInFlight(conn.clone());
                if n >= inner.config.limits.max_in_flight {
                    Counters::inc(&inner.counters.in_flight_refused);
                    tracing::debug!(conn = %conn.id(), "chsk: Ajax send refused: too many in flight");
                    return Rejection::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "too many requests in flight",
                    )
                    .into_response();
                }
                Some(guard)
            }
            None => None,
        };
        let frame = match inner.config.codec.decode_frame(&body) {
            Ok(frame) => frame,
            Err(e) => {
                Counters::inc(&inner.counters.malformed_frames);
                return Rejection::new(StatusCode::BAD_REQUEST, format!("malformed frame: {e}"))
                    .into_response();
            }
        };
        let info = Arc::new(ConnInfo {
            uid,
            client_id,
            conn_id: conn.map_or_else(|| inner.conn_ids.next(), |c| c.id()),
            transport: Transport::Ajax,
            request: Arc::new(request),
        });
        match frame {
            Frame::Event(event) => match self.start(info, &event) {
                Ok(fut) => {
                    let server = self.clone();
                    let in_flight = _in_flight;
                    tokio::spawn(async move {
                        let _ = server.finish(fut.await);
                        drop(in_flight);
                    });
                    HttpResponse {
                        status: StatusCode::NO_CONTENT,
                        content_type: "",
                        body: Bytes::new(),
                    }
                }
                // Unknown id, bad payload, no handler: the same message as the WebSocket
                // path's `Error` frame.
                Err(e) => Rejection::new(StatusCode::BAD_REQUEST, e.message).into_response(),
            },
            Frame::Request { reply_id, event } => {
                let result = match self.start(info, &event) {
                    Err(e) => Err(e),
                    Ok(fut) => {
                        // Run as a task: the handler finishes even if the reply times out.
                        let server = self.clone();
                        let task = tokio::spawn(async move { server.finish(fut.await) });
                        match tokio::time::timeout(inner.config.timings.ajax_reply_timeout, task)
                            .await
                        {
                            Ok(Ok(result)) => result,
                            // The task was cancelled (the runtime is shutting down): a
                            // panic is caught inside and is already an error reply.
                            Ok(Err(_)) => Err(ReplyError::new(
                                ReplyErrorKind::Server,
                                "the handler's task was cancelled",
                            )),
                            Err(_) => {
                                Counters::inc(&inner.counters.reply_timeouts);
                                return Rejection::new(
                                    StatusCode::GATEWAY_TIMEOUT,
                                    "reply timeout",
                                )
                                .into_response();
                            }
                        }
                    }
                };
                let body = super::socket::reply_bytes(inner, reply_id, result);
                self.bytes_response(StatusCode::OK, body)
            }
            Frame::Ping => self.frame_response(StatusCode::OK, &Frame::Pong),
            other => {
                Counters::inc(&inner.counters.malformed_frames);
                Rejection::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "malformed frame: unexpected frame from a client: {}",
                        kind(&other)
                    ),
                )
                .into_response()
            }
        }
    }

    fn frame_response(&self, status: StatusCode, frame: &Frame) -> HttpResponse {
        match self.inner.config.codec.encode_frame(frame) {
            Ok(body) => self.bytes_response(status, Bytes::from(body)),
            Err(e) => {
                tracing::error!(error = %e, "chsk: could not encode a frame");
                Rejection::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "could not encode the frame",
                )
                .into_response()
            }
        }
    }

    fn bytes_response(&self, status: StatusCode, body: Bytes) -> HttpResponse {
        HttpResponse {
            status,
            content_type: self.inner.config.codec.content_type(),
            body,
        }
    }
}

/// Counts one running call of an Ajax client while it lives.
struct AjaxInFlight(Arc<Conn>);

impl Drop for AjaxInFlight {
    fn drop(&mut self) {
        if let Some(ajax) = &self.0.ajax {
            ajax.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Marks the end of a poll (also when the HTTP client went away and the poll was dropped).
struct PollGuard {
    inner: Arc<Inner>,
    conn: Arc<Conn>,
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        if let Some(ajax) = &self.conn.ajax {
            if let Ok(mut at) = ajax.last_poll_end.lock() {
                *at = Instant::now();
            }
            ajax.active_polls.fetch_sub(1, Ordering::AcqRel);
        }
        schedule_reap(&self.inner, &self.conn);
    }
}

/// After the Ajax grace period, drops the client's state if no poll came in the meantime.
/// At most one reaper task is pending per client: it sleeps until the last poll's end plus the
/// grace period, and stands down while a poll is running (that poll's end schedules again).
fn schedule_reap(inner: &Arc<Inner>, conn: &Arc<Conn>) {
    let Some(ajax) = &conn.ajax else { return };
    if ajax.reaper.swap(true, Ordering::AcqRel) {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        ajax.reaper.store(false, Ordering::Release);
        return;
    };
    let grace = inner.config.timings.ajax_grace;
    let weak = Arc::downgrade(inner);
    let conn = conn.clone();
    rt.spawn(async move {
        let Some(ajax) = &conn.ajax else { return };
        loop {
            let last_end = ajax
                .last_poll_end
                .lock()
                .map(|at| *at)
                .unwrap_or_else(|_| Instant::now());
            tokio::time::sleep_until(last_end + grace).await;
            if ajax.active_polls.load(Ordering::Acquire) > 0 {
                ajax.reaper.store(false, Ordering::Release);
                // A poll that ended in between found the flag set: take its turn.
                if ajax.active_polls.load(Ordering::Acquire) == 0
                    && !ajax.reaper.swap(true, Ordering::AcqRel)
                {
                    continue;
                }
                return;
            }
            let idle = ajax
                .last_poll_end
                .lock()
                .map(|at| at.elapsed() >= grace)
                .unwrap_or(true);
            if idle {
                if let Some(inner) = weak.upgrade() {
                    inner.drop_conn(&conn);
                }
                return;
            }
        }
    });
}

/// Borrows owned runs for encoding.
fn raw_runs(runs: &[OwnedRun]) -> Vec<RawRun<'_>> {
    runs.iter()
        .map(|r| RawRun {
            at: r.at,
            events: &r.events,
        })
        .collect()
}
