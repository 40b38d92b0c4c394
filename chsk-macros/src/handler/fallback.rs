//! What `#[chsk::handler]` emits when the function is rejected: the errors and, when the event
//! path is valid, the unit struct with a placeholder `Handler` impl whose body is
//! `unreachable!()`, so registering the handler does not add errors (thiserror's
//! `fallback.rs`). Without a valid path, or for a method, the function is emitted unchanged.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};

use super::{ast::HandlerFn, expand::impl_state};

/// The errors, and the struct with a placeholder impl (or the function as written).
pub(crate) fn expand(input: &HandlerFn<'_>, errors: syn::Error) -> TokenStream {
    let errors = errors.into_compile_error();
    let f = input.original;
    // A method lives in an `impl` block, where no struct can be declared.
    let is_method = f.sig.receiver().is_some();
    let Some(args) = input.args.as_ref().filter(|_| !is_method) else {
        return quote!(#errors #f);
    };
    let (vis, ident, variant, k) = (
        &f.vis,
        input.ident,
        args.variant.to_token_stream(),
        &args.krate,
    );
    let (impl_generics, state) = impl_state(input);
    quote! {
        #errors

        #[allow(non_camel_case_types)]
        #vis struct #ident;

        impl #impl_generics #k::Handler<#state> for #ident {
            type Variant = #variant;

            fn call(
                &self,
                _: #k::Ctx<#state>,
                _: <Self::Variant as #k::Variant>::Fields,
            ) -> #k::handler::BoxFuture<<Self::Variant as #k::Variant>::Output> {
                ::core::unreachable!()
            }
        }
    }
}
