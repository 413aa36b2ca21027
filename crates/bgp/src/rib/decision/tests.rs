use std::net::{IpAddr, Ipv4Addr};

use bgp_wire::{AsPath, Origin};
use proptest::prelude::*;

use super::*;

fn attrs(lp: Option<u32>, path: &[u32], origin: Origin, med: Option<u32>) -> Attrs {
    let mut a = Attrs::local(origin);
    a.local_pref = lp;
    a.as_path = AsPath::sequence(path.iter().copied());
    a.med = med;
    a
}

fn cand(a: &Attrs, id: u8, external: bool, igp: Option<u32>) -> Candidate<'_> {
    Candidate {
        attrs: a,
        peer_router_id: Ipv4Addr::new(10, 0, 0, id),
        peer_address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, id)),
        external,
        igp_cost: igp,
        rejected: false,
    }
}

const OPTS: DecisionOptions = DecisionOptions {
    always_compare_med: false,
    missing_med_worst: false,
    local_asn: 65000,
};

#[test]
fn each_step_decides_in_the_documented_order() {
    let base = attrs(Some(100), &[65001, 65002], Origin::Igp, Some(10));
    let better_lp = attrs(
        Some(200),
        &[65001, 65002, 65003],
        Origin::Incomplete,
        Some(99),
    );
    assert_eq!(
        compare(
            &cand(&better_lp, 9, false, Some(9)),
            &cand(&base, 1, true, Some(0)),
            true,
            &OPTS
        ),
        (Ordering::Less, Step::LocalPref)
    );
    let shorter = attrs(Some(100), &[65001], Origin::Incomplete, Some(99));
    assert_eq!(
        compare(
            &cand(&shorter, 9, false, Some(9)),
            &cand(&base, 1, true, Some(0)),
            true,
            &OPTS
        )
        .1,
        Step::AsPathLength
    );
    let egp = attrs(Some(100), &[65001, 65009], Origin::Egp, Some(0));
    assert_eq!(
        compare(
            &cand(&base, 9, false, Some(9)),
            &cand(&egp, 1, true, Some(0)),
            true,
            &OPTS
        ),
        (Ordering::Less, Step::Origin)
    );
    let med5 = attrs(Some(100), &[65001, 65009], Origin::Igp, Some(5));
    assert_eq!(
        compare(
            &cand(&med5, 9, false, Some(9)),
            &cand(&base, 1, true, Some(0)),
            true,
            &OPTS
        ),
        (Ordering::Less, Step::Med)
    );
    assert_eq!(
        compare(
            &cand(&base, 9, true, Some(9)),
            &cand(&base, 1, false, Some(0)),
            true,
            &OPTS
        ),
        (Ordering::Less, Step::EbgpOverIbgp)
    );
    assert_eq!(
        compare(
            &cand(&base, 9, true, Some(1)),
            &cand(&base, 1, true, Some(2)),
            true,
            &OPTS
        ),
        (Ordering::Less, Step::IgpCost)
    );
    assert_eq!(
        compare(
            &cand(&base, 1, true, Some(1)),
            &cand(&base, 2, true, Some(1)),
            true,
            &OPTS
        ),
        (Ordering::Less, Step::RouterId)
    );
    let mut orig = base.clone();
    orig.originator_id = Some(Ipv4Addr::new(1, 1, 1, 1));
    assert_eq!(
        compare(
            &cand(&orig, 9, true, Some(1)),
            &cand(&base, 2, true, Some(1)),
            true,
            &OPTS
        )
        .1,
        Step::RouterId
    );
    let mut cl = orig.clone();
    cl.cluster_list = thin_vec::thin_vec![Ipv4Addr::new(9, 9, 9, 9)];
    assert_eq!(
        compare(
            &cand(&orig, 9, true, Some(1)),
            &cand(&cl, 9, true, Some(1)),
            true,
            &OPTS
        ),
        (Ordering::Less, Step::ClusterListLength)
    );
    let mut a = cand(&base, 3, true, Some(1));
    let b = cand(&base, 3, true, Some(1));
    a.peer_address = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(
        compare(&a, &b, true, &OPTS),
        (Ordering::Less, Step::PeerAddress)
    );
}

#[test]
fn unreachable_next_hops_and_rejected_paths_are_never_selected() {
    let a = attrs(Some(500), &[], Origin::Igp, None);
    let b = attrs(Some(100), &[1, 2, 3], Origin::Incomplete, None);
    let mut cands = vec![cand(&a, 1, true, None), cand(&b, 2, true, Some(5))];
    assert_eq!(select(&cands, &OPTS), Some(1));
    assert_eq!(
        reason(&cands[0], &cands[1], &OPTS),
        Step::NexthopUnreachable
    );
    cands[1].rejected = true;
    assert_eq!(select(&cands, &OPTS), None);
}

