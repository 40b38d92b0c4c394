//! Push history: what lets a reconnecting client get every push it missed. An app chooses
//! its bounds with [`HistoryOptions`]; the rest of this module is for authors of history
//! stores (a cluster adapter such as `chsk-redis` keeps the history where every server process
//! finds it, and hands it to the server with [`Adapter::history`](super::adapter::Adapter::history)).
//!
//! Every push that is kept (not volatile) is appended to the history of its **stream** and gets
//! a [`StreamPosition`]: the stream's epoch and a sequence number. A client presents its last
//! positions when it reconnects; [`History::since`] answers with every event after a position,
//! in order, or says that it cannot ([`Since::NotRecovered`]) — never with part of them.
//! `docs/recovery-design.md` describes the whole design.
//!
//! Streams are keyed by who reads them ([`StreamKey`]: the broadcast stream, a user's stream, a
//! client's stream), never by connection, so that another server process can find a client's
//! missed pushes later (`chsk-redis` implements [`History`] on Redis).
//!
//! The default store is in this process's memory, bounded per stream by [`HistoryOptions`]
//! (count, bytes, age). A server restart loses it: every stream then starts in a new epoch, and
//! every client is told it was not recovered.
//!
//! ```
//! use chsk::server::history::{StreamKey, StreamPosition};
//! // A store may name its streams (Redis keys, say) after the key's display form.
//! assert_eq!(StreamKey::user("alice").to_string(), "user:alice");
//! assert_eq!(StreamKey::All.to_string(), "all");
//! let fresh = StreamPosition { epoch: 7, seq: 0 }; // a stream with no event yet
//! assert_eq!(fresh.seq, 0);
//! ```

mod backend;
mod memory;

use std::{fmt, future::Future, sync::Arc, time::Duration};

use bytes::Bytes;

pub(crate) use backend::Backend;
#[allow(unused_imports)]
pub(crate) use memory::{HistoryStats, Locked, MemoryHistory, ENTRY_OVERHEAD};

/// A stream of pushes: what a client reads, and what the history keeps.
///
/// A connection reads three streams: [`All`](StreamKey::All), its
/// [`Client`](StreamKey::Client) stream and, when it has a user id, its
/// [`User`](StreamKey::User) stream. A push to `Target::All` / `Target::User(uid)` /
/// `Target::Client(id)` is appended to the matching stream once, whatever the number of
/// connections that read it. The names are `Arc<str>` so that a key is built once per
/// connection or batch and cloned for the price of a reference count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamKey {
    /// The broadcast stream: every client reads it.
    All,
    /// The stream of one user id: every connection of that user reads it.
    User(Arc<str>),
    /// The stream of one client id (one client instance, e.g. a browser tab).
    Client(Arc<str>),
}

impl StreamKey {
    /// The stream of user `uid`.
    pub fn user(uid: impl Into<Arc<str>>) -> Self {
        Self::User(uid.into())
    }

    /// The stream of client `client_id`.
    pub fn client(client_id: impl Into<Arc<str>>) -> Self {
        Self::Client(client_id.into())
    }

    /// The key, borrowed.
    pub(crate) fn as_ref(&self) -> StreamRef<'_> {
        match self {
            Self::All => StreamRef::All,
            Self::User(uid) => StreamRef::User(uid),
            Self::Client(id) => StreamRef::Client(id),
        }
    }
}

/// A [`StreamKey`] borrowed from a push's target: finds a stream without building (and
/// allocating) a key. It hashes and compares as the key it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum StreamRef<'a> {
    /// [`StreamKey::All`].
    All,
    /// [`StreamKey::User`].
    User(&'a str),
    /// [`StreamKey::Client`].
    Client(&'a str),
}

impl StreamRef<'_> {
    /// The owned key.
    pub(crate) fn to_key(self) -> StreamKey {
        match self {
            Self::All => StreamKey::All,
            Self::User(uid) => StreamKey::user(uid),
            Self::Client(id) => StreamKey::client(id),
        }
    }
}

