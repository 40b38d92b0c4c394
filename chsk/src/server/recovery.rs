//! Recovery: the server's half of stream positions (protocol version 2).
//!
//! A kept push is appended to the history of its stream and handed to the batchers while the
//! stream is locked, so that sequence order is queue order on
//! every connection. A connection that opens presents its positions (`since`); it is
//! registered first (live pushes then wait in its queue), then its streams are read: either
//! every one of them continues from the presented position (`recovered: true`, and the missed
//! events are sent before anything queued), or none is replayed (`recovered: false`). See
//! `docs/recovery-design.md`.

use bytes::Bytes;

use super::{
    conn::ConnInfo,
    history::{
        Backend, HistoryError, HistoryOptions, HistoryStats, HistoryStore, Locked, Since,
        StreamKey, StreamPosition, StreamRef,
    },
    push::Target,
};
use crate::protocol::{Position, StreamKind};

/// The push history behind recovery (appends are ordered with deliveries by the stream's
/// lock: see [`Recovery::append`]).
#[derive(Debug)]
pub(crate) struct Recovery {
    backend: Backend,
    options: HistoryOptions,
}

/// What a connection's `since` came to.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Every stream the connection reads continues from the presented position.
    pub(crate) recovered: bool,
    /// The client presented at least one position.
    pub(crate) presented: bool,
    /// Per stream read, the position the pushes that follow continue from.
    pub(crate) positions: Vec<Position>,
    /// The missed events, per stream: the first one's position and the encoded events.
    pub(crate) replay: Vec<(Position, Vec<Bytes>)>,
}

impl Outcome {
    /// How many events the replay holds.
    pub(crate) fn replayed(&self) -> usize {
        self.replay.iter().map(|(_, e)| e.len()).sum()
    }
}

impl Recovery {
    /// An in-memory history with these bounds.
    pub(crate) fn new(options: HistoryOptions) -> Self {
        Self {
            backend: Backend::new(super::history::MemoryHistory::new(options)),
            options,
        }
    }

    /// A cluster adapter's store (its appends are the adapter's).
    pub(crate) fn store(store: HistoryStore) -> Self {
        Self {
            backend: store.backend,
            options: store.options,
        }
    }

    /// The streams a connection reads: the broadcast stream, its client's, its user's.
    pub(crate) fn streams_of(info: &ConnInfo) -> Vec<(StreamKind, StreamKey)> {
        let mut streams = vec![
            (StreamKind::All, StreamKey::All),
            (
                StreamKind::Client,
                StreamKey::client(info.client_id.as_str()),
            ),
        ];
        if let Some(uid) = &info.uid {
            streams.insert(1, (StreamKind::User, StreamKey::user(uid.as_str())));
        }
        streams
    }

    /// The stream a push to `target` is appended to, borrowed from the target.
    pub(crate) fn stream_ref(target: &Target) -> (StreamKind, StreamRef<'_>) {
        match target {
            Target::All => (StreamKind::All, StreamRef::All),
            Target::User(uid) => (StreamKind::User, StreamRef::User(uid)),
            Target::Client(id) => (StreamKind::Client, StreamRef::Client(id)),
        }
    }

    /// Appends one encoded event to the stream of `target`; its position, and the stream's
    /// lock: hand the event to the connections before dropping it, so that the order of
    /// appends to a stream is the order of its events on every connection. The in-memory store
    /// answers at once; a store that must be awaited is not appended to here (a cluster
    /// adapter appends, issue 12).
    pub(crate) fn append(
        &self,
        target: &Target,
        event: &Bytes,
    ) -> Result<(Position, Locked<'_>), HistoryError> {
        let (kind, key) = Self::stream_ref(target);
        match &self.backend {
            Backend::Memory(memory) => {
                let (top, locked) = memory.append_one(key, event);
                Ok((at(kind, top.epoch, top.seq), locked))
            }
            Backend::Custom(_) => Err(HistoryError::Inconsistent(
                "a store that must be awaited cannot take local appends".to_owned(),
            )),
        }
    }

    /// Reads the connection's streams after `since`: all recovered, or nothing replayed.
    pub(crate) async fn recover(
        &self,
        info: &ConnInfo,
        since: &[Position],
    ) -> Result<Outcome, HistoryError> {
        let mut out = Outcome {
            recovered: !since.is_empty(),
            presented: !since.is_empty(),
            ..Outcome::default()
        };
        // Per stream: where the client is (when recovered) and where the stream is.
        let mut tops = Vec::new();
        for (kind, key) in Self::streams_of(info) {
            let presented = since.iter().find(|p| p.stream == kind);
            let answer = match presented {
                Some(p) => {
                    let from = StreamPosition {
                        epoch: p.epoch,
                        seq: p.seq,
                    };
                    self.backend.since(&key, from).await?
                }
                None => {
                    out.recovered = false;
                    let top = self.backend.position(&key).await?;
                    out.positions.push(at(kind, top.epoch, top.seq));
                    tops.push(at(kind, top.epoch, top.seq));
                    continue;
                }
            };
            match answer {
                Since::Recovered { top, events } => {
                    let from = top.seq - events.len() as u64;
                    out.positions.push(at(kind, top.epoch, from));
                    tops.push(at(kind, top.epoch, top.seq));
                    if !events.is_empty() {
                        out.replay.push((at(kind, top.epoch, from + 1), events));
                    }
                }
                Since::NotRecovered { top, .. } => {
                    out.recovered = false;
                    out.positions.push(at(kind, top.epoch, top.seq));
                    tops.push(at(kind, top.epoch, top.seq));
                }
            }
        }
        if !out.recovered {
            // All or none: every stream continues from its top, nothing is replayed.
            out.replay.clear();
            out.positions = tops;
        }
        Ok(out)
    }

    /// Marks the streams of open connections as used, so that a quiet stream with readers
    /// is not forgotten (see `HistoryOptions::stream_ttl`).
    pub(crate) async fn touch<'a>(
        &self,
        infos: impl Iterator<Item = &'a ConnInfo>,
    ) -> Result<(), HistoryError> {
        let keys: std::collections::HashSet<StreamKey> = infos
            .flat_map(|info| Self::streams_of(info).into_iter().map(|(_, key)| key))
            .collect();
        let keys: Vec<StreamKey> = keys.into_iter().collect();
        self.backend.keep(&keys).await
    }

    /// Drops expired events and forgotten streams.
    pub(crate) fn sweep(&self) {
        if let Backend::Memory(memory) = &self.backend {
            memory.sweep();
        }
    }

    /// What the in-memory history holds.
    pub(crate) fn stats(&self) -> HistoryStats {
        match &self.backend {
            Backend::Memory(memory) => memory.stats(),
            Backend::Custom(_) => HistoryStats::default(),
        }
    }

    /// The history's bounds.
    pub(crate) fn options(&self) -> HistoryOptions {
        self.options
    }
}

fn at(stream: StreamKind, epoch: u64, seq: u64) -> Position {
    Position { stream, epoch, seq }
}
