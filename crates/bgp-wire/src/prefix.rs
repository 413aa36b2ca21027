//! IP prefixes and the NLRI encoding of RFC 4271 §4.3 (with RFC 7911 path identifiers).
//!
//! Iterating NLRI never allocates: [`NlriIter`] walks the borrowed bytes and yields small
//! `Copy` values. The bytes are validated once, when the UPDATE is decoded.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::family::PrefixKind;

/// An IPv4 prefix with its host bits cleared.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Prefix {
    pub(crate) addr: u32,
    pub(crate) len: u8,
}

impl Ipv4Prefix {
    /// The default route, `0.0.0.0/0`.
    pub const DEFAULT: Ipv4Prefix = Ipv4Prefix { addr: 0, len: 0 };

    /// Builds a prefix, clearing host bits; `None` if `len > 32`.
    #[inline]
    pub fn new(addr: Ipv4Addr, len: u8) -> Option<Self> {
        (len <= 32).then(|| Ipv4Prefix {
            addr: u32::from(addr) & mask4(len),
            len,
        })
    }

    /// The network address.
    #[inline]
    pub fn addr(self) -> Ipv4Addr {
        Ipv4Addr::from(self.addr)
    }

    /// The network address as a host-order integer.
    #[inline]
    pub fn addr_bits(self) -> u32 {
        self.addr
    }

    /// The prefix length.
    #[inline]
    pub fn prefix_len(self) -> u8 {
        self.len
    }

    /// Whether this is the default route `0.0.0.0/0`.
    #[inline]
    pub fn is_default(self) -> bool {
        self.len == 0
    }

    /// Whether `other` lies inside this prefix (or equals it).
    #[inline]
    pub fn contains(self, other: Ipv4Prefix) -> bool {
        other.len >= self.len && other.addr & mask4(self.len) == self.addr
    }

    /// Whether the address lies inside this prefix.
    #[inline]
    pub fn contains_addr(self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & mask4(self.len) == self.addr
    }
}

#[inline]
pub(crate) fn mask4(len: u8) -> u32 {
    // Branch-free: a 64-bit shift by 32 - len leaves the top `len` bits of the low word.
    (u64::MAX << (32 - u32::from(len.min(32)))) as u32
}

pub(crate) fn mask6(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    }
}

/// An IPv6 prefix with its host bits cleared.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv6Prefix {
    pub(crate) addr: [u8; 16],
    pub(crate) len: u8,
}

impl Ipv6Prefix {
    /// The default route, `::/0`.
    pub const DEFAULT: Ipv6Prefix = Ipv6Prefix {
        addr: [0; 16],
        len: 0,
    };

    /// Builds a prefix, clearing host bits; `None` if `len > 128`.
    #[inline]
    pub fn new(addr: Ipv6Addr, len: u8) -> Option<Self> {
        (len <= 128).then(|| Ipv6Prefix {
            addr: (u128::from(addr) & mask6(len)).to_be_bytes(),
            len,
        })
    }

    /// The network address.
    #[inline]
    pub fn addr(self) -> Ipv6Addr {
        Ipv6Addr::from(self.addr)
    }

    /// The prefix length.
    #[inline]
    pub fn prefix_len(self) -> u8 {
        self.len
    }

    /// Whether this is the default route `::/0`.
    #[inline]
    pub fn is_default(self) -> bool {
        self.len == 0
    }

    /// Whether `other` lies inside this prefix (or equals it).
    #[inline]
    pub fn contains(self, other: Ipv6Prefix) -> bool {
        other.len >= self.len
            && u128::from_be_bytes(other.addr) & mask6(self.len) == u128::from_be_bytes(self.addr)
    }

    /// Whether the address lies inside this prefix.
    #[inline]
    pub fn contains_addr(self, addr: Ipv6Addr) -> bool {
        u128::from(addr) & mask6(self.len) == u128::from_be_bytes(self.addr)
    }
}

/// An IPv4 or IPv6 prefix.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prefix {
    /// IPv4 prefix.
    V4(Ipv4Prefix),
    /// IPv6 prefix.
    V6(Ipv6Prefix),
}

impl Prefix {
    /// Builds a prefix from any address; `None` if the length is too long.
    #[inline]
    pub fn new(addr: IpAddr, len: u8) -> Option<Self> {
        match addr {
            IpAddr::V4(a) => Ipv4Prefix::new(a, len).map(Prefix::V4),
            IpAddr::V6(a) => Ipv6Prefix::new(a, len).map(Prefix::V6),
        }
    }

