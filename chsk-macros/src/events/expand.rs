//! Code generation for `#[chsk::events]`. Never reports user errors: everything it gets has
//! passed `valid.rs`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::{spanned::Spanned, Ident, ItemEnum};

use super::{
    ast::{EventVariant, EventsEnum, Shape},
    attr,
    tokens::{bindings, pattern, unraw},
};
use crate::symbol::SERDE;

/// Generates everything for one enum; its [`ToTokens`] impl lists the items in order.
pub(crate) struct Generator<'a> {
    input: &'a EventsEnum<'a>,
}

impl ToTokens for Generator<'_> {
    fn to_tokens(&self, output: &mut TokenStream) {
        output.extend([
            self.item_enum(),
            self.impl_event(),
            super::callback::expand(self.input),
            super::variants::expand(self.input),
        ]);
    }
}

impl<'a> Generator<'a> {
    pub(crate) fn new(input: &'a EventsEnum<'a>) -> Self {
        Self { input }
    }

    /// The user's enum, without the `#[reply]` / `#[event]` helper attributes.
    fn item_enum(&self) -> TokenStream {
        stripped_enum(self.input.original, &self.input.krate).into_token_stream()
    }

    /// `const _: () = { payload helpers; impl Event for Enum { .. } };`
    fn impl_event(&self) -> TokenStream {
        let k = &self.input.krate;
        let ident = self.input.ident;
        let name = unraw(ident);
        let ids = self.input.variants.iter().map(|v| &v.id);
        let volatile = self.input.variants.iter().map(|v| v.volatile);
        let helpers = self.input.variants.iter().map(|v| self.payload_helpers(v));
        let (id_arms, index_arms, encode_arms, decode_arms) = (
            self.arms(|v| {
                let id = &v.id;
                quote!(#id)
            }),
            self.arms(|v| {
                let index = v.index;
                quote!(#index)
            }),
            self.encode_arms(),
            self.input.variants.iter().map(|v| self.decode_arm(v)),
        );
        quote! {
            #[doc(hidden)]
            #[allow(non_camel_case_types, non_snake_case, clippy::all)]
            const _: () = {
                #(#helpers)*

                #[automatically_derived]
                impl #k::Event for #ident {
                    const NAME: &'static ::core::primitive::str = #name;
                    const IDS: &'static [&'static ::core::primitive::str] = &[#(#ids),*];
                    const VOLATILE: &'static [::core::primitive::bool] = &[#(#volatile),*];

                    fn id(&self) -> &'static ::core::primitive::str {
                        #id_arms
                    }

                    fn index(&self) -> ::core::primitive::usize {
                        #index_arms
                    }

                    fn encode_payload(
                        &self,
                        codec: #k::Codec,
                    ) -> ::core::result::Result<#k::Payload, #k::CodecError> {
                        #encode_arms
                    }

                    fn decode(
                        id: &::core::primitive::str,
                        payload: &#k::Payload,
                        codec: #k::Codec,
                    ) -> ::core::result::Result<Self, #k::DecodeError> {
                        match id {
                            #(#decode_arms)*
                            _ => ::core::result::Result::Err(#k::DecodeError::UnknownId {
                                id: <#k::__private::String as ::core::convert::From<
                                    &::core::primitive::str,
                                >>::from(id),
                                ty: #name,
                            }),
                        }
                    }
                }
            };
        }
    }

    /// `match *self { Self::A { .. } => value, .. }`
    fn arms(&self, value: impl Fn(&EventVariant<'_>) -> TokenStream) -> TokenStream {
        let arms = self.input.variants.iter().map(|v| {
            let ident = v.ident;
            let value = value(v);
            quote!(Self::#ident { .. } => #value,)
        });
        quote!(match *self { #(#arms)* })
    }

    fn encode_arms(&self) -> TokenStream {
        let arms = self.input.variants.iter().map(|v| {
            let ident = v.ident;
            let bindings = bindings(v.shape.fields());
            let pat = pattern(quote!(Self::#ident), &v.shape, &bindings);
            let value = match &v.shape {
                Shape::Unit => quote!(codec.encode_payload(&())),
                Shape::Tuple(fields) if fields.len() == 1 => {
                    // Spanned at the field type, so a missing `Serialize` points there.
                    let ty = fields[0].ty;
                    let binding = Ident::new(&bindings[0].to_string(), ty.span());
                    quote_spanned!(ty.span()=> codec.encode_payload(#binding))
                }
                shape => {
                    // Each argument is spanned at its field's type: a type that is not
                    // `Serialize` is reported there.
                    let encode = helper_fn("encode", ident);
                    let args = shape
                        .fields()
                        .iter()
                        .zip(&bindings)
                        .map(|(f, b)| Ident::new(&b.to_string(), f.ty.span()));
                    quote!(#encode(codec, #(#args),*))
                }
            };
            quote!(#pat => #value,)
        });
        if self.input.variants.is_empty() {
            return quote!(match *self {});
        }
        quote!(match self { #(#arms)* })
    }

    fn decode_arm(&self, v: &EventVariant<'_>) -> TokenStream {
        let k = &self.input.krate;
        let ident = v.ident;
        let id = &v.id;
        let (decoded, value) = match &v.shape {
            Shape::Unit => (
                quote!(codec.decode_payload::<()>(payload)),
                quote!(Self::#ident),
            ),
            Shape::Tuple(fields) if fields.len() == 1 => {
                let ty = fields[0].ty;
                (
                    quote_spanned!(ty.span()=> codec.decode_payload::<#ty>(payload)),
                    quote!(Self::#ident(__chsk_value)),
                )
            }
            shape => {
                let decode = helper_fn("decode", ident);
                let moved: Vec<TokenStream> = match shape {
                    Shape::Struct(fields) => fields
                        .iter()
                        .map(|f| {
                            let name = f.ident;
                            quote!(__chsk_value.#name)
                        })
                        .collect(),
                    _ => (0..shape.fields().len())
                        .map(|i| {
                            let i = syn::Index::from(i);
                            quote!(__chsk_value.#i)
                        })
                        .collect(),
                };
                // One marker per generic field, spanned at its type: a type that is not
                // `Deserialize` is reported there.
                let markers = shape
                    .fields()
                    .iter()
                    .filter(|f| f.serde_attrs.is_empty())
                    .map(|f| {
                        let ty = f.ty;
                        quote_spanned!(ty.span()=> ::core::marker::PhantomData::<#ty>)
                    });
                (
                    quote!(#decode(codec, payload, #(#markers),*)),
                    pattern(quote!(Self::#ident), shape, &moved),
                )
            }
        };
        quote! {
            #id => match #decoded {
                ::core::result::Result::Ok(__chsk_value) => ::core::result::Result::Ok(#value),
                ::core::result::Result::Err(source) => {
                    ::core::result::Result::Err(#k::DecodeError::BadPayload { id: #id, source })
                }
            },
        }
    }

    /// For variants with several fields or named fields: a borrowing `Serialize` helper and an
    /// owning `Deserialize` helper with the same shape.
    fn payload_helpers(&self, v: &EventVariant<'_>) -> TokenStream {
        let fields = match &v.shape {
            Shape::Tuple(fields) if fields.len() > 1 => fields,
            Shape::Struct(fields) => fields,
            _ => return TokenStream::new(),
        };
        let k = &self.input.krate;
        let serde_path = format!("{}::__private::serde", path_string(k));
        let (ser, de) = (ser_helper(v.ident), de_helper(v.ident));
        // Fields without `#[serde]` attributes are generic parameters, so a field type that is
        // not `Serialize`/`Deserialize` fails where the helper is used (once per direction),
        // not inside serde's derived code.
        let params: Vec<Option<Ident>> = (0..fields.len())
            .map(|i| {
                fields[i]
                    .serde_attrs
                    .is_empty()
                    .then(|| format_ident!("__ChskT{}", i))
            })
            .collect();
        let field_ty = |i: usize| match &params[i] {
            Some(param) => param.to_token_stream(),
            None => fields[i].ty.to_token_stream(),
        };
        let ser_fields = fields.iter().enumerate().map(|(i, f)| {
            let ty = field_ty(i);
            let attrs = &f.serde_attrs;
            let name = f.ident.map(|name| quote!(#name:));
            quote!(#(#attrs)* #name &'__chsk #ty)
        });
        let de_fields = fields.iter().enumerate().map(|(i, f)| {
            let ty = field_ty(i);
            let attrs = &f.serde_attrs;
            let name = f.ident.map(|name| quote!(#name:));
            quote!(#(#attrs)* #name #ty)
        });
        let fn_params = fields.iter().enumerate().map(|(i, _)| {
            let ty = field_ty(i);
            let name = format_ident!("__chsk_f{}", i);
            quote!(#name: &'__chsk #ty)
        });
        let fn_args: Vec<TokenStream> = (0..fields.len())
            .map(|i| format_ident!("__chsk_f{}", i).into_token_stream())
            .collect();
        let value = pattern(quote!(#ser), &v.shape, &fn_args);
        let (encode, decode) = (helper_fn("encode", v.ident), helper_fn("decode", v.ident));
        let params: Vec<&Ident> = params.iter().flatten().collect();
        let (ser_body, de_body) = match &v.shape {
            Shape::Struct(_) => (quote!({ #(#ser_fields),* }), quote!({ #(#de_fields),* })),
            _ => (quote!(( #(#ser_fields),* );), quote!(( #(#de_fields),* );)),
        };
        quote! {
            #[derive(#k::__private::Serialize)]
            #[serde(crate = #serde_path)]
            struct #ser<'__chsk, #(#params: ?::core::marker::Sized),*> #ser_body

            #[derive(#k::__private::Deserialize)]
            #[serde(crate = #serde_path)]
            struct #de<#(#params),*> #de_body

            fn #encode<'__chsk, #(#params: #k::__private::Serialize + ?::core::marker::Sized),*>(
                codec: #k::Codec,
                #(#fn_params),*
            ) -> ::core::result::Result<#k::Payload, #k::CodecError> {
                codec.encode_payload(&#value)
            }

            fn #decode<#(#params: #k::__private::DeserializeOwned),*>(
                codec: #k::Codec,
                payload: &#k::Payload,
                #(_: ::core::marker::PhantomData<#params>),*
            ) -> ::core::result::Result<#de<#(#params),*>, #k::CodecError> {
                codec.decode_payload::<#de<#(#params),*>>(payload)
            }
        }
    }
}

/// The enum as written, minus the helper attributes. When a field has `#[serde(..)]`
/// attributes (they apply to the payload), the enum also derives chsk's no-op `SerdeAttrs`,
/// which declares `serde` as a helper attribute: the enum need not derive serde's traits.
pub(crate) fn stripped_enum(item: &ItemEnum, krate: &syn::Path) -> ItemEnum {
    let mut item = item.clone();
    item.attrs.retain(|a| !attr::is_helper(a));
    // Only where the payload helpers use them (struct variants, tuple variants of several
    // fields): elsewhere rustc still reports an unknown `serde` attribute rather than the
    // macro ignoring it silently.
    let field_serde = item
        .variants
        .iter()
        .filter(|v| matches!(&v.fields, syn::Fields::Named(_)) || v.fields.len() > 1)
        .flat_map(|v| v.fields.iter())
        .any(|f| f.attrs.iter().any(|a| a.path() == SERDE));
    if field_serde {
        item.attrs
            .push(syn::parse_quote!(#[derive(#krate::__private::SerdeAttrs)]));
    }
    for variant in &mut item.variants {
        variant.attrs.retain(|a| !attr::is_helper(a));
        for field in variant.fields.iter_mut() {
            field.attrs.retain(|a| !attr::is_helper(a));
        }
    }
    item
}

fn helper_fn(kind: &str, variant: &Ident) -> Ident {
    format_ident!(
        "__chsk_{}_{}",
        kind,
        unraw(variant),
        span = Span::call_site()
    )
}

fn ser_helper(variant: &Ident) -> Ident {
    format_ident!("__chsk_ser_{}", unraw(variant), span = Span::call_site())
}

fn de_helper(variant: &Ident) -> Ident {
    format_ident!("__chsk_de_{}", unraw(variant), span = Span::call_site())
}

/// The path as text, for `#[serde(crate = "..")]`.
fn path_string(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}
