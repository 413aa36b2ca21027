//! What a peer is sent for a route: the advertisement rules of RFC 4271 §9.1.3 and §5
//! (attribute handling per session type), RFC 1997 well-known communities, RFC 4456 route
//! reflection, then the export policy.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bgp_wire::{Community, Family, Prefix, SessionContext};

use crate::rib::attrs::{Attrs, NextHop};

/// What a policy says about a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyResult {
    /// Do not use the route.
    Reject,
    /// Use the route, possibly modified.
    Accept {
        /// The modified attributes, if any.
        attrs: Option<Box<Attrs>>,
        /// What to do with the next hop.
        next_hop: NextHopAction,
    },
}

/// Next-hop rewriting asked for by a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextHopAction {
    /// Leave it to the session rules.
    Unchanged,
    /// Keep the route's next hop even where the session rules would rewrite it (eBGP):
    /// FRR's `set ip next-hop unchanged`.
    Keep,
    /// Our address on the session.
    SelfAddress,
    /// The peer's address (import side: the neighbor that sent the route).
    PeerAddress,
    /// This address.
    Address(IpAddr),
}

/// A routing policy as the speaker uses it.
pub trait RoutePolicy {
    /// Evaluates the policy for one route.
    fn evaluate(&self, prefix: Prefix, attrs: &Attrs) -> PolicyResult;

    /// Whether the result may depend on the prefix beyond its family (a prefix-list
    /// match): if not, the result for one attribute set serves every prefix that has it.
    /// The default is the safe answer.
    fn reads_prefix(&self) -> bool {
        true
    }
}

/// Where a route came from, as the advertisement rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Originated by this speaker.
    Local,
    /// Learned over eBGP.
    External,
    /// Learned over iBGP from a route-reflector client (RFC 4456).
    InternalClient,
    /// Learned over iBGP from a non-client.
    Internal,
}

/// The parts of a peer's outbound settings shared by an update group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    /// The peer is eBGP.
    pub external: bool,
    /// Nothing is exported: an eBGP peer without export policy under RFC 8212 (§3).
    /// A `default-originate` route, configured for the peer by name, is still sent.
    pub withhold: bool,
    /// The AS we present.
    pub local_asn: u32,
    /// Our BGP identifier (ORIGINATOR_ID of reflected routes).
    pub router_id: Ipv4Addr,
    /// Cluster id when reflecting (RFC 4456 §7).
    pub cluster_id: Ipv4Addr,
    /// The peer is a route-reflector client.
    pub rr_client: bool,
    /// Routes from clients are reflected to other clients (RFC 4456 §5).
    pub client_to_client: bool,
    /// The peers get a default route whatever the RIB holds.
    pub default_originate: bool,
    /// Graceful shutdown (RFC 8326 §4.1): every route sent carries the
    /// GRACEFUL_SHUTDOWN community, and LOCAL_PREF 0 to iBGP peers.
    pub graceful_shutdown: bool,
    /// Export policy name.
    pub export_policy: Option<String>,
    /// `next-hop-self` towards iBGP.
    pub next_hop_self: bool,
    /// Send context (4-octet AS, ADD-PATH, extended messages).
    pub tx: SessionContext,
    /// Families negotiated.
    pub families: Vec<Family>,
    /// IPv6 next hops allowed for IPv4 routes (RFC 8950).
    pub extended_nexthop: bool,
    /// Our IPv4 address towards the peer (next-hop self for IPv4 routes).
    pub local_v4: Option<Ipv4Addr>,
    /// Our IPv6 addresses towards the peer: global (or link-local) and link-local.
    pub local_v6: Option<(Ipv6Addr, Option<Ipv6Addr>)>,
}

impl GroupKey {
    /// The group's export policy among the configured `policies` (None: no policy, or a
    /// name that is not configured).
    pub fn export_policy_in<'p>(
        &self,
        policies: &'p std::collections::HashMap<String, Box<dyn RoutePolicy>>,
    ) -> Option<&'p dyn RoutePolicy> {
        self.export_policy
            .as_deref()
            .and_then(|n| policies.get(n))
            .map(|p| &**p)
    }
}

/// A route as a peer will receive it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Exported {
    /// Encoded path attributes field (NEXT_HOP included when `in_nlri_field`).
    pub attrs: std::rc::Rc<[u8]>,
    /// The next hop (for MP_REACH_NLRI).
    pub next_hop: NextHop,
    /// IPv4 prefix carried in the NLRI field (else in MP_REACH_NLRI).
    pub in_nlri_field: bool,
}

