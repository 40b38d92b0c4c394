//! The rooms' recent messages: in memory (one process), or in Redis (several processes share
//! them, so `History` answers the same on every node).
//!
//! In Redis each room is one list, `chat:room:<room>`, of JSON messages, oldest first: a post
//! is `RPUSH` + `LTRIM` to the last [`HISTORY_LEN`] (one `MULTI`), a history is `LRANGE`.

use std::{
    collections::{HashMap, VecDeque},
    fmt,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use chat_events::{Message, HISTORY_LEN};
use redis::{aio::MultiplexedConnection, AsyncConnectionConfig};

/// The longest a Redis command (or connecting) may take before it counts as failed.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Where the rooms' messages are kept.
pub(crate) enum Rooms {
    /// In this process.
    Memory(Mutex<HashMap<String, VecDeque<Message>>>),
    /// In Redis.
    Redis(Box<RedisRooms>),
}

impl Default for Rooms {
    fn default() -> Self {
        Self::Memory(Mutex::default())
    }
}

impl fmt::Debug for Rooms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory(_) => f.write_str("Rooms::Memory"),
            Self::Redis(r) => write!(f, "Rooms::Redis({:?})", r.client.get_connection_info()),
        }
    }
}

/// Why Redis could not be used (a connection, a command, or a timeout).
#[derive(Debug)]
pub(crate) struct StoreError(String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        Self(format!("Redis: {e}"))
    }
}

impl Rooms {
    /// Adds `msg` to its room, keeping the last [`HISTORY_LEN`].
    pub(crate) async fn append(&self, msg: &Message) -> Result<(), StoreError> {
        match self {
            Self::Memory(rooms) => {
                let mut rooms = rooms.lock().unwrap_or_else(PoisonError::into_inner);
                let history = rooms.entry(msg.room.clone()).or_default();
                history.push_back(msg.clone());
                if history.len() > HISTORY_LEN {
                    history.pop_front();
                }
                Ok(())
            }
            Self::Redis(r) => r.append(msg).await,
        }
    }

    /// The last `limit` messages of `room`, oldest first.
    pub(crate) async fn recent(&self, room: &str, limit: u32) -> Result<Vec<Message>, StoreError> {
        match self {
            Self::Memory(rooms) => {
                let rooms = rooms.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(history) = rooms.get(room) else {
                    return Ok(Vec::new());
                };
                let skip = history.len().saturating_sub(limit as usize);
                Ok(history.iter().skip(skip).cloned().collect())
            }
            Self::Redis(r) => r.recent(room, limit).await,
        }
    }
}

/// The rooms in Redis, through one multiplexed connection, made again after a failure.
pub(crate) struct RedisRooms {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

impl RedisRooms {
    /// Rooms in the Redis at `url` (nothing is connected before the first command).
    pub(crate) fn new(url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            conn: tokio::sync::Mutex::new(None),
        })
    }

    fn key(room: &str) -> String {
        format!("chat:room:{room}")
    }

    /// The connection, made when there is none.
    async fn conn(&self) -> Result<MultiplexedConnection, StoreError> {
        let mut conn = self.conn.lock().await;
        if let Some(c) = &*conn {
            return Ok(c.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let made = tokio::time::timeout(
            TIMEOUT,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(|_| StoreError("Redis: connecting timed out".into()))??;
        *conn = Some(made.clone());
        Ok(made)
    }

    /// Runs `op` on the connection within [`TIMEOUT`]; a failure drops the connection, so the
    /// next command makes a new one.
    async fn run<T, F>(&self, op: impl FnOnce(MultiplexedConnection) -> F) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.conn().await?;
        let result = match tokio::time::timeout(TIMEOUT, op(conn)).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => StoreError::from(e),
            Err(_) => StoreError("Redis: command timed out".into()),
        };
        *self.conn.lock().await = None;
        Err(result)
    }

    async fn append(&self, msg: &Message) -> Result<(), StoreError> {
        let json = serde_json::to_string(msg).map_err(|e| StoreError(e.to_string()))?;
        let key = Self::key(&msg.room);
        let keep = HISTORY_LEN as isize;
        self.run(|mut conn| async move {
            redis::pipe()
                .atomic()
                .rpush(&key, json)
                .ignore()
                .ltrim(&key, -keep, -1)
                .ignore()
                .exec_async(&mut conn)
                .await
        })
        .await
    }

    async fn recent(&self, room: &str, limit: u32) -> Result<Vec<Message>, StoreError> {
        let limit = (limit as usize).min(HISTORY_LEN) as isize;
        if limit == 0 {
            return Ok(Vec::new()); // LRANGE -0 -1 would be the whole list
        }
        let key = Self::key(room);
        let items: Vec<String> = self
            .run(|mut conn| async move {
                redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(-limit)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(items
            .iter()
            .filter_map(|item| match serde_json::from_str(item) {
                Ok(m) => Some(m),
                Err(e) => {
                    eprintln!("chat: skipped a message of #{room} that does not decode: {e}");
                    None
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(room: &str, n: usize) -> Message {
        Message {
            room: room.into(),
            from: "alice".into(),
            text: format!("m{n}"),
        }
    }

    /// Both stores keep the last HISTORY_LEN messages per room and answer the last `limit`.
    #[tokio::test]
    async fn memory_and_redis_answer_the_same() {
        let redis = chsk_redis_node::RedisServer::start().await;
        let stores = [
            Rooms::default(),
            Rooms::Redis(Box::new(
                RedisRooms::new(&redis.url()).expect("a valid URL"),
            )),
        ];
        for rooms in &stores {
            for n in 0..HISTORY_LEN + 5 {
                rooms.append(&msg("lobby", n)).await.expect("appended");
            }
            rooms.append(&msg("rust", 0)).await.expect("appended");
            let all = rooms.recent("lobby", 1000).await.expect("read");
            assert_eq!(all.len(), HISTORY_LEN, "{rooms:?}");
            assert_eq!(all[0], msg("lobby", 5));
            assert_eq!(all[HISTORY_LEN - 1], msg("lobby", HISTORY_LEN + 4));
            let last = rooms.recent("lobby", 2).await.expect("read");
            assert_eq!(
                last,
                [msg("lobby", HISTORY_LEN + 3), msg("lobby", HISTORY_LEN + 4)]
            );
            assert!(rooms.recent("lobby", 0).await.expect("read").is_empty());
            assert!(rooms.recent("random", 10).await.expect("read").is_empty());
            assert_eq!(
                rooms.recent("rust", 10).await.expect("read"),
                [msg("rust", 0)]
            );
        }
    }

    /// A Redis that is not there is an error; once it is back, the store works again (the
    /// connection is made again).
    #[tokio::test]
    async fn a_missing_redis_is_an_error_then_recovers() {
        let mut redis = chsk_redis_node::RedisServer::start().await;
        let rooms = RedisRooms::new(&redis.url()).expect("a valid URL");
        rooms.append(&msg("lobby", 1)).await.expect("appended");
        redis.stop().await;
        assert!(rooms.append(&msg("lobby", 2)).await.is_err());
        assert!(rooms.recent("lobby", 10).await.is_err());
        redis.restart().await; // empty: no persistence
        rooms.append(&msg("lobby", 3)).await.expect("appended");
        assert_eq!(
            rooms.recent("lobby", 10).await.expect("read"),
            [msg("lobby", 3)]
        );
    }
}
