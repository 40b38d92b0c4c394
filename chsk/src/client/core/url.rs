//! The endpoint URLs of an attempt: the base URL with the client id, protocol version, codec,
//! credentials and, where the server recovers from them, the stream positions.

use super::ClientCore;
use crate::protocol::{format_since, VERSION};

/// Which request a URL is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    /// The WebSocket upgrade (`ws(s)://`).
    Ws,
    /// The Ajax handshake `GET` (and the HTTP probe, which is one): `&handshake=1`.
    Handshake,
    /// An Ajax long-poll `GET`.
    Poll,
    /// An Ajax `POST` (client → server frames).
    Post,
}

impl ClientCore {
    /// The URL of Ajax sends (`POST`). It carries no stream positions: a poll's URL does
    /// (see [`Output::Poll`](super::Output::Poll)).
    pub fn ajax_url(&self) -> String {
        self.url(Endpoint::Post)
    }

    /// The URL of a request: the base URL with `client-id`, `v` (the protocol version),
    /// `codec`, the CSRF token and the extra parameters; then `since` (the positions of the
    /// pushes delivered so far, when there is any) on the WebSocket upgrade, the Ajax
    /// handshake and every poll; then `handshake=1` on the Ajax handshake.
    pub(super) fn url(&self, endpoint: Endpoint) -> String {
        let mut url = match self.base_url.strip_prefix("http") {
            Some(rest) if endpoint == Endpoint::Ws => format!("ws{rest}"),
            _ => self.base_url.clone(),
        };
        let mut sep = if url.contains('?') { '&' } else { '?' };
        let mut param = |k: &str, v: &str, encode: bool| {
            url.push(sep);
            sep = '&';
            encode_component(&mut url, k);
            url.push('=');
            if encode {
                encode_component(&mut url, v);
            } else {
                url.push_str(v);
            }
        };
        param("client-id", &self.state.client_id, true);
        param("v", &VERSION.to_string(), true);
        param("codec", self.opts.codec.name(), true);
        if let Some(token) = &self.creds.csrf_token {
            param("csrf-token", token, true);
        }
        for (k, v) in self.opts.params.iter().chain(&self.creds.params) {
            param(k, v, true);
        }
        let positions = self.positions.list();
        if endpoint != Endpoint::Post && !positions.is_empty() {
            // `[a-z0-9.,]` only: readable as is in a query.
            param("since", &format_since(&positions), false);
        }
        if endpoint == Endpoint::Handshake {
            param("handshake", "1", true);
        }
        url
    }
}

/// Percent-encodes a query component (everything but `[A-Za-z0-9-_.~]`).
fn encode_component(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
}
