//! The lifecycle of connections: checks, registration, removal, presence updates, local
//! delivery.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;

use super::{
    conn::Conn,
    mailbox::{Outgoing, OwnedRun},
    metrics::{Cause, Counters},
    options::Limits,
    push::{Batcher, Flush, Node, PushError, PushOptions, Queued, Target},
    recovery::Outcome,
    registry::TooMany,
    request::HandshakeRequest,
    security::Rejection,
    shared::Inner,
};
use crate::{
    codec::Codec,
    protocol::{raw, EventFrame, Frame, Handshake, Position, VERSION},
    transport::Transport,
};

impl Node for Inner {
    fn batcher(&self, transport: Transport) -> &Batcher {
        Inner::batcher(self, transport)
    }

    fn targets(&self, target: &Target, transport: Transport) -> Vec<Arc<Conn>> {
        self.registry.targets(target, transport)
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }

    fn codec(&self) -> Codec {
        self.config.codec
    }

    fn limits(&self) -> &Limits {
        &self.config.limits
    }

    fn drop_conn(self: &Arc<Self>, conn: &Arc<Conn>) {
        Inner::drop_conn(self, conn);
    }
}

impl Inner {
    /// What a connection keeps of its opening request (see `ServerBuilder::keep_headers`).
    pub(crate) fn detach(&self, request: HandshakeRequest) -> HandshakeRequest {
        request.detach(
            &self.config.keep_headers,
            self.config.limits.max_kept_request_bytes,
        )
    }

    pub(crate) fn batcher(&self, transport: Transport) -> &Batcher {
        match transport {
            Transport::Ajax => &self.ajax_batcher,
            _ => &self.ws_batcher,
        }
    }

    /// The security checks plus the user id.
    pub(crate) fn check(
        &self,
        request: &HandshakeRequest,
    ) -> Result<(String, Option<String>), Rejection> {
        let client_id = self.config.security.check(request).inspect_err(|r| {
            Counters::inc(&self.counters.rejected_requests);
            tracing::debug!(status = %r.status(), "chsk: request rejected");
        })?;
        let uid = self
            .config
            .user_id
            .as_ref()
            .and_then(|f| f(request, client_id));
        Ok((client_id.to_owned(), uid))
    }

    /// Local delivery: encodes the event once, appends it to its stream's history (unless
    /// volatile), counts recipients and hands it to the batcher of each transport, in that
    /// order while the stream is locked; `Ok(0)` (counted in `pushes_undeliverable`)
    /// when none is connected (a kept push is in the history all the same, for its readers
    /// that reconnect).
    pub(crate) fn deliver_local(
        self: &Arc<Self>,
        target: Target,
        event: EventFrame,
        options: PushOptions,
    ) -> Result<usize, PushError> {
        let data = Bytes::from(self.config.codec.encode(&event)?);
        let flush = options.flush;
        let Some(recovery) = self.recovery.as_ref().filter(|_| !options.volatile) else {
            return Ok(self.hand_off(target, Queued { data, at: None }, flush, true));
        };
        let (at, locked) = recovery.append(&target, &data).map_err(|e| {
            Counters::inc(&self.counters.pushes_history_failed);
            tracing::error!(error = %e, event = %event.id, "chsk: push history failed; push refused");
            PushError::History(e.to_string())
        })?;
        let reached = self.hand_off(target, Queued { data, at: Some(at) }, flush, true);
        drop(locked);
        Ok(reached)
    }

    /// Counts the connections `target` reaches now and hands the event to the batcher of each
    /// transport; `0` when none (counted in `pushes_undeliverable` when `count_none`: a push
    /// from another process may well have no recipient here).
    pub(crate) fn hand_off(
        self: &Arc<Self>,
        target: Target,
        queued: Queued,
        flush: Flush,
        count_none: bool,
    ) -> usize {
        let (ws, ajax) = self.registry.count(&target);
        if ws + ajax == 0 {
            if count_none {
                Counters::inc(&self.counters.pushes_undeliverable);
                tracing::debug!(?target, "chsk: push has no recipient");
            }
            return 0;
        }
        match (ws > 0, ajax > 0) {
            (true, true) => {
                self.ws_batcher
                    .push(self, target.clone(), queued.clone(), flush);
                self.ajax_batcher.push(self, target, queued, flush);
            }
            (true, false) => self.ws_batcher.push(self, target, queued, flush),
            _ => self.ajax_batcher.push(self, target, queued, flush),
        }
        ws + ajax
    }

