//! Next-hop resolution following the kernel: a BGP route whose next hop only a kernel
//! route reaches is installed through that route's gateway, moves when it changes, goes
//! when it is removed or its link loses its carrier, and comes back with it; a next hop
//! that only another BGP route reaches resolves through that route (recursively).
//!
//! Topology: bgplane in `a` (kernel FIB on) with a scripted iBGP peer in `b` on link 0
//! (a 10.90.0.1, b 10.90.0.2); link 1 joins `a` to `c` (a 10.91.0.1, c 10.91.0.2), an
//! alternative gateway.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::harness::netns::ns_ip;
use crate::harness::{holds_for, kernel, timeouts, wait_for, Lab};
use crate::support;

/// The BGP route under test.
const PREFIX: &str = "10.55.1.0/24";

/// Its next hop, on no link of `a`.
const NH: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);

/// The kernel route to the next hop.
const COVER: &str = "10.200.0.0/24";

fn installed_via(ns: &str, prefix: &str, gateway: Ipv4Addr) {
    let g = gateway.to_string();
    wait_for(
        &format!("{prefix} in {ns}'s kernel via {g}"),
        timeouts::ROUTES,
        || kernel::bgp_route_via(ns, prefix, &[&g]).map(|_| ()),
    );
}

fn gone(ns: &str, prefix: &str, why: &str) {
    wait_for(
        &format!("{prefix} to leave {ns}'s kernel ({why})"),
        timeouts::ROUTES,
        || kernel::no_route(ns, prefix),
    );
}

#[test]
fn bgp_routes_follow_the_kernel_route_to_their_next_hop_as_it_changes_goes_and_comes_back() {
    let Some(lab) = Lab::new("fk-follow", &[]) else {
        return;
    };
    let (a, b, c) = (lab.netns("a"), lab.netns("b"), lab.netns("c"));
    let lb = lab.link(&a, &b);
    let lc = lab.link(&a, &c);
    let bg = support::bgplane(&lab, &a, &lb, "", true);
    let peer = support::peer(&bg, &lb);
    support::announce(&peer, PREFIX, NH);
    support::wait_path(&bg, PREFIX, IpAddr::V4(lb.b4));
    holds_for(
        "no kernel route while nothing reaches the next hop",
        Duration::from_secs(2),
        || kernel::no_route(&a, PREFIX),
    );

    let (via_b, via_c) = (lb.b4.to_string(), lc.b4.to_string());
    ns_ip(&a, &["route", "add", COVER, "via", &via_b]);
    installed_via(&a, PREFIX, lb.b4);
    ns_ip(&a, &["route", "replace", COVER, "via", &via_c]);
    installed_via(&a, PREFIX, lc.b4);

    // c's end goes down: a's end loses its carrier; the static route stays, unusable.
    ns_ip(&c, &["link", "set", &lc.b_if, "down"]);
    gone(&a, PREFIX, "the link to the gateway lost its carrier");
    assert_eq!(
        kernel::routes(&a, COVER).len(),
        1,
        "the kernel keeps the static route itself"
    );
    ns_ip(&c, &["link", "set", &lc.b_if, "up"]);
    installed_via(&a, PREFIX, lc.b4);

    ns_ip(&a, &["route", "del", COVER]);
    gone(&a, PREFIX, "the route to its next hop was removed");
    ns_ip(&a, &["route", "add", COVER, "via", &via_b]);
    installed_via(&a, PREFIX, lb.b4);
}

#[test]
fn a_next_hop_only_another_bgp_route_reaches_resolves_through_that_route() {
    let Some(lab) = Lab::new("fk-recursive", &[]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let lb = lab.link(&a, &b);
    let bg = support::bgplane(&lab, &a, &lb, "", true);
    let peer = support::peer(&bg, &lb);
    // 10.88.0.0/24 via 10.77.0.1, which only the BGP route 10.77.0.0/24 reaches.
    let (outer, inner) = ("10.88.0.0/24", "10.77.0.0/24");
    support::announce(&peer, outer, Ipv4Addr::new(10, 77, 0, 1));
    support::wait_path(&bg, outer, IpAddr::V4(lb.b4));
    holds_for(
        "no kernel route before the route to its next hop",
        Duration::from_secs(2),
        || kernel::no_route(&a, outer),
    );
    support::announce(&peer, inner, lb.b4);
    installed_via(&a, inner, lb.b4);
    installed_via(&a, outer, lb.b4);

    support::withdraw(&peer, inner);
    gone(&a, inner, "withdrawn");
    gone(&a, outer, "the BGP route to its next hop was withdrawn");
    support::announce(&peer, inner, lb.b4);
    installed_via(&a, outer, lb.b4);
}
