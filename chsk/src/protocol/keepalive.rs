//! The keep-alive rule, one for both ends of a WebSocket (PROTOCOL.md, "Keep-alive"): after
//! `kalive` without receiving anything, send a `Ping`; if nothing arrives within
//! `ping_timeout` of that ping, the connection is dead. Any received frame slides the window.
//!
//! Generic over the clock: the server uses tokio's `Instant` (so tests can pause time), the
//! sans-IO client core a `Duration` since its start.

use std::{ops::Add, time::Duration};

/// What to do when the keep-alive deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due<T> {
    /// Not yet: something arrived meanwhile; wait until the returned deadline.
    Later(T),
    /// Send a `Ping` now.
    Ping,
    /// The ping went unanswered: the connection is dead.
    Dead,
}

/// The keep-alive state of one connection.
#[derive(Debug, Clone)]
pub(crate) struct Keepalive<T> {
    kalive: Duration,
    ping_timeout: Duration,
    last_recv: T,
    pinged_at: Option<T>,
}

impl<T: Copy + Ord + Add<Duration, Output = T>> Keepalive<T> {
    /// A connection that received its last frame at `now`.
    pub(crate) fn new(kalive: Duration, ping_timeout: Duration, now: T) -> Self {
        Self {
            kalive,
            ping_timeout,
            last_recv: now,
            pinged_at: None,
        }
    }

    /// A frame arrived at `now`.
    pub(crate) fn activity(&mut self, now: T) {
        self.last_recv = now;
        self.pinged_at = None;
    }

    /// The current deadline. A timer may be set to an earlier one: it is pushed back lazily by
    /// [`due`](Self::due), so activity costs no timer reset.
    pub(crate) fn deadline(&self) -> T {
        match self.pinged_at {
            None => self.last_recv + self.kalive,
            Some(at) => at + self.ping_timeout,
        }
    }

    /// Called when a timer fires (or on any tick): what to do at `now`.
    pub(crate) fn due(&mut self, now: T) -> Due<T> {
        let deadline = self.deadline();
        if now < deadline {
            return Due::Later(deadline);
        }
        if self.pinged_at.is_some() {
            Due::Dead
        } else {
            self.pinged_at = Some(now);
            Due::Ping
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn pings_then_dies() {
        let mut k = Keepalive::new(10 * S, 5 * S, Duration::ZERO);
        assert_eq!(k.due(S), Due::Later(10 * S));
        assert!(k.pinged_at.is_none());
        assert_eq!(k.due(10 * S), Due::Ping);
        assert!(k.pinged_at.is_some());
        assert_eq!(k.deadline(), 15 * S);
        assert_eq!(k.due(14 * S), Due::Later(15 * S));
        assert_eq!(k.due(15 * S), Due::Dead);
    }

    #[test]
    fn activity_slides_the_window_and_answers_the_ping() {
        let mut k = Keepalive::new(10 * S, 5 * S, Duration::ZERO);
        assert_eq!(k.due(10 * S), Due::Ping);
        k.activity(12 * S);
        assert!(k.pinged_at.is_none());
        assert_eq!(k.deadline(), 22 * S);
        assert_eq!(k.due(21 * S), Due::Later(22 * S));
    }
}
