//! The runtime-neutral driver loop: moves bytes between a [`ClientIo`] and the
//! [`ClientCore`](super::core::ClientCore), and delivers replies, pushes and state changes to
//! the [`Client`](super::Client) handles (through [`Shared`]).

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use futures::{
    channel::mpsc::UnboundedReceiver, pin_mut, select_biased, stream::FuturesUnordered, FutureExt,
    Stream, StreamExt,
};

use super::{
    core::{AttemptId, Output, PollError},
    credentials::{Credentials, CredentialsProvider},
    io::{
        ClientIo, HttpAnswer, HttpError, HttpMethod, HttpRequest, TransportClosed, WsConnection,
        WsEvent, WsOpenError,
    },
    shared::{lock, Shared},
};
use crate::{protocol::ReplyId, transport::Transport};

/// An HTTP future tagged with its attempt and request id.
struct Tagged<F> {
    attempt: AttemptId,
    reply_id: Option<ReplyId>,
    fut: Pin<Box<F>>,
}

impl<F: Future> Future for Tagged<F> {
    type Output = (AttemptId, Option<ReplyId>, F::Output);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.fut
            .as_mut()
            .poll(cx)
            .map(|out| (this.attempt, this.reply_id, out))
    }
}

/// Something in flight for one attempt.
type Slot<T> = Option<(AttemptId, T)>;

/// What is in flight for the current attempt (Ajax `POST`s apart: the core ignores their
/// answers about an older attempt).
struct InFlight<Io: ClientIo, C: CredentialsProvider> {
    asking: Slot<Pin<Box<C::Future>>>,
    connecting: Slot<Pin<Box<Io::Connect>>>,
    probe: Slot<Pin<Box<Io::Http>>>,
    ws: Slot<WsConnection>,
    poll: Slot<Pin<Box<Io::Http>>>,
    /// The Ajax `POST` URL of an Ajax attempt.
    ajax: Slot<String>,
}

impl<Io: ClientIo, C: CredentialsProvider> InFlight<Io, C> {
    fn new() -> Self {
        Self {
            asking: None,
            connecting: None,
            probe: None,
            ws: None,
            poll: None,
            ajax: None,
        }
    }

    /// Drops everything that belongs to `attempt` (a WebSocket closes when dropped, a `fetch`
    /// is aborted).
    fn forget(&mut self, attempt: AttemptId) {
        fn clear<T>(slot: &mut Slot<T>, attempt: AttemptId) {
            if slot.as_ref().is_some_and(|(id, _)| *id == attempt) {
                *slot = None;
            }
        }
        clear(&mut self.asking, attempt);
        clear(&mut self.connecting, attempt);
        clear(&mut self.probe, attempt);
        clear(&mut self.ws, attempt);
        clear(&mut self.poll, attempt);
        clear(&mut self.ajax, attempt);
    }
}

enum Wakeup {
    Handle(Option<()>),
    Credentials(Option<Credentials>),
    WsOpened(Result<WsConnection, WsOpenError>),
    Probed(Result<HttpAnswer, HttpError>),
    Ws(Option<WsEvent>),
    Polled(Result<HttpAnswer, HttpError>),
    Posted(AttemptId, Option<ReplyId>, Result<HttpAnswer, HttpError>),
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
    wake: UnboundedReceiver<()>,
) {
    let mut driver = Driver::new(shared, io, provider, wake);
    lock(&driver.shared).core.start(driver.io.now());
    loop {
        let now = driver.io.now();
        let (outputs, deadline, csrf) = {
            let mut g = lock(&driver.shared);
            g.core.tick(now);
            let csrf = g.core.credentials().csrf_token.clone();
            (g.drain(), g.core.next_deadline(), csrf)
        };
        for out in outputs {
            driver.act(out, &csrf);
        }
        let wakeup = driver.wait(now, deadline).await;
        if !driver.report(wakeup) {
            break;
        }
    }
}

