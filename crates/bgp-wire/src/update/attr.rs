//! Path attribute codes, flags and the small value types (RFC 4271 §4.3, §5).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Path attribute type codes (IANA "BGP Path Attributes").
pub mod code {
    /// ORIGIN (RFC 4271).
    pub const ORIGIN: u8 = 1;
    /// AS_PATH (RFC 4271).
    pub const AS_PATH: u8 = 2;
    /// NEXT_HOP (RFC 4271).
    pub const NEXT_HOP: u8 = 3;
    /// MULTI_EXIT_DISC (RFC 4271).
    pub const MULTI_EXIT_DISC: u8 = 4;
    /// LOCAL_PREF (RFC 4271).
    pub const LOCAL_PREF: u8 = 5;
    /// ATOMIC_AGGREGATE (RFC 4271).
    pub const ATOMIC_AGGREGATE: u8 = 6;
    /// AGGREGATOR (RFC 4271).
    pub const AGGREGATOR: u8 = 7;
    /// COMMUNITIES (RFC 1997).
    pub const COMMUNITIES: u8 = 8;
    /// ORIGINATOR_ID (RFC 4456).
    pub const ORIGINATOR_ID: u8 = 9;
    /// CLUSTER_LIST (RFC 4456).
    pub const CLUSTER_LIST: u8 = 10;
    /// MP_REACH_NLRI (RFC 4760).
    pub const MP_REACH_NLRI: u8 = 14;
    /// MP_UNREACH_NLRI (RFC 4760).
    pub const MP_UNREACH_NLRI: u8 = 15;
    /// EXTENDED_COMMUNITIES (RFC 4360).
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    /// AS4_PATH (RFC 6793).
    pub const AS4_PATH: u8 = 17;
    /// AS4_AGGREGATOR (RFC 6793).
    pub const AS4_AGGREGATOR: u8 = 18;
    /// IPv6 Address Specific Extended Community (RFC 5701).
    pub const IPV6_EXTENDED_COMMUNITIES: u8 = 25;
    /// Traffic Engineering (RFC 5543).
    pub const TRAFFIC_ENGINEERING: u8 = 24;
    /// ATTR_SET (RFC 6368).
    pub const ATTR_SET: u8 = 128;
    /// LARGE_COMMUNITY (RFC 8092).
    pub const LARGE_COMMUNITIES: u8 = 32;
}

/// Attribute flag bits (RFC 4271 §4.3).
pub mod flags {
    /// Optional (1) or well-known (0).
    pub const OPTIONAL: u8 = 0x80;
    /// Transitive.
    pub const TRANSITIVE: u8 = 0x40;
    /// Partial.
    pub const PARTIAL: u8 = 0x20;
    /// Two-octet attribute length.
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// The Optional and Transitive bits a known attribute must carry, or `None` for codes this
/// codec does not know (RFC 7606 §3.c).
pub const fn expected_flags(type_code: u8) -> Option<u8> {
    use flags::{OPTIONAL as O, TRANSITIVE as T};
    Some(match type_code {
        code::ORIGIN | code::AS_PATH | code::NEXT_HOP | code::LOCAL_PREF => T,
        code::ATOMIC_AGGREGATE => T,
        code::MULTI_EXIT_DISC | code::ORIGINATOR_ID | code::CLUSTER_LIST => O,
        code::MP_REACH_NLRI | code::MP_UNREACH_NLRI => O,
        code::AGGREGATOR | code::COMMUNITIES | code::EXTENDED_COMMUNITIES => O | T,
        code::AS4_PATH | code::AS4_AGGREGATOR | code::LARGE_COMMUNITIES => O | T,
        code::IPV6_EXTENDED_COMMUNITIES => O | T,
        code::TRAFFIC_ENGINEERING => O,
        code::ATTR_SET => O | T,
        _ => return None,
    })
}

/// Name of an attribute type, for logs and errors.
pub fn type_name(type_code: u8) -> &'static str {
    match type_code {
        code::ORIGIN => "ORIGIN",
        code::AS_PATH => "AS_PATH",
        code::NEXT_HOP => "NEXT_HOP",
        code::MULTI_EXIT_DISC => "MULTI_EXIT_DISC",
        code::LOCAL_PREF => "LOCAL_PREF",
        code::ATOMIC_AGGREGATE => "ATOMIC_AGGREGATE",
        code::AGGREGATOR => "AGGREGATOR",
        code::COMMUNITIES => "COMMUNITIES",
        code::ORIGINATOR_ID => "ORIGINATOR_ID",
        code::CLUSTER_LIST => "CLUSTER_LIST",
        code::MP_REACH_NLRI => "MP_REACH_NLRI",
        code::MP_UNREACH_NLRI => "MP_UNREACH_NLRI",
        code::EXTENDED_COMMUNITIES => "EXTENDED_COMMUNITIES",
        code::AS4_PATH => "AS4_PATH",
        code::AS4_AGGREGATOR => "AS4_AGGREGATOR",
        code::IPV6_EXTENDED_COMMUNITIES => "IPV6_EXTENDED_COMMUNITIES",
        code::LARGE_COMMUNITIES => "LARGE_COMMUNITY",
        code::TRAFFIC_ENGINEERING => "TRAFFIC_ENGINEERING",
        code::ATTR_SET => "ATTR_SET",
        _ => "unknown attribute",
    }
}

