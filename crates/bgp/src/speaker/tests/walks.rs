//! Table walks (session start, route refresh) and the changes logged while they run: a
//! route changed before the walk reached it goes out once, with its new attributes.

use super::out::{decode, drain_with};
use super::*;

/// 256 prefixes 10.1.N.0/24 from `a`, with AS path `path`, in UPDATEs of 64.
fn announce_all(s: &mut Speaker, a: PeerId, path: &[u32]) {
    let all: Vec<String> = (0..256).map(|i| format!("10.1.{i}.0/24")).collect();
    for chunk in all.chunks(64) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        s.receive(a, &announce(path, [192, 0, 2, 1], &refs, None))
            .unwrap();
    }
}

/// How many times each prefix was announced, and the AS path length of its last
/// announcement.
fn tally(sent: &[out::Sent]) -> HashMap<String, (usize, usize)> {
    let mut t: HashMap<String, (usize, usize)> = HashMap::new();
    for s in sent {
        for (p, a) in &s.routes {
            let e = t.entry(p.clone()).or_default();
            e.0 += 1;
            e.1 = a.as_path.path_len();
        }
    }
    t
}

#[test]
fn routes_that_change_while_a_session_start_walk_runs_are_sent_once_if_not_yet_walked() {
    let (mut s, a, _b) = setup();
    announce_all(&mut s, a, &[65001]);
    let c = s.add_peer(PeerSpec::new(addr(3), RemoteAs::Asn(65003), LOCAL_AS));
    up(&mut s, c, 65003, 3);
    // The walk sends part of the table...
    let mut first = Vec::new();
    assert_eq!(s.fill(c, 600, &mut first), Fill::More);
    let first = decode(first, SessionContext::ebgp());
    let walked = first.routes.len();
    assert!(walked > 0 && walked < 256, "{walked}");
    // ...then every route changes, and the rest of the walk and the log go out.
    announce_all(&mut s, a, &[65001, 7]);
    let rest = drain_with(&mut s, c, SessionContext::ebgp(), 600);
    let t = tally(&[first, rest]);
    assert_eq!(t.len(), 256);
    assert!(
        t.values().all(|&(_, len)| len == 3),
        "every route ends with its new path (ours, 65001, 7)"
    );
    let twice = t.values().filter(|&&(n, _)| n == 2).count();
    assert_eq!(
        (twice, t.values().filter(|&&(n, _)| n == 1).count()),
        (walked, 256 - walked),
        "the routes walked before the change go twice (old, new), the others once"
    );
}

#[test]
fn a_route_withdrawn_during_a_refresh_walk_before_the_walk_reached_it_is_withdrawn() {
    let (mut s, a, b) = setup();
    announce_all(&mut s, a, &[65001]);
    assert_eq!(
        out::sent(&mut s, b, SessionContext::ebgp()).routes.len(),
        256
    );
    s.resend(b, None);
    let mut first = Vec::new();
    assert_eq!(s.fill(b, 600, &mut first), Fill::More);
    s.receive(a, &withdraw(&["10.1.250.0/24"])).unwrap();
    let rest = drain_with(&mut s, b, SessionContext::ebgp(), 600);
    assert_eq!(rest.withdrawn, ["10.1.250.0/24"]);
    assert!(!rest.prefixes().contains(&"10.1.250.0/24"));
}

/// What a peer holds after the UPDATEs it was sent, prefix to AS path length.
fn apply(view: &mut HashMap<String, usize>, sent: &out::Sent) {
    for w in &sent.withdrawn {
        view.remove(w);
    }
    for (p, a) in &sent.routes {
        view.insert(p.clone(), a.as_path.path_len());
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]

    /// However fills (of any size), changes, withdrawals and new walks interleave, the
    /// peer ends with the table's routes, each in its current state, and its
    /// Adj-RIB-Out counts them.
    #[test]
    fn a_peer_ends_with_the_current_table_however_walks_and_changes_interleave(
        steps in proptest::collection::vec((0u8..4, 0usize..64, 0usize..64, 1u32..4, 100usize..800), 1..40),
    ) {
        let (mut s, a, _b) = setup();
        let prefixes: Vec<String> = (0..64).map(|i| format!("10.1.{i}.0/24")).collect();
        let refs = |lo: usize, hi: usize| -> Vec<&str> {
            prefixes[lo.min(hi)..lo.max(hi)].iter().map(String::as_str).collect()
        };
        s.receive(a, &announce(&[65001], [192, 0, 2, 1], &refs(0, 64), None)).unwrap();
        let c = s.add_peer(PeerSpec::new(addr(3), RemoteAs::Asn(65003), LOCAL_AS));
        up(&mut s, c, 65003, 3);
        let mut view = HashMap::new();
        for (op, lo, hi, hop, budget) in steps {
            match op {
                0 => {
                    let mut bytes = Vec::new();
                    s.fill(c, budget, &mut bytes);
                    apply(&mut view, &decode(bytes, SessionContext::ebgp()));
                }
                1 if lo != hi => {
                    let path: Vec<u32> = std::iter::once(65001).chain(1..=hop).collect();
                    s.receive(a, &announce(&path, [192, 0, 2, 1], &refs(lo, hi), None)).unwrap();
                }
                2 if lo != hi => {
                    s.receive(a, &withdraw(&refs(lo, hi))).unwrap();
                }
                3 => s.resend(c, None),
                _ => {}
            }
        }
        apply(&mut view, &drain_with(&mut s, c, SessionContext::ebgp(), 500));
        let mut want = HashMap::new();
        for p in &prefixes {
            let prefix: bgp_wire::Prefix = p.parse().unwrap();
            if let Some(best) = s.rib().dest(&prefix).and_then(|d| d.best()) {
                let len = s.rib().attrs.get(best.attrs).as_path.path_len();
                want.insert(p.clone(), len + 1);
            }
        }
        proptest::prop_assert_eq!(&view, &want);
        let advertised = s.neighbor_view(c).unwrap().advertised[0];
        proptest::prop_assert_eq!(advertised as usize, want.len());
    }
}
