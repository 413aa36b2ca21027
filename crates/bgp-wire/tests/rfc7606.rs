//! RFC 7606 ("Revised Error Handling for BGP UPDATE Messages"): one test per rule of
//! section 7, and the length, flag and structure rules of sections 3, 4 and 5.

use bgp_wire::update::attr::{code, flags};
use bgp_wire::update::view::Update;
use bgp_wire::{Action, Disposition, Family, IssueKind, SessionContext, UpdateError};

const O: u8 = flags::OPTIONAL;
const T: u8 = flags::TRANSITIVE;

fn attr(fl: u8, t: u8, v: &[u8]) -> Vec<u8> {
    let mut a = vec![fl, t];
    if fl & flags::EXTENDED_LENGTH != 0 {
        a.extend_from_slice(&(v.len() as u16).to_be_bytes());
    } else {
        a.push(v.len() as u8);
    }
    a.extend_from_slice(v);
    a
}

fn message(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    let len = 19 + 2 + withdrawn.len() + 2 + attrs.len() + nlri.len();
    m.extend_from_slice(&(len as u16).to_be_bytes());
    m.push(2);
    m.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    m.extend_from_slice(withdrawn);
    m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    m.extend_from_slice(attrs);
    m.extend_from_slice(nlri);
    m
}

fn origin() -> Vec<u8> {
    attr(T, code::ORIGIN, &[0])
}
fn as_path() -> Vec<u8> {
    attr(T, code::AS_PATH, &[2, 1, 0, 0, 0xfd, 0xe9])
}
fn next_hop() -> Vec<u8> {
    attr(T, code::NEXT_HOP, &[10, 0, 0, 1])
}
/// 10.1.0.0/24 and 10.2.0.0/16.
const NLRI: &[u8] = &[24, 10, 1, 0, 16, 10, 2];

/// A valid UPDATE with `extra` attributes appended to ORIGIN, AS_PATH, NEXT_HOP.
fn with(extra: &[Vec<u8>]) -> Vec<u8> {
    let mut a = [origin(), as_path(), next_hop()].concat();
    for e in extra {
        a.extend_from_slice(e);
    }
    message(&[], &a, NLRI)
}

fn ebgp() -> SessionContext {
    SessionContext::ebgp()
}
fn ibgp() -> SessionContext {
    SessionContext::ibgp()
}

fn decode(m: &[u8], ctx: SessionContext) -> Update<'_> {
    match Update::decode(m, &ctx) {
        Ok(u) => u,
        Err(e) => panic!("expected a decodable UPDATE, got: {e}"),
    }
}

fn reset(m: &[u8], ctx: SessionContext) -> UpdateError {
    match Update::decode(m, &ctx) {
        Ok(u) => panic!(
            "expected a session reset, got {:?} / {:?}",
            u.disposition(),
            u.issues()
        ),
        Err(e) => e,
    }
}

fn assert_withdraw(u: &Update<'_>, t: u8) {
    assert_eq!(
        u.disposition(),
        Disposition::TreatAsWithdraw,
        "{:?}",
        u.issues()
    );
    assert!(
        u.issues()
            .iter()
            .any(|i| i.type_code == t && i.action == Action::TreatAsWithdraw),
        "no treat-as-withdraw issue for type {t}: {:?}",
        u.issues()
    );
    assert_eq!(u.announced().count(), 0);
    let w: Vec<String> = u.withdrawals().map(|(_, n)| n.to_string()).collect();
    assert_eq!(w, ["10.1.0.0/24", "10.2.0.0/16"]);
}

fn assert_discarded(u: &Update<'_>, t: u8) {
    assert_eq!(u.disposition(), Disposition::Normal, "{:?}", u.issues());
    assert!(
        u.issues()
            .iter()
            .any(|i| i.type_code == t && i.action == Action::AttributeDiscard),
        "no attribute-discard issue for type {t}: {:?}",
        u.issues()
    );
    assert!(
        u.attributes().all(|a| a.type_code != t),
        "type {t} still present"
    );
    assert_eq!(u.announced().count(), 2);
}