    /// The network address.
    #[inline]
    pub fn addr(self) -> IpAddr {
        match self {
            Prefix::V4(p) => IpAddr::V4(p.addr()),
            Prefix::V6(p) => IpAddr::V6(p.addr()),
        }
    }

    /// The prefix length.
    #[inline]
    pub fn prefix_len(self) -> u8 {
        match self {
            Prefix::V4(p) => p.prefix_len(),
            Prefix::V6(p) => p.prefix_len(),
        }
    }

    /// Whether this is IPv4 or IPv6.
    #[inline]
    pub fn kind(self) -> PrefixKind {
        match self {
            Prefix::V4(_) => PrefixKind::V4,
            Prefix::V6(_) => PrefixKind::V6,
        }
    }

    /// Whether `other` is inside this prefix (same family, equal or longer).
    #[inline]
    pub fn contains(self, other: Prefix) -> bool {
        match (self, other) {
            (Prefix::V4(a), Prefix::V4(b)) => a.contains(b),
            (Prefix::V6(a), Prefix::V6(b)) => a.contains(b),
            _ => false,
        }
    }

    /// Whether the address is inside this prefix.
    #[inline]
    pub fn contains_addr(self, addr: IpAddr) -> bool {
        match (self, addr) {
            (Prefix::V4(p), IpAddr::V4(a)) => p.contains_addr(a),
            (Prefix::V6(p), IpAddr::V6(a)) => p.contains_addr(a),
            _ => false,
        }
    }
}

impl From<Ipv4Prefix> for Prefix {
    fn from(p: Ipv4Prefix) -> Self {
        Prefix::V4(p)
    }
}

impl From<Ipv6Prefix> for Prefix {
    fn from(p: Ipv6Prefix) -> Self {
        Prefix::V6(p)
    }
}

impl fmt::Display for Ipv4Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.len)
    }
}

impl fmt::Debug for Ipv4Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Ipv6Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.len)
    }
}

impl fmt::Debug for Ipv6Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prefix::V4(p) => p.fmt(f),
            Prefix::V6(p) => p.fmt(f),
        }
    }
}

impl fmt::Debug for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Error parsing a prefix from text such as `10.0.0.0/8`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid prefix {input:?}: expected ADDRESS/LENGTH such as 10.1.0.0/24 or fd00::/64")]
pub struct PrefixParseError {
    input: String,
}

impl FromStr for Prefix {
    type Err = PrefixParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PrefixParseError {
            input: s.to_string(),
        };
        let (a, l) = s.split_once('/').ok_or_else(err)?;
        let addr: IpAddr = a.parse().map_err(|_| err())?;
        let len: u8 = l.parse().map_err(|_| err())?;
        Prefix::new(addr, len).ok_or_else(err)
    }
}

impl FromStr for Ipv4Prefix {
    type Err = PrefixParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<Prefix>()? {
            Prefix::V4(p) => Ok(p),
            Prefix::V6(_) => Err(PrefixParseError {
                input: s.to_string(),
            }),
        }
    }
}

impl FromStr for Ipv6Prefix {
    type Err = PrefixParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<Prefix>()? {
            Prefix::V6(p) => Ok(p),
            Prefix::V4(_) => Err(PrefixParseError {
                input: s.to_string(),
            }),
        }
    }
}

#[cfg(feature = "serde")]
mod serde_impls {
    use super::*;

    macro_rules! string_serde {
        ($t:ty) => {
            impl serde::Serialize for $t {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.collect_str(self)
                }
            }
            impl<'de> serde::Deserialize<'de> for $t {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                    s.parse().map_err(serde::de::Error::custom)
                }
            }
        };
    }
    string_serde!(Prefix);
    string_serde!(Ipv4Prefix);
    string_serde!(Ipv6Prefix);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_bits_are_cleared_and_display_is_canonical() {
        let p: Prefix = "10.1.2.3/16".parse().unwrap();
        assert_eq!(p.to_string(), "10.1.0.0/16");
        let p: Prefix = "fd00::1/64".parse().unwrap();
        assert_eq!(p.to_string(), "fd00::/64");
        assert!("10.0.0.0/33".parse::<Prefix>().is_err());
        assert!("nonsense".parse::<Prefix>().is_err());
    }
}
