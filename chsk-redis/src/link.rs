//! The node's command connection to Redis: one multiplexed connection (requests from every
//! task are pipelined on it), made again after a failure, with the scripts loaded on each new
//! connection. While Redis cannot be reached, a new attempt is made at most every
//! `retry` and callers fail at once in between (pushes then go to local clients only, counted).

use std::{
    future::Future,
    sync::atomic::{AtomicU8, Ordering},
    time::Duration,
};

use redis::{aio::MultiplexedConnection, AsyncConnectionConfig, Client, RedisError, RedisResult};
use tokio::{sync::Mutex, time::Instant};

use crate::scripts::Scripts;

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

#[derive(Debug)]
pub(crate) struct Link {
    client: Client,
    config: AsyncConnectionConfig,
    retry: Duration,
    state: Mutex<State>,
    /// The last command's outcome (the `redis_up` metric): `UNKNOWN` before the first.
    up: AtomicU8,
    pub(crate) scripts: Scripts,
}

#[derive(Debug, Default)]
struct State {
    conn: Option<MultiplexedConnection>,
    /// No new attempt before this (after a failed one).
    next_try: Option<Instant>,
}

impl Link {
    pub(crate) fn new(client: Client, timeout: Duration, retry: Duration) -> Self {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        Self {
            client,
            config,
            retry,
            state: Mutex::default(),
            up: AtomicU8::new(UNKNOWN),
            scripts: Scripts::default(),
        }
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The connection, made (and its scripts loaded) when there is none; fails at once within
    /// `retry` of a failed attempt.
    pub(crate) async fn get(&self) -> RedisResult<MultiplexedConnection> {
        let mut st = self.state.lock().await;
        if let Some(conn) = &st.conn {
            return Ok(conn.clone());
        }
        if st.next_try.is_some_and(|at| Instant::now() < at) {
            return Err(unreachable_now());
        }
        match self.connect().await {
            Ok(conn) => {
                st.conn = Some(conn.clone());
                st.next_try = None;
                Ok(conn)
            }
            Err(e) => {
                st.next_try = Some(Instant::now() + self.retry);
                self.failed(&e);
                Err(e)
            }
        }
    }

    async fn connect(&self) -> RedisResult<MultiplexedConnection> {
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        for script in self.scripts.all() {
            script.load_async(&mut conn).await?;
        }
        Ok(conn)
    }

    /// Runs `command` on the connection ([`get`](Self::get)): the link is marked up when it
    /// succeeds, and a failure goes through [`failed_on`](Self::failed_on).
    pub(crate) async fn run<T, F, Fut>(&self, command: F) -> RedisResult<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self.get().await?;
        match command(conn).await {
            Ok(v) => {
                self.ok();
                Ok(v)
            }
            Err(e) => {
                self.failed_on(&e).await;
                Err(e)
            }
        }
    }

    /// A command on `conn` failed: the connection is dropped (the next `get` makes another)
    /// unless the error is only the command's (a script error, say).
    pub(crate) async fn failed_on(&self, e: &RedisError) {
        self.failed(e);
        if e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.code() == Some("NOSCRIPT")
        {
            let mut st = self.state.lock().await;
            st.conn = None;
        }
    }

    /// Logged once per outage (and at the first failure).
    fn failed(&self, e: &RedisError) {
        if self.up.swap(DOWN, Ordering::AcqRel) != DOWN {
            tracing::warn!(error = %e, "chsk-redis: Redis unreachable; serving local clients only");
        }
    }

    /// A command succeeded.
    pub(crate) fn ok(&self) {
        if self.up.swap(UP, Ordering::AcqRel) != UP {
            tracing::info!("chsk-redis: Redis reachable");
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire) == UP
    }
}

fn unreachable_now() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "Redis unreachable (waiting before the next attempt)",
    ))
}
