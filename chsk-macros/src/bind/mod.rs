//! The second half of `#[chsk::handler]`: the hidden function-like macro `__bind!`, which sees
//! both the handler (its variant name and parameters) and the event enum (its variants and
//! field names).
//!
//! `#[chsk::events]` emits, next to `enum ChatEvent`, a hidden `macro_rules!` re-exported under
//! the enum's own name (the macro namespace: `use events::ChatEvent;` imports both). It calls
//! `__bind!` with a description of the enum (variant names, field names and types as text)
//! followed by what the handler passes:
//!
//! ```text
//! ChatEvent! { [::chsk] handler History (ChatEvent) fields (/* span of the parameters */)
//!     [(__chsk_arg0 limit) (__chsk_arg1 room)]
//!     { impl Handler<S> for __chsk_handler_history {
//!         type Variant = __chsk_variant_type;
//!         fn call(..) { __chsk_bind .. }
//!     } } }
//! ```
//!
//! `__bind!` emits the impl with `__chsk_variant_type` replaced by the variant's struct type
//! (`<ChatEvent as VariantOf<HASH>>::Variant`) and `let (__chsk_arg1, __chsk_arg0) = fields;`
//! in place of `__chsk_bind`: struct-variant parameters bind by field name. An unknown variant
//! or a binding error is reported at the user's tokens with the enum's real names; the impl is
//! then still emitted (with another variant's type and an `unreachable!()` body) so that
//! registering the handler adds no error.

mod input;

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::quote;
use syn::Ident;

use self::input::{BindInput, Enum, Param, Shape, Variant};
use crate::{ctxt::Ctxt, suggest};

/// The hole for the variant's type in the handler's template.
pub(crate) const VARIANT_HOLE: &str = "__chsk_variant_type";
/// The first token of the body that gets the binding statement.
pub(crate) const BIND_HOLE: &str = "__chsk_bind";

/// Expands `__bind! { <enum> <handler> }`.
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let input: BindInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(err) => return err.into_compile_error(),
    };
    let (enum_, mode) = (&input.enum_, &input.mode);
    let cx = Ctxt::new();
    let (ty, bind) = match find_variant(enum_, &mode.variant) {
        Ok(found) => {
            let bind = if mode.bind {
                order(&cx, enum_, found, mode.params_span, &mode.params).map(|order| {
                    let bindings = order.iter().map(|&i| &mode.params[i].binding);
                    let fields = &mode.fields;
                    quote!(let (#(#bindings,)*) = #fields;)
                })
            } else {
                None
            };
            (variant_type(&input, &mode.variant), bind)
        }
        Err(err) => {
            cx.syn_error(err);
            let errors = cx.check().err().map(syn::Error::into_compile_error);
            // Another variant's type keeps the impl well-formed: no error at registration.
            let Some(first) = enum_.variants.first() else {
                return errors.unwrap_or_default();
            };
            let first = Ident::new(&first.name, mode.variant.span());
            let mut out = errors.unwrap_or_default();
            out.extend(fill(
                mode.template.clone(),
                &variant_type(&input, &first),
                None,
            ));
            return out;
        }
    };
    let mut out = match cx.check() {
        Ok(()) => TokenStream::new(),
        Err(err) => err.into_compile_error(),
    };
    out.extend(fill(mode.template.clone(), &ty, bind.as_ref()));
    crate::debug::maybe_print("handler", &mode.variant, &out);
    out
}

/// `<prefix as ::chsk::__private::VariantOf<HASH>>::Variant`, or `prefix::Name` for a path
/// through the generated module.
fn variant_type(input: &BindInput, name: &Ident) -> TokenStream {
    let mut path = input.mode.prefix.clone();
    path.segments.push(syn::PathSegment::from(name.clone()));
    crate::handler::variant_type(&path, &input.krate)
}

/// The template with its holes filled; without a binding (after an error or for a
/// placeholder), the body that starts with `__chsk_bind` becomes `unreachable!()`.
fn fill(template: TokenStream, ty: &TokenStream, bind: Option<&TokenStream>) -> TokenStream {
    template
        .into_iter()
        .flat_map(|tt| -> Vec<TokenTree> {
            match tt {
                TokenTree::Ident(ident) if ident == VARIANT_HOLE => {
                    ty.clone().into_iter().collect()
                }
                TokenTree::Group(group) => {
                    let mut stream = group.stream().into_iter().peekable();
                    let is_body =
                        matches!(stream.peek(), Some(TokenTree::Ident(i)) if i == BIND_HOLE);
                    let inner = if is_body {
                        stream.next();
                        match bind {
                            Some(bind) => {
                                let mut inner = bind.clone();
                                inner.extend(fill(stream.collect(), ty, Some(bind)));
                                inner
                            }
                            None => quote!(::core::unreachable!()),
                        }
                    } else {
                        fill(group.stream(), ty, bind)
                    };
                    let mut new = Group::new(group.delimiter(), inner);
                    new.set_span(group.span());
                    vec![TokenTree::Group(new)]
                }
                other => vec![other],
            }
        })
        .collect()
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
