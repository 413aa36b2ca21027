//! Compiled prefix lists and community patterns, with the parsers of their text forms.

use std::net::Ipv4Addr;

use bgp_wire::{Community, ExtendedCommunity, LargeCommunity, Prefix};
use hashbrown::HashMap;

use super::error::ErrorKind;

/// Above this many entries a prefix list is looked up through an index by prefix.
const INDEX_THRESHOLD: usize = 16;

/// One compiled prefix-list entry: prefixes inside `prefix` with a length in `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PrefixEntry {
    pub(crate) prefix: Prefix,
    pub(crate) min: u8,
    pub(crate) max: u8,
    pub(crate) permit: bool,
}

impl PrefixEntry {
    fn matches(&self, p: Prefix) -> bool {
        let len = p.prefix_len();
        self.min <= len && len <= self.max && self.prefix.contains(p)
    }
}

/// A compiled prefix list: the first matching entry decides; no matching entry denies.
#[derive(Debug, Clone)]
pub struct PrefixList {
    entries: Vec<PrefixEntry>,
    /// For long lists: entry indices (ascending) by entry prefix.
    index: Option<HashMap<Prefix, Vec<u32>>>,
    /// Bit `l` set: some entry has an IPv4 prefix of length `l`.
    v4_lengths: u64,
    /// Bit `l` set: some entry has an IPv6 prefix of length `l`.
    v6_lengths: [u64; 3],
}

impl PrefixList {
    pub(crate) fn new(entries: Vec<PrefixEntry>) -> Self {
        let mut v4_lengths = 0u64;
        let mut v6_lengths = [0u64; 3];
        for e in &entries {
            let l = usize::from(e.prefix.prefix_len());
            match e.prefix {
                Prefix::V4(_) => v4_lengths |= 1 << l,
                Prefix::V6(_) => v6_lengths[l / 64] |= 1 << (l % 64),
            }
        }
        let index = (entries.len() > INDEX_THRESHOLD).then(|| {
            let mut m: HashMap<Prefix, Vec<u32>> = HashMap::new();
            for (i, e) in entries.iter().enumerate() {
                m.entry(e.prefix).or_default().push(i as u32);
            }
            m
        });
        PrefixList {
            entries,
            index,
            v4_lengths,
            v6_lengths,
        }
    }

    /// Whether the list permits `prefix` (its first matching entry is a permit).
    pub fn permits(&self, prefix: Prefix) -> bool {
        let Some(index) = &self.index else {
            return self
                .entries
                .iter()
                .find(|e| e.matches(prefix))
                .is_some_and(|e| e.permit);
        };
        // Only entries whose prefix covers `prefix` can match: look each covering length up
        // and keep the earliest entry that matches.
        let mut best: Option<u32> = None;
        for l in 0..=prefix.prefix_len() {
            let used = match prefix {
                Prefix::V4(_) => self.v4_lengths & (1 << l) != 0,
                Prefix::V6(_) => {
                    let l = usize::from(l);
                    self.v6_lengths[l / 64] & (1 << (l % 64)) != 0
                }
            };
            if !used {
                continue;
            }
            let Some(cover) = Prefix::new(prefix.addr(), l) else {
                continue;
            };
            let Some(ids) = index.get(&cover) else {
                continue;
            };
            let first = ids.iter().copied().find(|&i| {
                self.entries
                    .get(i as usize)
                    .is_some_and(|e| e.matches(prefix))
            });
            if let Some(i) = first {
                best = Some(best.map_or(i, |b| b.min(i)));
            }
        }
        best.and_then(|i| self.entries.get(i as usize))
            .is_some_and(|e| e.permit)
    }
}

/// A standard community pattern: each half exact or `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CommunityPattern {
    asn: Option<u16>,
    value: Option<u16>,
}

impl CommunityPattern {
    fn exact(c: Community) -> Self {
        CommunityPattern {
            asn: Some((c.0 >> 16) as u16),
            value: Some(c.0 as u16),
        }
    }

