//! Prefix lists: `ge`/`le` as FRR, first match decides, no match denies.

use proptest::prelude::*;

use super::{attrs, compile, matches, pfx};
use crate::policy::lists::{PrefixEntry, PrefixList};

/// Whether a prefix list made of the YAML `entries` (one per line) permits `prefix`.
fn permits(entries: &[&str], prefix: &str) -> bool {
    let mut yaml = String::from("prefix-lists:\n  L:\n");
    for e in entries {
        yaml.push_str(&format!("    - {e}\n"));
    }
    let p = compile(&yaml);
    p.prefix_list("L").unwrap().permits(pfx(prefix))
}

#[test]
fn an_entry_without_ge_or_le_matches_exactly_its_prefix() {
    let e = ["{ prefix: 10.1.0.0/16 }"];
    assert!(permits(&e, "10.1.0.0/16"));
    assert!(!permits(&e, "10.1.1.0/24"));
    assert!(!permits(&e, "10.0.0.0/8"));
    assert!(!permits(&e, "10.2.0.0/16"));
}

#[test]
fn ge_and_le_equal_match_one_length_inside_the_prefix() {
    let e = ["{ prefix: 10.1.0.0/16, ge: 24, le: 24 }"];
    assert!(permits(&e, "10.1.5.0/24"));
    assert!(permits(&e, "10.1.255.0/24"));
    assert!(!permits(&e, "10.1.0.0/16"));
    assert!(!permits(&e, "10.1.5.0/25"));
    assert!(!permits(&e, "10.1.4.0/23"));
    assert!(!permits(&e, "10.2.5.0/24"));
}

#[test]
fn ge_alone_reaches_up_to_the_family_maximum() {
    let e = ["{ prefix: 10.0.0.0/8, ge: 24 }"];
    assert!(permits(&e, "10.9.9.0/24"));
    assert!(permits(&e, "10.9.9.9/32"));
    assert!(!permits(&e, "10.9.8.0/23"));
    let e6 = ["{ prefix: \"2001:db8::/32\", ge: 64 }"];
    assert!(permits(&e6, "2001:db8:1:2::/64"));
    assert!(permits(&e6, "2001:db8::1/128"));
    assert!(!permits(&e6, "2001:db8::/48"));
}

#[test]
fn le_alone_starts_at_the_prefix_length() {
    let e = ["{ prefix: 10.0.0.0/8, le: 16 }"];
    assert!(permits(&e, "10.0.0.0/8"));
    assert!(permits(&e, "10.7.0.0/16"));
    assert!(!permits(&e, "10.7.0.0/17"));
    assert!(!permits(&e, "0.0.0.0/0"));
}

#[test]
fn ge_equal_to_the_prefix_length_is_accepted_and_means_from_the_prefix_on() {
    let e = ["{ prefix: 10.0.0.0/8, ge: 8, le: 9 }"];
    assert!(permits(&e, "10.0.0.0/8"));
    assert!(permits(&e, "10.128.0.0/9"));
    assert!(!permits(&e, "10.0.0.0/10"));
}

#[test]
fn the_default_route_entry_alone_matches_only_the_default_route() {
    assert!(permits(&["{ prefix: 0.0.0.0/0 }"], "0.0.0.0/0"));
    assert!(!permits(&["{ prefix: 0.0.0.0/0 }"], "10.0.0.0/8"));
    assert!(permits(&["{ prefix: \"::/0\" }"], "::/0"));
    assert!(!permits(&["{ prefix: \"::/0\" }"], "2001:db8::/32"));
}

#[test]
fn slash_0_le_max_matches_every_prefix_of_its_family_only() {
    let v4 = ["{ prefix: 0.0.0.0/0, le: 32 }"];
    for p in ["0.0.0.0/0", "10.0.0.0/8", "192.168.0.1/32"] {
        assert!(permits(&v4, p), "{p}");
    }
    assert!(!permits(&v4, "::/0"));
    assert!(!permits(&v4, "2001:db8::/32"));
    let v6 = ["{ prefix: \"::/0\", le: 128 }"];
    for p in ["::/0", "2001:db8::/32", "2001:db8::1/128"] {
        assert!(permits(&v6, p), "{p}");
    }
    assert!(!permits(&v6, "10.0.0.0/8"));
}

