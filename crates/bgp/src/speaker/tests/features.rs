//! Per-neighbor features in the speaker: allowas-in, local-as, max-prefix `warn`,
//! NO_EXPORT_SUBCONFED, next-hop-self.

use super::out::sent;
use super::*;

/// An iBGP peer 192.0.2.`last`, up.
fn ibgp(s: &mut Speaker, last: u8, next_hop_self: bool) -> PeerId {
    let mut spec = PeerSpec::new(addr(last), RemoteAs::Internal, LOCAL_AS);
    spec.next_hop_self = next_hop_self;
    let id = s.add_peer(spec);
    up(s, id, LOCAL_AS, last);
    id
}

fn has(s: &Speaker, prefix: &str) -> bool {
    let p: bgp_wire::Prefix = prefix.parse().unwrap();
    s.rib().dest(&p).is_some_and(|d| d.best().is_some())
}

fn set_spec(s: &mut Speaker, id: PeerId, change: impl FnOnce(&mut PeerSpec)) {
    let mut spec = s.peer(id).unwrap().spec.clone();
    change(&mut spec);
    s.update_peer(id, spec);
}

#[test]
fn allowas_in_accepts_paths_with_our_as_up_to_n_times_and_treats_more_as_loops() {
    let (mut s, a, _) = setup();
    let nh = [192, 0, 2, 1];
    s.receive(a, &announce(&[65001, LOCAL_AS], nh, &["10.1.0.0/24"], None))
        .unwrap();
    assert!(
        !has(&s, "10.1.0.0/24"),
        "allowas-in 0: our AS once is a loop"
    );
    set_spec(&mut s, a, |p| p.allowas_in = 2);
    let twice = [65001, LOCAL_AS, 65100, LOCAL_AS];
    let thrice = [65001, LOCAL_AS, LOCAL_AS, 65100, LOCAL_AS];
    s.receive(a, &announce(&[65001, LOCAL_AS], nh, &["10.1.0.0/24"], None))
        .unwrap();
    s.receive(a, &announce(&twice, nh, &["10.2.0.0/24"], None))
        .unwrap();
    s.receive(a, &announce(&thrice, nh, &["10.3.0.0/24"], None))
        .unwrap();
    assert!(has(&s, "10.1.0.0/24") && has(&s, "10.2.0.0/24"));
    assert!(!has(&s, "10.3.0.0/24"), "three times is above allowas-in 2");
    // A path that becomes a loop replaces the accepted one: withdrawn.
    s.receive(a, &announce(&thrice, nh, &["10.2.0.0/24"], None))
        .unwrap();
    assert!(!has(&s, "10.2.0.0/24"));
}

#[test]
fn with_a_local_as_override_both_it_and_the_routers_own_as_make_loops() {
    let (mut s, a, _) = setup();
    set_spec(&mut s, a, |p| p.local_asn = 65100);
    let nh = [192, 0, 2, 1];
    s.receive(a, &announce(&[65001, 65100], nh, &["10.1.0.0/24"], None))
        .unwrap();
    s.receive(a, &announce(&[65001, LOCAL_AS], nh, &["10.2.0.0/24"], None))
        .unwrap();
    s.receive(a, &announce(&[65001, 65200], nh, &["10.3.0.0/24"], None))
        .unwrap();
    assert!(!has(&s, "10.1.0.0/24"), "the local-as is ours");
    assert!(!has(&s, "10.2.0.0/24"), "the router's real AS is ours too");
    assert!(has(&s, "10.3.0.0/24"));
    // allowas-in applies to both.
    set_spec(&mut s, a, |p| p.allowas_in = 1);
    s.receive(a, &announce(&[65001, LOCAL_AS], nh, &["10.2.0.0/24"], None))
        .unwrap();
    assert!(has(&s, "10.2.0.0/24"));
}

#[test]
fn routes_sent_over_a_local_as_session_carry_the_local_as_instead_of_the_routers() {
    let (mut s, a, b) = setup();
    set_spec(&mut s, b, |p| p.local_asn = 65100);
    s.resend(b, None);
    sent(&mut s, b, SessionContext::ebgp());
    s.receive(
        a,
        &announce(&[65001], [192, 0, 2, 1], &["10.1.0.0/24"], None),
    )
    .unwrap();
    let out = sent(&mut s, b, SessionContext::ebgp());
    assert_eq!(out.attrs("10.1.0.0/24").as_path.to_string(), "65100 65001");
}

