//! A tiny deterministic PRNG (SplitMix64) for backoff jitter and client ids.
//!
//! Not cryptographic: the seed comes from the runtime ([`ClientIo::seed`](super::ClientIo::seed)).

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The length of a generated client id.
pub(crate) const CLIENT_ID_LEN: usize = 22;

#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed ^ 0x6a09_e667_f3bc_c909)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A float in `[0, 1)`.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A random client id: 22 chars of `[A-Za-z0-9]`.
    pub(crate) fn client_id(&mut self) -> String {
        (0..CLIENT_ID_LEN)
            .map(|_| {
                // 62 does not divide 2^64; the bias (< 2^-58) is irrelevant for an id.
                ALPHABET[(self.next_u64() % ALPHABET.len() as u64) as usize] as char
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_22_alphanumerics_and_differ() {
        let mut rng = Rng::new(7);
        let a = rng.client_id();
        let b = rng.client_id();
        assert_eq!(a.len(), 22);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn floats_are_in_unit_interval() {
        let mut rng = Rng::new(1);
        for _ in 0..10_000 {
            let f = rng.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
    }
}
