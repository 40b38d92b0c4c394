//! Parsing of the macro arguments: the event variant path (`ChatEvent::History`), then an
//! optional `crate = "::chsk"`.

use proc_macro2::{Group, Literal, Span, TokenStream, TokenTree};
use quote::{quote_spanned, ToTokens};
use syn::{parse::Parser, Ident, LitStr, Path, PathArguments, Token};

use crate::{ctxt::Ctxt, hash::variant_hash, symbol::CRATE};

const USAGE: &str = "expected the event variant, like `#[chsk::handler(ChatEvent::History)]`";

/// The parsed argument.
pub(crate) struct Args {
    /// The path as written (`events::ChatEvent::History`).
    pub(crate) written: Path,
    /// The span of the variant's name, where a missing variant is reported.
    pub(crate) variant_span: Span,
    /// The variant's name as written.
    pub(crate) variant_ident: Ident,
    /// The hidden macro `#[chsk::events]` emits for the enum: the enum's path
    /// (`events::ChatEvent`), or `chat_event::__chsk_events` for a path through the module.
    pub(crate) enum_macro: TokenStream,
    /// The path of the chsk crate (default `::chsk`).
    pub(crate) krate: Path,
}

/// Parses `Enum::Variant` (any prefix of modules allowed) and maps it to the variant struct's
/// type. The enum segment, when it starts with an uppercase letter, names the enum: the struct
/// is found through the enum itself, `<a::b::ChatEvent as VariantOf<HASH>>::Variant` where
/// `HASH` is the hash of `History` (`#[chsk::events]` implements it), so only the enum needs
/// to be in scope. A path that names the generated module (`chat_event::History`) is used as
/// it is.
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
    let krate = krate.unwrap_or_else(|| syn::parse_quote!(::chsk));
    let variant_ident = written.segments.last()?.ident.clone();
    let variant_span = variant_ident.span();
    let enum_macro = enum_macro(&written);
    Some(Args {
        written,
        variant_span,
        variant_ident,
        enum_macro,
        krate,
    })
}

