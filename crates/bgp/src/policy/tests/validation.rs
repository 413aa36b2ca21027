//! Every kind of configuration error, with its key path and message.

use super::compile_err;
use crate::policy::{ErrorKind, PolicyConfig};

/// The full text of the compile error of `yaml`.
fn err(yaml: &str) -> String {
    compile_err(yaml).to_string()
}

const PODS: &str = "prefix-lists:\n  PODS:\n    - { prefix: 10.1.0.0/16, ge: 24, le: 24 }\n";

#[test]
fn unknown_keys_and_wrong_types_are_reported_with_their_key_path() {
    let e = PolicyConfig::from_yaml(
        "policies:\n  P:\n    - match: { prefx-list: A }\n      action: accept\n",
    )
    .unwrap_err();
    assert_eq!(e.key(), "policies.P[0].match.prefx-list");
    assert!(matches!(e.kind, ErrorKind::Syntax(_)));
    assert!(e.problem().contains("unknown field `prefx-list`"), "{e}");
    let e = PolicyConfig::from_yaml("prefix-lists:\n  L:\n    - { prefix: 10.0.0.0/8, ge: 300 }\n")
        .unwrap_err();
    assert_eq!(e.key(), "prefix-lists.L[0].ge");
    let e = PolicyConfig::from_yaml("policies:\n  P:\n    - action: maybe\n").unwrap_err();
    assert_eq!(e.key(), "policies.P[0].action");
    let e = PolicyConfig::from_yaml("policies:\n  P:\n    - set: { local-pref: 1 }\n").unwrap_err();
    assert!(e.problem().contains("missing field `action`"), "{e}");
    let e = PolicyConfig::from_yaml("route-maps: {}\n").unwrap_err();
    assert_eq!(e.key(), "route-maps");
}

#[test]
fn an_unknown_list_name_lists_the_known_ones() {
    let yaml = format!(
        "{PODS}policies:\n  IMPORT-SPINE:\n    - match: {{ prefix-list: PODZ }}\n      action: accept\n"
    );
    assert_eq!(
        err(&yaml),
        "policies.IMPORT-SPINE[0].match.prefix-list: unknown prefix list \"PODZ\" (known: PODS)"
    );
    let yaml = "policies:\n  P:\n    - action: accept\n      match: { community-list: BLUE }\n";
    assert_eq!(
        err(yaml),
        "policies.P[0].match.community-list: unknown community list \"BLUE\" (none defined)"
    );
    let yaml =
        "large-community-lists:\n  A: [ \"1:2:3\" ]\n  B: [ \"1:2:*\" ]\npolicies:\n  P:\n    \
                - set: { large-community: { delete-list: C } }\n      action: accept\n";
    assert_eq!(
        err(yaml),
        "policies.P[0].set.large-community.delete-list: unknown large community list \"C\" (known: A, B)"
    );
}

#[test]
fn prefixes_that_do_not_parse_or_have_host_bits_are_refused() {
    let e = compile_err("prefix-lists:\n  PODS:\n    - { prefix: 10.1.0.0/33 }\n");
    assert_eq!(e.key(), "prefix-lists.PODS[0].prefix");
    assert_eq!(e.kind, ErrorKind::InvalidPrefix("10.1.0.0/33".into()));
    assert_eq!(
        err("prefix-lists:\n  PODS:\n    - { prefix: 10.1.2.0/16 }\n"),
        "prefix-lists.PODS[0].prefix: prefix 10.1.2.0/16 has host bits set (did you mean 10.1.0.0/16?)"
    );
    let yaml = "policies:\n  P:\n    - match: { next-hop: 10.0.0.1/8 }\n      action: accept\n";
    assert_eq!(compile_err(yaml).key(), "policies.P[0].match.next-hop");
}

#[test]
fn ge_and_le_beyond_the_family_maximum_are_refused() {
    let yaml = "prefix-lists:\n  PODS:\n    - { prefix: 10.1.0.0/16 }\n    - { prefix: 10.0.0.0/8, ge: 33 }\n";
    assert_eq!(
        err(yaml),
        "prefix-lists.PODS[1]: ge 33 exceeds the IPv4 maximum 32"
    );
    let yaml = "prefix-lists:\n  V6:\n    - { prefix: \"::/0\", le: 129 }\n";
    assert_eq!(
        err(yaml),
        "prefix-lists.V6[0]: le 129 exceeds the IPv6 maximum 128"
    );
}

