//! The server's handle on its history store, whichever it is.
//!
//! [`History`] returns `impl Future`, so it cannot be a trait object. The server does not
//! become generic over its store either (every type that names the server would carry the
//! parameter): it keeps a [`Backend`]. [`MemoryHistory`], the default, is called directly
//! (its futures are ready, nothing is boxed: a reconnect storm allocates only the replayed
//! lists); any other store goes through [`DynHistory`], which boxes its futures (one
//! allocation next to a network round trip), and its answers are checked against the contract
//! before the server trusts them.

use std::{any::Any, fmt, sync::Arc};

use futures::future::BoxFuture;

use super::{History, HistoryError, MemoryHistory, Since, StreamKey, StreamPosition};

/// The object-safe form of [`History`], implemented for every store.
///
/// It has no `append`: a store other than the in-memory one is an adapter's, and the adapter
/// appends to it itself (see `HistoryStore`); the server only reads it.
pub(crate) trait DynHistory: Send + Sync + fmt::Debug + 'static {
    fn position<'a>(
        &'a self,
        key: &'a StreamKey,
    ) -> BoxFuture<'a, Result<StreamPosition, HistoryError>>;

    fn since<'a>(
        &'a self,
        key: &'a StreamKey,
        from: StreamPosition,
    ) -> BoxFuture<'a, Result<Since, HistoryError>>;

    fn keep<'a>(&'a self, keys: &'a [StreamKey]) -> BoxFuture<'a, Result<(), HistoryError>>;
}

impl<H: History> DynHistory for H {
    fn position<'a>(
        &'a self,
        key: &'a StreamKey,
    ) -> BoxFuture<'a, Result<StreamPosition, HistoryError>> {
        Box::pin(History::position(self, key))
    }

    fn since<'a>(
        &'a self,
        key: &'a StreamKey,
        from: StreamPosition,
    ) -> BoxFuture<'a, Result<Since, HistoryError>> {
        Box::pin(History::since(self, key, from))
    }

    fn keep<'a>(&'a self, keys: &'a [StreamKey]) -> BoxFuture<'a, Result<(), HistoryError>> {
        Box::pin(History::keep(self, keys))
    }
}

/// The server's history store.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// The default: in memory, called without boxing.
    Memory(Arc<MemoryHistory>),
    /// Any other store (Redis, say); its answers are checked.
    Custom(Arc<dyn DynHistory>),
}

impl Default for Backend {
    fn default() -> Self {
        Self::Memory(Arc::default())
    }
}

impl Backend {
    /// Wraps a store; a [`MemoryHistory`] is recognised and called directly.
    pub(crate) fn new<H: History>(history: H) -> Self {
        let mut slot = Some(history);
        let memory = (&mut slot as &mut dyn Any)
            .downcast_mut::<Option<MemoryHistory>>()
            .and_then(Option::take);
        match (memory, slot) {
            (Some(memory), _) => Self::Memory(Arc::new(memory)),
            (None, Some(other)) => Self::Custom(Arc::new(other)),
            (None, None) => unreachable!("the store is taken only when it is a MemoryHistory"),
        }
    }

    /// See [`History::position`].
    pub(crate) async fn position(&self, key: &StreamKey) -> Result<StreamPosition, HistoryError> {
        match self {
            Self::Memory(memory) => Ok(memory.position_now(key)),
            Self::Custom(store) => match store.position(key).await? {
                top if top.epoch == 0 => Err(inconsistent(key, "epoch 0".to_owned())),
                top => Ok(top),
            },
        }
    }

    /// See [`History::since`]; a store's replay is checked to be whole and in the position's
    /// epoch, so a broken store can fail a handshake but never cause a partial replay.
    pub(crate) async fn since(
        &self,
        key: &StreamKey,
        from: StreamPosition,
    ) -> Result<Since, HistoryError> {
        match self {
            Self::Memory(memory) => Ok(memory.since_now(key, from)),
            Self::Custom(store) => {
                let since = store.since(key, from).await?;
                match &since {
                    Since::Recovered { top, events }
                        if top.epoch != from.epoch
                            || top.seq.checked_sub(from.seq) != Some(events.len() as u64) =>
                    {
                        Err(inconsistent(
                            key,
                            format!("{} events after {from:?} up to {top:?}", events.len()),
                        ))
                    }
                    _ if since.top().epoch == 0 => Err(inconsistent(key, "epoch 0".to_owned())),
                    _ => Ok(since),
                }
            }
        }
    }

