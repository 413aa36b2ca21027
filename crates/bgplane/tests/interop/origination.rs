//! Origination as seed 002's router0 does it: `default-originate` towards a neighbor,
//! `redistribute connected` (following the kernel's addresses), static and blackhole
//! routes installed in the kernel and announced with `redistribute static`; and RFC 8212
//! (`ebgp-requires-policy`), which withholds routes both ways from an eBGP neighbor
//! without policies.
//!
//! Topology: bgplane in `a` (AS 65000, kernel FIB on) and FRR with zebra in `b` (AS
//! 65001) on link 0 (10.90.0.1 / 10.90.0.2); a stub namespace `s` on link 1 (10.91.0.1 on
//! bgplane's side) gives bgplane a second connected subnet. The links carry IPv4 only
//! (and IPv6 link-local addresses), but in the test of both families.

use std::net::IpAddr;
use std::time::Duration;

use crate::harness::bgplane::Bgplane;
use crate::harness::frr_router::{self, FrrRouter};
use crate::harness::kernel;
use crate::harness::netns::ns_ip;
use crate::harness::{holds_for, timeouts, wait_for, Lab, Link, Need};

struct OrigLab {
    frr: FrrRouter,
    _capture: Option<crate::harness::process::Proc>,
    bgplane: Bgplane,
    a: String,
    b: String,
    links: [Link; 2],
    _lab: Lab,
}

/// Starts the lab; `yaml` gets the link to FRR and returns bgplane's YAML. The links
/// have global IPv6 addresses (fd9N::/64) only if `dual_stack`.
fn start(test: &str, dual_stack: bool, yaml: impl Fn(&Link) -> String) -> Option<OrigLab> {
    let lab = Lab::new(test, &[Need::Frr])?;
    let a = lab.netns("a");
    let b = lab.netns("b");
    let s = lab.netns("s");
    let links = if dual_stack {
        [lab.link(&a, &b), lab.link(&a, &s)]
    } else {
        [lab.link_v4_only(&a, &b), lab.link_v4_only(&a, &s)]
    };
    let n = links[0].a4.to_string();
    let conf = format!(
        "{}{}!\n address-family ipv4 unicast\n  neighbor {n} activate\n  \
         network 10.3.1.0/24\n exit-address-family\n address-family ipv6 unicast\n  \
         neighbor {n} activate\n exit-address-family\n!\n",
        frr_router::router_bgp(65001, "10.0.0.2"),
        frr_router::neighbor(&n, "65000"),
    );
    let capture = lab.capture(&b, &links[0].b_if, "tcpdump");
    let frr = FrrRouter::start(&lab, &b, "frr", 65001, &conf);
    let bgplane = Bgplane::start_yaml(&lab, &a, "bgplane", &yaml(&links[0]), true);
    bgplane.wait_established(IpAddr::V4(links[0].b4));
    frr.wait_established(&n);
    // FRR's own route shows the session carries routes.
    wait_for(
        "bgplane to hold FRR's 10.3.1.0/24",
        timeouts::ROUTES,
        || {
            bgplane
                .path_from("10.3.1.0/24", IpAddr::V4(links[0].b4))?
                .map(|_| ())
                .ok_or_else(|| "not yet".into())
        },
    );
    Some(OrigLab {
        frr,
        _capture: capture,
        bgplane,
        a,
        b,
        links,
        _lab: lab,
    })
}

fn router(extra: &str) -> String {
    format!("router:\n  asn: 65000\n  router-id: 10.0.0.1\n  listen: [0.0.0.0]\n{extra}")
}

fn neighbor(l: &Link, extra: &str) -> String {
    format!(
        "neighbors:\n  - {{ address: {}, remote-as: 65001, hold-time: 9, connect-retry: 1{extra} }}\n",
        l.b4
    )
}

/// FRR's path for `prefix` comes from bgplane (next hop bgplane's link address).
fn frr_has_from_bgplane(s: &OrigLab, prefix: &str) -> Result<(), String> {
    let p = s.frr.path(prefix)?;
    let nh = frr_router::next_hop(&p);
    if nh == s.links[0].a4.to_string() {
        Ok(())
    } else {
        Err(format!("{prefix} at FRR with next hop {nh}: {p}"))
    }
}

