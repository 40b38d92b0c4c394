//! The typed model of an event enum, borrowed from syn's tree. Never emits tokens.

use proc_macro2::Span;
use syn::{Attribute, Ident, ItemEnum, Type, Visibility};

use super::attr::{self, Args};
use crate::{
    case,
    ctxt::Ctxt,
    symbol::{DERIVE, DESERIALIZE, DOC, SERDE, SERIALIZE},
};

/// An enum under `#[chsk::events]`.
pub(crate) struct EventsEnum<'a> {
    pub(crate) original: &'a ItemEnum,
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    /// The namespace (`ns = ".."`), if given.
    pub(crate) ns: Option<attr::Spanned>,
    /// The chsk crate path.
    pub(crate) krate: syn::Path,
    /// The name of the generated module (`ChatEvent` → `chat_event`).
    pub(crate) module: Ident,
    /// The enum's derives without serde's, to copy onto the variant structs.
    pub(crate) derives: Vec<syn::Path>,
    pub(crate) variants: Vec<EventVariant<'a>>,
}

/// One variant.
pub(crate) struct EventVariant<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) index: usize,
    pub(crate) shape: Shape<'a>,
    /// `#[reply(T)]`.
    pub(crate) reply: Option<Type>,
    /// The wire id: `#[event(id)]`, or `ns/kebab-case(ident)`.
    pub(crate) id: String,
    /// Where the id comes from: the `#[event(id)]` literal, or the variant name.
    pub(crate) id_span: Span,
    /// `true` when the id was given with `#[event(id = "..")]`.
    pub(crate) explicit_id: bool,
    /// `#[event(volatile)]`: pushes of this variant are not kept for recovery.
    pub(crate) volatile: bool,
    /// The variant's doc comments.
    pub(crate) docs: Vec<&'a Attribute>,
}

/// The shape of a variant's fields.
pub(crate) enum Shape<'a> {
    Unit,
    /// `Post(Message)`, `Pair(u8, String)`.
    Tuple(Vec<Field<'a>>),
    /// `History { room: String, limit: u32 }`.
    Struct(Vec<Field<'a>>),
}

/// One field; `ident` is `None` in a tuple variant.
pub(crate) struct Field<'a> {
    pub(crate) ident: Option<&'a Ident>,
    pub(crate) ty: &'a Type,
    pub(crate) docs: Vec<&'a Attribute>,
    /// `#[serde(..)]` attributes, copied onto the payload helpers of struct variants.
    pub(crate) serde_attrs: Vec<&'a Attribute>,
}

impl<'a> Shape<'a> {
    pub(crate) fn fields(&self) -> &[Field<'a>] {
        match self {
            Shape::Unit => &[],
            Shape::Tuple(fields) | Shape::Struct(fields) => fields,
        }
    }
}

impl<'a> EventsEnum<'a> {
    /// Builds the model; attribute errors go to `cx`.
    pub(crate) fn from_syn(cx: &Ctxt, original: &'a ItemEnum, args: Args) -> Self {
        attr::reject_misplaced(cx, &original.attrs, "the enum");
        let ns = args.ns;
        let variants = original
            .variants
            .iter()
            .enumerate()
            .map(|(index, v)| EventVariant::from_syn(cx, ns.as_ref(), index, v))
            .collect();
        Self {
            original,
            ident: &original.ident,
            vis: &original.vis,
            ns,
            krate: args.krate,
            module: Ident::new(
                &case::snake_case(&original.ident.to_string()),
                original.ident.span(),
            ),
            derives: copied_derives(&original.attrs),
            variants,
        }
    }
}

impl<'a> EventVariant<'a> {
    fn from_syn(
        cx: &Ctxt,
        ns: Option<&attr::Spanned>,
        index: usize,
        original: &'a syn::Variant,
    ) -> Self {
        let attrs = attr::parse_variant(cx, &original.attrs);
        let shape = match &original.fields {
            syn::Fields::Unit => Shape::Unit,
            syn::Fields::Unnamed(f) => {
                Shape::Tuple(f.unnamed.iter().map(Field::from_syn).collect())
            }
            syn::Fields::Named(f) => Shape::Struct(f.named.iter().map(Field::from_syn).collect()),
        };
        for field in original.fields.iter() {
            attr::reject_misplaced(cx, &field.attrs, "a field");
        }
        let (id, id_span, explicit_id) = match attrs.id {
            Some(id) => (id.value, id.span, true),
            None => {
                let ns = ns.map_or("", |ns| ns.value.as_str());
                let name = case::kebab_case(&original.ident.to_string());
                (format!("{ns}/{name}"), original.ident.span(), false)
            }
        };
        Self {
            ident: &original.ident,
            index,
            shape,
            reply: attrs.reply,
            id,
            id_span,
            explicit_id,
            volatile: attrs.volatile,
            docs: docs(&original.attrs),
        }
    }
}

impl<'a> Field<'a> {
    fn from_syn(field: &'a syn::Field) -> Self {
        Self {
            ident: field.ident.as_ref(),
            ty: &field.ty,
            docs: docs(&field.attrs),
            serde_attrs: field.attrs.iter().filter(|a| a.path() == SERDE).collect(),
        }
    }
}

fn docs(attrs: &[Attribute]) -> Vec<&Attribute> {
    attrs.iter().filter(|a| a.path() == DOC).collect()
}

/// The paths inside the enum's `#[derive(..)]`s, except serde's `Serialize`/`Deserialize`.
fn copied_derives(attrs: &[Attribute]) -> Vec<syn::Path> {
    let mut out = Vec::new();
    for attr in attrs.iter().filter(|a| a.path() == DERIVE) {
        let parser = syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated;
        // A malformed derive is rustc's to report; copy nothing from it.
        let Ok(paths) = attr.parse_args_with(parser) else {
            continue;
        };
        out.extend(paths.into_iter().filter(|path| {
            let last = path.segments.last().map(|s| &s.ident);
            !last.is_some_and(|ident| ident == SERIALIZE || ident == DESERIALIZE)
        }));
    }
    out
}
