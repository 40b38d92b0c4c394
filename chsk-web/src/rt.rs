//! The browser runtime under the client core: [`WebIo`] implements [`ClientIo`] with
//! `performance.now()`, `setTimeout`, `crypto.getRandomValues`, `web_sys::WebSocket` and
//! `fetch`.

use std::time::Duration;

use chsk::client::runtime::{
    ClientIo, HttpAnswer, HttpError, HttpRequest, WsConnection, WsOpenError,
};
use futures::future::LocalBoxFuture;
use gloo_timers::future::TimeoutFuture;

/// The browser's [`ClientIo`]. [`connect`](crate::connect) uses it; it is public for
/// [`Client::with_io`](chsk::client::Client::with_io) (see [`chsk::client::runtime`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct WebIo;

impl ClientIo for WebIo {
    type Connect = LocalBoxFuture<'static, Result<WsConnection, WsOpenError>>;
    type Http = LocalBoxFuture<'static, Result<HttpAnswer, HttpError>>;
    type Sleep = TimeoutFuture;

    fn connect_ws(&self, url: &str, binary: bool, _max_message_bytes: usize) -> Self::Connect {
        // The browser gives no way to refuse a message before it is whole: the core checks
        // each message's length against `max_frame_bytes`.
        crate::ws::connect(url.to_string(), binary)
    }

    fn http(&self, request: HttpRequest) -> Self::Http {
        crate::poll::http(request)
    }

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        sleep(duration)
    }

    fn now(&self) -> Duration {
        now()
    }

    fn seed(&self) -> u64 {
        seed()
    }
}

/// Client time: since the page's time origin (`performance.now()`), monotonic.
/// (`std::time::Instant` panics on `wasm32-unknown-unknown`.)
pub(crate) fn now() -> Duration {
    let ms = web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now());
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

/// A seed from `crypto.getRandomValues`, falling back to `Math.random`.
pub(crate) fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    let ok = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if ok {
        u64::from_le_bytes(bytes)
    } else {
        (js_sys::Math::random() * u64::MAX as f64) as u64 ^ now().as_nanos() as u64
    }
}

/// A `setTimeout` future (rounded up to whole milliseconds); dropping it clears the timer.
pub(crate) fn sleep(d: Duration) -> TimeoutFuture {
    let ms = d.as_micros().div_ceil(1000);
    TimeoutFuture::new(u32::try_from(ms).unwrap_or(u32::MAX))
}

/// Runs a future on the page's event loop.
pub(crate) fn spawn(fut: impl std::future::Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(fut);
}
