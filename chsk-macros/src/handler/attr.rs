//! Parsing of the macro arguments: the event variant path (`ChatEvent::History`), then an
//! optional `crate = "::chsk"`.

use proc_macro2::{Span, TokenStream};
use syn::{parse::Parser, Ident, LitStr, Path, PathArguments, Token};

use crate::{case, ctxt::Ctxt, symbol::CRATE};

const USAGE: &str = "expected the event variant, like `#[chsk::handler(ChatEvent::History)]`";

/// The parsed argument.
pub(crate) struct Args {
    /// The path as written (`events::ChatEvent::History`).
    pub(crate) written: Path,
    /// The variant struct's path (`events::chat_event::History`).
    pub(crate) variant: Path,
    /// The path of the chsk crate (default `::chsk`).
    pub(crate) krate: Path,
}

/// Parses `Enum::Variant` (any prefix of modules allowed) and maps it to the variant struct's
/// path: the enum segment, when it starts with an uppercase letter, is snake-cased into the
/// generated module's name (`a::b::ChatEvent::History` → `a::b::chat_event::History`); a path
/// that already names the module (`chat_event::History`) is used as it is.
pub(crate) fn parse_args(cx: &Ctxt, args: TokenStream) -> Option<Args> {
    if args.is_empty() {
        cx.error_at(
            Span::call_site(),
            format_args!("`#[chsk::handler]` needs the event it handles: {USAGE}"),
        );
        return None;
    }
    let (written, krate) = match split_args.parse2(args.clone()) {
        Ok((path, krate)) => (path, krate),
        Err(err) => {
            cx.syn_error(err);
            return None;
        }
    };
    if written.segments.len() < 2 {
        cx.error_spanned_by(
            &written,
            format_args!(
                "expected a path to an enum variant, like `ChatEvent::{}`",
                written
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default()
            ),
        );
        return None;
    }
    if let Some(seg) = written
        .segments
        .iter()
        .find(|s| !matches!(s.arguments, PathArguments::None))
    {
        cx.error_spanned_by(
            &seg.arguments,
            "generic arguments are not allowed in the event path: event enums are not generic",
        );
        return None;
    }
    let variant = variant_path(&written);
    Some(Args {
        written,
        variant,
        krate: krate.unwrap_or_else(|| syn::parse_quote!(::chsk)),
    })
}

/// `a::b::ChatEvent::History` → `a::b::chat_event::History` (a path of two or more segments);
/// the enum segment keeps its span, so resolution errors point at it.
fn variant_path(written: &Path) -> Path {
    let mut variant = written.clone();
    let len = variant.segments.len();
    if let Some(enum_seg) = len.checked_sub(2).map(|i| &mut variant.segments[i]) {
        let name = enum_seg.ident.to_string();
        if name.chars().next().is_some_and(char::is_uppercase) {
            enum_seg.ident = Ident::new(&case::snake_case(&name), enum_seg.ident.span());
        }
    }
    variant
}

/// `Path` or `Path, crate = "path"`.
fn split_args(input: syn::parse::ParseStream<'_>) -> syn::Result<(Path, Option<Path>)> {
    let path: Path = input.parse().map_err(|err| {
        syn::Error::new(
            err.span(),
            format_args!("malformed `#[chsk::handler]` argument: {USAGE}"),
        )
    })?;
    let mut krate = None;
    if input.parse::<Option<Token![,]>>()?.is_some() && !input.is_empty() {
        let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        if key != CRATE {
            return Err(syn::Error::new(
                key.span(),
                format_args!("unknown `#[chsk::handler]` argument `{key}`, expected `crate`"),
            ));
        }
        input.parse::<Token![=]>()?;
        let lit: LitStr = input.parse()?;
        krate = Some(lit.parse::<Path>()?);
        input.parse::<Option<Token![,]>>()?;
    }
    if !input.is_empty() {
        return Err(input.error("unexpected tokens after the event path"));
    }
    Ok((path, krate))
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;

    use super::*;

    fn mapped(path: &str) -> String {
        let path: Path = syn::parse_str(path).unwrap();
        variant_path(&path)
            .to_token_stream()
            .to_string()
            .replace(' ', "")
    }

    #[test]
    fn variant_paths() {
        assert_eq!(mapped("ChatEvent::History"), "chat_event::History");
        assert_eq!(
            mapped("a::b::ChatEvent::History"),
            "a::b::chat_event::History"
        );
        assert_eq!(
            mapped("::app::HTTPPush::Notice"),
            "::app::http_push::Notice"
        );
        assert_eq!(
            mapped("crate::ev::chat_event::Post"),
            "crate::ev::chat_event::Post"
        );
        assert_eq!(mapped("super::Events::Ping"), "super::events::Ping");
    }

    #[test]
    fn arguments() {
        let parse = |s: &str| split_args.parse_str(s);
        let (path, krate) = parse("ChatEvent::Post").unwrap();
        assert_eq!(path.segments.len(), 2);
        assert!(krate.is_none());
        let (_, krate) = parse("ChatEvent::Post, crate = \"::my_chsk\",").unwrap();
        assert_eq!(krate.unwrap().to_token_stream().to_string(), ":: my_chsk");
        assert!(parse("ChatEvent::Post, state = \"x\"").is_err());
        assert!(parse("ChatEvent::Post extra").is_err());
        assert!(parse("\"chat/post\"").is_err());
    }
}
