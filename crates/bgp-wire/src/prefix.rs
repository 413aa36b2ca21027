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
    addr: u32,
    len: u8,
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
fn mask4(len: u8) -> u32 {
    // Branch-free: a 64-bit shift by 32 - len leaves the top `len` bits of the low word.
    (u64::MAX << (32 - u32::from(len.min(32)))) as u32
}

fn mask6(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    }
}

/// An IPv6 prefix with its host bits cleared.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv6Prefix {
    addr: [u8; 16],
    len: u8,
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

/// An ADD-PATH path identifier (RFC 7911 §3).
pub type PathId = u32;

/// One entry of an NLRI field: a prefix and, when ADD-PATH is in use, its path identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Nlri {
    /// Path identifier (present only where ADD-PATH was negotiated for this direction).
    pub path_id: Option<PathId>,
    /// The prefix.
    pub prefix: Prefix,
}

impl Nlri {
    /// An entry without path identifier.
    pub fn new(prefix: impl Into<Prefix>) -> Self {
        Nlri {
            path_id: None,
            prefix: prefix.into(),
        }
    }
}

impl fmt::Display for Nlri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path_id {
            Some(id) => write!(f, "{} path-id {id}", self.prefix),
            None => write!(f, "{}", self.prefix),
        }
    }
}

/// Why an NLRI field failed the syntax check of RFC 7606 §5.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NlriError {
    /// A prefix length exceeds 32 (IPv4) or 128 (IPv6).
    #[error("prefix length {len} at offset {offset} exceeds {max} (RFC 7606 §5.3)")]
    LengthTooLong {
        /// The length found.
        len: u8,
        /// The maximum for the family.
        max: u8,
        /// Byte offset inside the field.
        offset: usize,
    },
    /// The last prefix runs past the end of the field.
    #[error("prefix at offset {offset} runs past the end of the field (RFC 7606 §5.3)")]
    Truncated {
        /// Byte offset inside the field.
        offset: usize,
    },
}

/// Checks the syntax of an NLRI (or withdrawn routes) field and counts its entries.
pub fn validate_nlri(data: &[u8], kind: PrefixKind, add_path: bool) -> Result<usize, NlriError> {
    // Hot path: one pass whose only serial dependency is the position; a bad length is
    // only noted, and the precise error is found again on the cold path.
    let max = kind.max_len();
    let id_len = if add_path { 4 } else { 0 };
    let (mut pos, mut count, mut too_long) = (0usize, 0usize, false);
    while pos + id_len < data.len() {
        let len = data[pos + id_len];
        too_long |= len > max;
        pos += id_len + 1 + ((usize::from(len) + 7) >> 3);
        count += 1;
    }
    if too_long || pos != data.len() {
        return Err(nlri_error(data, max, id_len));
    }
    Ok(count)
}

#[cold]
fn nlri_error(data: &[u8], max: u8, id_len: usize) -> NlriError {
    let mut pos = 0;
    while pos < data.len() {
        let len_at = pos + id_len;
        let Some(&len) = data.get(len_at) else {
            return NlriError::Truncated { offset: pos };
        };
        if len > max {
            return NlriError::LengthTooLong {
                len,
                max,
                offset: pos,
            };
        }
        let end = len_at + 1 + usize::from(len).div_ceil(8);
        if end > data.len() {
            return NlriError::Truncated { offset: pos };
        }
        pos = end;
    }
    // Unreachable for data the hot path refused; report the end as truncated.
    NlriError::Truncated { offset: pos }
}

/// Iterator over an NLRI field that was validated with [`validate_nlri`].
///
/// It never allocates. On bytes that were not validated it stops at the first malformed
/// entry rather than panicking.
#[derive(Debug, Clone)]
pub struct NlriIter<'a> {
    data: &'a [u8],
    kind: PrefixKind,
    add_path: bool,
}

impl<'a> NlriIter<'a> {
    /// Iterates `data` as prefixes of `kind`, with path identifiers if `add_path`.
    #[inline]
    pub fn new(data: &'a [u8], kind: PrefixKind, add_path: bool) -> Self {
        NlriIter {
            data,
            kind,
            add_path,
        }
    }

    /// An iterator that yields nothing.
    #[inline]
    pub fn empty() -> Self {
        NlriIter {
            data: &[],
            kind: PrefixKind::V4,
            add_path: false,
        }
    }

    /// The remaining raw bytes.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// Whether there are no more entries.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl Iterator for NlriIter<'_> {
    type Item = Nlri;