/// The driver's state: the IO, what is in flight, and how to make requests.
struct Driver<Io: ClientIo, C: CredentialsProvider> {
    shared: Arc<Mutex<Shared>>,
    io: Io,
    provider: C,
    /// A message per handle call that has something for the driver; closed when every handle
    /// is gone.
    wake: UnboundedReceiver<()>,
    flight: InFlight<Io, C>,
    posts: FuturesUnordered<Tagged<Io::Http>>,
    binary: bool,
    max_frame_bytes: usize,
    ajax_timeout: Duration,
    content_type: &'static str,
}

impl<Io: ClientIo, C: CredentialsProvider> Driver<Io, C> {
    fn new(shared: Arc<Mutex<Shared>>, io: Io, provider: C, wake: UnboundedReceiver<()>) -> Self {
        let (binary, max_frame_bytes, ajax_timeout, content_type) = {
            let g = lock(&shared);
            let o = g.core.options();
            (
                o.codec.is_binary(),
                o.max_frame_bytes,
                o.ajax_timeout,
                o.codec.content_type(),
            )
        };
        Self {
            shared,
            io,
            provider,
            wake,
            flight: InFlight::new(),
            posts: FuturesUnordered::new(),
            binary,
            max_frame_bytes,
            ajax_timeout,
            content_type,
        }
    }

    /// An Ajax request, with the CSRF token of the current credentials.
    fn request(
        &self,
        method: HttpMethod,
        url: String,
        body: Option<Vec<u8>>,
        csrf: &Option<String>,
    ) -> HttpRequest {
        let mut headers = Vec::new();
        if let Some(token) = csrf {
            headers.push(("x-csrf-token", token.clone()));
        }
        if body.is_some() {
            headers.push(("content-type", self.content_type.to_string()));
        }
        HttpRequest {
            method,
            url,
            headers,
            body,
            timeout: self.ajax_timeout,
        }
    }

    /// An Ajax `GET` (handshake, poll or probe), started.
    fn get(&self, url: String, csrf: &Option<String>) -> Pin<Box<Io::Http>> {
        Box::pin(self.io.http(self.request(HttpMethod::Get, url, None, csrf)))
    }

    /// Does what an IO output of the core asks.
    fn act(&mut self, out: Output, csrf: &Option<String>) {
        match out {
            Output::Credentials { attempt, request } => {
                self.flight = InFlight::new();
                let asking = Box::pin(self.provider.credentials(request));
                self.flight.asking = Some((attempt, asking));
            }
            Output::Connect {
                attempt,
                transport,
                url,
            } => {
                self.flight = InFlight::new();
                // The credentials may have just changed (`on_credentials`).
                let (csrf, ajax_url) = {
                    let g = lock(&self.shared);
                    (g.core.credentials().csrf_token.clone(), g.core.ajax_url())
                };
                if transport == Transport::Ws {
                    let open = self.io.connect_ws(&url, self.binary, self.max_frame_bytes);
                    self.flight.connecting = Some((attempt, Box::pin(open)));
                } else {
                    self.flight.poll = Some((attempt, self.get(url, &csrf)));
                    self.flight.ajax = Some((attempt, ajax_url));
                }
            }
            Output::Probe { attempt, url } => {
                self.flight.probe = Some((attempt, self.get(url, csrf)));
            }
            Output::Poll { attempt, url } => {
                self.flight.poll = Some((attempt, self.get(url, csrf)))
            }
            Output::Send {
                attempt,
                bytes,
                reply_id,
            } => match (&self.flight.ws, &self.flight.ajax) {
                (Some((id, ws)), _) if *id == attempt => {
                    let _ = ws.outgoing.unbounded_send(bytes);
                }
                (_, Some((id, url))) if *id == attempt => {
                    let post = self.request(HttpMethod::Post, url.clone(), Some(bytes), csrf);
                    self.posts.push(Tagged {
                        attempt,
                        reply_id,
                        fut: Box::pin(self.io.http(post)),
                    });
                }
                _ => tracing::debug!(%attempt, "chsk client: send on a stale connection dropped"),
            },
            Output::Close { attempt } => self.flight.forget(attempt),
            _ => {}
        }
    }

