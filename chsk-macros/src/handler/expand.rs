//! Code generation for `#[chsk::handler]`. Never reports user errors: everything it gets has
//! passed `valid.rs`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

use super::{ast::HandlerFn, attr::Args};
use crate::symbol::{CFG, DOC};

/// Generates the hidden handler type, its inherent `run` (the function as written), the
/// function of the user's name that returns the handler, and the `Handler` impl.
pub(crate) struct Generator<'a> {
    input: &'a HandlerFn<'a>,
    args: &'a Args,
    variant_span: Span,
    krate: syn::Path,
}

impl ToTokens for Generator<'_> {
    fn to_tokens(&self, output: &mut TokenStream) {
        output.extend([
            self.item_type(),
            self.item_fn(),
            self.impl_run(),
            self.impl_handler(),
        ]);
    }
}

/// `__chsk_handler_history`: the hidden handler type of `history`.
pub(crate) fn hidden_type(ident: &syn::Ident) -> syn::Ident {
    format_ident!("__chsk_handler_{}", ident)
}

/// The function's `#[cfg(..)]` attributes, repeated on every generated item.
pub(crate) fn cfgs(f: &syn::ItemFn) -> TokenStream {
    let cfgs = f.attrs.iter().filter(|a| a.path() == CFG);
    quote!(#(#cfgs)*)
}

/// `#[doc(hidden)] struct __chsk_handler_history;`, with the function's visibility.
pub(crate) fn item_type(
    vis: &syn::Visibility,
    ident: &syn::Ident,
    cfgs: &TokenStream,
) -> TokenStream {
    let hidden = hidden_type(ident);
    quote! {
        #cfgs
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
        #vis struct #hidden;
    }
}

/// `fn history(_: HandlerToken) -> __chsk_handler_history`: a function item, so `let history`
/// may shadow it (a unit struct cannot be shadowed), and `.handler(history)` registers it.
pub(crate) fn item_fn(
    krate: &syn::Path,
    vis: &syn::Visibility,
    ident: &syn::Ident,
    docs: TokenStream,
    cfgs: &TokenStream,
) -> TokenStream {
    let hidden = hidden_type(ident);
    quote! {
        #cfgs
        #docs
        #[inline]
        #[must_use]
        #vis fn #ident(_: #krate::__private::HandlerToken) -> #hidden {
            #hidden
        }
    }
}

impl<'a> Generator<'a> {
    pub(crate) fn new(input: &'a HandlerFn<'a>, args: &'a Args) -> Self {
        Self {
            input,
            args,
            variant_span: args.variant_span,
            krate: args.krate.clone(),
        }
    }

    fn item_type(&self) -> TokenStream {
        let f = self.input.original;
        item_type(&f.vis, self.input.ident, &cfgs(f))
    }