/// ORIGIN values (RFC 4271 §5.1.1), ordered as the decision process prefers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Origin {
    /// IGP (0).
    Igp = 0,
    /// EGP (1).
    Egp = 1,
    /// INCOMPLETE (2).
    Incomplete = 2,
}

impl Origin {
    /// Maps the wire value.
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Origin::Igp),
            1 => Some(Origin::Egp),
            2 => Some(Origin::Incomplete),
            _ => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Igp => "igp",
            Origin::Egp => "egp",
            Origin::Incomplete => "incomplete",
        })
    }
}

/// The AGGREGATOR (or AS4_AGGREGATOR) value (RFC 4271 §5.1.7, RFC 6793 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Aggregator {
    /// AS of the aggregating speaker (AS_TRANS on 2-octet sessions when it does not fit).
    pub asn: u32,
    /// Its BGP identifier / address.
    pub address: Ipv4Addr,
}

/// A standard community (RFC 1997).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    /// NO_EXPORT (RFC 1997).
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    /// NO_ADVERTISE (RFC 1997).
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
    /// NO_EXPORT_SUBCONFED (RFC 1997).
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xFFFF_FF03);
    /// NOPEER (RFC 3765).
    pub const NO_PEER: Community = Community(0xFFFF_FF04);
    /// GRACEFUL_SHUTDOWN (RFC 8326).
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xFFFF_0000);
    /// BLACKHOLE (RFC 7999).
    pub const BLACKHOLE: Community = Community(0xFFFF_029A);
    /// LLGR_STALE (RFC 9494).
    pub const LLGR_STALE: Community = Community(0xFFFF_0006);
    /// NO_LLGR (RFC 9494).
    pub const NO_LLGR: Community = Community(0xFFFF_0007);

    /// Builds `asn:value`.
    pub const fn new(asn: u16, value: u16) -> Self {
        Community(((asn as u32) << 16) | value as u32)
    }

    /// The well-known name, if any.
    pub fn well_known_name(self) -> Option<&'static str> {
        Some(match self {
            Community::NO_EXPORT => "no-export",
            Community::NO_ADVERTISE => "no-advertise",
            Community::NO_EXPORT_SUBCONFED => "no-export-subconfed",
            Community::NO_PEER => "no-peer",
            Community::GRACEFUL_SHUTDOWN => "graceful-shutdown",
            Community::BLACKHOLE => "blackhole",
            Community::LLGR_STALE => "llgr-stale",
            Community::NO_LLGR => "no-llgr",
            _ => return None,
        })
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.well_known_name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}:{}", self.0 >> 16, self.0 & 0xffff),
        }
    }
}

impl fmt::Debug for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Error parsing a community from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid community {0:?}: expected ASN:VALUE (16-bit each), a well-known name, or GLOBAL:LOCAL1:LOCAL2 for a large community")]
pub struct CommunityParseError(pub String);

impl FromStr for Community {
    type Err = CommunityParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || CommunityParseError(s.to_string());
        let known = [
            Community::NO_EXPORT,
            Community::NO_ADVERTISE,
            Community::NO_EXPORT_SUBCONFED,
            Community::NO_PEER,
            Community::GRACEFUL_SHUTDOWN,
            Community::BLACKHOLE,
            Community::LLGR_STALE,
            Community::NO_LLGR,
        ];
        if let Some(c) = known.iter().find(|c| c.well_known_name() == Some(s)) {
            return Ok(*c);
        }
        let (a, v) = s.split_once(':').ok_or_else(err)?;
        Ok(Community::new(
            a.parse().map_err(|_| err())?,
            v.parse().map_err(|_| err())?,
        ))
    }
}

/// An extended community (RFC 4360), kept as its 8 octets.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtendedCommunity(pub [u8; 8]);

