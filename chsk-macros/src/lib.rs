//! Proc macros for chsk. Use them through the `chsk` crate.
use proc_macro::TokenStream;

/// Declares an event enum. See `chsk` docs.
#[proc_macro_attribute]
pub fn events(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Binds an async fn to one event variant. See `chsk` docs.
#[proc_macro_attribute]
pub fn handler(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