    #[inline]
    fn next(&mut self) -> Option<Nlri> {
        let mut d = self.data;
        if d.is_empty() {
            return None;
        }
        let path_id = if self.add_path {
            let (id, rest) = d.split_first_chunk::<4>()?;
            d = rest;
            Some(u32::from_be_bytes(*id))
        } else {
            None
        };
        let (&len, rest) = d.split_first()?;
        let n = usize::from(len).div_ceil(8);
        let (bytes, rest) = match rest.split_at_checked(n) {
            Some(x) => x,
            None => {
                self.data = &[];
                return None;
            }
        };
        let prefix = match self.kind {
            PrefixKind::V4 => {
                if len > 32 {
                    self.data = &[];
                    return None;
                }
                // Read a whole word when the field has room (the usual case inside a
                // message) and mask: cheaper than a variable-length copy.
                let word = match d.get(1..5) {
                    Some(w) => u32::from_be_bytes([w[0], w[1], w[2], w[3]]),
                    None => {
                        let mut a = [0u8; 4];
                        a[..n].copy_from_slice(bytes);
                        u32::from_be_bytes(a)
                    }
                };
                Prefix::V4(Ipv4Prefix {
                    addr: word & mask4(len),
                    len,
                })
            }
            PrefixKind::V6 => {
                if len > 128 {
                    self.data = &[];
                    return None;
                }
                let word = match d.get(1..17) {
                    Some(w) => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(w);
                        u128::from_be_bytes(a)
                    }
                    None => {
                        let mut a = [0u8; 16];
                        a[..n].copy_from_slice(bytes);
                        u128::from_be_bytes(a)
                    }
                };
                let bits = word & mask6(len);
                Prefix::V6(Ipv6Prefix {
                    addr: bits.to_be_bytes(),
                    len,
                })
            }
        };
        self.data = rest;
        Some(Nlri { path_id, prefix })
    }
}

/// Number of bytes `nlri` takes on the wire.
#[inline]
pub fn nlri_wire_len(nlri: &Nlri, add_path: bool) -> usize {
    (if add_path { 4 } else { 0 }) + 1 + usize::from(nlri.prefix.prefix_len()).div_ceil(8)
}

/// Appends the wire form of `nlri` (RFC 4271 §4.3, RFC 7911 §3).
///
/// With `add_path` a missing path identifier is written as 0; without it, any path
/// identifier is left out.
#[inline]
pub fn encode_nlri(nlri: &Nlri, add_path: bool, out: &mut Vec<u8>) {
    if add_path {
        out.extend_from_slice(&nlri.path_id.unwrap_or(0).to_be_bytes());
    }
    encode_prefix(nlri.prefix, out);
}

/// Appends a prefix in NLRI form: length octet and the significant address octets.
#[inline]
pub fn encode_prefix(prefix: Prefix, out: &mut Vec<u8>) {
    let len = prefix.prefix_len();
    let n = usize::from(len).div_ceil(8);
    // Fixed-size appends then a truncate: one small store instead of a memmove call for
    // a variable number of octets (the hot path of UPDATE packing).
    match prefix {
        Prefix::V4(p) => {
            let [a, b, c, d] = p.addr.to_be_bytes();
            out.extend_from_slice(&[len, a, b, c, d]);
            out.truncate(out.len() - (4 - n));
        }
        Prefix::V6(p) => {
            out.push(len);
            out.extend_from_slice(&p.addr);
            out.truncate(out.len() - (16 - n));
        }
    }
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

    #[test]
    fn nlri_round_trips_with_and_without_path_ids() {
        for add_path in [false, true] {
            let items: Vec<Nlri> = ["0.0.0.0/0", "10.0.0.0/8", "10.1.128.0/17", "192.0.2.1/32"]
                .iter()
                .enumerate()
                .map(|(i, s)| Nlri {
                    path_id: add_path.then_some(i as u32 + 1),
                    prefix: s.parse().unwrap(),
                })
                .collect();
            let mut buf = Vec::new();
            for n in &items {
                encode_nlri(n, add_path, &mut buf);
            }
            assert_eq!(validate_nlri(&buf, PrefixKind::V4, add_path), Ok(4));
            let back: Vec<Nlri> = NlriIter::new(&buf, PrefixKind::V4, add_path).collect();
            assert_eq!(back, items);
        }
    }

    #[test]
    fn syntax_errors_of_rfc7606_section_5_3_are_found() {
        assert_eq!(
            validate_nlri(&[33, 1, 2, 3, 4, 5], PrefixKind::V4, false),
            Err(NlriError::LengthTooLong {
                len: 33,
                max: 32,
                offset: 0
            })
        );
        assert_eq!(
            validate_nlri(&[24, 10, 0], PrefixKind::V4, false),
            Err(NlriError::Truncated { offset: 0 })
        );
        assert_eq!(
            validate_nlri(&[0, 0, 0], PrefixKind::V4, true),
            Err(NlriError::Truncated { offset: 0 })
        );
        assert_eq!(
            validate_nlri(&[129], PrefixKind::V6, false),
            Err(NlriError::LengthTooLong {
                len: 129,
                max: 128,
                offset: 0
            })
        );
    }

    #[test]
    fn iterator_stops_instead_of_panicking_on_unvalidated_bytes() {
        let v: Vec<_> = NlriIter::new(&[8, 10, 200], PrefixKind::V4, false).collect();
        assert_eq!(v.len(), 1);
        let v: Vec<_> = NlriIter::new(&[1, 2, 3], PrefixKind::V4, true).collect();
        assert!(v.is_empty());
    }
}
