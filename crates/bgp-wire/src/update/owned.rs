//! Owned UPDATE messages: built by hand, or copied out of a decoded [`Update`], and
//! encoded back byte for byte (attribute order and flags are kept).

use std::net::Ipv4Addr;

use super::aspath::{AsPath, AsPathView};
use super::attr::{code, expected_flags, flags, Aggregator, Community, ExtendedCommunity};
use super::attr::{LargeCommunity, Origin};
use super::mp::{MpReach, MpUnreach};
use super::view::Update;
use crate::context::SessionContext;
use crate::family::Family;
use crate::header::{finish_header, start_header, MessageType};
use crate::nlri::{encode_nlri, Nlri};

/// The value of a path attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AttributeValue {
    /// ORIGIN (RFC 4271 §5.1.1).
    Origin(Origin),
    /// AS_PATH (RFC 4271 §5.1.2).
    AsPath(AsPath),
    /// NEXT_HOP (RFC 4271 §5.1.3).
    NextHop(Ipv4Addr),
    /// MULTI_EXIT_DISC (RFC 4271 §5.1.4).
    MultiExitDisc(u32),
    /// LOCAL_PREF (RFC 4271 §5.1.5).
    LocalPref(u32),
    /// ATOMIC_AGGREGATE (RFC 4271 §5.1.6).
    AtomicAggregate,
    /// AGGREGATOR (RFC 4271 §5.1.7).
    Aggregator(Aggregator),
    /// COMMUNITIES (RFC 1997).
    Communities(Vec<Community>),
    /// ORIGINATOR_ID (RFC 4456 §8).
    OriginatorId(Ipv4Addr),
    /// CLUSTER_LIST (RFC 4456 §8).
    ClusterList(Vec<Ipv4Addr>),
    /// MP_REACH_NLRI (RFC 4760 §3) of a family the codec understands.
    MpReach(MpReach),
    /// MP_UNREACH_NLRI (RFC 4760 §4) of a family the codec understands.
    MpUnreach(MpUnreach),
    /// EXTENDED_COMMUNITIES (RFC 4360).
    ExtendedCommunities(Vec<ExtendedCommunity>),
    /// AS4_PATH (RFC 6793).
    As4Path(AsPath),
    /// AS4_AGGREGATOR (RFC 6793).
    As4Aggregator(Aggregator),
    /// LARGE_COMMUNITY (RFC 8092).
    LargeCommunities(Vec<LargeCommunity>),
    /// Any other attribute (or one whose value does not parse), as bytes.
    Raw {
        /// Type code.
        type_code: u8,
        /// Value.
        data: Vec<u8>,
    },
}

impl AttributeValue {
    /// The type code.
    pub fn type_code(&self) -> u8 {
        match self {
            AttributeValue::Origin(_) => code::ORIGIN,
            AttributeValue::AsPath(_) => code::AS_PATH,
            AttributeValue::NextHop(_) => code::NEXT_HOP,
            AttributeValue::MultiExitDisc(_) => code::MULTI_EXIT_DISC,
            AttributeValue::LocalPref(_) => code::LOCAL_PREF,
            AttributeValue::AtomicAggregate => code::ATOMIC_AGGREGATE,
            AttributeValue::Aggregator(_) => code::AGGREGATOR,
            AttributeValue::Communities(_) => code::COMMUNITIES,
            AttributeValue::OriginatorId(_) => code::ORIGINATOR_ID,
            AttributeValue::ClusterList(_) => code::CLUSTER_LIST,
            AttributeValue::MpReach(_) => code::MP_REACH_NLRI,
            AttributeValue::MpUnreach(_) => code::MP_UNREACH_NLRI,
            AttributeValue::ExtendedCommunities(_) => code::EXTENDED_COMMUNITIES,
            AttributeValue::As4Path(_) => code::AS4_PATH,
            AttributeValue::As4Aggregator(_) => code::AS4_AGGREGATOR,
            AttributeValue::LargeCommunities(_) => code::LARGE_COMMUNITIES,
            AttributeValue::Raw { type_code, .. } => *type_code,
        }
    }

