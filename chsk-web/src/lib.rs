//! The browser (wasm32) client of chsk: typed realtime events over WebSocket with an automatic
//! Ajax long-poll fallback.
//!
//! [`Client`] wraps chsk's runtime-neutral client ([`chsk::client`]): every decision
//! (reconnects, backoff, `Auto` fallback, keep-alive, reply timeouts, state) is made there; this
//! crate adds the browser's transports and timers ([`WebIo`]: `web_sys::WebSocket`, `fetch`,
//! `setTimeout`, `performance.now()`), the CSRF token from the page's
//! `<meta name="csrf-token">`, no reconnect while the page unloads, and an [`Ajax`] helper for
//! large payloads over plain HTTP.
//!
//! It builds for `wasm32-unknown-unknown`; on other targets it compiles (so workspace-wide
//! checks pass) but must not be run.

mod ajax;
mod client;
mod error;
mod page;
mod poll;
mod rt;
mod ws;

pub use ajax::{Ajax, AjaxResponse};
pub use client::Client;
pub use error::AjaxError;
pub use page::csrf_token_from_meta;
pub use rt::WebIo;

#[doc(no_inline)]
pub use chsk::client::{
    ClientOptions, ClientState, CloseReason, StateChange, Transport, TransportMode,
};
#[doc(no_inline)]
pub use chsk::{cb_success, CbError};
