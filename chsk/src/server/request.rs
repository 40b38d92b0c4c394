//! The transport-neutral view of an HTTP request that opens a connection or carries an Ajax
//! frame.

use std::fmt;

use http::{request::Parts, HeaderMap, Method, Uri};

/// An HTTP request as the server's hooks see it: the WebSocket handshake request, an Ajax poll
/// or an Ajax send. Built by the web-framework adapter (`chsk-axum`) from the request's parts.
///
/// ```
/// let (parts, ()) = http::Request::get("/chsk?client-id=tab1&csrf-token=t")
///     .header("origin", "https://example.com")
///     .body(())
///     .unwrap()
///     .into_parts();
/// let req = chsk::server::HandshakeRequest::new(parts);
/// assert_eq!(req.query("client-id"), Some("tab1"));
/// assert_eq!(req.header("origin"), Some("https://example.com"));
/// ```
pub struct HandshakeRequest {
    parts: Parts,
    query: Vec<(String, String)>,
    /// Bytes of URI and headers kept by [`detach`](Self::detach) (0 before).
    kept: usize,
}

impl HandshakeRequest {
    /// Wraps a request's parts (method, URI, headers, extensions).
    pub fn new(parts: Parts) -> Self {
        let query = parts.uri.query().map(parse_query).unwrap_or_default();
        Self {
            parts,
            query,
            kept: 0,
        }
    }

    /// What a connection keeps of the request that opened it, for its lifetime: the method, the
    /// URI (without its `csrf-token` and `since` parameters), the extensions, and only the
    /// headers named in `keep`, at most `max_bytes` of URI
    /// and headers together (a header past the cap is left out and logged). Copies what it
    /// keeps into allocations of its own: a server parses a request as slices of its read
    /// buffer (hyper does), so a kept slice would keep that whole buffer (8–16 KiB) alive.
    pub(crate) fn detach(mut self, keep: &[http::HeaderName], max_bytes: usize) -> Self {
        // The CSRF token (a secret: no handler needs it, no log should get it) and the
        // recovery positions (used once, at the opening) are not kept.
        let dropped = |key: &str| matches!(key, "csrf-token" | "since");
        self.query.retain(|(k, _)| !dropped(k));
        if let Some(query) = self.parts.uri.query() {
            let rest: Vec<&str> = query
                .split('&')
                .filter(|kv| {
                    let key = kv.split_once('=').map_or(*kv, |(k, _)| k);
                    !kv.is_empty() && !dropped(key)
                })
                .collect();
            let path = self.parts.uri.path();
            let uri = match rest.is_empty() {
                true => path.to_owned(),
                false => format!("{path}?{}", rest.join("&")),
            };
            if let Ok(uri) = uri.parse::<Uri>() {
                self.parts.uri = uri;
            }
        }
        let uri = self.parts.uri.to_string();
        let mut kept = uri.len();
        if kept > max_bytes {
            // Keep the path only (the query was parsed above and stays readable).
            let path = self.parts.uri.path().to_owned();
            tracing::debug!(
                len = kept,
                "chsk: request URI over the kept-request cap; keeping its path"
            );
            kept = path.len();
            self.parts.uri = path.parse::<Uri>().unwrap_or_default();
        } else if let Ok(uri) = uri.parse::<Uri>() {
            self.parts.uri = uri;
        }
        let mut headers = HeaderMap::new();
        for name in keep {
            for value in self.parts.headers.get_all(name) {
                let len = name.as_str().len() + value.len();
                if kept + len > max_bytes {
                    tracing::debug!(header = %name, len, "chsk: header over the kept-request cap; not kept");
                    continue;
                }
                let copy = match http::HeaderValue::from_bytes(value.as_bytes()) {
                    Ok(mut copy) => {
                        copy.set_sensitive(value.is_sensitive());
                        copy
                    }
                    Err(_) => value.clone(),
                };
                kept += len;
                headers.append(name.clone(), copy);
            }
        }
        self.parts.headers = headers;
        if self.parts.extensions.is_empty() {
            // The server's map (hyper's, emptied of its upgrade handle) would stay allocated.
            self.parts.extensions = http::Extensions::new();
        }
        self.query.shrink_to_fit();
        self.kept = kept
            + self
                .query
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        self
    }

    /// Bytes kept by `detach` (URI, kept headers, parsed query).
    pub(crate) fn kept_bytes(&self) -> usize {
        self.kept
    }

    /// The request's method.
    pub fn method(&self) -> &Method {
        &self.parts.method
    }

