//! The browser runtime under the client: [`WebIo`] implements [`ClientIo`] with the page's
//! clock and timers (`rt`), `web_sys::WebSocket` (`ws`) and `fetch` (`poll`).

use std::time::Duration;

use chsk::client::runtime::{
    ClientIo, HttpAnswer, HttpError, HttpRequest, WsConnection, WsOpenError,
};
use futures::future::LocalBoxFuture;
use gloo_timers::future::TimeoutFuture;

use crate::{poll, rt, ws};

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
        ws::connect(url.to_string(), binary)
    }

    fn http(&self, request: HttpRequest) -> Self::Http {
        poll::http(request)
    }

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        rt::sleep(duration)
    }

    fn now(&self) -> Duration {
        rt::now()
    }

    fn seed(&self) -> u64 {
        rt::seed()
    }
}
