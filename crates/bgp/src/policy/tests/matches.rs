//! Every match condition, alone and together.

use std::net::{Ipv4Addr, Ipv6Addr};

use bgp_wire::{AsPath, ExtendedCommunity, LargeCommunity, Origin, SegmentType};

use super::{attrs, compile, matches, path, run};
use crate::rib::attrs::NextHop;

const P: &str = "10.1.2.0/24";

#[test]
fn as_path_list_matches_when_any_regex_matches() {
    let lists = "as-path-lists:\n  L: [ \"^65001_\", \"_65009$\" ]\n";
    let mut a = attrs();
    assert!(matches(lists, "as-path-list: L", P, &a));
    a.as_path = AsPath::sequence([65003, 65009]);
    assert!(matches(lists, "as-path-list: L", P, &a));
    a.as_path = AsPath::sequence([65003, 65001]);
    assert!(!matches(lists, "as-path-list: L", P, &a));
}

#[test]
fn as_path_length_counts_a_set_as_one_and_confederation_segments_as_none() {
    let mut a = attrs();
    a.as_path = path(&[
        (SegmentType::ConfedSequence, &[64512, 64513]),
        (SegmentType::Sequence, &[65001, 65002]),
        (SegmentType::Set, &[1, 2, 3]),
    ]);
    assert!(matches("", "as-path-length: { eq: 3 }", P, &a));
    assert!(matches("", "as-path-length: { le: 3 }", P, &a));
    assert!(matches("", "as-path-length: { ge: 3 }", P, &a));
    assert!(matches("", "as-path-length: { ge: 2, le: 4 }", P, &a));
    assert!(!matches("", "as-path-length: { le: 2 }", P, &a));
    assert!(!matches("", "as-path-length: { ge: 4 }", P, &a));
    a.as_path = AsPath::default();
    assert!(matches("", "as-path-length: { eq: 0 }", P, &a));
}

#[test]
fn as_path_contains_looks_in_every_segment() {
    let mut a = attrs();
    assert!(matches("", "as-path-contains: 65002", P, &a));
    assert!(!matches("", "as-path-contains: 65010", P, &a));
    a.as_path = path(&[
        (SegmentType::Sequence, &[65001]),
        (SegmentType::Set, &[65010, 7]),
    ]);
    assert!(matches("", "as-path-contains: 65010", P, &a));
}

#[test]
fn neighbor_as_is_the_first_as_of_the_leading_sequence() {
    let mut a = attrs();
    assert!(matches("", "neighbor-as: 65001", P, &a));
    assert!(!matches("", "neighbor-as: 65002", P, &a));
    a.as_path = path(&[
        (SegmentType::ConfedSequence, &[64512]),
        (SegmentType::Sequence, &[65007, 65001]),
    ]);
    assert!(matches("", "neighbor-as: 65007", P, &a));
    a.as_path = path(&[(SegmentType::Set, &[65001, 65002])]);
    assert!(!matches("", "neighbor-as: 65001", P, &a));
    a.as_path = AsPath::default();
    assert!(!matches("", "neighbor-as: 65001", P, &a));
}

#[test]
fn origin_matches_the_origin_attribute() {
    let mut a = attrs();
    assert!(matches("", "origin: igp", P, &a));
    assert!(!matches("", "origin: incomplete", P, &a));
    a.origin = Origin::Egp;
    assert!(matches("", "origin: egp", P, &a));
}

#[test]
fn community_list_matches_exact_values_wildcards_and_well_known_names() {
    let lists = "community-lists:\n  EXACT: [ \"65000:100\" ]\n  ASN: [ \"65001:*\" ]\n  \
                 VAL: [ \"*:7\" ]\n  NOEXP: [ no-export ]\n  ALL: [ \"*:*\" ]\n";
    let mut a = attrs();
    assert!(matches(lists, "community-list: EXACT", P, &a));
    assert!(matches(lists, "community-list: ALL", P, &a));
    assert!(!matches(lists, "community-list: ASN", P, &a));
    assert!(!matches(lists, "community-list: VAL", P, &a));
    assert!(!matches(lists, "community-list: NOEXP", P, &a));
    a.communities = thin_vec::thin_vec!["65001:9".parse().unwrap(), "3:7".parse().unwrap()];
    assert!(matches(lists, "community-list: ASN", P, &a));
    assert!(matches(lists, "community-list: VAL", P, &a));
    a.communities = thin_vec::thin_vec![bgp_wire::Community::NO_EXPORT];
    assert!(matches(lists, "community-list: NOEXP", P, &a));
    a.communities.clear();
    assert!(!matches(lists, "community-list: ALL", P, &a));
}

#[test]
fn large_community_list_matches_with_a_wildcard_in_any_part() {
    let lists = "large-community-lists:\n  RED: [ \"65000:1:*\" ]\n  MID: [ \"*:9:*\" ]\n";
    let mut a = attrs();
    assert!(!matches(lists, "large-community-list: RED", P, &a));
    a.large_communities = thin_vec::thin_vec![LargeCommunity {
        global: 65000,
        local1: 1,
        local2: 42,
    }];
    assert!(matches(lists, "large-community-list: RED", P, &a));
    assert!(!matches(lists, "large-community-list: MID", P, &a));
    a.large_communities[0].local1 = 9;
    assert!(matches(lists, "large-community-list: MID", P, &a));
    assert!(!matches(lists, "large-community-list: RED", P, &a));
}

