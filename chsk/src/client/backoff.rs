//! Reconnect backoff: exponential, with jitter and a cap.

use std::time::Duration;

use super::rng::Rng;

/// How long to wait before reconnect attempts.
///
/// Retry 1 is immediate; retry `n ≥ 2` waits a random time in
/// `[ceil·(1 − jitter), ceil]` where `ceil = min(cap, base·2^(n−2))`. With the default
/// `jitter = 1.0` that is "full jitter", which spreads a crowd of clients after a server restart.
/// Unlike Sente's `exp-backoff`, the delay is capped. The attempt count resets after a
/// successful handshake.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffOptions {
    /// The ceiling of the first delayed retry (retry 2). Default 500 ms.
    pub base: Duration,
    /// The largest delay ever used. Default 30 s.
    pub cap: Duration,
    /// The random fraction of the ceiling, in `[0, 1]`: `1.0` is full jitter, `0.0` none.
    /// Default 1.0.
    pub jitter: f64,
}

impl Default for BackoffOptions {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            jitter: 1.0,
        }
    }
}

/// The backoff counter: call [`next_delay`](Self::next_delay) after each failure and
/// [`reset`](Self::reset) after a successful handshake.
///
/// ```
/// use std::time::Duration;
/// use chsk::client::{Backoff, BackoffOptions};
/// let mut b = Backoff::new(BackoffOptions { jitter: 0.0, ..Default::default() }, 42);
/// assert_eq!(b.next_delay(), Duration::ZERO);             // retry 1: immediate
/// assert_eq!(b.next_delay(), Duration::from_millis(500)); // retry 2: base
/// assert_eq!(b.next_delay(), Duration::from_secs(1));     // retry 3: doubled
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    options: BackoffOptions,
    attempt: u32,
    rng: Rng,
}

impl Backoff {
    /// A new counter; `seed` feeds the jitter.
    pub fn new(options: BackoffOptions, seed: u64) -> Self {
        Self {
            options,
            attempt: 0,
            rng: Rng::new(seed),
        }
    }

    /// How many retries were scheduled since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The upper bound of the delay of retry number `attempt` (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let cap = self.options.cap;
        let shift = attempt - 2;
        if shift >= 32 {
            return cap;
        }
        self.options
            .base
            .checked_mul(1u32 << shift)
            .map_or(cap, |ceil| ceil.min(cap))
    }

    /// Counts one more retry and returns how long to wait before it.
    pub fn next_delay(&mut self) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        let ceil = self.ceiling(self.attempt);
        let jitter = self.options.jitter.clamp(0.0, 1.0);
        ceil.mul_f64(1.0 - jitter * self.rng.next_f64())
    }

    /// Forgets past failures (after a successful handshake).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(jitter: f64) -> BackoffOptions {
        BackoffOptions {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            jitter,
        }
    }

    #[test]
    fn first_retry_is_immediate_then_grows_and_is_capped() {
        let mut b = Backoff::new(opts(0.0), 1);
        let delays: Vec<_> = (0..10).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(
            delays,
            [0, 100, 200, 400, 800, 1600, 2000, 2000, 2000, 2000]
        );
        assert_eq!(b.attempt(), 10);
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let mut b = Backoff::new(opts(0.0), 1);
        for _ in 0..100 {
            b.next_delay();
        }
        assert_eq!(b.next_delay(), Duration::from_secs(2));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn full_jitter_stays_within_bounds_and_varies() {
        let mut b = Backoff::new(opts(1.0), 99);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            b.reset();
            b.next_delay();
            b.next_delay();
            b.next_delay();
            let d = b.next_delay(); // retry 4: ceiling 400 ms
            assert!(d <= Duration::from_millis(400), "{d:?}");
            seen.insert(d.as_millis());
        }
        assert!(seen.len() > 50, "jitter should spread delays: {seen:?}");
        assert!(seen.iter().any(|&ms| ms < 200));
    }

    #[test]
    fn partial_jitter_keeps_a_floor() {
        let mut b = Backoff::new(opts(0.25), 3);
        for _ in 0..200 {
            b.reset();
            b.next_delay();
            let d = b.next_delay(); // ceiling 100 ms, floor 75 ms
            assert!(d >= Duration::from_millis(75) && d <= Duration::from_millis(100));
        }
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::new(opts(0.0), 1);
        b.next_delay();
        b.next_delay();
        b.reset();
        assert_eq!(b.attempt(), 0);
        assert_eq!(b.next_delay(), Duration::ZERO);
    }
}
