//! The in-memory history: streams in sharded maps, events as shared buffers.
//!
//! A replay clones reference counts ([`Bytes`]), never event bytes, and allocates only the
//! returned `Vec`. Streams are spread over [`SHARDS`] read-write locks by key hash: appends to
//! different streams rarely meet, and replays of one stream (the broadcast stream in a
//! reconnect storm) share its read lock. Expired events and forgotten streams are swept by the
//! operations that take a shard's write lock (at most once per sweep interval per shard), or
//! by [`MemoryHistory::sweep`]; no background task is needed.

use std::{
    collections::{hash_map::RandomState, HashMap, VecDeque},
    future::{ready, Future},
    hash::{BuildHasher, Hasher},
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        RwLock, RwLockReadGuard, RwLockWriteGuard,
    },
    time::Duration,
};

use bytes::Bytes;
use foldhash::fast::RandomState as FastHash;
use tokio::time::Instant;

use super::{
    AsStreamRef, History, HistoryError, HistoryOptions, Since, StreamKey, StreamPosition,
    StreamRef, Unrecoverable,
};

/// The number of shards (a power of two).
const SHARDS: usize = 64;

/// What an event costs besides its bytes: its slot in the stream (a `Bytes` and an `Instant`)
/// and the shared header of its buffer. Counted in [`HistoryOptions::max_bytes`] and in
/// [`HistoryStats::bytes`].
pub(crate) const ENTRY_OVERHEAD: usize = std::mem::size_of::<Entry>() + 32;

/// Epochs are below 2^53, so that JSON numbers (JavaScript's too) hold them exactly.
const EPOCH_MASK: u64 = (1 << 53) - 1;

/// What a [`MemoryHistory`] holds now: the gauge of its memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct HistoryStats {
    /// Streams known (with events, or kept for their position).
    pub(crate) streams: usize,
    /// Events retained.
    pub(crate) events: usize,
    /// Bytes retained by the events: their encoded lengths plus [`ENTRY_OVERHEAD`] each.
    pub(crate) bytes: usize,
}

/// A stream's shard, still write-locked after an append (see [`MemoryHistory::append_one`]).
pub(crate) struct Locked<'a>(#[allow(dead_code)] RwLockWriteGuard<'a, Shard>);

/// The default history store: in memory, bounded per stream by [`HistoryOptions`].
#[derive(Debug)]
pub(crate) struct MemoryHistory {
    options: HistoryOptions,
    shards: Box<[RwLock<Shard>]>,
    /// Picks a key's shard (foldhash: a stream key is hashed on every push; randomly seeded,
    /// so that chosen client ids do not pile up in one shard).
    hasher: FastHash,
    /// Its random keys make the epochs unpredictable (SipHash: once per stream created).
    epochs: RandomState,
    /// Counts the streams created, so that each gets its own epoch.
    created: AtomicU64,
    /// The origin of [`Stream::last_use`].
    origin: Instant,
    streams: AtomicUsize,
    events: AtomicUsize,
    bytes: AtomicUsize,
}

#[derive(Debug)]
struct Shard {
    streams: HashMap<StreamKey, Stream, FastHash>,
    next_sweep: Instant,
}

#[derive(Debug)]
struct Stream {
    epoch: u64,
    /// The sequence number of the last event appended (0: none yet).
    top: u64,
    /// The retained events, oldest first; the last one has sequence number `top`.
    entries: VecDeque<Entry>,
    /// The cost of `entries` (see [`cost`]).
    bytes: usize,
    /// Nanoseconds from [`MemoryHistory::origin`] to the last use; atomic so that readers
    /// holding the shard's read lock can touch it.
    last_use: AtomicU64,
}

#[derive(Debug)]
struct Entry {
    at: Instant,
    data: Bytes,
}

fn cost(data: &Bytes) -> usize {
    data.len() + ENTRY_OVERHEAD
}

impl Default for MemoryHistory {
    fn default() -> Self {
        Self::new(HistoryOptions::default())
    }
}

impl MemoryHistory {
    /// An empty history with these bounds.
    pub(crate) fn new(options: HistoryOptions) -> Self {
        let now = Instant::now();
        Self {
            options,
            shards: (0..SHARDS)
                .map(|_| {
                    RwLock::new(Shard {
                        streams: HashMap::default(),
                        next_sweep: now,
                    })
                })
                .collect(),
            hasher: FastHash::default(),
            epochs: RandomState::new(),
            created: AtomicU64::new(0),
            origin: now,
            streams: AtomicUsize::new(0),
            events: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
        }
    }

    /// The bounds.
    pub(crate) fn options(&self) -> &HistoryOptions {
        &self.options
    }

