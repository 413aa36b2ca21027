//! Settings written either as one scalar (`bfd: true`, `remote-as: internal`) or as a map
//! of keys (`bfd: { transmit-interval: 100 }`).
//!
//! serde's `untagged` enums report any mistake in such a setting as "data did not match
//! any variant", at the line of the enclosing map. These deserializers look at what was
//! written first: a map goes to its struct (so an unknown or mistyped key is named, at its
//! own line), a scalar to its own parser (so a wrong word names the words allowed).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Unexpected, Visitor};

/// A scalar as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scalar<'a> {
    /// `true` / `false`.
    Bool(bool),
    /// A non-negative integer.
    Int(u64),
    /// Any other text.
    Str(&'a str),
}

/// What a scalar makes: `None` when this kind of scalar is not allowed at all (the error
/// then says what is expected), `Some(Err(problem))` when its value is wrong.
pub(super) type ScalarFn<T> = fn(Scalar<'_>) -> Option<Result<T, String>>;

/// Deserializes a setting that is either a scalar (`scalar`) or a map (`M`, then `map`;
/// no map is allowed when `map` is `None`). `expecting` completes "invalid type: ...,
/// expected ...".
pub(super) fn scalar_or_map<'de, D, T, M>(
    d: D,
    expecting: &'static str,
    scalar: ScalarFn<T>,
    map: Option<fn(M) -> T>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    M: Deserialize<'de>,
{
    d.deserialize_any(Either {
        expecting,
        scalar,
        map,
        _m: PhantomData,
    })
}

struct Either<'de, T, M> {
    expecting: &'static str,
    scalar: ScalarFn<T>,
    map: Option<fn(M) -> T>,
    _m: PhantomData<&'de ()>,
}

impl<'de, T, M: Deserialize<'de>> Either<'de, T, M> {
    fn take<E: de::Error>(self, s: Scalar<'_>, unexpected: Unexpected<'_>) -> Result<T, E> {
        match (self.scalar)(s) {
            Some(Ok(t)) => Ok(t),
            Some(Err(problem)) => Err(E::custom(problem)),
            None => Err(E::invalid_type(unexpected, &self)),
        }
    }
}

impl<'de, T, M: Deserialize<'de>> Visitor<'de> for Either<'de, T, M> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        self.take(Scalar::Bool(v), Unexpected::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.take(Scalar::Int(v), Unexpected::Unsigned(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Err(E::invalid_type(Unexpected::Signed(v), &self)),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        self.take(Scalar::Str(v), Unexpected::Str(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<T, A::Error> {
        match self.map {
            Some(map) => M::deserialize(de::value::MapAccessDeserializer::new(a)).map(map),
            None => Err(de::Error::invalid_type(Unexpected::Map, &self)),
        }
    }
}

/// Deserializes `Self` with [`scalar_or_map`] (a scalar only, without the map arguments);
/// `Serialize` stays serde's untagged form.
macro_rules! scalar_or_map_de {
    ($t:ty, $map:ty, $expecting:expr, $scalar:expr, $from_map:expr) => {
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::config::scalar_or_map::scalar_or_map::<D, $t, $map>(
                    d,
                    $expecting,
                    $scalar,
                    Some($from_map),
                )
            }
        }
    };
    ($t:ty, $expecting:expr, $scalar:expr) => {
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::config::scalar_or_map::scalar_or_map::<D, $t, serde::de::IgnoredAny>(
                    d, $expecting, $scalar, None,
                )
            }
        }
    };
}
pub(super) use scalar_or_map_de;
