//! The in-memory history: streams in sharded maps, events copied into per-stream chunks.
//!
//! A stream copies the events appended to it into byte chunks of its own (a few hundred bytes
//! for a quiet stream, doubling up to [`MAX_CHUNK`] for a busy one) and notes where each one
//! is: an append copies the bytes and allocates nothing but a new chunk now and then (no
//! reference count, no atomic operation), and trimming frees whole chunks, not one buffer per
//! event. A stream that retains no event holds no storage for events. A replay copies the
//! stream's missed events once into one buffer and hands them out as [`Bytes`] slices of it.
//!
//! Streams are spread over [`SHARDS`] read-write locks by key hash: appends to different
//! streams rarely meet, and replays of one stream (the broadcast stream in a reconnect storm)
//! share its read lock. Expired events and forgotten streams are swept by the operations that
//! take a shard's write lock (at most once per sweep interval per shard), or by
//! [`MemoryHistory::sweep`]; no background task is needed.

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

/// What an event costs besides its bytes: its slot in the stream (where its bytes are, and
/// when it was appended) and its share of its chunk's unused end. Counted in
/// [`HistoryOptions::max_bytes`] and in [`HistoryStats::bytes`].
pub(crate) const ENTRY_OVERHEAD: usize = std::mem::size_of::<Entry>() + 8;

/// The first chunk of a stream, in bytes (or the event's size, if larger).
const MIN_CHUNK: usize = 256;
/// Chunks double up to this size (an event larger than it gets a chunk of its own size).
const MAX_CHUNK: usize = 16 * 1024;

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
}

#[derive(Debug)]
struct Shard {
    streams: HashMap<StreamKey, Stream, FastHash>,
    next_sweep: Instant,
    /// The events its streams retain, and their cost (counted under the lock: no atomic
    /// operation per append).
    events: usize,
    bytes: usize,
}

#[derive(Debug)]
struct Stream {
    epoch: u64,
    /// The sequence number of the last event appended (0: none yet).
    top: u64,
    /// The retained events; `None` while there is none (the streams of most idle
    /// connections), so that such a stream costs a few words.
    kept: Option<Box<Kept>>,
    /// Nanoseconds from [`MemoryHistory::origin`] to the last use; atomic so that readers
    /// holding the shard's read lock can touch it.
    last_use: AtomicU64,
}

/// The retained events of a stream.
#[derive(Debug, Default)]
struct Kept {
    /// The retained events, oldest first; the last one has the stream's `top` sequence number.
    entries: VecDeque<Entry>,
    /// Their bytes, oldest first, back to back in chunks (see [`Kept::keep`]): an event is in
    /// the last chunk that had room for it when it came, so where each one is follows from
    /// the lengths (see [`Kept::replay`]).
    chunks: VecDeque<Vec<u8>>,
    /// Where the oldest retained event starts in `chunks[0]`.
    front: usize,
    /// The cost of `entries` (see [`cost`]).
    bytes: usize,
}

/// The entries of a stream that retains none.
const NO_ENTRIES: &VecDeque<Entry> = &VecDeque::new();

#[derive(Debug)]
struct Entry {
    /// When it was appended: nanoseconds from [`MemoryHistory::origin`].
    at: u64,
    /// Its length, in bytes.
    len: usize,
}

