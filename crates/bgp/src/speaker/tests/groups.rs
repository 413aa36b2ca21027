//! Update groups: peers with the same outbound settings and export policy share the export
//! results (and so the encoded attributes) of their routes.

use super::out::sent;
use super::policies::install;
use super::*;

const TAG: &str = r#"
policies:
  TAG:
    - set: { community: { add: ["65000:9"] } }
      action: accept
"#;

const PODS: &str = r#"
prefix-lists:
  PODS: [{ prefix: 10.1.0.0/16, le: 24 }]
policies:
  PODS-ONLY:
    - match: { prefix-list: PODS }
      set: { community: { add: ["65000:9"] } }
      action: accept
"#;

/// A speaker with peer `a` (AS 65001) and two eBGP peers (AS 65002, 65003) with the same
/// export policy, up and drained.
fn two_members(policy_yaml: &str, export: &str) -> (Speaker, PeerId, PeerId, PeerId) {
    let (mut s, a, b) = setup();
    install(&mut s, policy_yaml);
    let c = s.add_peer(PeerSpec::new(addr(3), RemoteAs::Asn(65003), LOCAL_AS));
    up(&mut s, c, 65003, 3);
    for id in [b, c] {
        let mut spec = s.peer(id).unwrap().spec.clone();
        spec.export = Some(export.into());
        s.update_peer(id, spec);
        s.resend(id, None);
        sent(&mut s, id, SessionContext::ebgp());
    }
    (s, a, b, c)
}

fn group_of(s: &Speaker, id: PeerId) -> usize {
    s.peer(id).unwrap().session.as_ref().unwrap().out.group
}

fn stats(s: &Speaker, id: PeerId) -> crate::export::group::CacheStats {
    s.groups[group_of(s, id)].as_ref().unwrap().cache_stats()
}

fn prefixes(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("10.1.{i}.0/24")).collect()
}

#[test]
fn peers_with_the_same_export_policy_share_one_export_result_per_attribute_set() {
    let (mut s, a, b, c) = two_members(TAG, "TAG");
    assert_eq!(group_of(&s, b), group_of(&s, c), "one update group");
    let before = stats(&s, b);
    let list = prefixes(50);
    let refs: Vec<&str> = list.iter().map(String::as_str).collect();
    s.receive(a, &announce(&[65001], [192, 0, 2, 1], &refs, None))
        .unwrap();
    let to_b = sent(&mut s, b, SessionContext::ebgp());
    let to_c = sent(&mut s, c, SessionContext::ebgp());
    let after = stats(&s, b);
    assert_eq!(after.encodings - before.encodings, 1, "one attribute set");
    assert_eq!(after.hits - before.hits, 99, "49 for b, 50 for c");
    assert_eq!(to_b.bytes, to_c.bytes, "the same UPDATE for both");
    assert_eq!(to_b.updates, 1);
    assert_eq!(to_b.routes.len(), 50);
    let c9: Vec<String> = to_b.routes[0]
        .1
        .communities
        .iter()
        .map(|x| x.to_string())
        .collect();
    assert_eq!(c9, ["65000:9"]);
}

#[test]
fn a_prefix_list_export_policy_is_evaluated_once_per_prefix_for_the_group_and_still_packs() {
    let (mut s, a, b, c) = two_members(PODS, "PODS-ONLY");
    assert_eq!(group_of(&s, b), group_of(&s, c));
    let before = stats(&s, b);
    let mut list = prefixes(20);
    list.extend((0..5).map(|i| format!("10.2.{i}.0/24")));
    let refs: Vec<&str> = list.iter().map(String::as_str).collect();
    s.receive(a, &announce(&[65001], [192, 0, 2, 1], &refs, None))
        .unwrap();
    let to_b = sent(&mut s, b, SessionContext::ebgp());
    let to_c = sent(&mut s, c, SessionContext::ebgp());
    let after = stats(&s, b);
    assert_eq!(after.encodings - before.encodings, 25, "one per prefix");
    assert_eq!(after.hits - before.hits, 25, "all of c's");
    assert_eq!(to_b.routes.len(), 20, "10.2/16 is rejected");
    assert!(to_b.prefixes().iter().all(|p| p.starts_with("10.1.")));
    assert_eq!(to_b.updates, 1, "equal attributes share an UPDATE");
    assert_eq!(to_b.bytes, to_c.bytes);
}

#[test]
fn a_peer_alone_in_its_group_with_a_prefix_list_policy_does_not_fill_the_cache() {
    let (mut s, a, b) = setup();
    install(&mut s, PODS);
    let mut spec = s.peer(b).unwrap().spec.clone();
    spec.export = Some("PODS-ONLY".into());
    s.update_peer(b, spec);
    s.resend(b, None);
    sent(&mut s, b, SessionContext::ebgp());
    let list = prefixes(10);
    let refs: Vec<&str> = list.iter().map(String::as_str).collect();
    s.receive(a, &announce(&[65001], [192, 0, 2, 1], &refs, None))
        .unwrap();
    let out = sent(&mut s, b, SessionContext::ebgp());
    assert_eq!((out.routes.len(), out.updates), (10, 1));
    assert_eq!(stats(&s, b), Default::default());
}
