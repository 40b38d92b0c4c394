//! Parsing of `__bind!`'s input: the enum description written by `#[chsk::events]`, then the
//! handler's request written by `#[chsk::handler]`.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::{
    braced, bracketed, parenthesized,
    parse::{Parse, ParseStream},
    Ident, LitStr, Token,
};

/// Everything `__bind!` gets.
pub(crate) struct BindInput {
    pub(crate) enum_: Enum,
    pub(crate) mode: Mode,
}

/// `"ChatEvent" { "Post" ("Message") "History" { "room": "String", "limit": "u32" } "Online" }`
pub(crate) struct Enum {
    pub(crate) name: String,
    pub(crate) variants: Vec<Variant>,
}

pub(crate) struct Variant {
    /// Without `r#`.
    pub(crate) name: String,
    pub(crate) shape: Shape,
}

pub(crate) enum Shape {
    Unit,
    /// The field types, as written (for messages).
    Tuple(Vec<String>),
    /// The field names (without `r#`) and types, as written (for messages).
    Struct(Vec<(String, String)>),
}

/// What the handler asks for.
pub(crate) enum Mode {
    /// `hash History report`: the hash of the variant's name, for
    /// `VariantOf<{ ChatEvent!(..) }>` in the handler's `type Variant`.
    Hash {
        variant: Ident,
        /// Whether to report an unknown variant (else the body reports it).
        report: bool,
    },
    /// `body History report fields (/* span */) [(__chsk_arg0 room) ..] { .. }`: the handler's
    /// body, after the binding of the fields.
    Body {
        variant: Ident,
        report: bool,
        /// The name of the handler's fields tuple.
        fields: Ident,
        /// The span of the handler's parameter list.
        params_span: Span,
        params: Vec<Param>,
        body: TokenStream,
    },
}

/// One field parameter of the handler.
pub(crate) struct Param {
    /// The hidden name the handler passes on to the function as written.
    pub(crate) binding: Ident,
    /// The parameter's name, or `None` for another pattern.
    pub(crate) name: Option<Ident>,
    /// The span of the parameter's pattern.
    pub(crate) span: Span,
}

mod kw {
    syn::custom_keyword!(hash);
    syn::custom_keyword!(body);
    syn::custom_keyword!(report);
    syn::custom_keyword!(quiet);
}

fn parse_report(input: ParseStream<'_>) -> syn::Result<bool> {
    if input.peek(kw::report) {
        input.parse::<kw::report>()?;
        Ok(true)
    } else {
        input.parse::<kw::quiet>()?;
        Ok(false)
    }
}

impl Parse for BindInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let enum_ = input.parse()?;
        // The chsk path the handler uses (unused: the output names nothing of chsk's).
        let krate;
        bracketed!(krate in input);
        let _: TokenStream = krate.parse()?;
        let mode = if input.peek(kw::hash) {
            input.parse::<kw::hash>()?;
            let variant = input.call(syn::ext::IdentExt::parse_any)?;
            let report = parse_report(input)?;
            Mode::Hash { variant, report }
        } else {
            input.parse::<kw::body>()?;
            let variant = input.call(syn::ext::IdentExt::parse_any)?;
            let report = parse_report(input)?;
            let fields = input.parse()?;
            let span_carrier: proc_macro2::Group = input.parse()?;
            let content;
            bracketed!(content in input);
            let mut params = Vec::new();
            while !content.is_empty() {
                let param;
                parenthesized!(param in content);
                let binding = param.parse()?;
                let name: TokenTree = param.parse()?;
                let span = name.span();
                let name = match name {
                    TokenTree::Ident(ident) if ident != "_" => Some(ident),
                    _ => None,
                };
                params.push(Param {
                    binding,
                    name,
                    span,
                });
            }
            let body;
            braced!(body in input);
            Mode::Body {
                variant,
                report,
                fields,
                params_span: span_carrier.span(),
                params,
                body: body.parse()?,
            }
        };
        Ok(Self { enum_, mode })
    }
}

impl Parse for Enum {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: LitStr = input.parse()?;
        let content;
        braced!(content in input);
        let mut variants = Vec::new();
        while !content.is_empty() {
            let name: LitStr = content.parse()?;
            let shape = if content.peek(syn::token::Paren) {
                let types;
                parenthesized!(types in content);
                let types = types.parse_terminated(<LitStr as Parse>::parse, Token![,])?;
                Shape::Tuple(types.iter().map(LitStr::value).collect())
            } else if content.peek(syn::token::Brace) {
                let fields;
                braced!(fields in content);
                let fields = fields.parse_terminated(
                    |input| {
                        let name: LitStr = input.parse()?;
                        input.parse::<Token![:]>()?;
                        let ty: LitStr = input.parse()?;
                        Ok((name.value(), ty.value()))
                    },
                    Token![,],
                )?;
                Shape::Struct(fields.into_iter().collect())
            } else {
                Shape::Unit
            };
            variants.push(Variant {
                name: name.value(),
                shape,
            });
        }
        Ok(Self {
            name: name.value(),
            variants,
        })
    }
}
