//! The runtime-neutral driver loop: moves bytes between a [`ClientIo`] and the [`ClientCore`],
//! and delivers replies, pushes and state changes to the [`Client`](super::Client) handles.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use futures::{
    channel::{
        mpsc::{UnboundedReceiver, UnboundedSender},
        oneshot,
    },
    pin_mut, select_biased,
    stream::FuturesUnordered,
    FutureExt, Stream, StreamExt,
};

use super::{
    core::{ClientCore, ConnId, Output, PollError},
    credentials::{Credentials, CredentialsProvider},
    io::{
        ClientIo, HttpError, HttpMethod, HttpRequest, HttpResponse, TransportClosed, WsConnection,
        WsEvent, WsOpenError,
    },
    options::Transport,
    state::{ServerError, StateChange},
};
use crate::{codec::Payload, error::CbError, protocol::EventFrame, protocol::ReplyId};

/// What the handles and the driver share.
pub(crate) struct Shared {
    pub(crate) core: ClientCore,
    pub(crate) replies: HashMap<ReplyId, oneshot::Sender<Result<Payload, CbError>>>,
    pub(crate) push_subs: Vec<UnboundedSender<Arc<[EventFrame]>>>,
    /// The pushes kept for the first `pushes()` call, until it is made (bounded).
    pub(crate) first_pushes: Option<FirstPushes>,
    pub(crate) pushes_dropped: u64,
    pub(crate) state_subs: Vec<UnboundedSender<StateChange>>,
    pub(crate) error_subs: Vec<UnboundedSender<ServerError>>,
}

/// The bounded buffer of pushes waiting for the first `pushes()` call.
pub(crate) struct FirstPushes {
    pub(crate) batches: Vec<Arc<[EventFrame]>>,
    pub(crate) events: usize,
    pub(crate) capacity: usize,
}

impl FirstPushes {
    /// Keeps what fits of `batch`; returns how many events were dropped.
    fn keep(&mut self, batch: &Arc<[EventFrame]>) -> usize {
        let room = self.capacity.saturating_sub(self.events);
        if batch.len() <= room {
            self.batches.push(batch.clone());
            self.events += batch.len();
            return 0;
        }
        if room > 0 {
            self.batches.push(batch[..room].into());
            self.events += room;
        }
        batch.len() - room
    }
}

pub(crate) fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Delivers the application outputs at once and returns the IO outputs for the driver.
    fn drain(&mut self) -> Vec<Output> {
        let mut io = Vec::new();
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Reply { reply_id, result } => {
                    if let Some(tx) = self.replies.remove(&reply_id) {
                        let _ = tx.send(result);
                    }
                }
                Output::Push(events) if events.is_empty() => {}
                Output::Push(events) => {
                    let batch: Arc<[EventFrame]> = events.into();
                    if let Some(first) = &mut self.first_pushes {
                        let dropped = first.keep(&batch);
                        if dropped > 0 {
                            if self.pushes_dropped == 0 {
                                tracing::warn!(
                                    capacity = first.capacity,
                                    "chsk client: pushes() not called yet and its buffer is \
                                     full: pushes are dropped (see ClientMetrics::pushes_dropped)"
                                );
                            }
                            self.pushes_dropped += dropped as u64;
                        }
                    }
                    self.push_subs
                        .retain(|tx| tx.unbounded_send(batch.clone()).is_ok());
                }
                Output::State(change) => {
                    self.state_subs
                        .retain(|tx| tx.unbounded_send((*change).clone()).is_ok());
                }
                Output::ServerError(e) => {
                    self.error_subs
                        .retain(|tx| tx.unbounded_send(e.clone()).is_ok());
                }
                other => io.push(other),
            }
        }
        io
    }
}

/// An HTTP future tagged with its connection and request id.
struct Tagged<F> {
    conn: ConnId,
    reply_id: Option<ReplyId>,
    fut: Pin<Box<F>>,
}

impl<F: Future> Future for Tagged<F> {
    type Output = (ConnId, Option<ReplyId>, F::Output);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.fut
            .as_mut()
            .poll(cx)
            .map(|out| (this.conn, this.reply_id, out))
    }
}

enum Wakeup {
    Handle(Option<()>),
    Credentials(Option<Credentials>),
    WsOpened(Result<WsConnection, WsOpenError>),
    Probed(Result<HttpResponse, HttpError>),
    Ws(Option<WsEvent>),
    Polled(Result<HttpResponse, HttpError>),
    Posted(ConnId, Option<ReplyId>, Result<HttpResponse, HttpError>),
    Timer,
}

