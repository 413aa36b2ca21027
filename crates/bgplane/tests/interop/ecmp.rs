//! ECMP (seed 000's commented-out leaf options): `maximum-paths` with `bestpath
//! as-path-multipath-relax`, the multipath set in `show bgp routes` and one multipath
//! route in the kernel.
//!
//! Topology: bgplane in `a` (AS 65000, kernel FIB on), FRR `b1` (AS 65001, link 0:
//! 10.90.0.2) and FRR `b2` (AS 65002, link 1: 10.91.0.2), both announcing 10.5.0.0/24;
//! for iBGP both FRRs are in AS 65000.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;

use crate::harness::bgplane::Bgplane;
use crate::harness::frr_router::{self, FrrRouter};
use crate::harness::kernel;
use crate::harness::{holds_for, timeouts, wait_for, Lab, Link, Need};

const PREFIX: &str = "10.5.0.0/24";

/// FRR number `i` in AS `asn` with bgplane at `link.a4`, announcing [`PREFIX`].
fn frr(lab: &Lab, i: u32, asn: u32, link: &Link) -> FrrRouter {
    let n = link.a4.to_string();
    let conf = format!(
        "{}{}!\n address-family ipv4 unicast\n  neighbor {n} activate\n  network {PREFIX}\n \
         exit-address-family\n!\n",
        frr_router::router_bgp(asn, &format!("10.0.0.1{i}")),
        frr_router::neighbor(&n, "65000"),
    );
    FrrRouter::start(lab, &link.b_ns, &format!("b{i}"), asn, &conf)
}

struct EcmpLab {
    b1: FrrRouter,
    b2: FrrRouter,
    bgplane: Bgplane,
    a: String,
    links: [Link; 2],
    _lab: Lab,
}

/// The lab: eBGP (FRRs in AS 65001 and 65002, `maximum-paths: { ebgp: 2 }`) or iBGP
/// (both in AS 65000, `maximum-paths: { ibgp: 2 }`).
fn start(test: &str, relax: bool, ibgp: bool) -> Option<EcmpLab> {
    let lab = Lab::new(test, &[Need::Frr])?;
    let a = lab.netns("a");
    let (n1, n2) = (lab.netns("b1"), lab.netns("b2"));
    let links = [lab.link(&a, &n1), lab.link(&a, &n2)];
    let (as1, as2, kind) = if ibgp {
        (65000, 65000, "ibgp")
    } else {
        (65001, 65002, "ebgp")
    };
    let y = format!(
        "router:\n  asn: 65000\n  router-id: 10.0.0.1\n  listen: [0.0.0.0]\n  \
         maximum-paths: {{ {kind}: 2 }}\n  bestpath: {{ as-path-multipath-relax: {relax} }}\n\
         neighbors:\n  - {{ address: {}, remote-as: {as1}, hold-time: 9, connect-retry: 1 }}\n  \
         - {{ address: {}, remote-as: {as2}, hold-time: 9, connect-retry: 1 }}\n",
        links[0].b4, links[1].b4
    );
    let b1 = frr(&lab, 1, as1, &links[0]);
    let b2 = frr(&lab, 2, as2, &links[1]);
    let bgplane = Bgplane::start_yaml(&lab, &a, "bgplane", &y, true);
    for (f, l) in [(&b1, &links[0]), (&b2, &links[1])] {
        bgplane.wait_established(IpAddr::V4(l.b4));
        f.wait_established(&l.a4.to_string());
    }
    Some(EcmpLab {
        b1,
        b2,
        bgplane,
        a,
        links,
        _lab: lab,
    })
}

/// bgplane's two paths for [`PREFIX`], once it has both.
fn both_paths(bg: &Bgplane) -> Result<Vec<Value>, String> {
    let paths = bg.paths(PREFIX)?;
    if paths.len() == 2 {
        Ok(paths)
    } else {
        Err(format!("want 2 paths for {PREFIX}: {paths:?}"))
    }
}

