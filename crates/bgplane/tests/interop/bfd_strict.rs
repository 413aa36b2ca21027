//! BFD strict mode (draft-ietf-idr-bgp-bfd-strict-mode), bgplane to bgplane: no daemon
//! installable here has it (FRR 8.4 and BIRD 2.0 do not announce capability 74).
//!
//! Topology: bgplane `a` (AS 65000) and `b` (AS 65001) on one link, BFD at 100 ms. BFD is
//! kept from coming up without touching the link: the two ends sign their packets with
//! different keys (RFC 5880 §6.7), so each drops the other's packets while BGP runs.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bfd::{our_bfd, state_is, wait_reset_by_bfd};
use crate::harness::bgplane::Bgplane;
use crate::harness::{timeouts, wait_for, Lab};

/// One router announcing 10.(asn - 64900).0.0/24, its neighbor with BGP hold time `hold`
/// and BFD at 100 ms plus the keys `bfd`.
fn router_yaml(asn: u32, id: &str, peer: IpAddr, peer_as: u32, hold: u16, bfd: &str) -> String {
    format!(
        "router:\n  asn: {asn}\n  router-id: {id}\n  listen: [0.0.0.0]\n\
         networks: [10.{}.0.0/24]\n\
         neighbors:\n  - {{ address: {peer}, remote-as: {peer_as}, hold-time: {hold}, connect-retry: 1, \
         bfd: {{ transmit-interval: 100, receive-interval: 100, {bfd} }} }}\n",
        asn - 64900
    )
}

/// BFD keys: `strict` as given, a strict hold time of 3 s, meticulous keyed SHA1 with
/// `key`.
fn bfd(key: &str, strict: bool) -> String {
    format!(
        "strict: {strict}, strict-hold-time: 3, authentication: {{ type: meticulous-keyed-sha1, password: {key} }}"
    )
}

/// The neighbor's `bfd` object of `show bgp neighbors`.
fn bfd_of_neighbor(r: &Bgplane, peer: IpAddr) -> Result<Value, String> {
    Ok(r.neighbor(peer)?["bfd"].clone())
}

fn waiting_for_bfd(r: &Bgplane, peer: IpAddr) -> Result<(), String> {
    let n = r.neighbor(peer)?;
    if n["state"] == "OpenSent" && n["bfd"]["bgp_waiting"] == "open-sent-bfd-up-pending" {
        Ok(())
    } else {
        Err(format!(
            "state {}, bfd {}, last error {}",
            n["state"], n["bfd"], n["last_error"]
        ))
    }
}

/// The neighbor (`show bgp neighbors`) announced the BFD Strict-Mode capability.
fn heard_strict_mode(n: &Value) -> bool {
    n["session"]["peer_capabilities"]
        .as_array()
        .is_some_and(|caps| caps.iter().any(|c| c == "bfd-strict-mode"))
}

fn both_established(ra: &Bgplane, rb: &Bgplane, ip_a: IpAddr, ip_b: IpAddr) {
    wait_for("BGP Established on both ends", timeouts::SESSION, || {
        ra.established(ip_b)?;
        rb.established(ip_a)
    });
}

fn two_routers(
    lab: &Lab,
    hold: u16,
    (bfd_a, bfd_b): (&str, &str),
) -> (Bgplane, Bgplane, IpAddr, IpAddr) {
    let a = lab.netns("a");
    let b = lab.netns("b");
    let link = lab.link_v4_only(&a, &b);
    let (ip_a, ip_b) = (IpAddr::V4(link.a4), IpAddr::V4(link.b4));
    let ra = Bgplane::start_yaml(
        lab,
        &a,
        "ra",
        &router_yaml(65000, "10.0.0.1", ip_b, 65001, hold, bfd_a),
        false,
    );
    let rb = Bgplane::start_yaml(
        lab,
        &b,
        "rb",
        &router_yaml(65001, "10.0.0.2", ip_a, 65000, hold, bfd_b),
        false,
    );
    (ra, rb, ip_a, ip_b)
}

