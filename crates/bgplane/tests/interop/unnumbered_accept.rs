//! An unnumbered neighbor that connects before bgplane has heard its router
//! advertisement: bgplane learns the neighbor's link-local address from the connection
//! itself, replaces its placeholder neighbor by the discovered one, and the session must
//! come up and carry bgplane's routes. A scripted peer (which sends no router
//! advertisements) connects at once with its OPEN and KEEPALIVE already queued, over and
//! over, bgplane restarting in between.
//!
//! Topology: bgplane in `a` (AS 65000, 10.2.1.0/24, passive unnumbered neighbor on its
//! veth), the scripted peer in `b` (AS 65001); the veth has only link-local addresses.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV6};

use bgp_wire::capability::ExtendedNextHop;
use bgp_wire::{Afi, Capability};
use serde_json::Value;

use crate::harness::bgplane::Bgplane;
use crate::harness::netns::ns_ip;
use crate::harness::peer::{self, ty, RawPeer};
use crate::harness::scripted::secs;
use crate::harness::{timeouts, wait_for, Lab};

/// Times the scripted peer connects, bgplane restarting before each but the first.
const ROUNDS: usize = 40;

fn ifindex(ns: &str, ifname: &str) -> u32 {
    let out = ns_ip(ns, &["-j", "link", "show", "dev", ifname]);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    v[0]["ifindex"]
        .as_u64()
        .unwrap_or_else(|| panic!("no ifindex in {out}")) as u32
}

// Once a bgplane bug (fixed in 3cfd1f2): the placeholder session's end, reported after
// the discovered neighbor (same peer id) was Established, showed it Idle ("stopped by the
// operator") and stopped its UPDATEs; a few rounds in 40 hit it.
#[test]
fn an_unnumbered_neighbor_connecting_before_its_router_advertisement_gets_bgplanes_routes() {
    let Some(lab) = Lab::new("unk-first", &[]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link_bare(&a, &b);
    let y = format!(
        "router:\n  asn: 65000\n  router-id: 10.0.0.1\nnetworks: [10.2.1.0/24]\nneighbors:\n  \
         - {{ interface: {}, remote-as: external, passive: true, hold-time: 9 }}\n",
        link.a_if
    );
    let mut bg = Bgplane::start_yaml(&lab, &a, "bgplane", &y, false);
    let to = SocketAddr::V6(SocketAddrV6::new(
        link.a_ll,
        179,
        0,
        ifindex(&b, &link.b_if),
    ));
    let mut caps = peer::capabilities(65001);
    caps.push(Capability::ExtendedNextHop(vec![ExtendedNextHop {
        nlri_afi: Afi::IPV4,
        nlri_safi: 1,
        nexthop_afi: Afi::IPV6,
    }]));
    let mut failures = Vec::new();
    for round in 1..=ROUNDS {
        if round > 1 {
            bg.stop();
            bg.start_again(&lab);
        }
        let stream = peer::connect(&b, to, secs(15));
        let mut p = RawPeer::new(stream, &format!("scripted peer (round {round})"));
        let mut first = peer::open_with(65001, 9, Ipv4Addr::new(10, 0, 0, 2), caps.clone());
        bgp_wire::encode_keepalive(&mut first);
        p.send(&first);
        let open = p.recv_open(secs(10));
        assert_eq!(open.asn(), 65000, "bgplane's AS");
        p.keepalives(secs(1));
        // bgplane's route, in an UPDATE (IPv4 over an IPv6 next hop: MP_REACH_NLRI).
        let mut update = false;
        let mut last = String::new();
        let deadline = std::time::Instant::now() + secs(5);
        let mut next = p.recv(secs(5));
        loop {
            match next {
                Ok(m) if m.ty == ty::UPDATE && m.bytes.len() > 23 => {
                    update = true;
                    break;
                }
                Ok(m) => last = format!("message type {}", m.ty),
                Err(e) => {
                    last = format!("{e:?}");
                    break;
                }
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            next = p.recv(left);
        }
        let state = wait_for("bgplane's view of the neighbor", timeouts::START, || {
            bg.only_neighbor()
        });
        if !update || state["state"] != "Established" {
            failures.push(format!(
                "round {round}: UPDATE with routes received: {update} (last: {last}); bgplane: \
                 state {}, last error {}, advertised {}",
                state["state"], state["last_error"], state["advertised"]
            ));
        }
        drop(p);
        wait_for("bgplane to see the session go", timeouts::SESSION, || {
            let n = bg.only_neighbor()?;
            match n["state"].as_str() {
                Some("Established") => Err(format!("{n}")),
                _ => Ok(()),
            }
        });
    }
    assert!(
        failures.is_empty(),
        "{} of {ROUNDS} sessions were Established on the wire but not for bgplane (or carried \
         no routes):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
