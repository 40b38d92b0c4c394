//! The hidden `macro_rules!` that lets `#[chsk::handler(ChatEvent::History)]` see the enum:
//! its variants and their field names (see `crate::bind`).
//!
//! It is `#[macro_export]`ed under a name unique to the enum and re-exported next to the enum
//! under the enum's own name (the macro namespace), and inside the generated module as
//! `__chsk_events`, so the handler reaches it through the path it was given.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::Ident;

use super::{
    ast::{EventsEnum, Shape},
    tokens::unraw,
};

/// The name of the exported macro: `__chsk_events_ChatEvent_<hash>`, the hash of the enum's
/// tokens and of where it is written, so two enums of the same name in one crate differ.
pub(crate) fn macro_name(input: &EventsEnum<'_>) -> Ident {
    let tokens = format!(
        "{} {:?}",
        input.original.to_token_stream(),
        input.ident.span()
    );
    let hash = crate::hash::variant_hash(&tokens);
    format_ident!(
        "__chsk_events_{}_{:016x}",
        unraw(input.ident),
        hash,
        span = Span::call_site()
    )
}

/// `macro_rules! __chsk_events_..` and its re-export under the enum's name.
pub(crate) fn expand(input: &EventsEnum<'_>) -> TokenStream {
    let name = macro_name(input);
    let enum_name = unraw(input.ident);
    let variants = input.variants.iter().map(|v| {
        let variant = unraw(v.ident);
        let shape = match &v.shape {
            Shape::Unit => TokenStream::new(),
            Shape::Tuple(fields) => {
                let types = fields.iter().map(|f| type_string(f.ty));
                quote!(( #(#types),* ))
            }
            Shape::Struct(fields) => {
                let fields = fields.iter().map(|f| {
                    let name = f.ident.map(unraw).unwrap_or_default();
                    let ty = type_string(f.ty);
                    quote!(#name: #ty)
                });
                quote!({ #(#fields),* })
            }
        };
        quote!(#variant #shape)
    });
    let (vis, ident) = (input.vis, input.ident);
    quote! {
        #[doc(hidden)]
        #[macro_export]
        macro_rules! #name {
            ([$($chsk:tt)*] $($handler:tt)*) => {
                $($chsk)*::__private::bind! {
                    #enum_name { #(#variants)* }
                    [$($chsk)*]
                    $($handler)*
                }
            };
        }

        #[doc(hidden)]
        #[allow(unused_imports)]
        #vis use #name as #ident;
    }
}

/// A type as text for messages: `Vec<Message>`, not `Vec < Message >`.
fn type_string(ty: &syn::Type) -> String {
    let mut out = ty.to_token_stream().to_string();
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" < ", "<"),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
    ] {
        out = out.replace(from, to);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::type_string;

    #[test]
    fn types_as_text() {
        let text = |ty: &str| type_string(&syn::parse_str(ty).unwrap());
        assert_eq!(text("String"), "String");
        assert_eq!(text("Vec<Message>"), "Vec<Message>");
        assert_eq!(
            text("std::collections::HashMap<String, Vec<u8>>"),
            "std::collections::HashMap<String, Vec<u8>>"
        );
        assert_eq!(text("&'static str"), "&'static str");
        assert_eq!(text("(u8, [u8; 4])"), "(u8, [u8; 4])");
        assert_eq!(text("Option<&mut ()>"), "Option<&mut ()>");
    }
}
