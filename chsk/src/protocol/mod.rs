//! The wire protocol: pure data, no IO. See `PROTOCOL.md` at the repository root.

mod frame;
#[cfg(any(feature = "server", feature = "client"))]
pub(crate) mod keepalive;

pub use frame::{EventFrame, Frame, Handshake, ReplyError, ReplyErrorKind, ReplyId};
