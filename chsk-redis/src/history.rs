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

/// Reads the append script's answer for one run: `{epoch, first seq}`.
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
        let (meta, list) = self.keys.stream(key);
        let (epoch, seq) = from.map_or((String::new(), 0), |p| (p.epoch.to_string(), p.seq));
        let mut call = self.link.scripts.since.key(meta);
        call.key(list)
            .arg(epoch)
            .arg(seq)
            .arg(new_epoch())
            .arg(self.options.stream_ttl.as_millis() as u64)
            .arg(self.options.max_age.as_millis() as u64);
        let answer: Value = self
            .link
            .run(|mut conn| async move { call.invoke_async(&mut conn).await })
            .await
            .map_err(store)?;
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
        let mut batch = crate::Batch::default();
        batch.add(&target, chsk::server::Flush::Batched, events, false);
        let cmd = self
            .keys
            .append(&self.link.scripts, &batch, &self.options, "");
        let answer: Value = self
            .link
            .run(|mut conn| async move { cmd.query_async(&mut conn).await })
            .await
            .map_err(store)?;
        let first = top_of(&answer)?;
        Ok(StreamPosition {
            epoch: first.epoch,
            seq: first.seq + events.len() as u64 - 1,
        })
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
        let ttl = self.options.stream_ttl.as_millis() as u64;
        for chunk in keys.chunks(1_000) {
            let mut pipe = redis::pipe();
            for key in chunk {
                let (meta, list) = self.keys.stream(key);
                pipe.cmd("PEXPIRE").arg(meta).arg(ttl).ignore();
                pipe.cmd("PEXPIRE").arg(list).arg(ttl).ignore();
            }
            self.link
                .run(|mut conn| async move { pipe.query_async::<()>(&mut conn).await })
                .await
                .map_err(store)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The history contract against a real `redis-server` (started on a free loopback port).
    #![allow(clippy::unwrap_used)]

    use std::{process::Stdio, time::Duration};

    use super::*;

    /// The server (killed when dropped) and its port.
    struct Redis(#[allow(dead_code)] tokio::process::Child, u16);

    async fn redis() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server (apt-get install -y redis-server)");
        for _ in 0..500 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Redis(child, port)
    }

    fn history(r: &Redis, options: HistoryOptions) -> RedisHistory {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", r.1)).unwrap();
        RedisHistory {
            link: Arc::new(Link::new(
                client,
                Duration::from_secs(2),
                Duration::from_millis(100),
            )),
            keys: Arc::new(Keys::new("t")),
            options,
        }
    }

    fn events(range: std::ops::Range<u8>) -> Vec<Bytes> {
        range.map(|i| Bytes::from(vec![i; 3])).collect()
    }

    #[tokio::test]
    async fn appends_replays_and_refuses_what_it_cannot_replay_whole() {
        let r = redis().await;
        let h = history(&r, HistoryOptions::default().max_count(5));
        let key = StreamKey::user("alice");
        let start = h.position(&key).await.unwrap();
        assert_eq!(start.seq, 0);
        assert!(start.epoch != 0 && start.epoch < 1 << 53);
        assert_eq!(h.position(&key).await.unwrap(), start, "one epoch");
        let top = h.append(&key, &events(0..3)).await.unwrap();
        assert_eq!(top, StreamPosition { seq: 3, ..start });
        assert_eq!(
            h.since(&key, start).await.unwrap(),
            Since::Recovered {
                top,
                events: events(0..3)
            }
        );
        let mid = StreamPosition { seq: 2, ..start };
        assert_eq!(
            h.since(&key, mid).await.unwrap(),
            Since::Recovered {
                top,
                events: events(2..3)
            }
        );
        assert_eq!(
            h.since(&key, top).await.unwrap(),
            Since::Recovered {
                top,
                events: vec![]
            }
        );
        let not = |reason| Since::NotRecovered { top, reason };
        let beyond = StreamPosition { seq: 9, ..start };
        assert_eq!(
            h.since(&key, beyond).await.unwrap(),
            not(Unrecoverable::BeyondTop)
        );
        let other = StreamPosition {
            epoch: start.epoch ^ 1,
            seq: 1,
        };
        assert_eq!(
            h.since(&key, other).await.unwrap(),
            not(Unrecoverable::OtherEpoch)
        );
        // Past the count bound: the oldest leave; a position before them is not recovered.
        let top = h.append(&key, &events(3..8)).await.unwrap();
        assert_eq!(top.seq, 8);
        assert_eq!(
            h.since(&key, mid).await.unwrap(),
            Since::NotRecovered {
                top,
                reason: Unrecoverable::Trimmed
            }
        );
        let three = StreamPosition { seq: 3, ..start };
        assert_eq!(
            h.since(&key, three).await.unwrap(),
            Since::Recovered {
                top,
                events: events(3..8)
            }
        );
        // A stream Redis lost comes back in a new epoch: its old positions are unknown.
        let (meta, list) = h.keys.stream(&key);
        let mut conn = h.link.get().await.unwrap();
        let _: () = redis::cmd("DEL")
            .arg(meta)
            .arg(list)
            .query_async(&mut conn)
            .await
            .unwrap();
        match h.since(&key, three).await.unwrap() {
            Since::NotRecovered {
                top: new,
                reason: Unrecoverable::UnknownStream,
            } => assert!(new.epoch != start.epoch && new.seq == 0, "{new:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn the_byte_and_age_bounds_trim_oldest_first() {
        let r = redis().await;
        // Each event counts 3 + 24 bytes: 100 bytes keep three of them.
        let h = history(&r, HistoryOptions::default().max_bytes(100));
        let key = StreamKey::All;
        let start = h.position(&key).await.unwrap();
        let top = h.append(&key, &events(0..5)).await.unwrap();
        let two = StreamPosition { seq: 2, ..start };
        assert_eq!(
            h.since(&key, two).await.unwrap(),
            Since::Recovered {
                top,
                events: events(2..5)
            }
        );
        assert!(matches!(
            h.since(&key, StreamPosition { seq: 1, ..start })
                .await
                .unwrap(),
            Since::NotRecovered {
                reason: Unrecoverable::Trimmed,
                ..
            }
        ));
        let h = history(
            &r,
            HistoryOptions::default().max_age(Duration::from_millis(200)),
        );
        let key = StreamKey::client("c1");
        let start = h.position(&key).await.unwrap();
        h.append(&key, &events(0..2)).await.unwrap();
        assert!(matches!(
            h.since(&key, start).await.unwrap(),
            Since::Recovered { .. }
        ));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(matches!(
            h.since(&key, start).await.unwrap(),
            Since::NotRecovered {
                reason: Unrecoverable::Trimmed,
                ..
            }
        ));
        // `keep` holds a quiet stream past its ttl.
        let h = history(
            &r,
            HistoryOptions::default().stream_ttl(Duration::from_millis(300)),
        );
        let kept = StreamKey::user("kept");
        let lost = StreamKey::user("lost");
        let kept_at = h.position(&kept).await.unwrap();
        let lost_at = h.position(&lost).await.unwrap();
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            h.keep(std::slice::from_ref(&kept)).await.unwrap();
        }
        assert!(matches!(
            h.since(&kept, kept_at).await.unwrap(),
            Since::Recovered { .. }
        ));
        assert!(matches!(
            h.since(&lost, lost_at).await.unwrap(),
            Since::NotRecovered {
                reason: Unrecoverable::UnknownStream,
                ..
            }
        ));
        drop(r);
    }
}
