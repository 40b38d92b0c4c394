//! The native [`ClientIo`]: tokio timers, tokio-tungstenite WebSockets, reqwest Ajax.

use std::{
    future::Future,
    hash::BuildHasher,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        OnceLock,
    },
    time::{Duration, Instant},
};

use futures::{channel::mpsc, SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{
    self,
    error::CapacityError,
    protocol::{frame::coding::CloseCode, CloseFrame, WebSocketConfig},
    Message,
};

use super::{
    credentials::CredentialsProvider,
    handle::Client,
    io::{
        parse_retry_after, ClientIo, HttpAnswer, HttpError, HttpMethod, HttpRequest,
        TransportClosed, WsConnection, WsEvent, WsOpenError,
    },
    options::{ClientOptions, DEFAULT_WS_READ_BUFFER},
    state::ClientState,
};
use crate::{error::CbError, event::Event};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The native runtime: tokio, tokio-tungstenite and reqwest (HTTP only, no TLS).
///
/// `Client::connect` uses it; it is public for [`Client::with_io`] (e.g. to drive the client
/// from a runtime of your own choosing, or to wrap it).
#[derive(Debug, Clone)]
pub struct NativeIo {
    http: reqwest::Client,
    ws_read_buffer: usize,
}

impl Default for NativeIo {
    fn default() -> Self {
        Self {
            http: reqwest::Client::default(),
            ws_read_buffer: DEFAULT_WS_READ_BUFFER,
        }
    }
}

impl NativeIo {
    /// A new IO with its own HTTP connection pool and an 8 KiB WebSocket read buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The WebSocket read buffer of the sockets it opens, in bytes (see
    /// [`ClientOptions::ws_read_buffer`]; [`Client::connect`] sets it from there).
    ///
    /// ```
    /// let io = chsk::client::runtime::NativeIo::new().ws_read_buffer(16 * 1024);
    /// # let _ = io;
    /// ```
    #[must_use]
    pub fn ws_read_buffer(mut self, bytes: usize) -> Self {
        self.ws_read_buffer = bytes;
        self
    }
}

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

impl ClientIo for NativeIo {
    type Connect = BoxFuture<Result<WsConnection, WsOpenError>>;
    type Http = BoxFuture<Result<HttpAnswer, HttpError>>;
    type Sleep = tokio::time::Sleep;

    fn connect_ws(&self, url: &str, binary: bool, max_message_bytes: usize) -> Self::Connect {
        let url = url.to_string();
        let read_buffer = self.ws_read_buffer;
        Box::pin(async move {
            let config = WebSocketConfig::default()
                .read_buffer_size(read_buffer)
                .max_message_size(Some(max_message_bytes))
                .max_frame_size(Some(max_message_bytes));
            let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
                .await
                .map_err(|e| match e {
                    // The upgrade was answered with a status: the body says why.
                    tungstenite::Error::Http(resp) => WsOpenError::Refused(HttpAnswer {
                        status: resp.status().as_u16(),
                        retry_after: retry_after(resp.headers()),
                        body: resp.into_body().unwrap_or_default(),
                    }),
                    other => WsOpenError::Failed(other.to_string()),
                })?;
            let (out_tx, out_rx) = mpsc::unbounded::<Vec<u8>>();
            let (in_tx, in_rx) = mpsc::unbounded();
            tokio::spawn(pump(socket, binary, out_rx, in_tx));
            Ok(WsConnection {
                outgoing: out_tx,
                incoming: in_rx,
            })
        })
    }

    fn http(&self, request: HttpRequest) -> Self::Http {
        let method = match request.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
        };
        let mut builder = self
            .http
            .request(method, &request.url)
            .timeout(request.timeout);
        for (name, value) in request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        Box::pin(async move {
            let map = |e: reqwest::Error| {
                if e.is_timeout() {
                    HttpError::Timeout
                } else {
                    HttpError::Failed(e.to_string())
                }
            };
            let resp = builder.send().await.map_err(map)?;
            let status = resp.status().as_u16();
            let retry_after = retry_after(resp.headers());
            let body = resp.bytes().await.map_err(map)?.to_vec();
            Ok(HttpAnswer {
                status,
                body,
                retry_after,
            })
        })
    }

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        tokio::time::sleep(duration)
    }

    fn now(&self) -> Duration {
        origin().elapsed()
    }

    fn seed(&self) -> u64 {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        std::collections::hash_map::RandomState::new().hash_one((n, std::time::SystemTime::now()))
    }
}

/// The `Retry-After` header of an answer, when it holds a number of seconds.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

