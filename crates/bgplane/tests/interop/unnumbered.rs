//! Unnumbered eBGP (seed 002's fabric): bgplane's neighbor is named by its interface,
//! the session runs between the link-local addresses, and IPv4 routes travel with IPv6
//! next hops (extended next hop, RFC 8950). FRR is configured the same way
//! (`neighbor IF interface remote-as ...`, peer found through router advertisements);
//! BIRD is given bgplane's link-local address (`neighbor fe80::...%IF`).
//!
//! Topology: bgplane in `a` (AS 65000), the daemon in `b` (AS 65001), one veth without
//! IPv4 addresses (fd90::1 and fd90::2 besides the link-local ones).

use serde_json::Value;

use crate::harness::bgplane::{Bgplane, BgplaneConf, NeighborConf};
use crate::harness::daemon::{self, routes, DaemonSpec, Kind, RouteSpec, Unnumbered};
use crate::harness::{timeouts, wait_for, Lab};

/// A path of `prefix` at bgplane that came from a neighbor (not originated locally).
fn learned_path(bg: &Bgplane, prefix: &str) -> Result<Value, String> {
    bg.paths(prefix)?
        .into_iter()
        .find(|p| p["from"] != "local")
        .ok_or_else(|| format!("bgplane has no learned path for {prefix}"))
}

fn has(bg: &Bgplane, r: &RouteSpec) -> Result<Value, String> {
    let p = learned_path(bg, r.prefix)?;
    let strings = |k: &str| -> Vec<String> {
        p[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect()
    };
    r.matches(&daemon::Route {
        prefix: r.prefix.into(),
        communities: strings("communities"),
        large: strings("large_communities"),
        ..Default::default()
    })?;
    Ok(p)
}

fn unnumbered_session_carries_ipv4_and_ipv6_routes(test: &str, kind: Kind) {
    let Some(lab) = Lab::new(test, &[kind.need()]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link_v6_only(&a, &b);
    let spec = DaemonSpec {
        asn: 65001,
        router_id: std::net::Ipv4Addr::new(10, 0, 0, 2),
        v4: link.b4,
        v6: link.b6,
        peer: link.a4,
        peer_as: 65000,
        passive: false,
        hold_time: 9,
        routes: routes::DAEMON.to_vec(),
        password: None,
        gtsm: false,
        unnumbered: Some(Unnumbered {
            ifname: link.b_if.clone(),
            peer_ll: link.a_ll,
        }),
    };
    let mut d = kind.start(&lab, &b, &spec);
    let mut nb = NeighborConf::new(link.b4, 65001);
    nb.interface = Some(link.a_if.clone());
    let bg = Bgplane::start(
        &lab,
        &a,
        "bgplane",
        BgplaneConf {
            asn: 65000,
            router_id: std::net::Ipv4Addr::new(10, 0, 0, 1),
            listen: vec![],
            networks: routes::BGPLANE.to_vec(),
            neighbors: vec![nb],
        },
    );
    let n = wait_for(
        "bgplane's unnumbered session to be Established",
        timeouts::SESSION,
        || {
            let n = bg.only_neighbor()?;
            if n["state"] == "Established" {
                Ok(n)
            } else {
                Err(format!(
                    "state {}, last error {}",
                    n["state"], n["last_error"]
                ))
            }
        },
    );
    let session = &n["session"];
    let remote = session["remote"].as_str().unwrap_or_default();
    assert!(
        remote.contains(&link.b_ll.to_string()),
        "the session runs to the daemon's link-local address {}: {session}",
        link.b_ll
    );
    assert_eq!(
        session["extended_nexthop"], true,
        "extended next hop negotiated: {session}"
    );
    let name = d.name();
    wait_for(
        &format!("{name}'s unnumbered session to be Established"),
        timeouts::SESSION,
        || d.established(link.a_ll.into()),
    );
    for r in [routes::D4, routes::D6] {
        let p = wait_for(
            &format!("bgplane to hold {name}'s {} with its communities", r.prefix),
            timeouts::ROUTES,
            || has(&bg, &r),
        );
        let nh = p["next_hop"].as_str().unwrap_or_default();
        assert!(
            nh.contains(':'),
            "{}: an IPv6 next hop on an unnumbered session, got {nh}",
            r.prefix
        );
    }
    for r in [routes::B4, routes::B6] {
        wait_for(
            &format!("{name} to hold bgplane's {} with its communities", r.prefix),
            timeouts::ROUTES,
            || daemon::has_route(d.as_mut(), &r),
        );
        let seen = d.route(r.prefix).expect("route").expect("present");
        assert!(
            seen.next_hop.contains(':'),
            "{name} should see an IPv6 next hop for {}: {seen:?}",
            r.prefix
        );
    }
}

#[test]
fn unnumbered_session_with_frr_carries_ipv4_and_ipv6_routes() {
    unnumbered_session_carries_ipv4_and_ipv6_routes("un-frr", Kind::Frr);
}

#[test]
fn unnumbered_session_with_bird_carries_ipv4_and_ipv6_routes() {
    unnumbered_session_carries_ipv4_and_ipv6_routes("un-bird", Kind::Bird);
}