/// `a::b::ChatEvent::History` → `<a::b::ChatEvent as ::chsk::__private::VariantOf<HASH>>::Variant`
/// (a path of two or more segments), where `HASH` is `hash` or, without it, the hash of the
/// variant's name. The projection is spanned at the variant's name; an unknown enum is
/// reported at the enum's path. A path whose second-to-last segment is not capitalized
/// (`chat_event::History`) is kept.
fn variant_type(written: &Path, krate: &Path, hash: Option<TokenStream>) -> TokenStream {
    let len = written.segments.len();
    let is_enum = len
        .checked_sub(2)
        .map(|i| &written.segments[i])
        .is_some_and(|seg| {
            let name = seg.ident.to_string();
            let name = name.strip_prefix("r#").unwrap_or(&name);
            name.chars().next().is_some_and(char::is_uppercase)
        });
    let (Some(last), true) = (written.segments.last(), is_enum) else {
        return written.to_token_stream();
    };
    let mut enum_path = written.clone();
    enum_path.segments.pop();
    enum_path.segments.pop_punct();
    let span = last.ident.span();
    let hash = hash.unwrap_or_else(|| {
        let hash = Literal::u64_suffixed(variant_hash(&last.ident.to_string()));
        quote_spanned!(span=> #hash)
    });
    let trait_path = respan(krate.to_token_stream(), span);
    quote_spanned! {span=>
        <#enum_path as #trait_path::__private::VariantOf<#hash>>::Variant
    }
}

/// The path of the enum's hidden macro: `a::b::ChatEvent` for `a::b::ChatEvent::History`,
/// `a::chat_event::__chsk_events` for `a::chat_event::History`.
fn enum_macro(written: &Path) -> TokenStream {
    let mut path = written.clone();
    path.segments.pop();
    path.segments.pop_punct();
    let names_enum = path.segments.last().is_some_and(|seg| {
        let name = seg.ident.to_string();
        let name = name.strip_prefix("r#").unwrap_or(&name);
        name.chars().next().is_some_and(char::is_uppercase)
    });
    if names_enum {
        path.to_token_stream()
    } else {
        let span = path
            .segments
            .last()
            .map_or_else(Span::call_site, |s| s.ident.span());
        let hidden = Ident::new("__chsk_events", span);
        quote_spanned!(span=> #path::#hidden)
    }
}

impl Args {
    /// `true` when the path names the enum (`ChatEvent::History`), not the generated module.
    fn names_enum(&self) -> bool {
        let len = self.written.segments.len();
        len.checked_sub(2).is_some_and(|i| {
            let name = self.written.segments[i].ident.to_string();
            let name = name.strip_prefix("r#").unwrap_or(&name);
            name.chars().next().is_some_and(char::is_uppercase)
        })
    }

    /// The variant's struct type. Through the enum:
    /// `<ChatEvent as VariantOf<{ ChatEvent!([::chsk] hash History quiet) }>>::Variant`, where
    /// the enum's hidden macro gives the hash of the name, or of the closest variant for an
    /// unknown name (reported at the name if `report`, else by [`Args::body`]): the impl stays
    /// well-formed and registering the handler adds no error. Through the module: the path.
    pub(crate) fn variant_type(&self, report: bool) -> TokenStream {
        if !self.names_enum() {
            return self.written.to_token_stream();
        }
        let (mac, k, name) = (&self.enum_macro, &self.krate, &self.variant_ident);
        let report = Ident::new(if report { "report" } else { "quiet" }, self.variant_span);
        let hash = quote_spanned!(self.variant_span=> { #mac!([#k] hash #name #report) });
        variant_type(&self.written, k, Some(hash))
    }

    /// `fn __chsk_is_event<E: Event>() {} __chsk_is_event::<ChatEvent>();`, spanned at the enum's
    /// path: for a type that is not under `#[chsk::events]`, rustc then says so (`Event`'s
    /// `on_unimplemented`) next to the missing hidden macro. Empty for a path through the module.
    pub(crate) fn enum_check(&self) -> TokenStream {
        if !self.names_enum() {
            return TokenStream::new();
        }
        let mut enum_path = self.written.clone();
        enum_path.segments.pop();
        enum_path.segments.pop_punct();
        let span = enum_path
            .segments
            .last()
            .map_or(self.variant_span, |s| s.ident.span());
        let k = respan(self.krate.to_token_stream(), span);
        quote_spanned! {span=>
            fn __chsk_is_event<E: #k::Event>() {}
            __chsk_is_event::<#enum_path>();
        }
    }

    /// `ChatEvent!([::chsk] body History report fields (..) [(binding name) ..] { body })`: the
    /// handler's body after the binding of the fields (see `crate::bind`). `params` is
    /// `fields (/* span */) [(binding name) ..]`.
    pub(crate) fn body(&self, params: TokenStream, body: TokenStream) -> TokenStream {
        let (mac, k, name) = (&self.enum_macro, &self.krate, &self.variant_ident);
        // Through the module, rustc reports an unknown variant at the struct's path.
        let report = if self.names_enum() { "report" } else { "quiet" };
        let report = Ident::new(report, self.variant_span);
        quote_spanned! {self.variant_span=>
            #mac!([#k] body #name #report #params { #body })
        }
    }
}

/// `tokens` with every token spanned at `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let TokenTree::Group(g) = &tt {
                let mut group = Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                tt = TokenTree::Group(group);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
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
        variant_type(&path, &syn::parse_quote!(::chsk), None)
            .to_string()
            .replace(' ', "")
    }

    fn projection(enum_path: &str, variant: &str) -> String {
        format!(
            "<{enum_path}as::chsk::__private::VariantOf<{}u64>>::Variant",
            variant_hash(variant)
        )
    }

    #[test]
    fn variant_paths() {
        assert_eq!(
            mapped("ChatEvent::History"),
            projection("ChatEvent", "History")
        );
        assert_eq!(
            mapped("a::b::ChatEvent::History"),
            projection("a::b::ChatEvent", "History")
        );
        assert_eq!(
            mapped("::app::HTTPPush::Notice"),
            projection("::app::HTTPPush", "Notice")
        );
        assert_eq!(
            mapped("crate::ev::chat_event::Post"),
            "crate::ev::chat_event::Post"
        );
        assert_eq!(
            mapped("super::Events::Ping"),
            projection("super::Events", "Ping")
        );
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
