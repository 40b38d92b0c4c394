//! `CHSK_MACROS_DEBUG=1` prints every expansion to stderr (axum's `AXUM_MACROS_DEBUG`).

use proc_macro2::TokenStream;

/// Prints `tokens` when `CHSK_MACROS_DEBUG` is set to anything but `0` or empty.
pub(crate) fn maybe_print(macro_name: &str, item: &dyn std::fmt::Display, tokens: &TokenStream) {
    let on = std::env::var_os("CHSK_MACROS_DEBUG").is_some_and(|v| !v.is_empty() && v != "0");
    if on {
        eprintln!("// #[chsk::{macro_name}] expansion of `{item}`\n{tokens}\n");
    }
}
