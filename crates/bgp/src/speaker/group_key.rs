//! The update-group key of a session: what decides the attributes its routes are sent
//! with.

use std::net::{IpAddr, SocketAddr};

use super::{LocalAddrs, PeerSpec, SpeakerConfig};
use crate::export::rules::GroupKey;
use crate::negotiate::Negotiated;

/// The update-group key of a session.
pub(super) fn group_key(
    cfg: &SpeakerConfig,
    spec: &PeerSpec,
    n: &Negotiated,
    local: SocketAddr,
    addrs: &LocalAddrs,
) -> GroupKey {
    let (mut local_v4, mut local_v6) = match local.ip() {
        IpAddr::V4(a) => (Some(a), None),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => (Some(v4), None),
            None => {
                let ll = (a.segments()[0] & 0xffc0 == 0xfe80).then_some(a);
                (None, Some((a, ll)))
            }
        },
    };
    if local_v4.is_none() {
        local_v4 = addrs.v4;
    }
    match (&mut local_v6, addrs.v6, addrs.v6_link_local) {
        (None, Some(g), ll) => local_v6 = Some((g, ll)),
        (None, None, Some(ll)) => local_v6 = Some((ll, Some(ll))),
        (Some((g, ll)), _, Some(l)) if ll.is_none() && *g != l => *ll = Some(l),
        _ => {}
    }
    GroupKey {
        external: n.is_external(),
        withhold: cfg.withholds(n.is_external(), spec.export.as_deref()),
        local_asn: spec.local_asn,
        router_id: cfg.router_id,
        cluster_id: cfg.cluster_id,
        rr_client: spec.rr_client,
        client_to_client: cfg.client_to_client,
        default_originate: spec.default_originate,
        graceful_shutdown: spec.graceful_shutdown,
        export_policy: spec.export.clone(),
        next_hop_self: spec.next_hop_self,
        tx: n.tx,
        families: n.families.clone(),
        extended_nexthop: n.extended_nexthop,
        local_v4,
        local_v6,
    }
}