    /// What the history holds now.
    pub(crate) fn stats(&self) -> HistoryStats {
        HistoryStats {
            streams: self.streams.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }

    /// Appends at once (see [`History::append`]; this store never fails).
    pub(crate) fn append_now(&self, key: &StreamKey, events: &[Bytes]) -> StreamPosition {
        let now = Instant::now();
        let mut shard = self.write(key, now);
        let stream = self.get_or_create(&mut shard, key, now);
        let (mut added, mut added_bytes) = (0, 0);
        for data in events {
            stream.top += 1;
            added_bytes += cost(data);
            added += 1;
            stream.entries.push_back(Entry {
                at: now,
                data: data.clone(),
            });
        }
        stream.bytes += added_bytes;
        self.events.fetch_add(added, Ordering::Relaxed);
        self.bytes.fetch_add(added_bytes, Ordering::Relaxed);
        self.trim(stream, now);
        StreamPosition {
            epoch: stream.epoch,
            seq: stream.top,
        }
    }

    /// Appends one event to the stream `key` names; its position, and the stream's lock,
    /// held until the [`Locked`] is dropped: what the caller does meanwhile with the event (the
    /// server hands it to its connections) happens in the order of the appends. Nothing is
    /// allocated for the key of a stream that exists.
    pub(crate) fn append_one(
        &self,
        key: StreamRef<'_>,
        data: &Bytes,
    ) -> (StreamPosition, Locked<'_>) {
        let now = Instant::now();
        let mut shard = self.write_at(self.shard_index(&key), now);
        let stream = match shard.streams.get_mut(&key as &dyn AsStreamRef) {
            Some(stream) => stream,
            None => self.get_or_create(&mut shard, &key.to_key(), now),
        };
        let last_use = self.nanos(now);
        let held = stream.last_use.get_mut();
        *held = (*held).max(last_use); // the lock is held: no atomic read-modify-write
        stream.top += 1;
        let cost = cost(data);
        stream.bytes += cost;
        stream.entries.push_back(Entry {
            at: now,
            data: data.clone(),
        });
        self.events.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(cost, Ordering::Relaxed);
        self.trim(stream, now);
        let position = stream.position();
        (position, Locked(shard))
    }

    /// The position at once (see [`History::position`]).
    pub(crate) fn position_now(&self, key: &StreamKey) -> StreamPosition {
        let now = Instant::now();
        if let Some(stream) = self.read(key).streams.get(key) {
            self.touch(stream, now);
            return stream.position();
        }
        let mut shard = self.write(key, now);
        self.get_or_create(&mut shard, key, now).position()
    }

    /// The events after `from` at once (see [`History::since`]).
    pub(crate) fn since_now(&self, key: &StreamKey, from: StreamPosition) -> Since {
        let now = Instant::now();
        if let Some(stream) = self.read(key).streams.get(key) {
            self.touch(stream, now);
            return stream.since(from, self.expired_before(now));
        }
        let mut shard = self.write(key, now);
        Since::NotRecovered {
            top: self.get_or_create(&mut shard, key, now).position(),
            reason: Unrecoverable::UnknownStream,
        }
    }

    /// Drops the expired events of every stream, and the streams unused for
    /// [`HistoryOptions::stream_ttl`] that hold no event.
    pub(crate) fn sweep(&self) {
        let now = Instant::now();
        for shard in self.shards.iter() {
            let mut shard = shard.write().unwrap_or_else(|e| e.into_inner());
            self.sweep_shard(&mut shard, now);
        }
    }

    fn shard_of(&self, key: &StreamKey) -> &RwLock<Shard> {
        &self.shards[self.shard_index(&key.as_ref())]
    }

    /// The shard of a key (a key and its borrowed form hash alike).
    fn shard_index(&self, key: &StreamRef<'_>) -> usize {
        (self.hasher.hash_one(key) as usize) & (SHARDS - 1)
    }

    fn read(&self, key: &StreamKey) -> RwLockReadGuard<'_, Shard> {
        self.shard_of(key).read().unwrap_or_else(|e| e.into_inner())
    }

