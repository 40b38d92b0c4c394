//! The events shared by chsk-web's browser tests (`chsk-web/tests/`) and the test server
//! (`src/main.rs`, started by `scripts/browser-tests.sh`).
//!
//! The server listens on [`CHSK_ADDR`] (the chsk routes; CORS allows any origin, since the test
//! page is served by wasm-bindgen-test-runner on another port) and [`CONTROL_ADDR`] (test
//! control: `POST /restart?down_ms=N` drops every connection and all server state, keeps the
//! port closed for N ms, then serves again, like a server restart; `POST /cut?down_ms=N` cuts
//! every connection through the relay and refuses new ones for N ms, like a network outage).
//!
//! [`RELAY_ADDR`] forwards every TCP connection to [`CHSK_ADDR`], byte for byte, so a test can
//! cut its client's connections (`/cut`: no WebSocket close, no HTTP answer, as when a network
//! drops) while other clients, connected to [`CHSK_ADDR`] directly, go on.
//!
//! Routes on [`CHSK_ADDR`]:
//! - `/chsk`: postcard codec, user id from the `uid` query parameter, CSRF token `test-token`
//!   (query parameter or header);
//! - `/chsk-json`: the same with the JSON codec;
//! - `/chsk-short`: like `/chsk`, but its history keeps only [`SHORT_HISTORY`] pushes per stream
//!   (the "away for too long: not recovered" test);
//! - `/chsk-nows`: like `/chsk`, but WebSocket upgrades are refused with `403` (the Auto
//!   fallback test);
//! - `/chsk-refuse`: refuses every GET with `403 closed for maintenance` (whatever the token);
//! - `/big`: a plain GET returning [`BIG_LEN`] bytes (the `Ajax` helper test);
//! - `/slow?ms=N`: answers after N ms;
//! - `/connected`: the user ids connected to `/chsk`, one a line;
//! - `/attempts?client-id=X`: how many requests (GET, POST, WebSocket upgrades) of client X
//!   reached `/chsk`;
//! - `/csrf-token`: the CSRF token (for `chsk_web::refresh_csrf_from`).
//!
//! `/chsk` answers a POSTed event whose id is in the `stray/` namespace with
//! `400 unknown event id` (a stand-in until the server itself answers unknown Ajax events so).

// Fixed ports below Linux's ephemeral range (32768–60999): a port in it may be held by a
// client socket of an earlier test (TIME_WAIT) when the test server starts.

/// Where the chsk routes listen.
pub const CHSK_ADDR: &str = "127.0.0.1:28471";
/// The relay in front of [`CHSK_ADDR`], whose connections `POST /cut` cuts.
pub const RELAY_ADDR: &str = "127.0.0.1:28473";
/// Where the control routes listen.
pub const CONTROL_ADDR: &str = "127.0.0.1:28472";
/// The CSRF token the server expects.
pub const CSRF_TOKEN: &str = "test-token";
/// How many pushes per stream the history of `/chsk-short` keeps.
pub const SHORT_HISTORY: usize = 3;
/// The size of the `/big` body.
pub const BIG_LEN: usize = 200_000;

/// Client → server events of the tests.
#[chsk::events(ns = "test")]
#[derive(Debug, Clone, PartialEq)]
pub enum TestEvent {
    /// Replies with the same text.
    #[reply(String)]
    Echo(String),
    /// Replies after `ms` milliseconds.
    #[reply(u32)]
    Sleep {
        /// How long the handler waits.
        ms: u32,
    },
    /// Replies with the caller's user id.
    #[reply(Option<String>)]
    WhoAmI,
    /// The server pushes [`TestPush::Said`] with this text to every client of the caller's user.
    PushMe(String),
}

/// Server → client pushes of the tests.
#[chsk::events(ns = "test")]
#[derive(Debug, Clone, PartialEq)]
pub enum TestPush {
    /// Pushed in answer to [`TestEvent::PushMe`].
    Said(String),
}
