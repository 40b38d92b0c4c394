//! A small `fetch` helper: for large payloads over plain HTTP (Sente's advice: signal over the
//! socket, fetch big data with a plain request), and the transport of the Ajax long-poll.

use std::time::Duration;

use futures::future::{select, Either};
use js_sys::Uint8Array;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, RequestInit, Response};

use crate::{
    error::{is_abort, js_text, AjaxError},
    page, rt,
};

/// One HTTP request made with the browser's `fetch`.
///
/// ```no_run
/// # async fn f() -> Result<(), chsk_web::AjaxError> {
/// use std::time::Duration;
/// let rows: Vec<String> = chsk_web::Ajax::get("/report")
///     .query("room", "lobby")
///     .timeout(Duration::from_secs(30))
///     .send()
///     .await?
///     .decode(chsk::Codec::Postcard)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until `.send().await`"]
pub struct Ajax {
    method: &'static str,
    url: String,
    has_query: bool,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    timeout: Option<Duration>,
}

/// The response to an [`Ajax`] request whose status was in `200..300`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AjaxResponse {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl AjaxResponse {
    /// Decodes the body with `codec` (e.g. the server's chsk codec).
    pub fn decode<T: DeserializeOwned>(&self, codec: chsk::Codec) -> Result<T, AjaxError> {
        Ok(codec.decode(&self.body)?)
    }

    /// The body as text (invalid UTF-8 is replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Ajax {
    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url.into())
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url.into())
    }

    fn new(method: &'static str, url: String) -> Self {
        Self {
            method,
            has_query: url.contains('?'),
            url,
            headers: Vec::new(),
            body: None,
            timeout: None,
        }
    }

    /// Appends a query parameter (percent-encoded).
    pub fn query(mut self, key: &str, value: &str) -> Self {
        self.url.push(if self.has_query { '&' } else { '?' });
        self.has_query = true;
        self.url
            .push_str(&String::from(js_sys::encode_uri_component(key)));
        self.url.push('=');
        self.url
            .push_str(&String::from(js_sys::encode_uri_component(value)));
        self
    }

    /// Sets a request header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends the CSRF token in the `x-csrf-token` header: `token`, or when `None` the page's
    /// `<meta name="csrf-token">` (nothing when the page has none).
    pub fn csrf(self, token: Option<&str>) -> Self {
        match token
            .map(str::to_string)
            .or_else(page::csrf_token_from_meta)
        {
            Some(t) => self.header("x-csrf-token", &t),
            None => self,
        }
    }

    /// The request body, sent as `application/octet-stream` unless a `content-type` header is
    /// set.
    pub fn body(mut self, bytes: Vec<u8>) -> Self {
        self.body = Some(bytes);
        self
    }

    /// Aborts the request when no response arrived within `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request; a status outside `200..300` is [`AjaxError::Status`].
    pub async fn send(self) -> Result<AjaxResponse, AjaxError> {
        let controller = AbortController::new().map_err(|e| AjaxError::Network(js_text(&e)))?;
        let resp = self.send_with(&controller).await?;
        if (200..300).contains(&resp.status) {
            Ok(AjaxResponse {
                status: resp.status,
                body: resp.body,
            })
        } else {
            Err(AjaxError::Status {
                status: resp.status,
                body: String::from_utf8_lossy(&resp.body).into_owned(),
            })
        }
    }

    /// Sends the request and returns the answer whatever its status;
    /// `controller.abort()` ends it with [`AjaxError::Aborted`].
    pub(crate) async fn send_with(
        self,
        controller: &AbortController,
    ) -> Result<chsk::client::runtime::HttpAnswer, AjaxError> {
        let Some(timeout) = self.timeout else {
            return self.fetch(controller).await;
        };
        let fetch = std::pin::pin!(self.fetch(controller));
        let timer = std::pin::pin!(rt::sleep(timeout));
        match select(fetch, timer).await {
            Either::Left((result, _)) => result,
            Either::Right(((), _)) => {
                controller.abort();
                Err(AjaxError::Timeout)
            }
        }
    }

    async fn fetch(
        self,
        controller: &AbortController,
    ) -> Result<chsk::client::runtime::HttpAnswer, AjaxError> {
        let net = |e: wasm_bindgen::JsValue| {
            if is_abort(&e) {
                AjaxError::Aborted
            } else {
                AjaxError::Network(js_text(&e))
            }
        };
        let window = web_sys::window().ok_or_else(|| AjaxError::Network("no window".into()))?;
        let init = RequestInit::new();
        init.set_method(self.method);
        init.set_signal(Some(&controller.signal()));
        let headers = Headers::new().map_err(net)?;
        for (name, value) in &self.headers {
            headers.set(name, value).map_err(net)?;
        }
        if let Some(body) = &self.body {
            if !self
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            {
                headers
                    .set("content-type", "application/octet-stream")
                    .map_err(net)?;
            }
            init.set_body(&Uint8Array::from(body.as_slice()));
        }
        init.set_headers(&headers);
        let response = JsFuture::from(window.fetch_with_str_and_init(&self.url, &init))
            .await
            .map_err(net)?;
        let response: Response = response.dyn_into().map_err(net)?;
        let buf = JsFuture::from(response.array_buffer().map_err(net)?)
            .await
            .map_err(net)?;
        let body = Uint8Array::new(&buf).to_vec();
        // Readable cross-origin only when the server exposes it (same origin: always).
        let retry_after = response
            .headers()
            .get("retry-after")
            .ok()
            .flatten()
            .and_then(|v| chsk::client::runtime::parse_retry_after(&v));
        Ok(chsk::client::runtime::HttpAnswer {
            status: response.status(),
            body,
            retry_after,
        })
    }
}
