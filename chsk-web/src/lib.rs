#![doc = include_str!("../README.md")]

mod ajax;
mod connect;
mod credentials;
mod error;
mod page;
mod poll;
mod rt;
mod web_io;
mod ws;

pub use ajax::{Ajax, AjaxResponse};
pub use connect::{connect, connect_with_credentials, ClientExt};
pub use credentials::refresh_csrf_from;
pub use error::AjaxError;
pub use page::csrf_token_from_meta;
pub use web_io::WebIo;

#[doc(no_inline)]
pub use chsk::client::{
    Client, ClientMetrics, ClientOptions, ClientState, CloseReason, Credentials,
    CredentialsRequest, Recovery, RecvError, Refusal, ServerError, StateChange, TransportMode,
};
#[doc(no_inline)]
pub use chsk::{cb_success, CbError, Transport};