/// A key hashes as its borrowed form, so that the in-memory store's maps can be searched
/// with a push's target without building a key.
impl std::hash::Hash for StreamKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_ref().hash(state);
    }
}

/// What a map keyed by [`StreamKey`] can be searched with: `map.get(&r as &dyn AsStreamRef)`.
pub(crate) trait AsStreamRef {
    fn stream_ref(&self) -> StreamRef<'_>;
}

impl AsStreamRef for StreamKey {
    fn stream_ref(&self) -> StreamRef<'_> {
        self.as_ref()
    }
}

impl AsStreamRef for StreamRef<'_> {
    fn stream_ref(&self) -> StreamRef<'_> {
        *self
    }
}

impl std::hash::Hash for dyn AsStreamRef + '_ {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.stream_ref().hash(state);
    }
}

impl PartialEq for dyn AsStreamRef + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.stream_ref() == other.stream_ref()
    }
}

impl Eq for dyn AsStreamRef + '_ {}

impl<'a> std::borrow::Borrow<dyn AsStreamRef + 'a> for StreamKey {
    fn borrow(&self) -> &(dyn AsStreamRef + 'a) {
        self
    }
}

/// `all`, `user:<uid>` or `client:<client-id>`: unambiguous (the prefix ends at the first
/// colon), so a store may use it as the name of the stream (a Redis key suffix, say).
impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::User(uid) => write!(f, "user:{uid}"),
            Self::Client(id) => write!(f, "client:{id}"),
        }
    }
}

/// Where a stream is: its epoch and the sequence number of its last event.
///
/// Sequence numbers start at 1 in every epoch; `seq: 0` is the position of a stream that has
/// no event yet in this epoch. The epoch changes whenever the history behind a stream is lost
/// (a restart of a server with in-memory history, a stream dropped after
/// [`HistoryOptions::stream_ttl`], a Redis key evicted): a position of another epoch can never
/// be recovered. Epochs are random, never 0, and below 2^53 (a JSON number reads them exactly,
/// in JavaScript too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamPosition {
    /// The incarnation of the stream's history.
    pub epoch: u64,
    /// The sequence number of the last event (0: none yet).
    pub seq: u64,
}

/// How much push history each stream keeps (see
/// [`ServerBuilder::history`](crate::server::ServerBuilder::history)). An event leaves the
/// history when any bound is passed (oldest first); a client whose position is older than what
/// is kept is not recovered.
///
/// ```
/// use std::time::Duration;
/// use chsk::server::HistoryOptions;
/// let o = HistoryOptions::default().max_age(Duration::from_secs(30));
/// assert_eq!((o.max_count, o.max_bytes), (1_000, 1 << 20));
/// assert_eq!(o.max_age, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryOptions {
    /// At most this many events per stream. Default 1,000.
    pub max_count: usize,
    /// At most this many bytes per stream: each event counts its encoded length plus 24
    /// bytes of bookkeeping. Default 1 MiB. (Keep it below `Limits::send_queue_bytes`
    /// divided by three, so that a connection's replay fits its send queue.)
    pub max_bytes: usize,
    /// Events older than this are dropped. Default 2 minutes (as Socket.IO's
    /// `maxDisconnectionDuration`): a client away for less, on a stream within the other
    /// bounds, is recovered.
    pub max_age: Duration,
    /// A stream with no event left is forgotten this long after it was last used (appended
    /// to, or its position read); a client that presents a position on it afterwards is not
    /// recovered. Default 10 minutes. The server re-reads the positions of the streams of
    /// every open connection more often than this, so a quiet stream is kept while it has
    /// readers.
    pub stream_ttl: Duration,
}

impl HistoryOptions {
    /// Sets [`max_count`](Self::max_count).
    pub fn max_count(mut self, n: usize) -> Self {
        self.max_count = n;
        self
    }

