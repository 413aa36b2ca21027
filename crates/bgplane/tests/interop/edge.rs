//! Edge cases against a scripted peer ([`RawPeer`]): connection collision (RFC 4271
//! §6.8), hold timer expiry (§6.5), malformed attributes (RFC 7606) and unknown optional
//! transitive attributes (RFC 4271 §5, §9.1.2.2).
//!
//! bgplane runs in namespace `a` (AS 65000, id 10.0.0.1, 10.90.0.1), the scripted peer in
//! `b` (AS 65001, 10.90.0.2) and, for the transitive attribute, a second one in `c`
//! (AS 65002, 10.91.0.2).

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::harness::bgplane::{Bgplane, BgplaneConf, NeighborConf};
use crate::harness::peer::{self, ty, wire, RawPeer, RecvError};
use crate::harness::{holds_for, timeouts, wait_for, Lab, Link};

const BGPLANE_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER_AS: u32 = 65001;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// bgplane with one neighbor per link, each `passive` as given, hold time `hold`.
fn bgplane(lab: &Lab, ns: &str, links: &[(&Link, u32)], passive: bool, hold: u16) -> Bgplane {
    let neighbors = links
        .iter()
        .map(|(l, asn)| {
            let mut n = NeighborConf::new(l.b4, *asn);
            n.passive = passive;
            n.hold_time = hold;
            n
        })
        .collect();
    let conf = BgplaneConf {
        asn: 65000,
        router_id: BGPLANE_ID,
        listen: links.iter().map(|(l, _)| IpAddr::V4(l.a4)).collect(),
        networks: vec![],
        neighbors,
    };
    Bgplane::start(lab, ns, "bgplane", conf)
}

/// A scripted peer connected from `link`'s side b to bgplane and Established, sending
/// KEEPALIVEs every second.
fn established_peer(link: &Link, asn: u32, label: &str) -> RawPeer {
    let to = SocketAddr::new(IpAddr::V4(link.a4), 179);
    let mut p = RawPeer::new(peer::connect(&link.b_ns, to, secs(15)), label);
    let open = p.establish(asn, 9, link.b4);
    assert_eq!(open.asn(), 65000, "bgplane's AS in its OPEN");
    p.keepalives(secs(1));
    p
}

/// A valid IPv4 UPDATE from the peer on `link`.
fn valid_update(link: &Link, prefix: &str) -> Vec<u8> {
    wire::update(
        &[],
        &[
            wire::origin(0),
            wire::as_path(&[PEER_AS]),
            wire::next_hop(link.b4),
        ],
        &wire::nlri4(prefix),
    )
}

/// What became of one connection of the collision.
#[derive(Debug, Default)]
struct Fate {
    notification: Option<(u8, u8)>,
    closed: bool,
    keepalive: bool,
}

/// Reads both connections for up to `limit` until one has been closed by bgplane and the
/// other has had its KEEPALIVE (or is closed too).
fn watch(conns: &mut [&mut RawPeer; 2], limit: Duration) -> [Fate; 2] {
    let mut fates = [Fate::default(), Fate::default()];
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        for (c, f) in conns.iter_mut().zip(fates.iter_mut()) {
            if f.closed {
                continue;
            }
            match c.recv(Duration::from_millis(50)) {
                Ok(m) if m.ty == ty::KEEPALIVE => f.keepalive = true,
                Ok(m) => {
                    if let Some(n) = m.notification() {
                        f.notification = Some((n.code, n.subcode));
                    }
                }
                Err(RecvError::Timeout) => {}
                Err(_) => f.closed = true,
            }
        }
        let done = |a: &Fate, b: &Fate| a.closed && (b.keepalive || b.closed);
        if done(&fates[0], &fates[1]) || done(&fates[1], &fates[0]) {
            break;
        }
    }
    fates
}

