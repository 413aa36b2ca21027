//! The canonical attribute set of a path, as the RIB keeps it (interned and shared).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bgp_wire::update::attr::{code, flags};
use bgp_wire::{
    Aggregator, AsPath, Community, ExtendedCommunity, LargeCommunity, MpNextHop, Origin,
    SessionContext, Update,
};
use thin_vec::ThinVec;

/// Where a path's traffic goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(untagged)]
pub enum NextHop {
    /// An IPv4 address (`0.0.0.0` for locally originated routes).
    V4(Ipv4Addr),
    /// An IPv6 global address with an optional link-local one (RFC 2545 §3).
    V6 {
        /// Global address (may be link-local from speakers that have no global one).
        global: Ipv6Addr,
        /// Link-local address.
        link_local: Option<Ipv6Addr>,
    },
}

impl NextHop {
    /// The "self" placeholder of locally originated routes.
    pub const LOCAL: NextHop = NextHop::V4(Ipv4Addr::UNSPECIFIED);

    /// Whether this is the placeholder of a locally originated route.
    pub fn is_local(&self) -> bool {
        matches!(self, NextHop::V4(a) if a.is_unspecified())
            || matches!(self, NextHop::V6 { global, .. } if global.is_unspecified())
    }

    /// The address to resolve and forward to: the IPv4 or global IPv6 address, or the
    /// link-local one when no global one was given.
    pub fn addr(&self) -> IpAddr {
        match *self {
            NextHop::V4(a) => IpAddr::V4(a),
            NextHop::V6 { global, link_local } => match link_local {
                Some(ll) if global.is_unspecified() => IpAddr::V6(ll),
                _ => IpAddr::V6(global),
            },
        }
    }

    /// The MP_REACH_NLRI form.
    pub fn to_mp(&self) -> MpNextHop {
        match *self {
            NextHop::V4(a) => MpNextHop::V4(a),
            NextHop::V6 { global, link_local } => MpNextHop::V6 { global, link_local },
        }
    }
}

impl From<MpNextHop> for NextHop {
    fn from(n: MpNextHop) -> Self {
        match n {
            MpNextHop::V4(a) => NextHop::V4(a),
            MpNextHop::V6 { global, link_local } => NextHop::V6 { global, link_local },
        }
    }
}

impl From<IpAddr> for NextHop {
    fn from(a: IpAddr) -> Self {
        match a {
            IpAddr::V4(a) => NextHop::V4(a),
            IpAddr::V6(a) => NextHop::V6 {
                global: a,
                link_local: None,
            },
        }
    }
}

impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NextHop::V4(a) => write!(f, "{a}"),
            NextHop::V6 {
                global,
                link_local: None,
            } => write!(f, "{global}"),
            NextHop::V6 {
                global,
                link_local: Some(ll),
            } => write!(f, "{global}({ll})"),
        }
    }
}

/// An attribute passed on without interpretation (optional transitive, RFC 4271 §5).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct OtherAttribute {
    /// Flags as received (the Partial bit is set when passing it on).
    pub flags: u8,
    /// Type code.
    pub type_code: u8,
    /// Value.
    pub value: Vec<u8>,
}

/// The path attributes of a route, in canonical form (4-octet AS numbers, AS4_PATH merged).
/// Lists are [`ThinVec`]s (one pointer each, usually empty): a full table holds a hundred
/// thousand of these.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Attrs {
    /// ORIGIN.
    pub origin: Origin,
    /// AS_PATH (4-octet form).
    pub as_path: AsPath,
    /// NEXT_HOP, or the MP_REACH_NLRI next hop.
    pub next_hop: NextHop,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
    /// ATOMIC_AGGREGATE.
    pub atomic_aggregate: bool,
    /// AGGREGATOR (4-octet form).
    pub aggregator: Option<Aggregator>,
    /// COMMUNITIES.
    pub communities: ThinVec<Community>,
    /// EXTENDED_COMMUNITIES.
    pub ext_communities: ThinVec<ExtendedCommunity>,
    /// LARGE_COMMUNITY.
    pub large_communities: ThinVec<LargeCommunity>,
    /// ORIGINATOR_ID (RFC 4456).
    pub originator_id: Option<Ipv4Addr>,
    /// CLUSTER_LIST (RFC 4456).
    pub cluster_list: ThinVec<Ipv4Addr>,
    /// Optional transitive attributes this speaker does not interpret.
    pub other: ThinVec<OtherAttribute>,
}

impl Attrs {
    /// The attributes of a locally originated route (`network`, redistribution).
    pub fn local(origin: Origin) -> Self {
        Attrs {
            origin,
            as_path: AsPath::default(),
            next_hop: NextHop::LOCAL,
            med: None,
            local_pref: None,
            atomic_aggregate: false,
            aggregator: None,
            communities: ThinVec::new(),
            ext_communities: ThinVec::new(),
            large_communities: ThinVec::new(),
            originator_id: None,
            cluster_list: ThinVec::new(),
            other: ThinVec::new(),
        }
    }