impl ExtendedCommunity {
    /// A 2-octet-AS route target (type 0x00, subtype 0x02).
    pub fn route_target(asn: u16, value: u32) -> Self {
        let mut b = [0u8; 8];
        b[1] = 0x02;
        b[2..4].copy_from_slice(&asn.to_be_bytes());
        b[4..8].copy_from_slice(&value.to_be_bytes());
        ExtendedCommunity(b)
    }

    /// Type octet (high), including the IANA-authority and transitive bits.
    pub fn type_high(&self) -> u8 {
        self.0[0]
    }

    /// Subtype octet (low).
    pub fn subtype(&self) -> u8 {
        self.0[1]
    }

    /// Whether the community is transitive across ASes (bit 0x40 clear, RFC 4360 §2).
    pub fn is_transitive(&self) -> bool {
        self.0[0] & 0x40 == 0
    }
}

impl fmt::Display for ExtendedCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        let kind = match b[1] {
            0x02 => "rt",
            0x03 => "soo",
            _ => "",
        };
        match (b[0] & 0x3f, kind) {
            (0x00, k) if !k.is_empty() => write!(
                f,
                "{k}:{}:{}",
                u16::from_be_bytes([b[2], b[3]]),
                u32::from_be_bytes([b[4], b[5], b[6], b[7]])
            ),
            (0x01, k) if !k.is_empty() => write!(
                f,
                "{k}:{}:{}",
                Ipv4Addr::new(b[2], b[3], b[4], b[5]),
                u16::from_be_bytes([b[6], b[7]])
            ),
            (0x02, k) if !k.is_empty() => write!(
                f,
                "{k}:{}:{}",
                u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
                u16::from_be_bytes([b[6], b[7]])
            ),
            _ => {
                f.write_str("0x")?;
                for x in b {
                    write!(f, "{x:02x}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for ExtendedCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A large community (RFC 8092).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    /// Global administrator (an ASN).
    pub global: u32,
    /// First local data part.
    pub local1: u32,
    /// Second local data part.
    pub local2: u32,
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global, self.local1, self.local2)
    }
}

impl fmt::Debug for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for LargeCommunity {
    type Err = CommunityParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || CommunityParseError(s.to_string());
        let mut it = s.split(':').map(|p| p.parse::<u32>().map_err(|_| err()));
        let (Some(g), Some(l1), Some(l2), None) = (it.next(), it.next(), it.next(), it.next())
        else {
            return Err(err());
        };
        Ok(LargeCommunity {
            global: g?,
            local1: l1?,
            local2: l2?,
        })
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
        };
    }
    string_serde!(Community);
    string_serde!(ExtendedCommunity);
    string_serde!(LargeCommunity);

    impl<'de> serde::Deserialize<'de> for Community {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        }
    }

    impl<'de> serde::Deserialize<'de> for LargeCommunity {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        }
    }

    impl<'de> serde::Deserialize<'de> for ExtendedCommunity {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            let hex = s.strip_prefix("0x").ok_or_else(|| {
                serde::de::Error::custom("extended community must be 0x followed by 16 hex digits")
            })?;
            let mut b = [0u8; 8];
            if hex.len() != 16 {
                return Err(serde::de::Error::custom(
                    "extended community needs 16 hex digits",
                ));
            }
            for (i, byte) in b.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                    .map_err(serde::de::Error::custom)?;
            }
            Ok(ExtendedCommunity(b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn communities_print_and_parse_like_frr() {
        assert_eq!(Community::new(65000, 100).to_string(), "65000:100");
        assert_eq!(
            "65000:100".parse::<Community>(),
            Ok(Community::new(65000, 100))
        );
        assert_eq!("no-export".parse::<Community>(), Ok(Community::NO_EXPORT));
        assert!("65536:1".parse::<Community>().is_err());
        let l: LargeCommunity = "4200000001:1:2".parse().unwrap();
        assert_eq!(l.to_string(), "4200000001:1:2");
        assert!("1:2".parse::<LargeCommunity>().is_err());
        assert_eq!(
            ExtendedCommunity::route_target(65000, 7).to_string(),
            "rt:65000:7"
        );
    }

    #[test]
    fn expected_flags_follow_the_attribute_categories() {
        assert_eq!(expected_flags(code::ORIGIN), Some(flags::TRANSITIVE));
        assert_eq!(expected_flags(code::MULTI_EXIT_DISC), Some(flags::OPTIONAL));
        assert_eq!(
            expected_flags(code::LARGE_COMMUNITIES),
            Some(flags::OPTIONAL | flags::TRANSITIVE)
        );
        assert_eq!(expected_flags(99), None);
    }
}