    /// Sets [`max_bytes`](Self::max_bytes).
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }

    /// Sets [`max_age`](Self::max_age).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// Sets [`stream_ttl`](Self::stream_ttl).
    pub fn stream_ttl(mut self, ttl: Duration) -> Self {
        self.stream_ttl = ttl;
        self
    }
}

impl Default for HistoryOptions {
    fn default() -> Self {
        Self {
            max_count: 1_000,
            max_bytes: 1 << 20,
            max_age: Duration::from_secs(120),
            stream_ttl: Duration::from_secs(600),
        }
    }
}

/// The answer to [`History::since`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// Every event after the position, in order: `events[i]` has sequence number
    /// `from.seq + 1 + i`, and `top.seq == from.seq + events.len()` (no event when the
    /// position was already the stream's last).
    Recovered {
        /// The stream's position after the last of `events`.
        top: StreamPosition,
        /// The encoded events, as appended.
        events: Vec<Bytes>,
    },
    /// Nothing can be replayed; the client must reload its state. Live pushes continue after
    /// `top`.
    NotRecovered {
        /// The stream's current position (a stream that was unknown now exists at
        /// `seq: 0` of a new epoch).
        top: StreamPosition,
        /// Why.
        reason: Unrecoverable,
    },
}

impl Since {
    /// The stream's position that live pushes continue from.
    pub fn top(&self) -> StreamPosition {
        match self {
            Self::Recovered { top, .. } | Self::NotRecovered { top, .. } => *top,
        }
    }
}

/// Why a position cannot be recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unrecoverable {
    /// The history has no such stream (never created here, or forgotten).
    UnknownStream,
    /// The stream's history was lost since: it is in another epoch.
    OtherEpoch,
    /// Events after the position were dropped (count, bytes or age bound).
    Trimmed,
    /// The position is past the stream's last event (no client can have received it).
    BeyondTop,
}

/// A history store failed. The server never guesses around it: a failed append fails the
/// push, a failed read fails the handshake with a retryable status (see the design).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The store could not be reached or failed (e.g. a Redis connection error).
    #[error("the history store failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store's answer breaks the [`History`] contract (e.g. a replay with a gap).
    #[error("the history store answered inconsistently: {0}")]
    Inconsistent(String),
}

