//! An error accumulator, so that every recoverable error is reported in one build (serde's
//! `Ctxt`).

use std::{cell::RefCell, fmt::Display, thread};

use proc_macro2::Span;
use quote::ToTokens;

/// Collects errors while parsing and validating; [`Ctxt::check`] must be called at the end.
pub(crate) struct Ctxt {
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Self {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records an error spanned at the tokens of `obj`.
    pub(crate) fn error_spanned_by<A: ToTokens, T: Display>(&self, obj: A, msg: T) {
        self.syn_error(syn::Error::new_spanned(obj.into_token_stream(), msg));
    }

    /// Records an error at `span`.
    pub(crate) fn error_at<T: Display>(&self, span: Span, msg: T) {
        self.syn_error(syn::Error::new(span, msg));
    }

    /// Records an error from syn.
    pub(crate) fn syn_error(&self, err: syn::Error) {
        if let Some(errors) = self.errors.borrow_mut().as_mut() {
            errors.push(err);
        }
    }

    /// Consumes the context: every recorded error combined into one, if any.
    pub(crate) fn check(self) -> syn::Result<()> {
        let errors = self.errors.borrow_mut().take().unwrap_or_default();
        let mut errors = errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for rest in errors {
            combined.combine(rest);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !thread::panicking() && self.errors.borrow().is_some() {
            panic!("forgot to check for errors");
        }
    }
}

/// Parses the annotated item; on a syntax error, returns the error followed by the input
/// unchanged, so the item still exists and its uses add no errors of their own.
pub(crate) fn parse_item(
    input: proc_macro2::TokenStream,
) -> Result<syn::Item, proc_macro2::TokenStream> {
    syn::parse2(input.clone()).map_err(|err| {
        let mut out = err.into_compile_error();
        out.extend(input);
        out
    })
}
