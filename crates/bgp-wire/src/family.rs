//! Address families (RFC 4760 §3 AFI/SAFI) and compact sets of them.

use std::fmt;

/// Address Family Identifier (IANA registry, RFC 4760 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Afi(pub u16);

impl Afi {
    /// IPv4 (AFI 1).
    pub const IPV4: Afi = Afi(1);
    /// IPv6 (AFI 2).
    pub const IPV6: Afi = Afi(2);
}

/// Subsequent Address Family Identifier (RFC 4760 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Safi(pub u8);

impl Safi {
    /// Unicast forwarding (SAFI 1).
    pub const UNICAST: Safi = Safi(1);
    /// Multicast RPF (SAFI 2).
    pub const MULTICAST: Safi = Safi(2);
}

/// An AFI/SAFI pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Family {
    /// Address family.
    pub afi: Afi,
    /// Subsequent address family.
    pub safi: Safi,
}

impl Family {
    /// IPv4 unicast.
    pub const IPV4_UNICAST: Family = Family::new(Afi::IPV4, Safi::UNICAST);
    /// IPv6 unicast.
    pub const IPV6_UNICAST: Family = Family::new(Afi::IPV6, Safi::UNICAST);
    /// IPv4 multicast.
    pub const IPV4_MULTICAST: Family = Family::new(Afi::IPV4, Safi::MULTICAST);
    /// IPv6 multicast.
    pub const IPV6_MULTICAST: Family = Family::new(Afi::IPV6, Safi::MULTICAST);

    /// Builds a family from its parts.
    pub const fn new(afi: Afi, safi: Safi) -> Self {
        Family { afi, safi }
    }

    /// The prefix encoding of this family, if the codec understands its NLRI
    /// (IPv4/IPv6 unicast and multicast, RFC 4760 §5 / RFC 2545).
    pub fn prefix_kind(self) -> Option<PrefixKind> {
        match (self.afi, self.safi) {
            (Afi::IPV4, Safi::UNICAST | Safi::MULTICAST) => Some(PrefixKind::V4),
            (Afi::IPV6, Safi::UNICAST | Safi::MULTICAST) => Some(PrefixKind::V6),
            _ => None,
        }
    }

    fn bit(self) -> Option<u8> {
        match (self.afi, self.safi) {
            (Afi::IPV4, Safi::UNICAST) => Some(0),
            (Afi::IPV6, Safi::UNICAST) => Some(1),
            (Afi::IPV4, Safi::MULTICAST) => Some(2),
            (Afi::IPV6, Safi::MULTICAST) => Some(3),
            _ => None,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let afi = match self.afi {
            Afi::IPV4 => "ipv4".to_string(),
            Afi::IPV6 => "ipv6".to_string(),
            Afi(n) => format!("afi{n}"),
        };
        let safi = match self.safi {
            Safi::UNICAST => "unicast".to_string(),
            Safi::MULTICAST => "multicast".to_string(),
            Safi(n) => format!("safi{n}"),
        };
        write!(f, "{afi}/{safi}")
    }
}

/// Which address width a family's prefixes have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrefixKind {
    /// 32-bit IPv4 prefixes.
    V4,
    /// 128-bit IPv6 prefixes.
    V6,
}

impl PrefixKind {
    /// Longest valid prefix length for this kind (32 or 128).
    pub const fn max_len(self) -> u8 {
        match self {
            PrefixKind::V4 => 32,
            PrefixKind::V6 => 128,
        }
    }
}

/// A set of the families the codec knows per-family options for (ADD-PATH).
///
/// Stored as a bit set, so a session context stays `Copy` and allocation free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FamilySet(u8);

impl FamilySet {
    /// The empty set.
    pub const EMPTY: FamilySet = FamilySet(0);

    /// Adds a family; families the set cannot represent are ignored and reported as `false`.
    pub fn insert(&mut self, family: Family) -> bool {
        match family.bit() {
            Some(b) => {
                self.0 |= 1 << b;
                true
            }
            None => false,
        }
    }

    /// Returns a copy with `family` added.
    #[must_use]
    pub fn with(mut self, family: Family) -> Self {
        self.insert(family);
        self
    }

    /// Whether the set holds `family`.
    pub fn contains(self, family: Family) -> bool {
        family.bit().is_some_and(|b| self.0 & (1 << b) != 0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}
