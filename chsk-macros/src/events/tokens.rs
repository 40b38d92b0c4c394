//! Small token helpers shared by the expansion: field bindings, patterns, raw identifiers.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use syn::Ident;

use super::ast::{Field, Shape};

/// Binding names for a variant's fields: `__chsk_f0`, `__chsk_f1`, ..
pub(super) fn bindings(fields: &[Field<'_>]) -> Vec<TokenStream> {
    (0..fields.len())
        .map(|i| format_ident!("__chsk_f{}", i).into_token_stream())
        .collect()
}

/// `Path`, `Path(a, b)` or `Path { x: a, y: b }` for the given shape and values.
pub(super) fn pattern(path: TokenStream, shape: &Shape<'_>, values: &[TokenStream]) -> TokenStream {
    match shape {
        Shape::Unit => path,
        Shape::Tuple(_) => quote!(#path(#(#values),*)),
        Shape::Struct(fields) => {
            let names = fields.iter().map(|f| f.ident);
            quote!(#path { #(#names: #values),* })
        }
    }
}

/// An identifier without its `r#` prefix.
pub(super) fn unraw(ident: &Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
}
