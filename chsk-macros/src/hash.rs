//! The stable hash that ties `#[chsk::handler(ChatEvent::History)]` to the variant `History`
//! of `ChatEvent`: `#[chsk::events]` implements `VariantOf<{ variant_hash("History") }>` for
//! the enum, and the handler names `<ChatEvent as VariantOf<{ variant_hash("History") }>>`.

/// FNV-1a (64 bits) of a variant's Rust name, without any `r#` prefix.
pub(crate) fn variant_hash(name: &str) -> u64 {
    let name = name.strip_prefix("r#").unwrap_or(name);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::variant_hash;

    #[test]
    fn fnv1a_64() {
        assert_eq!(variant_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(variant_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(variant_hash("r#Type"), variant_hash("Type"));
        assert_ne!(variant_hash("Post"), variant_hash("Pots"));
    }
}
