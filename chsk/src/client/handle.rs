//! The typed, runtime-neutral client handle.

use std::{
    fmt,
    future::Future,
    marker::PhantomData,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{
    channel::{
        mpsc::{self, UnboundedSender},
        oneshot,
    },
    StreamExt,
};

#[cfg(doc)]
use super::streams::RecvError;
use super::{
    core::ClientCore,
    credentials::{CredentialsProvider, NoProvider},
    driver::drive,
    io::ClientIo,
    options::ClientOptions,
    shared::{lock, Shared},
    state::{ClientMetrics, ClientState},
    streams::{Pushes, ServerErrors, StateChanges},
};
use crate::{
    codec::Codec,
    error::CbError,
    event::{Event, Request},
    protocol::Position,
};

type Clock = Arc<dyn Fn() -> Duration + Send + Sync>;

struct Inner {
    shared: Arc<Mutex<Shared>>,
    wake: UnboundedSender<()>,
    clock: Clock,
    codec: Codec,
}

/// A chsk client: sends events `E` (and requests, typed by [`Request`]) and receives pushes `P`.
///
/// Cheap to clone (all clones share one connection); the connection ends when the last clone
/// is dropped. The native client is created with `Client::connect` (feature `client-native`),
/// the browser client with `chsk_web::connect`; a runtime of your own starts one with
/// [`Client::with_io`] (see the [`runtime`](super::runtime) module).
///
/// ```no_run
/// # #[cfg(feature = "client-native")]
/// # async fn demo<E: chsk::Event, P: chsk::Event + std::fmt::Debug>() -> Result<(), chsk::CbError> {
/// use std::time::Duration;
/// use chsk::client::{Client, ClientOptions};
/// let client = Client::<E, P>::connect("http://127.0.0.1:3000/chsk", ClientOptions::default());
/// client.wait_open(Duration::from_secs(5)).await?;
/// let mut pushes = client.pushes();
/// while let Some(push) = pushes.recv().await {
///     println!("{:?}", push);
/// }
/// # Ok(()) }
/// ```
pub struct Client<E, P> {
    inner: Arc<Inner>,
    _types: PhantomData<fn() -> (E, P)>,
}

impl<E, P> Clone for Client<E, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            _types: PhantomData,
        }
    }
}

impl<E, P> fmt::Debug for Client<E, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = lock(&self.inner.shared);
        f.debug_struct("Client")
            .field("state", g.core.state())
            .finish_non_exhaustive()
    }
}

impl<E: Event, P: Event> Client<E, P> {
    /// Creates a client on any runtime (see the [`runtime`](super::runtime) module): returns
    /// the handle and the driver future, which the caller spawns (tokio `spawn`, wasm
    /// `spawn_local`). The driver connects at once and runs until every handle is dropped.
    ///
    /// `url_base` is the absolute `http(s)://host/path` of the chsk endpoint; the WebSocket URL
    /// is derived from it (`ws(s)://…`).
    pub fn with_io<Io>(
        url_base: &str,
        options: ClientOptions,
        io: Io,
    ) -> (Self, impl Future<Output = ()>)
    where
        Io: ClientIo + Clone + Send + Sync,
    {
        Self::build(url_base, options, io, None::<NoProvider>)
    }

    /// [`with_io`](Self::with_io) with a credentials provider, asked before every connection
    /// attempt (see [`CredentialsProvider`]): the way to recover from a refusal such as
    /// `403 bad CSRF token` without user action.
    pub fn with_io_and_credentials<Io, C>(
        url_base: &str,
        options: ClientOptions,
        io: Io,
        credentials: C,
    ) -> (Self, impl Future<Output = ()>)
    where
        Io: ClientIo + Clone + Send + Sync,
        C: CredentialsProvider,
    {
        Self::build(url_base, options, io, Some(credentials))
    }

    fn build<Io, C>(
        url_base: &str,
        options: ClientOptions,
        io: Io,
        credentials: Option<C>,
    ) -> (Self, impl Future<Output = ()>)
    where
        Io: ClientIo + Clone + Send + Sync,
        C: CredentialsProvider,
    {
        let codec = options.codec;
        let push_capacity = options.push_buffer;
        let mut core = ClientCore::new(url_base, options, io.seed());
        if credentials.is_some() {
            core.use_credentials_provider();
        }
        let shared = Arc::new(Mutex::new(Shared::new(core, push_capacity)));
        let (wake, wake_rx) = mpsc::unbounded();
        let clock_io = io.clone();
        let inner = Arc::new(Inner {
            shared: shared.clone(),
            wake,
            clock: Arc::new(move || clock_io.now()),
            codec,
        });
        let client = Self {
            inner,
            _types: PhantomData,
        };
        let driver = async move {
            match credentials {
                Some(c) => drive(shared, io, c, wake_rx).await,
                None => drive(shared, io, NoProvider, wake_rx).await,
            }
        };
        (client, driver)
    }

