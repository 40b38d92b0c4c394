//! The [`Server`] handle: push, presence, metrics and in-process calls.

use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use super::{
    conn::{ConnIds, ConnInfo},
    metrics::{Counters, Metrics},
    options::{Limits, Timings},
    presence::{ConnectedUids, Presence, PresenceEvent},
    push::{Batcher, Flush, PushError, PushOptions, Target},
    recovery::Recovery,
    registry::Registry,
    request::HandshakeRequest,
    security::Rejection,
    shared::{Config, HandlerResult, Inner, LocalNode, NodeHandle, Server},
};
use crate::{
    codec::{Codec, Payload},
    error::CbError,
    event::{Event, Request},
    protocol::{EventFrame, ReplyError, ReplyErrorKind},
    transport::Transport,
};

/// A request that passed every check and may open a WebSocket (see [`Server::accept`]).
#[derive(Debug)]
pub struct Accepted {
    pub(crate) request: Arc<HandshakeRequest>,
    pub(crate) client_id: String,
    pub(crate) uid: Option<String>,
    /// The stream positions the client presented.
    pub(crate) since: Vec<crate::protocol::Position>,
}

impl Accepted {
    /// The user id the server assigned.
    pub fn uid(&self) -> Option<&str> {
        self.uid.as_deref()
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

impl Server {
    pub(crate) fn from_config(config: Config) -> Self {
        let ws_batcher = Batcher::new(Transport::Ws, config.timings.send_buf_ws);
        let ajax_batcher = Batcher::new(Transport::Ajax, config.timings.send_buf_ajax);
        // An adapter's shared store replaces the in-memory history (not `without_history`).
        let recovery = config
            .history
            .map(|options| match config.adapter.history() {
                Some(store) => Recovery::store(store),
                None => Recovery::new(options),
            });
        let server = Server {
            inner: Arc::new(Inner {
                config,
                registry: Registry::default(),
                presence: Presence::default(),
                counters: Arc::default(),
                conn_ids: ConnIds::default(),
                ws_batcher,
                ajax_batcher,
                recovery,
                maintenance: Default::default(),
            }),
        };
        server.inner.config.adapter.attach(NodeHandle {
            inner: Arc::downgrade(&server.inner),
        });
        server
    }

    /// The codec of every connection.
    pub fn codec(&self) -> Codec {
        self.inner.config.codec
    }

    /// The timings.
    pub fn timings(&self) -> &Timings {
        &self.inner.config.timings
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.config.limits
    }

    /// Runs the checks of PROTOCOL.md section 1 (client id, codec, reject hook, CSRF, origin,
    /// authorization, connections per user) on a request that wants to open a connection.
    pub fn accept(&self, request: HandshakeRequest) -> Result<Accepted, Rejection> {
        let (client_id, uid) = self.inner.check(&request)?;
        if !self.inner.registry.has_room(
            uid.as_deref(),
            &client_id,
            self.inner.config.limits.max_conns_per_user,
        ) {
            Counters::inc(&self.inner.counters.rejected_requests);
            return Err(Rejection::too_many_conns());
        }
        Ok(Accepted {
            since: request.since(),
            request: Arc::new(self.inner.detach(request)),
            client_id,
            uid,
        })
    }

    /// Pushes `event` to every client of user `uid` (coalesced with other pushes only while a
    /// write is in flight: see the [module's Delivery section](super#delivery)); returns how
    /// many connections it will reach.
    ///
    /// `Ok(n)`: `n` connections matched the target when the push was made, and the event is
    /// in their batch; `Ok(0)` when the user has none (counted in
    /// [`Metrics::pushes_undeliverable`]): not an error. That is a promise of accounting, not
    /// of delivery: every one of the event's deliveries (one per connection the batch reaches
    /// when it is flushed) ends up in exactly one of [`Metrics::pushes_written`] or the
    /// `pushes_dropped_*` counters (slow consumer, closed, replaced, ping timeout, write
    /// timeout, encode failure), and a batch that finds no connection at its flush is counted in
    /// `pushes_undeliverable`.
    ///
    /// # Errors
    ///
    /// A [`PushError`] is a bug to fix, not a delivery outcome (see [`push`](Self::push)):
    /// propagate it with `?` or log it.
    ///
    /// ```no_run
    /// # fn f<P: chsk::Event>(server: chsk::Server, ev: P) -> Result<(), chsk::server::PushError> {
    /// let n = server.send_to_user("alice", ev)?;
    /// println!("queued for {n} connections"); // 0 when alice is offline
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_to_user(&self, uid: &str, event: impl Event) -> Result<usize, PushError> {
        self.push(Target::User(uid.to_owned()), event, Flush::Batched)
    }

    /// Pushes `event` to one client id (batched); `Ok(0)` when it is not connected. Errors as
    /// [`push`](Self::push).
    pub fn send_to_client(&self, client_id: &str, event: impl Event) -> Result<usize, PushError> {
        self.push(Target::Client(client_id.to_owned()), event, Flush::Batched)
    }

    /// Pushes `event` to every connected client, anonymous ones included (batched); `Ok(0)`
    /// when there is none. Errors as [`push`](Self::push).
    pub fn send_to_all(&self, event: impl Event) -> Result<usize, PushError> {
        self.push(Target::All, event, Flush::Batched)
    }

    /// Pushes `event` to `target`, batched or flushed at once (a [`Flush`], or
    /// [`PushOptions`] for a volatile push); returns how many connections it will reach (`0`
    /// when none matches: not an error).
    ///
    /// Unless it is volatile, the push is first appended to the history of its stream (see
    /// [`ServerBuilder::history`](super::ServerBuilder::history)) and carries its stream
    /// position, so a client that reconnects gets it even when no connection was open.
    ///
    /// # Errors
    ///
    /// Each error means the event can never be delivered as it is, so the app must not ignore
    /// it: [`PushError::TooLarge`] when the event alone exceeds
    /// [`Limits::max_send_frame_bytes`], [`PushError::Encode`] when it cannot be encoded,
    /// [`PushError::ServerDropped`] from an adapter whose server is gone.
    pub fn push(
        &self,
        target: Target,
        event: impl Event,
        options: impl Into<PushOptions>,
    ) -> Result<usize, PushError> {
        let mut options = options.into();
        options.volatile |= event.is_volatile();
        let frame = event.to_frame(self.inner.config.codec)?;
        let size = super::push::estimate(self.inner.config.codec, &frame);
        let max = self.inner.config.limits.max_send_frame_bytes;
        if size > max {
            Counters::inc(&self.inner.counters.pushes_too_large);
            tracing::debug!(event = %frame.id, size, max, "chsk: push larger than a frame may be");
            return Err(PushError::TooLarge {
                id: frame.id.into_owned(),
                size,
                max,
            });
        }
        if options.local {
            options.volatile = true;
            return self.inner.deliver_local(target, frame, options);
        }
        self.inner
            .config
            .adapter
            .push(LocalNode { inner: &self.inner }, target, frame, options)
    }

    /// Sends every batched push now.
    pub fn flush(&self) {
        self.inner.ws_batcher.flush_all(&self.inner);
        self.inner.ajax_batcher.flush_all(&self.inner);
    }

    /// The connected users (Sente's `connected-uids`).
    pub fn connected_uids(&self) -> ConnectedUids {
        self.inner
            .config
            .adapter
            .connected_uids(LocalNode { inner: &self.inner })
    }

    /// A watchable view of [`connected_uids`](Self::connected_uids) (this process).
    pub fn watch_connected_uids(&self) -> watch::Receiver<ConnectedUids> {
        self.inner.presence.watch()
    }

    /// User-port open/close events (after grace periods). A receiver that falls more than 1024
    /// events behind gets `RecvError::Lagged`.
    pub fn presence_events(&self) -> broadcast::Receiver<PresenceEvent> {
        self.inner.presence.subscribe()
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> Metrics {
        let mut m = self.inner.counters.snapshot();
        if let Some(recovery) = &self.inner.recovery {
            let stats = recovery.stats();
            m.history_streams = stats.streams as u64;
            m.history_events = stats.events as u64;
            m.history_bytes = stats.bytes as u64;
        }
        m
    }

    /// Closes every connection with `Close { reason }` (WebSocket code 1001).
    pub fn close_all(&self, reason: &str) {
        self.close(&Target::All, reason);
    }

    /// Closes the connections `target` reaches with `Close { reason }` (WebSocket code 1001;
    /// a waiting Ajax poll gets the `Close` frame); returns how many. Sente's
    /// `(send-fn uid [:chsk/close])`.
    pub fn close(&self, target: &Target, reason: &str) -> usize {
        let mut n = 0;
        for transport in [Transport::Ws, Transport::Ajax] {
            for conn in self.inner.registry.targets(target, transport) {
                n += 1;
                conn.request_close(reason, 1001, super::metrics::Cause::Closed);
                if transport == Transport::Ajax {
                    self.inner.drop_conn(&conn);
                }
            }
        }
        n
    }

    /// Calls the handler of `request` in-process, as user `uid`, through the real path:
    /// encode → dispatch → decode. For tests and docs.
    ///
    /// It fails as a client's request would: [`CbError::Handler`] when the handler panics,
    /// [`CbError::UnknownEvent`] when the server has no handler for it (or `R` is not of this
    /// server's event enum), [`CbError::BadPayload`], [`CbError::Server`] when the reply
    /// cannot be encoded, [`CbError::Encode`] / [`CbError::Decode`] on this side.
    ///
    /// ```no_run
    /// # async fn f<R: chsk::Request>(server: chsk::Server, req: R) {
    /// match server.call_local(Some("alice"), req).await {
    ///     Ok(_reply) => {}
    ///     Err(chsk::CbError::Handler { message }) => eprintln!("the handler failed: {message}"),
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// # }
    /// ```
    pub async fn call_local<R: Request>(
        &self,
        uid: Option<&str>,
        request: R,
    ) -> Result<R::Reply, CbError> {
        let codec = self.inner.config.codec;
        let event: R::Event = request.into();
        if std::any::TypeId::of::<R::Event>() != self.inner.config.dispatch.event_type() {
            return Err(CbError::UnknownEvent {
                message: format!(
                    "`{}` is not this server's event enum (`{}`)",
                    R::Event::NAME,
                    self.inner.config.dispatch.event_name()
                ),
            });
        }
        let frame = event.to_frame(codec).map_err(CbError::Encode)?;
        let (parts, ()) = http::Request::new(()).into_parts();
        let info = Arc::new(ConnInfo {
            uid: uid.map(str::to_owned),
            client_id: "local".to_owned(),
            conn_id: self.inner.conn_ids.next(),
            transport: Transport::Local,
            request: Arc::new(HandshakeRequest::new(parts)),
        });
        let payload = self.run(info, &frame).await?;
        codec.decode_payload(&payload).map_err(CbError::Decode)
    }

    /// Dispatches one event and awaits its handler; failures are counted and logged.
    pub(crate) async fn run(
        &self,
        info: Arc<ConnInfo>,
        frame: &EventFrame,
    ) -> Result<Payload, ReplyError> {
        let fut = self.start(info, frame)?;
        self.finish(fut.await)
    }

    /// Decodes and starts a handler (counting a bad event).
    pub(crate) fn start(
        &self,
        info: Arc<ConnInfo>,
        frame: &EventFrame,
    ) -> Result<super::shared::BoxFuture<HandlerResult>, ReplyError> {
        self.inner
            .config
            .dispatch
            .dispatch(self, info, frame)
            .map_err(|e| {
                Counters::inc(&self.inner.counters.bad_events);
                tracing::debug!(event = %frame.id, error = %e.0.message, "chsk: bad event");
                e.0
            })
    }

    /// Turns a handler's result into a reply result (counting a panic: the one source of
    /// [`ReplyErrorKind::Handler`]).
    pub(crate) fn finish(&self, result: HandlerResult) -> Result<Payload, ReplyError> {
        result.inspect_err(|e| {
            if e.kind == ReplyErrorKind::Handler {
                Counters::inc(&self.inner.counters.handler_panics);
            }
        })
    }
}
