//! MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760 §3–4), with IPv6 next hops of 16 or 32
//! octets (RFC 2545 §3) and IPv6 next hops for IPv4 NLRI (RFC 8950 §3).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::context::SessionContext;
use crate::family::{Afi, Family, PrefixKind, Safi};
use crate::nlri::{encode_nlri, validate_nlri, Nlri, NlriError, NlriIter};

/// The next hop of an MP_REACH_NLRI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MpNextHop {
    /// An IPv4 next hop (4 octets).
    V4(Ipv4Addr),
    /// An IPv6 next hop: global (16 octets), optionally followed by a link-local one
    /// (32 octets in all).
    V6 {
        /// Global (or, from some speakers, link-local) address.
        global: Ipv6Addr,
        /// Link-local address of the 32-octet form.
        link_local: Option<Ipv6Addr>,
    },
}

impl MpNextHop {
    /// Octets on the wire.
    #[inline]
    pub fn wire_len(&self) -> usize {
        match self {
            MpNextHop::V4(_) => 4,
            MpNextHop::V6 {
                link_local: None, ..
            } => 16,
            MpNextHop::V6 {
                link_local: Some(_),
                ..
            } => 32,
        }
    }

    /// The address a route should be forwarded to: the global one, or the IPv4 one.
    #[inline]
    pub fn addr(&self) -> IpAddr {
        match self {
            MpNextHop::V4(a) => IpAddr::V4(*a),
            MpNextHop::V6 { global, .. } => IpAddr::V6(*global),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            MpNextHop::V4(a) => out.extend_from_slice(&a.octets()),
            MpNextHop::V6 { global, link_local } => {
                out.extend_from_slice(&global.octets());
                if let Some(ll) = link_local {
                    out.extend_from_slice(&ll.octets());
                }
            }
        }
    }

    fn decode(v: &[u8]) -> Option<Self> {
        Some(match v.len() {
            4 => MpNextHop::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3])),
            16 => MpNextHop::V6 {
                global: ipv6(&v[..16]),
                link_local: None,
            },
            32 => MpNextHop::V6 {
                global: ipv6(&v[..16]),
                link_local: Some(ipv6(&v[16..])),
            },
            _ => return None,
        })
    }
}

fn ipv6(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    Ipv6Addr::from(a)
}

impl fmt::Display for MpNextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MpNextHop::V4(a) => write!(f, "{a}"),
            MpNextHop::V6 {
                global,
                link_local: None,
            } => write!(f, "{global}"),
            MpNextHop::V6 {
                global,
                link_local: Some(ll),
            } => write!(f, "{global} ({ll})"),
        }
    }
}

/// Whether a next hop of `len` octets fits a family (RFC 4760 §3, RFC 2545 §3, RFC 8950 §3).
fn next_hop_len_ok(kind: PrefixKind, len: usize) -> bool {
    match kind {
        PrefixKind::V4 => matches!(len, 4 | 16 | 32),
        PrefixKind::V6 => matches!(len, 16 | 32),
    }
}

/// Why an MP attribute is malformed: always a session reset (RFC 7606 §5.3, §7.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MpError {
    /// Shorter than its fixed part.
    #[error("too short ({0} octets) for its fixed fields")]
    TooShort(usize),
    /// Next hop length does not fit the family or overruns the attribute.
    #[error("next hop length {len} is inconsistent with {family} (RFC 7606 §7.11)")]
    NextHopLength {
        /// Family.
        family: Family,
        /// Next hop length.
        len: usize,
    },
    /// Malformed NLRI.
    #[error("NLRI of {family}: {error}")]
    Nlri {
        /// Family.
        family: Family,
        /// What is wrong.
        error: NlriError,
    },
}

/// A validated MP_REACH_NLRI, borrowed from the message.
#[derive(Debug, Clone, Copy)]
pub struct MpReachView<'a> {
    family: Family,
    next_hop: &'a [u8],
    nlri: &'a [u8],
    add_path: bool,
}

