//! MRAI pacing in the speaker: changes wait for their release, table walks never do, and
//! what is released goes out whatever its size.

use super::out::{drain_with, sent};
use super::*;

/// A third eBGP peer (AS 65003), up and paced.
fn paced_peer(s: &mut Speaker) -> PeerId {
    let c = s.add_peer(PeerSpec::new(addr(3), RemoteAs::Asn(65003), LOCAL_AS));
    up(s, c, 65003, 3);
    s.pace(c, true);
    c
}

/// An UPDATE per prefix, each with its own community: distinct attribute sets, so the
/// output is about one UPDATE per prefix.
fn distinct(n: u16, path: &[u32]) -> Vec<u8> {
    let mut all = Vec::new();
    for i in 0..n {
        let p = format!("10.{}.{}.0/24", 100 + i / 256, i % 256);
        all.extend(announce(
            path,
            [192, 0, 2, 1],
            &[p.as_str()],
            Some(Community::new(65001, i)),
        ));
    }
    all
}

#[test]
fn a_paced_peer_gets_changes_only_once_released_and_then_only_their_latest_state() {
    let (mut s, a, _) = setup();
    s.receive(
        a,
        &announce(&[65001], [192, 0, 2, 1], &["10.1.0.0/24"], None),
    )
    .unwrap();
    let c = paced_peer(&mut s);
    let walk = sent(&mut s, c, SessionContext::ebgp());
    assert_eq!(
        walk.prefixes(),
        ["10.1.0.0/24"],
        "the table walk is not held"
    );
    assert_eq!(walk.eor, 2);
    assert!(!s.release(c), "nothing held yet");
    s.receive(
        a,
        &announce(&[65001], [192, 0, 2, 1], &["10.2.0.0/24"], None),
    )
    .unwrap();
    s.receive(
        a,
        &announce(&[65001, 65100], [192, 0, 2, 1], &["10.2.0.0/24"], None),
    )
    .unwrap();
    s.receive(a, &withdraw(&["10.1.0.0/24"])).unwrap();
    assert!(!s.has_pending(c) && s.has_held(c));
    assert!(sent(&mut s, c, SessionContext::ebgp()).bytes.is_empty());
    assert!(s.release(c));
    let out = sent(&mut s, c, SessionContext::ebgp());
    assert_eq!(
        out.prefixes(),
        ["10.2.0.0/24"],
        "one advertisement per interval"
    );
    assert_eq!(
        out.attrs("10.2.0.0/24").as_path.to_string(),
        "65000 65001 65100"
    );
    assert_eq!(out.withdrawn, ["10.1.0.0/24"]);
    assert!(!s.has_held(c));
    // Unpaced, changes go at once.
    s.pace(c, false);
    s.receive(
        a,
        &announce(&[65001], [192, 0, 2, 1], &["10.3.0.0/24"], None),
    )
    .unwrap();
    assert_eq!(
        sent(&mut s, c, SessionContext::ebgp()).prefixes(),
        ["10.3.0.0/24"]
    );
}

#[test]
fn a_paced_peer_gets_a_table_and_a_released_burst_many_fills_long_without_another_release() {
    let (mut s, a, _) = setup();
    s.receive(a, &distinct(3000, &[65001])).unwrap();
    let c = paced_peer(&mut s);
    // 3000 UPDATEs of some 60 octets: dozens of 4 KiB fills.
    let walk = drain_with(&mut s, c, SessionContext::ebgp(), 4096);
    assert_eq!(walk.routes.len(), 3000);
    assert!(walk.bytes.len() > 20 * 4096, "{} octets", walk.bytes.len());
    // A burst of changes, released once, goes out entirely.
    s.receive(a, &distinct(3000, &[65001, 65100])).unwrap();
    assert!(s.release(c));
    let burst = drain_with(&mut s, c, SessionContext::ebgp(), 4096);
    assert_eq!(burst.routes.len(), 3000);
    assert!(!s.has_pending(c) && !s.has_held(c));
}

#[test]
fn a_paced_peer_moved_to_another_group_waits_for_changes_of_its_new_group() {
    let (mut s, a, _) = setup();
    let c = paced_peer(&mut s);
    sent(&mut s, c, SessionContext::ebgp());
    let mut spec = s.peer(c).unwrap().spec.clone();
    spec.local_asn = 65100;
    s.update_peer(c, spec);
    s.resend(c, None);
    let resent = sent(&mut s, c, SessionContext::ebgp());
    assert!(resent.routes.is_empty());
    s.receive(
        a,
        &announce(&[65001], [192, 0, 2, 1], &["10.2.0.0/24"], None),
    )
    .unwrap();
    assert!(sent(&mut s, c, SessionContext::ebgp()).bytes.is_empty());
    assert!(s.release(c));
    let out = sent(&mut s, c, SessionContext::ebgp());
    assert_eq!(out.attrs("10.2.0.0/24").as_path.to_string(), "65100 65001");
}
