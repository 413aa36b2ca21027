use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bgp_wire::{
    capability::GracefulRestartFamily, AsPath, AttributeValue, Capability, Family, Ipv4Prefix,
    Nlri, Open, Origin, PathAttribute, SessionContext, UpdateMessage,
};

use super::*;
use crate::negotiate::{negotiate, SessionParams};
use crate::rib::table::path_flags;
use crate::speaker::{LocalAddrs, PeerSpec, RemoteAs, SpeakerConfig};

const LOCAL_AS: u32 = 65000;
const PEER_AS: u32 = 65001;
const P1: &str = "10.1.0.0/24";

/// The peer's GR capability: flags (R, N) and per-family F bit.
fn up(s: &mut Speaker, id: PeerId, gr: Option<(u8, bool)>) {
    let params = SessionParams::new(LOCAL_AS, Ipv4Addr::new(10, 0, 0, 1), RemoteAs::Asn(PEER_AS));
    let mut caps = vec![
        Capability::Multiprotocol(Family::IPV4_UNICAST),
        Capability::FourOctetAs(PEER_AS),
    ];
    if let Some((flags, f)) = gr {
        caps.push(Capability::GracefulRestart {
            flags,
            time: 90,
            families: vec![GracefulRestartFamily {
                family: Family::IPV4_UNICAST,
                flags: if f { 0x80 } else { 0 },
            }],
        });
    }
    let open = Open::new(PEER_AS, 90, Ipv4Addr::new(10, 0, 0, 2), caps);
    let n = negotiate(&params, &open).unwrap();
    let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)), 179);
    let remote = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 40000);
    s.peer_up(id, n, local, remote, LocalAddrs::default());
}

fn announce(prefix: &str) -> Vec<u8> {
    let u = UpdateMessage {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::new(AttributeValue::Origin(Origin::Igp)),
            PathAttribute::new(AttributeValue::AsPath(AsPath::sequence([PEER_AS]))),
            PathAttribute::new(AttributeValue::NextHop(Ipv4Addr::new(192, 0, 2, 1))),
        ],
        nlri: vec![Nlri::new(prefix.parse::<Ipv4Prefix>().unwrap())],
    };
    let mut out = Vec::new();
    u.encode(&SessionContext::ebgp(), &mut out).unwrap();
    out
}

fn eor() -> Vec<u8> {
    let mut out = Vec::new();
    UpdateMessage::default()
        .encode(&SessionContext::ebgp(), &mut out)
        .unwrap();
    out
}

/// A speaker with one eBGP peer with graceful restart on, which sent P1 and 10.2.0.0/24.
fn setup(gr: Option<(u8, bool)>) -> (Speaker, PeerId) {
    let mut s = Speaker::new(SpeakerConfig::new(LOCAL_AS, Ipv4Addr::new(10, 0, 0, 1)));
    let mut spec = PeerSpec::new(
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        RemoteAs::Asn(PEER_AS),
        LOCAL_AS,
    );
    spec.graceful_restart = true;
    let id = s.add_peer(spec);
    up(&mut s, id, gr);
    s.receive(id, &announce(P1)).unwrap();
    s.receive(id, &announce("10.2.0.0/24")).unwrap();
    (s, id)
}

fn stale(s: &Speaker, prefix: &str) -> Option<bool> {
    let p: bgp_wire::Prefix = prefix.parse().unwrap();
    let d = s.rib().dest(&p)?;
    d.paths
        .as_slice()
        .first()
        .map(|x| x.flags & path_flags::STALE != 0)
}

#[test]
fn a_lost_connection_keeps_the_routes_stale_for_the_restart_time() {
    let (mut s, id) = setup(Some((0x4, true)));
    assert_eq!(s.peer_down_graceful(id, SessionEnd::Transport), Some(90));
    assert_eq!(stale(&s, P1), Some(true));
    assert!(s.has_stale(id));
    // Still the best path, with the eBGP facts of the ended session.
    assert_eq!(
        s.rib().dest(&P1.parse().unwrap()).unwrap().selected().len(),
        1
    );
    s.flush_stale(id);
    assert_eq!(stale(&s, P1), None);
}

#[test]
fn the_new_session_refreshes_routes_and_end_of_rib_removes_the_rest() {
    let (mut s, id) = setup(Some((0x4, true)));
    s.peer_down_graceful(id, SessionEnd::Transport);
    up(&mut s, id, Some((0x8 | 0x4, true)));
    assert_eq!(stale(&s, P1), Some(true), "kept until End-of-RIB");
    s.receive(id, &announce(P1)).unwrap();
    assert_eq!(stale(&s, P1), Some(false), "sent again: fresh");
    s.receive(id, &eor()).unwrap();
    assert_eq!(stale(&s, P1), Some(false));
    assert_eq!(stale(&s, "10.2.0.0/24"), None, "not sent again: removed");
    assert!(!s.has_stale(id));
}

#[test]
fn without_forwarding_preserved_the_kept_routes_go_when_the_peer_is_back() {
    let (mut s, id) = setup(Some((0x4, true)));
    s.peer_down_graceful(id, SessionEnd::Transport);
    up(&mut s, id, Some((0x8 | 0x4, false)));
    assert_eq!(stale(&s, P1), None);
}

#[test]
fn notifications_end_graceful_restart_unless_both_sides_set_the_n_bit() {
    let (mut s, id) = setup(Some((0, true)));
    let end = SessionEnd::Notification { hard_reset: false };
    assert_eq!(s.peer_down_graceful(id, end), None);
    assert_eq!(stale(&s, P1), None);

    let (mut s, id) = setup(Some((0x4, true)));
    assert_eq!(s.peer_down_graceful(id, end), Some(90));
    let (mut s, id) = setup(Some((0x4, true)));
    let hard = SessionEnd::Notification { hard_reset: true };
    assert_eq!(s.peer_down_graceful(id, hard), None);
    assert_eq!(stale(&s, P1), None);
    let (mut s, id) = setup(Some((0x4, true)));
    assert_eq!(s.peer_down_graceful(id, SessionEnd::Admin), None);
}

#[test]
fn a_peer_without_the_capability_has_its_routes_withdrawn() {
    let (mut s, id) = setup(None);
    assert_eq!(s.peer_down_graceful(id, SessionEnd::Transport), None);
    assert_eq!(stale(&s, P1), None);
}