#[test]
fn with_strict_mode_on_both_ends_bgp_waits_in_open_sent_until_bfd_comes_up() {
    let Some(lab) = Lab::new("bfd-strict", &[]) else {
        return;
    };
    let (mut ra, mut rb, ip_a, ip_b) =
        two_routers(&lab, 90, (&bfd("key-a", true), &bfd("key-b", true)));
    // OPENs exchanged, capability 74 on both sides, no KEEPALIVE: both wait.
    wait_for("both sessions waiting for BFD", timeouts::SESSION, || {
        waiting_for_bfd(&ra, ip_b)?;
        waiting_for_bfd(&rb, ip_a)
    });
    let t = ra.cli(&["show", "bgp", "neighbors"]).unwrap();
    assert!(
        t.contains("BFD: single hop, strict, status down")
            && t.contains("BGP waits for BFD to come up (strict mode, open-sent-bfd-up-pending)"),
        "{t}"
    );
    // Three seconds (30 BFD intervals) on: still no session, no route.
    std::thread::sleep(Duration::from_secs(3));
    waiting_for_bfd(&ra, ip_b).unwrap();
    waiting_for_bfd(&rb, ip_a).unwrap();
    state_is(&our_bfd(&ra, ip_b).unwrap(), "state", "down").unwrap();
    assert!(ra.path_from("10.101.0.0/24", ip_b).unwrap().is_none());

    // b takes a's key: BFD comes up, then BGP.
    let fixed = Instant::now();
    rb.reconfigure_yaml(&router_yaml(
        65001,
        "10.0.0.2",
        ip_a,
        65000,
        90,
        &bfd("key-a", true),
    ));
    both_established(&ra, &rb, ip_a, ip_b);
    let took = fixed.elapsed();
    let n = ra.neighbor(ip_b).unwrap();
    assert!(heard_strict_mode(&n), "{n}");
    assert_eq!(n["bfd"]["bgp_waiting"], Value::Null, "{n}");
    state_is(&our_bfd(&ra, ip_b).unwrap(), "state", "up").unwrap();
    wait_for("b's network at a", timeouts::ROUTES, || {
        ra.path_from("10.101.0.0/24", ip_b)?
            .map(|_| ())
            .ok_or_else(|| "not yet".to_string())
    });
    eprintln!("key fixed: BFD and BGP up after {took:?}");

    // Strict mode changed on an Established session: it keeps going (§8.7.3).
    ra.reconfigure_yaml(&router_yaml(
        65000,
        "10.0.0.1",
        ip_b,
        65001,
        90,
        &bfd("key-a", false),
    ));
    std::thread::sleep(Duration::from_secs(1));
    let n = ra.neighbor(ip_b).unwrap();
    assert_eq!(
        (n["state"].clone(), n["last_error"].clone()),
        ("Established".into(), Value::Null),
        "{n}"
    );
    assert_eq!(n["bfd"]["strict"], false, "{n}");
}

#[test]
fn strict_mode_on_one_end_only_does_not_hold_the_session() {
    let Some(lab) = Lab::new("bfd-strict1", &[]) else {
        return;
    };
    let (ra, rb, ip_a, ip_b) = two_routers(&lab, 90, (&bfd("key-a", true), &bfd("key-b", false)));
    both_established(&ra, &rb, ip_a, ip_b);
    // BFD never came up (different keys), and BGP did not wait for it.
    state_is(&our_bfd(&ra, ip_b).unwrap(), "state", "down").unwrap();
    let b = bfd_of_neighbor(&ra, ip_b).unwrap();
    assert_eq!(
        (b["strict"].clone(), b["state"].clone()),
        (true.into(), "down".into())
    );
    let n = rb.neighbor(ip_a).unwrap();
    assert!(heard_strict_mode(&n), "b heard a's capability: {n}");
}

#[test]
fn with_a_hold_time_of_zero_the_strict_hold_time_ends_the_wait_with_cease_bfd_down() {
    let Some(lab) = Lab::new("bfd-strict0", &[]) else {
        return;
    };
    let (ra, _rb, _ip_a, ip_b) = two_routers(&lab, 0, (&bfd("key-a", true), &bfd("key-b", true)));
    wait_for("a waiting for BFD", timeouts::SESSION, || {
        waiting_for_bfd(&ra, ip_b)
    });
    let start = Instant::now();
    // strict-hold-time 3 s: the session ends with Cease / BFD Down (RFC 9384).
    wait_reset_by_bfd(&ra, ip_b, "the BFD hold timer to end the wait");
    let waited = start.elapsed();
    eprintln!("BfdHoldTimer ended the wait {waited:?} after it was seen");
    assert!(waited <= Duration::from_secs(4), "{waited:?}");
}
