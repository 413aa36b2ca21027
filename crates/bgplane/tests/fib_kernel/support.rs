//! bgplane with one iBGP neighbor, the scripted peer that plays it, and what `ip route`
//! shows in any table.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::Value;

use crate::harness::bgplane::Bgplane;
use crate::harness::netns::ns_ip;
use crate::harness::peer::{wire, RawPeer};
use crate::harness::{scripted, timeouts, wait_for, Lab, Link};

/// bgplane's AS, and the scripted peer's (iBGP: next hops come through unchanged).
pub(crate) const ASN: u32 = 65000;

/// Starts bgplane in `ns` (AS 65000) with the far end of `link` as a passive iBGP
/// neighbor, `router_extra` YAML lines under `router:` (e.g. the `fib` key), and its
/// kernel FIB on when `fib` (else `--no-fib`).
pub(crate) fn bgplane(lab: &Lab, ns: &str, link: &Link, router_extra: &str, fib: bool) -> Bgplane {
    let y = format!(
        "router:\n  asn: {ASN}\n  router-id: 10.0.0.1\n  listen: [{}]\n{router_extra}\
         neighbors:\n  - {{ address: {}, remote-as: internal, passive: true, hold-time: 9 }}\n",
        link.a4, link.b4
    );
    Bgplane::start_yaml(lab, ns, "bgplane", &y, fib)
}

/// The scripted iBGP peer at the far end of `link`, Established with bgplane.
pub(crate) fn peer(bg: &Bgplane, link: &Link) -> RawPeer {
    let p = scripted::established_peer(link, ASN, "peer");
    bg.wait_established(IpAddr::V4(link.b4));
    p
}

/// Announces `prefix` with NEXT_HOP `nh`, as an iBGP peer does (empty AS_PATH,
/// LOCAL_PREF 100).
pub(crate) fn announce(p: &RawPeer, prefix: &str, nh: Ipv4Addr) {
    let attrs = [
        wire::origin(0),
        wire::attr(wire::flags::TRANSITIVE, 2, &[]),
        wire::next_hop(nh),
        wire::attr(wire::flags::TRANSITIVE, 5, &100u32.to_be_bytes()),
    ];
    p.send(&wire::update(&[], &attrs, &wire::nlri4(prefix)));
}

/// Withdraws `prefix`.
pub(crate) fn withdraw(p: &RawPeer, prefix: &str) {
    p.send(&wire::update(&wire::nlri4(prefix), &[], &[]));
}

/// Waits until bgplane holds a path for `prefix` from the peer at `from`.
pub(crate) fn wait_path(bg: &Bgplane, prefix: &str, from: IpAddr) {
    wait_for(
        &format!("bgplane to hold {prefix} from {from}"),
        timeouts::ROUTES,
        || {
            bg.path_from(prefix, from)?
                .map(|_| ())
                .ok_or_else(|| "no path yet".to_string())
        },
    );
}

/// The routes of exactly `prefix` in table `table` (a number, or `all`) of `ns`, as
/// `ip -j route` shows them.
pub(crate) fn table_routes(ns: &str, table: &str, prefix: &str) -> Vec<Value> {
    let out = ns_ip(
        ns,
        &["-j", "-4", "route", "show", "table", table, "exact", prefix],
    );
    let v: Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("ip -j route in {ns}: bad JSON ({e}): {out}"));
    v.as_array().cloned().unwrap_or_default()
}

/// Checks that no table of `ns` holds a route of protocol `proto` (IPv4 or IPv6).
pub(crate) fn none_of_protocol(ns: &str, proto: u8) -> Result<(), String> {
    let p = proto.to_string();
    let mut found = String::new();
    for family in ["-4", "-6"] {
        found += &ns_ip(ns, &[family, "route", "show", "table", "all", "proto", &p]);
    }
    if found.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("routes of protocol {proto} in {ns}: {found}"))
    }
}

/// A field of an `ip -j route` object as text (numbers and names alike).
pub(crate) fn field(route: &Value, key: &str) -> String {
    match &route[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
