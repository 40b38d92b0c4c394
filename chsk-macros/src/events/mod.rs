//! `#[chsk::events]`: parse (`attr.rs`, `ast.rs`) → validate (`valid.rs`) → expand
//! (`expand.rs`), or on any error the fallback (`fallback.rs`).

mod ast;
mod attr;
mod callback;
mod expand;
mod fallback;
mod tokens;
mod valid;
mod variants;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::Item;

use crate::ctxt::Ctxt;

/// Expands `#[chsk::events(args)]` on `input`.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: Item = match crate::ctxt::parse_item(input) {
        Ok(item) => item,
        Err(out) => return out,
    };
    let item = match item {
        Item::Enum(item) => item,
        other => return not_an_enum(other),
    };
    let cx = Ctxt::new();
    let args = attr::parse_args(&cx, args);
    let model = ast::EventsEnum::from_syn(&cx, &item, args);
    valid::check(&cx, &model);
    let out = match cx.check() {
        Ok(()) => expand::Generator::new(&model).into_token_stream(),
        Err(errors) => fallback::expand(&model, errors),
    };
    crate::debug::maybe_print("events", &item.ident, &out);
    out
}

fn not_an_enum(item: Item) -> TokenStream {
    const MSG: &str = "`#[chsk::events]` can only be applied to an enum";
    let err = match &item {
        Item::Struct(s) => syn::Error::new_spanned(s.struct_token, MSG),
        Item::Union(u) => syn::Error::new_spanned(u.union_token, MSG),
        Item::Fn(f) => syn::Error::new_spanned(&f.sig, MSG),
        Item::Trait(t) => syn::Error::new_spanned(t.trait_token, MSG),
        Item::Type(t) => syn::Error::new_spanned(t.type_token, MSG),
        Item::Mod(m) => syn::Error::new_spanned(m.mod_token, MSG),
        other => syn::Error::new_spanned(other, MSG),
    };
    let mut out = err.into_compile_error();
    out.extend(item.into_token_stream());
    out
}
