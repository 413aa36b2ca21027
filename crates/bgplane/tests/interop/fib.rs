//! bgplane's kernel FIB against FRR: routes leave the kernel when they are withdrawn or
//! their session goes, and routes a killed bgplane left behind are cleaned up by the
//! next run.
//!
//! Topology: bgplane in `a` (AS 65000, kernel FIB on), FRR with zebra in `b` (AS 65001,
//! 10.90.0.2) announcing 10.3.1.0/24 and 10.3.2.0/24.

use std::net::IpAddr;

use crate::harness::bgplane::Bgplane;
use crate::harness::frr_router::{self, FrrRouter};
use crate::harness::kernel;
use crate::harness::{timeouts, wait_for, Lab, Link, Need};

fn frr(lab: &Lab, link: &Link) -> FrrRouter {
    let n = link.a4.to_string();
    let conf = format!(
        "{}{}!\n address-family ipv4 unicast\n  neighbor {n} activate\n  \
         network 10.3.1.0/24\n  network 10.3.2.0/24\n exit-address-family\n!\n",
        frr_router::router_bgp(65001, "10.0.0.2"),
        frr_router::neighbor(&n, "65000"),
    );
    FrrRouter::start(lab, &link.b_ns, "frr", 65001, &conf)
}

fn bgplane(lab: &Lab, ns: &str, link: &Link, graceful_restart: bool) -> Bgplane {
    let y = format!(
        "router:\n  asn: 65000\n  router-id: 10.0.0.1\n  listen: [0.0.0.0]\n  \
         graceful-restart: {{ enabled: {graceful_restart} }}\nneighbors:\n  \
         - {{ address: {}, remote-as: 65001, hold-time: 9, connect-retry: 1 }}\n",
        link.b4
    );
    Bgplane::start_yaml(lab, ns, "bgplane", &y, true)
}

fn both_installed(a: &str, link: &Link) -> Result<(), String> {
    let nh = link.b4.to_string();
    kernel::bgp_route_via(a, "10.3.1.0/24", &[&nh])?;
    kernel::bgp_route_via(a, "10.3.2.0/24", &[&nh])?;
    Ok(())
}

#[test]
fn withdrawn_routes_and_routes_of_a_closed_session_leave_the_kernel() {
    let Some(lab) = Lab::new("fib-down", &[Need::Frr]) else {
        return;
    };
    let a = lab.netns("a");
    let b = lab.netns("b");
    let link = lab.link(&a, &b);
    let f = frr(&lab, &link);
    let bg = bgplane(&lab, &a, &link, false);
    bg.wait_established(IpAddr::V4(link.b4));
    wait_for(
        "both FRR routes in bgplane's kernel",
        timeouts::ROUTES,
        || both_installed(&a, &link),
    );
    // A withdrawal on a live session leaves the RIB and the kernel.
    f.configure(&["address-family ipv4 unicast", "no network 10.3.2.0/24"]);
    let from = IpAddr::V4(link.b4);
    wait_for("bgplane to drop 10.3.2.0/24", timeouts::ROUTES, || {
        bg.lacks_route("10.3.2.0/24", from)
    });
    wait_for("10.3.2.0/24 to leave the kernel", timeouts::ROUTES, || {
        kernel::no_route(&a, "10.3.2.0/24")
    });
    // The session goes (Cease from FRR): its other route leaves the RIB and the kernel.
    f.configure(&[&format!("neighbor {} shutdown", link.a4)]);
    wait_for("bgplane to drop 10.3.1.0/24", timeouts::ROUTES, || {
        bg.lacks_route("10.3.1.0/24", from)
    });
    wait_for("10.3.1.0/24 to leave the kernel", timeouts::ROUTES, || {
        kernel::no_route(&a, "10.3.1.0/24")
    });
}

#[test]
fn kernel_routes_left_by_a_killed_bgplane_go_once_the_peer_no_longer_announces_them() {
    let Some(lab) = Lab::new("fib-left", &[Need::Frr]) else {
        return;
    };
    let a = lab.netns("a");
    let b = lab.netns("b");
    let link = lab.link(&a, &b);
    let f = frr(&lab, &link);
    let mut bg = bgplane(&lab, &a, &link, true);
    bg.wait_established(IpAddr::V4(link.b4));
    wait_for(
        "both FRR routes in bgplane's kernel",
        timeouts::ROUTES,
        || both_installed(&a, &link),
    );
    bg.kill();
    // While bgplane is gone, FRR stops announcing one of them.
    f.configure(&["address-family ipv4 unicast", "no network 10.3.2.0/24"]);
    both_installed(&a, &link).expect("a killed bgplane's routes stay in the kernel");
    bg.start_again(&lab);
    bg.wait_established(IpAddr::V4(link.b4));
    let nh = link.b4.to_string();
    wait_for(
        "the route FRR no longer announces to leave the kernel, the other to stay",
        timeouts::ROUTES,
        || {
            kernel::bgp_route_via(&a, "10.3.1.0/24", &[&nh])?;
            kernel::no_route(&a, "10.3.2.0/24")
        },
    );
}
