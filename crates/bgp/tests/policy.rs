//! Properties of the policy engine through its public API: evaluation never panics, policies
//! that modify nothing return no attributes, and evaluation does not allocate then.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{Ipv4Addr, Ipv6Addr};

use bgp::policy::{Outcome, Policies, PolicyConfig, RouteInfo};
use bgp::rib::attrs::{Attrs, NextHop};
use bgp_wire::{
    AsPath, AsSegment, Community, ExtendedCommunity, LargeCommunity, Origin, Prefix, SegmentType,
};
use proptest::prelude::*;

/// Counts this thread's allocations, to check that unmodified routes cost none.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// const-initialized thread-local `Cell`, which never allocates.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Lists every generated term may refer to.
const LISTS: &str = r#"
prefix-lists:
  PODS:
    - { prefix: 10.1.0.0/16, ge: 24, le: 24 }
    - { prefix: "2001:db8::/32", le: 64 }
    - { prefix: 0.0.0.0/0, le: 32, action: deny }
as-path-lists:
  FROM-1: [ "^1_", "_3$", "_{1,2}_", "^$" ]
community-lists:
  BLUE: [ "1:1", "2:*", "*:3", "no-export" ]
large-community-lists:
  RED: [ "1:*:1" ]
ext-community-lists:
  RT: [ "rt:1:*", "soo:192.0.2.1:1" ]
"#;

/// Conditions a generated term may use.
const CONDITIONS: &[&str] = &[
    "prefix-list: PODS",
    "as-path-list: FROM-1",
    "as-path-length: { le: 2 }",
    "as-path-length: { eq: 0 }",
    "as-path-contains: 2",
    "neighbor-as: 1",
    "origin: igp",
    "community-list: BLUE",
    "large-community-list: RED",
    "ext-community-list: RT",
    "next-hop: 10.0.0.0/8",
    "family: ipv6",
];

/// Modifications a generated term may make.
const SETS: &[&str] = &[
    "local-pref: 7",
    "med: 4294967295",
    "med: \"+4294967295\"",
    "med: \"-1\"",
    "med: remove",
    "origin: egp",
    "as-path-prepend: { asn: 4294967295, count: 10 }",
    "as-path-prepend: { last-as: 10 }",
    "as-path-exclude: [ 1, 2, 3 ]",
    "community: { add: [ \"1:1\", no-export ], delete: [ \"*:*\" ] }",
    "community: { replace: [], delete-list: BLUE }",
    "large-community: { add: [ \"1:2:1\" ], delete: [ \"*:*:*\" ] }",
    "ext-community: { replace: [ \"rt:1:1\", \"rt:192.0.2.1:65535\" ], delete: [ \"rt:*:1\" ] }",
    "next-hop: self",
    "next-hop: \"2001:db8::1\"",
];

/// A term: some conditions, some modifications, an action (0 accept, 1 reject, 2 next).
type TermSpec = (Vec<usize>, Vec<usize>, u8);

fn term_yaml((conds, sets, action): &TermSpec, with_sets: bool) -> String {
    let mut t = String::from("    - action: ");
    t.push_str(["accept", "reject", "next"][usize::from(*action % 3)]);
    t.push('\n');
    if !conds.is_empty() {
        let mut c: Vec<&str> = conds
            .iter()
            .map(|&i| CONDITIONS[i % CONDITIONS.len()])
            .collect();
        // One condition per key (YAML mappings refuse duplicate keys).
        c.dedup_by_key(|x| x.split(':').next());
        t.push_str(&format!("      match: {{ {} }}\n", c.join(", ")));
    }
    if with_sets && !sets.is_empty() && action % 3 != 1 {
        let s: Vec<&str> = sets.iter().map(|&i| SETS[i % SETS.len()]).collect();
        t.push_str(&format!("      set: {{ {} }}\n", s.join(", ")));
    }
    t
}

/// Compiles a policy `P` of the given terms, or `None` if validation refuses it (e.g. a
/// term after an unconditional decision, or duplicate keys in a mapping).
fn policies(terms: &[TermSpec], with_sets: bool, tail: &str) -> Option<Policies> {
    let mut yaml = format!("{LISTS}policies:\n  P:\n");
    for t in terms {
        yaml.push_str(&term_yaml(t, with_sets));
    }
    yaml.push_str(tail);
    let cfg = PolicyConfig::from_yaml(&yaml).ok()?;
    Policies::compile(&cfg).ok()
}

