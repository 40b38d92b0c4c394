//! `#[chsk::handler]`: parse (`attr.rs`, `ast.rs`) → validate (`valid.rs`) → expand
//! (`expand.rs`), or on any error the fallback (`fallback.rs`).

mod ast;
mod attr;
mod expand;
mod fallback;
mod valid;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::Item;

use crate::ctxt::Ctxt;

const NOT_A_FN: &str = "`#[chsk::handler]` can only be applied to an `async fn`";

/// Expands `#[chsk::handler(args)]` on `input`.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: Item = match crate::ctxt::parse_item(input) {
        Ok(item) => item,
        Err(out) => return out,
    };
    let function = match item {
        Item::Fn(function) => function,
        other => {
            let mut out =
                syn::Error::new_spanned(first_token(&other), NOT_A_FN).into_compile_error();
            out.extend(other.into_token_stream());
            return out;
        }
    };
    let cx = Ctxt::new();
    let args = attr::parse_args(&cx, args);
    let model = ast::HandlerFn::from_syn(&function, args);
    valid::check(&cx, &model);
    let out = match (cx.check(), &model.args) {
        (Ok(()), Some(args)) => expand::Generator::new(&model, args).into_token_stream(),
        (Err(errors), _) => fallback::expand(&model, errors),
        // `parse_args` reports every `None`; this arm is never taken.
        (Ok(()), None) => function.to_token_stream(),
    };
    crate::debug::maybe_print("handler", &function.sig.ident, &out);
    out
}

/// The keyword of an item that is not a function, for a small error span.
fn first_token(item: &Item) -> TokenStream {
    match item {
        Item::Struct(s) => s.struct_token.into_token_stream(),
        Item::Enum(e) => e.enum_token.into_token_stream(),
        Item::Const(c) => c.const_token.into_token_stream(),
        Item::Static(s) => s.static_token.into_token_stream(),
        Item::Impl(i) => i.impl_token.into_token_stream(),
        Item::Mod(m) => m.mod_token.into_token_stream(),
        Item::Trait(t) => t.trait_token.into_token_stream(),
        other => other.into_token_stream(),
    }
}
