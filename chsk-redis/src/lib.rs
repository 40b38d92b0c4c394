//! Scale-out for [chsk] on Redis: several server processes behind a load balancer behave
//! as one chsk server.
//!
//! Give every process the same [`RedisCluster`] configuration (the same Redis, prefix and
//! codec) as its adapter:
//!
//! ```no_run
//! # #[chsk::events(ns = "x")] #[derive(Debug, Clone)] enum Ev { A }
//! # #[chsk::handler(Ev::A)] async fn a(_cx: chsk::Ctx<()>) {}
//! # async fn run() -> Result<(), chsk_redis::Error> {
//! use chsk_redis::{RedisCluster, RedisOptions};
//!
//! let cluster = RedisCluster::new("redis://127.0.0.1:6379/", RedisOptions::default())?;
//! let server = chsk::Server::builder(())
//!     .handler(a)
//!     .adapter(cluster.clone())
//!     .skip_csrf_check()
//!     .build(); // inside a tokio runtime: the adapter's tasks start here
//! // A push from any process reaches alice's clients on every process.
//! server.send_to_user("alice", Ev::A)?;
//! println!("{:?}", cluster.metrics());
//! # Ok(()) }
//! # fn main() {}
//! ```
//!
//! # What is guaranteed across processes
//!
//! - **Pushes** to a user (all their clients on any process), to one client id and to all go
//!   through Redis: one Lua script per run of pushes to a stream appends it to the stream's
//!   history and publishes it, so every process (the sender too) delivers a stream's pushes in
//!   the same order; each connection gets pushes in the order its process received them. A
//!   run is encoded once by its sender and delivered as it is by every process (encoded once
//!   per process, not per client). All processes must use the same codec.
//! - **Recovery**: the history lives in Redis (per stream a meta key and a bounded list, see
//!   [`RedisOptions::history`]), so a client that reconnects to another process, or to a
//!   restarted one, is recovered (`recovered: true`) with what it missed; epochs change only
//!   when Redis lost a stream's history (an expired or evicted key, a Redis restart without
//!   persistence, or pushes this process could not publish: see below). A client that was
//!   connected while that happened is told it was not recovered.
//! - **Presence**: `connected_uids`, its watch and the open/close events count every
//!   process's users; a user is closed when no process has them (after the grace periods).
//!   A process that dies without closing (`kill -9`) stops its heartbeat; after
//!   [`RedisOptions::node_timeout`] the others forget it, and its users not connected elsewhere
//!   are closed after the grace period (about 17 s with the defaults).
//! - **Ajax without sticky sessions**: a poll that lands on a process without the client's
//!   state recovers from its cursor there and goes on; sends (`POST`) need no state.
//!
//! # What is not
//!
//! - **Redis faults**: while Redis cannot be reached, each process serves its own clients: its
//!   pushes reach its local clients only (without a position), and every push it could not
//!   publish is counted ([`RedisMetrics::publish_failed`]) and logged. The streams of those
//!   pushes start a new epoch when Redis is back, so clients that may have missed them are told
//!   they were not recovered, never left with silent holes. The connection is made again by
//!   itself; after a lost subscription the process closes its connections so that their
//!   clients recover what they missed from the history. New connections are refused
//!   (`503 history unavailable`, retried by clients) while the history cannot be read.
//! - A push returns how many of **this process's** connections it reaches (the other processes
//!   deliver it when they receive it); it is queued, not awaited. [`RedisCluster::flush`]
//!   waits until the pushes so far were sent to Redis and reports those that could not be.
//! - Presence events fire on every process (each process's app sees every user's open/close).
//! - One Redis (or Valkey) server, not Redis Cluster (the scripts use keys of several streams).
//! - Requests/replies (`call`) stay on the process the client is connected to.

mod history;
mod link;
mod publish;
mod scripts;
mod subscribe;
mod wire;

use std::{
    collections::HashMap,
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, OnceLock,
    },
    time::Duration,
};

use chsk::{
    server::{
        adapter::{Adapter, EventFrame, LocalNode, NodeHandle},
        history::{HistoryStore, StreamKey},
        HistoryOptions, PushError, PushOptions, Target,
    },
    Transport,
};
use redis::Cmd;
use tokio::sync::mpsc;

use crate::{history::RedisHistory, link::Link, publish::Job, scripts::Scripts};