    /// `pub fn history(..) -> __chsk_handler_history`, with the function's docs.
    fn item_fn(&self) -> TokenStream {
        let f = self.input.original;
        let ident = self.input.ident;
        let docs: Vec<&syn::Attribute> = f.attrs.iter().filter(|a| a.path() == DOC).collect();
        let docs = if docs.is_empty() {
            let written = self.variant_written();
            let doc = format!(
                " The `#[chsk::handler]` of `{written}`: register it with \
                 `.handler({ident})`; `chsk::handler::of({ident}).run(..)` calls the function \
                 as written."
            );
            quote!(#[doc = #doc])
        } else {
            quote!(#(#docs)*)
        };
        item_fn(&self.krate, &f.vis, ident, docs, &cfgs(f))
    }

    /// `impl __chsk_handler_history { pub async fn run(self, ..) -> T { .. } }`: the function
    /// as written.
    fn impl_run(&self) -> TokenStream {
        let f = self.input.original;
        let hidden = hidden_type(self.input.ident);
        let mut run = f.clone();
        run.sig.ident = syn::Ident::new("run", f.sig.ident.span());
        run.sig.inputs.insert(0, syn::parse_quote!(self));
        if !f.attrs.iter().any(|a| a.path() == DOC) {
            run.attrs
                .insert(0, syn::parse_quote!(#[doc = " The handler, as written."]));
        }
        let cfgs = cfgs(f);
        quote! {
            #cfgs
            #[allow(dead_code)]
            impl #hidden {
                #run
            }
        }
    }

    /// `impl Handler<S> for __chsk_handler_history { .. }`
    fn impl_handler(&self) -> TokenStream {
        let k = &self.krate;
        let input = self.input;
        let ident = hidden_type(input.ident);
        let (impl_generics, state) = impl_state(input);
        // Local names at the attribute's span (the destructuring, at the parameters' span,
        // names `fields` as the attribute would: user tokens have the call site's hygiene).
        let (cx, fields, self_) = (
            syn::Ident::new("cx", Span::call_site()),
            syn::Ident::new("fields", Span::call_site()),
            quote!(self),
        );
        let cx_arg = input.ctx.as_ref().map(|_| quote!(#cx,));
        let bindings: Vec<syn::Ident> = (0..input.params.len())
            .map(|i| format_ident!("__chsk_arg{}", i, span = Span::call_site()))
            .collect();
        // Each argument is converted at its parameter's type, so a parameter of another type
        // than its field is reported there, naming the field's type.
        let args = input.params.iter().zip(&bindings).map(|(param, binding)| {
            // The call runs from the type's first token to its last, so rustc underlines the
            // whole type.
            let ty = &param.ty;
            let mut tokens = ty.to_token_stream().into_iter();
            let first = tokens.next().map_or_else(|| ty.span(), |t| t.span());
            let last = tokens.last().map_or(first, |t| t.span());
            let binding = syn::Ident::new(&binding.to_string(), first);
            let mut call =
                proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, TokenStream::new());
            call.set_span(last);
            quote_spanned! {first=>
                {
                    use #k::__private::IntoParam as _;
                    #binding.__chsk_into_param::<#ty>#call
                }
            }
        });
        // The boxing is spanned at the return type: its bound ties the future's output to the
        // variant's `Output`, so a wrong return type is reported there.
        let output_span = match input.output {
            Some(ty) => ty.span(),
            None => input.original.sig.ident.span(),
        };
        let future = syn::Ident::new("__chsk_future", output_span);
        let boxed = quote_spanned! {output_span=>
            __chsk_box::<Self::Variant, _>(#future)
        };
        // The literal tokens of the impl are spanned at the variant's name. The call of `run`
        // keeps the attribute's span.
        let vspan = self.variant_span;
        let run = quote!(let #future = Self::run(*self, #cx_arg #(#args),*););
        let cfgs = cfgs(input.original);
        let variant = self.args.variant_type(false);
        let enum_check = self.args.enum_check();
        // The enum's macro checks the variant and binds the fields to the parameters (by name
        // for a struct variant, in order otherwise) before the body.
        let body = self
            .args
            .body(self.bind_params(&fields, &bindings), quote!(#run #boxed));
        quote_spanned! {vspan=>
            #cfgs
            #[automatically_derived]
            impl #impl_generics #k::Handler<#state> for #ident {
                type Variant = #variant;

                #[allow(
                    unused_variables,
                    unreachable_code,
                    clippy::let_unit_value,
                    clippy::unused_unit
                )]
                fn call(
                    &#self_,
                    #cx: #k::Ctx<#state>,
                    #fields: <Self::Variant as #k::Variant>::Fields,
                ) -> #k::handler::BoxFuture<<Self::Variant as #k::Variant>::Output> {
                    fn __chsk_box<V, F>(future: F) -> #k::handler::BoxFuture<V::Output>
                    where
                        V: #k::Variant,
                        F: ::core::future::Future<Output = V::Output>
                            + ::core::marker::Send
                            + 'static,
                    {
                        #k::__private::Box::pin(future)
                    }
                    #enum_check
                    #body
                }
            }
        }
    }

    /// `fields (/* span of the parameters */) [(__chsk_arg0 room) (__chsk_arg1 _) ..]`: what
    /// the enum's macro needs to bind the fields (`_` for a pattern that is not a name).
    fn bind_params(&self, fields: &syn::Ident, bindings: &[syn::Ident]) -> TokenStream {
        let params = self
            .input
            .params
            .iter()
            .zip(bindings)
            .map(|(param, binding)| {
                let name = match &*param.pat {
                    syn::Pat::Ident(pat) if pat.subpat.is_none() => pat.ident.to_token_stream(),
                    other => quote_spanned!(other.span()=> _),
                };
                quote!((#binding #name))
            });
        let mut span_carrier =
            proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, TokenStream::new());
        // The parentheses of the parameter list: where a missing or extra field is reported.
        span_carrier.set_span(self.input.original.sig.paren_token.span.join());
        quote!(#fields #span_carrier [#(#params)*])
    }

    fn variant_written(&self) -> String {
        match &self.input.args {
            Some(args) => args.written.to_token_stream().to_string().replace(' ', ""),
            None => String::new(),
        }
    }
}

/// The impl's generics and state type: the `Ctx<S>` parameter's `S`, or a generic state when
/// there is no context. A bare `Ctx` (no state type) also gets the generic state, and rustc's
/// own "missing generics" error on the function.
pub(crate) fn impl_state(input: &HandlerFn<'_>) -> (TokenStream, TokenStream) {
    match input.ctx.as_ref().and_then(|c| c.state) {
        Some(state) => (TokenStream::new(), state.to_token_stream()),
        None => (
            quote!(<__ChskState: ::core::marker::Send + ::core::marker::Sync + 'static>),
            quote!(__ChskState),
        ),
    }
}
