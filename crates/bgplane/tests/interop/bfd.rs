//! BFD (RFC 5880/5881) against FRR's bfdd, and BGP taking a session down on BFD Down
//! (RFC 5882) well before its hold timer.
//!
//! Topology: bgplane in `a` (AS 65000, 10.90.0.1) and FRR (zebra, bgpd, bfdd) in `b` (AS
//! 65001, 10.90.0.2) on one link. Both run BFD for the BGP session with 300 ms timers and a
//! multiplier of 3; the BGP hold time is 90 s.

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::bgplane::Bgplane;
use crate::harness::frr_router::{self, FrrRouter};
use crate::harness::{timeouts, wait_for, Lab, Need};

/// bgplane's BFD session with `peer`, from `show bfd peers -o json`.
pub(crate) fn our_bfd(b: &Bgplane, peer: IpAddr) -> Result<Value, String> {
    let v = b.json(&["show", "bfd", "peers"])?;
    v.as_array()
        .and_then(|a| a.iter().find(|p| p["peer"] == peer.to_string()))
        .cloned()
        .ok_or_else(|| format!("bgplane has no BFD session with {peer}: {v}"))
}

/// FRR's BFD session with `peer`, from `show bfd peers json`.
pub(crate) fn frr_bfd(f: &FrrRouter, peer: IpAddr) -> Result<Value, String> {
    let v = f.json("show bfd peers json")?;
    v.as_array()
        .and_then(|a| a.iter().find(|p| p["peer"] == peer.to_string()))
        .cloned()
        .ok_or_else(|| format!("FRR has no BFD session with {peer}: {v}"))
}

/// After the peer's BFD was silenced at `t0`: waits for bgplane's BFD session with `peer`
/// to go down on its Detection Time, within `max_detect`, then for the BGP session's reset
/// with a Cease, "BFD Down", within 5 s (the BGP hold timers of these tests are far
/// longer); prints both times after `label`.
pub(crate) fn down_and_reset(
    bgplane: &Bgplane,
    peer: IpAddr,
    t0: Instant,
    label: &str,
    max_detect: Duration,
) {
    wait_for("bgplane's BFD to go down", Duration::from_secs(10), || {
        state_is(&our_bfd(bgplane, peer)?, "state", "down")
    });
    let detected = t0.elapsed();
    let s = our_bfd(bgplane, peer).unwrap();
    assert_eq!(s["diagnostic"], "control detection time expired", "{s}");
    wait_reset_by_bfd(bgplane, peer, "the BGP session reset by BFD");
    let reset = t0.elapsed();
    eprintln!("{label}: BFD down after {detected:?}, BGP reset after {reset:?}");
    assert!(
        detected < max_detect && reset < Duration::from_secs(5),
        "detection {detected:?}, reset {reset:?}: the hold timer is 90 s"
    );
}

/// Waits up to 10 s until bgplane's session with `peer` was last reset with a Cease, "BFD
/// Down" (RFC 9384).
pub(crate) fn wait_reset_by_bfd(bgplane: &Bgplane, peer: IpAddr, what: &str) {
    wait_for(what, Duration::from_secs(10), || {
        match bgplane.last_error(peer)? {
            Some(e) if e.contains("Cease/BFD Down") => Ok(()),
            e => Err(format!("last error {e:?}")),
        }
    });
}

/// Waits until bgplane's BFD session with `peer` transmits every `ms` and has a Detection
/// Time of 3 × `ms` (the peer's fast timers too: its Poll Sequence is over).
pub(crate) fn wait_timers(bgplane: &Bgplane, peer: IpAddr, ms: u64) {
    wait_for("the fast timers", timeouts::ROUTES, || {
        let s = our_bfd(bgplane, peer)?;
        if s["tx-interval-ms"] == ms && s["detection-time-ms"] == 3 * ms {
            Ok(())
        } else {
            Err(format!("timers not yet {ms} ms / {} ms: {s}", 3 * ms))
        }
    });
}

/// Every listed BFD session of bgplane (router, peer) is up.
fn all_up(sessions: &[(&Bgplane, IpAddr)]) -> Result<(), String> {
    for (r, p) in sessions {
        state_is(&our_bfd(r, *p)?, "state", "up")?;
    }
    Ok(())
}

pub(crate) fn state_is(v: &Value, key: &str, want: &str) -> Result<(), String> {
    if v[key] == want {
        Ok(())
    } else {
        Err(format!("{key} is {}, not {want}: {v}", v[key]))
    }
}

