//! Every set action, `next` chaining, the implicit deny and copy-on-write.

use bgp_wire::{AsPath, Community, ExtendedCommunity, LargeCommunity, Origin, SegmentType};

use super::{after_set, attrs, compile, path, run, LOCAL_AS};
use crate::policy::NextHopAction;

fn c(s: &str) -> Community {
    s.parse().unwrap()
}

fn communities(s: &[&str]) -> Vec<Community> {
    s.iter().map(|x| c(x)).collect()
}

#[test]
fn local_pref_and_origin_are_set() {
    let out = after_set("", "local-pref: 200, origin: incomplete", &attrs());
    let a = out.attrs.unwrap();
    assert_eq!(a.local_pref, Some(200));
    assert_eq!(a.origin, Origin::Incomplete);
}

#[test]
fn setting_a_value_the_route_already_has_leaves_the_attributes_unmodified() {
    let mut a = attrs();
    a.local_pref = Some(200);
    let out = after_set("", "local-pref: 200, med: 100, origin: igp", &a);
    assert_eq!(out.attrs, None);
    let out = after_set(
        "",
        "community: { add: [ \"65000:100\" ], delete: [ \"1:1\" ] }",
        &a,
    );
    assert_eq!(out.attrs, None);
}

#[test]
fn med_is_set_added_to_subtracted_from_and_removed() {
    let mut a = attrs();
    assert_eq!(after_set("", "med: 50", &a).attrs.unwrap().med, Some(50));
    assert_eq!(
        after_set("", "med: \"+10\"", &a).attrs.unwrap().med,
        Some(110)
    );
    assert_eq!(after_set("", "med: +10", &a).attrs.unwrap().med, Some(110));
    assert_eq!(
        after_set("", "med: \"-10\"", &a).attrs.unwrap().med,
        Some(90)
    );
    assert_eq!(after_set("", "med: -10", &a).attrs.unwrap().med, Some(90));
    assert_eq!(after_set("", "med: remove", &a).attrs.unwrap().med, None);
    a.med = None;
    assert_eq!(
        after_set("", "med: \"+10\"", &a).attrs.unwrap().med,
        Some(10)
    );
    assert_eq!(after_set("", "med: remove", &a).attrs, None);
}

#[test]
fn med_arithmetic_saturates_at_both_ends() {
    let mut a = attrs();
    a.med = Some(u32::MAX - 5);
    assert_eq!(
        after_set("", "med: \"+10\"", &a).attrs.unwrap().med,
        Some(u32::MAX)
    );
    a.med = Some(5);
    assert_eq!(
        after_set("", "med: \"-10\"", &a).attrs.unwrap().med,
        Some(0)
    );
    a.med = Some(u32::MAX);
    assert_eq!(after_set("", "med: \"+4294967295\"", &a).attrs, None);
}

#[test]
fn as_path_prepend_repeats_an_as_before_the_path() {
    let out = after_set("", "as-path-prepend: { asn: 65000, count: 3 }", &attrs());
    let p = out.attrs.unwrap().as_path;
    assert_eq!(p.to_string(), "65000 65000 65000 65001 65002");
    let out = after_set("", "as-path-prepend: { asn: 65000 }", &attrs());
    assert_eq!(out.attrs.unwrap().as_path.to_string(), "65000 65001 65002");
}

#[test]
fn as_path_prepend_last_as_repeats_the_first_as_or_ours_on_an_empty_path() {
    let out = after_set("", "as-path-prepend: { last-as: 2 }", &attrs());
    assert_eq!(
        out.attrs.unwrap().as_path.to_string(),
        "65001 65001 65001 65002"
    );
    let mut a = attrs();
    a.as_path = AsPath::default();
    let out = after_set("", "as-path-prepend: { last-as: 2 }", &a);
    let expected = format!("{LOCAL_AS} {LOCAL_AS}");
    assert_eq!(out.attrs.unwrap().as_path.to_string(), expected);
}