    /// Sends an event that wants no reply.
    ///
    /// While the client is not open (before the first handshake, or reconnecting) the event
    /// waits in the send buffer ([`ClientOptions::send_buffer`], default 256) and is sent after
    /// the next handshake, in order. Fails with [`CbError::Closed`] when the buffer is full or
    /// disabled, or when the client is stopped ([`ClientState::stopped`]); with
    /// [`CbError::Encode`] when the event cannot be encoded.
    ///
    /// **At most once**: an event is handed to one connection, once, and never sent again.
    /// When that connection dies, the event may or may not have reached the server (its
    /// handler may or may not have run); it is not resent after the reconnect. See
    /// ["Sends: at most once"](super#sends-at-most-once).
    pub fn send(&self, event: impl Into<E>) -> Result<(), CbError> {
        let frame = event
            .into()
            .to_frame(self.inner.codec)
            .map_err(CbError::Encode)?;
        lock(&self.inner.shared).core.send(frame)?;
        self.wake();
        Ok(())
    }

    /// Sends a request and waits for its typed reply, at most `timeout`.
    ///
    /// Exactly one outcome: the reply; [`CbError::Timeout`]; [`CbError::Closed`] when it cannot
    /// be sent (stopped, or not open with a full or disabled send buffer) or when the
    /// connection closes first; the server's error reply, typed ([`CbError::Handler`],
    /// [`CbError::UnknownEvent`], [`CbError::BadPayload`], [`CbError::Refused`],
    /// [`CbError::Server`]); [`CbError::Encode`] / [`CbError::Decode`] when the request cannot
    /// be encoded or the reply does not decode. A reply after the timeout is ignored. Before
    /// the first handshake the request waits in the send buffer, like [`send`](Self::send).
    ///
    /// **At most once**: the server's handler runs at most once per call. The request is
    /// handed to one connection, once, and never sent again: when that connection dies before
    /// the reply, the call fails with [`CbError::Closed`] and the handler **may or may not
    /// have run** (the request may have reached the server, or the reply may have been lost on
    /// the way back). Retrying is the app's decision: make the operation idempotent (e.g. an
    /// id of the app's in the request) before retrying a call that changes something. See
    /// ["Sends: at most once"](super#sends-at-most-once).
    pub async fn send_with_reply<R>(
        &self,
        request: R,
        timeout: Duration,
    ) -> Result<R::Reply, CbError>
    where
        R: Request<Event = E>,
    {
        let event: E = request.into();
        let frame = event.to_frame(self.inner.codec).map_err(CbError::Encode)?;
        let (tx, rx) = oneshot::channel();
        {
            let now = (self.inner.clock)();
            let mut g = lock(&self.inner.shared);
            let reply_id = g.core.request(now, frame, timeout)?;
            g.replies.insert(reply_id, tx);
        }
        self.wake();
        match rx.await {
            Ok(Ok(payload)) => self
                .inner
                .codec
                .decode_payload(&payload)
                .map_err(CbError::Decode),
            Ok(Err(e)) => Err(e),
            Err(oneshot::Canceled) => Err(CbError::Closed),
        }
    }

    /// The pushes from the server, typed, each at most once and in order.
    ///
    /// The first call gets the pushes since the client was created: until that call they are
    /// kept for it, up to [`ClientOptions::push_buffer`] events (default 1024); later ones are
    /// dropped and counted in [`ClientMetrics::pushes_dropped`], so call it early. Each later
    /// call gets a new stream of the pushes from then on.
    ///
    /// Besides pushes, the stream yields a [`RecvError`] and goes on:
    ///
    /// - [`RecvError::NotRecovered`]: the client reconnected and the server could not replay
    ///   the pushes missed meanwhile. What the app built from pushes is stale: reload it. It
    ///   comes after the pushes of before the cut and before those that follow. After a
    ///   reconnect that recovered, the missed pushes simply come, in order, once.
    /// - [`RecvError::Decode`]: a push did not decode as `P` (also logged).
    ///
    /// A stream is unbounded (the server bounds what it sends per connection): drop it to stop
    /// collecting.
    ///
    /// ```no_run
    /// # async fn f<E: chsk::Event, P: chsk::Event + std::fmt::Debug>(
    /// #     client: chsk::client::Client<E, P>,
    /// # ) {
    /// use chsk::client::RecvError;
    /// let mut pushes = client.pushes();
    /// while let Some(item) = pushes.recv().await {
    ///     match item {
    ///         Ok(push) => println!("push: {push:?}"),
    ///         Err(RecvError::NotRecovered) => println!("pushes were lost: reload the state"),
    ///         Err(e) => eprintln!("{e}"),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn pushes(&self) -> Pushes<P> {
        let (tx, rx) = mpsc::unbounded();
        let mut g = lock(&self.inner.shared);
        if let Some(first) = g.first_pushes.take() {
            for item in first.items {
                let _ = tx.unbounded_send(item);
            }
        }
        g.push_subs.push(tx);
        drop(g);
        Pushes::new(rx, self.inner.codec)
    }
}