/// Both sides connect at once and both OPENs cross on both connections: bgplane keeps the
/// connection opened by the speaker with the higher BGP identifier, closes the other with
/// Cease/Connection Collision Resolution (6/7), and exactly one session comes up.
fn collision(test: &str, peer_id: Ipv4Addr) {
    let Some(lab) = Lab::new(test, &[]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link(&a, &b);
    let listener = peer::listen(&b, SocketAddr::new(IpAddr::V4(link.b4), 179));
    let bg = bgplane(&lab, &a, &[(&link, PEER_AS)], false, 9);

    // bgplane's own connection: take its OPEN, do not answer yet.
    let mut ours = RawPeer::new(peer::accept(&listener, secs(15)), "bgplane's connection");
    let _ = ours.recv_open(secs(10));
    // The peer's connection, with its OPEN; bgplane answers with OPEN and KEEPALIVE
    // (OpenConfirm) unless it resolves the collision right away.
    let to = SocketAddr::new(IpAddr::V4(link.a4), 179);
    let mut theirs = RawPeer::new(peer::connect(&b, to, secs(10)), "the peer's connection");
    theirs.send(&peer::open(PEER_AS, 9, peer_id));
    match theirs.recv(secs(5)) {
        Ok(m) if m.ty == ty::OPEN => {}
        Ok(m) => assert!(
            m.notification().is_some(),
            "unexpected message type {} on the peer's connection",
            m.ty
        ),
        Err(e) => panic!("the peer's connection: {e:?} instead of bgplane's OPEN"),
    }
    // Now the peer's OPEN on bgplane's connection: both connections carry both OPENs.
    ours.send(&peer::open(PEER_AS, 9, peer_id));

    let peer_wins = u32::from(peer_id) > u32::from(BGPLANE_ID);
    let fates = watch(&mut [&mut ours, &mut theirs], secs(10));
    let (winner, loser) = if peer_wins { (1, 0) } else { (0, 1) };
    let name = ["bgplane's connection", "the peer's connection"];
    assert!(
        fates[loser].closed && fates[loser].notification == Some((6, 7)),
        "peer id {peer_id} vs bgplane {BGPLANE_ID}: {} should be closed with Cease/Connection \
         Collision Resolution (6/7); fates: ours {:?}, theirs {:?}",
        name[loser],
        fates[0],
        fates[1]
    );
    assert!(
        !fates[winner].closed && fates[winner].notification.is_none(),
        "{} should survive; fates: ours {:?}, theirs {:?}",
        name[winner],
        fates[0],
        fates[1]
    );

    let survivor = if peer_wins { &mut theirs } else { &mut ours };
    survivor.send_keepalive();
    survivor.keepalives(secs(1));
    let addr = IpAddr::V4(link.b4);
    bg.wait_established(addr);
    let n = bg.neighbor(addr).expect("neighbor");
    let local = n["session"]["local"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        local.ends_with(":179"),
        peer_wins,
        "the surviving session should be {}: bgplane's end is {local}",
        name[winner]
    );
    survivor
        .stays_up(secs(2))
        .unwrap_or_else(|e| panic!("the surviving session: {e}"));
    assert_eq!(n["counters"]["established"], 1, "sessions established: {n}");
    // No third connection: bgplane does not dial again while Established.
    listener.set_nonblocking(true).expect("non-blocking");
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("bgplane opened another connection: {other:?}"),
    }
    bg.established(addr).expect("still Established");
}

#[test]
fn connection_collision_keeps_the_peers_connection_when_the_peer_has_the_higher_identifier() {
    collision("col-p", Ipv4Addr::new(10, 0, 0, 2));
}

#[test]
fn connection_collision_keeps_bgplanes_connection_when_bgplane_has_the_higher_identifier() {
    collision("col-b", Ipv4Addr::new(9, 9, 9, 9));
}

