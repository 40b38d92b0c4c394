//! Sliding-window keep-alive for one WebSocket: `Ping` after `ws_kalive` of silence from the
//! client, close when nothing arrives within `ws_ping_timeout` of the ping.

use std::time::Duration;

use tokio::time::Instant;

/// What to do when the keep-alive deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Not yet: the client was active; sleep until the returned deadline.
    Later(Instant),
    /// Send a `Ping`.
    Ping,
    /// The ping went unanswered: close.
    Dead,
}

#[derive(Debug)]
pub(crate) struct Keepalive {
    kalive: Duration,
    ping_timeout: Duration,
    last_recv: Instant,
    pinged_at: Option<Instant>,
}

impl Keepalive {
    pub(crate) fn new(kalive: Duration, ping_timeout: Duration) -> Self {
        Self {
            kalive,
            ping_timeout,
            last_recv: Instant::now(),
            pinged_at: None,
        }
    }

    /// Any frame from the client.
    pub(crate) fn activity(&mut self) {
        self.last_recv = Instant::now();
        self.pinged_at = None;
    }

    /// The current deadline (the timer may be set to an earlier one; it is then pushed back
    /// lazily by [`due`](Self::due), so activity costs no timer reset).
    pub(crate) fn deadline(&self) -> Instant {
        match self.pinged_at {
            None => self.last_recv + self.kalive,
            Some(at) => at + self.ping_timeout,
        }
    }

    /// Called when the timer fires.
    pub(crate) fn due(&mut self, now: Instant) -> Due {
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

    #[test]
    fn pings_then_dies() {
        let mut k = Keepalive::new(Duration::from_secs(10), Duration::from_secs(5));
        let t0 = k.last_recv;
        assert_eq!(
            k.due(t0 + Duration::from_secs(1)),
            Due::Later(t0 + Duration::from_secs(10))
        );
        assert_eq!(k.due(t0 + Duration::from_secs(10)), Due::Ping);
        assert_eq!(k.deadline(), t0 + Duration::from_secs(15));
        assert_eq!(k.due(t0 + Duration::from_secs(15)), Due::Dead);
    }

    #[test]
    fn activity_slides_the_window() {
        let mut k = Keepalive::new(Duration::from_secs(10), Duration::from_secs(5));
        k.pinged_at = Some(k.last_recv);
        k.activity();
        assert!(k.pinged_at.is_none());
        assert_eq!(k.deadline(), k.last_recv + Duration::from_secs(10));
    }
}
