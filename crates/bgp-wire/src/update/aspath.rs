//! AS_PATH and AS4_PATH (RFC 4271 §4.3 and §5.1.2, RFC 5065 §3, RFC 6793 §4).

use std::fmt;

use crate::open::AS_TRANS;

/// AS path segment types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum SegmentType {
    /// AS_SET (1): unordered.
    Set = 1,
    /// AS_SEQUENCE (2): ordered.
    Sequence = 2,
    /// AS_CONFED_SEQUENCE (3, RFC 5065).
    ConfedSequence = 3,
    /// AS_CONFED_SET (4, RFC 5065).
    ConfedSet = 4,
}

impl SegmentType {
    /// Maps the wire value.
    #[inline]
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => SegmentType::Set,
            2 => SegmentType::Sequence,
            3 => SegmentType::ConfedSequence,
            4 => SegmentType::ConfedSet,
            _ => return None,
        })
    }

    /// Whether this is a confederation segment.
    #[inline]
    pub fn is_confed(self) -> bool {
        matches!(self, SegmentType::ConfedSequence | SegmentType::ConfedSet)
    }

    /// How many hops a segment of `n` ASes adds to the path length of the decision
    /// process (RFC 4271 §9.1.2.2: a set counts one; RFC 5065 §5.3: confed segments none).
    #[inline]
    pub fn path_len(self, n: usize) -> usize {
        match self {
            SegmentType::Sequence => n,
            SegmentType::Set => usize::from(n > 0),
            SegmentType::ConfedSequence | SegmentType::ConfedSet => 0,
        }
    }
}

/// One segment of an AS path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AsSegment {
    /// Segment type.
    pub kind: SegmentType,
    /// The AS numbers.
    pub asns: Vec<u32>,
}

/// An owned AS path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AsPath {
    /// Segments in wire order.
    pub segments: Vec<AsSegment>,
}