#[test]
fn host_routes_match_slash_32_and_slash_128_entries_and_ge_at_the_maximum() {
    assert!(permits(&["{ prefix: 10.0.0.1/32 }"], "10.0.0.1/32"));
    assert!(!permits(&["{ prefix: 10.0.0.1/32 }"], "10.0.0.2/32"));
    assert!(permits(
        &["{ prefix: 10.0.0.1/32, ge: 32, le: 32 }"],
        "10.0.0.1/32"
    ));
    assert!(permits(
        &["{ prefix: \"2001:db8::1/128\" }"],
        "2001:db8::1/128"
    ));
    assert!(!permits(
        &["{ prefix: \"2001:db8::1/128\" }"],
        "2001:db8::/127"
    ));
    let hosts = ["{ prefix: 0.0.0.0/0, ge: 32 }"];
    assert!(permits(&hosts, "10.1.2.3/32"));
    assert!(!permits(&hosts, "10.1.2.2/31"));
    let hosts6 = ["{ prefix: \"::/0\", ge: 128 }"];
    assert!(permits(&hosts6, "2001:db8::7/128"));
    assert!(!permits(&hosts6, "2001:db8::6/127"));
}

#[test]
fn the_first_matching_entry_decides_and_no_match_denies() {
    let deny_first = [
        "{ prefix: 10.1.9.0/24, action: deny }",
        "{ prefix: 10.1.0.0/16, le: 24 }",
    ];
    assert!(!permits(&deny_first, "10.1.9.0/24"));
    assert!(permits(&deny_first, "10.1.8.0/24"));
    let permit_first = [
        "{ prefix: 10.1.0.0/16, le: 24 }",
        "{ prefix: 10.1.9.0/24, action: deny }",
    ];
    assert!(permits(&permit_first, "10.1.9.0/24"));
    assert!(!permits(&permit_first, "172.16.0.0/12"));
    assert!(!permits(
        &["{ prefix: 0.0.0.0/0, le: 32, action: deny }"],
        "10.0.0.0/8"
    ));
}

#[test]
fn a_prefix_list_condition_matches_only_permitted_prefixes() {
    let lists = "prefix-lists:\n  PODS:\n    - { prefix: 10.1.0.0/16, ge: 24, le: 24 }\n";
    let a = attrs();
    assert!(matches(lists, "prefix-list: PODS", "10.1.3.0/24", &a));
    assert!(!matches(lists, "prefix-list: PODS", "10.2.3.0/24", &a));
    assert!(!matches(lists, "prefix-list: PODS", "2001:db8::/64", &a));
}

/// The plain reading of a prefix list: the first entry that matches decides.
fn linear(entries: &[PrefixEntry], p: bgp_wire::Prefix) -> bool {
    entries
        .iter()
        .find(|e| {
            let l = p.prefix_len();
            e.min <= l && l <= e.max && e.prefix.contains(p)
        })
        .is_some_and(|e| e.permit)
}

fn entry() -> impl Strategy<Value = PrefixEntry> {
    // Few distinct networks so that entries overlap and shadow each other.
    (
        0u32..4,
        0u8..=32,
        0u8..=32,
        0u8..=32,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(net, len, a, b, permit, v6)| {
            let (min, max) = (a.min(b).max(len), a.max(b).max(len));
            let prefix = if v6 {
                let addr = std::net::Ipv6Addr::from(u128::from(net) << 120);
                bgp_wire::Prefix::new(addr.into(), len * 4).unwrap()
            } else {
                let addr = std::net::Ipv4Addr::from(net << 28);
                bgp_wire::Prefix::new(addr.into(), len).unwrap()
            };
            let scale = if v6 { 4 } else { 1 };
            PrefixEntry {
                prefix,
                min: min * scale,
                max: max * scale,
                permit,
            }
        })
}

proptest! {
    #[test]
    fn an_indexed_long_prefix_list_decides_as_the_first_matching_entry(
        entries in proptest::collection::vec(entry(), 17..60),
        probes in proptest::collection::vec((any::<u32>(), 0u8..=32, any::<bool>()), 50),
    ) {
        let list = PrefixList::new(entries.clone());
        for (bits, len, v6) in probes {
            // Bias probes into the networks the entries use.
            let bits = bits & 0x3fff_ffff;
            let p = if v6 {
                let addr = std::net::Ipv6Addr::from(u128::from(bits) << 96);
                bgp_wire::Prefix::new(addr.into(), len * 4).unwrap()
            } else {
                bgp_wire::Prefix::new(std::net::Ipv4Addr::from(bits).into(), len).unwrap()
            };
            prop_assert_eq!(list.permits(p), linear(&entries, p), "{}", p);
        }
    }
}
