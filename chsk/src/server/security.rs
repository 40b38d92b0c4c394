//! The checks every request passes before any connection state exists (PROTOCOL.md section 1):
//! client id → codec → reject hook → CSRF → origin → authorization.

use std::fmt;

use bytes::Bytes;
use http::StatusCode;

use super::{options::AllowedOrigins, request::HandshakeRequest};
use crate::{
    codec::Codec,
    protocol::{parse_since, VERSION},
};

/// A refused request: an HTTP status and a plain-text body.
///
/// ```
/// use chsk::server::Rejection;
/// let r = Rejection::new(http::StatusCode::TOO_MANY_REQUESTS, "slow down");
/// assert_eq!(r.status(), 429);
/// assert_eq!(r.body(), "slow down");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    status: StatusCode,
    body: String,
}

impl Rejection {
    /// `429 too many connections`: the user has `max_conns_per_user` connections.
    pub(crate) fn too_many_conns() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "too many connections")
    }

    /// A rejection with this status and body.
    pub fn new(status: StatusCode, body: impl Into<String>) -> Self {
        Self {
            status,
            body: body.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The plain-text body.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// As a plain-text HTTP response.
    pub fn into_response(self) -> HttpResponse {
        HttpResponse {
            status: self.status,
            content_type: "text/plain; charset=utf-8",
            body: Bytes::from(self.body),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.body)
    }
}

/// A complete HTTP response produced by the server (Ajax answers and rejections); the adapter
/// only copies it into its framework's response type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status.
    pub status: StatusCode,
    /// The `content-type` header (empty for `204`).
    pub content_type: &'static str,
    /// The body.
    pub body: Bytes,
}

/// Computes the user id of a request (with the client id); `None` is an anonymous user.
pub(crate) type UserIdFn = Box<dyn Fn(&HandshakeRequest, &str) -> Option<String> + Send + Sync>;
/// A hook over a request.
pub(crate) type RequestFn<T> = Box<dyn Fn(&HandshakeRequest) -> T + Send + Sync>;

/// How the CSRF token is checked.
pub(crate) enum Csrf {
    /// Not configured: every request is rejected (as in Sente), with a warning.
    Unset,
    /// Explicitly skipped.
    Skip,
    /// The reference token of a request; `None` rejects.
    Token(RequestFn<Option<String>>),
}

pub(crate) struct Security {
    pub(crate) codec: Codec,
    pub(crate) csrf: Csrf,
    pub(crate) origins: AllowedOrigins,
    pub(crate) authorized: Option<RequestFn<bool>>,
    pub(crate) reject: Option<RequestFn<Option<Rejection>>>,
    /// Whether the "no CSRF configuration" warning was logged (once per server).
    pub(crate) warned_csrf: std::sync::atomic::AtomicBool,
}

/// [`VERSION`] as the `v` query parameter carries it.
const VERSION_TEXT: &str = "2";
const _: () = assert!(VERSION == 2, "VERSION_TEXT must follow VERSION");

impl Security {
    /// Runs every check in protocol order; returns the valid client id.
    pub(crate) fn check<'r>(&self, req: &'r HandshakeRequest) -> Result<&'r str, Rejection> {
        let Some(client_id) = req.client_id() else {
            return Err(Rejection::new(
                StatusCode::BAD_REQUEST,
                "missing or invalid client-id",
            ));
        };
        if req.query("v") != Some(VERSION_TEXT) {
            return Err(Rejection::new(
                StatusCode::BAD_REQUEST,
                format!("unsupported protocol version: this server speaks {VERSION}"),
            ));
        }
        if let Some(since) = req.query("since") {
            if let Err(e) = parse_since(since) {
                return Err(Rejection::new(StatusCode::BAD_REQUEST, e.to_string()));
            }
        }
        if let Some(codec) = req.query("codec") {
            if codec != self.codec.name() {
                return Err(Rejection::new(
                    StatusCode::BAD_REQUEST,
                    format!("codec mismatch: server uses {}", self.codec.name()),
                ));
            }
        }
        if let Some(reject) = &self.reject {
            if let Some(rejection) = reject(req) {
                return Err(rejection);
            }
        }
        if !self.csrf_ok(req) {
            return Err(Rejection::new(StatusCode::FORBIDDEN, "bad CSRF token"));
        }
        if !origin_ok(&self.origins, req) {
            return Err(Rejection::new(StatusCode::FORBIDDEN, "bad origin"));
        }
        if let Some(authorized) = &self.authorized {
            if !authorized(req) {
                return Err(Rejection::new(StatusCode::UNAUTHORIZED, "unauthorized"));
            }
        }
        Ok(client_id)
    }

    fn csrf_ok(&self, req: &HandshakeRequest) -> bool {
        match &self.csrf {
            Csrf::Skip => true,
            Csrf::Unset => {
                if !self
                    .warned_csrf
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    tracing::warn!(
                        "chsk: requests are rejected: no CSRF token fn is configured; call \
                         `csrf_token(..)` or `skip_csrf_check()` on the server builder"
                    );
                }
                false
            }
            Csrf::Token(reference) => {
                let Some(reference) = reference(req) else {
                    return false;
                };
                let given = req
                    .query("csrf-token")
                    .or_else(|| req.header("x-csrf-token"))
                    .or_else(|| req.header("x-xsrf-token"));
                given.is_some_and(|given| constant_time_eq(given.as_bytes(), reference.as_bytes()))
            }
        }
    }
}

/// Sente's `allow-origin?`: exact `Origin` match, else a `Referer` starting with `<origin>/`.
pub(crate) fn origin_ok(origins: &AllowedOrigins, req: &HandshakeRequest) -> bool {
    let AllowedOrigins::Only(allowed) = origins else {
        return true;
    };
    if let Some(origin) = req.header("origin") {
        return allowed.contains(origin);
    }
    if let Some(referer) = req.header("referer") {
        return allowed.iter().any(|o| {
            referer.len() > o.len()
                && referer.starts_with(o.as_str())
                && referer[o.len()..].starts_with('/')
        });
    }
    false
}

/// Compares two byte strings in time independent of where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, headers: &[(&str, &str)]) -> HandshakeRequest {
        let mut b = http::Request::get(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        HandshakeRequest::new(b.body(()).expect("valid request").into_parts().0)
    }

    #[test]
    fn origins() {
        let o = AllowedOrigins::only(["http://site.com"]);
        assert!(origin_ok(&o, &req("/", &[("origin", "http://site.com")])));
        assert!(!origin_ok(&o, &req("/", &[("origin", "http://evil.com")])));
        assert!(origin_ok(
            &o,
            &req("/", &[("referer", "http://site.com/page")])
        ));
        assert!(!origin_ok(
            &o,
            &req("/", &[("referer", "http://site.com.evil.com/")])
        ));
        assert!(!origin_ok(&o, &req("/", &[])));
        assert!(origin_ok(&AllowedOrigins::All, &req("/", &[])));
    }

    #[test]
    fn ct_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
