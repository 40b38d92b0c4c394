//! Attribute and argument names, as constants (serde's `symbol.rs`): no raw `"reply"` strings
//! anywhere else.

use std::fmt::{self, Display};

use syn::{Ident, Path};

/// A name compared against idents and paths.
#[derive(Copy, Clone)]
pub(crate) struct Symbol(&'static str);

/// `#[reply(T)]` on a variant.
pub(crate) const REPLY: Symbol = Symbol("reply");
/// `#[event(id = "..", volatile)]` on a variant.
pub(crate) const EVENT: Symbol = Symbol("event");
/// `id = ".."` inside `#[event(..)]`.
pub(crate) const ID: Symbol = Symbol("id");
/// `volatile` inside `#[event(..)]`.
pub(crate) const VOLATILE: Symbol = Symbol("volatile");
/// `ns = ".."` in `#[chsk::events(..)]`.
pub(crate) const NS: Symbol = Symbol("ns");
/// `crate = ".."` in the macro arguments.
pub(crate) const CRATE: Symbol = Symbol("crate");
/// `#[derive(..)]`.
pub(crate) const DERIVE: Symbol = Symbol("derive");
/// `#[serde(..)]`.
pub(crate) const SERDE: Symbol = Symbol("serde");
/// `#[cfg(..)]`.
pub(crate) const CFG: Symbol = Symbol("cfg");
/// `#[doc = ".."]`.
pub(crate) const DOC: Symbol = Symbol("doc");
/// serde's derives, not copied onto the variant structs.
pub(crate) const SERIALIZE: Symbol = Symbol("Serialize");
/// serde's derives, not copied onto the variant structs.
pub(crate) const DESERIALIZE: Symbol = Symbol("Deserialize");
/// The handler context type, `chsk::Ctx<S>`.
pub(crate) const CTX: Symbol = Symbol("Ctx");

impl Symbol {
    /// The name as a string.
    pub(crate) fn as_str(self) -> &'static str {
        self.0
    }
}

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Ident {
    fn eq(&self, word: &Symbol) -> bool {
        *self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl Display for Symbol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }
}