impl<'a> MpReachView<'a> {
    /// Validates an MP_REACH_NLRI value.
    #[inline]
    pub(crate) fn parse(v: &'a [u8], ctx: &SessionContext) -> Result<Self, MpError> {
        if v.len() < 5 {
            return Err(MpError::TooShort(v.len()));
        }
        let family = Family::new(Afi(u16::from_be_bytes([v[0], v[1]])), Safi(v[2]));
        let nh_len = usize::from(v[3]);
        if 4 + nh_len + 1 > v.len() {
            return Err(MpError::NextHopLength {
                family,
                len: nh_len,
            });
        }
        let next_hop = &v[4..4 + nh_len];
        let nlri = &v[4 + nh_len + 1..];
        let add_path = ctx.add_path.contains(family);
        if let Some(kind) = family.prefix_kind() {
            if !next_hop_len_ok(kind, nh_len) {
                return Err(MpError::NextHopLength {
                    family,
                    len: nh_len,
                });
            }
            validate_nlri(nlri, kind, add_path).map_err(|error| MpError::Nlri { family, error })?;
        }
        Ok(MpReachView {
            family,
            next_hop,
            nlri,
            add_path,
        })
    }

    /// Rebuilds the view of a value that [`parse`](Self::parse) accepted, in O(1).
    #[inline]
    pub(crate) fn validated(v: &'a [u8], ctx: &SessionContext) -> Self {
        let family = Family::new(Afi(u16::from_be_bytes([v[0], v[1]])), Safi(v[2]));
        let nh_len = usize::from(v[3]);
        MpReachView {
            family,
            next_hop: &v[4..4 + nh_len],
            nlri: &v[5 + nh_len..],
            add_path: ctx.add_path.contains(family),
        }
    }

    /// The family.
    #[inline]
    pub fn family(&self) -> Family {
        self.family
    }

    /// The next hop, for the families the codec understands.
    #[inline]
    pub fn next_hop(&self) -> Option<MpNextHop> {
        self.family.prefix_kind()?;
        MpNextHop::decode(self.next_hop)
    }

    /// The raw next hop octets.
    #[inline]
    pub fn next_hop_bytes(&self) -> &'a [u8] {
        self.next_hop
    }

    /// The announced prefixes (empty for families the codec does not understand).
    #[inline]
    pub fn nlri(&self) -> NlriIter<'a> {
        match self.family.prefix_kind() {
            Some(k) => NlriIter::new(self.nlri, k, self.add_path),
            None => NlriIter::empty(),
        }
    }

    /// The raw NLRI octets.
    #[inline]
    pub fn nlri_bytes(&self) -> &'a [u8] {
        self.nlri
    }
}

/// A validated MP_UNREACH_NLRI, borrowed from the message.
#[derive(Debug, Clone, Copy)]
pub struct MpUnreachView<'a> {
    family: Family,
    nlri: &'a [u8],
    add_path: bool,
}

impl<'a> MpUnreachView<'a> {
    /// Validates an MP_UNREACH_NLRI value.
    #[inline]
    pub(crate) fn parse(v: &'a [u8], ctx: &SessionContext) -> Result<Self, MpError> {
        if v.len() < 3 {
            return Err(MpError::TooShort(v.len()));
        }
        let family = Family::new(Afi(u16::from_be_bytes([v[0], v[1]])), Safi(v[2]));
        let nlri = &v[3..];
        let add_path = ctx.add_path.contains(family);
        if let Some(kind) = family.prefix_kind() {
            validate_nlri(nlri, kind, add_path).map_err(|error| MpError::Nlri { family, error })?;
        }
        Ok(MpUnreachView {
            family,
            nlri,
            add_path,
        })
    }

    /// Rebuilds the view of a value that [`parse`](Self::parse) accepted, in O(1).
    #[inline]
    pub(crate) fn validated(v: &'a [u8], ctx: &SessionContext) -> Self {
        let family = Family::new(Afi(u16::from_be_bytes([v[0], v[1]])), Safi(v[2]));
        MpUnreachView {
            family,
            nlri: &v[3..],
            add_path: ctx.add_path.contains(family),
        }
    }