#[test]
fn as_path_exclude_removes_the_ases_from_every_segment_and_drops_empty_ones() {
    let mut a = attrs();
    a.as_path = path(&[
        (SegmentType::Sequence, &[65001, 65099, 65002]),
        (SegmentType::Set, &[65099]),
        (SegmentType::Set, &[7, 65099]),
    ]);
    let out = after_set("", "as-path-exclude: [ 65099, 7 ]", &a);
    assert_eq!(out.attrs.unwrap().as_path.to_string(), "65001 65002");
    assert_eq!(after_set("", "as-path-exclude: [ 1 ]", &a).attrs, None);
}

#[test]
fn community_add_appends_missing_values_only() {
    let out = after_set(
        "",
        "community: { add: [ \"65000:100\", \"65000:7\", no-export ] }",
        &attrs(),
    );
    let want = communities(&["65000:100", "65000:7", "no-export"]);
    assert_eq!(out.attrs.unwrap().communities, want);
}

#[test]
fn community_delete_removes_exact_and_wildcard_matches() {
    let mut a = attrs();
    a.communities = communities(&["65000:100", "65000:7", "65001:7", "no-export"]).into();
    let out = after_set("", "community: { delete: [ \"65000:*\" ] }", &a);
    assert_eq!(
        out.attrs.unwrap().communities,
        communities(&["65001:7", "no-export"])
    );
    let out = after_set("", "community: { delete: [ \"*:7\", no-export ] }", &a);
    assert_eq!(out.attrs.unwrap().communities, communities(&["65000:100"]));
}

#[test]
fn community_replace_sets_the_whole_list_and_an_empty_one_removes_all() {
    let out = after_set("", "community: { replace: [ \"1:1\", \"2:2\" ] }", &attrs());
    assert_eq!(out.attrs.unwrap().communities, communities(&["1:1", "2:2"]));
    let out = after_set("", "community: { replace: [] }", &attrs());
    assert_eq!(out.attrs.unwrap().communities, vec![]);
}

#[test]
fn community_edits_apply_replace_then_delete_then_add() {
    let set = "community: { replace: [ \"1:1\", \"2:2\" ], delete: [ \"1:*\" ], add: [ \"1:5\" ] }";
    let out = after_set("", set, &attrs());
    assert_eq!(out.attrs.unwrap().communities, communities(&["2:2", "1:5"]));
}

#[test]
fn community_delete_list_removes_what_the_named_list_matches() {
    let lists = "community-lists:\n  BLUE: [ \"65000:*\", blackhole ]\n";
    let mut a = attrs();
    a.communities = communities(&["65000:100", "blackhole", "65001:1"]).into();
    let out = after_set(lists, "community: { delete-list: BLUE }", &a);
    assert_eq!(out.attrs.unwrap().communities, communities(&["65001:1"]));
}

#[test]
fn large_community_add_delete_and_replace() {
    let l = |g, a, b| LargeCommunity {
        global: g,
        local1: a,
        local2: b,
    };
    let mut a = attrs();
    a.large_communities = thin_vec::thin_vec![l(65000, 1, 1), l(65000, 2, 1)];
    let out = after_set(
        "",
        "large-community: { add: [ \"65000:3:3\" ], delete: [ \"65000:1:*\" ] }",
        &a,
    );
    assert_eq!(
        out.attrs.unwrap().large_communities,
        vec![l(65000, 2, 1), l(65000, 3, 3)]
    );
    let out = after_set(
        "",
        "large-community: { replace: [ \"4200000001:0:0\" ] }",
        &a,
    );
    assert_eq!(
        out.attrs.unwrap().large_communities,
        vec![l(4_200_000_001, 0, 0)]
    );
    let lists = "large-community-lists:\n  RED: [ \"65000:*:1\" ]\n";
    let out = after_set(lists, "large-community: { delete-list: RED }", &a);
    assert_eq!(out.attrs.unwrap().large_communities, vec![]);
}