/// Applies the advertisement rules and the export policy, and encodes the result. Returns
/// `None` if the route is not sent to peers of this group. `originator` is the router id
/// of the peer the route came from: the ORIGINATOR_ID of a reflected route that has none
/// yet (RFC 4456 §8).
pub fn export(
    prefix: Prefix,
    attrs: &Attrs,
    source: Source,
    originator: Ipv4Addr,
    key: &GroupKey,
    policy: Option<&dyn RoutePolicy>,
) -> Option<Exported> {
    let o = outbound(prefix, attrs, source, originator, key, policy)?;
    let mut bytes = Vec::with_capacity(64);
    o.attrs.encode(&key.tx, o.in_nlri_field, &mut bytes);
    Some(Exported {
        attrs: bytes.into(),
        next_hop: o.next_hop,
        in_nlri_field: o.in_nlri_field,
    })
}

/// A route as a peer will receive it, before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound<'a> {
    /// The attributes sent (NEXT_HOP set to `next_hop`).
    pub attrs: Cow<'a, Attrs>,
    /// The next hop.
    pub next_hop: NextHop,
    /// IPv4 prefix carried in the NLRI field (else in MP_REACH_NLRI).
    pub in_nlri_field: bool,
}

/// [`export`] without the encoding: the attributes a peer of the group is sent for the
/// route (what `show bgp routes --advertised-to` shows).
pub fn outbound<'a>(
    prefix: Prefix,
    attrs: &'a Attrs,
    source: Source,
    originator: Ipv4Addr,
    key: &GroupKey,
    policy: Option<&dyn RoutePolicy>,
) -> Option<Outbound<'a>> {
    let family = match prefix {
        Prefix::V4(_) => Family::IPV4_UNICAST,
        Prefix::V6(_) => Family::IPV6_UNICAST,
    };
    if !key.families.contains(&family) {
        return None;
    }
    // RFC 1997.
    if attrs.has_community(Community::NO_ADVERTISE) {
        return None;
    }
    if key.external
        && (attrs.has_community(Community::NO_EXPORT)
            || attrs.has_community(Community::NO_EXPORT_SUBCONFED))
    {
        return None;
    }
    // iBGP split horizon and route reflection (RFC 4456 §6).
    if !key.external {
        match source {
            Source::Internal if !key.rr_client => return None,
            Source::InternalClient if key.rr_client && !key.client_to_client => return None,
            Source::Internal | Source::InternalClient | Source::External | Source::Local => {}
        }
    }
    let reflected = !key.external && matches!(source, Source::Internal | Source::InternalClient);
    let mut a = Cow::Borrowed(attrs);
    let mut self_nh = attrs.next_hop.is_local();
    if key.external {
        let m = a.to_mut();
        m.as_path.prepend(key.local_asn, 1);
        m.local_pref = None;
        m.originator_id = None;
        m.cluster_list.clear();
        // RFC 4271 §5.1.4: a MED received from a neighboring AS is not passed on to other
        // neighboring ASes.
        if source != Source::Local {
            m.med = None;
        }
        self_nh = true;
    } else {
        if attrs.local_pref.is_none() {
            a.to_mut().local_pref = Some(100);
        }
        if reflected {
            // RFC 4456 §8: set ORIGINATOR_ID if absent, prepend our cluster id.
            let m = a.to_mut();
            if m.originator_id.is_none() {
                m.originator_id = Some(originator);
            }
            m.cluster_list.insert(0, key.cluster_id);
        } else if key.next_hop_self {
            self_nh = true;
        }
    }
    if let Some(p) = policy {
        match p.evaluate(prefix, &a) {
            PolicyResult::Reject => return None,
            PolicyResult::Accept {
                attrs: modified,
                next_hop,
            } => {
                if let Some(m) = modified {
                    a = Cow::Owned(*m);
                }
                match next_hop {
                    NextHopAction::Unchanged => {}
                    NextHopAction::Keep => self_nh = attrs.next_hop.is_local(),
                    // Outbound, "peer address" is our end of the session, as in FRR.
                    NextHopAction::SelfAddress | NextHopAction::PeerAddress => self_nh = true,
                    NextHopAction::Address(addr) => {
                        a.to_mut().next_hop = addr.into();
                        self_nh = false;
                    }
                }
            }
        }
    }
    if key.graceful_shutdown {
        // After the export policy, which cannot take it away (as FRR does).
        a.to_mut().mark_graceful_shutdown(!key.external);
    }
    let mut next_hop = if self_nh {
        self_next_hop(family, key)?
    } else {
        a.next_hop
    };
    // A next hop the peer cannot take (an IPv6 one for an IPv4 route without RFC 8950, an
    // IPv4 one for an IPv6 route) is replaced by our own, as FRR does: an iBGP peer of an
    // unnumbered router still gets the routes learned over the unnumbered links.
    let unusable = match (family, next_hop) {
        (Family::IPV4_UNICAST, NextHop::V6 { .. }) => !key.extended_nexthop,
        (Family::IPV6_UNICAST, NextHop::V4(_)) => true,
        _ => false,
    };
    if unusable {
        next_hop = self_next_hop(family, key)?;
    }
    let in_nlri_field = family == Family::IPV4_UNICAST && matches!(next_hop, NextHop::V4(_));
    if family == Family::IPV4_UNICAST && !in_nlri_field && !key.extended_nexthop {
        return None; // An IPv6 next hop for IPv4 needs RFC 8950.
    }
    if family == Family::IPV6_UNICAST && matches!(next_hop, NextHop::V4(_)) {
        return None;
    }
    if a.next_hop != next_hop {
        a.to_mut().next_hop = next_hop;
    }
    Some(Outbound {
        attrs: a,
        next_hop,
        in_nlri_field,
    })
}