    /// The family.
    #[inline]
    pub fn family(&self) -> Family {
        self.family
    }

    /// The withdrawn prefixes (empty for families the codec does not understand).
    #[inline]
    pub fn withdrawn(&self) -> NlriIter<'a> {
        match self.family.prefix_kind() {
            Some(k) => NlriIter::new(self.nlri, k, self.add_path),
            None => NlriIter::empty(),
        }
    }

    /// The raw NLRI octets.
    #[inline]
    pub fn nlri_bytes(&self) -> &'a [u8] {
        self.nlri
    }
}

/// An owned MP_REACH_NLRI for a family the codec understands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MpReach {
    /// Family.
    pub family: Family,
    /// Next hop.
    pub next_hop: MpNextHop,
    /// Announced prefixes.
    pub nlri: Vec<Nlri>,
}

impl MpReach {
    /// Appends the attribute value.
    #[inline]
    pub fn encode_value(&self, ctx: &SessionContext, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.family.afi.0.to_be_bytes());
        out.push(self.family.safi.0);
        out.push(self.next_hop.wire_len() as u8);
        self.next_hop.encode(out);
        out.push(0);
        let add_path = ctx.add_path.contains(self.family);
        for n in &self.nlri {
            encode_nlri(n, add_path, out);
        }
    }
}

/// An owned MP_UNREACH_NLRI for a family the codec understands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MpUnreach {
    /// Family.
    pub family: Family,
    /// Withdrawn prefixes.
    pub withdrawn: Vec<Nlri>,
}

impl MpUnreach {
    /// Appends the attribute value.
    #[inline]
    pub fn encode_value(&self, ctx: &SessionContext, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.family.afi.0.to_be_bytes());
        out.push(self.family.safi.0);
        let add_path = ctx.add_path.contains(self.family);
        for n in &self.withdrawn {
            encode_nlri(n, add_path, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_nlri_with_an_ipv6_next_hop_is_accepted_per_rfc8950() {
        let r = MpReach {
            family: Family::IPV4_UNICAST,
            next_hop: MpNextHop::V6 {
                global: "fd00::1".parse().unwrap(),
                link_local: Some("fe80::1".parse().unwrap()),
            },
            nlri: vec![Nlri::new(
                "10.1.0.0/24".parse::<crate::Ipv4Prefix>().unwrap(),
            )],
        };
        let ctx = SessionContext::default();
        let mut v = Vec::new();
        r.encode_value(&ctx, &mut v);
        let view = MpReachView::parse(&v, &ctx).unwrap();
        assert_eq!(view.next_hop(), Some(r.next_hop));
        assert_eq!(view.nlri().collect::<Vec<_>>(), r.nlri);
    }

    #[test]
    fn an_inconsistent_next_hop_length_is_an_error() {
        // IPv6 unicast with a 4-octet next hop.
        let v = [0, 2, 1, 4, 10, 0, 0, 1, 0];
        assert!(matches!(
            MpReachView::parse(&v, &SessionContext::default()),
            Err(MpError::NextHopLength { len: 4, .. })
        ));
        // Next hop length past the end.
        let v = [0, 1, 1, 16, 10, 0, 0, 1, 0];
        assert!(MpReachView::parse(&v, &SessionContext::default()).is_err());
        assert!(MpUnreachView::parse(&[0, 1], &SessionContext::default()).is_err());
    }

    #[test]
    fn unknown_families_are_carried_without_interpretation() {
        // L3VPN (SAFI 128) with a 12-octet next hop.
        let mut v = vec![0, 1, 128, 12];
        v.extend_from_slice(&[0; 12]);
        v.push(0);
        v.extend_from_slice(&[88, 1, 2, 3]);
        let view = MpReachView::parse(&v, &SessionContext::default()).unwrap();
        assert_eq!(view.next_hop(), None);
        assert_eq!(view.nlri().count(), 0);
        assert_eq!(view.nlri_bytes(), &[88, 1, 2, 3]);
    }
}
