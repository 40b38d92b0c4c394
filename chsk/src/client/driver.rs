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
    core::{ClientCore, ConnId, Output, PollError, TransportClosed},
    io::{ClientIo, HttpError, HttpMethod, HttpRequest, HttpResponse, WsConnection, WsEvent},
    options::Transport,
    state::StateChange,
};
use crate::{codec::Payload, error::CbError, protocol::EventFrame, protocol::ReplyId};

/// What the handles and the driver share.
pub(crate) struct Shared {
    pub(crate) core: ClientCore,
    pub(crate) replies: HashMap<ReplyId, oneshot::Sender<Result<Payload, CbError>>>,
    pub(crate) push_subs: Vec<UnboundedSender<Arc<[EventFrame]>>>,
    pub(crate) state_subs: Vec<UnboundedSender<StateChange>>,
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
                    self.push_subs
                        .retain(|tx| tx.unbounded_send(batch.clone()).is_ok());
                }
                Output::State(change) => {
                    self.state_subs
                        .retain(|tx| tx.unbounded_send((*change).clone()).is_ok());
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
    WsOpened(Result<WsConnection, String>),
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

fn describe(resp: &HttpResponse) -> String {
    let body = String::from_utf8_lossy(&resp.body);
    format!("HTTP {}: {}", resp.status, body.trim())
}

/// The driver: runs until every [`Client`](super::Client) handle is dropped.
pub(crate) async fn drive<Io: ClientIo>(
    shared: Arc<Mutex<Shared>>,
    io: Io,
    mut wake: UnboundedReceiver<()>,
) {
    let (binary, csrf, ajax_timeout, content_type) = {
        let g = lock(&shared);
        let o = g.core.options();
        (
            o.codec.is_binary(),
            o.csrf_token.clone(),
            o.ajax_timeout,
            o.codec.content_type(),
        )
    };
    let request = |method, url: String, body: Option<Vec<u8>>| {
        let mut headers = Vec::new();
        if let Some(token) = &csrf {
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

    let mut connecting: Option<(ConnId, Pin<Box<Io::Connect>>)> = None;
    let mut ws: Option<(ConnId, WsConnection)> = None;
    let mut poll: Option<(ConnId, Pin<Box<Io::Http>>)> = None;
    let mut ajax: Option<(ConnId, String)> = None;
    let mut posts: FuturesUnordered<Tagged<Io::Http>> = FuturesUnordered::new();

    lock(&shared).core.start(io.now());
    loop {
        let now = io.now();
        let (outputs, deadline) = {
            let mut g = lock(&shared);
            g.core.tick(now);
            (g.drain(), g.core.next_deadline())
        };
        for out in outputs {
            match out {
                Output::Connect {
                    conn,
                    transport,
                    url,
                } => {
                    (connecting, ws, poll, ajax) = (None, None, None, None);
                    match transport {
                        Transport::Ws => {
                            connecting = Some((conn, Box::pin(io.connect_ws(&url, binary))));
                        }
                        Transport::Ajax => {
                            let get = request(HttpMethod::Get, url, None);
                            poll = Some((conn, Box::pin(io.http(get))));
                            ajax = Some((conn, lock(&shared).core.ajax_url()));
                        }
                    }
                }
                Output::Poll { conn, url } => {
                    let get = request(HttpMethod::Get, url, None);
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
                        let post = request(HttpMethod::Post, url.clone(), Some(bytes));
                        posts.push(Tagged {
                            conn,
                            reply_id,
                            fut: Box::pin(io.http(post)),
                        });
                    }
                    _ => tracing::debug!(%conn, "chsk client: send on a stale connection dropped"),
                },
                Output::Close { conn } => {
                    if connecting.as_ref().is_some_and(|(id, _)| *id == conn) {
                        connecting = None;
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
            let opened = maybe(connecting.as_mut().map(|(_, f)| f)).fuse();
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
            pin_mut!(handle, opened, ws_event, polled, posted, timer);
            select_biased! {
                w = handle => Wakeup::Handle(w),
                r = opened => Wakeup::WsOpened(r),
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
                    Err(e) => g.core.on_closed(conn, now, TransportClosed::Error(e)),
                }
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
                        let failed = PollError::Failed(describe(&resp));
                        g.core.on_poll(conn, now, Err(failed))
                    }
                    Err(HttpError::Timeout) => g.core.on_poll(conn, now, Err(PollError::Timeout)),
                    Err(HttpError::Failed(e)) => {
                        g.core.on_poll(conn, now, Err(PollError::Failed(e)))
                    }
                }
            }
            Wakeup::Posted(conn, reply_id, result) => {
                let mut g = lock(&shared);
                match result {
                    Ok(resp) if resp.status == 200 => g.core.on_message(conn, now, &resp.body),
                    Ok(resp) if resp.status == 204 => {}
                    Ok(resp) if resp.status == 504 => {
                        g.core.on_send_failed(conn, reply_id, CbError::Timeout)
                    }
                    Ok(resp) => {
                        let err = CbError::Error(describe(&resp));
                        g.core.on_send_failed(conn, reply_id, err)
                    }
                    Err(HttpError::Timeout) => {
                        g.core.on_send_failed(conn, reply_id, CbError::Timeout)
                    }
                    Err(HttpError::Failed(e)) => {
                        g.core.on_send_failed(conn, reply_id, CbError::Error(e))
                    }
                }
            }
            Wakeup::Timer => {}
        }
    }
}
