//! Errors: the reply outcome [`CbError`] and the codec/decoding errors.

use std::fmt;

/// Why a request did not get a successful reply.
///
/// `Closed` and `Timeout` mirror Sente's `:chsk/closed` and `:chsk/timeout`. Sente's
/// `:chsk/error` is split by cause, so an app can `match` instead of parsing text:
///
/// - the server answered with an error reply: [`Handler`](Self::Handler),
///   [`UnknownEvent`](Self::UnknownEvent), [`BadPayload`](Self::BadPayload),
///   [`Refused`](Self::Refused) or [`Server`](Self::Server), each with the server's message
///   (the same kinds over WebSocket, over Ajax and from `Server::call_local`);
/// - it went wrong in the client: [`Encode`](Self::Encode) (before anything was sent) or
///   [`Decode`](Self::Decode) (the reply arrived but is not a `R::Reply`).
///
/// New variants may be added, so a `match` needs a `_` arm.
///
/// ```
/// use chsk::CbError;
///
/// fn explain(err: &CbError) -> String {
///     match err {
///         CbError::Closed | CbError::Timeout => "offline, try again later".to_owned(),
///         CbError::Refused { status: Some(429), .. } => "too busy, slow down".to_owned(),
///         CbError::Handler { message } => format!("the server failed: {message}"),
///         CbError::UnknownEvent { .. } | CbError::BadPayload { .. } => {
///             "client and server disagree on the events: update the app".to_owned()
///         }
///         other => other.to_string(),
///     }
/// }
///
/// let err = CbError::Handler { message: "handler for `chat/post` panicked".into() };
/// assert_eq!(explain(&err), "the server failed: handler for `chat/post` panicked");
/// assert_eq!(err.message(), Some("handler for `chat/post` panicked"));
/// assert!(!chsk::cb_success(&Err::<(), _>(CbError::Timeout)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CbError {
    /// The connection was closed (or never open) when the request was sent, or it closed (an
    /// Ajax `POST` failed without an answer) before the reply arrived. The request may or may
    /// not have reached the server.
    #[error("the connection is closed")]
    Closed,
    /// No reply arrived within the timeout (over Ajax also the server's own reply timeout,
    /// `504`).
    #[error("no reply within the timeout")]
    Timeout,
    /// The handler ran and failed: it panicked (the server logs the panic and counts it in
    /// `handler_panics`). A handler's own, expected errors belong in its reply type.
    #[error("the handler failed: {message}")]
    Handler {
        /// The server's message, e.g. ``handler for `chat/post` panicked``.
        message: String,
    },
    /// The server has no such event id, or no handler for it.
    #[error("unknown event: {message}")]
    UnknownEvent {
        /// The server's message, e.g. ``unknown event id `chat/nope` for `ChatEvent` ``.
        message: String,
    },
    /// The server could not decode the event's payload as the variant's fields (another
    /// version of the event, or a value nested deeper than the codec's depth bound).
    #[error("bad payload: {message}")]
    BadPayload {
        /// The server's message (the codec's reason).
        message: String,
    },
    /// The server (or a proxy in front of it) refused the call without running it. Over Ajax
    /// this is any HTTP error status on the `POST` but `504`: `429 too many requests in
    /// flight` or `rate limit exceeded`, `401`/`403` (the client then also asks for new
    /// credentials), `413 frame too large`, `400 malformed frame`, …
    #[error("{}", refused_text(*status, message))]
    Refused {
        /// The HTTP status, when the refusal came as an HTTP answer; `None` when it came as an
        /// error reply.
        status: Option<u16>,
        /// The server's message (the response body, trimmed and cut to 1 KiB).
        message: String,
    },
    /// The handler ran, but the server could not send its reply: the reply is larger than a
    /// frame may be (`max_send_frame_bytes`), or it could not be encoded. Counted in the
    /// server's `replies_failed`.
    #[error("the server could not reply: {message}")]
    Server {
        /// The server's message, e.g. `the reply is N bytes, more than a frame may hold (M)`.
        message: String,
    },
    /// The client could not encode the request (nothing was sent).
    #[error("could not encode the request: {0}")]
    Encode(CodecError),
    /// The reply arrived but could not be decoded as the request's reply type (the server
    /// runs another version of the events).
    #[error("could not decode the reply: {0}")]
    Decode(CodecError),
}