#[test]
fn a_max_prefix_limit_with_action_warn_keeps_the_session_and_counts_each_crossing() {
    let (mut s, a, b) = setup();
    set_spec(&mut s, a, |p| {
        p.max_prefix = Some(PrefixLimit {
            limit: 2,
            shutdown: false,
        })
    });
    sent(&mut s, b, SessionContext::ebgp());
    let nh = [192, 0, 2, 1];
    let three = ["10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"];
    s.receive(a, &announce(&[65001], nh, &three, None)).unwrap();
    s.receive(a, &announce(&[65001], nh, &["10.4.0.0/24"], None))
        .unwrap();
    let v = s.neighbor_view(a).unwrap();
    assert!(v.established);
    assert_eq!(v.counters.accepted[0], 4, "routes above the limit are kept");
    assert_eq!(v.counters.prefix_limit_exceeded, 1, "counted once");
    assert_eq!(sent(&mut s, b, SessionContext::ebgp()).routes.len(), 4);
    // Back under the limit, then over it again: a second crossing.
    s.receive(a, &withdraw(&["10.3.0.0/24", "10.4.0.0/24"]))
        .unwrap();
    assert_eq!(
        s.neighbor_view(a).unwrap().counters.prefix_limit_exceeded,
        1
    );
    s.receive(a, &announce(&[65001], nh, &["10.5.0.0/24"], None))
        .unwrap();
    assert_eq!(
        s.neighbor_view(a).unwrap().counters.prefix_limit_exceeded,
        2
    );
}

#[test]
fn no_export_subconfed_routes_are_not_sent_to_ebgp_peers_but_reach_ibgp_peers() {
    let (mut s, a, b) = setup();
    let c = ibgp(&mut s, 3, false);
    sent(&mut s, b, SessionContext::ebgp());
    sent(&mut s, c, SessionContext::ibgp());
    s.receive(
        a,
        &announce(
            &[65001],
            [192, 0, 2, 1],
            &["10.1.0.0/24"],
            Some(Community::NO_EXPORT_SUBCONFED),
        ),
    )
    .unwrap();
    assert!(sent(&mut s, b, SessionContext::ebgp()).routes.is_empty());
    let to_c = sent(&mut s, c, SessionContext::ibgp());
    let a = to_c.attrs("10.1.0.0/24");
    assert_eq!(a.communities.as_slice(), [Community::NO_EXPORT_SUBCONFED]);
}

#[test]
fn next_hop_self_puts_our_address_in_routes_to_ibgp_peers_that_ask_for_it() {
    let (mut s, a, _) = setup();
    let with = ibgp(&mut s, 3, true);
    let without = ibgp(&mut s, 4, false);
    sent(&mut s, with, SessionContext::ibgp());
    sent(&mut s, without, SessionContext::ibgp());
    s.receive(
        a,
        &announce(&[65001], [192, 0, 2, 1], &["10.1.0.0/24"], None),
    )
    .unwrap();
    let nh = |s: &mut Speaker, id| {
        sent(s, id, SessionContext::ibgp())
            .attrs("10.1.0.0/24")
            .next_hop
            .to_string()
    };
    assert_eq!(nh(&mut s, with), "192.0.2.100", "our end of the session");
    assert_eq!(
        nh(&mut s, without),
        "192.0.2.1",
        "the eBGP next hop, unchanged"
    );
}

#[test]
fn selected_paths_show_how_long_ago_their_selection_changed() {
    use std::time::{Duration, Instant};
    let (mut s, a, b) = setup();
    let ages = |s: &Speaker| -> Vec<(String, Option<u64>)> {
        s.routes(&show::RouteFilter::default())
            .into_iter()
            .flat_map(|r| r.paths)
            .map(|p| (p.from, p.age_secs))
            .collect()
    };
    s.receive(
        a,
        &announce(&[65001], [192, 0, 2, 1], &["10.1.0.0/24"], None),
    )
    .unwrap();
    assert_eq!(ages(&s), [("192.0.2.1".into(), None)], "no clock, no age");
    let Some(then) = Instant::now().checked_sub(Duration::from_secs(30)) else {
        return; // a machine up for less than 30 s
    };
    s.note_time(then);
    let age = ages(&s)[0].1.unwrap();
    assert!((30..32).contains(&age), "{age}");
    // A worse path does not change the selection: the best keeps its age, and only the
    // selected path has one.
    s.receive(
        b,
        &announce(&[65002, 9], [192, 0, 2, 2], &["10.1.0.0/24"], None),
    )
    .unwrap();
    let now = ages(&s);
    assert!(now.contains(&("192.0.2.2".into(), None)), "{now:?}");
    assert!(now
        .iter()
        .any(|(f, a)| f == "192.0.2.1" && a.is_some_and(|x| x >= 30)));
    // The best path goes: the new selection is younger than the last tick.
    s.receive(a, &withdraw(&["10.1.0.0/24"])).unwrap();
    assert_eq!(ages(&s), [("192.0.2.2".into(), Some(0))]);
}