    /// The attributes of a received UPDATE (next hop from NEXT_HOP, to be replaced by the
    /// MP_REACH_NLRI one for its prefixes). On 2-octet AS sessions AS4_PATH and
    /// AS4_AGGREGATOR are merged as RFC 6793 §4.2.3 says.
    pub fn from_update(u: &Update<'_>) -> Self {
        let four = u.context().four_octet_as;
        let mut as_path = u.as_path().map(|p| p.to_owned()).unwrap_or_default();
        let mut aggregator = u.aggregator();
        if !four {
            let trans = u32::from(bgp_wire::open::AS_TRANS);
            // AS4_* are only meaningful if AGGREGATOR (when present) carries AS_TRANS.
            let use_as4 = aggregator.is_none_or(|a| a.asn == trans);
            if use_as4 {
                if let Some(a4) = u.as4_aggregator() {
                    aggregator = Some(a4);
                }
                if let Some(p4) = u.as4_path() {
                    as_path = AsPath::merge_as4(&as_path, &p4.to_owned());
                }
            }
        }
        let other = u
            .attributes()
            .filter(|a| {
                is_passed_on(a.type_code)
                    && a.flags & flags::OPTIONAL != 0
                    && a.flags & flags::TRANSITIVE != 0
            })
            .map(|a| OtherAttribute {
                flags: a.flags,
                type_code: a.type_code,
                value: a.value.to_vec(),
            })
            .collect();
        Attrs {
            origin: u.origin().unwrap_or(Origin::Incomplete),
            as_path,
            next_hop: u.next_hop().map_or(NextHop::LOCAL, NextHop::V4),
            med: u.med(),
            local_pref: u.local_pref(),
            atomic_aggregate: u.atomic_aggregate(),
            aggregator,
            communities: u.communities().collect(),
            ext_communities: u.extended_communities().collect(),
            large_communities: u.large_communities().collect(),
            originator_id: u.originator_id(),
            cluster_list: u.cluster_list().collect(),
            other,
        }
    }

    /// Whether the path carries a community.
    pub fn has_community(&self, c: Community) -> bool {
        self.communities.contains(&c)
    }

    /// Graceful shutdown (RFC 8326 §4.1): the GRACEFUL_SHUTDOWN community added (the
    /// list kept sorted), and LOCAL_PREF 0 if `lower`.
    pub fn mark_graceful_shutdown(&mut self, lower: bool) {
        if !self.has_community(Community::GRACEFUL_SHUTDOWN) {
            self.communities.push(Community::GRACEFUL_SHUTDOWN);
            self.communities.sort_unstable();
        }
        if lower {
            self.local_pref = Some(0);
        }
    }

    /// Appends the path attributes field to send on a session with context `ctx`: every
    /// attribute but MP_REACH_NLRI, in type-code order. `with_next_hop` adds NEXT_HOP (for
    /// IPv4 prefixes in the NLRI field).
    pub fn encode(&self, ctx: &SessionContext, with_next_hop: bool, out: &mut Vec<u8>) {
        let t = flags::TRANSITIVE;
        let ot = flags::OPTIONAL | flags::TRANSITIVE;
        let o = flags::OPTIONAL;
        put(out, t, code::ORIGIN, |v| v.push(self.origin as u8));
        put(out, t, code::AS_PATH, |v| {
            self.as_path.encode(ctx.four_octet_as, v)
        });
        if with_next_hop {
            if let NextHop::V4(a) = self.next_hop {
                put(out, t, code::NEXT_HOP, |v| v.extend_from_slice(&a.octets()));
            }
        }
        if let Some(m) = self.med {
            put(out, o, code::MULTI_EXIT_DISC, |v| {
                v.extend_from_slice(&m.to_be_bytes())
            });
        }
        if let Some(lp) = self.local_pref {
            put(out, t, code::LOCAL_PREF, |v| {
                v.extend_from_slice(&lp.to_be_bytes())
            });
        }
        if self.atomic_aggregate {
            put(out, t, code::ATOMIC_AGGREGATE, |_| {});
        }
        let trans = u32::from(bgp_wire::open::AS_TRANS);
        if let Some(a) = self.aggregator {
            put(out, ot, code::AGGREGATOR, |v| {
                if ctx.four_octet_as {
                    v.extend_from_slice(&a.asn.to_be_bytes());
                } else {
                    let asn = u16::try_from(a.asn).unwrap_or(trans as u16);
                    v.extend_from_slice(&asn.to_be_bytes());
                }
                v.extend_from_slice(&a.address.octets());
            });
        }
        if !self.communities.is_empty() {
            put(out, ot, code::COMMUNITIES, |v| {
                for c in &self.communities {
                    v.extend_from_slice(&c.0.to_be_bytes());
                }
            });
        }
        if let Some(id) = self.originator_id {
            put(out, o, code::ORIGINATOR_ID, |v| {
                v.extend_from_slice(&id.octets())
            });
        }
        if !self.cluster_list.is_empty() {
            put(out, o, code::CLUSTER_LIST, |v| {
                for id in &self.cluster_list {
                    v.extend_from_slice(&id.octets());
                }
            });
        }
        if !self.ext_communities.is_empty() {
            put(out, ot, code::EXTENDED_COMMUNITIES, |v| {
                for c in &self.ext_communities {
                    v.extend_from_slice(&c.0);
                }
            });
        }
        if !ctx.four_octet_as {
            // RFC 6793 §4.2.2: a NEW speaker tells an OLD one the true path in AS4_PATH.
            if let Some(p4) = self.as_path.as4_path_for_old_speaker() {
                put(out, ot, code::AS4_PATH, |v| p4.encode(true, v));
            }
            if let Some(a) = self.aggregator.filter(|a| a.asn > 0xffff) {
                put(out, ot, code::AS4_AGGREGATOR, |v| {
                    v.extend_from_slice(&a.asn.to_be_bytes());
                    v.extend_from_slice(&a.address.octets());
                });
            }
        }
        if !self.large_communities.is_empty() {
            put(out, ot, code::LARGE_COMMUNITIES, |v| {
                for c in &self.large_communities {
                    v.extend_from_slice(&c.global.to_be_bytes());
                    v.extend_from_slice(&c.local1.to_be_bytes());
                    v.extend_from_slice(&c.local2.to_be_bytes());
                }
            });
        }
        for a in &self.other {
            // Passed on with the Partial bit set (RFC 4271 §5).
            put(out, a.flags | flags::PARTIAL, a.type_code, |v| {
                v.extend_from_slice(&a.value)
            });
        }
    }
}