#[test]
fn bfd_comes_up_with_frr_and_its_failure_resets_bgp_long_before_the_hold_timer() {
    let Some(lab) = Lab::new("bfd-frr", &[Need::Frr]) else {
        return;
    };
    let a = lab.netns("a");
    let b = lab.netns("b");
    let link = lab.link_v4_only(&a, &b);
    let (ours, theirs) = (IpAddr::V4(link.a4), IpAddr::V4(link.b4));
    let n = link.a4.to_string();
    let conf = format!(
        "{}{} neighbor {n} timers 30 90\n neighbor {n} bfd\n!\n address-family ipv4 unicast\n  \
         neighbor {n} activate\n  network 10.3.1.0/24\n exit-address-family\n!\n",
        frr_router::router_bgp(65001, "10.0.0.2"),
        frr_router::neighbor(&n, "65000"),
    );
    let mut frr = FrrRouter::start(&lab, &b, "frr", 65001, &conf);
    frr.start_bfdd(&lab, "log stdout debugging\ndebug bfd peer\n!\nbfd\n!\n");
    let yaml = format!(
        "router:\n  asn: 65000\n  router-id: 10.0.0.1\n  listen: [0.0.0.0]\n\
         neighbors:\n  - {{ address: {theirs}, remote-as: 65001, hold-time: 90, connect-retry: 1, bfd: true }}\n"
    );
    let bgplane = Bgplane::start_yaml(&lab, &a, "bgplane", &yaml, false);
    bgplane.wait_established(theirs);
    frr.wait_established(&n);

    // Both ends Up, with the 300 ms timers in use once the Poll Sequence is over.
    wait_for("both BFD sessions to be up", timeouts::SESSION, || {
        state_is(&our_bfd(&bgplane, theirs)?, "state", "up")?;
        state_is(&frr_bfd(&frr, ours)?, "status", "up")
    });
    wait_timers(&bgplane, theirs, 300);
    let f = frr_bfd(&frr, ours).expect("FRR's BFD session");
    assert_eq!(
        f["remote-id"],
        our_bfd(&bgplane, theirs).unwrap()["local-discriminator"],
        "FRR knows our discriminator: {f}"
    );
    assert_eq!(f["remote-receive-interval"], 300, "{f}");
    assert_eq!(f["remote-transmit-interval"], 300, "{f}");
    assert_eq!(f["remote-detect-multiplier"], 3, "{f}");
    // `show bgp neighbors` tells the BFD status too, as FRR's does.
    let nb = bgplane.neighbor(theirs).unwrap();
    assert_eq!(nb["bfd"]["state"], "up", "{nb}");
    let text = bgplane
        .cli(&["show", "bgp", "neighbors", &theirs.to_string()])
        .unwrap();
    assert!(text.contains("BFD: single hop, status up"), "{text}");

    // bfdd frozen: our side detects the silence in 900 ms and resets BGP with a Cease,
    // "BFD Down", although the BGP hold timer (90 s) and TCP are fine.
    frr.signal_bfdd("STOP");
    down_and_reset(
        &bgplane,
        theirs,
        Instant::now(),
        "FRR",
        Duration::from_millis(2500),
    );
    // bfdd thawed (vtysh waits for every daemon, so FRR is asked nothing while bfdd is
    // frozen): FRR got our Cease/BFD Down, BFD comes back up, BGP is Established again.
    frr.signal_bfdd("CONT");
    wait_for("FRR to log our Cease/BFD Down", timeouts::ROUTES, || {
        let v = frr.neighbor(&n)?;
        let why = v["lastNotificationReason"].as_str().unwrap_or_default();
        if why.contains("BFD Down") {
            Ok(())
        } else {
            Err(format!("last notification: {why:?}"))
        }
    });

    wait_for("BFD up again", timeouts::SESSION, || {
        state_is(&our_bfd(&bgplane, theirs)?, "state", "up")?;
        state_is(&frr_bfd(&frr, ours)?, "status", "up")
    });
    bgplane.wait_established(theirs);
    // Thawed, bfdd may first act on its own expired timer and take the session down once
    // more (diagnostic 3 here); then it must stay up.
    wait_for("BFD up for 2 s", timeouts::SESSION, || {
        let s = our_bfd(&bgplane, theirs)?;
        state_is(&s, "state", "up")?;
        if s["since-secs"].as_u64() >= Some(2) {
            Ok(())
        } else {
            Err(format!("up for less than 2 s: {s}"))
        }
    });
    let s = our_bfd(&bgplane, theirs).unwrap();
    let (up, down) = (
        s["counters"]["up"].as_u64().unwrap(),
        s["counters"]["down"].as_u64().unwrap(),
    );
    assert!(up == down + 1 && (1..=2).contains(&down), "{s}");

    // The text table.
    let text = bgplane
        .cli(&["show", "bfd", "peers"])
        .expect("show bfd peers");
    assert!(
        text.contains(&theirs.to_string()) && text.contains(" up "),
        "{text}"
    );
}

/// bgplane's YAML for one router and its neighbor, `bfd` as given (or none).
fn router_yaml(asn: u32, id: &str, peer: IpAddr, peer_as: u32, bfd: Option<&str>) -> String {
    let bfd = bfd.map(|b| format!(", bfd: {b}")).unwrap_or_default();
    format!(
        "router:\n  asn: {asn}\n  router-id: {id}\n  listen: [0.0.0.0]\n\
         neighbors:\n  - {{ address: {peer}, remote-as: {peer_as}, hold-time: 90, connect-retry: 1{bfd} }}\n"
    )
}

