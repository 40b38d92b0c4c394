//! Parsing of the macro arguments (`ns = "..", crate = ".."`) and of the variant attributes
//! (`#[reply(T)]`, `#[event(id = "..", volatile)]`).
//!
//! Malformed, unknown or duplicated attributes are recorded in the [`Ctxt`] and otherwise
//! ignored, so every bad attribute is reported in one build.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{meta::ParseNestedMeta, parse::Parser, punctuated::Punctuated, Attribute, LitStr, Meta};

use crate::{
    ctxt::Ctxt,
    suggest,
    symbol::{Symbol, CRATE, EVENT, ID, NS, REPLY, VOLATILE},
};

/// A string given in an attribute, with the span of its literal.
pub(crate) struct Spanned {
    pub(crate) value: String,
    pub(crate) span: Span,
}

impl Spanned {
    fn from_lit(lit: &LitStr) -> Self {
        Self {
            value: lit.value(),
            span: lit.span(),
        }
    }
}

/// `#[chsk::events(ns = "chat", crate = "::chsk")]`.
pub(crate) struct Args {
    /// The namespace; `None` when missing (already reported).
    pub(crate) ns: Option<Spanned>,
    /// The path of the chsk crate (default `::chsk`).
    pub(crate) krate: syn::Path,
}

/// Parses the macro arguments.
pub(crate) fn parse_args(cx: &Ctxt, args: TokenStream) -> Args {
    let mut ns: Option<Spanned> = None;
    let mut krate: Option<syn::Path> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path == NS {
            let lit: LitStr = meta.value()?.parse()?;
            if ns.is_some() {
                cx.error_spanned_by(&meta.path, "duplicate `ns` argument");
            } else {
                ns = Some(Spanned::from_lit(&lit));
            }
        } else if meta.path == CRATE {
            let lit: LitStr = meta.value()?.parse()?;
            match lit.parse::<syn::Path>() {
                Ok(_) if krate.is_some() => {
                    cx.error_spanned_by(&meta.path, "duplicate `crate` argument")
                }
                Ok(path) => krate = Some(path),
                Err(_) => cx.error_spanned_by(&lit, "`crate` must be a path, like `\"::chsk\"`"),
            }
        } else {
            unknown_key(cx, &meta, "#[chsk::events]", &[NS, CRATE])?;
        }
        Ok(())
    });
    if let Err(err) = parser.parse2(args) {
        cx.syn_error(err);
    } else if ns.is_none() {
        cx.error_at(
            Span::call_site(),
            "missing namespace: write `#[chsk::events(ns = \"...\")]`",
        );
    }
    Args {
        ns,
        krate: krate.unwrap_or_else(|| syn::parse_quote!(::chsk)),
    }
}

/// Reports an unknown argument (with the closest known one, when it looks like a typo) and
/// skips its value, so parsing can go on.
fn unknown_key(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    attr: &str,
    known: &[Symbol],
) -> syn::Result<()> {
    let name = meta.path.to_token_stream().to_string().replace(' ', "");
    let names: Vec<&str> = known.iter().map(|k| k.as_str()).collect();
    let expected = suggest::alternatives(&names);
    let msg = match suggest::closest(&name, names.iter().copied()) {
        Some(close) => format!(
            "unknown `{attr}` argument `{name}`, expected {expected}; did you mean `{close}`?"
        ),
        None => format!("unknown `{attr}` argument `{name}`, expected {expected}"),
    };
    cx.error_spanned_by(&meta.path, msg);
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
        meta.parse_nested_meta(|_| Ok(()))?;
    }
    Ok(())
}

/// The chsk attributes found on one variant.
#[derive(Default)]
pub(crate) struct VariantAttrs {
    /// `#[reply(T)]`.
    pub(crate) reply: Option<syn::Type>,
    /// `#[event(id = "..")]`.
    pub(crate) id: Option<Spanned>,
    /// `#[event(volatile)]`.
    pub(crate) volatile: bool,
}

/// `true` for the helper attributes this macro consumes (`#[reply]`, `#[event]`).
pub(crate) fn is_helper(attr: &Attribute) -> bool {
    attr.path() == REPLY || attr.path() == EVENT
}

/// Parses the helper attributes of one variant.
pub(crate) fn parse_variant(cx: &Ctxt, attrs: &[Attribute]) -> VariantAttrs {
    let mut out = VariantAttrs::default();
    let mut seen_reply = false;
    let mut seen_event = false;
    for attr in attrs {
        if attr.path() == REPLY {
            if seen_reply {
                cx.error_spanned_by(attr, "duplicate `#[reply]` attribute");
                continue;
            }
            seen_reply = true;
            out.reply = parse_reply(cx, attr);
        } else if attr.path() == EVENT {
            if seen_event {
                cx.error_spanned_by(
                    attr,
                    "duplicate `#[event]` attribute: put every argument in one, \
                     like `#[event(id = \"namespace/name\", volatile)]`",
                );
                continue;
            }
            seen_event = true;
            (out.id, out.volatile) = parse_event(cx, attr);
        }
    }
    out
}