#[test]
fn default_originate_gives_frr_a_default_route_that_it_installs_and_loses_when_turned_off() {
    let y =
        |on: bool| move |l: &Link| router("") + &neighbor(l, &format!(", default-originate: {on}"));
    let Some(mut s) = start("orig-def", false, y(true)) else {
        return;
    };
    wait_for(
        "FRR to hold 0.0.0.0/0 from bgplane",
        timeouts::ROUTES,
        || frr_has_from_bgplane(&s, "0.0.0.0/0"),
    );
    let gw = s.links[0].a4.to_string();
    wait_for(
        "FRR's kernel to have a default route via bgplane",
        timeouts::ROUTES,
        || kernel::bgp_route_via(&s.b, "default", &[&gw]),
    );
    let own = s.bgplane.paths("0.0.0.0/0").expect("bgplane's routes");
    assert!(
        own.iter().all(|p| p["from"] != "local"),
        "default-originate needs no default route in bgplane's own RIB: {own:?}"
    );
    let text = y(false)(&s.links[0]);
    s.bgplane.reconfigure_yaml(&text);
    wait_for("FRR to lose the default route", timeouts::ROUTES, || {
        s.frr.lacks("0.0.0.0/0")?;
        kernel::no_route(&s.b, "default")
    });
}

#[test]
fn redistribute_connected_announces_interface_subnets_and_follows_address_changes() {
    let Some(s) = start("orig-conn", false, |l| {
        router("  redistribute: { connected: true }\n") + &neighbor(l, "")
    }) else {
        return;
    };
    for p in ["10.90.0.0/24", "10.91.0.0/24"] {
        wait_for(
            &format!("FRR to hold bgplane's connected {p}"),
            timeouts::ROUTES,
            || frr_has_from_bgplane(&s, p),
        );
    }
    let stub_if = s.links[1].a_if.clone();
    ns_ip(&s.a, &["addr", "add", "10.77.0.1/24", "dev", &stub_if]);
    wait_for(
        "FRR to learn the subnet of an address added later (10.77.0.0/24)",
        timeouts::ROUTES,
        || frr_has_from_bgplane(&s, "10.77.0.0/24"),
    );
    ns_ip(&s.a, &["addr", "del", "10.77.0.1/24", "dev", &stub_if]);
    wait_for(
        "FRR to lose 10.77.0.0/24 once the address is gone",
        timeouts::ROUTES,
        || s.frr.lacks("10.77.0.0/24"),
    );
    frr_has_from_bgplane(&s, "10.91.0.0/24").expect("the other subnets stay");
}

#[test]
fn static_blackhole_routes_go_to_the_kernel_and_to_frr_with_redistribute_static() {
    let statics = "static-routes:\n  - { prefix: 10.66.0.0/16, blackhole: true }\n  \
                   - { prefix: 10.67.0.0/16, via: 10.91.0.2 }\n";
    let without = |l: &Link| router("") + &neighbor(l, "") + statics;
    let Some(mut s) = start("orig-static", false, without) else {
        return;
    };
    let bh = wait_for(
        "a blackhole route for 10.66.0.0/16 in bgplane's kernel",
        timeouts::ROUTES,
        || kernel::route(&s.a, "10.66.0.0/16"),
    );
    assert_eq!(bh.kind, "blackhole", "{}", bh.raw);
    let via = wait_for(
        "a route for 10.67.0.0/16 via 10.91.0.2 in bgplane's kernel",
        timeouts::ROUTES,
        || kernel::route(&s.a, "10.67.0.0/16"),
    );
    assert_eq!(via.gateways, ["10.91.0.2"], "{}", via.raw);
    holds_for(
        "static routes not announced without redistribute static",
        Duration::from_secs(2),
        || {
            s.frr.lacks("10.66.0.0/16")?;
            s.frr.lacks("10.67.0.0/16")
        },
    );
    let text = router("  redistribute: { static: true }\n") + &neighbor(&s.links[0], "") + statics;
    s.bgplane.reconfigure_yaml(&text);
    for p in ["10.66.0.0/16", "10.67.0.0/16"] {
        wait_for(
            &format!("FRR to hold the redistributed static {p}"),
            timeouts::ROUTES,
            || frr_has_from_bgplane(&s, p),
        );
    }
    let bh = kernel::route(&s.a, "10.66.0.0/16").expect("the blackhole stays");
    assert_eq!(bh.kind, "blackhole", "{}", bh.raw);
}

