use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bgp_wire::{
    AsPath, AttributeValue, Capability, Community, Family, Ipv4Prefix, Message, Nlri, Open, Origin,
    PathAttribute, SessionContext, UpdateMessage,
};

use super::*;
use crate::negotiate::{negotiate, SessionParams};

const LOCAL_AS: u32 = 65000;

fn addr(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

/// A speaker with eBGP peers 192.0.2.1 (AS 65001) and 192.0.2.2 (AS 65002), both up.
fn setup() -> (Speaker, PeerId, PeerId) {
    let mut s = Speaker::new(SpeakerConfig::new(LOCAL_AS, Ipv4Addr::new(10, 0, 0, 1)));
    let a = s.add_peer(PeerSpec::new(addr(1), RemoteAs::Asn(65001), LOCAL_AS));
    let b = s.add_peer(PeerSpec::new(addr(2), RemoteAs::Asn(65002), LOCAL_AS));
    up(&mut s, a, 65001, 1);
    up(&mut s, b, 65002, 2);
    (s, a, b)
}

fn up(s: &mut Speaker, id: PeerId, asn: u32, last: u8) {
    let params = SessionParams::new(LOCAL_AS, Ipv4Addr::new(10, 0, 0, 1), RemoteAs::Asn(asn));
    let peer_open = Open::new(
        asn,
        90,
        Ipv4Addr::new(10, 0, 0, last + 1),
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::EnhancedRouteRefresh,
            Capability::FourOctetAs(asn),
        ],
    );
    let n = negotiate(&params, &peer_open).unwrap();
    let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)), 179);
    let remote = SocketAddr::new(addr(last), 40000);
    s.peer_up(id, n, local, remote, LocalAddrs::default());
}

fn announce(path: &[u32], nh: [u8; 4], prefixes: &[&str], comm: Option<Community>) -> Vec<u8> {
    let mut attributes = vec![
        PathAttribute::new(AttributeValue::Origin(Origin::Igp)),
        PathAttribute::new(AttributeValue::AsPath(AsPath::sequence(
            path.iter().copied(),
        ))),
        PathAttribute::new(AttributeValue::NextHop(Ipv4Addr::from(nh))),
    ];
    if let Some(c) = comm {
        attributes.push(PathAttribute::new(AttributeValue::Communities(vec![c])));
    }
    let u = UpdateMessage {
        withdrawn: vec![],
        attributes,
        nlri: prefixes
            .iter()
            .map(|p| Nlri::new(p.parse::<Ipv4Prefix>().unwrap()))
            .collect(),
    };
    let mut out = Vec::new();
    u.encode(&SessionContext::ebgp(), &mut out).unwrap();
    out
}

fn withdraw(prefixes: &[&str]) -> Vec<u8> {
    let u = UpdateMessage {
        withdrawn: prefixes
            .iter()
            .map(|p| Nlri::new(p.parse::<Ipv4Prefix>().unwrap()))
            .collect(),
        ..Default::default()
    };
    let mut out = Vec::new();
    u.encode(&SessionContext::ebgp(), &mut out).unwrap();
    out
}

/// Drains a peer's output and returns (announced prefixes with AS path, withdrawn, EoRs).
fn drain(s: &mut Speaker, id: PeerId) -> (Vec<(String, String, String)>, Vec<String>, usize) {
    let mut buf = Vec::new();
    while s.fill(id, 1 << 16, &mut buf) == Fill::More {}
    let ctx = SessionContext::ebgp();
    let (mut ann, mut wd, mut eor) = (Vec::new(), Vec::new(), 0);
    let mut rest = &buf[..];
    while !rest.is_empty() {
        let (m, len) = Message::decode(rest, &ctx).unwrap();
        if let Message::Update(u) = m {
            if u.end_of_rib().is_some() {
                eor += 1;
            }
            let a = crate::rib::attrs::Attrs::from_update(&u);
            for (_, n) in u.announced() {
                let nh = u.next_hop().map(|x| x.to_string()).unwrap_or_default();
                ann.push((n.prefix.to_string(), a.as_path.to_string(), nh));
            }
            wd.extend(u.withdrawals().map(|(_, n)| n.prefix.to_string()));
        }
        rest = &rest[len..];
    }
    (ann, wd, eor)
}