#[test]
fn ge_or_le_below_the_prefix_length_is_refused() {
    let yaml = "prefix-lists:\n  PODS:\n    - { prefix: 10.1.0.0/16, ge: 8 }\n";
    assert_eq!(
        err(yaml),
        "prefix-lists.PODS[0]: ge 8 is less than the prefix length 16"
    );
    let yaml = "prefix-lists:\n  PODS:\n    - { prefix: 10.1.0.0/16, le: 15 }\n";
    assert_eq!(
        err(yaml),
        "prefix-lists.PODS[0]: le 15 is less than the prefix length 16"
    );
}

#[test]
fn ge_above_le_is_refused_in_prefix_lists_and_length_ranges() {
    let yaml = "prefix-lists:\n  PODS:\n    - { prefix: 10.1.0.0/16, ge: 28, le: 24 }\n";
    assert_eq!(
        err(yaml),
        "prefix-lists.PODS[0]: ge 28 is greater than le 24"
    );
    let yaml = "policies:\n  P:\n    - match: { as-path-length: { ge: 5, le: 3 } }\n      action: accept\n";
    assert_eq!(
        err(yaml),
        "policies.P[0].match.as-path-length: ge 5 is greater than le 3"
    );
}

#[test]
fn invalid_and_empty_regexes_are_refused() {
    assert_eq!(
        err("as-path-lists:\n  X: [ \"(\" ]\n"),
        "as-path-lists.X[0]: invalid regex \"(\": unclosed group"
    );
    let e = compile_err("as-path-lists:\n  X: [ \"^1_\", \"\" ]\n");
    assert_eq!(e.key(), "as-path-lists.X[1]");
    assert!(matches!(e.kind, ErrorKind::InvalidRegex { .. }));
}

#[test]
fn invalid_communities_of_each_kind_are_refused() {
    let e = compile_err("community-lists:\n  BLUE: [ \"65000:100\", \"65536:1\" ]\n");
    assert_eq!(e.key(), "community-lists.BLUE[1]");
    assert!(
        e.problem()
            .starts_with("invalid community \"65536:1\": expected ASN:VALUE"),
        "{e}"
    );
    for bad in ["no-such-name", "1:2:3", "*", "1:", ":1", "+1:2"] {
        let e = compile_err(&format!("community-lists:\n  B: [ \"{bad}\" ]\n"));
        assert!(
            matches!(
                e.kind,
                ErrorKind::InvalidCommunity {
                    what: "community",
                    ..
                }
            ),
            "{bad}"
        );
    }
    let e = compile_err("large-community-lists:\n  RED: [ \"1:2\" ]\n");
    assert_eq!(e.key(), "large-community-lists.RED[0]");
    assert!(
        e.problem().starts_with("invalid large community \"1:2\""),
        "{e}"
    );
    for bad in [
        "rt:65000",
        "xx:1:2",
        "rt:192.0.2.1:65536",
        "rt:4200000001:70000",
        "0x12",
        "rt:a:1",
    ] {
        let e = compile_err(&format!("ext-community-lists:\n  RT: [ \"{bad}\" ]\n"));
        assert_eq!(e.key(), "ext-community-lists.RT[0]", "{bad}");
        assert!(matches!(
            e.kind,
            ErrorKind::InvalidCommunity {
                what: "extended community",
                ..
            }
        ));
    }
    let yaml =
        "policies:\n  P:\n    - set: { community: { delete: [ \"x\" ] } }\n      action: accept\n";
    assert_eq!(
        compile_err(yaml).key(),
        "policies.P[0].set.community.delete[0]"
    );
}

#[test]
fn wildcards_are_refused_where_exact_values_are_needed() {
    let yaml = "policies:\n  P:\n    - set: { community: { add: [ \"65000:*\" ] } }\n      action: accept\n";
    assert_eq!(
        err(yaml),
        "policies.P[0].set.community.add[0]: \"65000:*\": wildcards are only allowed in lists and in delete"
    );
    let yaml = "policies:\n  P:\n    - set: { ext-community: { replace: [ \"rt:1:1\", \"rt:*:1\" ] } }\n      action: accept\n";
    assert_eq!(
        compile_err(yaml).key(),
        "policies.P[0].set.ext-community.replace[1]"
    );
}