    /// The request's URI.
    pub fn uri(&self) -> &Uri {
        &self.parts.uri
    }

    /// The request's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.parts.headers
    }

    /// A header's value, when present and valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name)?.to_str().ok()
    }

    /// The request's extensions (where session middleware puts its data).
    pub fn extensions(&self) -> &http::Extensions {
        &self.parts.extensions
    }

    /// The request's parts.
    pub fn parts(&self) -> &Parts {
        &self.parts
    }

    /// The first value of a query parameter, percent-decoded.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The stream positions the client presented (`since`; none when absent or malformed:
    /// the security checks refuse a malformed one first).
    pub(crate) fn since(&self) -> Vec<crate::protocol::Position> {
        self.query("since")
            .and_then(|s| crate::protocol::parse_since(s).ok())
            .unwrap_or_default()
    }

    /// The `client-id` query parameter when it is valid (1–128 chars of `[A-Za-z0-9_-]`).
    pub fn client_id(&self) -> Option<&str> {
        self.query("client-id").filter(|id| valid_client_id(id))
    }
}

impl fmt::Debug for HandshakeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Headers may hold credentials: show only the method and path.
        f.debug_struct("HandshakeRequest")
            .field("method", &self.parts.method)
            .field("path", &self.parts.uri.path())
            .finish_non_exhaustive()
    }
}

/// Whether a client id is 1–128 chars of `[A-Za-z0-9_-]` (PROTOCOL.md section 1).
pub(crate) fn valid_client_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query() {
        assert_eq!(
            parse_query("a=1&b=x%2Fy+z&c&d=%zz"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x/y z".into()),
                ("c".into(), "".into()),
                ("d".into(), "%zz".into()),
            ]
        );
        assert_eq!(percent_decode("%4"), "%4");
    }

    #[test]
    fn detach_keeps_only_named_headers_within_the_cap() {
        let (parts, ()) = http::Request::get("/chsk?client-id=a")
            .header("cookie", "c".repeat(100))
            .header("x-big", "b".repeat(10_000))
            .header("x-other", "o")
            .body(())
            .expect("valid request")
            .into_parts();
        let keep = [
            http::HeaderName::from_static("cookie"),
            http::HeaderName::from_static("x-big"),
        ];
        let req = HandshakeRequest::new(parts).detach(&keep, 1024);
        assert_eq!(req.header("cookie").map(str::len), Some(100));
        assert_eq!(req.header("x-big"), None, "over the cap");
        assert_eq!(req.header("x-other"), None, "not asked for");
        assert!(req.kept_bytes() <= 1024 + 64);
        assert_eq!(req.client_id(), Some("a"));
    }

    #[test]
    fn detach_keeps_the_named_headers() {
        let (parts, ()) = http::Request::get("/chsk?client-id=a&x=1")
            .header("x-one", "1")
            .header("x-one", "2")
            .header("authorization", "secret")
            .body(())
            .expect("valid request")
            .into_parts();
        let keep = [
            http::HeaderName::from_static("x-one"),
            http::HeaderName::from_static("authorization"),
        ];
        let req = HandshakeRequest::new(parts).detach(&keep, 1 << 20);
        assert_eq!(req.uri().to_string(), "/chsk?client-id=a&x=1");
        let ones: Vec<_> = req.headers().get_all("x-one").iter().collect();
        assert_eq!(ones, ["1", "2"]);
        assert_eq!(req.header("authorization"), Some("secret"));
        assert_eq!(req.query("x"), Some("1"));
        // The CSRF token and the recovery positions are not kept.
        let (parts, ()) = http::Request::get("/chsk?csrf-token=s3cret&client-id=a&since=a.1.2&v=2")
            .body(())
            .expect("valid request")
            .into_parts();
        let req = HandshakeRequest::new(parts).detach(&[], 1 << 20);
        assert_eq!(req.uri().to_string(), "/chsk?client-id=a&v=2");
        assert_eq!(req.query("csrf-token"), None);
        assert_eq!(req.query("since"), None);
        assert_eq!(req.client_id(), Some("a"));
        let (parts, ()) = http::Request::get("/chsk?csrf-token=s3cret")
            .body(())
            .expect("valid request")
            .into_parts();
        let req = HandshakeRequest::new(parts).detach(&[], 1 << 20);
        assert_eq!(req.uri().to_string(), "/chsk");
    }

    #[test]
    fn client_ids() {
        assert!(valid_client_id("a-B_9"));
        assert!(!valid_client_id(""));
        assert!(!valid_client_id("a b"));
        assert!(!valid_client_id(&"x".repeat(129)));
    }
}
