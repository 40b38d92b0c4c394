//! Errors at the edge: `JsValue`s thrown by browser APIs become typed errors here.

use wasm_bindgen::{JsCast, JsValue};

/// Why an [`Ajax`](crate::Ajax) request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AjaxError {
    /// No response within the request's timeout (the request was aborted).
    #[error("no response within the timeout")]
    Timeout,
    /// The request was aborted by its owner.
    #[error("the request was aborted")]
    Aborted,
    /// The request could not be made or its body could not be read (network error, CORS,
    /// connection refused).
    #[error("network error: {0}")]
    Network(String),
    /// The server answered with a status outside `200..300`.
    #[error("HTTP {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The response body, as text.
        body: String,
    },
    /// The body could not be decoded.
    #[error("{0}")]
    Decode(#[from] chsk::CodecError),
}

/// The message of a thrown JavaScript value (an `Error`'s `message`, a string, or its debug
/// form).
pub(crate) fn js_text(value: &JsValue) -> String {
    if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

/// `true` when a thrown value is a `DOMException` named `AbortError`.
pub(crate) fn is_abort(value: &JsValue) -> bool {
    value
        .dyn_ref::<js_sys::Error>()
        .is_some_and(|e| e.name() == "AbortError")
}
