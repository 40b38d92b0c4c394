//! Fixtures of chsk-axum's tests (everything here runs over loopback sockets): events and
//! handlers, a real axum server on 127.0.0.1 that can be stopped (connections included) and
//! restarted on the same port, one that checks a changeable CSRF token, client options with
//! short timings, and raw WebSocket / HTTP clients that speak frames.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

pub mod proxy;
pub mod raw;

use std::{
    net::SocketAddr,
    os::fd::AsFd,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axum::{
    extract::Request,
    middleware::{self, Next},
    routing::get,
    serve::ListenerExt,
};
use chsk::{
    client::{BackoffOptions, Client, ClientOptions, ClientState, TransportMode},
    server::{ServerBuilder, Timings},
    Ctx, Server,
};

#[chsk::events(ns = "ct")]
#[derive(Debug, Clone)]
pub enum CEvent {
    /// Counted in the state.
    Note(String),
    #[reply(String)]
    Echo { text: String },
    #[reply(u64)]
    Slow { ms: u64 },
}

#[chsk::events(ns = "ct")]
#[derive(Debug, Clone, PartialEq)]
pub enum CPush {
    Seq(u32),
    Text(String),
}

pub type TestClient = Client<CEvent, CPush>;

#[derive(Debug, Default, Clone)]
pub struct State {
    pub notes: Arc<AtomicUsize>,
}

impl State {
    pub fn notes(&self) -> usize {
        self.notes.load(Ordering::SeqCst)
    }
}

#[chsk::handler(CEvent::Note)]
async fn note(cx: Ctx<State>, _text: String) {
    cx.state().notes.fetch_add(1, Ordering::SeqCst);
}

#[chsk::handler(CEvent::Echo)]
async fn echo(cx: Ctx<State>, text: String) -> String {
    format!("{text} from {}", cx.uid().unwrap_or("anonymous"))
}

#[chsk::handler(CEvent::Slow)]
async fn slow(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

pub fn timings() -> Timings {
    Timings {
        ws_kalive: Duration::from_secs(5),
        ws_ping_timeout: Duration::from_secs(5),
        lp_timeout: Duration::from_millis(500),
        send_buf_ws: Duration::from_millis(20),
        send_buf_ajax: Duration::from_millis(20),
        ws_grace: Duration::from_millis(300),
        ajax_grace: Duration::from_millis(1000),
        ajax_reply_timeout: Duration::from_secs(5),
        write_timeout: Duration::from_secs(2),
    }
}

/// Every handler, user id from `?uid=`, CSRF skipped, short timings.
pub fn builder(state: State) -> ServerBuilder<CEvent, State> {
    Server::builder(state)
        .handler(note)
        .handler(echo)
        .handler(slow)
        .user_id(|req, _client_id| req.query("uid").map(str::to_owned))
        .skip_csrf_check()
        .timings(timings())
}

/// A running HTTP server whose connections can all be cut.
pub struct Running {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    conns: Arc<Mutex<Vec<std::net::TcpStream>>>,
}

impl Running {
    /// The chsk endpoint for a client.
    pub fn url(&self) -> String {
        format!("http://{}/chsk", self.addr)
    }

    /// Stops listening and cuts every open connection (a crashed server, as seen by clients).
    pub fn stop(self) {
        self.task.abort();
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Serves `app` on `addr` (`127.0.0.1:0` for any port).
pub async fn serve_app(app: axum::Router, addr: SocketAddr) -> Running {
    let listener = bind(addr).await;
    let addr = listener.local_addr().unwrap();
    let conns: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::default();
    let registry = conns.clone();
    let listener = listener.tap_io(move |io: &mut tokio::net::TcpStream| {
        if let Ok(fd) = io.as_fd().try_clone_to_owned() {
            registry.lock().unwrap().push(std::net::TcpStream::from(fd));
        }
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Running { addr, task, conns }
}

async fn bind(addr: SocketAddr) -> tokio::net::TcpListener {
    // Rebinding the port of a server that was just stopped may take a moment.
    for _ in 0..100 {
        if let Ok(l) = tokio::net::TcpListener::bind(addr).await {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cannot bind {addr}");
}

/// The chsk routes of `server` at `/chsk`.
pub fn app(server: &Server) -> axum::Router {
    axum::Router::new().nest("/chsk", chsk_axum::routes(server.clone()))
}

pub fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A chsk server with the fixtures, on `addr`.
pub async fn start_on(addr: SocketAddr) -> (Server, State, Running) {
    let state = State::default();
    let server = builder(state.clone()).build();
    let running = serve_app(app(&server), addr).await;
    (server, state, running)
}

pub async fn start() -> (Server, State, Running) {
    start_on(any_port()).await
}

/// A free port (bound, then released).
pub async fn free_addr() -> SocketAddr {
    let l = tokio::net::TcpListener::bind(any_port()).await.unwrap();
    l.local_addr().unwrap()
}

/// Client options with short timings.
pub fn opts(transport: TransportMode, uid: &str) -> ClientOptions {
    ClientOptions {
        transport,
        params: vec![("uid".into(), uid.into())],
        backoff: BackoffOptions {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(300),
            jitter: 1.0,
        },
        connect_timeout: Duration::from_secs(3),
        ajax_timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

pub const WAIT: Duration = Duration::from_secs(10);

/// Connects and waits for the handshake.
pub async fn open(url: &str, options: ClientOptions) -> TestClient {
    let client = TestClient::connect(url, options);
    client.wait_open(WAIT).await.expect("the client opens");
    client
}

/// Waits (up to 10 s) until `cond` holds.
/// Sends `Echo { text }` and waits (up to `WAIT`) for its reply: `"<text> from <uid>"`.
pub async fn ask_echo(client: &TestClient, text: &str) -> Result<String, chsk::CbError> {
    client
        .send_with_reply(c_event::Echo { text: text.into() }, WAIT)
        .await
}

pub async fn eventually(mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (up to 10 s) for a state that satisfies `cond`.
pub async fn wait_state(client: &TestClient, cond: impl Fn(&ClientState) -> bool) -> ClientState {
    eventually(|| cond(&client.state())).await;
    client.state()
}

/// The next `n` pushes, each within 10 s.
pub async fn next_pushes(pushes: &mut chsk::client::Pushes<CPush>, n: usize) -> Vec<CPush> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let p = tokio::time::timeout(WAIT, pushes.recv())
            .await
            .expect("a push within 10 s")
            .expect("the client is alive")
            .expect("the push decodes");
        out.push(p);
    }
    out
}

/// Waits (up to 10 s) for the next item of `pushes` and checks that it is
/// `Err(RecvError::NotRecovered)`: the app told to reload its state.
pub async fn next_is_not_recovered(pushes: &mut chsk::client::Pushes<CPush>) {
    let item = tokio::time::timeout(WAIT, pushes.recv())
        .await
        .expect("an item within 10 s");
    assert!(
        matches!(item, Some(Err(chsk::client::RecvError::NotRecovered))),
        "expected NotRecovered, got {item:?}"
    );
}

/// A server checking the CSRF token against `token` (changeable, like a restart would), that
/// counts the requests to `/chsk` and serves the current token at `/csrf-token`.
pub struct CsrfServer {
    pub running: Running,
    pub token: Arc<Mutex<String>>,
    requests: Arc<AtomicUsize>,
}

impl CsrfServer {
    pub async fn start(token: &str) -> Self {
        let token = Arc::new(Mutex::new(token.to_string()));
        let reference = token.clone();
        let server = builder(State::default())
            .csrf_token(move |_| Some(reference.lock().unwrap().clone()))
            .build();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let served = token.clone();
        let app = app(&server)
            .layer(middleware::from_fn(move |req: Request, next: Next| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    next.run(req).await
                }
            }))
            .route(
                "/csrf-token",
                get(move || {
                    let token = served.lock().unwrap().clone();
                    async move { token }
                }),
            );
        let running = serve_app(app, any_port()).await;
        Self {
            running,
            token,
            requests,
        }
    }

    /// Requests to `/chsk` so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}
