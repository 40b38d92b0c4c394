//! The typed model of a handler function, borrowed from syn's tree. Never emits tokens.

use syn::{FnArg, Ident, ItemFn, PatType, Type};

use super::attr::Args;
use crate::symbol::CTX;

/// An `async fn` under `#[chsk::handler(..)]`.
pub(crate) struct HandlerFn<'a> {
    pub(crate) original: &'a ItemFn,
    pub(crate) ident: &'a Ident,
    pub(crate) args: Option<Args>,
    /// The first parameter, when its type is `..::Ctx<S>`.
    pub(crate) ctx: Option<CtxParam<'a>>,
    /// The parameters that receive the variant's fields, in order.
    pub(crate) params: Vec<&'a PatType>,
    /// `-> T`, or `None` for `()`.
    pub(crate) output: Option<&'a Type>,
}

/// The context parameter `cx: chsk::Ctx<S>`.
pub(crate) struct CtxParam<'a> {
    /// `S`, or `None` when `Ctx` has no generic argument (rustc reports it).
    pub(crate) state: Option<&'a Type>,
}

impl<'a> HandlerFn<'a> {
    pub(crate) fn from_syn(original: &'a ItemFn, args: Option<Args>) -> Self {
        let typed: Vec<&PatType> = original
            .sig
            .inputs
            .iter()
            .filter_map(|arg| match arg {
                FnArg::Typed(pat) => Some(pat),
                FnArg::Receiver(_) => None,
            })
            .collect();
        let ctx = typed
            .first()
            .and_then(|param| ctx_state(&param.ty).map(|state| CtxParam { state }));
        let params = typed.into_iter().skip(usize::from(ctx.is_some())).collect();
        let output = match &original.sig.output {
            syn::ReturnType::Default => None,
            syn::ReturnType::Type(_, ty) => Some(&**ty),
        };
        Self {
            original,
            ident: &original.sig.ident,
            args,
            ctx,
            params,
            output,
        }
    }
}

/// `Some(state)` when `ty`'s last path segment is `Ctx` (`Some(None)` for a bare `Ctx`).
pub(crate) fn ctx_state(ty: &Type) -> Option<Option<&Type>> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != CTX {
        return None;
    }
    let state = match &last.arguments {
        syn::PathArguments::AngleBracketed(args) if args.args.len() == 1 => {
            match args.args.first() {
                Some(syn::GenericArgument::Type(ty)) => Some(ty),
                _ => None,
            }
        }
        _ => None,
    };
    Some(state)
}