    /// Interprets a value that passed decoding; anything whose shape does not match its
    /// type (possible only for attributes RFC 7606 told us to keep anyway) stays raw.
    pub fn parse(type_code: u8, v: &[u8], ctx: &SessionContext) -> AttributeValue {
        let be32 = |c: &[u8]| u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        let ip = |c: &[u8]| Ipv4Addr::new(c[0], c[1], c[2], c[3]);
        let agg = |v: &[u8], four: bool| {
            if four {
                Aggregator {
                    asn: be32(v),
                    address: ip(&v[4..]),
                }
            } else {
                Aggregator {
                    asn: u32::from(u16::from_be_bytes([v[0], v[1]])),
                    address: ip(&v[2..]),
                }
            }
        };
        let four = ctx.four_octet_as;
        let raw = || AttributeValue::Raw {
            type_code,
            data: v.to_vec(),
        };
        let path = |v: &[u8], four: bool| {
            let w = if four { 4 } else { 2 };
            super::aspath::validate_as_path(v, w)
                .ok()
                .map(|_| AsPathView::new(v, four).to_owned())
        };
        match (type_code, v.len()) {
            (code::ORIGIN, 1) => Origin::from_u8(v[0]).map_or_else(raw, AttributeValue::Origin),
            (code::AS_PATH, _) => path(v, four).map_or_else(raw, AttributeValue::AsPath),
            (code::NEXT_HOP, 4) => AttributeValue::NextHop(ip(v)),
            (code::MULTI_EXIT_DISC, 4) => AttributeValue::MultiExitDisc(be32(v)),
            (code::LOCAL_PREF, 4) => AttributeValue::LocalPref(be32(v)),
            (code::ATOMIC_AGGREGATE, 0) => AttributeValue::AtomicAggregate,
            (code::AGGREGATOR, 8) if four => AttributeValue::Aggregator(agg(v, true)),
            (code::AGGREGATOR, 6) if !four => AttributeValue::Aggregator(agg(v, false)),
            (code::COMMUNITIES, n) if n > 0 && n % 4 == 0 => {
                AttributeValue::Communities(v.chunks_exact(4).map(|c| Community(be32(c))).collect())
            }
            (code::ORIGINATOR_ID, 4) => AttributeValue::OriginatorId(ip(v)),
            (code::CLUSTER_LIST, n) if n > 0 && n % 4 == 0 => {
                AttributeValue::ClusterList(v.chunks_exact(4).map(ip).collect())
            }
            (code::MP_REACH_NLRI, _) => match super::mp::MpReachView::parse(v, ctx) {
                Ok(m) => match m.next_hop() {
                    Some(next_hop) => AttributeValue::MpReach(MpReach {
                        family: m.family(),
                        next_hop,
                        nlri: m.nlri().collect(),
                    }),
                    None => raw(),
                },
                Err(_) => raw(),
            },
            (code::MP_UNREACH_NLRI, _) => match super::mp::MpUnreachView::parse(v, ctx) {
                Ok(m) if m.family().prefix_kind().is_some() => {
                    AttributeValue::MpUnreach(MpUnreach {
                        family: m.family(),
                        withdrawn: m.withdrawn().collect(),
                    })
                }
                _ => raw(),
            },
            (code::EXTENDED_COMMUNITIES, n) if n > 0 && n % 8 == 0 => {
                AttributeValue::ExtendedCommunities(
                    v.chunks_exact(8)
                        .map(|c| {
                            let mut b = [0u8; 8];
                            b.copy_from_slice(c);
                            ExtendedCommunity(b)
                        })
                        .collect(),
                )
            }
            (code::AS4_PATH, _) => path(v, true).map_or_else(raw, AttributeValue::As4Path),
            (code::AS4_AGGREGATOR, 8) => AttributeValue::As4Aggregator(agg(v, true)),
            (code::LARGE_COMMUNITIES, n) if n > 0 && n % 12 == 0 => {
                AttributeValue::LargeCommunities(
                    v.chunks_exact(12)
                        .map(|c| LargeCommunity {
                            global: be32(c),
                            local1: be32(&c[4..]),
                            local2: be32(&c[8..]),
                        })
                        .collect(),
                )
            }
            _ => raw(),
        }
    }

    /// Appends the value (without the attribute header).
    #[inline]
    pub fn encode_value(&self, ctx: &SessionContext, out: &mut Vec<u8>) {
        let agg = |a: &Aggregator, four: bool, out: &mut Vec<u8>| {
            if four {
                out.extend_from_slice(&a.asn.to_be_bytes());
            } else {
                let asn = u16::try_from(a.asn).unwrap_or(crate::open::AS_TRANS);
                out.extend_from_slice(&asn.to_be_bytes());
            }
            out.extend_from_slice(&a.address.octets());
        };
        match self {
            AttributeValue::Origin(o) => out.push(*o as u8),
            AttributeValue::AsPath(p) => p.encode(ctx.four_octet_as, out),
            AttributeValue::NextHop(a) | AttributeValue::OriginatorId(a) => {
                out.extend_from_slice(&a.octets())
            }
            AttributeValue::MultiExitDisc(v) | AttributeValue::LocalPref(v) => {
                out.extend_from_slice(&v.to_be_bytes())
            }
            AttributeValue::AtomicAggregate => {}
            AttributeValue::Aggregator(a) => agg(a, ctx.four_octet_as, out),
            AttributeValue::As4Aggregator(a) => agg(a, true, out),
            AttributeValue::Communities(cs) => {
                for c in cs {
                    out.extend_from_slice(&c.0.to_be_bytes());
                }
            }
            AttributeValue::ClusterList(ids) => {
                for id in ids {
                    out.extend_from_slice(&id.octets());
                }
            }
            AttributeValue::MpReach(m) => m.encode_value(ctx, out),
            AttributeValue::MpUnreach(m) => m.encode_value(ctx, out),
            AttributeValue::ExtendedCommunities(cs) => {
                for c in cs {
                    out.extend_from_slice(&c.0);
                }
            }
            AttributeValue::As4Path(p) => p.encode(true, out),
            AttributeValue::LargeCommunities(cs) => {
                for c in cs {
                    out.extend_from_slice(&c.global.to_be_bytes());
                    out.extend_from_slice(&c.local1.to_be_bytes());
                    out.extend_from_slice(&c.local2.to_be_bytes());
                }
            }
            AttributeValue::Raw { data, .. } => out.extend_from_slice(data),
        }
    }
}