    pub(crate) fn matches(&self, c: &Community) -> bool {
        self.asn.is_none_or(|a| a == (c.0 >> 16) as u16)
            && self.value.is_none_or(|v| v == c.0 as u16)
    }

    /// The community, if the pattern has no wildcard.
    pub(crate) fn as_exact(&self) -> Option<Community> {
        Some(Community::new(self.asn?, self.value?))
    }
}

const COMMUNITY_FORMS: &str = "ASN:VALUE (16-bit numbers, either may be *) or a well-known \
    name (no-export, no-advertise, no-export-subconfed, no-peer, blackhole, graceful-shutdown, \
    llgr-stale, no-llgr)";

/// Parses `ASN:VALUE` (either half `*`) or a well-known name.
pub(crate) fn parse_community(s: &str) -> Result<CommunityPattern, ErrorKind> {
    let err = || ErrorKind::InvalidCommunity {
        what: "community",
        input: s.to_string(),
        expected: COMMUNITY_FORMS,
    };
    // Well-known names; numbers are parsed below (strictly: no sign, no spaces).
    if !s.contains(':') {
        return s
            .parse::<Community>()
            .map(CommunityPattern::exact)
            .map_err(|_| err());
    }
    let (a, v) = s.split_once(':').ok_or_else(err)?;
    Ok(CommunityPattern {
        asn: part(a).ok_or_else(err)?,
        value: part(v).ok_or_else(err)?,
    })
}

/// `*` → `Some(None)`, a number → `Some(Some(n))`, anything else → `None`.
fn part<T: std::str::FromStr>(s: &str) -> Option<Option<T>> {
    if s == "*" {
        Some(None)
    } else {
        // Only plain decimal digits: `+1` and ` 1` are not accepted.
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok().map(Some)
    }
}

/// A large community pattern: each part exact or `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LargePattern {
    global: Option<u32>,
    local1: Option<u32>,
    local2: Option<u32>,
}

impl LargePattern {
    pub(crate) fn matches(&self, c: &LargeCommunity) -> bool {
        self.global.is_none_or(|g| g == c.global)
            && self.local1.is_none_or(|l| l == c.local1)
            && self.local2.is_none_or(|l| l == c.local2)
    }

    /// The community, if the pattern has no wildcard.
    pub(crate) fn as_exact(&self) -> Option<LargeCommunity> {
        Some(LargeCommunity {
            global: self.global?,
            local1: self.local1?,
            local2: self.local2?,
        })
    }
}

/// Parses `GLOBAL:LOCAL1:LOCAL2` (32-bit numbers, each may be `*`).
pub(crate) fn parse_large(s: &str) -> Result<LargePattern, ErrorKind> {
    let err = || ErrorKind::InvalidCommunity {
        what: "large community",
        input: s.to_string(),
        expected: "GLOBAL:LOCAL1:LOCAL2 (32-bit numbers, each may be *)",
    };
    let mut it = s.split(':');
    let (Some(g), Some(l1), Some(l2), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(err());
    };
    Ok(LargePattern {
        global: part(g).ok_or_else(err)?,
        local1: part(l1).ok_or_else(err)?,
        local2: part(l2).ok_or_else(err)?,
    })
}

/// The administrator field of a route-target or site-of-origin pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admin {
    Any,
    /// An AS number; matches the 2-octet (type 0x00) and 4-octet (type 0x02) forms.
    Asn(u32),
    Ip(Ipv4Addr),
}

/// An extended community pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExtPattern {
    /// The 8 octets.
    Raw([u8; 8]),
    /// Route target (subtype 0x02) or site of origin (0x03) of the transitive two-octet AS,
    /// IPv4 address or four-octet AS types.
    Typed {
        subtype: u8,
        admin: Admin,
        value: Option<u32>,
    },
}

