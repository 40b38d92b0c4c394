//! All rejections of `#[chsk::events]`: generics, namespace and id syntax, the reserved `chsk/`
//! namespace, duplicate ids.

use std::collections::HashMap;

use super::ast::EventsEnum;
use crate::{ctxt::Ctxt, symbol::CFG};

/// The namespace reserved for chsk's own protocol (documented in `chsk::event`).
const RESERVED: &str = "chsk";
const RESERVED_MSG: &str = "the `chsk/` namespace is reserved for protocol events";

/// Runs every check; errors go to `cx`.
pub(crate) fn check(cx: &Ctxt, input: &EventsEnum<'_>) {
    check_generics(cx, input);
    let ns_ok = match &input.ns {
        Some(ns) => match validate_ns(&ns.value) {
            Ok(()) => true,
            Err(msg) => {
                cx.error_at(ns.span, msg);
                false
            }
        },
        None => false,
    };
    check_cfg(cx, input);
    let mut seen: HashMap<&str, &syn::Ident> = HashMap::new();
    for variant in &input.variants {
        if variant.explicit_id {
            if let Err(msg) = validate_id(&variant.id) {
                cx.error_at(variant.id_span, msg);
                continue;
            }
        } else if !ns_ok {
            continue;
        }
        if let Some(first) = seen.get(variant.id.as_str()) {
            cx.error_at(
                variant.id_span,
                format_args!(
                    "event id `{}` is already used by variant `{first}`",
                    variant.id
                ),
            );
        } else {
            seen.insert(&variant.id, variant.ident);
        }
    }
}

/// `#[cfg]` on variants or fields would make the ids and indexes differ between builds of the
/// two peers (and the macro sees the item before cfg-stripping).
fn check_cfg(cx: &Ctxt, input: &EventsEnum<'_>) {
    const MSG: &str = "`#[cfg]` is not supported on the variants and fields of an event enum: \
                       both peers must agree on every id";
    for variant in &input.original.variants {
        let field_attrs = variant.fields.iter().flat_map(|f| &f.attrs);
        for attr in variant.attrs.iter().chain(field_attrs) {
            if attr.path() == CFG {
                cx.error_spanned_by(attr, MSG);
            }
        }
    }
}

fn check_generics(cx: &Ctxt, input: &EventsEnum<'_>) {
    let generics = &input.original.generics;
    if !generics.params.is_empty() {
        cx.error_spanned_by(generics, "`#[chsk::events]` does not support generic enums");
    } else if let Some(where_clause) = &generics.where_clause {
        cx.error_spanned_by(
            where_clause,
            "`#[chsk::events]` does not support generic enums",
        );
    }
}

/// Checks a namespace (`ns = ".."`): one non-empty part without `/` or whitespace, not `chsk`.
pub(crate) fn validate_ns(ns: &str) -> Result<(), String> {
    if ns.is_empty() {
        return Err("the namespace must not be empty".into());
    }
    if ns.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("the namespace `{ns}` must not contain whitespace"));
    }
    if ns.contains('/') {
        return Err(format!(
            "the namespace `{ns}` must not contain `/`; for a full id use `#[event(id = \"..\")]` on the variant"
        ));
    }
    if ns == RESERVED {
        return Err(RESERVED_MSG.into());
    }
    Ok(())
}

/// Checks a full event id (`#[event(id = "..")]`): `namespace/name`, non-empty parts, no
/// whitespace, not in the `chsk/` namespace.
pub(crate) fn validate_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("the event id must not be empty".into());
    }
    if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("event id `{id}` must not contain whitespace"));
    }
    if !id.contains('/') {
        return Err(format!(
            "event id `{id}` must be `namespace/name`, with a `/`"
        ));
    }
    if id.split('/').any(str::is_empty) {
        return Err(format!("event id `{id}` has an empty part"));
    }
    if id.split('/').next() == Some(RESERVED) {
        return Err(RESERVED_MSG.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces() {
        assert!(validate_ns("chat").is_ok());
        assert!(validate_ns("chat-v2.x").is_ok());
        assert!(validate_ns("chsk-app").is_ok());
        assert_eq!(
            validate_ns("").unwrap_err(),
            "the namespace must not be empty"
        );
        assert!(validate_ns("a b").unwrap_err().contains("whitespace"));
        assert!(validate_ns("a/b").unwrap_err().contains("`/`"));
        assert_eq!(validate_ns("chsk").unwrap_err(), RESERVED_MSG);
    }

    #[test]
    fn ids() {
        assert!(validate_id("chat/who").is_ok());
        assert!(validate_id("a/b/c").is_ok());
        assert!(validate_id("chsk-app/x").is_ok());
        assert_eq!(
            validate_id("").unwrap_err(),
            "the event id must not be empty"
        );
        assert!(validate_id("who").unwrap_err().contains("namespace/name"));
        assert!(validate_id("chat/ who").unwrap_err().contains("whitespace"));
        assert!(validate_id("chat\t/who")
            .unwrap_err()
            .contains("whitespace"));
        for id in ["/who", "chat/", "a//b", "/"] {
            assert!(validate_id(id).unwrap_err().contains("empty part"), "{id}");
        }
        assert_eq!(validate_id("chsk/ping").unwrap_err(), RESERVED_MSG);
    }
}
