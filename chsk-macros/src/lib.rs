//! Proc macros for chsk. Use them through the `chsk` crate.

mod case;
mod ctxt;
mod debug;
mod events;
mod handler;
mod symbol;

use proc_macro::TokenStream;

/// Declares an event enum. See `chsk` docs.
#[proc_macro_attribute]
pub fn events(args: TokenStream, item: TokenStream) -> TokenStream {
    events::expand(args.into(), item.into()).into()
}

/// Binds an async fn to one event variant. See `chsk` docs.
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(args.into(), item.into()).into()
}
