//! The NLRI encoding of RFC 4271 §4.3 (with RFC 7911 path identifiers): validating an
//! NLRI field, iterating its prefixes without allocating, and encoding them.

use crate::family::PrefixKind;
use crate::prefix::{mask4, mask6, Ipv4Prefix, Ipv6Prefix, Prefix};
use std::fmt;

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

/// How many entry sizes [`V4Walk`] records for iteration.
const SIZES: usize = 16;

/// Octets in front of an NLRI field that [`NlriIter::sized`] needs. Inside a message at
/// least the header and the two length fields (23 octets) precede the NLRI field.
pub(crate) const LEAD: usize = 7;

/// Validation of an IPv4 NLRI field without path identifiers, like [`validate_nlri`],
/// that also records the sizes of its first 16 entries, 4 bits each.
///
/// Walking an NLRI field is a serial chain (each entry's length octet says where the next
/// one starts). Validation walks it anyway; with the sizes it records, iteration knows
/// where each entry starts without waiting for the previous one. It walks one entry at a
/// time, so that a caller can interleave it with another serial walk and the processor
/// advances both at once.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct V4Walk {
    pos: usize,
    sizes: u64,
    /// An entry is at most 5 octets (prefix length 32): a longer one has a bad length.
    widest: usize,
    shift: u32,
}

impl V4Walk {
    /// Takes the next of the first 16 entries of `data`; false once there is none.
    #[inline(always)]
    pub(crate) fn step(&mut self, data: &[u8]) -> bool {
        if self.shift >= 4 * SIZES as u32 {
            return false;
        }
        let Some(&len) = data.get(self.pos) else {
            return false;
        };
        let size = (usize::from(len) + 15) >> 3;
        self.widest |= size;
        self.sizes |= (size as u64) << self.shift;
        self.pos += size;
        self.shift += 4;
        true
    }

    /// Walks what is left of `data` and returns its entry count and the sizes of its first
    /// entries, or the RFC 7606 §5.3 error.
    #[inline(always)]
    pub(crate) fn finish(mut self, data: &[u8]) -> Result<(usize, u64), NlriError> {
        while self.step(data) {}
        let (mut pos, sizes) = (self.pos, self.sizes);
        let mut count = self.shift as usize / 4;
        // A size of 6 or 7 has bits 2 and 1 set; 8 or more shows in `widest`.
        let mut too_long = self.widest > 7 || sizes & (sizes << 1) & 0x4444_4444_4444_4444 != 0;
        while pos < data.len() {
            let len = data[pos];
            too_long |= len > 32;
            pos += (usize::from(len) + 15) >> 3;
            count += 1;
        }
        if too_long || pos != data.len() {
            return Err(nlri_error(data, 32, 0));
        }
        Ok((count, sizes))
    }
}

/// Iterator over an NLRI field that was validated with [`validate_nlri`].
///
/// It never allocates. On bytes that were not validated it stops at the first malformed
/// entry rather than panicking.
#[derive(Debug, Clone)]
pub struct NlriIter<'a> {
    /// The field, after `pos` octets in front of it.
    buf: &'a [u8],
    /// Where the next entry starts in `buf`.
    pos: usize,
    /// Sizes of the next IPv4 entries, 4 bits each, recorded by validation; 0 when
    /// unknown (the entries are then walked one after the other).
    sizes: u64,
    kind: PrefixKind,
    add_path: bool,
}

impl<'a> NlriIter<'a> {
    /// Iterates `data` as prefixes of `kind`, with path identifiers if `add_path`.
    #[inline]
    pub fn new(data: &'a [u8], kind: PrefixKind, add_path: bool) -> Self {
        NlriIter {
            buf: data,
            pos: 0,
            sizes: 0,
            kind,
            add_path,
        }
    }

    /// Iterates the IPv4 field `lead[LEAD..]` (no path identifiers) whose first entries
    /// have the `sizes` [`V4Walk::finish`] returned for it.
    #[inline]
    pub(crate) fn sized(lead: &'a [u8], sizes: u64) -> Self {
        let ok = lead.len() >= LEAD;
        NlriIter {
            buf: lead,
            pos: if ok { LEAD } else { lead.len() },
            sizes: if ok { sizes } else { 0 },
            kind: PrefixKind::V4,
            add_path: false,
        }
    }

    /// An iterator that yields nothing.
    #[inline]
    pub fn empty() -> Self {
        NlriIter::new(&[], PrefixKind::V4, false)
    }

