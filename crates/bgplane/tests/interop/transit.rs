//! bgplane as a transit router between two daemons: what one daemon announces reaches
//! the other through bgplane (eBGP in, eBGP out) with its communities and large
//! communities intact, bgplane's AS prepended and bgplane as next hop, and withdrawals
//! follow the same way.
//!
//! Topology: daemon X in `b` (AS 65001, 10.90.0.2) — bgplane in `a` (AS 65000,
//! 10.90.0.1 and 10.91.0.1) — daemon Y in `c` (AS 65002, 10.91.0.2).

use std::net::{IpAddr, Ipv4Addr};

use crate::harness::bgplane::{Bgplane, BgplaneConf, NeighborConf};
use crate::harness::daemon::{self, routes, Daemon, DaemonSpec, Kind, RouteSpec};
use crate::harness::{timeouts, wait_for, Lab, Link};

/// Field order is drop order: bgplane, the daemons, then the lab.
struct Transit {
    bgplane: Bgplane,
    x: Box<dyn Daemon>,
    y: Box<dyn Daemon>,
    lx: Link,
    ly: Link,
    _lab: Lab,
}

fn spec(link: &Link, asn: u32, id: u8, routes: Vec<RouteSpec>) -> DaemonSpec {
    DaemonSpec {
        asn,
        router_id: Ipv4Addr::new(10, 0, 0, id),
        v4: link.b4,
        v6: link.b6,
        peer: link.a4,
        peer_as: 65000,
        passive: true,
        hold_time: 9,
        routes,
        password: None,
        gtsm: false,
        unnumbered: None,
    }
}

impl Transit {
    fn start(test: &str, x: Kind, y: Kind) -> Option<Transit> {
        let lab = Lab::new(test, &[x.need(), y.need()])?;
        let (a, b, c) = (lab.netns("a"), lab.netns("b"), lab.netns("c"));
        let (lx, ly) = (lab.link(&a, &b), lab.link(&a, &c));
        let xd = x.start(
            &lab,
            &b,
            &spec(&lx, 65001, 2, vec![routes::D4, routes::D6, routes::D4W]),
        );
        let yd = y.start(&lab, &c, &spec(&ly, 65002, 3, vec![routes::E4, routes::E6]));
        let conf = BgplaneConf {
            asn: 65000,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
            listen: vec![IpAddr::V4(lx.a4), IpAddr::V4(ly.a4)],
            networks: vec![],
            neighbors: vec![
                NeighborConf::new(lx.b4, 65001),
                NeighborConf::new(ly.b4, 65002),
            ],
        };
        let bgplane = Bgplane::start(&lab, &a, "bgplane", conf);
        Some(Transit {
            bgplane,
            x: xd,
            y: yd,
            lx,
            ly,
            _lab: lab,
        })
    }
}

/// Waits until `to` holds `r` with its communities, AS path `as_path` and next hop
/// `next_hop`.
fn arrives(to: &mut dyn Daemon, r: &RouteSpec, as_path: &str, next_hop: &str) {
    let name = to.name();
    wait_for(
        &format!("{name} to hold {} through bgplane", r.prefix),
        timeouts::ROUTES,
        || {
            let seen = to
                .route(r.prefix)?
                .ok_or_else(|| format!("{name} has no route for {}", r.prefix))?;
            r.matches(&seen)?;
            if seen.as_path != as_path {
                return Err(format!("AS path {:?}, expected {as_path:?}", seen.as_path));
            }
            if seen.next_hop != next_hop {
                return Err(format!("next hop {:?}, expected {next_hop}", seen.next_hop));
            }
            Ok(())
        },
    );
}

fn routes_cross_bgplane_both_ways(test: &str, x: Kind, y: Kind) {
    let Some(mut t) = Transit::start(test, x, y) else {
        return;
    };
    let (xa, ya) = (IpAddr::V4(t.lx.b4), IpAddr::V4(t.ly.b4));
    t.bgplane.wait_established(xa);
    t.bgplane.wait_established(ya);
    // X's routes at Y: AS path 65000 65001, next hop bgplane's address towards Y.
    let (to_y4, to_y6) = (t.ly.a4.to_string(), t.ly.a6.to_string());
    arrives(t.y.as_mut(), &routes::D4, "65000 65001", &to_y4);
    arrives(t.y.as_mut(), &routes::D6, "65000 65001", &to_y6);
    arrives(t.y.as_mut(), &routes::D4W, "65000 65001", &to_y4);
    // Y's routes at X.
    let (to_x4, to_x6) = (t.lx.a4.to_string(), t.lx.a6.to_string());
    arrives(t.x.as_mut(), &routes::E4, "65000 65002", &to_x4);
    arrives(t.x.as_mut(), &routes::E6, "65000 65002", &to_x6);
    // A withdrawal at X reaches Y.
    t.x.withdraw(&routes::D4W);
    let name = t.y.name();
    wait_for(
        &format!("{name} to drop {} after the withdrawal", routes::D4W.prefix),
        timeouts::ROUTES,
        || daemon::lacks_route(t.y.as_mut(), routes::D4W.prefix),
    );
    arrives(t.y.as_mut(), &routes::D4, "65000 65001", &to_y4);
    t.bgplane.established(xa).expect("X's session");
    t.bgplane.established(ya).expect("Y's session");
    t.bgplane.assert_running();
}

#[test]
fn frr_and_bird_routes_cross_bgplane_with_communities_as_path_and_next_hop() {
    routes_cross_bgplane_both_ways("tr-fb", Kind::Frr, Kind::Bird);
}

#[test]
fn gobgp_and_openbgpd_routes_cross_bgplane_with_communities_as_path_and_next_hop() {
    routes_cross_bgplane_both_ways("tr-go", Kind::Gobgp, Kind::Openbgpd);
}