impl AsPath {
    /// An AS path of one AS_SEQUENCE (empty if `asns` is empty).
    pub fn sequence(asns: impl IntoIterator<Item = u32>) -> Self {
        let asns: Vec<u32> = asns.into_iter().collect();
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: vec![AsSegment {
                kind: SegmentType::Sequence,
                asns,
            }],
        }
    }

    /// Path length for the decision process.
    #[inline]
    pub fn path_len(&self) -> usize {
        self.segments
            .iter()
            .map(|s| s.kind.path_len(s.asns.len()))
            .sum()
    }

    /// Whether `asn` occurs anywhere in the path.
    #[inline]
    pub fn contains(&self, asn: u32) -> bool {
        self.segments.iter().any(|s| s.asns.contains(&asn))
    }

    /// Prepends `asn` to the leading AS_SEQUENCE, or adds one (RFC 4271 §5.1.2).
    #[inline]
    pub fn prepend(&mut self, asn: u32, times: usize) {
        match self.segments.first_mut() {
            Some(s) if s.kind == SegmentType::Sequence => {
                s.asns.splice(0..0, std::iter::repeat_n(asn, times));
            }
            _ => self.segments.insert(
                0,
                AsSegment {
                    kind: SegmentType::Sequence,
                    asns: vec![asn; times],
                },
            ),
        }
    }

    /// Appends the wire form with 2- or 4-octet AS numbers, splitting segments longer than
    /// 255 ASes. In 2-octet form, ASes above 65535 are written as AS_TRANS (RFC 6793 §4.2.2).
    #[inline]
    pub fn encode(&self, four_octet: bool, out: &mut Vec<u8>) {
        for s in &self.segments {
            for chunk in s.asns.chunks(255) {
                out.push(s.kind as u8);
                out.push(chunk.len() as u8);
                for &a in chunk {
                    if four_octet {
                        out.extend_from_slice(&a.to_be_bytes());
                    } else {
                        let a = u16::try_from(a).unwrap_or(AS_TRANS);
                        out.extend_from_slice(&a.to_be_bytes());
                    }
                }
            }
        }
    }

    /// Whether any AS needs 4 octets (so a 2-octet session must also carry AS4_PATH).
    #[inline]
    pub fn needs_as4(&self) -> bool {
        self.segments
            .iter()
            .any(|s| s.asns.iter().any(|&a| a > 0xffff))
    }

    /// The AS4_PATH to send beside a 2-octet AS_PATH (RFC 6793 §4.2.2): the path without
    /// confederation segments, or `None` when every AS fits 2 octets.
    #[inline]
    pub fn as4_path_for_old_speaker(&self) -> Option<AsPath> {
        if !self.needs_as4() {
            return None;
        }
        Some(AsPath {
            segments: self
                .segments
                .iter()
                .filter(|s| !s.kind.is_confed())
                .cloned()
                .collect(),
        })
    }

    /// Reconstructs the true path from a 2-octet AS_PATH and an AS4_PATH received from an
    /// OLD speaker (RFC 6793 §4.2.3). Confederation segments of the AS4_PATH are dropped
    /// (RFC 6793 §6); if the AS4_PATH is longer than the AS_PATH it is ignored.
    #[inline]
    pub fn merge_as4(as_path: &AsPath, as4_path: &AsPath) -> AsPath {
        let as4 = AsPath {
            segments: as4_path
                .segments
                .iter()
                .filter(|s| !s.kind.is_confed())
                .cloned()
                .collect(),
        };
        let count = |p: &AsPath| -> usize {
            p.segments
                .iter()
                .map(|s| match s.kind {
                    SegmentType::Sequence | SegmentType::ConfedSequence => s.asns.len(),
                    SegmentType::Set | SegmentType::ConfedSet => 1,
                })
                .sum()
        };
        let (n_old, n_new) = (count(as_path), count(&as4));
        if n_old < n_new {
            return as_path.clone();
        }
        // Keep the leading (n_old - n_new) ASes of AS_PATH, then append AS4_PATH.
        let mut keep = n_old - n_new;
        let mut out = AsPath::default();
        for s in &as_path.segments {
            if keep == 0 {
                break;
            }
            match s.kind {
                SegmentType::Sequence | SegmentType::ConfedSequence => {
                    let take = keep.min(s.asns.len());
                    out.segments.push(AsSegment {
                        kind: s.kind,
                        asns: s.asns[..take].to_vec(),
                    });
                    keep -= take;
                }
                SegmentType::Set | SegmentType::ConfedSet => {
                    out.segments.push(s.clone());
                    keep -= 1;
                }
            }
        }
        for seg in as4.segments {
            match out.segments.last_mut() {
                Some(last) if last.kind == SegmentType::Sequence && seg.kind == last.kind => {
                    last.asns.extend(seg.asns);
                }
                _ => out.segments.push(seg),
            }
        }
        out
    }
}