#[test]
fn ext_community_add_delete_and_replace() {
    let rt = ExtendedCommunity::route_target;
    let mut a = attrs();
    a.ext_communities = thin_vec::thin_vec![rt(65000, 7), rt(65000, 8)];
    let out = after_set(
        "",
        "ext-community: { add: [ \"rt:65001:1\" ], delete: [ \"rt:65000:7\" ] }",
        &a,
    );
    assert_eq!(
        out.attrs.unwrap().ext_communities,
        vec![rt(65000, 8), rt(65001, 1)]
    );
    let set = "ext-community: { replace: [ \"rt:192.0.2.1:5\", \"soo:4200000001:3\", \"0x0002fde800000009\" ] }";
    let got = after_set("", set, &a).attrs.unwrap().ext_communities;
    let text: Vec<String> = got.iter().map(|c| c.to_string()).collect();
    assert_eq!(text, ["rt:192.0.2.1:5", "soo:4200000001:3", "rt:65000:9"]);
    let out = after_set("", "ext-community: { delete: [ \"rt:65000:*\" ] }", &a);
    assert_eq!(out.attrs.unwrap().ext_communities, vec![]);
}

#[test]
fn next_hop_instructions_are_reported_without_touching_the_attributes() {
    let cases = [
        ("self", NextHopAction::SelfAddress),
        ("peer-address", NextHopAction::PeerAddress),
        ("unchanged", NextHopAction::Unchanged),
        (
            "192.0.2.9",
            NextHopAction::Address("192.0.2.9".parse().unwrap()),
        ),
        (
            "\"2001:db8::9\"",
            NextHopAction::Address("2001:db8::9".parse().unwrap()),
        ),
    ];
    for (text, want) in cases {
        let out = after_set("", &format!("next-hop: {text}"), &attrs());
        assert_eq!(out.next_hop, Some(want), "{text}");
        assert_eq!(out.attrs, None);
    }
    let out = after_set("", "local-pref: 5", &attrs());
    assert_eq!(out.next_hop, None);
}

#[test]
fn next_keeps_modifications_and_the_last_applied_values_win() {
    let yaml = "policies:\n  P:\n    - set: { local-pref: 200, med: 1, next-hop: self }\n      \
                action: next\n    - match: { family: ipv6 }\n      set: { local-pref: 1 }\n      \
                action: next\n    - set: { med: \"+5\" }\n      action: accept\n";
    let out = run(&compile(yaml), "P", "10.1.2.0/24", &attrs());
    assert!(out.accept);
    assert_eq!(out.next_hop, Some(NextHopAction::SelfAddress));
    let a = out.attrs.unwrap();
    assert_eq!((a.local_pref, a.med), (Some(200), Some(6)));
}

#[test]
fn routes_no_term_decides_are_rejected() {
    let yaml = "policies:\n  P:\n    - match: { family: ipv6 }\n      action: accept\n    \
                - set: { local-pref: 5 }\n      action: next\n    - match: { origin: egp }\n      \
                action: accept\n";
    let out = run(&compile(yaml), "P", "10.1.2.0/24", &attrs());
    assert_eq!(out, crate::policy::Outcome::rejected());
}

#[test]
fn a_reject_term_rejects_and_drops_earlier_modifications() {
    let yaml =
        "policies:\n  P:\n    - set: { local-pref: 5, next-hop: self }\n      action: next\n    \
                - match: { neighbor-as: 65001 }\n      action: reject\n    - action: accept\n";
    let p = compile(yaml);
    assert_eq!(
        run(&p, "P", "10.1.2.0/24", &attrs()),
        crate::policy::Outcome::rejected()
    );
    let mut a = attrs();
    a.as_path = AsPath::sequence([65003]);
    let out = run(&p, "P", "10.1.2.0/24", &a);
    assert!(out.accept);
    assert_eq!(out.attrs_or(&a).local_pref, Some(5));
}

#[test]
fn an_accept_only_policy_returns_the_attributes_unmodified() {
    let p = compile("policies:\n  P:\n    - action: accept\n");
    let out = run(&p, "P", "10.1.2.0/24", &attrs());
    assert!(out.accept);
    assert_eq!(out.attrs, None);
    assert_eq!(out.next_hop, None);
}