/// Why a [`RedisCluster`] could not be made (a malformed URL).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Redis URL is not valid.
    #[error("invalid Redis URL: {0}")]
    Url(#[source] redis::RedisError),
    /// A push failed (see [`PushError`]).
    #[error(transparent)]
    Push(#[from] PushError),
    /// Pushes could not be published to Redis (see [`RedisCluster::flush`]).
    #[error("{pushes} pushes could not be published to Redis (delivered on this process at most)")]
    Unpublished {
        /// How many failed since the previous flush.
        pushes: u64,
    },
    /// The adapter's tasks are not running.
    #[error("the Redis adapter is not running")]
    Stopped,
}

/// How a [`RedisCluster`] runs.
///
/// ```
/// use std::time::Duration;
/// use chsk_redis::RedisOptions;
/// let o = RedisOptions::default().prefix("myapp").node_timeout(Duration::from_secs(6));
/// assert_eq!(o.heartbeat, Duration::from_secs(2));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisOptions {
    /// The prefix of every key and channel (processes of one app share it; apps sharing a
    /// Redis do not). Default `chsk`.
    pub prefix: String,
    /// This process's name among the others (unique). Default: random.
    pub node_id: Option<String>,
    /// The history's bounds, per stream (as chsk's in-memory history; it replaces it).
    pub history: HistoryOptions,
    /// How often this process tells Redis it is alive. Default 2 s.
    pub heartbeat: Duration,
    /// A process silent this long is dead: the others forget its users (closed after the
    /// grace period unless connected elsewhere). Default 10 s.
    pub node_timeout: Duration,
    /// The longest a Redis command or connection attempt may take before it counts as
    /// failed. Default 2 s.
    pub timeout: Duration,
    /// While Redis cannot be reached, a new connection attempt is made at most this often.
    /// Default 500 ms.
    pub retry: Duration,
    /// Pushes waiting to be published at most; more are delivered to local clients only and
    /// counted as not published. Default 100,000.
    pub max_pending: usize,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "chsk".to_owned(),
            node_id: None,
            history: HistoryOptions::default(),
            heartbeat: Duration::from_secs(2),
            node_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            retry: Duration::from_millis(500),
            max_pending: 100_000,
        }
    }
}

impl RedisOptions {
    /// Sets [`prefix`](Self::prefix).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets [`node_id`](Self::node_id).
    pub fn node_id(mut self, id: impl Into<String>) -> Self {
        self.node_id = Some(id.into());
        self
    }

    /// Sets [`history`](Self::history).
    pub fn history(mut self, history: HistoryOptions) -> Self {
        self.history = history;
        self
    }

    /// Sets [`heartbeat`](Self::heartbeat).
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// Sets [`node_timeout`](Self::node_timeout).
    pub fn node_timeout(mut self, timeout: Duration) -> Self {
        self.node_timeout = timeout;
        self
    }

    /// Sets [`timeout`](Self::timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`retry`](Self::retry).
    pub fn retry(mut self, every: Duration) -> Self {
        self.retry = every;
        self
    }
}

/// What a [`RedisCluster`] did, since it was made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisMetrics {
    /// Whether the last Redis command succeeded.
    pub redis_up: bool,
    /// Whether the subscription (pushes and presence of the other processes) is live.
    pub subscribed: bool,
    /// Pushes published (each reaches every process).
    pub published: u64,
    /// Pushes that could not be published (Redis unreachable, or too many waiting): delivered
    /// to this process's clients only. Their streams start a new epoch when Redis is back.
    pub publish_failed: u64,
    /// Runs of pushes received from the subscription and delivered here.
    pub received_runs: u64,
    /// Messages on the channels that could not be read (another version, or not chsk's).
    pub malformed: u64,
    /// Redis commands sent (scripts count as one), pipelined in batches.
    pub commands: u64,
    /// Batches (pipelines) of commands sent by the publisher.
    pub batches: u64,
    /// Times the subscription was made again after it was lost.
    pub resubscribed: u64,
    /// Streams moved to a new epoch because pushes to them could not be published.
    pub epochs_reset: u64,
    /// Other processes forgotten after their heartbeat stopped.
    pub nodes_gone: u64,
}

