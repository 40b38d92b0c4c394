//! The chsk server of chsk-web's browser tests. See the crate docs (`src/lib.rs`).
//!
//! Started by `scripts/browser-tests.sh` before `cargo test --target wasm32-unknown-unknown -p
//! chsk-web` and stopped after it by its PID.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::io::Result<()> {
    host::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod host {
    use std::{
        collections::HashMap,
        sync::Mutex,
        time::{Duration, Instant},
    };

    use axum::{
        extract::{Query, Request},
        http::{header, HeaderValue, Method, StatusCode},
        middleware::{self, Next},
        response::{IntoResponse, Response},
        routing::{get, post},
        Router,
    };
    use chsk::{
        server::{HistoryOptions, Server, ServerBuilder},
        Codec, Ctx,
    };
    use chsk_web_test_server::{
        TestEvent, TestPush, BIG_LEN, CHSK_ADDR, CONTROL_ADDR, CSRF_TOKEN, RELAY_ADDR,
        SHORT_HISTORY,
    };
    use tokio::runtime::Runtime;

    #[chsk::handler(TestEvent::Echo)]
    async fn echo(_cx: Ctx<()>, text: String) -> String {
        text
    }

    #[chsk::handler(TestEvent::Sleep)]
    async fn sleep(_cx: Ctx<()>, ms: u32) -> u32 {
        tokio::time::sleep(Duration::from_millis(ms.into())).await;
        ms
    }

    #[chsk::handler(TestEvent::WhoAmI)]
    async fn who_am_i(cx: Ctx<()>) -> Option<String> {
        cx.uid().map(str::to_string)
    }

    #[chsk::handler(TestEvent::PushMe)]
    async fn push_me(cx: Ctx<()>, text: String) {
        if let Some(uid) = cx.uid() {
            if let Err(e) = cx.server().send_to_user(uid, TestPush::Said(text)) {
                eprintln!("test server: could not push: {e}");
            }
        }
    }

    fn chsk_server(codec: Codec) -> Server {
        builder(codec).build()
    }

    fn builder(codec: Codec) -> ServerBuilder<TestEvent, ()> {
        Server::builder(())
            .handler(echo)
            .handler(sleep)
            .handler(who_am_i)
            .handler(push_me)
            .codec(codec)
            .user_id(|req, _client_id| req.query("uid").map(str::to_string))
            .csrf_token(|_| Some(CSRF_TOKEN.to_string()))
    }

    /// The routes of one server "generation" (a restart builds new ones: no state survives).
    fn app() -> Router {
        let postcard = chsk_server(Codec::Postcard);
        let presence = postcard.clone();
        Router::new()
            .route(
                "/connected",
                get(move || {
                    let uids = presence.connected_uids().any;
                    async move { uids.into_iter().collect::<Vec<_>>().join("\n") }
                }),
            )
            .route("/slow", get(slow))
            .route("/attempts", get(attempts))
            .route("/csrf-token", get(|| async { CSRF_TOKEN }))
            .nest(
                "/chsk",
                chsk_axum::routes(postcard.clone()).layer(middleware::from_fn(count_requests)),
            )
            .nest(
                "/chsk-nows",
                chsk_axum::routes(postcard).layer(middleware::from_fn(refuse_websocket)),
            )
            .nest("/chsk-json", chsk_axum::routes(chsk_server(Codec::Json)))
            .nest(
                "/chsk-short",
                chsk_axum::routes(
                    builder(Codec::Postcard)
                        .history(HistoryOptions::default().max_count(SHORT_HISTORY))
                        .build(),
                ),
            )
            .route(
                "/chsk-refuse",
                get(|| async { (StatusCode::FORBIDDEN, "closed for maintenance") }),
            )
            .route("/big", get(big))
            .layer(middleware::from_fn(cors))
    }

    async fn big() -> impl IntoResponse {
        let body: Vec<u8> = (0..BIG_LEN).map(|i| (i % 251) as u8).collect();
        ([(header::CONTENT_TYPE, "application/octet-stream")], body)
    }

    async fn slow(Query(q): Query<HashMap<String, String>>) -> &'static str {
        let ms = q.get("ms").and_then(|v| v.parse().ok()).unwrap_or(1000);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        "slow"
    }

    /// Requests to `/chsk` (GET and POST, WebSocket upgrades included) per client id.
    static REQUESTS: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

    async fn count_requests(req: Request, next: Next) -> Response {
        if req.method() != Method::OPTIONS {
            let client_id = req.uri().query().and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("client-id="))
                    .map(str::to_string)
            });
            if let (Some(id), Ok(mut map)) = (client_id, REQUESTS.lock()) {
                *map.get_or_insert_with(HashMap::new).entry(id).or_default() += 1;
            }
        }
        next.run(req).await
    }

    /// `GET /attempts?client-id=X`: how many requests of client X reached `/chsk`.
    async fn attempts(Query(q): Query<HashMap<String, String>>) -> String {
        let id = q.get("client-id").cloned().unwrap_or_default();
        let n = REQUESTS
            .lock()
            .ok()
            .and_then(|m| m.as_ref().and_then(|m| m.get(&id).copied()))
            .unwrap_or(0);
        n.to_string()
    }

    async fn refuse_websocket(req: Request, next: Next) -> Response {
        if req.headers().contains_key(header::UPGRADE) {
            return (
                StatusCode::FORBIDDEN,
                "WebSocket refused by the test server",
            )
                .into_response();
        }
        next.run(req).await
    }

    /// The test page comes from wasm-bindgen-test-runner's own port: allow any origin.
    async fn cors(req: Request, next: Next) -> Response {
        let mut res = if req.method() == Method::OPTIONS {
            StatusCode::NO_CONTENT.into_response()
        } else {
            next.run(req).await
        };
        let h = res.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type, x-csrf-token"),
        );
        res
    }

    /// Serves [`app`] on its own runtime: dropping the runtime closes the listener and every
    /// connection, as a process exit would.
    fn start_generation() -> std::io::Result<Runtime> {
        let listener = std::net::TcpListener::bind(CHSK_ADDR)?;
        listener.set_nonblocking(true)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        rt.spawn(async move {
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => {
                    if let Err(e) = axum::serve(listener, app()).await {
                        eprintln!("test server: {e}");
                    }
                }
                Err(e) => eprintln!("test server: {e}"),
            }
        });
        Ok(rt)
    }

    static GENERATION: Mutex<Option<Runtime>> = Mutex::new(None);

    fn set_generation(rt: Runtime) {
        if let Ok(mut g) = GENERATION.lock() {
            *g = Some(rt);
        }
    }

    async fn restart(Query(q): Query<HashMap<String, String>>) -> Response {
        let down_ms = q.get("down_ms").and_then(|v| v.parse().ok()).unwrap_or(500);
        let old = GENERATION.lock().ok().and_then(|mut g| g.take());
        if let Some(rt) = old {
            rt.shutdown_background();
        }
        tokio::time::sleep(Duration::from_millis(down_ms)).await;
        // The port may linger for a moment after the old listener closed.
        for _ in 0..50 {
            match start_generation() {
                Ok(rt) => {
                    set_generation(rt);
                    eprintln!("test server: restarted");
                    return StatusCode::NO_CONTENT.into_response();
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        (StatusCode::INTERNAL_SERVER_ERROR, "cannot bind again").into_response()
    }

    /// The relay in front of `/chsk` (see the crate docs): its live connections, and until
    /// when it refuses new ones.
    struct Relay {
        conns: Vec<tokio::task::AbortHandle>,
        refuse_until: Option<Instant>,
    }

    static RELAY: Mutex<Relay> = Mutex::new(Relay {
        conns: Vec::new(),
        refuse_until: None,
    });

    /// Forwards each connection on `listener` to [`CHSK_ADDR`], byte for byte, until `/cut`.
    async fn relay(listener: tokio::net::TcpListener) {
        while let Ok((mut client, _)) = listener.accept().await {
            let Ok(mut relay) = RELAY.lock() else { return };
            if relay.refuse_until.is_some_and(|t| Instant::now() < t) {
                continue; // dropped: closed at once, as by a server that is down
            }
            let task = tokio::spawn(async move {
                if let Ok(mut upstream) = tokio::net::TcpStream::connect(CHSK_ADDR).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
            relay.conns.retain(|c| !c.is_finished());
            relay.conns.push(task.abort_handle());
        }
    }

    /// `POST /cut?down_ms=N`: ends every connection through the relay at once (both sockets
    /// dropped: no WebSocket close, no HTTP answer), then refuses new ones for N ms.
    async fn cut(Query(q): Query<HashMap<String, String>>) -> StatusCode {
        let down_ms = q.get("down_ms").and_then(|v| v.parse().ok()).unwrap_or(500);
        let Ok(mut relay) = RELAY.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR;
        };
        relay.refuse_until = Some(Instant::now() + Duration::from_millis(down_ms));
        for conn in relay.conns.drain(..) {
            conn.abort();
        }
        StatusCode::NO_CONTENT
    }

    pub(super) fn main() -> std::io::Result<()> {
        set_generation(start_generation()?);
        let control = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        control.block_on(async {
            let listener = tokio::net::TcpListener::bind(CONTROL_ADDR).await?;
            tokio::spawn(relay(tokio::net::TcpListener::bind(RELAY_ADDR).await?));
            eprintln!(
                "test server: chsk on http://{CHSK_ADDR} (relayed at {RELAY_ADDR}), \
                 control on http://{CONTROL_ADDR}"
            );
            let routes = Router::new()
                .route("/restart", post(restart))
                .route("/cut", post(cut))
                .layer(middleware::from_fn(cors));
            axum::serve(listener, routes).await
        })
    }
}
