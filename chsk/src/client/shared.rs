//! What the [`Client`](super::Client) handles and the driver share: the core, and the
//! subscribers its application outputs (replies, pushes, state changes, server errors) go to.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
};

use futures::channel::{mpsc::UnboundedSender, oneshot};

use super::{
    core::{ClientCore, Output},
    state::{ServerError, StateChange},
    streams::Delivery,
};
use crate::{codec::Payload, error::CbError, protocol::ReplyId};

/// What the handles and the driver share.
pub(crate) struct Shared {
    pub(crate) core: ClientCore,
    pub(crate) replies: HashMap<ReplyId, oneshot::Sender<Result<Payload, CbError>>>,
    pub(crate) push_subs: Vec<UnboundedSender<Delivery>>,
    /// The pushes kept for the first `pushes()` call, until it is made (bounded).
    pub(crate) first_pushes: Option<FirstPushes>,
    pub(crate) pushes_dropped: u64,
    pub(crate) state_subs: Vec<UnboundedSender<StateChange>>,
    pub(crate) error_subs: Vec<UnboundedSender<ServerError>>,
}

/// The bounded buffer of pushes waiting for the first `pushes()` call.
pub(crate) struct FirstPushes {
    pub(crate) items: Vec<Delivery>,
    pub(crate) events: usize,
    pub(crate) capacity: usize,
}

impl FirstPushes {
    /// Keeps what fits of `item`; returns how many events were dropped. A `NotRecovered` is
    /// always kept (once in a row: two in a row say no more than one).
    fn keep(&mut self, item: &Delivery) -> usize {
        let batch = match item {
            Delivery::NotRecovered => {
                if !matches!(self.items.last(), Some(Delivery::NotRecovered)) {
                    self.items.push(Delivery::NotRecovered);
                }
                return 0;
            }
            Delivery::Batch(batch) => batch,
        };
        let room = self.capacity.saturating_sub(self.events);
        if batch.len() <= room {
            self.items.push(item.clone());
            self.events += batch.len();
            return 0;
        }
        if room > 0 {
            self.items.push(Delivery::Batch(batch[..room].into()));
            self.events += room;
        }
        batch.len() - room
    }
}

/// Locks the shared state (a panic elsewhere does not poison it for the others).
pub(crate) fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// A new shared state around `core`, keeping up to `push_capacity` pushed events for the
    /// first `pushes()` call.
    pub(crate) fn new(core: ClientCore, push_capacity: usize) -> Self {
        Self {
            core,
            replies: HashMap::new(),
            push_subs: Vec::new(),
            first_pushes: Some(FirstPushes {
                items: Vec::new(),
                events: 0,
                capacity: push_capacity,
            }),
            pushes_dropped: 0,
            state_subs: Vec::new(),
            error_subs: Vec::new(),
        }
    }

    /// Delivers the application outputs at once and returns the IO outputs for the driver.
    pub(crate) fn drain(&mut self) -> Vec<Output> {
        let mut io = Vec::new();
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Reply { reply_id, result } => {
                    if let Some(tx) = self.replies.remove(&reply_id) {
                        let _ = tx.send(result);
                    }
                }
                Output::Push(events) if events.is_empty() => {}
                Output::Push(events) => self.push(Delivery::Batch(events.into())),
                Output::NotRecovered => self.push(Delivery::NotRecovered),
                Output::State(change) => {
                    self.state_subs
                        .retain(|tx| tx.unbounded_send((*change).clone()).is_ok());
                }
                Output::ServerError(e) => {
                    self.error_subs
                        .retain(|tx| tx.unbounded_send(e.clone()).is_ok());
                }
                other => io.push(other),
            }
        }
        io
    }

    /// Delivers a batch of pushes (or the `NotRecovered` signal) to every stream, and keeps it
    /// for the first `pushes()` call (as far as it fits).
    fn push(&mut self, item: Delivery) {
        if let Some(first) = &mut self.first_pushes {
            let dropped = first.keep(&item);
            if dropped > 0 {
                if self.pushes_dropped == 0 {
                    tracing::warn!(
                        capacity = first.capacity,
                        "chsk client: pushes() not called yet and its buffer is \
                         full: pushes are dropped (see ClientMetrics::pushes_dropped)"
                    );
                }
                self.pushes_dropped += dropped as u64;
            }
        }
        self.push_subs
            .retain(|tx| tx.unbounded_send(item.clone()).is_ok());
    }
}