fn term() -> impl Strategy<Value = TermSpec> {
    (
        proptest::collection::btree_set(0..CONDITIONS.len(), 0..4)
            .prop_map(|s| s.into_iter().collect()),
        proptest::collection::btree_set(0..SETS.len(), 0..4).prop_map(|s| s.into_iter().collect()),
        0u8..3,
    )
}

fn segment() -> impl Strategy<Value = AsSegment> {
    let kind = prop_oneof![
        Just(SegmentType::Sequence),
        Just(SegmentType::Set),
        Just(SegmentType::ConfedSequence),
        Just(SegmentType::ConfedSet),
    ];
    let asn = prop_oneof![0u32..5, any::<u32>()];
    (kind, proptest::collection::vec(asn, 0..4)).prop_map(|(kind, asns)| AsSegment { kind, asns })
}

fn route_attrs() -> impl Strategy<Value = Attrs> {
    let origin = prop_oneof![
        Just(Origin::Igp),
        Just(Origin::Egp),
        Just(Origin::Incomplete)
    ];
    let next_hop = prop_oneof![
        any::<u32>().prop_map(|a| NextHop::V4(Ipv4Addr::from(a))),
        (any::<u128>(), proptest::option::of(any::<u128>())).prop_map(|(g, l)| NextHop::V6 {
            global: Ipv6Addr::from(g),
            link_local: l.map(Ipv6Addr::from),
        }),
    ];
    let community = prop_oneof![
        (0u32..4).prop_map(|x| Community(x << 16 | 3)),
        any::<u32>().prop_map(Community)
    ];
    let large = (0u32..3, 0u32..3, 0u32..3).prop_map(|(g, a, b)| LargeCommunity {
        global: g,
        local1: a,
        local2: b,
    });
    let ext = prop_oneof![
        (0u16..3, 0u32..3).prop_map(|(a, v)| ExtendedCommunity::route_target(a, v)),
        any::<[u8; 8]>().prop_map(ExtendedCommunity)
    ];
    (
        origin,
        proptest::collection::vec(segment(), 0..4),
        next_hop,
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
        ),
        proptest::collection::vec(community, 0..4),
        proptest::collection::vec(large, 0..3),
        proptest::collection::vec(ext, 0..3),
    )
        .prop_map(|(origin, segments, next_hop, (med, local_pref), c, l, e)| {
            let mut a = Attrs::local(origin);
            a.as_path = AsPath { segments };
            a.next_hop = next_hop;
            a.med = med;
            a.local_pref = local_pref;
            a.communities = c.into();
            a.large_communities = l.into();
            a.ext_communities = e.into();
            a
        })
}

fn prefix() -> impl Strategy<Value = Prefix> {
    prop_oneof![
        (any::<u32>(), 0u8..=32)
            .prop_map(|(a, l)| Prefix::new(Ipv4Addr::from(a).into(), l).unwrap()),
        (0x2001_0db8u32..0x2001_0dba, any::<u32>(), 0u8..=128).prop_map(|(h, l2, l)| Prefix::new(
            Ipv6Addr::from(u128::from(h) << 96 | u128::from(l2)).into(),
            l
        )
        .unwrap()),
    ]
}

fn evaluate(p: &Policies, prefix: Prefix, attrs: &Attrs, local_asn: u32) -> Outcome {
    p.get("P").expect("policy P").evaluate(&RouteInfo {
        prefix,
        attrs,
        local_asn,
    })
}

mod policy_properties {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn policy_evaluation_never_panics_and_reports_consistent_outcomes(
            terms in proptest::collection::vec(term(), 1..6),
            attrs in route_attrs(),
            prefix in prefix(),
            local_asn in prop_oneof![Just(0u32), any::<u32>()],
        ) {
            // The last term decides (a final `next` is refused as having no effect).
            let mut terms = terms;
            if let Some(last) = terms.last_mut() {
                last.2 %= 2;
            }
            let Some(p) = policies(&terms, true, "") else { return Ok(()) };
            let out = evaluate(&p, prefix, &attrs, local_asn);
            if !out.accept {
                prop_assert_eq!(out, Outcome::rejected());
            } else if let Some(m) = &out.attrs {
                prop_assert_ne!(m, &attrs, "attrs reported modified but equal");
            }
        }

