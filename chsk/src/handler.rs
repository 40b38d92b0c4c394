//! Handlers: the target of `#[chsk::handler]`.
//!
//! OWNED BY THE SERVER RUNTIME WORK: `Ctx` is a placeholder to be completed there.

use std::{future::Future, pin::Pin, sync::Arc};

use crate::event::Variant;

/// A boxed, sendable future (the return type of [`Handler::call`]).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The context a handler gets: who sent the event, the app state, and a handle to push.
#[derive(Debug)]
pub struct Ctx<S> {
    state: Arc<S>,
}

impl<S> Clone for Ctx<S> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
        }
    }
}

impl<S> Ctx<S> {
    /// The application state given to the server builder.
    pub fn state(&self) -> &S {
        &self.state
    }
}

/// An event handler bound to one [`Variant`]; implemented by `#[chsk::handler]` on a unit struct
/// named after the function.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a chsk handler for state `{S}`",
    note = "annotate an `async fn` with `#[chsk::handler(Enum::Variant)]`; its first parameter may be `chsk::Ctx<{S}>`"
)]
pub trait Handler<S>: Send + Sync + 'static {
    /// The event variant this handler serves.
    type Variant: Variant;

    /// Runs the handler on the variant's fields.
    fn call(
        &self,
        cx: Ctx<S>,
        fields: <Self::Variant as Variant>::Fields,
    ) -> BoxFuture<<Self::Variant as Variant>::Output>;
}
