//! bgplane facing scripted peers: its configuration and the peers' usual steps.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::bgplane::{Bgplane, BgplaneConf, NeighborConf};
use super::daemon::RouteSpec;
use super::peer::{self, wire, RawPeer};
use super::{Lab, Link};

/// bgplane's BGP identifier.
pub(crate) const BGPLANE_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The scripted peer's AS.
pub(crate) const PEER_AS: u32 = 65001;
/// bgplane's AS in these tests.
pub(crate) const BGPLANE_AS: u32 = 65000;

/// Seconds.
pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// bgplane with one neighbor per link, each `passive` as given, hold time `hold`.
pub(crate) fn bgplane(
    lab: &Lab,
    ns: &str,
    links: &[(&Link, u32)],
    passive: bool,
    hold: u16,
) -> Bgplane {
    bgplane_with(lab, ns, links, passive, hold, vec![])
}

/// [`bgplane`] with `extra` YAML keys on every neighbor (e.g. `password: "x"`).
pub(crate) fn bgplane_extra(
    lab: &Lab,
    ns: &str,
    links: &[(&Link, u32)],
    extra: &[&str],
) -> Bgplane {
    let neighbors = links
        .iter()
        .map(|(l, asn)| {
            let mut n = NeighborConf::new(l.b4, *asn);
            n.passive = true;
            n.extra = extra.iter().map(|e| e.to_string()).collect();
            n
        })
        .collect();
    let conf = BgplaneConf {
        asn: BGPLANE_AS,
        router_id: BGPLANE_ID,
        listen: links.iter().map(|(l, _)| IpAddr::V4(l.a4)).collect(),
        networks: vec![],
        neighbors,
    };
    Bgplane::start(lab, ns, "bgplane", conf)
}

/// [`bgplane`] originating `networks`.
pub(crate) fn bgplane_with(
    lab: &Lab,
    ns: &str,
    links: &[(&Link, u32)],
    passive: bool,
    hold: u16,
    networks: Vec<RouteSpec>,
) -> Bgplane {
    let neighbors = links
        .iter()
        .map(|(l, asn)| {
            let mut n = NeighborConf::new(l.b4, *asn);
            n.passive = passive;
            n.hold_time = hold;
            n
        })
        .collect();
    let conf = BgplaneConf {
        asn: BGPLANE_AS,
        router_id: BGPLANE_ID,
        listen: links.iter().map(|(l, _)| IpAddr::V4(l.a4)).collect(),
        networks,
        neighbors,
    };
    Bgplane::start(lab, ns, "bgplane", conf)
}

/// A scripted peer connected from `link`'s side b to bgplane and Established, sending
/// KEEPALIVEs every second.
pub(crate) fn established_peer(link: &Link, asn: u32, label: &str) -> RawPeer {
    established_peer_with(link, asn, label, peer::capabilities(asn))
}

/// [`established_peer`] announcing the capabilities `caps`.
pub(crate) fn established_peer_with(
    link: &Link,
    asn: u32,
    label: &str,
    caps: Vec<bgp_wire::Capability>,
) -> RawPeer {
    let to = SocketAddr::new(IpAddr::V4(link.a4), 179);
    let mut p = RawPeer::new(peer::connect(&link.b_ns, to, secs(15)), label);
    let open = p.establish_with(&peer::open_with(asn, 9, link.b4, caps));
    assert_eq!(open.asn(), 65000, "bgplane's AS in its OPEN");
    p.keepalives(secs(1));
    p
}

/// A valid IPv4 UPDATE from the peer on `link`.
pub(crate) fn valid_update(link: &Link, prefix: &str) -> Vec<u8> {
    wire::update(
        &[],
        &[
            wire::origin(0),
            wire::as_path(&[PEER_AS]),
            wire::next_hop(link.b4),
        ],
        &wire::nlri4(prefix),
    )
}