#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    publish_failed: AtomicU64,
    received_runs: AtomicU64,
    malformed: AtomicU64,
    commands: AtomicU64,
    batches: AtomicU64,
    resubscribed: AtomicU64,
    epochs_reset: AtomicU64,
    nodes_gone: AtomicU64,
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// The names of the keys and channels.
#[derive(Debug)]
pub(crate) struct Keys {
    prefix: String,
    push_channel: String,
    presence_channel: String,
    nodes: String,
    node_prefix: String,
}

impl Keys {
    fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            push_channel: format!("{prefix}:push"),
            presence_channel: format!("{prefix}:presence"),
            nodes: format!("{prefix}:nodes"),
            node_prefix: format!("{prefix}:node:"),
        }
    }

    /// A stream's hash and list (one hash tag: one slot).
    pub(crate) fn stream(&self, key: &StreamKey) -> (String, String) {
        let p = &self.prefix;
        (format!("{p}:{{{key}}}:m"), format!("{p}:{{{key}}}:l"))
    }

    fn node(&self, id: &str) -> String {
        format!("{}{id}", self.node_prefix)
    }

    /// The append script's call for a batch of runs (`channel` empty: not published).
    pub(crate) fn append(
        &self,
        scripts: &Scripts,
        batch: &Batch,
        options: &HistoryOptions,
        channel: &str,
    ) -> Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        let kept = batch.runs.iter().filter(|r| r.stream.is_some()).count();
        cmd.arg(scripts.append.get_hash()).arg(2 * kept);
        for run in &batch.runs {
            if let Some(key) = &run.stream {
                let (meta, list) = self.stream(key);
                cmd.arg(meta).arg(list);
            }
        }
        let mut packed = Vec::with_capacity(9 * batch.runs.len());
        for run in &batch.runs {
            packed.extend_from_slice(&wire::len32(run.offset).to_be_bytes());
            packed.extend_from_slice(&wire::len32(run.events).to_be_bytes());
            packed.push(u8::from(run.stream.is_some()));
        }
        cmd.arg(&batch.body)
            .arg(options.max_count)
            .arg(options.max_bytes)
            .arg(options.max_age.as_millis() as u64)
            .arg(options.stream_ttl.as_millis() as u64)
            .arg(channel)
            .arg(history::OVERHEAD)
            .arg(batch.runs.len())
            .arg(history::new_epoch())
            .arg(packed);
        cmd
    }
}

/// Runs of pushes for one script call: their bodies one after the other.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    body: Vec<u8>,
    runs: Vec<BatchRun>,
}

#[derive(Debug)]
struct BatchRun {
    /// 1-based offset of the first event's length in `body`.
    offset: usize,
    events: usize,
    /// The stream it is kept in (`None`: volatile).
    stream: Option<StreamKey>,
}

impl Batch {
    /// Adds a run of `events` to `target` (kept in its stream unless `volatile`).
    pub(crate) fn add(
        &mut self,
        target: &Target,
        flush: chsk::server::Flush,
        events: &[bytes::Bytes],
        volatile: bool,
    ) {
        let (body, offset) = wire::body(target, flush, events);
        self.runs.push(BatchRun {
            offset: self.body.len() + offset,
            events: events.len(),
            stream: (!volatile).then(|| stream_of(target)),
        });
        self.body.extend_from_slice(&body);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}

/// The most streams whose epoch a node remembers (see `Shared::epochs`).
pub(crate) const MAX_EPOCHS: usize = 100_000;

/// A stream's identity as a number (no allocation), for [`Shared::epochs`].
pub(crate) fn stream_hash(target: &Target) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    match target {
        Target::User(uid) => (1u8, uid.as_str()).hash(&mut h),
        Target::Client(id) => (2u8, id.as_str()).hash(&mut h),
        _ => (0u8, "").hash(&mut h),
    }
    h.finish()
}

/// The stream a push to `target` goes to.
pub(crate) fn stream_of(target: &Target) -> StreamKey {
    match target {
        Target::User(uid) => StreamKey::user(uid.as_str()),
        Target::Client(id) => StreamKey::client(id.as_str()),
        _ => StreamKey::All,
    }
}

