//! Proc macros for [chsk](https://docs.rs/chsk): `#[chsk::events]` and `#[chsk::handler]`.
//!
//! Use them through the `chsk` crate (feature `macros`, on by default); generated code names
//! only `::chsk::…` and `::core::…` paths, so this crate is never named by users.

mod bind;
mod case;
mod ctxt;
mod debug;
mod events;
mod handler;
mod hash;
mod suggest;
mod symbol;

use proc_macro::TokenStream;

/// Declares an event enum: a stable, namespaced id per variant, the serde packing of each
/// variant's payload, a type of its own per variant, and typed replies.
///
/// ```
/// #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
/// pub struct Message {
///     pub text: String,
/// }
///
/// #[chsk::events(ns = "chat")]
/// #[derive(Debug, Clone, PartialEq)]
/// pub enum ChatEvent {
///     /// Fire and forget.
///     Post(Message),
///     /// A request: the reply type is part of the event.
///     #[reply(Vec<Message>)]
///     History { room: String, limit: u32 },
///     /// An explicit id.
///     #[event(id = "chat/who")]
///     #[reply(Vec<String>)]
///     Online,
///     Pair(u8, String),
///     /// Not kept for recovery: a reconnecting client does not get it back.
///     #[event(volatile)]
///     Typing { user: String },
/// }
///
/// use chsk::{Codec, Event, Request, Variant};
///
/// fn main() {
///     // `impl chsk::Event for ChatEvent`
///     assert_eq!(ChatEvent::NAME, "ChatEvent");
///     assert_eq!(
///         ChatEvent::IDS,
///         ["chat/post", "chat/history", "chat/who", "chat/pair", "chat/typing"]
///     );
///     assert_eq!(ChatEvent::VOLATILE, [false, false, false, false, true]);
///     assert!(ChatEvent::Typing { user: "ann".into() }.is_volatile());
///     let event = ChatEvent::History { room: "lobby".into(), limit: 5 };
///     assert_eq!((event.id(), event.index()), ("chat/history", 1));
///     let payload = event.encode_payload(Codec::Json).unwrap();
///     assert_eq!(payload.as_bytes(), br#"{"room":"lobby","limit":5}"#);
///     assert_eq!(ChatEvent::decode("chat/history", &payload, Codec::Json).unwrap(), event);
///     assert!(ChatEvent::decode("chat/nope", &payload, Codec::Json).is_err());
///
///     // `mod chat_event`: one struct per variant, with the enum's derives (serde's excepted)
///     let history = chat_event::History { room: "lobby".into(), limit: 5 };
///     assert_eq!(chat_event::History::ID, "chat/history"); // inherent, no trait import needed
///     assert_eq!(<chat_event::History as Variant>::INDEX, 1);
///     assert!(<chat_event::Typing as Variant>::VOLATILE);
///     let fields: (String, u32) = history.clone().into_fields();
///     assert_eq!(fields, ("lobby".to_string(), 5));
///     let back: ChatEvent = history.clone().into(); // `From<chat_event::History> for ChatEvent`
///     assert_eq!(chat_event::History::try_from_event(back), Ok(history));
///     assert_eq!(chat_event::Pair(1, "x".into()).into_fields(), (1, "x".to_string()));
///     assert_eq!(chat_event::Online::ID, "chat/who");
///
///     // `impl chsk::Request for chat_event::History { type Reply = Vec<Message>; }`
///     fn reply_of<R: Request>(_: &R) -> Option<R::Reply> { None }
///     let _: Option<Vec<Message>> = reply_of(&chat_event::History { room: "a".into(), limit: 1 });
///     let _: <chat_event::Post as Variant>::Output = (); // no `#[reply]`: the output is `()`
/// }
/// ```
///
/// # Arguments
///
/// - `ns = "chat"` (required): the namespace of the default ids. One non-empty part: no `/`,
///   no whitespace, and not `chsk` (reserved for protocol events).
/// - `crate = "::chsk"` (optional): the path of the chsk crate, when it is re-exported or
///   renamed.
///
/// # Variant attributes
///
/// - `#[reply(T)]`: the variant is a request whose reply is `T` (`T: Serialize +
///   DeserializeOwned + Send + 'static`). Its struct implements [`Request`] and its handler must
///   return `T`. Without it, the variant is fire-and-forget and its handler returns `()`.
/// - `#[event(id = "namespace/name")]`: a full id instead of the default one. It must have
///   non-empty parts separated by `/`, no whitespace, and not be in the `chsk/` namespace.
/// - `#[event(volatile)]`: pushes of the variant are not kept for recovery. The server does
///   not append them to its stream history, they carry no stream position (`PushRun { at:
///   None }` on the wire), and a client that reconnects does not get them back: for typing
///   indicators, cursor moves, progress ticks. A bare word (no value); leave it out for a
///   push that is kept. It combines with an id in one attribute: `#[event(id = "chat/who",
///   volatile)]` (one `#[event]` per variant). See
///   [volatile pushes](../chsk/event/index.html#volatile-pushes).
///
/// # Ids
///
/// The default id is `ns + "/" + kebab-case(Variant)`. Words split at a lowercase-or-digit →
/// uppercase boundary, and before the last capital of a run of capitals that is followed by a
/// lowercase letter, so acronyms stay one word: `Post` → `post`, `UserJoined` → `user-joined`,
/// `HTTPPing` → `http-ping`, `GetHTTP` → `get-http`, `V2Ping` → `v2-ping`. Ids are unique
/// within the enum (after kebab-casing, so `FooBar` and `#[event(id = "ns/foo-bar")]`
/// collide). The generated module's name is the enum's name in snake_case by the same rule
/// (`ChatEvent` → `chat_event`, `HTTPPush` → `http_push`).
///
/// # Payloads
///
/// The payload of a variant is encoded by the connection's [`Codec`](../chsk/enum.Codec.html)
/// (postcard or JSON) as:
///
/// | variant                 | payload                       | JSON                     |
/// |-------------------------|-------------------------------|--------------------------|
/// | `Online`                | `()`                          | `null`                   |
/// | `Post(Message)`         | the field itself              | the `Message`            |
/// | `Pair(u8, String)`      | a tuple                       | `[1,"x"]`                |
/// | `History { room, limit }` | a struct with those fields  | `{"room":"a","limit":5}` |
///
/// The enum itself does not need `Serialize`/`Deserialize`; every field type must implement
/// `Serialize + DeserializeOwned` (a missing impl is reported at the field's type).
/// `#[serde(..)]` attributes on the fields of struct variants apply to the payload; container
/// and variant `#[serde]` attributes do not. They work whether or not the enum derives serde's
/// traits: when a field of a struct variant (or of a tuple variant of several fields) has one,
/// the enum also derives a hidden no-op derive that declares `serde` as a helper attribute.
///
/// # Generated items
///
/// For the enum above (with `pub` visibility), the macro emits the enum unchanged (minus
/// `#[reply]`/`#[event]`) and:
///
/// ```text
/// impl ::chsk::Event for ChatEvent {
///     const NAME: &'static str = "ChatEvent";
///     const IDS: &'static [&'static str] =
///         &["chat/post", "chat/history", "chat/who", "chat/pair", "chat/typing"];
///     const VOLATILE: &'static [bool] = &[false, false, false, false, true]; // `#[event(volatile)]`
///     fn id(&self) -> &'static str;
///     fn index(&self) -> usize;
///     fn encode_payload(&self, codec: ::chsk::Codec) -> Result<::chsk::Payload, ::chsk::CodecError>;
///     fn decode(id: &str, payload: &::chsk::Payload, codec: ::chsk::Codec)
///         -> Result<Self, ::chsk::DecodeError>; // UnknownId / BadPayload, never a panic
/// }
///
/// pub mod chat_event {                      // the enum's visibility
///     pub struct Post(pub Message);         // same shape, pub fields, the enum's derives
///     pub struct History { pub room: String, pub limit: u32 }
///     pub struct Online;
///     pub struct Pair(pub u8, pub String);
///     pub struct Typing { pub user: String }
///
///     impl History { pub const ID: &'static str = "chat/history"; }   // for each struct
///
///     impl ::chsk::Variant for History {                              // for each struct
///         type Event = ChatEvent;
///         type Fields = (String, u32);      // `()` for a unit variant, `(T,)` for one field
///         type Output = Vec<Message>;       // the `#[reply]` type, or `()`
///         const ID: &'static str = "chat/history";
///         const INDEX: usize = 1;
///         // `const VOLATILE: bool` is the trait's default, read from `ChatEvent::VOLATILE`
///         fn into_fields(self) -> (String, u32);
///         fn try_from_event(event: ChatEvent) -> Result<Self, ChatEvent>;
///     }
///     impl From<History> for ChatEvent;                               // for each struct
///     impl ::chsk::Request for History { type Reply = Vec<Message>; } // `#[reply]` only
///
///     // For each struct, so `#[chsk::handler(ChatEvent::History)]` finds `History` through
///     // the enum (HASH: the FNV-1a 64 hash of the variant's name, here of "History"):
///     impl ::chsk::__private::VariantOf<HASH> for ChatEvent { type Variant = History; }
///
///     #[doc(hidden)] pub use super::ChatEvent as __chsk_events;      // the macro below
/// }
///
/// // What `#[chsk::handler]` calls to see the enum's variant and field names (so parameters
/// // bind struct fields by name). Exported under a name unique to the enum, re-exported next
/// // to the enum under the enum's own name (the macro namespace, so `use events::ChatEvent;`
/// // imports it too) with the enum's visibility:
/// #[doc(hidden)] #[macro_export] macro_rules! __chsk_events_ChatEvent_<hash of the enum> { .. }
/// #[doc(hidden)] pub use __chsk_events_ChatEvent_<hash> as ChatEvent;
/// ```
///
/// The derives are copied only when `#[chsk::events]` comes before `#[derive(..)]` (the macro
/// does not see derives written above it). `#[cfg]` on variants and fields is rejected: both
/// peers must agree on every id and index.
///
/// Hidden payload helpers (`__chsk_ser_*` borrowing the fields, `__chsk_de_*` owning them) live
/// in a `const _: () = { .. };` block next to the `Event` impl. Items of the module get the
/// enum's visibility as seen from outside it (a private enum's structs are `pub(super)`).
/// The module starts with `use super::*;`, so field types resolve as they do next to the enum
/// (a type that a generated struct would shadow, as in `Message(Message)`, or that uses `Self`
/// or `self::`/`super::` paths, goes through a hidden `__chsk_*` type alias next to the enum);
/// declare event enums at module level (not inside a function body).
///
/// Sending a variant without `#[reply]` where a [`Request`] is expected does not compile:
///
/// ```compile_fail
/// #[chsk::events(ns = "chat")]
/// pub enum ChatEvent {
///     Post(String),
/// }
///
/// fn send_with_reply<R: chsk::Request>(_: R) {}
///
/// fn main() {
///     send_with_reply(chat_event::Post("hi".into())); // `Post` does not take a reply
/// }
/// ```
///
/// # Errors
///
/// The macro rejects, all at once and each at the smallest span: a non-enum item, generic
/// enums, a missing or invalid `ns`, unknown (with the closest known name, when it looks like a
/// typo) or duplicate arguments, a value given to `volatile`, malformed or duplicate
/// `#[reply]`/`#[event]` attributes (or ones placed on the enum or a field), invalid ids,
/// duplicate ids and the reserved `chsk/` namespace. On any error it still emits the enum, a
/// placeholder `Event` impl, the module and the handlers' macro (not for a generic enum), so
/// other uses of the enum, its variant structs and its `#[chsk::handler]`s do not add errors.
///
/// Set `CHSK_MACROS_DEBUG=1` while building to print every expansion to stderr.
///
/// [`Request`]: ../chsk/trait.Request.html
#[proc_macro_attribute]
pub fn events(args: TokenStream, item: TokenStream) -> TokenStream {
    events::expand(args.into(), item.into()).into()
}