    /// Waits for the next thing to report: a handle call, an IO event, or the core's deadline.
    async fn wait(&mut self, now: Duration, deadline: Option<Duration>) -> Wakeup {
        let flight = &mut self.flight;
        let posts = &mut self.posts;
        let handle = self.wake.next().fuse();
        let asked = maybe(flight.asking.as_mut().map(|(_, f)| f)).fuse();
        let opened = maybe(flight.connecting.as_mut().map(|(_, f)| f)).fuse();
        let probed = maybe(flight.probe.as_mut().map(|(_, f)| f)).fuse();
        let ws_event = maybe_next(flight.ws.as_mut().map(|(_, c)| &mut c.incoming)).fuse();
        let polled = maybe(flight.poll.as_mut().map(|(_, f)| f)).fuse();
        let posted = async {
            if posts.is_empty() {
                std::future::pending().await
            } else {
                posts.next().await
            }
        }
        .fuse();
        let timer = maybe_sleep(&self.io, deadline.map(|d| d.saturating_sub(now))).fuse();
        pin_mut!(handle, asked, opened, probed, ws_event, polled, posted, timer);
        select_biased! {
            w = handle => Wakeup::Handle(w),
            c = asked => Wakeup::Credentials(c),
            r = opened => Wakeup::WsOpened(r),
            r = probed => Wakeup::Probed(r),
            e = ws_event => Wakeup::Ws(e),
            r = polled => Wakeup::Polled(r),
            p = posted => match p {
                Some((attempt, reply_id, r)) => Wakeup::Posted(attempt, reply_id, r),
                None => Wakeup::Timer,
            },
            () = timer => Wakeup::Timer,
        }
    }

    /// Reports what happened to the core; `false` when every handle is gone.
    fn report(&mut self, wakeup: Wakeup) -> bool {
        let now = self.io.now();
        let flight = &mut self.flight;
        match wakeup {
            Wakeup::Handle(Some(())) => while let Ok(()) = self.wake.try_recv() {},
            Wakeup::Handle(None) => return false,
            Wakeup::Credentials(creds) => {
                if let Some((attempt, _)) = flight.asking.take() {
                    lock(&self.shared).core.on_credentials(attempt, now, creds);
                }
            }
            Wakeup::WsOpened(result) => {
                if let Some((attempt, _)) = flight.connecting.take() {
                    let mut g = lock(&self.shared);
                    match result {
                        Ok(c) => {
                            flight.ws = Some((attempt, c));
                            g.core.on_open(attempt, now);
                        }
                        Err(e) => g.core.on_connect_failed(attempt, now, e),
                    }
                }
            }
            Wakeup::Probed(result) => {
                if let Some((attempt, _)) = flight.probe.take() {
                    lock(&self.shared).core.on_probe(attempt, now, result);
                }
            }
            Wakeup::Ws(event) => {
                if let Some(attempt) = flight.ws.as_ref().map(|(id, _)| *id) {
                    let mut g = lock(&self.shared);
                    match event {
                        Some(WsEvent::Message(bytes)) => g.core.on_message(attempt, now, &bytes),
                        Some(WsEvent::Closed(how)) => {
                            flight.ws = None;
                            g.core.on_closed(attempt, now, how);
                        }
                        None => {
                            flight.ws = None;
                            let lost = TransportClosed::Error("connection lost".into());
                            g.core.on_closed(attempt, now, lost);
                        }
                    }
                }
            }
            Wakeup::Polled(result) => {
                if let Some((attempt, _)) = flight.poll.take() {
                    let result = match &result {
                        Ok(answer) if answer.status == 200 => Ok(answer.body.as_slice()),
                        Ok(answer) => Err(PollError::Refused(answer.refusal())),
                        Err(HttpError::Timeout) => Err(PollError::Timeout),
                        Err(HttpError::Failed(e)) => Err(PollError::Failed(e.clone())),
                    };
                    lock(&self.shared).core.on_poll(attempt, now, result);
                }
            }
            Wakeup::Posted(attempt, reply_id, result) => {
                lock(&self.shared)
                    .core
                    .on_posted(attempt, now, reply_id, result);
            }
            Wakeup::Timer => {}
        }
        true
    }
}
