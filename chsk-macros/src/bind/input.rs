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
    /// The chsk crate path the handler uses.
    pub(crate) krate: syn::Path,
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
pub(crate) struct Mode {
    /// The variant's name, as written.
    pub(crate) variant: Ident,
    /// The path before the variant's name: the enum (`events::ChatEvent`) or the generated
    /// module (`events::chat_event`).
    pub(crate) prefix: syn::Path,
    /// `false` for the placeholder impl of a rejected handler: no fields are bound.
    pub(crate) bind: bool,
    /// The name of the handler's fields tuple.
    pub(crate) fields: Ident,
    /// The span of the handler's field parameters.
    pub(crate) params_span: Span,
    pub(crate) params: Vec<Param>,
    /// The handler's `impl Handler`, with holes: the ident `__chsk_variant_type` for the
    /// variant's type, and a body `{ __chsk_bind .. }` that gets the binding statement.
    pub(crate) template: TokenStream,
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
    syn::custom_keyword!(handler);
    syn::custom_keyword!(placeholder);
}

impl Parse for BindInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let enum_ = input.parse()?;
        let krate;
        bracketed!(krate in input);
        let krate = krate.call(syn::Path::parse_mod_style)?;
        let bind = if input.peek(kw::placeholder) {
            input.parse::<kw::placeholder>()?;
            false
        } else {
            input.parse::<kw::handler>()?;
            true
        };
        let variant = input.call(syn::ext::IdentExt::parse_any)?;
        let prefix;
        parenthesized!(prefix in input);
        let prefix = prefix.call(syn::Path::parse_mod_style)?;
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
        let template;
        braced!(template in input);
        let mode = Mode {
            variant,
            prefix,
            bind,
            fields,
            params_span: span_carrier.span(),
            params,
            template: template.parse()?,
        };
        Ok(Self { krate, enum_, mode })
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
