//! The wasm bundle (`chat_web.js` + `chat_web_bg.wasm`), served from the directory built by
//! `cargo run -p xtask -- build-web`.
//!
//! - Compressed: xtask writes `<file>.br` and `<file>.gz` beside each file and
//!   [`ServeFile`] picks the best one the browser accepts (`Accept-Encoding`, with q-values),
//!   falling back to the plain file. Nothing is compressed per request.
//! - Cached: the page loads the bundle from `/pkg/<version>/…`, where `<version>` is a hash of
//!   the bundle's contents ([`Bundle::version`]). A versioned URL never changes content, so it is
//!   served `Cache-Control: public, max-age=31536000, immutable`; a rebuilt bundle gets a new
//!   version, hence new URLs. Unversioned (`/pkg/<file>`) or outdated URLs are served
//!   `no-cache` (the browser revalidates with `If-Modified-Since`).

use std::{
    hash::{DefaultHasher, Hasher},
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
    time::SystemTime,
};

use axum::{
    body::Body,
    extract::{Path, Request},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// The files of the bundle, the only ones served under `/pkg/`.
pub(crate) const FILES: [&str; 2] = ["chat_web.js", "chat_web_bg.wasm"];

/// `Cache-Control` of a versioned bundle URL.
pub(crate) const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Each bundle file's (length, modification time): when they change, the version is recomputed.
type Stamps = Vec<(u64, SystemTime)>;

/// The bundle directory and the version of its current contents.
#[derive(Debug)]
pub(crate) struct Bundle {
    dir: PathBuf,
    /// The files' stamps when the version was computed, and that version.
    cached: Mutex<Option<(Stamps, String)>>,
}

impl Bundle {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            cached: Mutex::new(None),
        }
    }

    /// A hash of the bundle's contents (16 hex digits), recomputed only when a file's length or
    /// modification time changed (a rebuild while the server runs gets a new version), or
    /// `"missing"` while the bundle is not built.
    pub(crate) fn version(&self) -> String {
        let stamps: Option<Stamps> = FILES
            .iter()
            .map(|f| {
                let m = std::fs::metadata(self.dir.join(f)).ok()?;
                Some((m.len(), m.modified().ok()?))
            })
            .collect();
        let Some(stamps) = stamps else {
            return "missing".into();
        };
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, version)) = cached.as_ref() {
            if *at == stamps {
                return version.clone();
            }
        }
        let mut h = DefaultHasher::new();
        for f in FILES {
            match std::fs::read(self.dir.join(f)) {
                Ok(bytes) => h.write(&bytes),
                Err(_) => return "missing".into(),
            }
        }
        let version = format!("{:016x}", h.finish());
        *cached = Some((stamps, version.clone()));
        version
    }

    /// `GET /pkg/<version>/<file>` (`version` is `None` for `/pkg/<file>`).
    pub(crate) async fn serve(&self, version: Option<&str>, file: &str, req: Request) -> Response {
        if !FILES.contains(&file) {
            return StatusCode::NOT_FOUND.into_response();
        }
        let service = ServeFile::new(self.dir.join(file))
            .precompressed_br()
            .precompressed_gzip();
        let mut res = match service.oneshot(req).await {
            Ok(res) => res.map(Body::new),
            Err(never) => match never {},
        };
        if res.status() == StatusCode::NOT_FOUND {
            return (
                StatusCode::NOT_FOUND,
                format!(
                    "{file} not found: build the bundle with `cargo run -p xtask -- build-web`"
                ),
            )
                .into_response();
        }
        let current = version.is_some_and(|v| v == self.version());
        let headers = res.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if current { IMMUTABLE } else { "no-cache" }),
        );
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        res
    }
}

/// `/pkg/<version>/<file>` and `/pkg/<file>`.
pub(crate) fn routes(bundle: Arc<Bundle>) -> Router {
    let unversioned = bundle.clone();
    Router::new()
        .route(
            "/pkg/{version}/{file}",
            get(
                move |Path((v, f)): Path<(String, String)>, req: Request| async move {
                    bundle.serve(Some(&v), &f, req).await
                },
            ),
        )
        .route(
            "/pkg/{file}",
            get(move |Path(f): Path<String>, req: Request| async move {
                unversioned.serve(None, &f, req).await
            }),
        )
}
