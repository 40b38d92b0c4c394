//! All rejections of `#[chsk::handler]`: not `async`, methods, generics, `unsafe`, a context
//! parameter in the wrong place.

use syn::FnArg;

use super::ast::{ctx_state, HandlerFn};
use crate::ctxt::Ctxt;

/// Runs every check; errors go to `cx`.
pub(crate) fn check(cx: &Ctxt, input: &HandlerFn<'_>) {
    let sig = &input.original.sig;
    if sig.asyncness.is_none() {
        cx.error_spanned_by(sig.fn_token, "`#[chsk::handler]` requires an `async fn`");
    }
    if let Some(unsafety) = &sig.unsafety {
        cx.error_spanned_by(unsafety, "`#[chsk::handler]` does not support `unsafe fn`");
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(
            abi,
            "`#[chsk::handler]` does not support `extern` functions",
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(
            variadic,
            "`#[chsk::handler]` does not support variadic functions",
        );
    }
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(
            &sig.generics,
            "`#[chsk::handler]` does not support generic functions",
        );
    } else if let Some(where_clause) = &sig.generics.where_clause {
        cx.error_spanned_by(
            where_clause,
            "`#[chsk::handler]` does not support generic functions",
        );
    }
    for arg in &sig.inputs {
        if let FnArg::Receiver(receiver) = arg {
            cx.error_spanned_by(
                receiver,
                "`#[chsk::handler]` cannot be applied to a method: remove `self`, \
                 a handler is a free `async fn`",
            );
        }
    }
    for param in &input.params {
        if let syn::Type::Reference(reference) = &*param.ty {
            if ctx_state(&reference.elem).is_some() {
                cx.error_spanned_by(
                    &param.ty,
                    "take the context by value: `cx: chsk::Ctx<S>` (it is cheap to clone)",
                );
                continue;
            }
        }
        if ctx_state(&param.ty).is_some() {
            cx.error_spanned_by(
                &param.ty,
                "the context `chsk::Ctx<S>` must be the first parameter",
            );
        }
    }
}