#[test]
fn hold_timer_expiry_sends_notification_4_0_after_the_hold_time() {
    let Some(lab) = Lab::new("hold", &[]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link(&a, &b);
    let mut bg = bgplane(&lab, &a, &[(&link, PEER_AS)], true, 3);
    let to = SocketAddr::new(IpAddr::V4(link.a4), 179);
    let mut p = RawPeer::new(peer::connect(&b, to, secs(15)), "peer");
    let open = p.establish(PEER_AS, 3, link.b4);
    assert_eq!(
        open.hold_time, 3,
        "bgplane's OPEN offers its configured hold time"
    );
    let silent_since = Instant::now();
    bg.wait_established(IpAddr::V4(link.b4));
    // From now on the peer sends nothing; bgplane keeps sending KEEPALIVEs (every second,
    // a third of the hold time) until its hold timer expires.
    let mut keepalives = 0;
    let notification = loop {
        match p.recv(secs(10)) {
            Ok(m) if m.ty == ty::KEEPALIVE => keepalives += 1,
            Ok(m) => {
                if let Some(n) = m.notification() {
                    break n;
                }
            }
            Err(e) => panic!("{e:?} after {keepalives} KEEPALIVEs, without a NOTIFICATION"),
        }
    };
    let after = silent_since.elapsed();
    assert_eq!(
        (notification.code, notification.subcode),
        (4, 0),
        "Hold Timer Expired expected, got {notification:?}"
    );
    assert!(
        after >= Duration::from_millis(2500) && after <= Duration::from_millis(4500),
        "hold time 3 s, but the NOTIFICATION came {:.2} s after the peer fell silent",
        after.as_secs_f64()
    );
    assert!(keepalives >= 2, "only {keepalives} KEEPALIVEs in {after:?}");
    assert_eq!(
        p.recv(secs(3)).err(),
        Some(RecvError::Closed),
        "connection closed"
    );
    let err = bg
        .last_error(IpAddr::V4(link.b4))
        .expect("neighbor")
        .unwrap_or_default();
    assert!(err.contains("Hold Timer"), "last_error {err:?}");
    bg.assert_running();
}

#[test]
fn malformed_origin_is_treated_as_withdraw_and_the_session_stays_up() {
    let Some(lab) = Lab::new("origin", &[]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link(&a, &b);
    let bg = bgplane(&lab, &a, &[(&link, PEER_AS)], true, 9);
    let mut p = established_peer(&link, PEER_AS, "peer");
    let from = IpAddr::V4(link.b4);
    bg.wait_established(from);

    p.send(&valid_update(&link, "10.5.1.0/24"));
    wait_for("bgplane to accept 10.5.1.0/24", timeouts::ROUTES, || {
        bg.path_from("10.5.1.0/24", from)?
            .map(|_| ())
            .ok_or_else(|| "no path".into())
    });
    // The same prefix with ORIGIN 5 (only 0..=2 exist): RFC 7606 §7.1, treat-as-withdraw.
    p.send(&wire::update(
        &[],
        &[
            wire::origin(5),
            wire::as_path(&[PEER_AS]),
            wire::next_hop(link.b4),
        ],
        &wire::nlri4("10.5.1.0/24"),
    ));
    wait_for(
        "bgplane to withdraw 10.5.1.0/24 after the malformed ORIGIN",
        timeouts::ROUTES,
        || bg.lacks_route("10.5.1.0/24", from),
    );
    p.stays_up(secs(1))
        .unwrap_or_else(|e| panic!("the session must stay up (treat-as-withdraw): {e}"));
    bg.established(from).expect("session still Established");
    let n = bg.neighbor(from).expect("neighbor");
    assert!(
        n["counters"]["malformed_updates"].as_u64() >= Some(1),
        "the malformed UPDATE is counted: {}",
        n["counters"]
    );
    // The session still works.
    p.send(&valid_update(&link, "10.5.2.0/24"));
    wait_for("bgplane to accept 10.5.2.0/24", timeouts::ROUTES, || {
        bg.path_from("10.5.2.0/24", from)?
            .map(|_| ())
            .ok_or_else(|| "no path".into())
    });
}

#[test]
fn bad_mp_reach_next_hop_length_resets_the_session_with_notification_3_9() {
    let Some(lab) = Lab::new("mpnh", &[]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link(&a, &b);
    let bg = bgplane(&lab, &a, &[(&link, PEER_AS)], true, 9);
    let mut p = established_peer(&link, PEER_AS, "peer");
    let from = IpAddr::V4(link.b4);
    bg.wait_established(from);
    // IPv6 unicast with a 5-octet next hop (16 or 32 expected): the NLRI that follows
    // cannot be located, so RFC 7606 §7.11 demands a session reset (or AFI/SAFI disable).
    p.send(&wire::update(
        &[],
        &[
            wire::origin(0),
            wire::as_path(&[PEER_AS]),
            wire::mp_reach_v6(&[0xfd, 0x90, 0, 0, 2], &wire::nlri6("fd05:1::/48")),
        ],
        &[],
    ));
    let n = p.recv_notification(secs(5));
    assert_eq!(
        (n.code, n.subcode),
        (3, 9),
        "UPDATE Message Error / Optional Attribute Error expected, got {n:?}"
    );
    assert_eq!(
        p.recv(secs(3)).err(),
        Some(RecvError::Closed),
        "connection closed"
    );
    wait_for(
        "bgplane to record the reset",
        timeouts::ROUTES,
        || match bg.last_error(from)? {
            Some(e) if e.contains("sent") && e.contains("3/9") => Ok(()),
            other => Err(format!("last_error {other:?}")),
        },
    );
    assert!(bg.lacks_route("fd05:1::/48", from).is_ok());
}

#[test]
fn unknown_optional_transitive_attribute_is_passed_on_with_the_partial_bit() {
    let Some(lab) = Lab::new("trans", &[]) else {
        return;
    };
    let (a, b, c) = (lab.netns("a"), lab.netns("b"), lab.netns("c"));
    let (lb, lc) = (lab.link(&a, &b), lab.link(&a, &c));
    let bg = bgplane(&lab, &a, &[(&lb, PEER_AS), (&lc, 65002)], true, 9);
    let sender = established_peer(&lb, PEER_AS, "sender");
    let mut receiver = established_peer(&lc, 65002, "receiver");
    bg.wait_established(IpAddr::V4(lb.b4));
    bg.wait_established(IpAddr::V4(lc.b4));

    let transitive = wire::attr(
        wire::flags::OPTIONAL | wire::flags::TRANSITIVE,
        0xee,
        &[1, 2, 3, 4, 5],
    );
    let non_transitive = wire::attr(wire::flags::OPTIONAL, 0xef, &[9, 9]);
    sender.send(&wire::update(
        &[],
        &[
            wire::origin(0),
            wire::as_path(&[PEER_AS]),
            wire::next_hop(lb.b4),
            transitive,
            non_transitive,
        ],
        &wire::nlri4("10.5.3.0/24"),
    ));
    let m = receiver.recv_until("the UPDATE for 10.5.3.0/24", timeouts::ROUTES, |m| {
        m.ty == ty::UPDATE
            && wire::parse_update(&m.bytes)
                .1
                .iter()
                .any(|p| p == "10.5.3.0/24")
    });
    let (attrs, _) = wire::parse_update(&m.bytes);
    let unknown = attrs
        .iter()
        .find(|a| a.code == 0xee)
        .unwrap_or_else(|| panic!("the optional transitive attribute 238 was dropped: {attrs:?}"));
    let want = wire::flags::OPTIONAL | wire::flags::TRANSITIVE | wire::flags::PARTIAL;
    assert_eq!(
        unknown.flags & want,
        want,
        "attribute 238 must keep Optional+Transitive and get Partial (RFC 4271 §9.1.2.2 / \
         §5): flags {:#04x}",
        unknown.flags
    );
    assert_eq!(unknown.value, [1, 2, 3, 4, 5], "value passed on unchanged");
    assert!(
        attrs.iter().all(|a| a.code != 0xef),
        "the optional non-transitive attribute 239 must not be passed on: {attrs:?}"
    );
    let as_path = attrs.iter().find(|a| a.code == 2).expect("AS_PATH");
    assert_eq!(
        as_path.value,
        [2, 2, 0, 0, 0xfd, 0xe8, 0, 0, 0xfd, 0xe9],
        "AS_PATH 65000 65001"
    );
    holds_for("both sessions", secs(1), || {
        bg.established(IpAddr::V4(lb.b4))?;
        bg.established(IpAddr::V4(lc.b4))
    });
}