#[test]
fn a_route_from_one_ebgp_peer_is_readvertised_to_the_other_with_our_as_prepended() {
    let (mut s, a, b) = setup();
    let (ann, _, eor) = drain(&mut s, b);
    assert!(ann.is_empty());
    assert_eq!(
        eor, 2,
        "End-of-RIB for IPv4 and IPv6 after the initial walk"
    );
    s.receive(
        a,
        &announce(
            &[65001],
            [192, 0, 2, 1],
            &["10.1.0.0/24", "10.2.0.0/16"],
            None,
        ),
    )
    .unwrap();
    let (ann, wd, _) = drain(&mut s, b);
    assert_eq!(
        ann,
        vec![
            (
                "10.1.0.0/24".into(),
                "65000 65001".into(),
                "192.0.2.100".into()
            ),
            (
                "10.2.0.0/16".into(),
                "65000 65001".into(),
                "192.0.2.100".into()
            ),
        ]
    );
    assert!(wd.is_empty());
    // Not sent back to the peer it came from.
    let (ann, _, _) = drain(&mut s, a);
    assert!(ann.is_empty());
    let v = s.neighbor_view(a).unwrap();
    assert_eq!((v.counters.received[0], v.counters.accepted[0]), (2, 2));
    assert_eq!(s.neighbor_view(b).unwrap().advertised[0], 2);
}

#[test]
fn withdrawals_reach_the_other_peer_only_for_what_it_was_sent() {
    let (mut s, a, b) = setup();
    drain(&mut s, b);
    s.receive(
        a,
        &announce(&[65001], [192, 0, 2, 1], &["10.1.0.0/24"], None),
    )
    .unwrap();
    drain(&mut s, b);
    s.receive(a, &withdraw(&["10.1.0.0/24", "10.9.0.0/24"]))
        .unwrap();
    let (ann, wd, _) = drain(&mut s, b);
    assert!(ann.is_empty());
    assert_eq!(wd, vec!["10.1.0.0/24".to_string()]);
    assert_eq!(s.neighbor_view(b).unwrap().advertised[0], 0);
}

#[test]
fn a_better_path_replaces_the_advertised_one() {
    let (mut s, a, b) = setup();
    let c = s.add_peer(PeerSpec::new(addr(3), RemoteAs::Asn(65003), LOCAL_AS));
    up(&mut s, c, 65003, 3);
    drain(&mut s, b);
    s.receive(
        a,
        &announce(
            &[65001, 65100, 65200],
            [192, 0, 2, 1],
            &["10.1.0.0/24"],
            None,
        ),
    )
    .unwrap();
    drain(&mut s, b);
    s.receive(
        c,
        &announce(&[65003], [192, 0, 2, 3], &["10.1.0.0/24"], None),
    )
    .unwrap();
    let (ann, _, _) = drain(&mut s, b);
    assert_eq!(
        ann,
        vec![(
            "10.1.0.0/24".into(),
            "65000 65003".into(),
            "192.0.2.100".into()
        )]
    );
    let routes = s.routes(&show::RouteFilter::default());
    assert_eq!(routes[0].paths.len(), 2);
    assert!(routes[0].paths[0].best);
    assert_eq!(routes[0].paths[1].reason.as_deref(), Some("longer AS path"));
}

#[test]
fn no_export_routes_stay_inside_the_as() {
    let (mut s, a, b) = setup();
    drain(&mut s, b);
    s.receive(
        a,
        &announce(
            &[65001],
            [192, 0, 2, 1],
            &["10.1.0.0/24"],
            Some(Community::NO_EXPORT),
        ),
    )
    .unwrap();
    let (ann, _, _) = drain(&mut s, b);
    assert!(ann.is_empty());
}

#[test]
fn paths_with_our_as_are_loops_and_a_wrong_first_as_is_refused() {
    let (mut s, a, b) = setup();
    drain(&mut s, b);
    s.receive(
        a,
        &announce(&[65001, LOCAL_AS], [192, 0, 2, 1], &["10.1.0.0/24"], None),
    )
    .unwrap();
    s.receive(
        a,
        &announce(&[65099], [192, 0, 2, 1], &["10.2.0.0/24"], None),
    )
    .unwrap();
    assert!(s.routes(&show::RouteFilter::default()).is_empty());
    let (ann, _, _) = drain(&mut s, b);
    assert!(ann.is_empty());
}

