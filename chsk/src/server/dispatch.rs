//! Dispatch: an incoming `(id, payload)` goes to its handler through a table indexed by
//! [`Event::index`]; the table is type-erased so [`Server`] is not generic.

use std::{
    any::{Any, TypeId},
    marker::PhantomData,
    panic::AssertUnwindSafe,
    sync::Arc,
};

use futures::FutureExt;
use serde::Serialize;

use super::{
    conn::ConnInfo,
    handler::{BoxFuture, Ctx, Handler},
    Server,
};
use crate::{
    codec::{Codec, Payload},
    event::{Event, Variant},
    protocol::EventFrame,
};

/// What a handler call produced: the encoded output, or a failure for the client.
pub(crate) type HandlerResult = Result<Payload, Failure>;

/// A handler call that failed: the message for the client, and whether it panicked.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) panicked: bool,
}

impl Failure {
    fn other(message: String) -> Self {
        Self {
            message,
            panicked: false,
        }
    }
}

/// Why an event could not be handed to a handler.
#[derive(Debug)]
pub(crate) struct BadEvent(pub(crate) String);

/// The erased dispatch table.
pub(crate) trait Dispatch: Send + Sync + 'static {
    /// The event enum's `TypeId`, so typed local calls can check it.
    fn event_type(&self) -> TypeId;
    /// The event enum's name.
    fn event_name(&self) -> &'static str;
    /// Decodes the event and starts its handler; the future never panics (a panicking handler
    /// becomes `Err`).
    fn dispatch(
        &self,
        server: &Server,
        info: Arc<ConnInfo>,
        event: &EventFrame,
    ) -> Result<BoxFuture<HandlerResult>, BadEvent>;
}

/// A handler with its variant erased.
pub(crate) trait ErasedHandler<E, S>: Send + Sync + 'static {
    fn call(&self, cx: Ctx<S>, event: E, codec: Codec) -> BoxFuture<HandlerResult>;
}

pub(crate) struct Wrap<H>(pub(crate) H);

impl<E, S, H> ErasedHandler<E, S> for Wrap<H>
where
    E: Event,
    S: Send + Sync + 'static,
    H: Handler<S>,
    H::Variant: Variant<Event = E>,
    <H::Variant as Variant>::Output: Serialize,
{
    fn call(&self, cx: Ctx<S>, event: E, codec: Codec) -> BoxFuture<HandlerResult> {
        let id = <H::Variant as Variant>::ID;
        let Ok(variant) = <H::Variant as Variant>::try_from_event(event) else {
            return Box::pin(async move {
                Err(Failure::other(format!(
                    "internal error: event `{id}` misrouted"
                )))
            });
        };
        let fields = variant.into_fields();
        // The call itself may panic before it returns a future.
        let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| self.0.call(cx, fields))) {
            Ok(fut) => fut,
            Err(panic) => {
                let msg = panic_message(&*panic);
                return Box::pin(async move { Err(handler_panicked(id, &msg)) });
            }
        };
        Box::pin(async move {
            match AssertUnwindSafe(fut).catch_unwind().await {
                Ok(out) => codec.encode_payload(&out).map_err(|e| {
                    Failure::other(format!("could not encode the reply of `{id}`: {e}"))
                }),
                Err(panic) => Err(handler_panicked(id, &panic_message(&*panic))),
            }
        })
    }
}

/// The message of a panic payload.
fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}

/// The error reply for a panicking handler (logged here, counted by the caller).
fn handler_panicked(id: &str, msg: &str) -> Failure {
    tracing::error!(event = id, panic = msg, "chsk: handler panicked");
    Failure {
        message: format!("handler for `{id}` panicked"),
        panicked: true,
    }
}

/// The dispatch table of one event enum and state type.
pub(crate) struct Table<E, S> {
    pub(crate) handlers: Vec<Option<Box<dyn ErasedHandler<E, S>>>>,
    pub(crate) state: Arc<S>,
    pub(crate) codec: Codec,
    pub(crate) _event: PhantomData<fn() -> E>,
}

impl<E: Event, S: Send + Sync + 'static> Dispatch for Table<E, S> {
    fn event_type(&self) -> TypeId {
        TypeId::of::<E>()
    }

    fn event_name(&self) -> &'static str {
        E::NAME
    }

    fn dispatch(
        &self,
        server: &Server,
        info: Arc<ConnInfo>,
        frame: &EventFrame,
    ) -> Result<BoxFuture<HandlerResult>, BadEvent> {
        let event = E::from_frame(frame, self.codec).map_err(|e| BadEvent(e.to_string()))?;
        let index = event.index();
        let Some(Some(handler)) = self.handlers.get(index) else {
            return Err(BadEvent(format!(
                "no handler for event `{}` on this server",
                frame.id
            )));
        };
        let cx = Ctx::new(info, self.state.clone(), server.clone());
        Ok(handler.call(cx, event, self.codec))
    }
}