async fn maybe<F: Future + Unpin>(f: Option<&mut F>) -> F::Output {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

async fn maybe_next<S: Stream + Unpin>(s: Option<&mut S>) -> Option<S::Item> {
    match s {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

async fn maybe_sleep<Io: ClientIo>(io: &Io, after: Option<Duration>) {
    match after {
        Some(d) => io.sleep(d).await,
        None => std::future::pending().await,
    }
}

/// The driver: runs until every [`Client`](super::Client) handle is dropped.
pub(crate) async fn drive<Io: ClientIo, C: CredentialsProvider>(
    shared: Arc<Mutex<Shared>>,
    io: Io,
    provider: C,
    mut wake: UnboundedReceiver<()>,
) {
    let (binary, ajax_timeout, content_type, max_frame_bytes) = {
        let g = lock(&shared);
        let o = g.core.options();
        (
            o.codec.is_binary(),
            o.ajax_timeout,
            o.codec.content_type(),
            o.max_frame_bytes,
        )
    };
    let request = |method, url: String, body: Option<Vec<u8>>, csrf: &Option<String>| {
        let mut headers = Vec::new();
        if let Some(token) = csrf {
            headers.push(("x-csrf-token", token.clone()));
        }
        if body.is_some() {
            headers.push(("content-type", content_type.to_string()));
        }
        HttpRequest {
            method,
            url,
            headers,
            body,
            timeout: ajax_timeout,
        }
    };

    let mut asking: Option<(ConnId, Pin<Box<C::Future>>)> = None;
    let mut connecting: Option<(ConnId, Pin<Box<Io::Connect>>)> = None;
    let mut probe: Option<(ConnId, Pin<Box<Io::Http>>)> = None;
    let mut ws: Option<(ConnId, WsConnection)> = None;
    let mut poll: Option<(ConnId, Pin<Box<Io::Http>>)> = None;
    let mut ajax: Option<(ConnId, String)> = None;
    let mut posts: FuturesUnordered<Tagged<Io::Http>> = FuturesUnordered::new();

    lock(&shared).core.start(io.now());
    loop {
        let now = io.now();
        let (outputs, deadline, csrf) = {
            let mut g = lock(&shared);
            g.core.tick(now);
            let csrf = g.core.credentials().csrf_token.clone();
            (g.drain(), g.core.next_deadline(), csrf)
        };
        for out in outputs {
            match out {
                Output::Credentials { conn, request } => {
                    (connecting, probe, ws, poll, ajax) = (None, None, None, None, None);
                    asking = Some((conn, Box::pin(provider.credentials(request))));
                }
                Output::Connect {
                    conn,
                    transport,
                    url,
                } => {
                    (asking, connecting, probe, ws, poll, ajax) =
                        (None, None, None, None, None, None);
                    // The credentials may have just changed (`on_credentials`).
                    let (csrf, ajax_url) = {
                        let g = lock(&shared);
                        (g.core.credentials().csrf_token.clone(), g.core.ajax_url())
                    };
                    match transport {
                        Transport::Ws => {
                            let open = io.connect_ws(&url, binary, max_frame_bytes);
                            connecting = Some((conn, Box::pin(open)));
                        }
                        Transport::Ajax => {
                            let get = request(HttpMethod::Get, url, None, &csrf);
                            poll = Some((conn, Box::pin(io.http(get))));
                            ajax = Some((conn, ajax_url));
                        }
                    }
                }
                Output::Probe { conn, url } => {
                    let get = request(HttpMethod::Get, url, None, &csrf);
                    probe = Some((conn, Box::pin(io.http(get))));
                }
                Output::Poll { conn, url } => {
                    let get = request(HttpMethod::Get, url, None, &csrf);
                    poll = Some((conn, Box::pin(io.http(get))));
                }
                Output::Send {
                    conn,
                    bytes,
                    reply_id,
                } => match (&ws, &ajax) {
                    (Some((id, ws)), _) if *id == conn => {
                        let _ = ws.outgoing.unbounded_send(bytes);
                    }
                    (_, Some((id, url))) if *id == conn => {
                        let post = request(HttpMethod::Post, url.clone(), Some(bytes), &csrf);
                        posts.push(Tagged {
                            conn,
                            reply_id,
                            fut: Box::pin(io.http(post)),
                        });
                    }
                    _ => tracing::debug!(%conn, "chsk client: send on a stale connection dropped"),
                },
                Output::Close { conn } => {
                    if asking.as_ref().is_some_and(|(id, _)| *id == conn) {
                        asking = None;
                    }
                    if connecting.as_ref().is_some_and(|(id, _)| *id == conn) {
                        connecting = None;
                    }
                    if probe.as_ref().is_some_and(|(id, _)| *id == conn) {
                        probe = None;
                    }
                    if ws.as_ref().is_some_and(|(id, _)| *id == conn) {
                        ws = None;
                    }
                    if poll.as_ref().is_some_and(|(id, _)| *id == conn) {
                        poll = None;
                    }
                    if ajax.as_ref().is_some_and(|(id, _)| *id == conn) {
                        ajax = None;
                    }
                }
                _ => {}
            }
        }

        let wakeup = {
            let handle = wake.next().fuse();
            let asked = maybe(asking.as_mut().map(|(_, f)| f)).fuse();
            let opened = maybe(connecting.as_mut().map(|(_, f)| f)).fuse();
            let probed = maybe(probe.as_mut().map(|(_, f)| f)).fuse();
            let ws_event = maybe_next(ws.as_mut().map(|(_, c)| &mut c.incoming)).fuse();
            let polled = maybe(poll.as_mut().map(|(_, f)| f)).fuse();
            let posted = async {
                if posts.is_empty() {
                    std::future::pending().await
                } else {
                    posts.next().await
                }
            }
            .fuse();
            let timer = maybe_sleep(&io, deadline.map(|d| d.saturating_sub(now))).fuse();
            pin_mut!(handle, asked, opened, probed, ws_event, polled, posted, timer);
            select_biased! {
                w = handle => Wakeup::Handle(w),
                c = asked => Wakeup::Credentials(c),
                r = opened => Wakeup::WsOpened(r),
                r = probed => Wakeup::Probed(r),
                e = ws_event => Wakeup::Ws(e),
                r = polled => Wakeup::Polled(r),
                p = posted => match p {
                    Some((conn, reply_id, r)) => Wakeup::Posted(conn, reply_id, r),
                    None => Wakeup::Timer,
                },
                () = timer => Wakeup::Timer,
            }
        };

        let now = io.now();
        match wakeup {
            Wakeup::Handle(Some(())) => while let Ok(()) = wake.try_recv() {},
            Wakeup::Handle(None) => break,
            Wakeup::Credentials(creds) => {
                let Some((conn, _)) = asking.take() else {
                    continue;
                };
                lock(&shared).core.on_credentials(conn, now, creds);
            }
            Wakeup::WsOpened(result) => {
                let Some((conn, _)) = connecting.take() else {
                    continue;
                };
                let mut g = lock(&shared);
                match result {
                    Ok(c) => {
                        ws = Some((conn, c));
                        g.core.on_open(conn, now);
                    }
                    Err(e) => g.core.on_connect_failed(conn, now, e),
                }
            }
            Wakeup::Probed(result) => {
                let Some((conn, _)) = probe.take() else {
                    continue;
                };
                lock(&shared).core.on_probe(conn, now, result);
            }
            Wakeup::Ws(event) => {
                let Some((conn, _)) = &ws else {
                    continue;
                };
                let conn = *conn;
                let mut g = lock(&shared);
                match event {
                    Some(WsEvent::Message(bytes)) => g.core.on_message(conn, now, &bytes),
                    Some(WsEvent::Closed(how)) => {
                        ws = None;
                        g.core.on_closed(conn, now, how);
                    }
                    None => {
                        ws = None;
                        let lost = TransportClosed::Error("connection lost".into());
                        g.core.on_closed(conn, now, lost);
                    }
                }
            }
            Wakeup::Polled(result) => {
                let Some((conn, _)) = poll.take() else {
                    continue;
                };
                let mut g = lock(&shared);
                match result {
                    Ok(resp) if resp.status == 200 => g.core.on_poll(conn, now, Ok(&resp.body)),
                    Ok(resp) => {
                        let refused = PollError::Refused(resp.refusal());
                        g.core.on_poll(conn, now, Err(refused))
                    }
                    Err(HttpError::Timeout) => g.core.on_poll(conn, now, Err(PollError::Timeout)),
                    Err(HttpError::Failed(e)) => {
                        g.core.on_poll(conn, now, Err(PollError::Failed(e)))
                    }
                }
            }
            Wakeup::Posted(conn, reply_id, result) => {
                lock(&shared).core.on_posted(conn, now, reply_id, result);
            }
            Wakeup::Timer => {}
        }
    }
}
