//! The second half of `#[chsk::handler]`: the hidden function-like macro `__bind!`, which sees
//! both the handler (its variant name and parameters) and the event enum (its variants and
//! field names).
//!
//! `#[chsk::events]` emits, next to `enum ChatEvent`, a hidden `macro_rules!` re-exported under
//! the enum's own name (the macro namespace: `use events::ChatEvent;` imports both). It calls
//! `__bind!` with a description of the enum (variant names, field names and types as text)
//! followed by what the handler passes. The handler uses it twice:
//!
//! ```text
//! type Variant = <ChatEvent as VariantOf<{ ChatEvent!([::chsk] hash History quiet) }>>::Variant;
//!     // the hash of `History`; for an unknown name, the closest variant's (so the impl stays
//!     // well-formed and registering the handler adds no error)
//! fn call(&self, cx, fields) -> .. {
//!     ChatEvent!([::chsk] body History report fields (/* span of the parameters */)
//!         [(__chsk_arg0 limit) (__chsk_arg1 room)] { /* call the function as written */ })
//!     // `{ let (__chsk_arg1, __chsk_arg0) = fields; .. }`: struct-variant parameters bind by
//!     // field name, in order otherwise
//! }
//! ```
//!
//! An unknown variant or a binding error is reported at the user's tokens with the enum's real
//! names, and the body becomes `unreachable!()`, so nothing else is reported.

mod input;

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, ToTokens};
use syn::Ident;

use self::input::{BindInput, Enum, Mode, Param, Shape, Variant};
use crate::{ctxt::Ctxt, suggest};

