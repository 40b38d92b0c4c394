#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "client")]
pub mod client;
pub mod codec;
pub mod error;
pub mod event;
pub mod protocol;
#[cfg(feature = "server")]
pub mod server;
mod transport;

#[doc = include_str!("../docs/getting-started.md")]
pub mod guide {}

/// The repository's README, so that its example is compiled by the doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod repository_readme {}

#[doc(hidden)]
pub mod __private;

#[doc(inline)]
pub use codec::{Codec, Payload};
#[doc(inline)]
pub use error::{cb_success, CbError, CodecError, DecodeError};
#[doc(inline)]
pub use event::{Event, Request, Variant};
#[cfg(feature = "server")]
pub use server::handler;
#[cfg(feature = "server")]
#[doc(inline)]
pub use server::handler::{Ctx, Handler};
pub use transport::Transport;

#[cfg(feature = "server")]
#[doc(inline)]
pub use server::Server;

#[cfg(feature = "client")]
#[doc(inline)]
pub use client::{Client, ClientOptions};

#[cfg(feature = "macros")]
pub use chsk_macros::{events, handler};
