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

/// What the pushes stream yields besides a push: why an item is not one.
///
/// As with a lagging `tokio::sync::broadcast` receiver, an error does not end the stream: the
/// pushes go on after it.
///
/// ```
/// use chsk::client::RecvError;
///
/// /// The app's view of a chat room, fed by the pushes stream.
/// #[derive(Default)]
/// struct Room {
///     messages: Vec<String>,
///     reloads: u32,
/// }
///
/// impl Room {
///     fn apply(&mut self, item: Result<String, RecvError>) {
///         match item {
///             Ok(message) => self.messages.push(message),
///             // Pushes were missed and the server cannot replay them: what the app built
///             // from pushes is stale. Fetch the state again (e.g. with `send_with_reply`);
///             // the pushes after this item come after the reload's state.
///             Err(RecvError::NotRecovered) => {
///                 self.messages.clear();
///                 self.reloads += 1;
///             }
///             Err(e) => eprintln!("skipped: {e}"),
///         }
///     }
/// }
///
/// let mut room = Room::default();
/// for item in [
///     Ok("hello".to_string()),
///     Err(RecvError::NotRecovered), // a reconnect that could not recover
///     Ok("welcome back".to_string()),
/// ] {
///     room.apply(item);
/// }
/// assert_eq!(room.messages, ["welcome back"]);
/// assert_eq!(room.reloads, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecvError {
    /// A push did not decode as the client's push type (it is logged and skipped).
    #[error("a push did not decode: {0}")]
    Decode(#[from] DecodeError),
    /// The client reconnected, and the server could not replay the pushes missed since the
    /// last one delivered (it restarted, or they left its history): the app must reload its
    /// state. Comes after every push of before the cut and before every push that follows.
    /// Also in [`ClientState::recovery`](super::ClientState::recovery) and counted in
    /// [`ClientMetrics::not_recovered`](super::ClientMetrics::not_recovered). Never on a first
    /// connection: a client that has received no positioned push has nothing to recover.
    #[error("not recovered: pushes were missed while disconnected; reload the app's state")]
    NotRecovered,
}

/// What the driver hands the pushes streams, in order.
#[derive(Debug, Clone)]
pub(crate) enum Delivery {
    /// A batch of pushes (one `Push` frame, duplicates removed; never empty).
    Batch(Arc<[EventFrame]>),
    /// [`RecvError::NotRecovered`].
    NotRecovered,
}

/// The typed stream of pushes; see [`Client::pushes`](super::Client::pushes).
///
/// Yields one event at a time, in the server's order, each push kept for recovery exactly once;
/// [`recv_batch`](Self::recv_batch) yields whole batches, as the server batched them. Between
/// them, a [`RecvError::NotRecovered`] says that pushes were lost while disconnected.
pub struct Pushes<P> {
    rx: UnboundedReceiver<Delivery>,
    batch: Option<(Arc<[EventFrame]>, usize)>,
    codec: Codec,
    _p: PhantomData<fn() -> P>,
}

impl<P> fmt::Debug for Pushes<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pushes").finish_non_exhaustive()
    }
}

fn decode<P: Event>(frame: &EventFrame, codec: Codec) -> Result<P, RecvError> {
    P::from_frame(frame, codec)
        .inspect_err(|e| {
            tracing::warn!(error = %e, "chsk client: a push did not decode");
        })
        .map_err(RecvError::Decode)
}

impl<P> Pushes<P> {
    pub(crate) fn new(rx: UnboundedReceiver<Delivery>, codec: Codec) -> Self {
        Self {
            rx,
            batch: None,
            codec,
            _p: PhantomData,
        }
    }
}

impl<P: Event> Pushes<P> {
    /// The next push, or [`RecvError`] (the stream goes on after it); `None` when the client
    /// is gone.
    pub async fn recv(&mut self) -> Option<Result<P, RecvError>> {
        self.next().await
    }

    /// The rest of the current batch, or the next whole batch (one `Push` frame of the server,
    /// never empty); `None` when the client is gone. [`RecvError::NotRecovered`] comes as a
    /// batch of its own.
    pub async fn recv_batch(&mut self) -> Option<Vec<Result<P, RecvError>>> {
        let (batch, start) = match self.batch.take() {
            Some((batch, i)) if i < batch.len() => (batch, i),
            _ => match self.rx.next().await? {
                Delivery::Batch(batch) => (batch, 0),
                Delivery::NotRecovered => return Some(vec![Err(RecvError::NotRecovered)]),
            },
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
    type Item = Result<P, RecvError>;

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
                Poll::Ready(Some(Delivery::Batch(batch))) => self.batch = Some((batch, 0)),
                Poll::Ready(Some(Delivery::NotRecovered)) => {
                    return Poll::Ready(Some(Err(RecvError::NotRecovered)))
                }
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