    /// Opens a connection: runs the app's handshake-data hook, registers the connection, reads
    /// its streams after the positions it presented (`since`) and queues what it missed before
    /// anything else (all of it, or nothing: see the module `recovery`); returns its
    /// `Handshake` frame (`first` only when the client asked for a handshake, which a
    /// WebSocket always does). The one open sequence of both transports.
    pub(crate) async fn open(
        self: &Arc<Self>,
        conn: &Arc<Conn>,
        asked: bool,
        since: &[Position],
    ) -> Result<Frame, Rejection> {
        // The app's hook runs before the connection is registered.
        let data = self.config.handshake_data.as_ref().and_then(|f| {
            f(
                &conn.info.request,
                conn.info.uid.as_deref(),
                self.config.codec,
            )
            .map_err(|e| tracing::error!(error = %e, "chsk: could not encode handshake data"))
            .ok()
            .flatten()
        });
        let first = self.register(conn).inspect_err(|_| {
            Counters::inc(&self.counters.rejected_requests);
        })?;
        self.upkeep();
        // Registered first: a push made from now on is queued for this connection (behind the
        // replay), and one made before is in the history that is read next.
        let (recovered, positions) = match &self.recovery {
            None => (false, Vec::new()),
            Some(recovery) => match recovery.recover(&conn.info, since).await {
                Ok(outcome) => {
                    self.replay(conn, &outcome);
                    (outcome.recovered, outcome.positions)
                }
                Err(e) => {
                    Counters::inc(&self.counters.rejected_requests);
                    tracing::error!(error = %e, "chsk: push history unavailable; handshake refused");
                    self.drop_conn(conn);
                    return Err(Rejection::new(
                        http::StatusCode::SERVICE_UNAVAILABLE,
                        "history unavailable",
                    ));
                }
            },
        };
        Ok(Frame::Handshake(Handshake {
            version: VERSION,
            uid: conn.info.uid.clone(),
            client_id: conn.info.client_id.clone(),
            data,
            first: first && asked,
            recovered,
            positions,
        }))
    }