/// Whether an attribute type is kept as [`OtherAttribute`] (not interpreted by the RIB).
fn is_passed_on(type_code: u8) -> bool {
    !matches!(
        type_code,
        code::ORIGIN
            | code::AS_PATH
            | code::NEXT_HOP
            | code::MULTI_EXIT_DISC
            | code::LOCAL_PREF
            | code::ATOMIC_AGGREGATE
            | code::AGGREGATOR
            | code::COMMUNITIES
            | code::ORIGINATOR_ID
            | code::CLUSTER_LIST
            | code::MP_REACH_NLRI
            | code::MP_UNREACH_NLRI
            | code::EXTENDED_COMMUNITIES
            | code::AS4_PATH
            | code::AS4_AGGREGATOR
            | code::LARGE_COMMUNITIES
    )
}

/// Appends one attribute, choosing the length encoding from the value's size.
fn put(out: &mut Vec<u8>, fl: u8, t: u8, value: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[fl & !flags::EXTENDED_LENGTH, t, 0]);
    value(out);
    let len = out.len() - start - 3;
    if len > 255 {
        out.insert(start + 3, 0);
        out[start] |= flags::EXTENDED_LENGTH;
        out[start + 2..start + 4].copy_from_slice(&(len as u16).to_be_bytes());
    } else {
        out[start + 2] = len as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_wire::{Message, UpdatePacker};

    fn sample() -> Attrs {
        let mut a = Attrs::local(Origin::Igp);
        a.as_path = AsPath::sequence([65001, 4_200_000_001]);
        a.next_hop = NextHop::V4(Ipv4Addr::new(10, 0, 0, 1));
        a.med = Some(5);
        a.communities = thin_vec::thin_vec![Community::new(65001, 7)];
        a.large_communities = thin_vec::thin_vec![LargeCommunity {
            global: 4_200_000_001,
            local1: 1,
            local2: 2,
        }];
        a.aggregator = Some(Aggregator {
            asn: 4_200_000_001,
            address: Ipv4Addr::new(1, 1, 1, 1),
        });
        a.other = thin_vec::thin_vec![OtherAttribute {
            flags: 0xc0,
            type_code: 99,
            value: vec![1, 2],
        }];
        a
    }

    fn decode_back(a: &Attrs, ctx: SessionContext) -> Attrs {
        let mut attrs = Vec::new();
        a.encode(&ctx, true, &mut attrs);
        let mut msg = Vec::new();
        UpdatePacker::new(ctx)
            .announce_ipv4(
                &attrs,
                [bgp_wire::Nlri::new(
                    "10.9.0.0/16".parse::<bgp_wire::Ipv4Prefix>().unwrap(),
                )],
                &mut msg,
            )
            .unwrap();
        let (m, _) = Message::decode(&msg, &ctx).unwrap();
        let Message::Update(u) = m else { panic!() };
        assert!(u.issues().is_empty(), "{:?}", u.issues());
        Attrs::from_update(&u)
    }

    #[test]
    fn attributes_survive_an_encode_decode_cycle_on_a_4_octet_session() {
        let a = sample();
        let mut b = decode_back(&a, SessionContext::ibgp());
        assert_eq!(b.other[0].flags, 0xc0 | flags::PARTIAL);
        b.other[0].flags = 0xc0;
        assert_eq!(b, a);
    }

    #[test]
    fn a_2_octet_session_gets_as_trans_plus_as4_path_and_merges_them_back() {
        let a = sample();
        let old = SessionContext {
            four_octet_as: false,
            ..SessionContext::ibgp()
        };
        let mut b = decode_back(&a, old);
        b.other[0].flags = 0xc0;
        assert_eq!(b.as_path, a.as_path);
        assert_eq!(b.aggregator, a.aggregator);
    }
}
