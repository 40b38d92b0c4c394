//! The endpoint URLs of an attempt: the base URL with the client id, codec and credentials.

use super::ClientCore;
use crate::transport::Transport;

impl ClientCore {
    /// The URL of Ajax polls and sends (`POST`).
    pub fn ajax_url(&self) -> String {
        self.url(Transport::Ajax, false)
    }

    /// The URL of a WebSocket (`ws(s)://`) or Ajax (`http(s)://`) request; `handshake` marks
    /// the Ajax handshake (and the HTTP probe, which is one).
    pub(super) fn url(&self, transport: Transport, handshake: bool) -> String {
        let ws = transport == Transport::Ws;
        let mut url = match self.base_url.strip_prefix("http") {
            Some(rest) if ws => format!("ws{rest}"),
            _ => self.base_url.clone(),
        };
        let mut sep = if url.contains('?') { '&' } else { '?' };
        let mut param = |k: &str, v: &str| {
            url.push(sep);
            sep = '&';
            encode_component(&mut url, k);
            url.push('=');
            encode_component(&mut url, v);
        };
        param("client-id", &self.state.client_id);
        param("codec", self.opts.codec.name());
        if let Some(token) = &self.creds.csrf_token {
            param("csrf-token", token);
        }
        for (k, v) in self.opts.params.iter().chain(&self.creds.params) {
            param(k, v);
        }
        if handshake {
            param("handshake", "1");
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