#[test]
fn a_well_formed_update_is_processed_normally() {
    let m = with(&[]);
    let u = decode(&m, ebgp());
    assert_eq!(u.disposition(), Disposition::Normal);
    assert!(u.issues().is_empty());
    assert_eq!(u.next_hop(), Some("10.0.0.1".parse().unwrap()));
    assert_eq!(u.as_path().unwrap().first_as(), Some(65001));
    assert_eq!(u.announced().count(), 2);
}

// ---- Section 3 ----

#[test]
fn section_3b_lengths_exceeding_the_message_reset_with_malformed_attribute_list() {
    let mut m = with(&[]);
    m[21] = 0xff; // withdrawn routes length
    let e = reset(&m, ebgp());
    assert_eq!((e.notification.code, e.notification.subcode), (3, 1));
    let mut m = with(&[]);
    m[22] = 0xff; // total attribute length (low octet)
    m[21] = 0;
    m[23] = 0xff;
    assert_eq!(reset(&m, ebgp()).notification.subcode, 1);
    // Too short to hold the two length fields at all.
    let mut m = message(&[], &[], &[]);
    m.truncate(21);
    m[17] = 21;
    assert_eq!(reset(&m, ebgp()).notification.subcode, 1);
}

#[test]
fn section_3c_wrong_optional_or_transitive_bits_are_treat_as_withdraw() {
    // ORIGIN flagged optional.
    let a = [attr(O | T, code::ORIGIN, &[0]), as_path(), next_hop()].concat();
    let m = message(&[], &a, NLRI);
    let u = decode(&m, ebgp());
    assert_withdraw(&u, code::ORIGIN);
    assert!(matches!(
        u.issues().iter().next().unwrap().kind,
        IssueKind::Flags(_)
    ));
    // MED flagged transitive well-known.
    let m = with(&[attr(T, code::MULTI_EXIT_DISC, &[0, 0, 0, 1])]);
    assert_withdraw(&decode(&m, ebgp()), code::MULTI_EXIT_DISC);
    // COMMUNITIES without the transitive bit.
    let m = with(&[attr(O, code::COMMUNITIES, &[0, 1, 0, 1])]);
    assert_withdraw(&decode(&m, ebgp()), code::COMMUNITIES);
}

#[test]
fn section_3c_3f_wrong_flags_on_aggregator_or_atomic_aggregate_discard_the_attribute() {
    let m = with(&[attr(T, code::AGGREGATOR, &[0, 0, 0xfd, 0xe9, 10, 0, 0, 1])]);
    assert_discarded(&decode(&m, ebgp()), code::AGGREGATOR);
    let m = with(&[attr(O | T, code::ATOMIC_AGGREGATE, &[])]);
    assert_discarded(&decode(&m, ebgp()), code::ATOMIC_AGGREGATE);
}

#[test]
fn section_5_3_mp_reach_with_wrong_flags_resets_the_session() {
    let mp = attr(
        O | T,
        code::MP_REACH_NLRI,
        &[
            0, 2, 1, 16, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
        ],
    );
    let m = message(&[], &[origin(), as_path(), mp].concat(), &[]);
    let e = reset(&m, ebgp());
    assert_eq!((e.notification.code, e.notification.subcode), (3, 4));
}

#[test]
fn section_3d_a_missing_well_known_mandatory_attribute_is_treat_as_withdraw() {
    for (missing, attrs) in [
        (code::ORIGIN, [as_path(), next_hop()].concat()),
        (code::AS_PATH, [origin(), next_hop()].concat()),
        (code::NEXT_HOP, [origin(), as_path()].concat()),
    ] {
        let m = message(&[], &attrs, NLRI);
        let u = decode(&m, ebgp());
        assert_withdraw(&u, missing);
        let issue = u.issues().iter().find(|i| i.type_code == missing).unwrap();
        assert_eq!(issue.kind, IssueKind::MissingWellKnown);
        assert_eq!(issue.notification(u.attributes_bytes()).data, vec![missing]);
    }
}