// Once a bgplane bug (fixed in 87febdb): the export cache, keyed without the family,
// sent the IPv6 routes in the IPv4 NLRI field and FRR reset the session.
#[test]
fn ipv4_and_ipv6_routes_with_the_same_attributes_reach_frr_each_in_its_family() {
    // Bare networks of both families, and the IPv6 subnets of dual-stack links through
    // redistribute connected: each IPv6 route has the attribute set of an IPv4 one.
    let Some(s) = start("orig-dual", true, |l| {
        router("  redistribute: { connected: true }\n")
            + "networks: [10.2.1.0/24, fd02:1::/48]\n"
            + &neighbor(l, "")
    }) else {
        return;
    };
    for p in ["10.2.1.0/24", "fd02:1::/48", "10.91.0.0/24", "fd91::/64"] {
        wait_for(
            &format!("FRR to hold bgplane's {p}"),
            timeouts::ROUTES,
            || s.frr.path(p).map(|_| ()),
        );
    }
    holds_for("the session staying up", Duration::from_secs(2), || {
        s.frr.established(&s.links[0].a4.to_string())
    });
}

#[test]
fn ebgp_requires_policy_withholds_routes_both_ways_until_the_neighbor_has_policies() {
    let y = |policies: bool| {
        move |l: &Link| {
            let (extra, defs) = if policies {
                (
                    ", import: ALL, export: ALL",
                    "policies:\n  ALL: [{ action: accept }]\n",
                )
            } else {
                ("", "")
            };
            router("  ebgp-requires-policy: true\n")
                + "networks: [10.7.1.0/24]\n"
                + defs
                + &neighbor(l, extra)
        }
    };
    // The session comes up and FRR's route arrives (start waits for both).
    let Some(mut s) = start("orig-8212", false, y(false)) else {
        return;
    };
    let frr_addr = IpAddr::V4(s.links[0].b4);
    let path = s
        .bgplane
        .path_from("10.3.1.0/24", frr_addr)
        .unwrap()
        .unwrap();
    assert_eq!(path["rejected"], true, "kept, not accepted: {path}");
    assert_eq!(path["best"], false, "{path}");
    let row = s.bgplane.summary_row(frr_addr).unwrap();
    assert_eq!(
        (
            &row["import_withheld"],
            &row["export_withheld"],
            &row["accepted"]
        ),
        (&true.into(), &true.into(), &0.into()),
        "{row}"
    );
    let text = s.bgplane.cli(&["show", "bgp", "summary"]).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&frr_addr.to_string()))
        .unwrap();
    assert_eq!(line.matches("(Policy)").count(), 2, "{text}");
    holds_for("FRR not to get 10.7.1.0/24", Duration::from_secs(3), || {
        s.frr.lacks("10.7.1.0/24")
    });

    // Routes flow both ways: FRR gets ours, and bgplane selects FRR's.
    let both_ways = |s: &OrigLab| {
        wait_for("FRR to get 10.7.1.0/24", timeouts::ROUTES, || {
            frr_has_from_bgplane(s, "10.7.1.0/24")
        });
        wait_for(
            "bgplane to accept FRR's route",
            timeouts::ROUTES,
            || match s.bgplane.path_from("10.3.1.0/24", frr_addr)? {
                Some(p) if p["best"] == true => Ok(()),
                p => Err(format!("{p:?}")),
            },
        );
    };

    // With policies on the neighbor, routes flow both ways.
    let text = y(true)(&s.links[0]);
    s.bgplane.reconfigure_yaml(&text);
    both_ways(&s);
    let row = s.bgplane.summary_row(frr_addr).unwrap();
    assert_eq!(row["import_withheld"], false, "{row}");
    // The selected path is dated (`Last update` in the detail view, Age for Cilium).
    let path = s
        .bgplane
        .path_from("10.3.1.0/24", frr_addr)
        .unwrap()
        .unwrap();
    assert!(path["age_secs"].as_u64().is_some_and(|a| a < 60), "{path}");
    let detail = s
        .bgplane
        .cli(&["show", "bgp", "routes", "10.3.1.0/24"])
        .unwrap();
    assert!(detail.contains("Last update: 00:00:"), "{detail}");

    // Back to no policies, first with RFC 8212 (withheld again: FRR loses the route),
    // then without it (both ways again): a reload that turns the mode off re-sends and
    // refreshes.
    let text = y(false)(&s.links[0]);
    s.bgplane.reconfigure_yaml(&text);
    wait_for("FRR to lose 10.7.1.0/24", timeouts::ROUTES, || {
        s.frr.lacks("10.7.1.0/24")
    });
    let text = text.replace("  ebgp-requires-policy: true\n", "");
    s.bgplane.reconfigure_yaml(&text);
    both_ways(&s);
}
