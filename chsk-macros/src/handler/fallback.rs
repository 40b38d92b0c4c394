//! What `#[chsk::handler]` emits when the function is rejected: the errors and, when the event
//! path is valid, the hidden handler type and the function of the user's name, with a placeholder `Handler` impl whose body is
//! `unreachable!()`, so registering the handler does not add errors (thiserror's
//! `fallback.rs`). Without a valid path, or for a method, the function is emitted unchanged.

use proc_macro2::TokenStream;
use quote::quote;

use super::{
    ast::HandlerFn,
    expand::{cfgs, hidden_type, impl_state, item_fn, item_type},
};

/// The errors, and the hidden type, the function and a placeholder impl (or the function as
/// written).
pub(crate) fn expand(input: &HandlerFn<'_>, errors: syn::Error) -> TokenStream {
    let errors = errors.into_compile_error();
    let f = input.original;
    // A method lives in an `impl` block, where no struct can be declared.
    let is_method = f.sig.receiver().is_some();
    let Some(args) = input.args.as_ref().filter(|_| !is_method) else {
        return quote!(#errors #f);
    };
    let (vis, ident, k) = (&f.vis, input.ident, &args.krate);
    let hidden = hidden_type(ident);
    let (impl_generics, state) = impl_state(input);
    let cfgs = cfgs(f);
    let item_type = item_type(vis, ident, &cfgs);
    let item_fn = item_fn(
        k,
        vis,
        ident,
        quote!(#[doc = " A `#[chsk::handler]`."]),
        &cfgs,
    );
    let variant = args.variant_type(true);
    let placeholder = quote! {
        impl #impl_generics #k::Handler<#state> for #hidden {
            type Variant = #variant;

            fn call(
                &self,
                _: #k::Ctx<#state>,
                _: <Self::Variant as #k::Variant>::Fields,
            ) -> #k::handler::BoxFuture<<Self::Variant as #k::Variant>::Output> {
                ::core::unreachable!()
            }
        }
    };
    quote! {
        #errors

        #item_type
        #item_fn

        #cfgs
        #placeholder
    }
}
