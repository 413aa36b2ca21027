//! Tests of the policy engine, by topic.

mod aspath_regex;
mod config_yaml;
mod matches;
mod prefix_lists;
mod sets;
mod validation;

use std::net::Ipv4Addr;

use bgp_wire::{AsPath, AsSegment, Origin, Prefix, SegmentType};

use super::{Outcome, Policies, PolicyConfig, PolicyError, RouteInfo};
use crate::rib::attrs::{Attrs, NextHop};

/// Our AS in the tests.
const LOCAL_AS: u32 = 65000;

/// Compiles YAML that must be valid.
fn compile(yaml: &str) -> Policies {
    let cfg = PolicyConfig::from_yaml(yaml).unwrap_or_else(|e| panic!("{e}"));
    Policies::compile(&cfg).unwrap_or_else(|e| panic!("{e}"))
}

/// The error of YAML that parses but must not compile.
fn compile_err(yaml: &str) -> PolicyError {
    let cfg = PolicyConfig::from_yaml(yaml).unwrap_or_else(|e| panic!("{e}"));
    match Policies::compile(&cfg) {
        Ok(_) => panic!("compiled:\n{yaml}"),
        Err(e) => e,
    }
}

/// A route from AS 65001 via 65002, next hop 10.0.0.1, MED 100, one community.
fn attrs() -> Attrs {
    let mut a = Attrs::local(Origin::Igp);
    a.as_path = AsPath::sequence([65001, 65002]);
    a.next_hop = NextHop::V4(Ipv4Addr::new(10, 0, 0, 1));
    a.med = Some(100);
    a.communities = thin_vec::thin_vec!["65000:100".parse().unwrap()];
    a
}

/// A path of segments written as `(kind, ASes)`.
fn path(segments: &[(SegmentType, &[u32])]) -> AsPath {
    AsPath {
        segments: segments
            .iter()
            .map(|(kind, asns)| AsSegment {
                kind: *kind,
                asns: asns.to_vec(),
            })
            .collect(),
    }
}

fn pfx(s: &str) -> Prefix {
    s.parse().unwrap()
}

/// Runs policy `name` on `prefix` with `attrs`.
fn run(p: &Policies, name: &str, prefix: &str, attrs: &Attrs) -> Outcome {
    let policy = p.get(name).unwrap_or_else(|| panic!("no policy {name}"));
    policy.evaluate(&RouteInfo {
        prefix: pfx(prefix),
        attrs,
        local_asn: LOCAL_AS,
    })
}

/// Whether a single-term policy `match: { MATCH }` accepts `prefix` with `attrs`; `lists`
/// is YAML defining the lists it refers to.
fn matches(lists: &str, cond: &str, prefix: &str, attrs: &Attrs) -> bool {
    let yaml =
        format!("{lists}\npolicies:\n  P:\n    - match: {{ {cond} }}\n      action: accept\n");
    run(&compile(&yaml), "P", prefix, attrs).accept
}

/// The attributes after a single-term policy `set: { SET }` with action accept.
fn after_set(lists: &str, set: &str, attrs: &Attrs) -> Outcome {
    let yaml = format!("{lists}\npolicies:\n  P:\n    - set: {{ {set} }}\n      action: accept\n");
    let out = run(&compile(&yaml), "P", "10.1.2.0/24", attrs);
    assert!(out.accept);
    out
}