pub(crate) struct Shared {
    options: RedisOptions,
    node_id: String,
    keys: Arc<Keys>,
    link: Arc<Link>,
    counters: Counters,
    /// The publisher's queue (taken by the publisher task when the server is attached).
    jobs: mpsc::Sender<Job>,
    jobs_rx: Mutex<Option<mpsc::Receiver<Job>>>,
    node: OnceLock<NodeHandle>,
    subscribed: std::sync::atomic::AtomicBool,
    /// Streams with pushes that could not be published, with the epoch they were lost from
    /// (when known): reset (new epoch) with the next batch, if still in that epoch.
    dirty: Mutex<HashMap<StreamKey, Option<u64>>>,
    /// The last epoch received for each stream, by [`stream_hash`] (bounded: cleared when it
    /// grows past `MAX_EPOCHS`; an unknown epoch makes a reset unconditional).
    epochs: Mutex<HashMap<u64, u64>>,
    /// `publish_failed` as the last `flush` reported it.
    reported_failed: AtomicU64,
    /// Whether the publisher task runs.
    running: std::sync::atomic::AtomicBool,
    /// This node's presence must be published again in full (a change could not be).
    presence_dirty: std::sync::atomic::AtomicBool,
    /// The publisher's queue was found full since its last batch (logged once per episode).
    queue_full: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// The publisher's queue is full (`max_pending`): logged once until the publisher has sent
    /// a batch since, however many pushes or presence changes find it full meanwhile.
    fn queue_full(&self) {
        if !self.queue_full.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                "chsk-redis: too many changes waiting to be published: pushes are delivered on \
                 this process only (counted in publish_failed), presence is sent again in full \
                 later"
            );
        }
    }

    /// The heartbeat script's call (also sent when the node's presence is published in full).
    pub(crate) fn heartbeat_cmd(&self) -> Cmd {
        let keys = &self.keys;
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(self.link.scripts.heartbeat.get_hash())
            .arg(1)
            .arg(&keys.nodes)
            .arg(&self.node_id)
            .arg(self.options.node_timeout.as_millis() as u64)
            .arg(&keys.node_prefix)
            .arg(&keys.presence_channel);
        cmd
    }
}

/// The Redis adapter: pass it to `ServerBuilder::adapter` on every process (see the crate
/// docs). Cheap to clone; the clones share one state.
#[derive(Clone)]
pub struct RedisCluster {
    shared: Arc<Shared>,
}

