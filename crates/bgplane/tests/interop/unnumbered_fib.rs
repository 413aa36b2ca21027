//! Unnumbered eBGP as seed 002's fabric runs it, down to the kernel: a link without IPv4
//! addresses, the session over the IPv6 link-local addresses found by router
//! advertisements, IPv4 routes with IPv6 next hops (RFC 8950) installed by both sides
//! (`10.0.0.2 via inet6 fe80::... proto bgp`), and IPv4 pings between the loopbacks.
//!
//! Topology: namespace `a` (bgplane, AS 65000, lo 10.0.0.1/32) and `b` (FRR with zebra,
//! or bgplane, AS 65001, lo 10.0.0.2/32), one veth with only IPv6 link-local addresses.

use crate::harness::bgplane::Bgplane;
use crate::harness::frr_router::{self, FrrRouter};
use crate::harness::kernel;
use crate::harness::{say, timeouts, wait_for, Lab, Link, Need};

/// bgplane with one unnumbered neighbor on `ifname`, announcing its loopback `lo`.
fn bgplane_yaml(asn: u32, id: &str, lo: &str, ifname: &str, passive: bool) -> String {
    format!(
        "router:\n  asn: {asn}\n  router-id: {id}\nnetworks: [{lo}]\nneighbors:\n  \
         - {{ interface: {ifname}, remote-as: external, passive: {passive}, hold-time: 9, \
         connect-retry: 1 }}\n"
    )
}

/// Checks both kernels and pings both ways.
fn check_kernels_and_ping(a: &str, b: &str, link: &Link) {
    let (a_ll, b_ll) = (link.a_ll.to_string(), link.b_ll.to_string());
    let ra = wait_for(
        "a's kernel route to 10.0.0.2/32 via b's link-local address",
        timeouts::ROUTES,
        || kernel::bgp_route_via(a, "10.0.0.2/32", &[&b_ll]),
    );
    assert_eq!(ra.devices, [link.a_if.as_str()], "{:?}", ra.raw);
    assert_eq!(
        ra.raw["via"]["family"], "inet6",
        "an IPv6 next hop: {}",
        ra.raw
    );
    let rb = wait_for(
        "b's kernel route to 10.0.0.1/32 via a's link-local address",
        timeouts::ROUTES,
        || kernel::bgp_route_via(b, "10.0.0.1/32", &[&a_ll]),
    );
    assert_eq!(rb.devices, [link.b_if.as_str()], "{:?}", rb.raw);
    kernel::wait_ping(a, "10.0.0.1", "10.0.0.2");
    kernel::wait_ping(b, "10.0.0.2", "10.0.0.1");
}

/// bgplane and FRR over an unnumbered link; then `restarts` times bgplane stops
/// (SIGTERM) and starts again, and the session, the routes in both kernels and the pings
/// must come back each time.
fn with_frr(test: &str, bgplane_connects: bool, restarts: usize) {
    let Some(lab) = Lab::new(test, &[Need::Frr]) else {
        return;
    };
    if let Err(why) = kernel::need_ping() {
        say(&format!("SKIPPED {test}: {why}"));
        return;
    }
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link_bare(&a, &b);
    kernel::add_loopback(&a, "10.0.0.1/32");
    kernel::add_loopback(&b, "10.0.0.2/32");
    let n = &link.b_if;
    let mut conf = frr_router::router_bgp(65001, "10.0.0.2");
    conf += &format!(
        " neighbor {n} interface remote-as external\n neighbor {n} timers 3 9\n \
         neighbor {n} timers connect 1\n neighbor {n} advertisement-interval 0\n"
    );
    if bgplane_connects {
        conf += &format!(" neighbor {n} passive\n");
    }
    conf += &format!(
        "!\n address-family ipv4 unicast\n  neighbor {n} activate\n  network 10.0.0.2/32\n \
         exit-address-family\n!\n"
    );
    let frr = FrrRouter::start(&lab, &b, "frr", 65001, &conf);
    let y = bgplane_yaml(
        65000,
        "10.0.0.1",
        "10.0.0.1/32",
        &link.a_if,
        !bgplane_connects,
    );
    let mut bg = Bgplane::start_yaml(&lab, &a, "bgplane", &y, true);
    for round in 0..=restarts {
        if round > 0 {
            bg.stop();
            bg.start_again(&lab);
        }
        wait_for(
            &format!(
                "bgplane's unnumbered session to be Established (start {})",
                round + 1
            ),
            timeouts::SESSION,
            || {
                let n = bg.only_neighbor()?;
                if n["state"] == "Established" {
                    Ok(())
                } else {
                    Err(format!("{n}"))
                }
            },
        );
        frr.wait_established(n);
        let nb = bg.only_neighbor().expect("the neighbor");
        assert!(
            nb["session"]["remote"]
                .as_str()
                .unwrap_or_default()
                .contains(&link.b_ll.to_string()),
            "the session runs to FRR's link-local address: {nb}"
        );
        // FRR keeps a restarted bgplane's route as stale until its End-of-RIB: only a
        // fresh one counts.
        wait_for(
            &format!(
                "FRR to hold bgplane's 10.0.0.1/32, not stale (start {})",
                round + 1
            ),
            timeouts::ROUTES,
            || match frr.path("10.0.0.1/32") {
                Ok(p) if !frr_router::is_stale(&p) => Ok(()),
                Ok(p) => Err(format!("stale: {p}")),
                Err(e) => Err(e),
            },
        );
        check_kernels_and_ping(&a, &b, &link);
    }
}

#[test]
fn unnumbered_session_with_frr_installs_routes_in_both_kernels_and_pings_when_bgplane_connects_and_after_it_restarts(
) {
    with_frr("unk-frr-b", true, 1);
}

// FRR connecting races with bgplane's discovery of FRR's link-local address:
// `unnumbered_accept.rs` goes through that race many times.
#[test]
fn unnumbered_session_with_frr_installs_routes_in_both_kernels_and_pings_when_frr_connects() {
    with_frr("unk-frr-f", false, 0);
}

#[test]
fn unnumbered_session_between_two_bgplane_routers_installs_routes_and_pings() {
    let Some(lab) = Lab::new("unk-bb", &[]) else {
        return;
    };
    if let Err(why) = kernel::need_ping() {
        say(&format!("SKIPPED unk-bb: {why}"));
        return;
    }
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link_bare(&a, &b);
    kernel::add_loopback(&a, "10.0.0.1/32");
    kernel::add_loopback(&b, "10.0.0.2/32");
    let ya = bgplane_yaml(65000, "10.0.0.1", "10.0.0.1/32", &link.a_if, false);
    let yb = bgplane_yaml(65001, "10.0.0.2", "10.0.0.2/32", &link.b_if, false);
    let ba = Bgplane::start_yaml(&lab, &a, "bgplane-a", &ya, true);
    let bb = Bgplane::start_yaml(&lab, &b, "bgplane-b", &yb, true);
    for (bg, peer_ll) in [(&ba, link.b_ll), (&bb, link.a_ll)] {
        wait_for(
            "the unnumbered session between the bgplanes to be Established",
            timeouts::SESSION,
            || {
                let n = bg.only_neighbor()?;
                let remote = n["session"]["remote"].as_str().unwrap_or_default();
                if n["state"] == "Established" && remote.contains(&peer_ll.to_string()) {
                    Ok(())
                } else {
                    Err(format!("{n}"))
                }
            },
        );
    }
    check_kernels_and_ping(&a, &b, &link);
}