#[test]
fn section_3d_next_hop_is_not_required_when_only_mp_reach_carries_nlri() {
    let mut v = vec![0, 2, 1, 16];
    v.extend_from_slice(&"fd00::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
    v.extend_from_slice(&[0, 64, 0xfd, 0, 0, 0, 0, 0, 0, 1]);
    let m = message(
        &[],
        &[attr(O, code::MP_REACH_NLRI, &v), origin(), as_path()].concat(),
        &[],
    );
    let u = decode(&m, ebgp());
    assert_eq!(u.disposition(), Disposition::Normal, "{:?}", u.issues());
    let (fam, n) = u.announced().next().unwrap();
    assert_eq!(fam, Family::IPV6_UNICAST);
    assert_eq!(n.to_string(), "fd00:0:0:1::/64");
}

#[test]
fn section_3g_a_repeated_attribute_keeps_only_the_first() {
    let m = with(&[
        attr(O | T, code::COMMUNITIES, &[0, 1, 0, 1]),
        attr(O | T, code::COMMUNITIES, &[0, 2, 0, 2]),
    ]);
    let u = decode(&m, ebgp());
    assert_eq!(u.disposition(), Disposition::Normal);
    let cs: Vec<String> = u.communities().map(|c| c.to_string()).collect();
    assert_eq!(cs, ["1:1"]);
    assert_eq!(
        u.attributes()
            .filter(|a| a.type_code == code::COMMUNITIES)
            .count(),
        1
    );
    assert!(u.issues().iter().any(|i| i.kind == IssueKind::Duplicate));
}

#[test]
fn section_3g_a_repeated_mp_attribute_resets_with_malformed_attribute_list() {
    let un = attr(O, code::MP_UNREACH_NLRI, &[0, 2, 1]);
    let m = message(&[], &[un.clone(), un].concat(), &[]);
    let e = reset(&m, ebgp());
    assert_eq!((e.notification.code, e.notification.subcode), (3, 1));
}

#[test]
fn section_3h_the_strongest_approach_wins() {
    // attribute discard (ATOMIC_AGGREGATE length) + treat-as-withdraw (MED length).
    let m = with(&[
        attr(T, code::ATOMIC_AGGREGATE, &[1]),
        attr(O, code::MULTI_EXIT_DISC, &[0, 1]),
    ]);
    let u = decode(&m, ebgp());
    assert_eq!(u.disposition(), Disposition::TreatAsWithdraw);
    assert_eq!(u.issues().iter().count(), 2);
    // treat-as-withdraw (ORIGIN) + session reset (bad MP_REACH).
    let m = message(
        &[],
        &[
            attr(T, code::ORIGIN, &[9]),
            as_path(),
            attr(O, code::MP_REACH_NLRI, &[0, 2, 1, 4, 1, 2, 3, 4, 0]),
        ]
        .concat(),
        &[],
    );
    assert_eq!(reset(&m, ebgp()).notification.subcode, 9);
}

#[test]
fn section_3i_malformed_withdrawn_routes_reset_with_invalid_network_field() {
    let m = message(&[33, 10, 0, 0, 0, 0], &[], &[]);
    let e = reset(&m, ebgp());
    assert_eq!((e.notification.code, e.notification.subcode), (3, 10));
}

// ---- Section 4 ----

#[test]
fn section_4_an_attribute_overrunning_the_field_is_treat_as_withdraw_and_nlri_still_found() {
    let mut a = [origin(), as_path(), next_hop()].concat();
    a.extend_from_slice(&[O | T, code::COMMUNITIES, 200, 0, 1]); // claims 200 octets
    let m = message(&[], &a, NLRI);
    let u = decode(&m, ebgp());
    assert_withdraw(&u, code::COMMUNITIES);
    assert_eq!(
        u.issues().iter().next().unwrap().kind,
        IssueKind::AttributeOverrun
    );
}

#[test]
fn section_4_too_few_octets_for_an_attribute_header_is_treat_as_withdraw() {
    let mut a = [origin(), as_path(), next_hop()].concat();
    a.extend_from_slice(&[O | T, code::COMMUNITIES]);
    let m = message(&[], &a, NLRI);
    let u = decode(&m, ebgp());
    assert_eq!(u.disposition(), Disposition::TreatAsWithdraw);
    assert_eq!(
        u.issues().iter().next().unwrap().kind,
        IssueKind::TruncatedAttributeHeader
    );
    // Extended length flag but only three octets left.
    let mut a = [origin(), as_path(), next_hop()].concat();
    a.extend_from_slice(&[O | T | flags::EXTENDED_LENGTH, code::COMMUNITIES, 0]);
    let m = message(&[], &a, NLRI);
    assert_eq!(
        decode(&m, ebgp()).disposition(),
        Disposition::TreatAsWithdraw
    );
}

#[test]
fn section_4_zero_length_is_an_error_except_for_as_path_and_atomic_aggregate() {
    let m = with(&[attr(O, code::MULTI_EXIT_DISC, &[])]);
    assert_withdraw(&decode(&m, ebgp()), code::MULTI_EXIT_DISC);
    // Empty AS_PATH (iBGP, locally originated) and ATOMIC_AGGREGATE are fine.
    let a = [
        origin(),
        attr(T, code::AS_PATH, &[]),
        next_hop(),
        attr(T, code::ATOMIC_AGGREGATE, &[]),
    ]
    .concat();
    let m = message(&[], &a, NLRI);
    let u = decode(&m, ibgp());
    assert_eq!(u.disposition(), Disposition::Normal);
    assert!(u.atomic_aggregate());
    assert_eq!(u.as_path().unwrap().path_len(), 0);
}

// ---- Section 5 ----

#[test]
fn section_5_2_an_error_in_an_update_without_reachable_nlri_resets_the_session() {
    let m = message(
        &[24, 10, 9, 9],
        &[attr(T, code::ORIGIN, &[7])].concat(),
        &[],
    );
    let e = reset(&m, ebgp());
    assert_eq!((e.notification.code, e.notification.subcode), (3, 6));
    assert!(e.to_string().contains("§5.2"), "{e}");
}

#[test]
fn section_5_2_attribute_discard_without_reachable_nlri_is_still_processed() {
    let m = message(&[24, 10, 9, 9], &attr(T, code::ATOMIC_AGGREGATE, &[1]), &[]);
    let u = decode(&m, ebgp());
    assert_eq!(u.withdrawals().count(), 1);
}

#[test]
fn section_5_2_end_of_rib_markers_are_recognised_for_both_families() {
    let m = message(&[], &[], &[]);
    assert_eq!(decode(&m, ebgp()).end_of_rib(), Some(Family::IPV4_UNICAST));
    let m = message(&[], &attr(O, code::MP_UNREACH_NLRI, &[0, 2, 1]), &[]);
    assert_eq!(decode(&m, ebgp()).end_of_rib(), Some(Family::IPV6_UNICAST));
    assert_eq!(decode(&with(&[]), ebgp()).end_of_rib(), None);
}

#[test]
fn section_5_3_a_syntactically_incorrect_nlri_field_resets_the_session() {
    let a = [origin(), as_path(), next_hop()].concat();
    for nlri in [&[33u8, 1, 2, 3, 4, 5][..], &[24, 10, 1][..]] {
        let m = message(&[], &a, nlri);
        let e = reset(&m, ebgp());
        assert_eq!((e.notification.code, e.notification.subcode), (3, 10));
    }
}

#[test]
fn section_5_3_malformed_mp_attributes_reset_the_session() {
    let cases: [(u8, &[u8]); 4] = [
        (code::MP_UNREACH_NLRI, &[0, 2]),            // shorter than 3
        (code::MP_REACH_NLRI, &[0, 2, 1, 0]),        // shorter than 5
        (code::MP_UNREACH_NLRI, &[0, 2, 1, 129, 0]), // IPv6 prefix length > 128
        (code::MP_REACH_NLRI, &[0, 1, 1, 4, 10, 0, 0, 1, 0, 24, 10]), // NLRI overrun
    ];
    for (t, v) in cases {
        let m = message(&[], &[origin(), as_path(), attr(O, t, v)].concat(), &[]);
        let e = reset(&m, ebgp());
        assert_eq!(
            (e.notification.code, e.notification.subcode),
            (3, 9),
            "{t} {v:?}"
        );
        assert_eq!(e.notification.data, attr(O, t, v));
    }
}

// ---- Section 7 ----

#[test]
fn section_7_1_origin_with_bad_length_or_value_is_treat_as_withdraw() {
    for v in [&[0u8, 0][..], &[3][..]] {
        let a = [attr(T, code::ORIGIN, v), as_path(), next_hop()].concat();
        let m = message(&[], &a, NLRI);
        assert_withdraw(&decode(&m, ebgp()), code::ORIGIN);
    }
}

#[test]
fn section_7_2_malformed_as_path_is_treat_as_withdraw() {
    for v in [
        &[5u8, 1, 0, 0, 0, 1][..],  // unknown segment type
        &[2, 0][..],                // zero-length segment
        &[2, 2, 0, 0, 0, 1][..],    // overrun
        &[2, 1, 0, 0, 0, 1, 2][..], // underrun
    ] {
        let a = [origin(), attr(T, code::AS_PATH, v), next_hop()].concat();
        let m = message(&[], &a, NLRI);
        let u = decode(&m, ebgp());
        assert_withdraw(&u, code::AS_PATH);
        let i = u.issues().iter().next().unwrap();
        assert_eq!(i.notification(u.attributes_bytes()).subcode, 11);
    }
}

#[test]
fn section_7_3_next_hop_with_bad_length_or_non_host_address_is_treat_as_withdraw() {
    for v in [
        &[10u8, 0, 0, 1, 0][..],
        &[0, 0, 0, 0][..],
        &[224, 0, 0, 5][..],
    ] {
        let a = [origin(), as_path(), attr(T, code::NEXT_HOP, v)].concat();
        let m = message(&[], &a, NLRI);
        assert_withdraw(&decode(&m, ebgp()), code::NEXT_HOP);
    }
}

#[test]
fn section_7_4_med_with_bad_length_is_treat_as_withdraw() {
    let m = with(&[attr(O, code::MULTI_EXIT_DISC, &[0, 0, 1])]);
    assert_withdraw(&decode(&m, ebgp()), code::MULTI_EXIT_DISC);
}

#[test]
fn section_7_5_local_pref_from_an_external_peer_is_discarded() {
    let m = with(&[attr(T, code::LOCAL_PREF, &[0, 0, 0, 200])]);
    let u = decode(&m, ebgp());
    assert_discarded(&u, code::LOCAL_PREF);
    assert_eq!(u.local_pref(), None);
    assert_eq!(decode(&m, ibgp()).local_pref(), Some(200));
}

#[test]
fn section_7_5_local_pref_with_bad_length_from_an_internal_peer_is_treat_as_withdraw() {
    let m = with(&[attr(T, code::LOCAL_PREF, &[0, 0, 200])]);
    assert_withdraw(&decode(&m, ibgp()), code::LOCAL_PREF);
}

#[test]
fn section_7_6_atomic_aggregate_with_a_length_is_discarded() {
    let m = with(&[attr(T, code::ATOMIC_AGGREGATE, &[0])]);
    let u = decode(&m, ebgp());
    assert_discarded(&u, code::ATOMIC_AGGREGATE);
    assert!(!u.atomic_aggregate());
}

#[test]
fn section_7_7_aggregator_of_the_wrong_width_is_discarded() {
    let m = with(&[attr(O | T, code::AGGREGATOR, &[0xfd, 0xe9, 10, 0, 0, 1])]);
    assert_discarded(&decode(&m, ebgp()), code::AGGREGATOR); // 4-octet session needs 8
    let old = SessionContext {
        four_octet_as: false,
        ..ebgp()
    };
    let a = [
        origin(),
        attr(T, code::AS_PATH, &[2, 1, 0xfd, 0xe9]),
        next_hop(),
    ]
    .concat();
    let m8 = [
        a,
        attr(O | T, code::AGGREGATOR, &[0, 0, 0xfd, 0xe9, 10, 0, 0, 1]),
    ]
    .concat();
    let m = message(&[], &m8, NLRI);
    assert_discarded(&decode(&m, old), code::AGGREGATOR); // 2-octet session needs 6
}

#[test]
fn section_7_8_communities_not_a_non_zero_multiple_of_4_are_treat_as_withdraw() {
    for v in [&[][..], &[0u8, 1, 0, 1, 9][..]] {
        let m = with(&[attr(O | T, code::COMMUNITIES, v)]);
        assert_withdraw(&decode(&m, ebgp()), code::COMMUNITIES);
    }
}

#[test]
fn section_7_9_originator_id_is_discarded_from_external_and_checked_from_internal() {
    let m = with(&[attr(O, code::ORIGINATOR_ID, &[10, 0, 0, 9])]);
    assert_discarded(&decode(&m, ebgp()), code::ORIGINATOR_ID);
    assert_eq!(
        decode(&m, ibgp()).originator_id(),
        Some("10.0.0.9".parse().unwrap())
    );
    let m = with(&[attr(O, code::ORIGINATOR_ID, &[10, 0, 0])]);
    assert_withdraw(&decode(&m, ibgp()), code::ORIGINATOR_ID);
}

#[test]
fn section_7_10_cluster_list_is_discarded_from_external_and_checked_from_internal() {
    let m = with(&[attr(O, code::CLUSTER_LIST, &[10, 0, 0, 9, 10, 0, 0, 8])]);
    assert_discarded(&decode(&m, ebgp()), code::CLUSTER_LIST);
    assert_eq!(decode(&m, ibgp()).cluster_list().count(), 2);
    let m = with(&[attr(O, code::CLUSTER_LIST, &[10, 0, 0, 9, 10, 0])]);
    assert_withdraw(&decode(&m, ibgp()), code::CLUSTER_LIST);
}

#[test]
fn section_7_11_mp_reach_next_hop_length_inconsistent_with_the_family_resets() {
    // IPv6 unicast with a 4-octet next hop.
    let mp = attr(
        O,
        code::MP_REACH_NLRI,
        &[0, 2, 1, 4, 10, 0, 0, 1, 0, 64, 0xfd, 0, 0, 0, 0, 0, 0, 1],
    );
    let m = message(&[], &[mp, origin(), as_path()].concat(), &[]);
    let e = reset(&m, ebgp());
    assert!(e.to_string().contains("§7.11"), "{e}");
}

#[test]
fn section_7_14_extended_communities_not_a_multiple_of_8_are_treat_as_withdraw() {
    let m = with(&[attr(O | T, code::EXTENDED_COMMUNITIES, &[0; 7])]);
    assert_withdraw(&decode(&m, ebgp()), code::EXTENDED_COMMUNITIES);
    // An unrecognized extended community type is not an error.
    let m = with(&[attr(
        O | T,
        code::EXTENDED_COMMUNITIES,
        &[0x7f, 0x7f, 1, 2, 3, 4, 5, 6],
    )]);
    let u = decode(&m, ebgp());
    assert_eq!(u.disposition(), Disposition::Normal);
    assert_eq!(u.extended_communities().count(), 1);
}

#[test]
fn section_7_15_ipv6_extended_communities_not_a_multiple_of_20_are_treat_as_withdraw() {
    let m = with(&[attr(O | T, code::IPV6_EXTENDED_COMMUNITIES, &[0; 21])]);
    assert_withdraw(&decode(&m, ebgp()), code::IPV6_EXTENDED_COMMUNITIES);
    let m = with(&[attr(O | T, code::IPV6_EXTENDED_COMMUNITIES, &[0; 20])]);
    assert_eq!(decode(&m, ebgp()).disposition(), Disposition::Normal);
}

#[test]
fn section_7_13_a_traffic_engineering_attribute_shorter_than_its_fixed_part_is_treat_as_withdraw() {
    // RFC 5543: switching capability, encoding, 2 reserved octets, 8 bandwidths = 36.
    let m = with(&[attr(O, code::TRAFFIC_ENGINEERING, &[0; 35])]);
    assert_withdraw(&decode(&m, ebgp()), code::TRAFFIC_ENGINEERING);
    let m = with(&[attr(O, code::TRAFFIC_ENGINEERING, &[0; 36])]);
    let u = decode(&m, ebgp());
    assert_eq!(u.disposition(), Disposition::Normal);
    assert!(u.has_other_attributes(), "kept for the speaker");
    let m = with(&[attr(O | T, code::TRAFFIC_ENGINEERING, &[0; 36])]);
    assert_withdraw(&decode(&m, ebgp()), code::TRAFFIC_ENGINEERING);
}

#[test]
fn section_7_16_a_malformed_attr_set_is_treat_as_withdraw() {
    let set = |inner: &[u8]| {
        let mut v = 65001u32.to_be_bytes().to_vec();
        v.extend_from_slice(inner);
        v
    };
    let good = set(&attr(T, code::LOCAL_PREF, &[0, 0, 0, 100]));
    let m = with(&[attr(O | T, code::ATTR_SET, &good)]);
    assert_eq!(decode(&m, ibgp()).disposition(), Disposition::Normal);
    for bad in [
        vec![0, 0, 1],                                    // shorter than Origin AS
        set(&attr(O, code::MP_UNREACH_NLRI, &[0, 1, 1])), // MP attribute inside
        set(&attr(T, code::NEXT_HOP, &[10, 0, 0])),       // malformed inner attribute
        set(&[T, code::ORIGIN, 9, 0]),                    // inner attribute overruns
    ] {
        let m = with(&[attr(O | T, code::ATTR_SET, &bad)]);
        let u = decode(&m, ibgp());
        assert_withdraw(&u, code::ATTR_SET);
        let issue = u
            .issues()
            .iter()
            .find(|i| i.type_code == code::ATTR_SET)
            .unwrap();
        assert!(
            matches!(issue.kind, IssueKind::MalformedAttrSet(_)),
            "{issue}"
        );
        assert!(issue.to_string().contains("RFC 7606 §7.16"), "{issue}");
    }
}

#[test]
fn rfc8092_large_communities_not_a_multiple_of_12_are_treat_as_withdraw() {
    let m = with(&[attr(O | T, code::LARGE_COMMUNITIES, &[0; 13])]);
    assert_withdraw(&decode(&m, ebgp()), code::LARGE_COMMUNITIES);
}

#[test]
fn rfc6793_as4_attributes_from_a_4_octet_speaker_are_discarded() {
    let m = with(&[attr(O | T, code::AS4_PATH, &[2, 1, 0, 0, 0xfd, 0xe9])]);
    let u = decode(&m, ebgp());
    assert_discarded(&u, code::AS4_PATH);
    assert!(u.as4_path().is_none());
}

#[test]
fn rfc6793_malformed_as4_attributes_from_a_2_octet_speaker_are_discarded() {
    let old = SessionContext {
        four_octet_as: false,
        ..ebgp()
    };
    let base = [
        origin(),
        attr(T, code::AS_PATH, &[2, 1, 0x5b, 0xa0]),
        next_hop(),
    ]
    .concat();
    for extra in [
        attr(O | T, code::AS4_PATH, &[2, 2, 0, 0, 0, 1]),
        attr(O | T, code::AS4_AGGREGATOR, &[0, 0, 0, 1, 10, 0, 0]),
    ] {
        let m = message(&[], &[base.clone(), extra.clone()].concat(), NLRI);
        assert_discarded(&decode(&m, old), extra[1]);
    }
    let good = attr(O | T, code::AS4_PATH, &[2, 1, 0xfa, 0x56, 0xea, 0x01]);
    let m = message(&[], &[base, good].concat(), NLRI);
    let u = decode(&m, old);
    assert_eq!(u.as4_path().unwrap().first_as(), Some(4_200_000_001));
}

#[test]
fn rfc4271_an_unrecognized_well_known_attribute_resets_with_its_bytes_as_data() {
    let bogus = attr(T, 99, &[1, 2]);
    let m = with(std::slice::from_ref(&bogus));
    let e = reset(&m, ebgp());
    assert_eq!((e.notification.code, e.notification.subcode), (3, 2));
    assert_eq!(e.notification.data, bogus);
}

#[test]
fn unknown_optional_transitive_attributes_are_kept_for_propagation() {
    let m = with(&[attr(O | T, 99, &[1, 2, 3])]);
    let u = decode(&m, ebgp());
    assert!(u.has_other_attributes());
    let a = u.attributes().find(|a| a.type_code == 99).unwrap();
    assert_eq!(a.value, &[1, 2, 3]);
}

#[test]
fn section_6_issues_name_the_attribute_the_action_and_the_rule() {
    let m = with(&[attr(O | T, code::COMMUNITIES, &[1, 2, 3])]);
    let u = decode(&m, ebgp());
    let text = u.issues().iter().next().unwrap().to_string();
    assert_eq!(
        text,
        "COMMUNITIES (8) has invalid length 3; treat-as-withdraw (RFC 7606 §7.8)"
    );
}
