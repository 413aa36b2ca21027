//! FRR's AS-path regexes: the text they see and the `_` boundary.

use bgp_wire::{AsPath, SegmentType};

use super::path;
use crate::policy::aspath::{check, render, translate, AsPathList};

fn text(p: &AsPath) -> String {
    let mut s = String::new();
    render(p, &mut s);
    s
}

/// Whether the FRR-style `pattern` matches `path`.
fn is_match(pattern: &str, path: &AsPath) -> bool {
    check(pattern).unwrap();
    AsPathList::new(&[pattern.to_string()])
        .unwrap()
        .is_match(&text(path))
}

fn seq(asns: &[u32]) -> AsPath {
    AsPath::sequence(asns.iter().copied())
}

#[test]
fn paths_are_matched_in_the_text_frr_prints() {
    let p = path(&[
        (SegmentType::ConfedSequence, &[64512, 64513]),
        (SegmentType::ConfedSet, &[64514, 64515]),
        (SegmentType::Sequence, &[65001, 65002]),
        (SegmentType::Set, &[1, 2]),
    ]);
    assert_eq!(text(&p), "(64512 64513) [64514,64515] 65001 65002 {1,2}");
    assert_eq!(text(&AsPath::default()), "");
}

#[test]
fn underscore_matches_an_as_alone_at_the_start_at_the_end_and_inside() {
    let re = "_65001_";
    assert!(is_match(re, &seq(&[65001])));
    assert!(is_match(re, &seq(&[65001, 2])));
    assert!(is_match(re, &seq(&[2, 65001])));
    assert!(is_match(re, &seq(&[1, 65001, 2])));
}

#[test]
fn underscore_matches_inside_as_sets_and_confederation_segments() {
    let re = "_65001_";
    let set =
        |asns: &'static [u32]| path(&[(SegmentType::Sequence, &[7]), (SegmentType::Set, asns)]);
    assert!(is_match(re, &set(&[65001, 2])));
    assert!(is_match(re, &set(&[2, 65001])));
    assert!(is_match(re, &set(&[1, 65001, 2])));
    assert!(is_match(re, &path(&[(SegmentType::Set, &[65001])])));
    assert!(is_match(
        re,
        &path(&[(SegmentType::ConfedSequence, &[65001, 3])])
    ));
    assert!(is_match(
        re,
        &path(&[(SegmentType::ConfedSet, &[3, 65001])])
    ));
}

#[test]
fn underscore_does_not_match_inside_a_longer_number() {
    let re = "_65001_";
    assert!(!is_match(re, &seq(&[650011])));
    assert!(!is_match(re, &seq(&[165001])));
    assert!(!is_match(re, &seq(&[1, 650012, 2])));
    assert!(!is_match(re, &AsPath::default()));
}

#[test]
fn anchored_patterns_select_the_neighbor_and_the_origin_as() {
    let p = seq(&[65001, 65002, 65003]);
    assert!(is_match("^65001_", &p));
    assert!(!is_match("^65002_", &p));
    assert!(is_match("_65003$", &p));
    assert!(!is_match("_65002$", &p));
    assert!(is_match("^65001_65002_", &p));
    assert!(is_match("^65001 65002 65003$", &p));
    assert!(!is_match("^6500$", &p));
}

#[test]
fn empty_path_and_wildcard_patterns_work_as_in_frr() {
    assert!(is_match("^$", &AsPath::default()));
    assert!(!is_match("^$", &seq(&[1])));
    assert!(is_match(".*", &AsPath::default()));
    assert!(is_match("_6500[0-9]_", &seq(&[1, 65007])));
    assert!(!is_match("_6500[0-9]_", &seq(&[1, 65010])));
    assert!(is_match("^[0-9]+$", &seq(&[64999])));
    assert!(!is_match("^[0-9]+$", &seq(&[64999, 1])));
}

#[test]
fn underscores_in_bracket_expressions_and_escaped_are_literal() {
    assert_eq!(translate(r"a\_b"), "a_b");
    assert_eq!(translate("[_]"), "[_]");
    assert_eq!(translate("[]_]"), r"[\]_]");
    assert!(translate("_1").starts_with("(?:^|"));
}