    /// Whether there are no more entries.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The next entry of known size. The 8 octets that end where it ends are read as one
    /// word (the octets in front of the field make this safe for the first entries) and
    /// shifted so that the entry starts at the top: neither the prefix size nor the end
    /// of the field needs a branch.
    #[inline]
    fn next_sized(&mut self) -> Option<Nlri> {
        let size = (self.sizes & 0xf) as u32;
        self.sizes >>= 4;
        let end = self.pos + size as usize;
        let window = self.buf.get(end.wrapping_sub(8)..end)?.first_chunk::<8>()?;
        self.pos = end;
        // size is 1..=5 here, so the shift is 24..=56.
        let entry = u64::from_be_bytes(*window) << ((64 - 8 * size) & 63);
        let len = (entry >> 56) as u8;
        // Validated: len <= 32, so this keeps the top `len` bits.
        let keep = (0xffff_ffff_0000_0000u64 >> (len & 63)) as u32;
        let addr = (entry >> 24) as u32 & keep;
        Some(Nlri {
            path_id: None,
            prefix: Prefix::V4(Ipv4Prefix { addr, len }),
        })
    }
}

impl Iterator for NlriIter<'_> {
    type Item = Nlri;

    #[inline]
    fn next(&mut self) -> Option<Nlri> {
        if self.sizes != 0 {
            let n = self.next_sized();
            if n.is_none() {
                self.pos = self.buf.len();
            }
            return n;
        }
        if self.pos >= self.buf.len() {
            return None;
        }
        match walk_entry(&self.buf[self.pos..], self.kind, self.add_path) {
            Some((n, used)) => {
                self.pos += used;
                Some(n)
            }
            None => {
                self.pos = self.buf.len();
                None
            }
        }
    }
}

/// Decodes the entry that starts `d`, and says how many octets it takes; `None` if it is
/// malformed.
///
/// Kept out of line: it takes and returns plain values, so the state of an iterator
/// around it can stay in registers.
#[inline(never)]
fn walk_entry(mut d: &[u8], kind: PrefixKind, add_path: bool) -> Option<(Nlri, usize)> {
    let start_len = d.len();
    let path_id = if add_path {
        let (id, rest) = d.split_first_chunk::<4>()?;
        d = rest;
        Some(u32::from_be_bytes(*id))
    } else {
        None
    };
    let (&len, rest) = d.split_first()?;
    let n = usize::from(len).div_ceil(8);
    let (bytes, rest) = rest.split_at_checked(n)?;
    let prefix = match kind {
        PrefixKind::V4 => {
            if len > 32 {
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
                return None;
            }
            let word = match d.get(1..17).and_then(|w| w.first_chunk::<16>()) {
                Some(w) => u128::from_be_bytes(*w),
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
    Some((Nlri { path_id, prefix }, start_len - rest.len()))
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
#[inline(always)]
pub fn encode_nlri(nlri: &Nlri, add_path: bool, out: &mut Vec<u8>) {
    if add_path {
        out.extend_from_slice(&nlri.path_id.unwrap_or(0).to_be_bytes());
    }
    encode_prefix(nlri.prefix, out);
}

/// Appends a prefix in NLRI form: length octet and the significant address octets.
#[inline(always)]
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Validating with recorded sizes agrees with the plain check, and iterating with
        /// the sizes yields exactly what walking the field yields, for fields of up to 40
        /// entries of every length, and for garbage.
        #[test]
        fn sized_iteration_matches_walking_the_field(
            lens in proptest::collection::vec(0u8..=32, 0..40),
            addrs in proptest::collection::vec(proptest::prelude::any::<u32>(), 40),
            garbage in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..12),
            use_garbage in proptest::prelude::any::<bool>(),
            lead in proptest::collection::vec(proptest::prelude::any::<u8>(), LEAD..LEAD + 3),
        ) {
            let mut field = Vec::new();
            if use_garbage {
                field = garbage;
            } else {
                for (l, a) in lens.iter().zip(&addrs) {
                    let p = Ipv4Prefix::new((*a).into(), *l).unwrap();
                    encode_prefix(Prefix::V4(p), &mut field);
                }
            }
            let plain = validate_nlri(&field, PrefixKind::V4, false);
            let sized = V4Walk::default().finish(&field);
            proptest::prop_assert_eq!(plain, sized.map(|(n, _)| n));
            if let Ok((_, sizes)) = sized {
                let mut buf = lead.clone();
                buf.extend_from_slice(&field);
                let walked: Vec<Nlri> = NlriIter::new(&field, PrefixKind::V4, false).collect();
                let fast: Vec<Nlri> =
                    NlriIter::sized(&buf[lead.len() - LEAD..], sizes).collect();
                proptest::prop_assert_eq!(&walked, &fast);
                if !use_garbage {
                    proptest::prop_assert_eq!(walked.len(), lens.len());
                }
            }
        }
    }
}