#[test]
fn med_is_compared_only_within_a_neighbor_as_unless_always_compare_med() {
    let a = attrs(None, &[65001], Origin::Igp, Some(50));
    let b = attrs(None, &[65002], Origin::Igp, Some(10));
    // Different neighbor ASes: MED ignored, the lower router id (a) wins.
    let cands = [cand(&a, 1, true, Some(0)), cand(&b, 2, true, Some(0))];
    assert_eq!(select(&cands, &OPTS), Some(0));
    let always = DecisionOptions {
        always_compare_med: true,
        ..OPTS
    };
    assert_eq!(select(&cands, &always), Some(1));
    assert_eq!(reason(&cands[0], &cands[1], &always), Step::Med);
}

#[test]
fn a_missing_med_is_best_by_default_and_worst_on_request() {
    let a = attrs(None, &[65001], Origin::Igp, None);
    let b = attrs(None, &[65001], Origin::Igp, Some(10));
    let cands = [cand(&a, 2, true, Some(0)), cand(&b, 1, true, Some(0))];
    assert_eq!(select(&cands, &OPTS), Some(0));
    let worst = DecisionOptions {
        missing_med_worst: true,
        ..OPTS
    };
    assert_eq!(select(&cands, &worst), Some(1));
}

#[test]
fn the_classic_med_cycle_is_resolved_the_same_way_in_any_order() {
    // Three paths where pairwise comparison is cyclic (RFC 3345-style).
    let a = attrs(None, &[65001], Origin::Igp, Some(10));
    let b = attrs(None, &[65001], Origin::Igp, Some(20));
    let c = attrs(None, &[65002], Origin::Igp, Some(5));
    let cs = [
        cand(&a, 3, false, Some(10)),
        cand(&b, 1, false, Some(1)),
        cand(&c, 2, false, Some(5)),
    ];
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let mut winners = std::collections::BTreeSet::new();
    for o in orders {
        let v: Vec<Candidate<'_>> = o.iter().map(|&i| cs[i]).collect();
        let w = select(&v, &OPTS).unwrap();
        winners.insert(v[w].peer_router_id);
    }
    assert_eq!(
        winners.len(),
        1,
        "selection depends on arrival order: {winners:?}"
    );
}

fn arb_attrs() -> impl Strategy<Value = Attrs> {
    (
        prop::option::of(prop_oneof![Just(100u32), Just(200)]),
        prop::collection::vec(prop_oneof![Just(65001u32), Just(65002), Just(65003)], 0..3),
        prop_oneof![Just(Origin::Igp), Just(Origin::Incomplete)],
        prop::option::of(0u32..3),
        prop::option::of(0u8..3),
        0usize..2,
    )
        .prop_map(|(lp, path, origin, med, orig, cl)| {
            let mut a = attrs(lp, &path, origin, med);
            a.originator_id = orig.map(|o| Ipv4Addr::new(10, 0, 0, o));
            a.cluster_list = thin_vec::thin_vec![Ipv4Addr::new(1, 1, 1, 1); cl];
            a
        })
}

proptest! {
    /// Within one neighbor AS (MED always compared) the comparison is a total order:
    /// antisymmetric and transitive.
    #[test]
    fn comparison_with_med_is_a_total_order(
        xs in prop::collection::vec((arb_attrs(), 0u8..3, any::<bool>(), prop::option::of(0u32..3)), 3..4)
    ) {
        let cs: Vec<Candidate<'_>> = xs.iter().map(|(a, id, e, igp)| cand(a, *id, *e, *igp)).collect();
        for a in &cs {
            for b in &cs {
                let ab = compare(a, b, true, &OPTS).0;
                let ba = compare(b, a, true, &OPTS).0;
                prop_assert_eq!(ab, ba.reverse());
                for c in &cs {
                    if ab != Ordering::Greater && compare(b, c, true, &OPTS).0 != Ordering::Greater {
                        prop_assert_ne!(compare(a, c, true, &OPTS).0, Ordering::Greater);
                    }
                }
            }
        }
    }

    /// Selection does not depend on the order of the candidates.
    #[test]
    fn selection_is_independent_of_arrival_order(
        xs in prop::collection::vec((arb_attrs(), 0u8..4, any::<bool>(), prop::option::of(0u32..3)), 1..6),
        seed in any::<u64>(),
    ) {
        let cs: Vec<Candidate<'_>> = xs.iter().enumerate()
            .map(|(i, (a, id, e, igp))| { let mut c = cand(a, *id, *e, *igp); c.peer_address = IpAddr::V4(Ipv4Addr::new(192, 0, 2, i as u8)); c })
            .collect();
        let first = select(&cs, &OPTS).map(|i| cs[i].peer_address);
        let mut shuffled = cs.clone();
        fastrand::Rng::with_seed(seed).shuffle(&mut shuffled);
        let second = select(&shuffled, &OPTS).map(|i| shuffled[i].peer_address);
        prop_assert_eq!(first, second);
    }
}