#[test]
fn a_peer_turning_bfd_off_sends_admin_down_and_the_bgp_session_stays_up() {
    let Some(lab) = Lab::new("bfd-admin", &[]) else {
        return;
    };
    let a = lab.netns("a");
    let b = lab.netns("b");
    let link = lab.link_v4_only(&a, &b);
    let (ip_a, ip_b) = (IpAddr::V4(link.a4), IpAddr::V4(link.b4));
    let fast = "{ transmit-interval: 100, receive-interval: 100 }";
    let mut ra = Bgplane::start_yaml(
        &lab,
        &a,
        "ra",
        &router_yaml(65000, "10.0.0.1", ip_b, 65001, Some(fast)),
        false,
    );
    let rb = Bgplane::start_yaml(
        &lab,
        &b,
        "rb",
        &router_yaml(65001, "10.0.0.2", ip_a, 65000, Some(fast)),
        false,
    );
    ra.wait_established(ip_b);
    rb.wait_established(ip_a);
    wait_for("BFD up on both routers", timeouts::SESSION, || {
        all_up(&[(&ra, ip_b), (&rb, ip_a)])
    });
    let s = our_bfd(&rb, ip_a).unwrap();
    assert_eq!(s["detection-time-ms"], 300, "{s}");

    // a drops BFD for the neighbor: it says AdminDown on the way out, and b takes that as
    // no failure (RFC 5882 §3.2).
    let before = Instant::now();
    ra.reconfigure_yaml(&router_yaml(65000, "10.0.0.1", ip_b, 65001, None));
    wait_for("b's BFD to go down on AdminDown", timeouts::ROUTES, || {
        let s = our_bfd(&rb, ip_a)?;
        state_is(&s, "state", "down")?;
        state_is(&s, "remote-state", "admin-down")?;
        state_is(&s, "diagnostic", "neighbor signaled session down")
    });
    let v = ra.json(&["show", "bfd", "peers"]).unwrap();
    assert_eq!(v, serde_json::json!([]), "a runs no BFD session any more");
    // Well past b's 300 ms Detection Time, its BGP session has not been reset.
    std::thread::sleep(Duration::from_secs(2));
    let n = rb.neighbor(ip_a).unwrap();
    assert_eq!(n["state"], "Established", "{n}");
    assert!(
        n["state_secs"].as_u64().unwrap() >= before.elapsed().as_secs(),
        "b's session was re-established: {n}"
    );
    assert_eq!(n["last_error"], Value::Null, "{n}");

    // Back on: both Up again.
    ra.reconfigure_yaml(&router_yaml(65000, "10.0.0.1", ip_b, 65001, Some(fast)));
    wait_for("BFD up again", timeouts::SESSION, || {
        all_up(&[(&ra, ip_b), (&rb, ip_a)])
    });
    let s = our_bfd(&rb, ip_a).unwrap();
    assert_eq!(
        (s["counters"]["up"].clone(), s["counters"]["down"].clone()),
        (2.into(), 1.into()),
        "{s}"
    );
}

#[test]
fn bfd_runs_over_ipv6_global_and_unnumbered_link_local_sessions() {
    let Some(lab) = Lab::new("bfd-v6", &[]) else {
        return;
    };
    let a = lab.netns("a");
    let b = lab.netns("b");
    let global = lab.link(&a, &b);
    let bare = lab.link_bare(&a, &b);
    let yaml = |asn: u32, id: &str, peer: Ipv6Addr, ifname: &str, passive: bool| {
        format!(
            "router:\n  asn: {asn}\n  router-id: {id}\n  listen: ['::']\nneighbors:\n\
             \x20 - {{ address: {peer}, remote-as: external, hold-time: 90, connect-retry: 1, bfd: true }}\n\
             \x20 - {{ interface: {ifname}, remote-as: external, passive: {passive}, hold-time: 90, \
             connect-retry: 1, bfd: true }}\n"
        )
    };
    let ra = Bgplane::start_yaml(
        &lab,
        &a,
        "ra",
        &yaml(65000, "10.0.0.1", global.b6, &bare.a_if, false),
        false,
    );
    let rb = Bgplane::start_yaml(
        &lab,
        &b,
        "rb",
        &yaml(65001, "10.0.0.2", global.a6, &bare.b_if, true),
        false,
    );
    let peers = [
        (&ra, IpAddr::V6(global.b6)),
        (&ra, IpAddr::V6(bare.b_ll)),
        (&rb, IpAddr::V6(global.a6)),
        (&rb, IpAddr::V6(bare.a_ll)),
    ];
    wait_for(
        "four BFD sessions up (global and link-local, both ends)",
        timeouts::SESSION,
        || all_up(&peers),
    );
    for (r, p) in &peers {
        r.wait_established(*p);
    }
}