#[test]
fn an_invalid_next_hop_is_refused() {
    let yaml = "policies:\n  P:\n    - set: { next-hop: me }\n      action: accept\n";
    assert_eq!(
        err(yaml),
        "policies.P[0].set.next-hop: invalid next hop \"me\": expected self, peer-address, unchanged or an IP address"
    );
}

#[test]
fn an_invalid_med_is_refused() {
    for bad in [
        "\"+x\"",
        "\"+\"",
        "\"--1\"",
        "4294967296",
        "\"+-1\"",
        "delete",
    ] {
        let yaml = format!("policies:\n  P:\n    - set: {{ med: {bad} }}\n      action: accept\n");
        let e = compile_err(&yaml);
        assert_eq!(e.key(), "policies.P[0].set.med", "{bad}");
        assert!(matches!(e.kind, ErrorKind::InvalidMed(_)), "{bad}: {e}");
    }
}

#[test]
fn prepend_counts_out_of_range_are_refused() {
    let yaml = "policies:\n  P:\n    - set: { as-path-prepend: { asn: 65000, count: 11 } }\n      action: accept\n";
    assert_eq!(
        err(yaml),
        "policies.P[0].set.as-path-prepend: count 11 is out of range 1..=10"
    );
    let yaml =
        "policies:\n  P:\n    - set: { as-path-prepend: { last-as: 0 } }\n      action: accept\n";
    assert_eq!(
        err(yaml),
        "policies.P[0].set.as-path-prepend: last-as 0 is out of range 1..=10"
    );
}

#[test]
fn empty_lists_and_policies_are_refused() {
    assert_eq!(
        err("prefix-lists:\n  L: []\n"),
        "prefix-lists.L: prefix list has no entries (it would deny every prefix)"
    );
    assert_eq!(
        compile_err("as-path-lists:\n  L: []\n").key(),
        "as-path-lists.L"
    );
    assert_eq!(
        compile_err("community-lists:\n  L: []\n").key(),
        "community-lists.L"
    );
    assert_eq!(
        compile_err("ext-community-lists:\n  L: []\n").key(),
        "ext-community-lists.L"
    );
    assert_eq!(
        err("policies:\n  P: []\n"),
        "policies.P: policy has no terms (write `- action: reject` to reject every route)"
    );
}

#[test]
fn contradictory_keys_are_refused() {
    let cases = [
        (
            "match: { as-path-length: {} }",
            "policies.P[0].match.as-path-length: give ge, le or eq",
        ),
        (
            "match: { as-path-length: { eq: 2, le: 3 } }",
            "policies.P[0].match.as-path-length: eq cannot be combined with ge or le",
        ),
        (
            "set: { as-path-prepend: { asn: 1, last-as: 2 } }",
            "policies.P[0].set.as-path-prepend: give either asn (with count) or last-as, not both",
        ),
        (
            "set: { as-path-prepend: { count: 2 } }",
            "policies.P[0].set.as-path-prepend: give asn (with count) or last-as",
        ),
        (
            "set: { as-path-prepend: { asn: 0 } }",
            "policies.P[0].set.as-path-prepend: AS 0 cannot be prepended (RFC 7607)",
        ),
    ];
    for (term, want) in cases {
        let yaml = format!("policies:\n  P:\n    - {term}\n      action: accept\n");
        assert_eq!(err(&yaml), want);
    }
}

#[test]
fn terms_after_an_unconditional_decision_are_unreachable() {
    let yaml = "policies:\n  P:\n    - action: accept\n    - match: { origin: igp }\n      action: reject\n";
    assert_eq!(
        err(yaml),
        "policies.P[1]: unreachable: term [0] has no match and always decides"
    );
    let ok =
        "policies:\n  P:\n    - set: { local-pref: 1 }\n      action: next\n    - action: accept\n";
    assert!(crate::policy::Policies::compile(&PolicyConfig::from_yaml(ok).unwrap()).is_ok());
}

#[test]
fn configuration_without_effect_is_refused() {
    let yaml = "policies:\n  P:\n    - set: { local-pref: 1 }\n      action: reject\n";
    assert_eq!(
        err(yaml),
        "policies.P[0].set: set has no effect in a term whose action is reject"
    );
    let yaml = "policies:\n  P:\n    - match: { origin: igp }\n      action: accept\n    - set: { med: 1 }\n      action: next\n";
    let e = compile_err(yaml);
    assert_eq!(e.key(), "policies.P[1].action");
    assert!(matches!(e.kind, ErrorKind::NoEffect(_)));
}
