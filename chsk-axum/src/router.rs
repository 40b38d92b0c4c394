//! The routes: `GET` (WebSocket upgrade, or Ajax handshake/poll) and `POST` (Ajax send).

use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{header, HeaderValue},
    response::Response,
    routing::get,
    Router,
};
use chsk::server::{mount::HttpResponse, HandshakeRequest, Rejection, Server};
use http::StatusCode;
use tungstenite_server::tungstenite::protocol::WebSocketConfig;

/// Buffer sizes of the WebSocket connections the routes accept (tungstenite's).
///
/// An open connection keeps tungstenite's read buffer for its whole life, so that buffer is
/// small by default; reads from the socket are not limited by it: each takes up to 16 KiB into
/// a buffer of the worker thread, and what tungstenite has no room for waits in a buffer of
/// the connection that is freed as soon as tungstenite has taken it. A burst of frames costs
/// one read per 16 KiB, and an idle connection holds no read buffer but tungstenite's.
///
/// | option | default | axum's default | |
/// |---|---|---|---|
/// | [`read_buffer_size`](Self::read_buffer_size) | 512 B | 128 KiB | tungstenite's buffer, kept while the connection is open; a larger message grows it |
/// | [`write_buffer_size`](Self::write_buffer_size) | 8 KiB | 128 KiB | written frames gather up to this size before a write to the socket (chsk flushes at the end of every burst anyway); grows only as frames are written |
///
/// ```no_run
/// # fn f(server: chsk::Server) {
/// let options = chsk_axum::WsOptions::default().read_buffer_size(4 * 1024);
/// let app: axum::Router = axum::Router::new().nest("/chsk", chsk_axum::routes_with(server, options));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsOptions {
    read_buffer_size: usize,
    write_buffer_size: usize,
}

impl Default for WsOptions {
    fn default() -> Self {
        Self {
            read_buffer_size: 512,
            write_buffer_size: 8 * 1024,
        }
    }
}

impl WsOptions {
    /// tungstenite's read buffer of each connection, bytes (default 512 B): what it takes
    /// from the socket at a time (reads from the socket itself are up to 16 KiB, see
    /// [`WsOptions`]). A larger buffer costs every open connection memory; a smaller one costs
    /// more steps (not more reads from the socket) for large messages.
    #[must_use]
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes;
        self
    }

    /// How many bytes of written frames gather before they are written to the socket (default
    /// 8 KiB); the end of each burst of frames is written at once whatever its size.
    #[must_use]
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = bytes;
        self
    }
}

/// The chsk routes for `server`, at `/` of the returned router: nest it under any path
/// (`Router::new().nest("/chsk", routes(server))`), with any router state. The WebSocket
/// buffers have their [`WsOptions`] defaults; [`routes_with`] sets them.
///
/// ```no_run
/// # fn f(server: chsk::Server) {
/// #[derive(Clone)]
/// struct AppState;
/// let app: axum::Router = axum::Router::new()
///     .nest("/chsk", chsk_axum::routes(server))
///     .with_state(AppState);
/// # }
/// ```
pub fn routes<S: Clone + Send + Sync + 'static>(server: Server) -> Router<S> {
    routes_with(server, WsOptions::default())
}

/// [`routes`] with the WebSocket buffer sizes of `options`.
pub fn routes_with<S: Clone + Send + Sync + 'static>(
    server: Server,
    options: WsOptions,
) -> Router<S> {
    Router::new()
        .route("/", get(on_get).post(on_post))
        .with_state(Routes { server, options })
}

/// The routes' state.
#[derive(Clone)]
struct Routes {
    server: Server,
    options: WsOptions,
}

async fn on_get(State(Routes { server, options }): State<Routes>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    if !crate::ws::asks_upgrade(&parts.headers) {
        return into_axum(server.ajax_get(HandshakeRequest::new(parts)).await);
    }
    let upgrade = match crate::ws::Upgrade::from_parts(&mut parts) {
        Ok(upgrade) => upgrade,
        Err(refused) => return crate::ws::refusal(refused),
    };
    let accepted = match server.accept(HandshakeRequest::new(parts)) {
        Ok(accepted) => accepted,
        Err(rejection) => return into_axum(rejection.into_response()),
    };
    // Messages a little over the limit reach chsk, which closes with 1009 and a reason;
    // larger ones are cut by tungstenite before they are buffered whole.
    let max = server.limits().max_frame_bytes;
    let cap = max.saturating_mul(2).max(max.saturating_add(64 * 1024));
    let config = WebSocketConfig::default()
        .read_buffer_size(options.read_buffer_size)
        .write_buffer_size(options.write_buffer_size)
        .max_message_size(Some(cap))
        .max_frame_size(Some(cap));
    // The connection's future as it is: wrapped in an `async` block of our own, the socket
    // and `accepted` would be held twice for the connection's life.
    upgrade.answer(config, move |socket| {
        server.serve_ws(accepted, crate::ws::adapt(socket))
    })
}

async fn on_post(State(Routes { server, .. }): State<Routes>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let max = server.limits().max_frame_bytes;
    let body = match read_body(body, max).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    into_axum(server.ajax_post(HandshakeRequest::new(parts), body).await)
}

/// Reads at most `max + 1` bytes (so chsk sees an oversized body and answers `413`).
async fn read_body(body: Body, max: usize) -> Result<bytes::Bytes, Response> {
    match to_bytes(body, max.saturating_add(1)).await {
        Ok(bytes) => Ok(bytes),
        Err(e) => {
            // axum reports an exceeded limit as "length limit exceeded".
            let too_big = e.to_string().contains("length limit");
            if too_big {
                Err(into_axum(
                    Rejection::new(StatusCode::PAYLOAD_TOO_LARGE, "frame too large")
                        .into_response(),
                ))
            } else {
                tracing::debug!(error = %e, "chsk: could not read an Ajax body");
                Err(into_axum(
                    Rejection::new(StatusCode::BAD_REQUEST, "could not read the body")
                        .into_response(),
                ))
            }
        }
    }
}

/// Copies chsk's response into axum's.
fn into_axum(response: HttpResponse) -> Response {
    let mut out = Response::new(Body::from(response.body));
    *out.status_mut() = response.status;
    if !response.content_type.is_empty() {
        out.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(response.content_type),
        );
    }
    out.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out
}
