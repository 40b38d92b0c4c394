//! The page's clock, timers, randomness and executor: `performance.now()`, `setTimeout`,
//! `crypto.getRandomValues` and `spawn_local`.

use std::time::Duration;

use gloo_timers::future::TimeoutFuture;

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
