//! The core's HTTP requests (Ajax handshake, long-poll GETs, POSTed frames) on `fetch`.

use chsk::client::runtime::{HttpAnswer, HttpError, HttpMethod, HttpRequest};
use futures::future::LocalBoxFuture;
use web_sys::AbortController;

use crate::{
    ajax::Ajax,
    error::{js_text, AjaxError},
    page,
};

/// Performs one request. Dropping the future aborts the `fetch` (the driver drops a poll when
/// its connection closes). While the page unloads nothing is sent and nothing is reported.
pub(crate) fn http(request: HttpRequest) -> LocalBoxFuture<'static, Result<HttpAnswer, HttpError>> {
    Box::pin(async move {
        if page::unloading() {
            return std::future::pending().await;
        }
        let controller = AbortController::new().map_err(|e| HttpError::Failed(js_text(&e)))?;
        let _abort = AbortOnDrop(controller.clone());
        let mut ajax = match request.method {
            HttpMethod::Get => Ajax::get(request.url),
            HttpMethod::Post => Ajax::post(request.url),
        }
        .timeout(request.timeout);
        for (name, value) in &request.headers {
            ajax = ajax.header(name, value);
        }
        if let Some(body) = request.body {
            ajax = ajax.body(body);
        }
        let result = ajax.send_with(&controller).await;
        if page::unloading() {
            return std::future::pending().await;
        }
        match result {
            Ok(answer) => Ok(answer),
            Err(AjaxError::Timeout) => Err(HttpError::Timeout),
            Err(e) => Err(HttpError::Failed(e.to_string())),
        }
    })
}

struct AbortOnDrop(AbortController);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