#[test]
fn a_session_going_down_withdraws_its_routes() {
    let (mut s, a, b) = setup();
    drain(&mut s, b);
    s.receive(
        a,
        &announce(&[65001], [192, 0, 2, 1], &["10.1.0.0/24"], None),
    )
    .unwrap();
    drain(&mut s, b);
    s.peer_down(a);
    let (_, wd, _) = drain(&mut s, b);
    assert_eq!(wd, vec!["10.1.0.0/24".to_string()]);
    assert!(s.routes(&show::RouteFilter::default()).is_empty());
    assert!(s.rib().attrs.is_empty(), "attribute sets freed");
}

#[test]
fn a_peer_coming_up_later_gets_the_whole_table_then_end_of_rib() {
    let (mut s, a, _) = setup();
    s.originate(
        "10.0.5.0/24".parse().unwrap(),
        crate::rib::attrs::Attrs::local(Origin::Igp),
    );
    s.receive(
        a,
        &announce(&[65001], [192, 0, 2, 1], &["10.1.0.0/24"], None),
    )
    .unwrap();
    let c = s.add_peer(PeerSpec::new(addr(3), RemoteAs::Asn(65003), LOCAL_AS));
    up(&mut s, c, 65003, 3);
    let (ann, _, eor) = drain(&mut s, c);
    let prefixes: Vec<&str> = ann.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(prefixes, vec!["10.0.5.0/24", "10.1.0.0/24"]);
    assert_eq!(ann[0].1, "65000");
    assert_eq!(eor, 2);
}

#[test]
fn a_malformed_update_ends_the_session_with_the_right_notification() {
    let (mut s, a, _) = setup();
    let mut m = announce(&[65001], [192, 0, 2, 1], &["10.1.0.0/24"], None);
    let n = m.len();
    m[n - 4] = 40; // prefix length 40
    let e = s.receive(a, &m).unwrap_err();
    let n = e.notification();
    assert_eq!((n.code, n.subcode), (3, 10));
}

#[test]
fn the_prefix_limit_tears_the_session_down_with_cease_1() {
    let (mut s, a, _) = setup();
    let mut spec = s.peer(a).unwrap().spec.clone();
    spec.max_prefix = Some(PrefixLimit {
        limit: 1,
        shutdown: true,
    });
    s.update_peer(a, spec);
    let e = s
        .receive(
            a,
            &announce(
                &[65001],
                [192, 0, 2, 1],
                &["10.1.0.0/24", "10.2.0.0/24"],
                None,
            ),
        )
        .unwrap_err();
    let n = e.notification();
    assert_eq!((n.code, n.subcode), (6, 1));
    assert_eq!(n.data, vec![0, 1, 1, 0, 0, 0, 1]);
}

#[test]
fn a_route_refresh_resends_the_table_between_borr_and_eorr() {
    let (mut s, a, b) = setup();
    s.receive(
        a,
        &announce(&[65001], [192, 0, 2, 1], &["10.1.0.0/24"], None),
    )
    .unwrap();
    drain(&mut s, b);
    let mut rr = Vec::new();
    bgp_wire::RouteRefresh::new(Family::IPV4_UNICAST).encode(&mut rr);
    s.receive(b, &rr).unwrap();
    let mut buf = Vec::new();
    while s.fill(b, 1 << 16, &mut buf) == Fill::More {}
    let mut kinds = Vec::new();
    let mut rest = &buf[..];
    while !rest.is_empty() {
        let (m, len) = Message::decode(rest, &SessionContext::ebgp()).unwrap();
        kinds.push(match m {
            Message::RouteRefresh(r) => format!("rr{}", r.subtype),
            Message::Update(u) => format!("update{}", u.announced().count()),
            _ => "other".into(),
        });
        rest = &rest[len..];
    }
    assert_eq!(kinds, vec!["rr1", "update1", "rr2"]);
}

#[test]
fn the_fib_feed_installs_received_routes_and_removes_them_when_the_session_drops() {
    let (mut s, a, _) = setup();
    s.enable_fib_feed();
    s.receive(
        a,
        &announce(&[65001], [192, 0, 2, 1], &["10.1.0.0/24"], None),
    )
    .unwrap();
    let got = s.drain_fib(100);
    assert_eq!(got.len(), 1);
    assert!(matches!(&got[0], FibChange::Install(p, hops)
        if p.to_string() == "10.1.0.0/24" && hops.len() == 1));
    s.peer_down(a);
    let got = s.drain_fib(100);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(matches!(&got[0], FibChange::Remove(p) if p.to_string() == "10.1.0.0/24"));
}