/// Binds an `async fn` to one event variant, for the server's dispatch table.
///
/// ```
/// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
/// # pub struct Message { pub text: String }
/// #[chsk::events(ns = "chat")]
/// pub enum ChatEvent {
///     Post(Message),
///     #[reply(Vec<Message>)]
///     History { room: String, limit: u32 },
/// }
///
/// pub struct AppState {
///     messages: Vec<Message>,
/// }
///
/// /// With a context: serves only a server built with state `AppState`; returns the reply.
/// #[chsk::handler(ChatEvent::History)]
/// async fn history(cx: chsk::Ctx<AppState>, room: String, limit: u32) -> Vec<Message> {
///     let _ = room;
///     cx.state().messages.iter().take(limit as usize).cloned().collect()
/// }
///
/// /// Without a context: generic over any server state; no reply.
/// #[chsk::handler(ChatEvent::Post)]
/// pub async fn post(msg: Message) {
///     let _ = msg;
/// }
///
/// fn main() {
///     use chsk::{handler::IntoHandler, Handler, Variant};
///     fn variant_id<S, F: IntoHandler<S>>(_: F) -> &'static str {
///         <<F::Handler as Handler<S>>::Variant as Variant>::ID
///     }
///     assert_eq!(variant_id::<AppState, _>(history), "chat/history");
///     assert_eq!(variant_id::<(), _>(post), "chat/post");
///     // `history` is a plain function item: a local binding may shadow it.
///     let history = vec![1];
///     assert_eq!(history.len(), 1);
///     // The function as written stays callable, e.g. from unit tests:
///     let _future = chsk::handler::of(post).run(Message { text: "hi".into() });
/// }
/// ```
///
/// # The event path
///
/// The argument names the variant as `Enum::Variant`, with any module prefix
/// (`a::b::ChatEvent::History`). The handler reaches the enum's variants and field names
/// through a hidden macro that `#[chsk::events]` re-exports under the enum's own name (see its
/// generated items), and the variant's struct through the enum itself:
/// `<ChatEvent as ::chsk::__private::VariantOf<HASH>>::Variant`, where `HASH` is the FNV-1a 64
/// hash of `History`. So only the enum has to be in scope where the handler is written
/// (`use events::ChatEvent;`), and that import is used. An unknown variant is reported at its
/// name with the closest one (`` `ChatEvent` has no variant `Pots`; did you mean `Post`? ``).
/// A path whose second-to-last segment is lowercase names the generated module and is used as
/// it is (`chat_event::History`).
///
/// An optional second argument, `crate = "::chsk"`, names a renamed or re-exported chsk:
/// `#[chsk::handler(ChatEvent::History, crate = "::my_chsk")]`.
///
/// # Parameters and return type
///
/// If the first parameter's type's last path segment is `Ctx` (e.g. `chsk::Ctx<AppState>`),
/// it receives the context and the handler serves state `AppState`; otherwise the handler is
/// generic over any state. The other parameters receive the variant's fields:
///
/// - **struct variant** (`History { room, limit }`): **by name**, in any order. A parameter
///   named `room` binds the field `room`; a leading underscore binds the field without it
///   (`_room` binds `room`, for a field the handler does not use) unless the enum has a field
///   of that exact name. Every field must be bound exactly once, and each parameter must be a
///   plain name (`room`, `mut room`), not a pattern: destructure in the body instead.
/// - **tuple variant** (`Pair(u8, String)`): in order, one parameter per field (any
///   irrefutable patterns, `_` included).
/// - **unit variant**: no parameters.
///
/// ```
/// #[chsk::events(ns = "board")]
/// pub enum BoardEvent {
///     #[reply(String)]
///     Move { from: String, to: String, piece: char },
/// }
///
/// // Order is free; `_piece` binds `piece` without an unused-variable warning.
/// #[chsk::handler(BoardEvent::Move)]
/// async fn mv(to: String, _piece: char, from: String) -> String {
///     format!("{from}-{to}")
/// }
/// # fn main() {}
/// ```
///
/// A parameter of another type than its field is reported at the parameter's type
/// ("expected `String`, the field's type, found `&str`"). The return type must be the
/// variant's `#[reply]` type, or `()` (or nothing) for a variant without `#[reply]`; a mismatch
/// is reported at the return type. The future must be `Send + 'static`.
///
/// # Generated items
///
/// For `async fn history(cx: chsk::Ctx<AppState>, room: String, limit: u32) -> Vec<Message>`:
///
/// ```text
/// #[doc(hidden)]
/// #[derive(Debug, Clone, Copy)]
/// struct __chsk_handler_history;           // the fn's visibility; the handler type
///
/// /// (the fn's doc comments)
/// fn history(_: ::chsk::__private::HandlerToken) -> __chsk_handler_history;
///                                          // the fn's name and visibility: what
///                                          // `.handler(history)` takes (`chsk::handler::IntoHandler`)
///
/// impl __chsk_handler_history {
///     async fn run(self, cx: chsk::Ctx<AppState>, room: String, limit: u32) -> Vec<Message>;
///                                          // the function as written, plus `self`
/// }
///
/// impl ::chsk::Handler<AppState> for __chsk_handler_history {
///     // `impl<S: Send + Sync + 'static> Handler<S>` when there is no `Ctx` parameter
///     type Variant = <ChatEvent as ::chsk::__private::VariantOf<HASH>>::Variant; // chat_event::History
///     // (`HASH` is written `{ ChatEvent!(..) }`: the enum's hidden macro checks the name, and
///     // the body below, `ChatEvent!(..)` too, checks the parameter names and binds the fields)
///     fn call(&self, cx: ::chsk::Ctx<AppState>, fields: (String, u32))
///         -> ::chsk::handler::BoxFuture<Vec<Message>>;
///         // let (room, limit) = fields; (bound by name) Box::pin(self.run(cx, room, limit))
/// }
/// ```
///
/// The name `history` is a function item, not a type or a unit struct, so a `let history = ..`
/// or a parameter named `history` in the same module shadows it as it would any function.
/// `.handler(history)` registers it. To call the function body directly (a unit test of a
/// handler without a context), use `chsk::handler::of(history).run(..)`; to test through the
/// real decode → dispatch → encode path, with a context, use `Server::call_local`.
///
/// # Errors
///
/// Rejected with a message at the offending tokens: a non-`async` function, a missing or
/// malformed event path, methods (`self`), generic, `unsafe` or `extern` functions, and a
/// `Ctx` parameter that is not the first or is taken by reference. Through the enum's macro, at
/// the parameters: an unknown variant (with the closest name), a struct-variant parameter that
/// names no field (with the closest field and the list of fields), a field bound twice, missing
/// fields (with the parameters to add), a pattern where a field name is expected, and a wrong
/// number of parameters for a tuple or unit variant. A parameter of the wrong type, or a wrong
/// return type, is a type error at that type. On any rejection the macro still emits the
/// function and the hidden type with a placeholder `Handler` impl, so registering the handler
/// adds no error. An enum that is not in scope is reported by rustc at its path, as a missing
/// type and a missing macro of that name, with the import to add; a type that is not under
/// `#[chsk::events]` as "`X` is not a chsk event enum".
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(args.into(), item.into()).into()
}

/// Not public API: the second half of `#[chsk::handler]`, called through the hidden macro that
/// `#[chsk::events]` emits next to the enum (so it sees both the handler and the enum).
#[doc(hidden)]
#[proc_macro]
pub fn __bind(input: TokenStream) -> TokenStream {
    bind::expand(input.into()).into()
}

/// Not public API: a derive that does nothing but declare `serde` as a helper attribute, so the
/// fields of an event enum may carry `#[serde(..)]` without the enum deriving serde's traits.
#[doc(hidden)]
#[proc_macro_derive(__SerdeAttrs, attributes(serde))]
pub fn serde_attrs(_item: TokenStream) -> TokenStream {
    TokenStream::new()
}
