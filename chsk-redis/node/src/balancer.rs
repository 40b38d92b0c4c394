//! An HTTP balancer without sticky sessions: each request goes to the next node in turn, so an
//! Ajax client's handshake, polls and sends land on different nodes. (WebSocket upgrades are
//! not proxied: WebSocket clients connect to a node directly.)

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{HeaderValue, StatusCode},
    response::Response,
    Router,
};

#[derive(Debug)]
struct Balance {
    backends: Vec<String>,
    next: AtomicUsize,
    http: reqwest::Client,
    /// Requests sent to each backend.
    sent: Vec<AtomicUsize>,
}

/// A running balancer.
#[derive(Debug, Clone)]
pub struct Balancer {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Balance>,
}

impl Balancer {
    /// `http://<addr>/chsk`.
    pub fn url(&self) -> String {
        format!("http://{}/chsk", self.addr)
    }

    /// How many requests went to each backend, in order.
    pub fn sent(&self) -> Vec<usize> {
        self.state
            .sent
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect()
    }
}

/// Starts a balancer over `backends` (`http://host:port` each) on a free loopback port.
pub async fn start(backends: Vec<String>) -> Balancer {
    let state = Arc::new(Balance {
        sent: backends.iter().map(|_| AtomicUsize::new(0)).collect(),
        backends,
        next: AtomicUsize::new(0),
        http: reqwest::Client::builder()
            // No pooled connection may tie a client to a backend.
            .pool_max_idle_per_host(0)
            .build()
            .unwrap(),
    });
    let app = Router::new().fallback(forward).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Balancer { addr, state }
}

async fn forward(State(b): State<Arc<Balance>>, req: Request) -> Response {
    let i = b.next.fetch_add(1, Ordering::Relaxed) % b.backends.len();
    b.sent[i].fetch_add(1, Ordering::Relaxed);
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let body = match to_bytes(body, 16 << 20).await {
        Ok(body) => body,
        Err(_) => return status(StatusCode::BAD_REQUEST),
    };
    let mut out = b
        .http
        .request(parts.method, format!("{}{path}", b.backends[i]))
        .body(body);
    for (name, value) in &parts.headers {
        if name != "host" && name != "connection" {
            out = out.header(name, value);
        }
    }
    let Ok(answer) = out.send().await else {
        return status(StatusCode::BAD_GATEWAY);
    };
    let code = answer.status();
    let content_type = answer.headers().get("content-type").cloned();
    let Ok(bytes) = answer.bytes().await else {
        return status(StatusCode::BAD_GATEWAY);
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = code;
    if let Some(ct) = content_type {
        response.headers_mut().insert("content-type", ct);
    }
    response
        .headers_mut()
        .insert("x-backend", HeaderValue::from(i));
    response
}

fn status(code: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = code;
    r
}
