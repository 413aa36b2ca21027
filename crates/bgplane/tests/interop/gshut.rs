//! Graceful shutdown (RFC 8326) with FRR.
//!
//! Topology: bgplane `a` (AS 65000) between FRR `b` (AS 65001, eBGP) and bgplane `c`
//! (AS 65000, iBGP). Each originates one /24: a 10.100.0.0, b 10.101.0.0, c 10.102.0.0.
//! `router.graceful-shutdown` on `a` (by reload) must mark what `a` sends: the
//! GRACEFUL_SHUTDOWN community to FRR, the community and LOCAL_PREF 0 to `c`; and lower what
//! `a` learned from FRR to LOCAL_PREF 0. FRR's own `bgp graceful-shutdown` must reach `a`,
//! which then prefers the path least, as FRR does with ours.

use std::net::IpAddr;

use serde_json::Value;

use crate::harness::bgplane::Bgplane;
use crate::harness::frr_router::{self, FrrRouter};
use crate::harness::{timeouts, wait_for, Lab, Need};

const GSHUT: &str = "graceful-shutdown";

fn a_yaml(gshut: bool, b: IpAddr, c: IpAddr) -> String {
    format!(
        "router:\n  asn: 65000\n  router-id: 10.0.0.1\n  listen: [0.0.0.0]\n  graceful-shutdown: {gshut}\n\
         networks: [10.100.0.0/24]\n\
         neighbors:\n  - {{ address: {b}, remote-as: 65001, connect-retry: 1 }}\n  \
         - {{ address: {c}, remote-as: 65000, connect-retry: 1, next-hop-self: true }}\n"
    )
}

/// FRR's best path of `prefix`.
fn frr_path(frr: &FrrRouter, prefix: &str) -> Result<Value, String> {
    frr.path(prefix)
}

