//! Errors: the reply outcome [`CbError`] and the codec/decoding errors.

use std::fmt;

/// Why a request did not get a successful reply.
///
/// These mirror Sente's `:chsk/closed`, `:chsk/timeout` and `:chsk/error` reply sentinels.
///
/// ```
/// use chsk::CbError;
/// let r: Result<u32, CbError> = Err(CbError::Timeout);
/// assert!(!chsk::cb_success(&r));
/// assert!(chsk::cb_success(&Ok::<u32, CbError>(1)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CbError {
    /// The connection was closed (or never open) when the request was sent, or it closed before
    /// the reply arrived.
    #[error("the connection is closed")]
    Closed,
    /// No reply arrived within the timeout.
    #[error("no reply within the timeout")]
    Timeout,
    /// The server answered with an error (unknown event, handler failure, bad payload), or the
    /// reply could not be decoded.
    #[error("{0}")]
    Error(String),
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

impl From<DecodeError> for CbError {
    fn from(e: DecodeError) -> Self {
        CbError::Error(e.to_string())
    }
}

impl From<CodecError> for CbError {
    fn from(e: CodecError) -> Self {
        CbError::Error(e.to_string())
    }
}