    /// Starts the history's upkeep (once, when a runtime is there): every quarter of
    /// `stream_ttl`, the streams of every open connection are marked as used (a quiet stream
    /// with readers is kept) and expired events and forgotten streams are dropped. The task
    /// ends with the server.
    fn upkeep(self: &Arc<Self>) {
        let Some(recovery) = &self.recovery else {
            return;
        };
        let options = recovery.options();
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self
            .maintenance
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let every = (options.stream_ttl / 4).max(Duration::from_millis(10));
        let weak = Arc::downgrade(self);
        rt.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else { return };
                if let Some(recovery) = &inner.recovery {
                    let conns = inner.registry.all();
                    if let Err(e) = recovery.touch(conns.iter().map(|c| &*c.info)).await {
                        tracing::warn!(error = %e, "chsk: could not mark the streams of open connections as used");
                    }
                    recovery.sweep();
                }
            }
        });
    }

    /// Queues a recovery's replay before the live pushes, and counts the outcome.
    fn replay(&self, conn: &Conn, outcome: &Outcome) {
        if outcome.presented {
            if outcome.recovered {
                Counters::inc(&self.counters.recoveries);
            } else {
                Counters::inc(&self.counters.recoveries_failed);
                tracing::debug!(conn = %conn.id(), "chsk: positions not recovered");
            }
        }
        if outcome.replay.is_empty() {
            return;
        }
        let runs: Vec<(Option<Position>, &[Bytes])> = outcome
            .replay
            .iter()
            .map(|(at, events)| (Some(*at), events.as_slice()))
            .collect();
        let ajax = conn.transport() == Transport::Ajax;
        let max = self.config.limits.max_send_frame_bytes;
        let items = raw::frames(self.config.codec, &runs, max)
            .into_iter()
            .map(|(bytes, parts)| Outgoing {
                bytes,
                pushes: raw::count(&parts),
                runs: ajax.then(|| parts.iter().map(OwnedRun::from).collect()),
                ticket: None,
            })
            .collect();
        Counters::add(&self.counters.pushes_replayed, outcome.replayed() as u64);
        conn.enqueue_front(items);
    }

    /// Registers a new connection, closing the one it replaces; updates presence.
    fn register(self: &Arc<Self>, conn: &Arc<Conn>) -> Result<bool, Rejection> {
        let remember = self
            .config
            .timings
            .ws_grace
            .max(self.config.timings.ajax_grace);
        let inserted = self
            .registry
            .insert(conn.clone(), &self.config.limits, remember)
            .map_err(|e| match e {
                TooMany::Conns => Rejection::too_many_conns(),
                TooMany::AjaxClients => {
                    Counters::inc(&self.counters.ajax_clients_refused);
                    tracing::warn!(
                        max = self.config.limits.max_ajax_clients,
                        "chsk: Ajax client states at their limit; handshake refused"
                    );
                    Rejection::new(http::StatusCode::SERVICE_UNAVAILABLE, "too many clients")
                }
            })?;
        match conn.transport() {
            Transport::Ws => Counters::inc(&self.counters.ws_opened),
            _ => {
                Counters::inc(&self.counters.ajax_opened);
                Counters::inc(&self.counters.ajax_clients);
            }
        }
        // Open first: a client moving from Ajax to WebSocket (same client id) is no close.
        if let Some(uid) = &conn.info.uid {
            if self.presence.opened(uid, conn.transport()) {
                self.config
                    .adapter
                    .presence_changed(uid, conn.transport(), true);
            }
        }
        if let Some(old) = inserted.replaced {
            old.request_close("replaced by a newer connection", 1000, Cause::Replaced);
            self.unregistered(&old);
        }
        Ok(inserted.first)
    }

    /// Removes a connection from the registry (if still there) and updates presence.
    pub(crate) fn drop_conn(self: &Arc<Self>, conn: &Arc<Conn>) {
        if self.registry.remove(conn) {
            self.unregistered(conn);
        }
    }

    /// Presence and counters after a connection left the registry.
    fn unregistered(self: &Arc<Self>, conn: &Arc<Conn>) {
        let transport = conn.transport();
        match transport {
            Transport::Ws => Counters::inc(&self.counters.ws_closed),
            _ => {
                Counters::inc(&self.counters.ajax_closed);
                Counters::sub(&self.counters.ajax_clients, 1);
                // Nothing polls it any more: refuse new pushes and count the queued ones.
                conn.request_close("closed", 1000, Cause::Closed);
                if let Some(ajax) = &conn.ajax {
                    if let Ok(mut rx) = ajax.rx.try_lock() {
                        rx.close(Cause::Closed);
                    }
                }
            }
        }
        let Some(uid) = conn.info.uid.clone() else {
            return;
        };
        self.presence.closed(&uid, transport);
        // Ajax states already waited their grace period before being dropped.
        let grace = match transport {
            Transport::Ws => self.config.timings.ws_grace,
            _ => Duration::ZERO,
        };
        if grace.is_zero() {
            let live = self.registry.uid_has(&uid, transport);
            self.settle(&uid, transport, grace, live);
            return;
        }
        let weak = Arc::downgrade(self);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                tokio::time::sleep(grace).await;
                if let Some(inner) = weak.upgrade() {
                    let live = inner.registry.uid_has(&uid, transport);
                    inner.settle(&uid, transport, grace, live);
                }
            });
        }
    }

    /// Settles a close after its grace period; the adapter hears when the user left this
    /// process.
    fn settle(&self, uid: &str, transport: Transport, grace: Duration, live: bool) {
        if self.presence.settle(uid, transport, grace, live) {
            self.config.adapter.presence_changed(uid, transport, false);
        }
    }
}