#[test]
fn default_originate_sends_our_default_route_in_place_of_the_ribs_until_turned_off() {
    let mut s = Speaker::new(SpeakerConfig::new(LOCAL_AS, Ipv4Addr::new(10, 0, 0, 1)));
    let a = s.add_peer(PeerSpec::new(addr(1), RemoteAs::Asn(65001), LOCAL_AS));
    let mut spec = PeerSpec::new(addr(2), RemoteAs::Asn(65002), LOCAL_AS);
    spec.default_originate = true;
    let b = s.add_peer(spec.clone());
    up(&mut s, a, 65001, 1);
    up(&mut s, b, 65002, 2);
    let (ann, _, eor) = drain(&mut s, b);
    assert_eq!(eor, 2);
    // Both families were negotiated: an IPv6 default too (MP_REACH, no NEXT_HOP).
    assert_eq!(
        ann,
        vec![
            ("0.0.0.0/0".into(), "65000".into(), "192.0.2.100".into()),
            ("::/0".into(), "65000".into(), String::new())
        ]
    );
    assert_eq!(
        s.peer(b).unwrap().session.as_ref().unwrap().out.advertised,
        [1, 1]
    );
    // A learned default does not replace ours.
    s.receive(a, &announce(&[65001], [192, 0, 2, 1], &["0.0.0.0/0"], None))
        .unwrap();
    let (ann, wd, _) = drain(&mut s, b);
    assert!(wd.is_empty());
    assert!(ann.iter().all(|(_, path, _)| path == "65000"), "{ann:?}");
    // The peer without default-originate gets nothing back (it is the source).
    let (ann, _, _) = drain(&mut s, a);
    assert!(ann.is_empty(), "{ann:?}");
    // Turned off: the learned default replaces ours, and goes when withdrawn.
    spec.default_originate = false;
    s.update_peer(b, spec);
    s.resend(b, None);
    let (ann, _, _) = drain(&mut s, b);
    assert_eq!(
        ann,
        vec![(
            "0.0.0.0/0".into(),
            "65000 65001".into(),
            "192.0.2.100".into()
        )]
    );
    s.receive(a, &withdraw(&["0.0.0.0/0"])).unwrap();
    let (_, wd, _) = drain(&mut s, b);
    assert_eq!(wd, vec!["0.0.0.0/0".to_string()]);
    assert_eq!(
        s.peer(b).unwrap().session.as_ref().unwrap().out.advertised,
        [0, 0]
    );
}

#[test]
fn the_same_attributes_for_an_ipv4_and_an_ipv6_route_are_encoded_for_each_family() {
    let (mut s, _, b) = setup();
    drain(&mut s, b);
    let attrs = crate::rib::attrs::Attrs::local(Origin::Igp);
    s.originate("10.9.0.0/24".parse().unwrap(), attrs.clone());
    s.originate("fd09::/48".parse().unwrap(), attrs);
    let (ann, _, _) = drain(&mut s, b);
    let mut got: Vec<(String, String)> = ann.into_iter().map(|(p, _, nh)| (p, nh)).collect();
    got.sort();
    // IPv4 in the NLRI field with NEXT_HOP; IPv6 in MP_REACH_NLRI (no NEXT_HOP attribute).
    assert_eq!(
        got,
        [
            ("10.9.0.0/24".to_string(), "192.0.2.100".to_string()),
            ("fd09::/48".to_string(), String::new())
        ]
    );
}

#[test]
fn a_withdrawn_route_reaches_the_fib_feed_even_when_no_peer_logs_it() {
    let (mut s, a, b) = setup();
    s.enable_fib_feed();
    s.receive(
        a,
        &announce(&[65001], [192, 0, 2, 1], &["10.1.0.0/24"], None),
    )
    .unwrap();
    drain(&mut s, b);
    drain(&mut s, a);
    assert_eq!(s.drain_fib(100).len(), 1);
    // Withdrawn, and every peer's log processed (its destination may become a tombstone)
    // before the FIB feed is read.
    s.receive(a, &withdraw(&["10.1.0.0/24"])).unwrap();
    drain(&mut s, b);
    drain(&mut s, a);
    let got = s.drain_fib(100);
    assert!(
        matches!(got.as_slice(), [FibChange::Remove(p)] if p.to_string() == "10.1.0.0/24"),
        "{got:?}"
    );
}

mod features;
mod groups;
mod mrai;
mod out;
mod policies;
mod walks;