impl ExtPattern {
    pub(crate) fn matches(&self, c: &ExtendedCommunity) -> bool {
        let (subtype, admin, value) = match *self {
            ExtPattern::Raw(b) => return c.0 == b,
            ExtPattern::Typed {
                subtype,
                admin,
                value,
            } => (subtype, admin, value),
        };
        let b = &c.0;
        if b[1] != subtype {
            return false;
        }
        let (got_admin, got_value) = match b[0] {
            0x00 => (
                Admin::Asn(u32::from(u16::from_be_bytes([b[2], b[3]]))),
                u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            ),
            0x01 => (
                Admin::Ip(Ipv4Addr::new(b[2], b[3], b[4], b[5])),
                u32::from(u16::from_be_bytes([b[6], b[7]])),
            ),
            0x02 => (
                Admin::Asn(u32::from_be_bytes([b[2], b[3], b[4], b[5]])),
                u32::from(u16::from_be_bytes([b[6], b[7]])),
            ),
            _ => return false,
        };
        (admin == Admin::Any || admin == got_admin) && value.is_none_or(|v| v == got_value)
    }

    /// The community, if the pattern has no wildcard.
    pub(crate) fn as_exact(&self) -> Option<ExtendedCommunity> {
        let (subtype, admin, value) = match *self {
            ExtPattern::Raw(b) => return Some(ExtendedCommunity(b)),
            ExtPattern::Typed {
                subtype,
                admin,
                value,
            } => (subtype, admin, value?),
        };
        let mut b = [0u8; 8];
        b[1] = subtype;
        match admin {
            Admin::Any => return None,
            Admin::Asn(a) => match u16::try_from(a) {
                Ok(a2) => {
                    b[2..4].copy_from_slice(&a2.to_be_bytes());
                    b[4..8].copy_from_slice(&value.to_be_bytes());
                }
                Err(_) => {
                    b[0] = 0x02;
                    b[2..6].copy_from_slice(&a.to_be_bytes());
                    b[6..8].copy_from_slice(&u16::try_from(value).ok()?.to_be_bytes());
                }
            },
            Admin::Ip(ip) => {
                b[0] = 0x01;
                b[2..6].copy_from_slice(&ip.octets());
                b[6..8].copy_from_slice(&u16::try_from(value).ok()?.to_be_bytes());
            }
        }
        Some(ExtendedCommunity(b))
    }
}

/// Parses `rt:ASN:VALUE`, `rt:IP:VALUE`, `soo:…` (administrator or value may be `*`) or
/// `0x` followed by 16 hex digits.
pub(crate) fn parse_ext(s: &str) -> Result<ExtPattern, ErrorKind> {
    let err = || ErrorKind::InvalidCommunity {
        what: "extended community",
        input: s.to_string(),
        expected: "rt:ASN:VALUE, rt:IPV4:VALUE, soo:ASN:VALUE, soo:IPV4:VALUE (VALUE 16-bit \
            after an IPv4 address or a 4-octet ASN; either may be *) or 0x and 16 hex digits",
    };
    if let Some(hex) = s.strip_prefix("0x") {
        if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err());
        }
        let mut b = [0u8; 8];
        for (i, byte) in b.iter_mut().enumerate() {
            *byte = hex
                .get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(err)?;
        }
        return Ok(ExtPattern::Raw(b));
    }
    let (kind, rest) = s.split_once(':').ok_or_else(err)?;
    let subtype = match kind {
        "rt" => 0x02,
        "soo" => 0x03,
        _ => return Err(err()),
    };
    let (admin, value) = rest.rsplit_once(':').ok_or_else(err)?;
    let admin = if admin == "*" {
        Admin::Any
    } else if let Ok(ip) = admin.parse::<Ipv4Addr>() {
        Admin::Ip(ip)
    } else {
        Admin::Asn(part::<u32>(admin).flatten().ok_or_else(err)?)
    };
    let value: Option<u32> = part(value).ok_or_else(err)?;
    // The value field is 16 bits after an IPv4 address or a 4-octet AS number.
    let narrow = matches!(admin, Admin::Ip(_)) || matches!(admin, Admin::Asn(a) if a > 0xffff);
    if narrow && value.is_some_and(|v| v > 0xffff) {
        return Err(err());
    }
    Ok(ExtPattern::Typed {
        subtype,
        admin,
        value,
    })
}