/// A path attribute: flags and value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PathAttribute {
    /// Flags octet. The Extended Length bit is honoured when set, and added when the value
    /// needs it.
    pub flags: u8,
    /// Value.
    pub value: AttributeValue,
}

impl PathAttribute {
    /// An attribute with the standard flags for its type (optional transitive for
    /// unknown ones).
    pub fn new(value: AttributeValue) -> Self {
        let flags =
            expected_flags(value.type_code()).unwrap_or(flags::OPTIONAL | flags::TRANSITIVE);
        PathAttribute { flags, value }
    }

    /// Appends header and value (RFC 4271 §4.3).
    #[inline]
    pub fn encode(&self, ctx: &SessionContext, out: &mut Vec<u8>) {
        let start = out.len();
        let ext = self.flags & flags::EXTENDED_LENGTH != 0;
        let hdr = if ext { 4 } else { 3 };
        // A fixed-size append (then a truncate) is one store; a variable one a memmove call.
        out.extend_from_slice(&[self.flags, self.value.type_code(), 0, 0]);
        out.truncate(start + hdr);
        self.value.encode_value(ctx, out);
        let len = out.len() - start - hdr;
        if !ext && len > 255 {
            // Rare: the value needs the two-octet length after all.
            out.insert(start + 3, 0);
            out[start] |= flags::EXTENDED_LENGTH;
            return self.write_len(out, start, len, true);
        }
        self.write_len(out, start, len, ext);
    }

    fn write_len(&self, out: &mut [u8], start: usize, len: usize, ext: bool) {
        if ext {
            let l = (len.min(usize::from(u16::MAX)) as u16).to_be_bytes();
            out[start + 2] = l[0];
            out[start + 3] = l[1];
        } else {
            out[start + 2] = len as u8;
        }
    }
}

/// Encodes a list of attributes as a path attributes field.
#[inline]
pub fn encode_attributes(attrs: &[PathAttribute], ctx: &SessionContext, out: &mut Vec<u8>) {
    for a in attrs {
        a.encode(ctx, out);
    }
}

/// An UPDATE too large for the session's maximum message size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("UPDATE of {len} octets exceeds the session's maximum message size of {max} (RFC 4271 §4.1, RFC 8654)")]
pub struct EncodeError {
    /// Encoded length.
    pub len: usize,
    /// Maximum allowed.
    pub max: usize,
}

/// An owned UPDATE message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UpdateMessage {
    /// IPv4 unicast withdrawn routes field.
    pub withdrawn: Vec<Nlri>,
    /// Path attributes in wire order.
    pub attributes: Vec<PathAttribute>,
    /// IPv4 unicast NLRI field.
    pub nlri: Vec<Nlri>,
}

impl UpdateMessage {
    /// An End-of-RIB marker for `family` (RFC 4724 §2).
    pub fn end_of_rib(family: Family) -> Self {
        if family == Family::IPV4_UNICAST {
            return UpdateMessage::default();
        }
        UpdateMessage {
            attributes: vec![PathAttribute::new(AttributeValue::MpUnreach(MpUnreach {
                family,
                withdrawn: vec![],
            }))],
            ..Default::default()
        }
    }

    /// Copies a decoded UPDATE, keeping the attributes RFC 7606 handling kept, in order.
    pub fn from_view(u: &Update<'_>) -> Self {
        let ctx = u.context();
        UpdateMessage {
            withdrawn: u.withdrawn_routes().collect(),
            attributes: u
                .attributes()
                .map(|a| PathAttribute {
                    flags: a.flags,
                    value: AttributeValue::parse(a.type_code, a.value, ctx),
                })
                .collect(),
            nlri: u.nlri().collect(),
        }
    }

    /// Appends the message; fails if it would exceed the session's maximum size.
    pub fn encode(&self, ctx: &SessionContext, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        let start = start_header(out, MessageType::Update);
        let add_path = ctx.add_path.contains(Family::IPV4_UNICAST);
        let wl_at = out.len();
        out.extend_from_slice(&[0, 0]);
        for n in &self.withdrawn {
            encode_nlri(n, add_path, out);
        }
        let wlen = out.len() - wl_at - 2;
        let al_at = out.len();
        out.extend_from_slice(&[0, 0]);
        encode_attributes(&self.attributes, ctx, out);
        let alen = out.len() - al_at - 2;
        for n in &self.nlri {
            encode_nlri(n, add_path, out);
        }
        let len = out.len() - start;
        if len > ctx.max_message_len() {
            out.truncate(start);
            return Err(EncodeError {
                len,
                max: ctx.max_message_len(),
            });
        }
        out[wl_at..wl_at + 2].copy_from_slice(&(wlen as u16).to_be_bytes());
        out[al_at..al_at + 2].copy_from_slice(&(alen as u16).to_be_bytes());
        Ok(finish_header(out, start))
    }
}