/// FRR's communities of a path as written in its `string` (its `list` says
/// `gracefulShutdown`).
fn frr_communities(p: &Value) -> Vec<String> {
    p["community"]["string"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// bgplane's path of `prefix` from `from`: (LOCAL_PREF, communities).
fn ours(r: &Bgplane, prefix: &str, from: IpAddr) -> Result<(Value, Vec<String>), String> {
    let p = r
        .path_from(prefix, from)?
        .ok_or_else(|| format!("no path of {prefix} from {from}"))?;
    let c = p["communities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect();
    Ok((p["local_pref"].clone(), c))
}

fn expect<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: {got:?}, not {want:?}"))
    }
}

#[test]
fn graceful_shutdown_marks_routes_sent_to_frr_and_to_ibgp_and_lowers_those_learned_from_ebgp() {
    let Some(lab) = Lab::new("gshut", &[Need::Frr]) else {
        return;
    };
    let (a, b, c) = (lab.netns("a"), lab.netns("b"), lab.netns("c"));
    let ab = lab.link_v4_only(&a, &b);
    let ac = lab.link_v4_only(&a, &c);
    let (b_ip, c_ip, a_to_c) = (IpAddr::V4(ab.b4), IpAddr::V4(ac.b4), IpAddr::V4(ac.a4));
    let n = ab.a4.to_string();
    let conf = format!(
        "{}{}!\n address-family ipv4 unicast\n  neighbor {n} activate\n  \
         network 10.101.0.0/24\n exit-address-family\n!\n",
        frr_router::router_bgp(65001, "10.0.0.2"),
        frr_router::neighbor(&n, "65000"),
    );
    let frr = FrrRouter::start(&lab, &b, "frr", 65001, &conf);
    let mut ra = Bgplane::start_yaml(&lab, &a, "ra", &a_yaml(false, b_ip, c_ip), false);
    let c_yaml = format!(
        "router:\n  asn: 65000\n  router-id: 10.0.0.3\n  listen: [0.0.0.0]\n\
         networks: [10.102.0.0/24]\n\
         neighbors:\n  - {{ address: {a_to_c}, remote-as: 65000, connect-retry: 1 }}\n"
    );
    let rc = Bgplane::start_yaml(&lab, &c, "rc", &c_yaml, false);
    ra.wait_established(b_ip);
    ra.wait_established(c_ip);
    wait_for("every route everywhere", timeouts::ROUTES, || {
        frr_path(&frr, "10.100.0.0/24")?;
        frr_path(&frr, "10.102.0.0/24")?;
        ours(&rc, "10.101.0.0/24", a_to_c).map(|_| ())
    });
    let before = frr_communities(&frr_path(&frr, "10.100.0.0/24").unwrap());
    assert!(!before.iter().any(|c| c == GSHUT), "{before:?}");
    assert_eq!(ours(&rc, "10.101.0.0/24", a_to_c).unwrap().0, 100);

    // a goes into graceful shutdown.
    ra.reconfigure_yaml(&a_yaml(true, b_ip, c_ip));
    wait_for("the routes marked", timeouts::ROUTES, || {
        // To FRR (eBGP): the community, on a's own route and on c's.
        for prefix in ["10.100.0.0/24", "10.102.0.0/24"] {
            let p = frr_path(&frr, prefix)?;
            let c = frr_communities(&p);
            expect(prefix, c.iter().any(|c| c == GSHUT), true).map_err(|e| format!("{e}: {p}"))?;
            // FRR takes the community as RFC 8326 §4.2 asks: LOCAL_PREF 0 on receipt.
            expect("FRR's locPrf", p["locPrf"].clone(), Value::from(0))?;
        }
        // To c (iBGP): the community and LOCAL_PREF 0.
        let (lp, cs) = ours(&rc, "10.101.0.0/24", a_to_c)?;
        expect("LOCAL_PREF at c", lp, Value::from(0))?;
        expect("community at c", cs.contains(&GSHUT.to_string()), true)?;
        let (lp, _) = ours(&rc, "10.100.0.0/24", a_to_c)?;
        expect("LOCAL_PREF of a's own route at c", lp, Value::from(0))?;
        // Learned from FRR (eBGP), at a itself: lowered after a route refresh.
        let (lp, cs) = ours(&ra, "10.101.0.0/24", b_ip)?;
        expect("LOCAL_PREF at a", lp, Value::from(0))?;
        expect("community at a", cs.contains(&GSHUT.to_string()), true)
    });

    let n = ra.neighbor(b_ip).unwrap();
    assert_eq!(n["graceful_shutdown"], true, "{n}");
    let t = ra.cli(&["show", "bgp", "neighbors"]).unwrap();
    assert!(t.contains("Graceful shutdown (RFC 8326)"), "{t}");

    // Over: everything as before.
    ra.reconfigure_yaml(&a_yaml(false, b_ip, c_ip));
    wait_for("the marks gone", timeouts::ROUTES, || {
        let c = frr_communities(&frr_path(&frr, "10.100.0.0/24")?);
        expect("FRR's communities", c.iter().any(|c| c == GSHUT), false)?;
        expect(
            "LOCAL_PREF at c",
            ours(&rc, "10.101.0.0/24", a_to_c)?.0,
            Value::from(100),
        )?;
        let (lp, cs) = ours(&ra, "10.101.0.0/24", b_ip)?;
        expect("community at a", cs.contains(&GSHUT.to_string()), false)?;
        expect("LOCAL_PREF at a", lp.is_null() || lp == 100, true)
    });

    frr.configure(&["bgp graceful-shutdown"]);
    // FRR's own graceful shutdown reaches a, which lowers the path as FRR does (§4.2).
    wait_for("FRR's mark at a", timeouts::ROUTES, || {
        let (lp, cs) = ours(&ra, "10.101.0.0/24", b_ip)?;
        expect("community from FRR", cs.contains(&GSHUT.to_string()), true)?;
        expect("LOCAL_PREF at a", lp, Value::from(0))
    });
}
