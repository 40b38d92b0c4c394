//! The streams a [`Client`](super::Client) hands out: typed pushes, state changes, server
//! errors.

use std::{
    fmt,
    marker::PhantomData,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use futures::{channel::mpsc::UnboundedReceiver, Stream, StreamExt};

use super::state::{ServerError, StateChange};
use crate::{codec::Codec, error::DecodeError, event::Event, protocol::EventFrame};

/// The typed stream of pushes; see [`Client::pushes`](super::Client::pushes).
///
/// Yields one event at a time, in the server's order; [`recv_batch`](Self::recv_batch) yields
/// whole batches, as the server batched them.
pub struct Pushes<P> {
    rx: UnboundedReceiver<Arc<[EventFrame]>>,
    batch: Option<(Arc<[EventFrame]>, usize)>,
    codec: Codec,
    _p: PhantomData<fn() -> P>,
}

impl<P> fmt::Debug for Pushes<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pushes").finish_non_exhaustive()
    }
}

fn decode<P: Event>(frame: &EventFrame, codec: Codec) -> Result<P, DecodeError> {
    P::from_frame(frame, codec).inspect_err(|e| {
        tracing::warn!(error = %e, "chsk client: a push did not decode");
    })
}

impl<P> Pushes<P> {
    pub(crate) fn new(rx: UnboundedReceiver<Arc<[EventFrame]>>, codec: Codec) -> Self {
        Self {
            rx,
            batch: None,
            codec,
            _p: PhantomData,
        }
    }
}

impl<P: Event> Pushes<P> {
    /// The next push; `None` when the client is gone.
    pub async fn recv(&mut self) -> Option<Result<P, DecodeError>> {
        self.next().await
    }

    /// The rest of the current batch, or the next whole batch (one `Push` frame of the server,
    /// never empty); `None` when the client is gone.
    pub async fn recv_batch(&mut self) -> Option<Vec<Result<P, DecodeError>>> {
        let (batch, start) = match self.batch.take() {
            Some((batch, i)) if i < batch.len() => (batch, i),
            _ => (self.rx.next().await?, 0),
        };
        Some(
            batch[start..]
                .iter()
                .map(|f| decode(f, self.codec))
                .collect(),
        )
    }
}

impl<P: Event> Stream for Pushes<P> {
    type Item = Result<P, DecodeError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let codec = self.codec;
            if let Some((batch, i)) = &mut self.batch {
                if let Some(frame) = batch.get(*i) {
                    *i += 1;
                    return Poll::Ready(Some(decode(frame, codec)));
                }
                self.batch = None;
            }
            match self.rx.poll_next_unpin(cx) {
                Poll::Ready(Some(batch)) => self.batch = Some((batch, 0)),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// A stream of `$item`s fed by the driver: the struct, `recv` and `Stream`.
macro_rules! feed {
    ($(#[$doc:meta])* $name:ident, $item:ty, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            rx: UnboundedReceiver<$item>,
        }

        impl $name {
            pub(crate) fn new(rx: UnboundedReceiver<$item>) -> Self {
                Self { rx }
            }

            #[doc = concat!("The next ", $what, "; `None` when the client is gone.")]
            pub async fn recv(&mut self) -> Option<$item> {
                self.rx.next().await
            }
        }

        impl Stream for $name {
            type Item = $item;

            fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<$item>> {
                self.rx.poll_next_unpin(cx)
            }
        }
    };
}

feed!(
    /// The stream of state changes; see
    /// [`Client::state_changes`](super::Client::state_changes).
    StateChanges,
    StateChange,
    "change"
);

feed!(
    /// The stream of server errors; see
    /// [`Client::server_errors`](super::Client::server_errors).
    ServerErrors,
    ServerError,
    "error"
);