impl fmt::Display for AsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.segments {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            let (open, close) = match s.kind {
                SegmentType::Sequence => ("", ""),
                SegmentType::Set => ("{", "}"),
                SegmentType::ConfedSequence => ("(", ")"),
                SegmentType::ConfedSet => ("[", "]"),
            };
            f.write_str(open)?;
            for (i, a) in s.asns.iter().enumerate() {
                if i > 0 {
                    f.write_str(if s.kind == SegmentType::Set { "," } else { " " })?;
                }
                write!(f, "{a}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

/// Why an AS path failed the checks of RFC 7606 §7.2 (or RFC 6793 §6 for AS4_PATH).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AsPathError {
    /// Unknown segment type.
    #[error("unrecognized segment type {0}")]
    UnknownSegmentType(u8),
    /// A segment with zero ASes.
    #[error("segment with a path segment length of zero")]
    EmptySegment,
    /// A segment runs past the end of the attribute.
    #[error("segment overruns the attribute length")]
    Overrun,
    /// A single octet left after the last segment.
    #[error("one octet left after the last segment (underrun)")]
    Underrun,
}

/// Checks the syntax of an AS path value with `width`-octet AS numbers.
pub fn validate_as_path(mut v: &[u8], width: usize) -> Result<(), AsPathError> {
    while !v.is_empty() {
        if v.len() < 2 {
            return Err(AsPathError::Underrun);
        }
        SegmentType::from_u8(v[0]).ok_or(AsPathError::UnknownSegmentType(v[0]))?;
        let n = usize::from(v[1]);
        if n == 0 {
            return Err(AsPathError::EmptySegment);
        }
        let end = 2 + n * width;
        if end > v.len() {
            return Err(AsPathError::Overrun);
        }
        v = &v[end..];
    }
    Ok(())
}

/// A borrowed, validated AS path: reading it never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsPathView<'a> {
    data: &'a [u8],
    width: usize,
}

impl<'a> AsPathView<'a> {
    /// Wraps bytes that passed [`validate_as_path`] with the same width.
    #[inline]
    pub(crate) fn new(data: &'a [u8], four_octet: bool) -> Self {
        AsPathView {
            data,
            width: if four_octet { 4 } else { 2 },
        }
    }

    /// The raw attribute value.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// Whether AS numbers are 4 octets wide.
    #[inline]
    pub fn is_four_octet(&self) -> bool {
        self.width == 4
    }

    /// The segments.
    #[inline]
    pub fn segments(&self) -> SegmentIter<'a> {
        SegmentIter {
            data: self.data,
            width: self.width,
        }
    }

    /// Path length for the decision process.
    #[inline]
    pub fn path_len(&self) -> usize {
        self.segments().map(|s| s.kind.path_len(s.len())).sum()
    }

    /// The first AS of the path (the neighbor AS, for eBGP), if it starts with a sequence.
    #[inline]
    pub fn first_as(&self) -> Option<u32> {
        let s = self.segments().next()?;
        (s.kind == SegmentType::Sequence)
            .then(|| s.asns().next())
            .flatten()
    }

    /// Whether `asn` occurs in the path, and how many times.
    #[inline]
    pub fn count(&self, asn: u32) -> usize {
        self.segments()
            .map(|s| s.asns().filter(|&a| a == asn).count())
            .sum()
    }

    /// Whether the path is empty (locally originated in iBGP).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// An owned copy.
    #[inline]
    pub fn to_owned(&self) -> AsPath {
        AsPath {
            segments: self
                .segments()
                .map(|s| AsSegment {
                    kind: s.kind,
                    asns: s.asns().collect(),
                })
                .collect(),
        }
    }
}

/// Iterator over the segments of an [`AsPathView`].
#[derive(Debug, Clone)]
pub struct SegmentIter<'a> {
    data: &'a [u8],
    width: usize,
}

/// One segment of an [`AsPathView`].
#[derive(Debug, Clone, Copy)]
pub struct SegmentView<'a> {
    /// Segment type.
    pub kind: SegmentType,
    data: &'a [u8],
    width: usize,
}

impl<'a> SegmentView<'a> {
    /// Number of ASes.
    #[inline]
    pub fn len(&self) -> usize {
        self.data.len() / self.width
    }

    /// Whether the segment is empty (never true for validated input).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The AS numbers.
    pub fn asns(&self) -> impl Iterator<Item = u32> + 'a {
        let w = self.width;
        self.data.chunks_exact(w).map(move |c| {
            if w == 4 {
                u32::from_be_bytes([c[0], c[1], c[2], c[3]])
            } else {
                u32::from(u16::from_be_bytes([c[0], c[1]]))
            }
        })
    }
}

impl<'a> Iterator for SegmentIter<'a> {
    type Item = SegmentView<'a>;

