//! The query string of an Ajax (or WebSocket handshake) request, as the server parses it with
//! `HandshakeRequest::new`. Checks `query` against an independent percent-decoder and
//! `client_id` against the rule of PROTOCOL.md section 1.
#![no_main]

use chsk::server::HandshakeRequest;
use libfuzzer_sys::fuzz_target;

/// The reference: `&`-separated `key=value` pairs (no `=`: empty value; empty pairs skipped),
/// `+` is a space, `%XY` with two hex digits is a byte, any other `%` is itself, and the bytes
/// are read as UTF-8 with replacement characters.
fn reference(query: &str) -> Vec<(String, String)> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
            }
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.find('=') {
            Some(i) => (decode(&kv[..i]), decode(&kv[i + 1..])),
            None => (decode(kv), String::new()),
        })
        .collect()
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(request) = http::Request::get(format!("/chsk?{text}")).body(()) else {
        return; // not a valid URI: the HTTP server rejects it before chsk sees it
    };
    let (parts, ()) = request.into_parts();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let req = HandshakeRequest::new(parts);
    let pairs = reference(&query);

    let mut names = vec!["client-id", "csrf-token", "codec", "handshake", ""];
    names.extend(pairs.iter().take(4).map(|(k, _)| k.as_str()));
    for name in names {
        assert_eq!(
            req.query(name),
            first(&pairs, name),
            "query({name:?}) of {query:?}"
        );
    }
    let _ = req.query("codec").map(chsk::Codec::from_name);

    let valid = |id: &str| {
        (1..=128).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    match req.client_id() {
        Some(id) => {
            assert!(valid(id), "invalid client id {id:?} accepted");
            assert_eq!(Some(id), req.query("client-id"));
        }
        None => assert!(
            !req.query("client-id").is_some_and(valid),
            "valid client id rejected"
        ),
    }
});