/// Moves frames between the socket and the driver's channels until either side ends.
async fn pump<S>(
    socket: tokio_tungstenite::WebSocketStream<S>,
    binary: bool,
    mut out_rx: mpsc::UnboundedReceiver<Vec<u8>>,
    in_tx: mpsc::UnboundedSender<WsEvent>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = socket.split();
    let closed = |how| {
        let _ = in_tx.unbounded_send(WsEvent::Closed(how));
    };
    loop {
        tokio::select! {
            out = out_rx.next() => match out {
                Some(bytes) => {
                    let msg = if binary {
                        Message::Binary(bytes.into())
                    } else {
                        Message::Text(String::from_utf8_lossy(&bytes).into_owned().into())
                    };
                    if let Err(e) = sink.send(msg).await {
                        closed(TransportClosed::Error(e.to_string()));
                        return;
                    }
                }
                None => {
                    let frame = CloseFrame { code: CloseCode::Normal, reason: "".into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    let _ = sink.close().await;
                    return;
                }
            },
            msg = stream.next() => match msg {
                Some(Ok(Message::Binary(bytes))) => {
                    let _ = in_tx.unbounded_send(WsEvent::Message(bytes.to_vec()));
                }
                Some(Ok(Message::Text(text))) => {
                    let _ = in_tx.unbounded_send(WsEvent::Message(text.as_bytes().to_vec()));
                }
                Some(Ok(Message::Close(frame))) => {
                    closed(match frame {
                        None => TransportClosed::Clean,
                        Some(f) if f.code == CloseCode::Normal => TransportClosed::Clean,
                        Some(f) => TransportClosed::Error(format!(
                            "closed with code {}: {}", u16::from(f.code), f.reason
                        )),
                    });
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(tungstenite::Error::Capacity(CapacityError::MessageTooLong {
                    size,
                    max_size,
                }))) => {
                    closed(TransportClosed::FrameTooLarge { size, max: max_size });
                    return;
                }
                Some(Err(e)) => {
                    closed(TransportClosed::Error(e.to_string()));
                    return;
                }
                None => {
                    closed(TransportClosed::Error("connection lost".into()));
                    return;
                }
            },
        }
    }
}

impl<E: Event, P: Event> Client<E, P> {
    /// Connects a native client (tokio): returns at once and connects in the background;
    /// wait for the handshake with [`wait_open`](Self::wait_open) or watch
    /// [`state_changes`](Self::state_changes). Must be called inside a tokio runtime.
    ///
    /// `url_base` is the absolute endpoint, e.g. `http://127.0.0.1:3000/chsk`.
    pub fn connect(url_base: &str, options: ClientOptions) -> Self {
        let io = NativeIo::new().ws_read_buffer(options.ws_read_buffer);
        spawned(Self::with_io(url_base, options, io))
    }

    /// [`connect`](Self::connect) with a credentials provider, asked before every connection
    /// attempt (see [`CredentialsProvider`]). Must be called inside a tokio runtime.
    ///
    /// ```no_run
    /// # async fn f<E: chsk::Event, P: chsk::Event>() {
    /// use chsk::client::{Client, ClientOptions, Credentials, CredentialsRequest};
    /// let client = Client::<E, P>::connect_with_credentials(
    ///     "http://127.0.0.1:3000/chsk",
    ///     ClientOptions::default(),
    ///     |req: CredentialsRequest| async move {
    ///         if req.refusal.is_none() {
    ///             return Some(req.current); // keep the token until it is refused
    ///         }
    ///         let token = reqwest::get("http://127.0.0.1:3000/csrf-token").await.ok()?;
    ///         Some(Credentials::csrf(token.text().await.ok()?))
    ///     },
    /// );
    /// # }
    /// ```
    pub fn connect_with_credentials<C>(
        url_base: &str,
        options: ClientOptions,
        credentials: C,
    ) -> Self
    where
        C: CredentialsProvider + Send + Sync,
        C::Future: Send,
    {
        let io = NativeIo::new().ws_read_buffer(options.ws_read_buffer);
        spawned(Self::with_io_and_credentials(
            url_base,
            options,
            io,
            credentials,
        ))
    }
}

/// The client, its driver spawned on tokio.
fn spawned<E, P>(
    (client, driver): (Client<E, P>, impl Future<Output = ()> + Send + 'static),
) -> Client<E, P> {
    tokio::spawn(driver);
    client
}

impl<E, P> Client<E, P> {
    /// Waits until the client is open (a handshake arrived), at most `timeout`: the state
    /// then, or [`CbError::Timeout`], or at once [`CbError::Closed`] when the client is stopped
    /// (a requested disconnect, or a refusal it gave up on: see [`ClientState::stopped`]).
    /// The browser's `chsk_web::ClientExt::wait_open` is the same on the page's timers.
    pub async fn wait_open(&self, timeout: Duration) -> Result<ClientState, CbError> {
        tokio::time::timeout(timeout, self.opened())
            .await
            .unwrap_or(Err(CbError::Timeout))?;
        Ok(self.state())
    }
}
