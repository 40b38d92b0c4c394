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
    handler::{Ctx, Handler},
    shared::{BadEvent, BoxFuture, Dispatch, HandlerResult, Server},
};
use crate::{
    codec::Codec,
    error::DecodeError,
    event::{Event, Variant},
    protocol::{EventFrame, ReplyError, ReplyErrorKind},
};

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
                Err(ReplyError::new(
                    ReplyErrorKind::Server,
                    format!("internal error: event `{id}` misrouted"),
                ))
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
                    ReplyError::new(
                        ReplyErrorKind::Server,
                        format!("could not encode the reply of `{id}`: {e}"),
                    )
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

/// The error reply for a panicking handler (logged here, counted by the caller: the only
/// source of kind [`Handler`](ReplyErrorKind::Handler)).
fn handler_panicked(id: &str, msg: &str) -> ReplyError {
    tracing::error!(event = id, panic = msg, "chsk: handler panicked");
    ReplyError::new(
        ReplyErrorKind::Handler,
        format!("handler for `{id}` panicked"),
    )
}

/// The error reply for an event that could not be decoded.
fn undecodable(e: &DecodeError) -> ReplyError {
    let kind = match e {
        DecodeError::UnknownId { .. } => ReplyErrorKind::UnknownEvent,
        DecodeError::BadPayload { .. } => ReplyErrorKind::BadPayload,
    };
    ReplyError::new(kind, e.to_string())
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
        let event = E::from_frame(frame, self.codec).map_err(|e| BadEvent(undecodable(&e)))?;
        let index = event.index();
        let Some(Some(handler)) = self.handlers.get(index) else {
            return Err(BadEvent(ReplyError::new(
                ReplyErrorKind::UnknownEvent,
                format!("no handler for event `{}` on this server", frame.id),
            )));
        };
        let cx = Ctx::new(info, self.state.clone(), server.clone());
        Ok(handler.call(cx, event, self.codec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CodecError;

    #[test]
    fn decode_errors_become_unknown_event_or_bad_payload() {
        let unknown = DecodeError::UnknownId {
            id: "a/x".into(),
            ty: "AEvent",
        };
        let reply = undecodable(&unknown);
        assert_eq!(reply.kind, ReplyErrorKind::UnknownEvent);
        assert_eq!(reply.message, "unknown event id `a/x` for `AEvent`");
        let bad = DecodeError::BadPayload {
            id: "a/y",
            source: CodecError::new("json", "nesting too deep"),
        };
        let reply = undecodable(&bad);
        assert_eq!(reply.kind, ReplyErrorKind::BadPayload);
        assert_eq!(
            reply.message,
            "bad payload for event `a/y`: json codec: nesting too deep"
        );
    }
}