/// Our address as next hop for a family: IPv4 for IPv4 routes (or IPv6 with RFC 8950);
/// the IPv6 address (global and link-local) for IPv6 routes, or the IPv4-mapped address
/// when the session has no IPv6 address.
pub fn self_next_hop(family: Family, key: &GroupKey) -> Option<NextHop> {
    if family == Family::IPV4_UNICAST {
        if let Some(a) = key.local_v4 {
            return Some(NextHop::V4(a));
        }
        if key.extended_nexthop {
            if let Some((g, ll)) = key.local_v6 {
                return Some(NextHop::V6 {
                    global: g,
                    link_local: ll,
                });
            }
        }
        return None;
    }
    match (key.local_v6, key.local_v4) {
        (Some((g, ll)), _) => Some(NextHop::V6 {
            global: g,
            link_local: ll,
        }),
        (None, Some(a)) => Some(NextHop::V6 {
            global: a.to_ipv6_mapped(),
            link_local: None,
        }),
        (None, None) => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bgp_wire::{AsPath, Origin};

    pub(crate) fn key(external: bool) -> GroupKey {
        GroupKey {
            external,
            withhold: false,
            local_asn: 65000,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
            cluster_id: Ipv4Addr::new(10, 0, 0, 1),
            client_to_client: true,
            default_originate: false,
            graceful_shutdown: false,
            rr_client: false,
            export_policy: None,
            next_hop_self: false,
            tx: if external {
                SessionContext::ebgp()
            } else {
                SessionContext::ibgp()
            },
            families: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
            extended_nexthop: false,
            local_v4: Some(Ipv4Addr::new(10, 0, 0, 1)),
            local_v6: None,
        }
    }

    fn learned(med: Option<u32>) -> Attrs {
        let mut a = Attrs::local(Origin::Igp);
        a.as_path = AsPath::sequence([65001]);
        a.next_hop = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
        a.med = med;
        a.local_pref = Some(150);
        a
    }

    fn decoded(e: &Exported, ctx: SessionContext) -> Attrs {
        let mut msg = Vec::new();
        let p: bgp_wire::Ipv4Prefix = "10.1.0.0/24".parse().unwrap();
        bgp_wire::UpdatePacker::new(ctx)
            .announce_ipv4(&e.attrs, [bgp_wire::Nlri::new(p)], &mut msg)
            .unwrap();
        let (bgp_wire::Message::Update(u), _) = bgp_wire::Message::decode(&msg, &ctx).unwrap()
        else {
            panic!()
        };
        Attrs::from_update(&u)
    }

    const P: &str = "10.1.0.0/24";
    const ID: Ipv4Addr = Ipv4Addr::new(10, 9, 9, 8);

    #[test]
    fn ebgp_export_prepends_sets_next_hop_self_and_strips_ibgp_attributes() {
        let e = export(
            P.parse().unwrap(),
            &learned(Some(7)),
            Source::External,
            ID,
            &key(true),
            None,
        )
        .unwrap();
        let a = decoded(&e, SessionContext::ebgp());
        assert_eq!(a.as_path.to_string(), "65000 65001");
        assert_eq!(a.next_hop, NextHop::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!((a.local_pref, a.med), (None, None));
    }

    #[test]
    fn ibgp_export_keeps_the_next_hop_and_sets_local_pref() {
        let e = export(
            P.parse().unwrap(),
            &learned(Some(7)),
            Source::External,
            ID,
            &key(false),
            None,
        )
        .unwrap();
        let a = decoded(&e, SessionContext::ibgp());
        assert_eq!(a.as_path.to_string(), "65001");
        assert_eq!(a.next_hop, NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!((a.local_pref, a.med), (Some(150), Some(7)));
    }

    #[test]
    fn in_graceful_shutdown_every_route_carries_the_community_and_ibgp_gets_local_pref_zero() {
        let p: Prefix = P.parse().unwrap();
        let mut learned = learned(Some(7));
        learned.communities.push(Community::new(65001, 1));
        for external in [true, false] {
            let mut k = key(external);
            k.graceful_shutdown = true;
            let e = export(p, &learned, Source::External, ID, &k, None).unwrap();
            let ctx = if external {
                SessionContext::ebgp()
            } else {
                SessionContext::ibgp()
            };
            let a = decoded(&e, ctx);
            assert_eq!(
                a.communities.to_vec(),
                vec![Community::new(65001, 1), Community::GRACEFUL_SHUTDOWN],
                "RFC 8326 §4.1, external {external}"
            );
            let want = if external { None } else { Some(0) };
            assert_eq!(a.local_pref, want, "external {external}");
        }
        // Without it: untouched.
        let e = export(p, &learned, Source::External, ID, &key(false), None).unwrap();
        let a = decoded(&e, SessionContext::ibgp());
        assert!(!a.has_community(Community::GRACEFUL_SHUTDOWN));
        assert_eq!(a.local_pref, Some(150));
    }

    #[test]
    fn ibgp_routes_are_not_sent_to_ibgp_peers_unless_they_are_reflector_clients() {
        let p: Prefix = P.parse().unwrap();
        assert!(export(p, &learned(None), Source::Internal, ID, &key(false), None).is_none());
        let mut client = key(false);
        client.rr_client = true;
        let e = export(
            p,
            &learned(None),
            Source::Internal,
            Ipv4Addr::new(10, 9, 9, 9),
            &client,
            None,
        )
        .unwrap();
        let a = decoded(&e, SessionContext::ibgp());
        assert_eq!(a.originator_id, Some(Ipv4Addr::new(10, 9, 9, 9)));
        assert_eq!(a.cluster_list, vec![Ipv4Addr::new(10, 0, 0, 1)]);
    }

    #[test]
    fn an_ipv6_next_hop_of_an_ipv4_route_becomes_ours_for_a_peer_without_extended_next_hop() {
        let p: Prefix = P.parse().unwrap();
        let mut a = learned(None);
        a.next_hop = NextHop::V6 {
            global: "fe80::1".parse().unwrap(),
            link_local: Some("fe80::1".parse().unwrap()),
        };
        let e = export(p, &a, Source::External, ID, &key(false), None).unwrap();
        assert!(e.in_nlri_field);
        assert_eq!(e.next_hop, NextHop::V4(Ipv4Addr::new(10, 0, 0, 1)));
        let mut ext = key(false);
        ext.extended_nexthop = true;
        let e = export(p, &a, Source::External, ID, &ext, None).unwrap();
        assert!(!e.in_nlri_field, "kept with RFC 8950");
    }

    #[test]
    fn without_client_to_client_reflection_client_routes_reach_only_non_clients() {
        let p: Prefix = P.parse().unwrap();
        let mut client = key(false);
        client.rr_client = true;
        client.client_to_client = false;
        let src = Source::InternalClient;
        assert!(export(p, &learned(None), src, ID, &client, None).is_none());
        let e = export(p, &learned(None), src, ID, &key(false), None).unwrap();
        assert_eq!(decoded(&e, SessionContext::ibgp()).originator_id, Some(ID));
        client.client_to_client = true;
        assert!(export(p, &learned(None), src, ID, &client, None).is_some());
    }

    #[test]
    fn well_known_communities_limit_the_advertisement() {
        let p: Prefix = P.parse().unwrap();
        let mut a = learned(None);
        a.communities = thin_vec::thin_vec![Community::NO_EXPORT];
        assert!(export(p, &a, Source::External, ID, &key(true), None).is_none());
        assert!(export(p, &a, Source::External, ID, &key(false), None).is_some());
        a.communities = thin_vec::thin_vec![Community::NO_ADVERTISE];
        assert!(export(p, &a, Source::External, ID, &key(false), None).is_none());
    }

    #[test]
    fn local_routes_get_next_hop_self_everywhere_and_keep_their_med() {
        let mut a = Attrs::local(Origin::Igp);
        a.med = Some(3);
        let e = export(P.parse().unwrap(), &a, Source::Local, ID, &key(false), None).unwrap();
        assert_eq!(e.next_hop, NextHop::V4(Ipv4Addr::new(10, 0, 0, 1)));
        let e = export(P.parse().unwrap(), &a, Source::Local, ID, &key(true), None).unwrap();
        assert_eq!(decoded(&e, SessionContext::ebgp()).med, Some(3));
    }

    #[test]
    fn ipv6_routes_over_an_ipv4_session_use_the_mapped_address() {
        let p: Prefix = "fd00::/64".parse().unwrap();
        let e = export(
            p,
            &Attrs::local(Origin::Igp),
            Source::Local,
            ID,
            &key(true),
            None,
        )
        .unwrap();
        assert_eq!(
            e.next_hop,
            NextHop::V6 {
                global: Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped(),
                link_local: None
            }
        );
        assert!(!e.in_nlri_field);
    }
}