#[test]
fn ext_community_list_matches_route_targets_of_every_administrator_form() {
    let lists = "ext-community-lists:\n  RT: [ \"rt:65000:7\" ]\n  IP: [ \"rt:192.0.2.1:5\" ]\n  \
                 BIG: [ \"rt:4200000001:3\" ]\n  ANY: [ \"rt:*:*\" ]\n  SOO: [ \"soo:65000:*\" ]\n";
    let mut a = attrs();
    assert!(!matches(lists, "ext-community-list: ANY", P, &a));
    a.ext_communities = thin_vec::thin_vec![ExtendedCommunity::route_target(65000, 7)];
    assert!(matches(lists, "ext-community-list: RT", P, &a));
    assert!(matches(lists, "ext-community-list: ANY", P, &a));
    assert!(!matches(lists, "ext-community-list: SOO", P, &a));
    // rt:192.0.2.1:5 (type 0x01) and rt:4200000001:3 (type 0x02).
    a.ext_communities = thin_vec::thin_vec![
        ExtendedCommunity([0x01, 0x02, 192, 0, 2, 1, 0, 5]),
        ExtendedCommunity([0x02, 0x02, 0xfa, 0x56, 0xea, 0x01, 0, 3]),
    ];
    assert_eq!(a.ext_communities[1].to_string(), "rt:4200000001:3");
    assert!(matches(lists, "ext-community-list: IP", P, &a));
    assert!(matches(lists, "ext-community-list: BIG", P, &a));
    assert!(!matches(lists, "ext-community-list: RT", P, &a));
    // Site of origin 65000:1 in the 2-octet AS form.
    a.ext_communities = thin_vec::thin_vec![ExtendedCommunity([0, 0x03, 0xfd, 0xe8, 0, 0, 0, 1])];
    assert!(matches(lists, "ext-community-list: SOO", P, &a));
    assert!(!matches(lists, "ext-community-list: ANY", P, &a));
}

#[test]
fn next_hop_matches_an_address_inside_the_prefix_or_one_address() {
    let mut a = attrs();
    assert!(matches("", "next-hop: 10.0.0.0/8", P, &a));
    assert!(matches("", "next-hop: 10.0.0.1", P, &a));
    assert!(!matches("", "next-hop: 10.0.0.2", P, &a));
    assert!(!matches("", "next-hop: \"fe80::/10\"", P, &a));
    a.next_hop = NextHop::V6 {
        global: "2001:db8::1".parse::<Ipv6Addr>().unwrap(),
        link_local: Some("fe80::1".parse().unwrap()),
    };
    assert!(matches("", "next-hop: \"2001:db8::/32\"", P, &a));
    assert!(matches("", "next-hop: \"fe80::/10\"", P, &a));
    assert!(!matches("", "next-hop: 10.0.0.0/8", P, &a));
    a.next_hop = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
    assert!(!matches("", "next-hop: 10.0.0.0/8", P, &a));
}

#[test]
fn family_matches_the_prefix_family() {
    let a = attrs();
    assert!(matches("", "family: ipv4", P, &a));
    assert!(!matches("", "family: ipv6", P, &a));
    assert!(matches("", "family: ipv6", "2001:db8::/48", &a));
    assert!(!matches("", "family: ipv4", "2001:db8::/48", &a));
}

#[test]
fn all_conditions_of_a_term_must_hold() {
    let a = attrs();
    assert!(matches(
        "",
        "origin: igp, neighbor-as: 65001, family: ipv4",
        P,
        &a
    ));
    assert!(!matches(
        "",
        "origin: igp, neighbor-as: 65002, family: ipv4",
        P,
        &a
    ));
    assert!(!matches(
        "",
        "origin: egp, neighbor-as: 65001, family: ipv4",
        P,
        &a
    ));
}

#[test]
fn a_term_without_match_and_an_empty_match_match_every_route() {
    let p = compile(
        "policies:\n  A:\n    - action: accept\n  B:\n    - match: {}\n      action: accept\n",
    );
    let a = attrs();
    for name in ["A", "B"] {
        assert!(run(&p, name, P, &a).accept);
        assert!(run(&p, name, "2001:db8::/32", &a).accept);
    }
}

#[test]
fn later_terms_see_the_modifications_of_earlier_next_terms() {
    let yaml = "as-path-lists:\n  PREPENDED: [ \"^65000_65000_\" ]\npolicies:\n  P:\n    \
                - set: { as-path-prepend: { asn: 65000, count: 2 }, origin: egp }\n      \
                  action: next\n    - match: { as-path-list: PREPENDED, origin: egp }\n      \
                  action: accept\n";
    let out = run(&compile(yaml), "P", P, &attrs());
    assert!(out.accept);
    assert_eq!(
        out.attrs.unwrap().as_path.to_string(),
        "65000 65000 65001 65002"
    );
}