    /// See [`History::keep`].
    pub(crate) async fn keep(&self, keys: &[StreamKey]) -> Result<(), HistoryError> {
        match self {
            Self::Memory(memory) => {
                for key in keys {
                    memory.position_now(key);
                }
                Ok(())
            }
            Self::Custom(store) => store.keep(keys).await,
        }
    }
}

fn inconsistent(key: &StreamKey, what: String) -> HistoryError {
    HistoryError::Inconsistent(format!("stream `{key}`: {what}"))
}

#[cfg(test)]
mod tests {
    use std::future::{ready, Future};

    use bytes::Bytes;

    use super::super::Unrecoverable;
    use super::*;

    /// A store that is not a `MemoryHistory` (so it goes through `DynHistory`), which can be
    /// told to drop the first event of every replay: a broken store. Its adapter (the test)
    /// appends through a clone.
    #[derive(Debug, Default, Clone)]
    struct Other {
        inner: Arc<MemoryHistory>,
        gap: bool,
    }

    impl History for Other {
        fn append(
            &self,
            key: &StreamKey,
            events: &[Bytes],
        ) -> impl Future<Output = Result<StreamPosition, HistoryError>> + Send {
            ready(Ok(self.inner.append_now(key, events)))
        }

        fn position(
            &self,
            key: &StreamKey,
        ) -> impl Future<Output = Result<StreamPosition, HistoryError>> + Send {
            ready(Ok(self.inner.position_now(key)))
        }

        fn since(
            &self,
            key: &StreamKey,
            from: StreamPosition,
        ) -> impl Future<Output = Result<Since, HistoryError>> + Send {
            let mut since = self.inner.since_now(key, from);
            if let (true, Since::Recovered { events, .. }) = (self.gap, &mut since) {
                if !events.is_empty() {
                    events.remove(0);
                }
            }
            ready(Ok(since))
        }
    }

    fn events(n: u8) -> Vec<Bytes> {
        (0..n).map(|i| Bytes::from(vec![i])).collect()
    }

    #[tokio::test]
    async fn memory_is_called_directly_and_other_stores_through_dyn() {
        assert!(matches!(
            Backend::new(MemoryHistory::default()),
            Backend::Memory(_)
        ));
        let store = Other::default();
        let backend = Backend::new(store.clone());
        assert!(matches!(backend, Backend::Custom(_)));
        let key = StreamKey::All;
        let start = backend.position(&key).await.expect("position");
        let top = store.inner.append_now(&key, &events(3));
        assert_eq!(top, StreamPosition { seq: 3, ..start });
        let since = backend.since(&key, start).await.expect("since");
        assert_eq!(
            since,
            Since::Recovered {
                top,
                events: events(3)
            }
        );
    }

    #[tokio::test]
    async fn a_replay_with_a_gap_from_a_store_is_an_error_not_a_partial_replay() {
        let store = Other {
            gap: true,
            ..Other::default()
        };
        let backend = Backend::new(store.clone());
        let key = StreamKey::user("alice");
        let start = backend.position(&key).await.expect("position");
        let top = store.inner.append_now(&key, &events(2));
        let err = backend.since(&key, start).await.expect_err("a gap");
        assert!(matches!(err, HistoryError::Inconsistent(_)), "{err:?}");
        // At the top there is nothing to drop: an empty replay is whole.
        let since = backend.since(&key, top).await.expect("since");
        assert_eq!(
            since,
            Since::Recovered {
                top,
                events: vec![]
            }
        );
        // Answers that say "not recovered" pass as they are.
        let other = StreamPosition {
            epoch: start.epoch ^ 1,
            seq: 0,
        };
        let since = backend.since(&key, other).await.expect("since");
        assert!(matches!(
            since,
            Since::NotRecovered {
                reason: Unrecoverable::OtherEpoch,
                ..
            }
        ));
    }
}