const REPLY_USAGE: &str = "expected `#[reply(Type)]`";

fn parse_reply(cx: &Ctxt, attr: &Attribute) -> Option<syn::Type> {
    let list = match &attr.meta {
        Meta::List(list) => list,
        Meta::Path(_) => {
            cx.error_spanned_by(
                attr,
                format_args!("`#[reply]` needs the reply type: {REPLY_USAGE}"),
            );
            return None;
        }
        Meta::NameValue(_) => {
            cx.error_spanned_by(
                attr,
                format_args!("malformed `#[reply]` attribute: {REPLY_USAGE}"),
            );
            return None;
        }
    };
    let parser = Punctuated::<syn::Type, syn::Token![,]>::parse_terminated;
    match list.parse_args_with(parser) {
        Err(err) => {
            cx.syn_error(err);
            None
        }
        Ok(types) if types.is_empty() => {
            cx.error_spanned_by(
                attr,
                format_args!("`#[reply]` needs the reply type: {REPLY_USAGE}"),
            );
            None
        }
        Ok(types) if types.len() > 1 => {
            cx.error_spanned_by(
                &types[1],
                "`#[reply]` takes exactly one type; for several values use a tuple: `#[reply((A, B))]`",
            );
            None
        }
        Ok(types) => types.into_iter().next(),
    }
}

const EVENT_USAGE: &str = "expected `#[event(id = \"namespace/name\")]`, `#[event(volatile)]` \
                           or both: `#[event(id = \"namespace/name\", volatile)]`";

/// `#[event(id = "..", volatile)]`: the explicit id, if any, and whether the variant is volatile.
fn parse_event(cx: &Ctxt, attr: &Attribute) -> (Option<Spanned>, bool) {
    let list = match &attr.meta {
        Meta::List(list) => list,
        _ => {
            cx.error_spanned_by(
                attr,
                format_args!("malformed `#[event]` attribute: {EVENT_USAGE}"),
            );
            return (None, false);
        }
    };
    if list.tokens.is_empty() {
        cx.error_spanned_by(
            attr,
            format_args!("`#[event]` needs an argument: {EVENT_USAGE}"),
        );
        return (None, false);
    }
    let mut id: Option<Spanned> = None;
    let mut volatile = false;
    let result = list.parse_nested_meta(|meta| {
        if meta.path == ID {
            let lit: LitStr = meta.value()?.parse()?;
            if id.is_some() {
                cx.error_spanned_by(&meta.path, "duplicate `id` argument");
            } else {
                id = Some(Spanned::from_lit(&lit));
            }
        } else if meta.path == VOLATILE {
            if let Some(value) = flag_value(&meta)? {
                let mut tokens = meta.path.to_token_stream();
                tokens.extend(value);
                cx.error_spanned_by(
                    tokens,
                    "`volatile` takes no value: write `#[event(volatile)]`, or leave it out \
                     for an event that is kept for recovery",
                );
            } else if volatile {
                cx.error_spanned_by(&meta.path, "duplicate `volatile` argument");
            } else {
                volatile = true;
            }
        } else {
            unknown_key(cx, &meta, "#[event]", &[ID, VOLATILE])?;
        }
        Ok(())
    });
    if let Err(err) = result {
        cx.syn_error(err);
    }
    (id, volatile)
}

/// What follows a flag argument such as `volatile`, which must have none: `= value` or
/// `(..)`. Consumed, so that parsing goes on with the next argument.
fn flag_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Option<TokenStream>> {
    let input = meta.input;
    if input.is_empty() || input.peek(syn::Token![,]) {
        return Ok(None);
    }
    let mut value = TokenStream::new();
    if input.peek(syn::Token![=]) {
        input.parse::<syn::Token![=]>()?.to_tokens(&mut value);
        input.parse::<syn::Expr>()?.to_tokens(&mut value);
    } else {
        while !input.is_empty() && !input.peek(syn::Token![,]) {
            value.extend([input.parse::<TokenTree>()?]);
        }
    }
    Ok(Some(value))
}

/// The helper attributes are for variants: report them anywhere else.
pub(crate) fn reject_misplaced(cx: &Ctxt, attrs: &[Attribute], place: &str) {
    for attr in attrs.iter().filter(|a| is_helper(a)) {
        let name: Symbol = if attr.path() == REPLY { REPLY } else { EVENT };
        cx.error_spanned_by(
            attr,
            format_args!(
                "`#[{}]` belongs on a variant, not on {place}",
                name.as_str()
            ),
        );
    }
}