/// Waits for the multipath set of both paths, in `show bgp routes` and in the kernel.
fn multipath_set(s: &EcmpLab) {
    let (nh1, nh2) = (s.links[0].b4.to_string(), s.links[1].b4.to_string());
    wait_for(
        "bgplane to show both paths of 10.5.0.0/24 in the multipath set",
        timeouts::ROUTES,
        || {
            // bgplane flags the best path `best` and its companions `multipath` (FRR
            // marks the best one multipath too).
            let paths = both_paths(&s.bgplane)?;
            let best = paths.iter().filter(|p| p["best"] == true).count();
            let companions = paths
                .iter()
                .filter(|p| p["best"] != true && p["multipath"] == true)
                .count();
            if best == 1 && companions == 1 {
                Ok(())
            } else {
                Err(format!(
                    "{best} best and {companions} multipath companions: {paths:?}"
                ))
            }
        },
    );
    let r = wait_for(
        "one kernel route for 10.5.0.0/24 with two next hops",
        timeouts::ROUTES,
        || kernel::bgp_route_via(&s.a, PREFIX, &[&nh1, &nh2]),
    );
    assert!(
        r.raw["nexthops"].is_array(),
        "a multipath route (nexthop via ... nexthop via ...): {}",
        r.raw
    );
}

#[test]
fn ecmp_installs_one_kernel_route_with_both_next_hops_and_falls_back_to_one() {
    let Some(s) = start("ecmp", true, false) else {
        return;
    };
    multipath_set(&s);
    let (nh1, nh2) = (s.links[0].b4.to_string(), s.links[1].b4.to_string());
    // b2 withdraws: a single next hop is left.
    s.b2.configure(&[
        "address-family ipv4 unicast",
        &format!("no network {PREFIX}"),
    ]);
    wait_for(
        "the kernel route for 10.5.0.0/24 to keep only b1's next hop",
        timeouts::ROUTES,
        || kernel::bgp_route_via(&s.a, PREFIX, &[&nh1]),
    );
    let paths = s.bgplane.paths(PREFIX).expect("bgplane's paths");
    assert_eq!(paths.len(), 1, "one path left: {paths:?}");
    assert_eq!(paths[0]["best"], true, "{paths:?}");
    // b2 announces it again: both next hops come back.
    s.b2.configure(&["address-family ipv4 unicast", &format!("network {PREFIX}")]);
    wait_for(
        "the kernel route for 10.5.0.0/24 to have both next hops again",
        timeouts::ROUTES,
        || kernel::bgp_route_via(&s.a, PREFIX, &[&nh1, &nh2]),
    );
    // b1 goes away entirely (its session with it): b2's next hop alone.
    s.b1.configure(&[&format!("neighbor {} shutdown", s.links[0].a4)]);
    wait_for(
        "the kernel route for 10.5.0.0/24 to keep only b2's next hop",
        timeouts::ROUTES,
        || kernel::bgp_route_via(&s.a, PREFIX, &[&nh2]),
    );
}

#[test]
fn without_multipath_relax_paths_through_different_ases_are_not_combined() {
    let Some(s) = start("ecmp-strict", false, false) else {
        return;
    };
    wait_for("bgplane to hold both paths", timeouts::ROUTES, || {
        both_paths(&s.bgplane).map(|_| ())
    });
    let one = || -> Result<(), String> {
        let paths = both_paths(&s.bgplane)?;
        let companions = paths
            .iter()
            .filter(|p| p["best"] != true && p["multipath"] == true)
            .count();
        if companions > 0 {
            return Err(format!("a multipath companion: {paths:?}"));
        }
        let r = kernel::route(&s.a, PREFIX)?;
        if r.gateways.len() != 1 || r.protocol != "bgp" {
            return Err(format!("want one bgp next hop, got {:?}", r.raw));
        }
        Ok(())
    };
    wait_for("a kernel route for 10.5.0.0/24", timeouts::ROUTES, &one);
    holds_for(
        "a single next hop for paths of different AS paths",
        Duration::from_secs(2),
        &one,
    );
}

#[test]
fn ibgp_ecmp_with_maximum_paths_ibgp_installs_both_next_hops() {
    let Some(s) = start("ecmp-ibgp", false, true) else {
        return;
    };
    multipath_set(&s);
}