    fn next(&mut self) -> Option<SegmentView<'a>> {
        let (&t, rest) = self.data.split_first()?;
        let (&n, rest) = rest.split_first()?;
        let kind = SegmentType::from_u8(t)?;
        let (seg, rest) = rest.split_at_checked(usize::from(n) * self.width)?;
        self.data = rest;
        Some(SegmentView {
            kind,
            data: seg,
            width: self.width,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(v: &[u32]) -> AsSegment {
        AsSegment {
            kind: SegmentType::Sequence,
            asns: v.to_vec(),
        }
    }

    #[test]
    fn path_length_counts_a_set_once_and_confeds_not_at_all() {
        let p = AsPath {
            segments: vec![
                AsSegment {
                    kind: SegmentType::ConfedSequence,
                    asns: vec![64512, 64513],
                },
                seq(&[65001, 65002]),
                AsSegment {
                    kind: SegmentType::Set,
                    asns: vec![1, 2, 3],
                },
            ],
        };
        assert_eq!(p.path_len(), 3);
        assert_eq!(p.to_string(), "(64512 64513) 65001 65002 {1,2,3}");
        let mut buf = Vec::new();
        p.encode(true, &mut buf);
        validate_as_path(&buf, 4).unwrap();
        let v = AsPathView::new(&buf, true);
        assert_eq!(v.path_len(), 3);
        assert_eq!(v.to_owned(), p);
        assert_eq!(v.first_as(), None);
    }

    #[test]
    fn long_sequences_are_split_into_255_as_segments() {
        let p = AsPath::sequence(0..600);
        let mut buf = Vec::new();
        p.encode(true, &mut buf);
        let v = AsPathView::new(&buf, true);
        assert_eq!(v.segments().count(), 3);
        assert_eq!(v.path_len(), 600);
    }

    #[test]
    fn two_octet_encoding_substitutes_as_trans() {
        let p = AsPath::sequence([65001, 4_200_000_001]);
        let mut buf = Vec::new();
        p.encode(false, &mut buf);
        assert_eq!(buf, vec![2, 2, 0xfd, 0xe9, 0x5b, 0xa0]);
        assert_eq!(p.as4_path_for_old_speaker(), Some(p.clone()));
        assert_eq!(AsPath::sequence([1, 2]).as4_path_for_old_speaker(), None);
    }

    #[test]
    fn rfc6793_merge_takes_the_leading_old_ases_then_the_as4_path() {
        // An OLD speaker (AS 100) prepended itself to a path that was 4200000001 65001.
        let old = AsPath::sequence([100, 23456, 65001]);
        let as4 = AsPath::sequence([4_200_000_001, 65001]);
        assert_eq!(
            AsPath::merge_as4(&old, &as4),
            AsPath::sequence([100, 4_200_000_001, 65001])
        );
        // AS4_PATH longer than AS_PATH: ignored.
        let long = AsPath::sequence([1, 2, 3, 4]);
        assert_eq!(AsPath::merge_as4(&old, &long), old);
    }

    #[test]
    fn malformed_paths_are_classified_as_rfc7606_says() {
        assert_eq!(
            validate_as_path(&[5, 1, 0, 1], 2),
            Err(AsPathError::UnknownSegmentType(5))
        );
        assert_eq!(validate_as_path(&[2, 0], 2), Err(AsPathError::EmptySegment));
        assert_eq!(
            validate_as_path(&[2, 2, 0, 1], 2),
            Err(AsPathError::Overrun)
        );
        assert_eq!(
            validate_as_path(&[2, 1, 0, 1, 2], 2),
            Err(AsPathError::Underrun)
        );
        assert_eq!(validate_as_path(&[], 4), Ok(()));
    }

    #[test]
    fn prepend_extends_the_leading_sequence() {
        let mut p = AsPath::sequence([65001]);
        p.prepend(65000, 2);
        assert_eq!(p, AsPath::sequence([65000, 65000, 65001]));
        let mut e = AsPath::default();
        e.prepend(7, 1);
        assert_eq!(e, AsPath::sequence([7]));
    }
}
