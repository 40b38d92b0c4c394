//! The push history in Redis: [`RedisHistory`] implements chsk's `History` with the scripts
//! (see `scripts.rs`), so a client that reconnects to any node reads the same streams.

use std::{fmt, sync::Arc};

use bytes::Bytes;
use chsk::server::{
    history::{History, HistoryError, Since, StreamKey, StreamPosition, Unrecoverable},
    HistoryOptions,
};
use redis::{RedisError, Value};

use crate::{link::Link, Keys};

/// Bytes counted per retained event besides the event (its time and list overhead), as the
/// in-memory history counts them.
pub(crate) const OVERHEAD: usize = 24;

/// The history of every server process, in Redis.
#[derive(Clone)]
pub(crate) struct RedisHistory {
    pub(crate) link: Arc<Link>,
    pub(crate) keys: Arc<Keys>,
    pub(crate) options: HistoryOptions,
}

impl fmt::Debug for RedisHistory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisHistory")
            .field("prefix", &self.keys.prefix)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A random epoch: never 0, below 2^53 (exact in JSON and JavaScript).
pub(crate) fn new_epoch() -> u64 {
    loop {
        let e = rand::random::<u64>() >> 11;
        if e != 0 {
            return e;
        }
    }
}

fn store(e: RedisError) -> HistoryError {
    HistoryError::Store(Box::new(e))
}

fn bad(what: &str) -> HistoryError {
    HistoryError::Inconsistent(format!("unexpected answer from Redis: {what}"))
}

fn int(v: &Value) -> Result<u64, HistoryError> {
    match v {
        Value::Int(i) => u64::try_from(*i).map_err(|_| bad("negative number")),
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("not a number")),
        Value::SimpleString(s) => s.parse().map_err(|_| bad("not a number")),
        _ => Err(bad("not a number")),
    }
}

fn text(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// Reads the append script's answer `{epoch, last seq}`.
pub(crate) fn top_of(v: &Value) -> Result<StreamPosition, HistoryError> {
    match v {
        Value::Array(items) if items.len() == 2 => Ok(StreamPosition {
            epoch: int(&items[0])?,
            seq: int(&items[1])?,
        }),
        _ => Err(bad("append answer")),
    }
}

impl RedisHistory {
    /// Runs the `since` script: `from` `None` reads (or creates) the stream's position.
    async fn read(
        &self,
        key: &StreamKey,
        from: Option<StreamPosition>,
    ) -> Result<Since, HistoryError> {
        let mut conn = self.link.get().await.map_err(store)?;
        let (meta, list) = self.keys.stream(key);
        let (epoch, seq) = from.map_or((String::new(), 0), |p| (p.epoch.to_string(), p.seq));
        let answer: Result<Value, RedisError> = self
            .link
            .scripts
            .since
            .key(meta)
            .key(list)
            .arg(epoch)
            .arg(seq)
            .arg(new_epoch())
            .arg(self.options.stream_ttl.as_millis() as u64)
            .arg(self.options.max_age.as_millis() as u64)
            .invoke_async(&mut conn)
            .await;
        let answer = match answer {
            Ok(v) => {
                self.link.ok();
                v
            }
            Err(e) => {
                self.link.failed_on(&e).await;
                return Err(store(e));
            }
        };
        let Value::Array(items) = answer else {
            return Err(bad("since answer"));
        };
        if items.len() < 3 {
            return Err(bad("since answer"));
        }
        let top = StreamPosition {
            epoch: int(&items[0])?,
            seq: int(&items[1])?,
        };
        let not = |reason| Ok(Since::NotRecovered { top, reason });
        match text(&items[2]).ok_or_else(|| bad("since status"))? {
            b"top" => Ok(Since::Recovered {
                top,
                events: Vec::new(),
            }),
            b"unknown" if from.is_none() => Ok(Since::Recovered {
                top,
                events: Vec::new(),
            }),
            b"unknown" => not(Unrecoverable::UnknownStream),
            b"epoch" => not(Unrecoverable::OtherEpoch),
            b"beyond" => not(Unrecoverable::BeyondTop),
            b"trimmed" => not(Unrecoverable::Trimmed),
            b"ok" => {
                let events = match items.into_iter().nth(3) {
                    Some(Value::Array(events)) => events,
                    _ => return Err(bad("since events")),
                };
                let events = events
                    .into_iter()
                    .map(|v| match v {
                        Value::BulkString(b) if b.len() >= 8 => Ok(Bytes::from(b).slice(8..)),
                        _ => Err(bad("event")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Since::Recovered { top, events })
            }
            _ => Err(bad("since status")),
        }
    }
}

impl History for RedisHistory {
    async fn append(
        &self,
        key: &StreamKey,
        events: &[Bytes],
    ) -> Result<StreamPosition, HistoryError> {
        if events.is_empty() {
            return self.position(key).await;
        }
        let target = match key {
            StreamKey::All => chsk::server::Target::All,
            StreamKey::User(uid) => chsk::server::Target::User(uid.to_string()),
            StreamKey::Client(id) => chsk::server::Target::Client(id.to_string()),
        };
        let (body, offset) = crate::wire::body(&target, chsk::server::Flush::Batched, events);
        let mut conn = self.link.get().await.map_err(store)?;
        let cmd = self.keys.append(
            &self.link.scripts,
            key,
            &body,
            offset,
            events.len(),
            &self.options,
            "",
        );
        match cmd.query_async::<Value>(&mut conn).await {
            Ok(v) => {
                self.link.ok();
                top_of(&v)
            }
            Err(e) => {
                self.link.failed_on(&e).await;
                Err(store(e))
            }
        }
    }

    async fn position(&self, key: &StreamKey) -> Result<StreamPosition, HistoryError> {
        Ok(self.read(key, None).await?.top())
    }

    async fn since(&self, key: &StreamKey, from: StreamPosition) -> Result<Since, HistoryError> {
        self.read(key, Some(from)).await
    }

    async fn keep(&self, keys: &[StreamKey]) -> Result<(), HistoryError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut conn = self.link.get().await.map_err(store)?;
        let ttl = self.options.stream_ttl.as_millis() as u64;
        for chunk in keys.chunks(1_000) {
            let mut pipe = redis::pipe();
            for key in chunk {
                let (meta, list) = self.keys.stream(key);
                pipe.cmd("PEXPIRE").arg(meta).arg(ttl).ignore();
                pipe.cmd("PEXPIRE").arg(list).arg(ttl).ignore();
            }
            if let Err(e) = pipe.query_async::<()>(&mut conn).await {
                self.link.failed_on(&e).await;
                return Err(store(e));
            }
        }
        self.link.ok();
        Ok(())
    }
}