/// A history store: appends pushes to streams and replays them.
///
/// The methods return futures (`-> impl Future + Send`, stable since Rust 1.75): an in-memory
/// store answers at once with a ready future, a Redis store awaits its connection, and neither
/// needs `async-trait`. The trait is not object-safe; wrap a store in a [`HistoryStore`] to
/// hand it to the server (its futures are then boxed: one allocation next to a network round
/// trip; the in-memory default is called without boxing). The server checks every answer
/// against the contract below (a replay with a gap is an error, never a partial replay).
///
/// Contract, for every store:
/// - a stream's events get consecutive sequence numbers from 1 in each epoch, in the order of
///   the appends; an append is all or nothing;
/// - [`since`](History::since) returns every event after the position or none
///   ([`Since::NotRecovered`]): never part of them;
/// - a stream whose history is lost comes back in a new epoch, never in an old one.
///
/// ```
/// use std::{collections::HashMap, sync::Mutex};
/// use bytes::Bytes;
/// use chsk::server::history::{
///     History, HistoryError, HistoryStore, Since, StreamKey, StreamPosition, Unrecoverable,
/// };
/// use chsk::server::HistoryOptions;
///
/// /// Keeps everything, forever, in one epoch (a sketch: a real store bounds its streams).
/// #[derive(Debug, Default)]
/// struct Everything(Mutex<HashMap<String, Vec<Bytes>>>);
///
/// const EPOCH: u64 = 42;
///
/// impl History for Everything {
///     async fn append(&self, key: &StreamKey, events: &[Bytes]) -> Result<StreamPosition, HistoryError> {
///         let mut map = self.0.lock().unwrap();
///         let log = map.entry(key.to_string()).or_default();
///         log.extend_from_slice(events);
///         Ok(StreamPosition { epoch: EPOCH, seq: log.len() as u64 })
///     }
///
///     async fn position(&self, key: &StreamKey) -> Result<StreamPosition, HistoryError> {
///         self.append(key, &[]).await
///     }
///
///     async fn since(&self, key: &StreamKey, from: StreamPosition) -> Result<Since, HistoryError> {
///         let top = self.position(key).await?;
///         let map = self.0.lock().unwrap();
///         let log = map.get(&key.to_string()).map(Vec::as_slice).unwrap_or_default();
///         Ok(match from {
///             StreamPosition { epoch: EPOCH, seq } if seq <= top.seq => Since::Recovered {
///                 top,
///                 events: log[seq as usize..].to_vec(),
///             },
///             StreamPosition { epoch: EPOCH, .. } => {
///                 Since::NotRecovered { top, reason: Unrecoverable::BeyondTop }
///             }
///             _ => Since::NotRecovered { top, reason: Unrecoverable::OtherEpoch },
///         })
///     }
/// }
///
/// // What a cluster adapter returns from `Adapter::history`.
/// let store = HistoryStore::new(Everything::default(), HistoryOptions::default());
/// # let _ = store;
/// ```
pub trait History: Send + Sync + fmt::Debug + 'static {
    /// Appends `events` (each one encoded push, in order) to `key`'s stream, creating the
    /// stream when missing; returns the position of the last of them. They get the sequence
    /// numbers `top.seq - events.len() + 1 ..= top.seq`. With no events it returns the
    /// stream's position.
    fn append(
        &self,
        key: &StreamKey,
        events: &[Bytes],
    ) -> impl Future<Output = Result<StreamPosition, HistoryError>> + Send;

    /// The stream's position, creating the stream (`seq: 0` of a new epoch) when missing.
    /// Counts as a use (see [`HistoryOptions::stream_ttl`]).
    fn position(
        &self,
        key: &StreamKey,
    ) -> impl Future<Output = Result<StreamPosition, HistoryError>> + Send;

    /// Every event of `key`'s stream after `from`, or [`Since::NotRecovered`] when the history
    /// cannot say (other epoch, trimmed, unknown stream). Counts as a use.
    fn since(
        &self,
        key: &StreamKey,
        from: StreamPosition,
    ) -> impl Future<Output = Result<Since, HistoryError>> + Send;

    /// Marks streams as used, so that a quiet stream with readers is not forgotten (see
    /// [`HistoryOptions::stream_ttl`]). The server calls it every quarter of `stream_ttl` with
    /// the streams of its open connections. The default does nothing (a store without expiry).
    fn keep(&self, keys: &[StreamKey]) -> impl Future<Output = Result<(), HistoryError>> + Send {
        let _ = keys;
        std::future::ready(Ok(()))
    }
}

/// A history store as a cluster adapter hands it to the server (see
/// [`Adapter::history`](super::adapter::Adapter::history)), with the bounds it keeps (the
/// server's upkeep marks the streams of open connections as used every quarter of
/// [`stream_ttl`](HistoryOptions::stream_ttl)).
///
/// With such a store the server reads the history when a client reconnects (all streams
/// recovered, or none), and the adapter appends pushes itself (in the same step as it
/// publishes them to the other processes, so that every process delivers a stream's pushes in
/// its order): `Server::push` goes to [`Adapter::push`](super::adapter::Adapter::push), which
/// must not deliver a kept push through `LocalNode::deliver` (that appends to a local history,
/// which a server with a store has not).
#[derive(Clone)]
pub struct HistoryStore {
    pub(crate) backend: Backend,
    pub(crate) options: HistoryOptions,
}

impl HistoryStore {
    /// Wraps `store`, which keeps `options`' bounds.
    pub fn new<H: History>(store: H, options: HistoryOptions) -> Self {
        Self {
            backend: Backend::new(store),
            options,
        }
    }
}

impl fmt::Debug for HistoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryStore")
            .field("backend", &self.backend)
            .field("options", &self.options)
            .finish()
    }
}
