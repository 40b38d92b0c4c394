//! What `#[chsk::events]` emits when the input is rejected: the errors, the enum itself, an
//! `impl Event` whose bodies are `unreachable!()`, the generated module and the hidden macro
//! that handlers use, so that uses of the enum (variant structs, `#[chsk::handler]`s) do not
//! cascade into more errors (thiserror's `fallback.rs`).

use proc_macro2::TokenStream;
use quote::quote;

use super::{ast::EventsEnum, expand::stripped_enum};

/// The errors, the enum, a placeholder `Event` impl, the module and the handlers' macro (only
/// the errors and the enum for a generic enum).
pub(crate) fn expand(model: &EventsEnum<'_>, errors: syn::Error) -> TokenStream {
    let krate = &model.krate;
    let errors = errors.into_compile_error();
    let item = stripped_enum(model.original, krate);
    let generics = &item.generics;
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        return quote!(#errors #item);
    }
    let ident = &item.ident;
    let name = ident.to_string();
    let module = super::variants::expand(model);
    let callback = super::callback::expand(model);
    quote! {
        #errors
        #item
        #callback
        #module

        #[allow(unused_variables, clippy::all)]
        const _: () = {
            impl #krate::Event for #ident {
                const NAME: &'static ::core::primitive::str = #name;
                const IDS: &'static [&'static ::core::primitive::str] = &[];

                fn id(&self) -> &'static ::core::primitive::str {
                    ::core::unreachable!()
                }

                fn index(&self) -> ::core::primitive::usize {
                    ::core::unreachable!()
                }

                fn encode_payload(
                    &self,
                    codec: #krate::Codec,
                ) -> ::core::result::Result<#krate::Payload, #krate::CodecError> {
                    ::core::unreachable!()
                }

                fn decode(
                    id: &::core::primitive::str,
                    payload: &#krate::Payload,
                    codec: #krate::Codec,
                ) -> ::core::result::Result<Self, #krate::DecodeError> {
                    ::core::unreachable!()
                }
            }
        };
    }
}
