//! A nesting-depth bound for any serde `Deserializer`.
//!
//! postcard has no depth limit: a recursive payload type (`Node { children: Vec<Node> }`) lets
//! a few kilobytes of input recurse until the thread's stack overflows, which aborts the whole
//! process. [`Limited`] wraps a deserializer and every visitor, seed and access it hands out,
//! and counts one level for every sequence, map, enum, `Some` and newtype entered; past the
//! budget it returns an error instead of recursing. The same wrapper is used for JSON, so both
//! codecs answer a too-deep payload with the same error.

use std::{cell::Cell, fmt};

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

/// The error message of a payload nested deeper than the bound.
pub(crate) const TOO_DEEP: &str = "nesting too deep";

/// How many levels of nesting are left, and where to note that the bound was hit (the error
/// type of some formats, postcard's among them, drops custom messages).
#[derive(Clone, Copy)]
pub(crate) struct Budget<'a> {
    remaining: usize,
    hit: &'a Cell<bool>,
}

impl<'a> Budget<'a> {
    pub(crate) fn new(max_depth: usize, hit: &'a Cell<bool>) -> Self {
        Self {
            remaining: max_depth,
            hit,
        }
    }

    /// The budget one level down, or the error when there is none left.
    fn enter<E: de::Error>(self) -> Result<Self, E> {
        match self.remaining.checked_sub(1) {
            Some(remaining) => Ok(Self { remaining, ..self }),
            None => {
                self.hit.set(true);
                Err(E::custom(TOO_DEEP))
            }
        }
    }
}

/// A deserializer with a nesting budget.
pub(crate) struct Limited<'a, D> {
    inner: D,
    remaining: Budget<'a>,
}

impl<'a, D> Limited<'a, D> {
    pub(crate) fn new(inner: D, budget: Budget<'a>) -> Self {
        Self {
            inner,
            remaining: budget,
        }
    }
}

/// A visitor that hands out depth-limited accesses.
struct LimitedVisitor<'a, V> {
    inner: V,
    remaining: Budget<'a>,
}

/// A seed that deserializes through a depth-limited deserializer.
struct LimitedSeed<'a, S> {
    inner: S,
    remaining: Budget<'a>,
}

/// A sequence, map or enum access one level down.
struct LimitedAccess<'a, A> {
    inner: A,
    remaining: Budget<'a>,
}

impl<'a, V> LimitedVisitor<'a, V> {
    /// The budget for what this compound value contains, or the error when there is none left.
    fn enter<E: de::Error>(&self) -> Result<Budget<'a>, E> {
        self.remaining.enter()
    }
}

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
                self.inner.$method($($arg,)* LimitedVisitor { inner: visitor, remaining: self.remaining })
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Limited<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any(), deserialize_bool(), deserialize_i8(), deserialize_i16(),
        deserialize_i32(), deserialize_i64(), deserialize_i128(), deserialize_u8(),
        deserialize_u16(), deserialize_u32(), deserialize_u64(), deserialize_u128(),
        deserialize_f32(), deserialize_f64(), deserialize_char(), deserialize_str(),
        deserialize_string(), deserialize_bytes(), deserialize_byte_buf(), deserialize_option(),
        deserialize_unit(), deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str), deserialize_seq(),
        deserialize_tuple(len: usize), deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_map(), deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
        deserialize_identifier(), deserialize_ignored_any(),
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
                self.inner.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for LimitedVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool), visit_i8(i8), visit_i16(i16), visit_i32(i32), visit_i64(i64),
        visit_i128(i128), visit_u8(u8), visit_u16(u16), visit_u32(u32), visit_u64(u64),
        visit_u128(u128), visit_f32(f32), visit_f64(f64), visit_char(char), visit_str(&str),
        visit_borrowed_str(&'de str), visit_string(String), visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]), visit_byte_buf(Vec<u8>),
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        let remaining = self.enter()?;
        self.inner.visit_some(Limited {
            inner: d,
            remaining,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        let remaining = self.enter()?;
        self.inner.visit_newtype_struct(Limited {
            inner: d,
            remaining,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let remaining = self.enter()?;
        self.inner.visit_seq(LimitedAccess {
            inner: seq,
            remaining,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let remaining = self.enter()?;
        self.inner.visit_map(LimitedAccess {
            inner: map,
            remaining,
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let remaining = self.enter()?;
        self.inner.visit_enum(LimitedAccess {
            inner: data,
            remaining,
        })
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for LimitedSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Limited {
            inner: d,
            remaining: self.remaining,
        })
    }
}

impl<'a, A> LimitedAccess<'a, A> {
    fn seed<S>(&self, inner: S) -> LimitedSeed<'a, S> {
        LimitedSeed {
            inner,
            remaining: self.remaining,
        }
    }

    fn visitor<V>(&self, inner: V) -> LimitedVisitor<'a, V> {
        LimitedVisitor {
            inner,
            remaining: self.remaining,
        }
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for LimitedAccess<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for LimitedAccess<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'a, 'de, A: EnumAccess<'de>> EnumAccess<'de> for LimitedAccess<'a, A> {
    type Error = A::Error;
    type Variant = LimitedAccess<'a, A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let remaining = self.remaining;
        let (value, variant) = self.inner.variant_seed(LimitedSeed {
            inner: seed,
            remaining,
        })?;
        Ok((
            value,
            LimitedAccess {
                inner: variant,
                remaining,
            },
        ))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for LimitedAccess<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.seed(seed);
        self.inner.newtype_variant_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = self.visitor(visitor);
        self.inner.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = self.visitor(visitor);
        self.inner.struct_variant(fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Node {
        children: Vec<Node>,
    }

    fn nested_postcard(depth: usize) -> Vec<u8> {
        // Each level is a `Vec` of length 1; the innermost has length 0.
        let mut bytes = vec![1u8; depth];
        bytes.push(0);
        bytes
    }

    fn decode(bytes: &[u8], max: usize) -> Result<Node, bool> {
        let hit = Cell::new(false);
        let mut de = postcard::Deserializer::from_bytes(bytes);
        Node::deserialize(Limited::new(&mut de, Budget::new(max, &hit))).map_err(|_| hit.get())
    }

    #[test]
    fn shallow_values_decode_unchanged() {
        let node = decode(&nested_postcard(3), 16).expect("decodes");
        assert_eq!(node.children[0].children[0].children.len(), 1);
    }

    #[test]
    fn deep_values_are_an_error_not_a_stack_overflow() {
        let hit = decode(&nested_postcard(1_000_000), 64).expect_err("too deep");
        assert!(hit, "the bound was noted");
        // Exactly at the bound still decodes: a `Node` level is a struct and a `Vec` (2 levels).
        assert!(decode(&nested_postcard(31), 64).is_ok());
        assert_eq!(decode(&nested_postcard(32), 64), Err(true));
    }
}
