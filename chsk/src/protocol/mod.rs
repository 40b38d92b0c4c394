//! The wire protocol: pure data, no IO. See `PROTOCOL.md` at the repository root.

mod frame;
#[cfg(any(feature = "server", feature = "client"))]
pub(crate) mod keepalive;
mod position;
#[cfg(feature = "server")]
pub(crate) mod raw;

pub use frame::{EventFrame, Frame, Handshake, PushRun, ReplyError, ReplyErrorKind, ReplyId};
pub use position::{format_since, parse_since, Position, SinceError, StreamKind, VERSION};