        #[test]
        fn a_policy_that_only_matches_and_accepts_returns_the_attributes_unchanged(
            terms in proptest::collection::vec(term(), 0..6),
            attrs in route_attrs(),
            prefix in prefix(),
        ) {
            // Only accept and next actions, no sets, and a final catch-all accept.
            let terms: Vec<TermSpec> = terms.into_iter().map(|(c, s, a)| (c, s, if a == 1 { 2 } else { a })).collect();
            let Some(p) = policies(&terms, false, "    - action: accept\n") else { return Ok(()) };
            let out = evaluate(&p, prefix, &attrs, 65000);
            prop_assert!(out.accept);
            prop_assert_eq!(out.attrs, None);
            prop_assert_eq!(out.next_hop, None);
        }

        #[test]
        fn policy_compilation_never_panics_on_arbitrary_text(
            texts in proptest::collection::vec(".{0,12}", 6),
            ge in proptest::option::of(any::<u8>()),
            le in proptest::option::of(any::<u8>()),
        ) {
            let mut cfg = PolicyConfig::default();
            cfg.prefix_lists.insert("L".into(), vec![bgp::policy::PrefixListEntry {
                prefix: texts[0].clone(), ge, le, action: bgp::policy::PrefixAction::Permit,
            }]);
            cfg.as_path_lists.insert("A".into(), vec![texts[1].clone()]);
            cfg.community_lists.insert("C".into(), vec![texts[2].clone()]);
            cfg.large_community_lists.insert("G".into(), vec![texts[3].clone()]);
            cfg.ext_community_lists.insert("E".into(), vec![texts[4].clone()]);
            let _ = Policies::compile(&cfg);
            let _ = PolicyConfig::from_yaml(&texts.concat());
        }
    }

    #[test]
    fn policy_generation_yields_mostly_valid_policies_so_the_properties_are_not_vacuous() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = proptest::collection::vec(term(), 1..6);
        let mut valid = 0;
        for _ in 0..200 {
            let mut terms = strategy.new_tree(&mut runner).expect("tree").current();
            if let Some(last) = terms.last_mut() {
                last.2 %= 2;
            }
            valid += usize::from(policies(&terms, true, "").is_some());
        }
        eprintln!("{valid} of 200 generated policies compile");
        assert!(
            valid >= 100,
            "only {valid} of 200 generated policies compile"
        );
    }

    #[test]
    fn policy_evaluation_of_an_unmodified_route_does_not_allocate() {
        let tail = "    - match: { prefix-list: PODS, as-path-list: FROM-1, community-list: BLUE, \
                    ext-community-list: RT, as-path-length: { le: 3 } }\n      action: next\n    \
                    - set: { local-pref: 100, med: 5 }\n      action: accept\n";
        let p = policies(&[], true, tail).expect("compiles");
        let mut a = Attrs::local(Origin::Igp);
        a.as_path = AsPath::sequence([1, 2, 3]);
        a.communities = thin_vec::thin_vec![Community::new(2, 9)];
        a.ext_communities = thin_vec::thin_vec![ExtendedCommunity::route_target(1, 5)];
        a.local_pref = Some(100);
        a.med = Some(5);
        let prefix: Prefix = "10.1.9.0/24".parse().unwrap();
        // The first run warms the regex cache and the AS path buffer of this thread.
        assert!(evaluate(&p, prefix, &a, 65000).accept);
        let before = allocations();
        for _ in 0..100 {
            let out = evaluate(&p, prefix, &a, 65000);
            assert!(out.accept && out.attrs.is_none());
        }
        assert_eq!(allocations() - before, 0);
        // A modification copies the attributes once.
        a.med = Some(6);
        let before = allocations();
        let out = evaluate(&p, prefix, &a, 65000);
        assert!(allocations() > before);
        assert_eq!(out.attrs.expect("modified").med, Some(5));
    }
}