impl<E, P> Client<E, P> {
    fn wake(&self) {
        let _ = self.inner.wake.unbounded_send(());
    }

    /// A snapshot of the state.
    pub fn state(&self) -> ClientState {
        lock(&self.inner.shared).core.state().clone()
    }

    /// Where the client is in each stream it reads: the position of the last push delivered
    /// (or the one the last handshake said the pushes continue from). The next reconnect
    /// presents them to the server, which replays what follows them
    /// ([`Recovery`](super::Recovery)). Empty before the first positioned push, or when the
    /// server keeps no history.
    pub fn positions(&self) -> Vec<Position> {
        lock(&self.inner.shared).core.positions()
    }

    /// The client's clock (the time base of [`ClientState::next_reconnect`] and
    /// [`LastClose::at`](super::LastClose::at)).
    pub fn now(&self) -> Duration {
        (self.inner.clock)()
    }

    /// The errors the server reports from now on about what this client sent (a WebSocket
    /// `Error` frame: malformed frame, unknown event id, bad payload; a `4xx`/`5xx` answer to
    /// an Ajax `POST`). They do not close the connection. Also counted in
    /// [`metrics`](Self::metrics).
    ///
    /// ```no_run
    /// # async fn f<E: chsk::Event, P: chsk::Event>(client: chsk::client::Client<E, P>) {
    /// let mut errors = client.server_errors();
    /// while let Some(e) = errors.recv().await {
    ///     eprintln!("the server says: {e}");
    /// }
    /// # }
    /// ```
    pub fn server_errors(&self) -> ServerErrors {
        let (tx, rx) = mpsc::unbounded();
        lock(&self.inner.shared).error_subs.push(tx);
        ServerErrors::new(rx)
    }

    /// The client's counters: connection attempts, pushes dropped before the first
    /// [`pushes`](Self::pushes) call, buffered sends dropped, server errors, and recovery
    /// (duplicate pushes dropped, gaps, recovered and not recovered handshakes).
    ///
    /// ```no_run
    /// # fn f<E, P>(client: chsk::client::Client<E, P>) {
    /// let m = client.metrics();
    /// assert_eq!(m.pushes_dropped, 0, "no push was lost");
    /// # }
    /// ```
    pub fn metrics(&self) -> ClientMetrics {
        let g = lock(&self.inner.shared);
        ClientMetrics {
            pushes_dropped: g.pushes_dropped,
            ..g.core.metrics().clone()
        }
    }

    /// Every state change from now on (Sente's `:chsk/state` events). A change that happened
    /// just before the call may still be delivered; [`state`](Self::state) is always current.
    pub fn state_changes(&self) -> StateChanges {
        let (tx, rx) = mpsc::unbounded();
        lock(&self.inner.shared).state_subs.push(tx);
        StateChanges::new(rx)
    }

    /// Waits until the client is open (a handshake arrived). Fails with [`CbError::Closed`]
    /// when the client is stopped ([`ClientState::stopped`]: a requested
    /// [`disconnect`](Self::disconnect), or a refusal it gave up on; the state tells which).
    /// No timeout: see `wait_open` (native, and `chsk_web::ClientExt` in the browser), or race
    /// it with a timer.
    pub async fn opened(&self) -> Result<(), CbError> {
        // Subscribed first, then judged by the current state: no change can slip in between.
        let mut changes = self.state_changes();
        loop {
            let st = self.state();
            if st.open {
                return Ok(());
            }
            if st.stopped || changes.next().await.is_none() {
                return Err(CbError::Closed);
            }
        }
    }

    /// Closes the connection and stops reconnecting (Sente's `chsk-disconnect!`). Pending
    /// requests fail with [`CbError::Closed`]. [`reconnect`](Self::reconnect) resumes.
    pub fn disconnect(&self) {
        let now = self.now();
        lock(&self.inner.shared).core.disconnect(now);
        self.wake();
    }

    /// Closes the connection and connects again at once (Sente's `chsk-reconnect!`), e.g. after
    /// a login so the server sees the new session. `Auto` mode tries WebSocket again.
    pub fn reconnect(&self) {
        let now = self.now();
        lock(&self.inner.shared).core.reconnect(now);
        self.wake();
    }
}