impl fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCluster")
            .field("node_id", &self.shared.node_id)
            .field("prefix", &self.shared.options.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisCluster {
    /// A cluster adapter on the Redis at `url` (`redis://host:port/db`). Nothing is connected
    /// yet: the connections are made when the server is built (and made again whenever they
    /// fail).
    ///
    /// # Errors
    ///
    /// [`Error::Url`] when `url` is not a Redis URL.
    pub fn new(url: &str, options: RedisOptions) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(Error::Url)?;
        let node_id = options
            .node_id
            .clone()
            .unwrap_or_else(|| format!("{:012x}", rand::random::<u64>() >> 16));
        let (jobs, jobs_rx) = mpsc::channel(options.max_pending.max(1));
        let link = Arc::new(Link::new(client, options.timeout, options.retry));
        Ok(Self {
            shared: Arc::new(Shared {
                keys: Arc::new(Keys::new(&options.prefix)),
                options,
                node_id,
                link,
                counters: Counters::default(),
                jobs,
                jobs_rx: Mutex::new(Some(jobs_rx)),
                node: OnceLock::new(),
                subscribed: Default::default(),
                dirty: Mutex::default(),
                epochs: Mutex::default(),
                presence_dirty: Default::default(),
                queue_full: Default::default(),
                running: Default::default(),
                reported_failed: AtomicU64::new(0),
            }),
        })
    }

    /// This process's id among the others.
    pub fn node_id(&self) -> &str {
        &self.shared.node_id
    }

    /// Waits until every push made on this process before the call has been sent to Redis
    /// (published to every process) or has failed, and tells whether any push failed since the
    /// previous `flush` returned (or since the adapter started).
    ///
    /// # Errors
    ///
    /// [`Error::Unpublished`] when pushes failed since the previous flush (they reached this
    /// process's clients at most, and are counted in [`RedisMetrics::publish_failed`]);
    /// [`Error::Stopped`] when the adapter is not running (the server was not built inside a
    /// tokio runtime).
    ///
    /// ```no_run
    /// # #[chsk::events(ns = "x")] #[derive(Debug, Clone)] enum P { Done }
    /// # async fn f(cluster: chsk_redis::RedisCluster, server: chsk::Server) -> Result<(), chsk_redis::Error> {
    /// server.send_to_all(P::Done)?;
    /// cluster.flush().await?; // every process has been sent it
    /// # Ok(()) }
    /// # fn main() {}
    /// ```
    pub async fn flush(&self) -> Result<(), Error> {
        if !self.shared.running.load(Ordering::Acquire) {
            return Err(Error::Stopped);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.shared.jobs.send(Job::Flush(tx)).await.is_err() || rx.await.is_err() {
            return Err(Error::Stopped);
        }
        let now = self.shared.counters.publish_failed.load(Ordering::Acquire);
        let before = self.shared.reported_failed.swap(now, Ordering::AcqRel);
        match now.saturating_sub(before) {
            0 => Ok(()),
            pushes => Err(Error::Unpublished { pushes }),
        }
    }

    /// What this adapter did.
    pub fn metrics(&self) -> RedisMetrics {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RedisMetrics {
            redis_up: self.shared.link.is_up(),
            subscribed: self.shared.subscribed.load(Ordering::Acquire),
            published: get(&c.published),
            publish_failed: get(&c.publish_failed),
            received_runs: get(&c.received_runs),
            malformed: get(&c.malformed),
            commands: get(&c.commands),
            batches: get(&c.batches),
            resubscribed: get(&c.resubscribed),
            epochs_reset: get(&c.epochs_reset),
            nodes_gone: get(&c.nodes_gone),
        }
    }
}

impl Adapter for RedisCluster {
    fn push(
        &self,
        node: LocalNode<'_>,
        target: Target,
        event: EventFrame,
        options: PushOptions,
    ) -> Result<usize, PushError> {
        let data = node.encode(&event)?;
        let reached = node.count(&target);
        let job = Job::Push {
            target,
            data,
            volatile: options.volatile,
            flush: options.flush,
        };
        if let Err(e) = self.shared.jobs.try_send(job) {
            let job = match e {
                mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job) => {
                    job
                }
            };
            self.shared.queue_full();
            publish::fail_locally(&self.shared, node, vec![job], true);
        }
        Ok(reached)
    }

    fn attach(&self, node: NodeHandle) {
        let _ = self.shared.node.set(node);
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::error!(
                "chsk-redis: the server was built outside a tokio runtime; the Redis adapter \
                 cannot start (pushes stay on this process)"
            );
            return;
        };
        let rx = self
            .shared
            .jobs_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(rx) = rx {
            self.shared.running.store(true, Ordering::Release);
            rt.spawn(publish::run(Arc::downgrade(&self.shared), rx));
            rt.spawn(subscribe::run(Arc::downgrade(&self.shared)));
            rt.spawn(subscribe::heartbeat(Arc::downgrade(&self.shared)));
        }
    }

    fn history(&self) -> Option<HistoryStore> {
        let store = RedisHistory {
            link: self.shared.link.clone(),
            keys: self.shared.keys.clone(),
            options: self.shared.options.history,
        };
        Some(HistoryStore::new(store, self.shared.options.history))
    }

    fn presence_changed(&self, uid: &str, transport: Transport, connected: bool) {
        let job = Job::Presence {
            uid: uid.to_owned(),
            transport,
            connected,
        };
        if self.shared.jobs.try_send(job).is_err() {
            // Resent in full with the next presence sync (the heartbeat sends one).
            self.shared.presence_dirty.store(true, Ordering::Release);
            self.shared.queue_full();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[chsk::events(ns = "t")]
    #[derive(Debug, Clone)]
    enum Ev {
        Ping,
    }

    #[test]
    fn a_full_queue_counts_every_push_it_refuses_and_says_so_once_per_episode() {
        // Built outside a runtime, the adapter's publisher never runs: its queue of 2 fills.
        let cluster = RedisCluster::new(
            "redis://127.0.0.1:1/",
            RedisOptions {
                max_pending: 2,
                ..RedisOptions::default()
            },
        )
        .expect("a valid URL");
        let server = chsk::Server::builder::<Ev, _>(())
            .adapter(cluster.clone())
            .skip_csrf_check()
            .build();
        for _ in 0..5 {
            assert_eq!(server.send_to_user("alice", Ev::Ping).ok(), Some(0));
        }
        assert_eq!(cluster.metrics().publish_failed, 3);
        assert!(cluster.shared.queue_full.load(Ordering::Acquire));
        // A presence change that finds it full is sent again in full later.
        cluster.presence_changed("alice", Transport::Ws, true);
        assert!(cluster.shared.presence_dirty.load(Ordering::Acquire));
    }
}