/// Expands `__bind! { <enum> [<chsk path>] <mode> }`.
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let input: BindInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(err) => return err.into_compile_error(),
    };
    let enum_ = &input.enum_;
    let out = match input.mode {
        Mode::Hash { variant, report } => {
            let (name, error) = match find_variant(enum_, &variant) {
                Ok(found) => (Some(found.name.clone()), None),
                Err(err) => {
                    // The closest variant (or the first) keeps the handler's impl well-formed.
                    let names = enum_.variants.iter().map(|v| v.name.as_str());
                    let close = suggest::closest(&unraw(&variant), names)
                        .map(str::to_owned)
                        .or_else(|| enum_.variants.first().map(|v| v.name.clone()));
                    (close, report.then(|| err.into_compile_error()))
                }
            };
            let hash = name.map(|name| Literal::u64_suffixed(crate::hash::variant_hash(&name)));
            match (error, hash) {
                (Some(error), Some(hash)) => quote!({ #error; #hash }),
                (Some(error), None) => error,
                (None, Some(hash)) => hash.into_token_stream(),
                (None, None) => quote!(0u64),
            }
        }
        Mode::Body {
            variant,
            report,
            fields,
            params_span,
            params,
            body,
        } => {
            let found = match find_variant(enum_, &variant) {
                Ok(found) => found,
                Err(err) => {
                    let error = report.then(|| err.into_compile_error());
                    return quote!({ #error ::core::unreachable!() });
                }
            };
            let cx = Ctxt::new();
            let order = order(&cx, enum_, found, params_span, &params);
            match (cx.check(), order) {
                (Ok(()), Some(order)) => {
                    let bindings = order.iter().map(|&i| &params[i].binding);
                    quote!({ let (#(#bindings,)*) = #fields; #body })
                }
                (Err(err), _) => {
                    let error = err.into_compile_error();
                    quote!({ #error ::core::unreachable!() })
                }
                (Ok(()), None) => quote!(::core::unreachable!()),
            }
        }
    };
    crate::debug::maybe_print("handler", &"__bind!", &out);
    out
}

fn find_variant<'a>(enum_: &'a Enum, name: &Ident) -> syn::Result<&'a Variant> {
    let wanted = unraw(name);
    if let Some(found) = enum_.variants.iter().find(|v| v.name == wanted) {
        return Ok(found);
    }
    let names: Vec<&str> = enum_.variants.iter().map(|v| v.name.as_str()).collect();
    let msg = match suggest::closest(&wanted, names.iter().copied()) {
        Some(close) => format!(
            "`{}` has no variant `{wanted}`; did you mean `{close}`?",
            enum_.name
        ),
        None if names.is_empty() => format!("`{}` has no variants", enum_.name),
        None => format!(
            "`{}` has no variant `{wanted}`; its variants are {}",
            enum_.name,
            suggest::list(&names)
        ),
    };
    Err(syn::Error::new(name.span(), msg))
}

/// For each field of the variant in declaration order, the index of the parameter that binds
/// it; `None` after an error (reported to `cx`).
fn order(
    cx: &Ctxt,
    enum_: &Enum,
    variant: &Variant,
    params_span: Span,
    params: &[Param],
) -> Option<Vec<usize>> {
    let path = format!("{}::{}", enum_.name, variant.name);
    match &variant.shape {
        Shape::Unit if params.is_empty() => Some(Vec::new()),
        Shape::Unit => {
            cx.error_at(
                params_span,
                format_args!(
                    "`{path}` has no fields: its handler takes no parameters \
                     besides an optional `cx: chsk::Ctx<S>`"
                ),
            );
            None
        }
        Shape::Tuple(types) if types.len() == params.len() => Some((0..params.len()).collect()),
        Shape::Tuple(types) => {
            let fields = match types.len() {
                1 => "1 field".to_string(),
                n => format!("{n} fields"),
            };
            let takes = match params.len() {
                1 => "1 parameter".to_string(),
                n => format!("{n} parameters"),
            };
            cx.error_at(
                params_span,
                format_args!(
                    "`{path}` has {fields}, of types {}, but the handler takes {takes} for them: \
                     take one parameter per field, in order",
                    suggest::list(types)
                ),
            );
            None
        }
        Shape::Struct(fields) => by_name(cx, &path, fields, params_span, params),
    }
}

/// Struct variants: each parameter names a field (`to`, or `_to` to ignore it); every field is
/// bound exactly once.
fn by_name(
    cx: &Ctxt,
    path: &str,
    fields: &[(String, String)],
    params_span: Span,
    params: &[Param],
) -> Option<Vec<usize>> {
    let names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
    let mut bound: Vec<Option<usize>> = vec![None; fields.len()];
    let mut ok = true;
    for (index, param) in params.iter().enumerate() {
        let Some(name) = &param.name else {
            cx.error_at(
                param.span,
                format_args!(
                    "the parameters of `{path}` bind its fields by name ({}): write \
                     `field: Type`, or `_field: Type` for a field the handler does not use",
                    suggest::list(&names)
                ),
            );
            ok = false;
            continue;
        };
        let written = unraw(name);
        let field = names.iter().position(|f| *f == written).or_else(|| {
            let stripped = written.strip_prefix('_')?;
            names.iter().position(|f| *f == stripped)
        });
        let Some(field) = field else {
            let msg = match suggest::closest(&written, names.iter().copied()).or_else(|| {
                let stripped = written.strip_prefix('_')?;
                suggest::closest(stripped, names.iter().copied())
            }) {
                Some(close) => format!(
                    "`{path}` has no field `{written}`; did you mean `{close}`? \
                     its fields are {}",
                    suggest::list(&names)
                ),
                None => format!(
                    "`{path}` has no field `{written}`; its fields are {}",
                    suggest::list(&names)
                ),
            };
            cx.error_at(name.span(), msg);
            ok = false;
            continue;
        };
        if let Some(first) = bound[field] {
            let first = params[first].name.as_ref().map(unraw).unwrap_or_default();
            cx.error_at(
                name.span(),
                format_args!(
                    "field `{}` of `{path}` is already bound by parameter `{first}`",
                    names[field]
                ),
            );
            ok = false;
            continue;
        }
        bound[field] = Some(index);
    }
    let missing: Vec<&(String, String)> = fields
        .iter()
        .zip(&bound)
        .filter(|(_, b)| b.is_none())
        .map(|(f, _)| f)
        .collect();
    if ok && !missing.is_empty() {
        let add: Vec<String> = missing.iter().map(|(n, ty)| format!("{n}: {ty}")).collect();
        let names: Vec<&str> = missing.iter().map(|(n, _)| n.as_str()).collect();
        let (what, example) = match missing.as_slice() {
            [(name, _)] if name.starts_with('_') => (
                format!("a parameter for field `{name}`"),
                format!("add `{}`", add[0]),
            ),
            [(name, ty)] => (
                format!("a parameter for field `{name}`"),
                format!(
                    "add `{}` (or `_{name}: {ty}` if the handler does not use it)",
                    add[0]
                ),
            ),
            _ => (
                format!("parameters for fields {}", suggest::list(&names)),
                format!(
                    "add `{}` (prefix a name with `_` if the handler does not use it)",
                    add.join(", ")
                ),
            ),
        };
        cx.error_at(
            params_span,
            format_args!("the handler of `{path}` is missing {what}: {example}"),
        );
        return None;
    }
    if !ok {
        return None;
    }
    bound.into_iter().collect()
}

fn unraw(ident: &Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
}