fn refused_text(status: Option<u16>, message: &str) -> String {
    match status {
        Some(status) => format!("refused (HTTP {status}): {message}"),
        None => format!("refused: {message}"),
    }
}

impl CbError {
    /// The server's message ([`Handler`](Self::Handler) to [`Server`](Self::Server)), or the
    /// codec's ([`Encode`](Self::Encode), [`Decode`](Self::Decode)); `None` for
    /// [`Closed`](Self::Closed) and [`Timeout`](Self::Timeout).
    ///
    /// ```
    /// let err = chsk::CbError::Refused { status: Some(429), message: "rate limit exceeded".into() };
    /// assert_eq!(err.message(), Some("rate limit exceeded"));
    /// assert_eq!(chsk::CbError::Closed.message(), None);
    /// ```
    pub fn message(&self) -> Option<&str> {
        match self {
            CbError::Closed | CbError::Timeout => None,
            CbError::Handler { message }
            | CbError::UnknownEvent { message }
            | CbError::BadPayload { message }
            | CbError::Refused { message, .. }
            | CbError::Server { message } => Some(message),
            CbError::Encode(e) | CbError::Decode(e) => Some(e.message()),
        }
    }

    /// The HTTP status of a [`Refused`](Self::Refused) call answered over HTTP (Ajax).
    ///
    /// ```
    /// let err = chsk::CbError::Refused { status: Some(403), message: "bad CSRF token".into() };
    /// assert_eq!(err.status(), Some(403));
    /// assert_eq!(chsk::CbError::Timeout.status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            CbError::Refused { status, .. } => *status,
            _ => None,
        }
    }

    /// The error reply of a refused Ajax `POST` (any status but `504`, which is a timeout).
    #[cfg(feature = "client")]
    pub(crate) fn refused(status: u16, message: impl Into<String>) -> Self {
        CbError::Refused {
            status: Some(status),
            message: message.into(),
        }
    }
}

/// `true` when `result` is a successful reply (Sente's `cb-success?`).
///
/// ```
/// assert!(chsk::cb_success(&Ok::<(), chsk::CbError>(())));
/// assert!(!chsk::cb_success(&Err::<(), _>(chsk::CbError::Closed)));
/// ```
pub fn cb_success<T>(result: &Result<T, CbError>) -> bool {
    result.is_ok()
}

/// A value could not be encoded or decoded by a [`Codec`](crate::Codec).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{codec} codec: {message}")]
pub struct CodecError {
    pub(crate) codec: &'static str,
    pub(crate) message: String,
}

impl CodecError {
    pub(crate) fn new(codec: &'static str, message: impl fmt::Display) -> Self {
        Self {
            codec,
            message: message.to_string(),
        }
    }

    /// The human-readable reason.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// An incoming `(id, payload)` pair could not be turned into a typed event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// No variant of the event enum has this id.
    #[error("unknown event id `{id}` for `{ty}`")]
    UnknownId {
        /// The id received.
        id: String,
        /// The event enum's name.
        ty: &'static str,
    },
    /// The id is known but its payload does not match the variant's fields.
    #[error("bad payload for event `{id}`: {source}")]
    BadPayload {
        /// The event id.
        id: &'static str,
        /// What the codec said.
        source: CodecError,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_cause_and_keeps_the_message() {
        let refused = CbError::Refused {
            status: Some(429),
            message: "too many requests in flight".into(),
        };
        assert_eq!(
            refused.to_string(),
            "refused (HTTP 429): too many requests in flight"
        );
        assert_eq!(refused.status(), Some(429));
        let refused = CbError::Refused {
            status: None,
            message: "no".into(),
        };
        assert_eq!(refused.to_string(), "refused: no");
        let decode = CbError::Decode(CodecError::new("postcard", "unexpected end"));
        assert_eq!(
            decode.to_string(),
            "could not decode the reply: postcard codec: unexpected end"
        );
        assert_eq!(decode.message(), Some("unexpected end"));
        assert_eq!(CbError::Timeout.message(), None);
        assert_eq!(
            CbError::Server {
                message: "too big".into()
            }
            .to_string(),
            "the server could not reply: too big"
        );
    }
}
