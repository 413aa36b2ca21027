//! Multihop BFD (RFC 5883) for an eBGP multihop session, against FRR's bfdd.
//!
//! Topology: bgplane in `a` (AS 65000, 10.90.0.1) — a plain Linux router `m` — FRR
//! (zebra, bgpd, bfdd) in `b` (AS 65001, 10.91.0.2). The BGP session runs between the two
//! link addresses with `ebgp-multihop 2`, so both ends make its BFD session multihop: port
//! 4784, packets arriving with TTL 254 (one router on the way), which a single-hop session
//! would refuse.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::bfd::{down_and_reset, frr_bfd, our_bfd, state_is, wait_timers};
use crate::harness::bgplane::Bgplane;
use crate::harness::frr_router::{self, FrrRouter};
use crate::harness::netns::ns_ip;
use crate::harness::{kernel, timeouts, wait_for, Lab, Need};

#[test]
fn multihop_bfd_comes_up_with_frr_across_a_router_and_its_failure_resets_bgp() {
    let Some(lab) = Lab::new("bfd-mh", &[Need::Frr]) else {
        return;
    };
    let a = lab.netns("a");
    let m = lab.netns("m");
    let b = lab.netns("b");
    let am = lab.link_v4_only(&a, &m);
    let mb = lab.link_v4_only(&m, &b);
    kernel::forwarding(&m);
    let net24 = |ip: std::net::Ipv4Addr| {
        let [x, y, z, _] = ip.octets();
        format!("{x}.{y}.{z}.0/24")
    };
    ns_ip(
        &a,
        &["route", "add", &net24(mb.a4), "via", &am.b4.to_string()],
    );
    ns_ip(
        &b,
        &["route", "add", &net24(am.a4), "via", &mb.a4.to_string()],
    );
    let (ours, theirs) = (IpAddr::V4(am.a4), IpAddr::V4(mb.b4));
    let n = am.a4.to_string();
    let conf = format!(
        "{}{} neighbor {n} timers 30 90\n neighbor {n} ebgp-multihop 2\n neighbor {n} bfd\n!\n \
         address-family ipv4 unicast\n  neighbor {n} activate\n  network 10.3.1.0/24\n \
         exit-address-family\n!\n",
        frr_router::router_bgp(65001, "10.0.0.2"),
        frr_router::neighbor(&n, "65000"),
    );
    let mut frr = FrrRouter::start(&lab, &b, "frr", 65001, &conf);
    frr.start_bfdd(&lab, "log stdout debugging\ndebug bfd peer\n!\nbfd\n!\n");
    let yaml = format!(
        "router:\n  asn: 65000\n  router-id: 10.0.0.1\n  listen: [0.0.0.0]\n\
         neighbors:\n  - {{ address: {theirs}, remote-as: 65001, ebgp-multihop: 2, \
         hold-time: 90, connect-retry: 1, bfd: true }}\n"
    );
    let bgplane = Bgplane::start_yaml(&lab, &a, "bgplane", &yaml, false);
    bgplane.wait_established(theirs);
    frr.wait_established(&n);

    wait_for(
        "both multihop BFD sessions to be up",
        timeouts::SESSION,
        || {
            state_is(&our_bfd(&bgplane, theirs)?, "state", "up")?;
            state_is(&frr_bfd(&frr, ours)?, "status", "up")
        },
    );
    wait_timers(&bgplane, theirs, 300);
    let s = our_bfd(&bgplane, theirs).unwrap();
    assert_eq!(s["hops"]["multi"]["minimum-ttl"], 254, "{s}");
    assert_eq!(
        s["local"],
        ours.to_string(),
        "the BGP session's address: {s}"
    );
    let f = frr_bfd(&frr, ours).unwrap();
    assert_eq!(f["multihop"], true, "{f}");
    assert_eq!(f["remote-id"], s["local-discriminator"], "{f}");
    let text = bgplane
        .cli(&["show", "bgp", "neighbors", &theirs.to_string()])
        .unwrap();
    assert!(text.contains("BFD: multi hop, status up"), "{text}");
    let table = bgplane.cli(&["show", "bfd", "peers"]).unwrap();
    assert!(table.contains(" multi "), "{table}");

    // bfdd frozen: the multihop session goes down on its Detection Time and takes BGP
    // with it, long before the 90 s hold time.
    frr.signal_bfdd("STOP");
    down_and_reset(
        &bgplane,
        theirs,
        Instant::now(),
        "multihop",
        Duration::from_millis(2500),
    );
    frr.signal_bfdd("CONT");
    wait_for("BFD up again", timeouts::SESSION, || {
        state_is(&our_bfd(&bgplane, theirs)?, "state", "up")?;
        state_is(&frr_bfd(&frr, ours)?, "status", "up")
    });
    bgplane.wait_established(theirs);
}
