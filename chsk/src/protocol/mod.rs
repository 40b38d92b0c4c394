//! The wire protocol: pure data, no IO. See `PROTOCOL.md` at the repository root.

mod frame;

pub use frame::{EventFrame, Frame, Handshake, ReplyError, ReplyErrorKind, ReplyId};