fn cost(len: usize) -> usize {
    len + ENTRY_OVERHEAD
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
                        events: 0,
                        bytes: 0,
                    })
                })
                .collect(),
            hasher: FastHash::default(),
            epochs: RandomState::new(),
            created: AtomicU64::new(0),
            origin: now,
            streams: AtomicUsize::new(0),
        }
    }

    /// What the history holds now.
    pub(crate) fn stats(&self) -> HistoryStats {
        HistoryStats {
            streams: self.streams.load(Ordering::Relaxed),
            events: self.sum(|shard| shard.events),
            bytes: self.sum(|shard| shard.bytes),
        }
    }

    /// Appends at once (see [`History::append`]; this store never fails).
    pub(crate) fn append_now(&self, key: &StreamKey, events: &[Bytes]) -> StreamPosition {
        let now = Instant::now();
        let mut shard = self.write(key, now);
        let stream = self.get_or_create(&mut shard, key, now);
        let mut added_bytes = 0;
        for data in events {
            stream.top += 1;
            added_bytes += cost(data.len());
            stream.keep(data, self.nanos(now));
        }
        let (removed, removed_bytes) = self.trim(stream, now);
        let position = stream.position();
        shard.events = shard.events + events.len() - removed;
        shard.bytes = shard.bytes + added_bytes - removed_bytes;
        position
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
        let nanos = self.nanos(now);
        let held = stream.last_use.get_mut();
        *held = (*held).max(nanos); // the lock is held: no atomic read-modify-write
        stream.top += 1;
        let cost = cost(data.len());
        stream.keep(data, nanos);
        let (removed, removed_bytes) = self.trim(stream, now);
        let position = stream.position();
        shard.events = shard.events + 1 - removed;
        shard.bytes = shard.bytes + cost - removed_bytes;
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

    /// `f` summed over the shards (each read-locked in turn).
    fn sum(&self, f: impl Fn(&Shard) -> usize) -> usize {
        self.shards
            .iter()
            .map(|shard| f(&shard.read().unwrap_or_else(|e| e.into_inner())))
            .sum()
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
                kept: None,
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

    /// Events appended at or before this time (see [`Entry::at`]) have expired (`None`: none
    /// can have).
    fn expired_before(&self, now: Instant) -> Option<u64> {
        let max_age = u64::try_from(self.options.max_age.as_nanos()).unwrap_or(u64::MAX);
        self.nanos(now).checked_sub(max_age)
    }

    /// Applies the bounds to `stream`, oldest events first.
    /// Returns how many events it removed, and their cost (for the shard's counters).
    fn trim(&self, stream: &mut Stream, now: Instant) -> (usize, usize) {
        let Some(kept) = stream.kept.as_mut() else {
            return (0, 0);
        };
        let expired = self.expired_before(now);
        let (mut removed, mut removed_bytes) = (0, 0);
        while let Some(front) = kept.entries.front() {
            let over = kept.entries.len() > self.options.max_count
                || kept.bytes - removed_bytes > self.options.max_bytes
                || expired.is_some_and(|limit| front.at <= limit);
            if !over {
                break;
            }
            removed_bytes += cost(front.len);
            removed += 1;
            kept.pop_front();
        }
        kept.bytes -= removed_bytes;
        if kept.entries.is_empty() {
            stream.kept = None; // a quiet stream starts small again
        }
        (removed, removed_bytes)
    }

    fn sweep_shard(&self, shard: &mut Shard, now: Instant) {
        let ttl = self.options.stream_ttl;
        let unused_since = now.checked_sub(ttl);
        let before = shard.streams.len();
        let (mut removed, mut removed_bytes) = (0, 0);
        shard.streams.retain(|_, stream| {
            let (events, bytes) = self.trim(stream, now);
            removed += events;
            removed_bytes += bytes;
            let last_use = self.origin + Duration::from_nanos(*stream.last_use.get_mut());
            stream.kept.is_some() || unused_since.is_none_or(|limit| last_use > limit)
        });
        shard.events -= removed;
        shard.bytes -= removed_bytes;
        self.streams
            .fetch_sub(before - shard.streams.len(), Ordering::Relaxed);
        let interval = self.options.max_age.min(ttl) / 4;
        shard.next_sweep = now + interval.max(Duration::from_secs(1));
    }
}

impl Stream {
    /// Retains one more event (see [`Kept::keep`]).
    fn keep(&mut self, data: &[u8], at: u64) {
        self.kept.get_or_insert_with(Box::default).keep(data, at);
    }

    /// The retained events.
    fn entries(&self) -> &VecDeque<Entry> {
        self.kept.as_ref().map_or(NO_ENTRIES, |k| &k.entries)
    }
}

impl Kept {
    /// Copies `data` to the end of the last chunk (a new one, twice as large, when it does not
    /// fit) and appends its entry.
    fn keep(&mut self, data: &[u8], at: u64) {
        let fits = self
            .chunks
            .back()
            .is_some_and(|c| c.capacity() - c.len() >= data.len());
        if !fits {
            let last = self.chunks.back().map_or(0, Vec::capacity);
            let size = last.saturating_mul(2).clamp(MIN_CHUNK, MAX_CHUNK);
            if self.chunks.len() == 1 && self.front >= self.chunks[0].len() {
                // Its events are gone (those left, if any, are empty): not kept for them.
                self.chunks.clear();
                self.front = 0;
            }
            self.chunks
                .push_back(Vec::with_capacity(size.max(data.len())));
        }
        if let Some(chunk) = self.chunks.back_mut() {
            chunk.extend_from_slice(data);
        }
        self.entries.push_back(Entry {
            at,
            len: data.len(),
        });
        self.bytes += cost(data.len());
    }

    /// Drops the oldest event, and the chunks no retained event is in any more.
    fn pop_front(&mut self) {
        let Some(entry) = self.entries.pop_front() else {
            return;
        };
        if self.entries.is_empty() {
            self.chunks.clear();
            self.front = 0;
            return;
        }
        self.front += entry.len;
        // A chunk before the last one is full for good: once the events in it are gone, the
        // next one is in a later chunk.
        while self.chunks.len() > 1 && self.front >= self.chunks[0].len() {
            self.chunks.pop_front();
            self.front = 0;
        }
    }

    /// One copy of the events from `entries[first]` on, back to back, handed out as slices of
    /// it. It is filled from the newest event back: the last one ends where the last chunk
    /// does, and each one ends where the next one starts, or, when that one starts its chunk,
    /// at the end of the chunk before.
    fn replay(&self, first: usize) -> Vec<Bytes> {
        let missed = self.entries.range(first..);
        let mut all = vec![0; missed.clone().map(|e| e.len).sum()];
        let (mut chunk, mut end, mut to) = (self.chunks.len(), 0, all.len());
        for entry in missed.clone().rev().filter(|e| e.len > 0) {
            while end == 0 {
                chunk -= 1;
                end = self.chunks[chunk].len();
            }
            all[to - entry.len..to].copy_from_slice(&self.chunks[chunk][end - entry.len..end]);
            (end, to) = (end - entry.len, to - entry.len);
        }
        let all = Bytes::from(all);
        let mut start = 0;
        missed
            .map(|e| {
                start += e.len;
                all.slice(start - e.len..start)
            })
            .collect()
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
    fn since(&self, from: StreamPosition, expired: Option<u64>) -> Since {
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
        let entries = self.entries();
        let front_seq = self.top + 1 - entries.len() as u64;
        let live = match expired {
            Some(limit) => entries.partition_point(|e| e.at <= limit),
            None => 0,
        };
        if from.seq + 1 < front_seq + live as u64 {
            return lost(Unrecoverable::Trimmed);
        }
        // In range: `front_seq - 1 + live <= from.seq <= top`.
        let first = (from.seq + 1 - front_seq) as usize;
        let events = self
            .kept
            .as_ref()
            .map_or_else(Vec::new, |kept| kept.replay(first));
        Since::Recovered { top, events }
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