    /// The key's shard, write-locked, swept first when its sweep is due.
    fn write(&self, key: &StreamKey, now: Instant) -> RwLockWriteGuard<'_, Shard> {
        self.write_at(self.shard_index(&key.as_ref()), now)
    }

    /// Shard `index`, write-locked, swept first when its sweep is due.
    fn write_at(&self, index: usize, now: Instant) -> RwLockWriteGuard<'_, Shard> {
        let mut shard = self.shards[index]
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if shard.next_sweep <= now {
            self.sweep_shard(&mut shard, now);
        }
        shard
    }

    fn get_or_create<'s>(
        &self,
        shard: &'s mut Shard,
        key: &StreamKey,
        now: Instant,
    ) -> &'s mut Stream {
        // Cloning a key clones a reference count, not its name.
        let stream = shard.streams.entry(key.clone()).or_insert_with(|| {
            self.streams.fetch_add(1, Ordering::Relaxed);
            Stream {
                epoch: self.new_epoch(),
                top: 0,
                entries: VecDeque::new(),
                bytes: 0,
                last_use: AtomicU64::new(0),
            }
        });
        self.touch(stream, now);
        stream
    }

    /// A random epoch, different for every stream this history creates: the creation count
    /// hashed with this instance's random keys (SipHash), so neither earlier processes nor
    /// other instances repeat them (but with a chance of 2^-53).
    fn new_epoch(&self) -> u64 {
        let n = self.created.fetch_add(1, Ordering::Relaxed);
        let mut hasher = self.epochs.build_hasher();
        hasher.write_u64(n);
        (hasher.finish() & EPOCH_MASK).max(1)
    }

    /// Nanoseconds from [`Self::origin`] to `now` (a [`Stream::last_use`]).
    fn nanos(&self, now: Instant) -> u64 {
        u64::try_from(now.duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    fn touch(&self, stream: &Stream, now: Instant) {
        stream
            .last_use
            .fetch_max(self.nanos(now), Ordering::Relaxed);
    }

    /// Events appended before this instant have expired (`None`: none can have).
    fn expired_before(&self, now: Instant) -> Option<Instant> {
        now.checked_sub(self.options.max_age)
    }

    /// Applies the bounds to `stream`, oldest events first.
    fn trim(&self, stream: &mut Stream, now: Instant) {
        let expired = self.expired_before(now);
        let (mut removed, mut removed_bytes) = (0, 0);
        while let Some(front) = stream.entries.front() {
            let over = stream.entries.len() > self.options.max_count
                || stream.bytes - removed_bytes > self.options.max_bytes
                || expired.is_some_and(|limit| front.at <= limit);
            if !over {
                break;
            }
            removed_bytes += cost(&front.data);
            removed += 1;
            stream.entries.pop_front();
        }
        stream.bytes -= removed_bytes;
        self.events.fetch_sub(removed, Ordering::Relaxed);
        self.bytes.fetch_sub(removed_bytes, Ordering::Relaxed);
    }

    fn sweep_shard(&self, shard: &mut Shard, now: Instant) {
        let ttl = self.options.stream_ttl;
        let unused_since = now.checked_sub(ttl);
        let before = shard.streams.len();
        shard.streams.retain(|_, stream| {
            self.trim(stream, now);
            let last_use = self.origin + Duration::from_nanos(*stream.last_use.get_mut());
            !stream.entries.is_empty() || unused_since.is_none_or(|limit| last_use > limit)
        });
        self.streams
            .fetch_sub(before - shard.streams.len(), Ordering::Relaxed);
        let interval = self.options.max_age.min(ttl) / 4;
        shard.next_sweep = now + interval.max(Duration::from_secs(1));
    }
}

impl Stream {
    fn position(&self) -> StreamPosition {
        StreamPosition {
            epoch: self.epoch,
            seq: self.top,
        }
    }

    /// The events after `from`, or why not; events appended at or before `expired` are gone.
    fn since(&self, from: StreamPosition, expired: Option<Instant>) -> Since {
        let top = self.position();
        let lost = |reason| Since::NotRecovered { top, reason };
        if from.epoch != self.epoch {
            return lost(Unrecoverable::OtherEpoch);
        }
        if from.seq > self.top {
            return lost(Unrecoverable::BeyondTop);
        }
        // Sequence number of `entries[0]`; events are in time order, so the live ones are a
        // suffix (those past `max_age` may still be here until the next trim).
        let front_seq = self.top + 1 - self.entries.len() as u64;
        let live = match expired {
            Some(limit) => self.entries.partition_point(|e| e.at <= limit),
            None => 0,
        };
        if from.seq + 1 < front_seq + live as u64 {
            return lost(Unrecoverable::Trimmed);
        }
        // In range: `front_seq - 1 + live <= from.seq <= top`.
        let first = (from.seq + 1 - front_seq) as usize;
        Since::Recovered {
            top,
            events: self
                .entries
                .range(first..)
                .map(|e| e.data.clone())
                .collect(),
        }
    }
}

impl History for MemoryHistory {
    fn append(
        &self,
        key: &StreamKey,
        events: &[Bytes],
    ) -> impl Future<Output = Result<StreamPosition, HistoryError>> + Send {
        ready(Ok(self.append_now(key, events)))
    }

    fn position(
        &self,
        key: &StreamKey,
    ) -> impl Future<Output = Result<StreamPosition, HistoryError>> + Send {
        ready(Ok(self.position_now(key)))
    }

    fn since(
        &self,
        key: &StreamKey,
        from: StreamPosition,
    ) -> impl Future<Output = Result<Since, HistoryError>> + Send {
        ready(Ok(self.since_now(key, from)))
    }
}

#[cfg(test)]
mod tests;
