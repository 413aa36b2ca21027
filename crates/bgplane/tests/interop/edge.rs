//! Session edge cases against a scripted peer ([`RawPeer`]): connection collisions
//! (RFC 4271 §6.8), hold timer expiry (§6.5), route refresh with and without the
//! enhanced route refresh capability (RFC 2918, RFC 7313).
//!
//! bgplane runs in namespace `a` (AS 65000, id 10.0.0.1, 10.90.0.1), the scripted peer in
//! `b` (AS 65001, 10.90.0.2).

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bgp_wire::Capability;

use crate::harness::bgplane::Bgplane;
use crate::harness::daemon::routes;
use crate::harness::peer::{self, ty, wire, RawPeer, RecvError};
use crate::harness::scripted::{
    bgplane, bgplane_extra, bgplane_with, established_peer, established_peer_with, secs,
    BGPLANE_AS, BGPLANE_ID, PEER_AS,
};
use crate::harness::{holds_for, timeouts, Lab};

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
/// connection opened by the speaker with the higher BGP identifier (the larger AS if the
/// identifiers are equal, RFC 6286 §2.3), closes the other with
/// Cease/Connection Collision Resolution (6/7), and exactly one session comes up.
fn collision(test: &str, peer_id: Ipv4Addr, peer_as: u32) {
    let Some(lab) = Lab::new(test, &[]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link(&a, &b);
    let listener = peer::listen(&b, SocketAddr::new(IpAddr::V4(link.b4), 179));
    let bg = bgplane(&lab, &a, &[(&link, peer_as)], false, 9);

    // bgplane's own connection: take its OPEN, do not answer yet.
    let mut ours = RawPeer::new(peer::accept(&listener, secs(15)), "bgplane's connection");
    let _ = ours.recv_open(secs(10));
    // The peer's connection, with its OPEN; bgplane answers with OPEN and KEEPALIVE
    // (OpenConfirm) unless it resolves the collision right away.
    let to = SocketAddr::new(IpAddr::V4(link.a4), 179);
    let mut theirs = RawPeer::new(peer::connect(&b, to, secs(10)), "the peer's connection");
    theirs.send(&peer::open(peer_as, 9, peer_id));
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
    ours.send(&peer::open(peer_as, 9, peer_id));

    // RFC 4271 §6.8, and RFC 6286 §2.3 for equal identifiers: the larger AS wins.
    let peer_wins = (u32::from(peer_id), peer_as) > (u32::from(BGPLANE_ID), BGPLANE_AS);
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
    collision("col-p", Ipv4Addr::new(10, 0, 0, 2), PEER_AS);
}

#[test]
fn connection_collision_keeps_bgplanes_connection_when_bgplane_has_the_higher_identifier() {
    collision("col-b", Ipv4Addr::new(9, 9, 9, 9), PEER_AS);
}

#[test]
fn connection_collision_with_equal_identifiers_keeps_the_peers_connection_when_its_as_is_larger() {
    // RFC 6286 §2.3: the peer (AS 65001) outranks bgplane (AS 65000).
    collision("col-eqp", BGPLANE_ID, PEER_AS);
}

#[test]
fn connection_collision_with_equal_identifiers_keeps_bgplanes_connection_when_its_as_is_larger() {
    // RFC 6286 §2.3: bgplane (AS 65000) outranks the peer (AS 64999).
    collision("col-eqb", BGPLANE_ID, 64999);
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
fn a_second_connection_while_established_is_closed_and_the_session_stays() {
    let Some(lab) = Lab::new("col-e", &[]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link(&a, &b);
    let bg = bgplane(&lab, &a, &[(&link, PEER_AS)], true, 9);
    let mut first = established_peer(&link, PEER_AS, "the established connection");
    let addr = IpAddr::V4(link.b4);
    bg.wait_established(addr);

    // RFC 4271 §6.8: a collision with an Established connection closes the new one.
    let to = SocketAddr::new(IpAddr::V4(link.a4), 179);
    let mut second = RawPeer::new(peer::connect(&b, to, secs(10)), "the second connection");
    second.send(&peer::open(PEER_AS, 9, link.b4));
    let mut notification = None;
    loop {
        match second.recv(secs(10)) {
            Ok(m) => {
                if let Some(n) = m.notification() {
                    notification = Some((n.code, n.subcode));
                }
            }
            Err(RecvError::Closed) => break,
            Err(e) => panic!("the second connection was not closed: {e:?}"),
        }
    }
    assert!(
        matches!(notification, None | Some((6, _))),
        "the second connection may only get a Cease: {notification:?}"
    );
    first
        .stays_up(secs(2))
        .unwrap_or_else(|e| panic!("the established session must stay: {e}"));
    let n = bg.neighbor(addr).expect("neighbor");
    assert_eq!(n["state"], "Established", "{n}");
    assert_eq!(n["counters"]["established"], 1, "{n}");
}

/// A scripted peer facing bgplane, which originates 10.2.1.0/24. Fields drop in order:
/// the peer's connection, bgplane, the lab.
struct Refresh {
    peer: RawPeer,
    _bgplane: Bgplane,
    _lab: Lab,
}

/// bgplane originating 10.2.1.0/24 to a scripted peer with or without the enhanced route
/// refresh capability; the peer has read the initial UPDATE with that prefix.
fn refresh_setup(test: &str, enhanced: bool) -> Option<Refresh> {
    let lab = Lab::new(test, &[])?;
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link(&a, &b);
    let bg = bgplane_with(&lab, &a, &[(&link, PEER_AS)], true, 9, vec![routes::B4]);
    let mut caps = peer::capabilities(PEER_AS);
    if enhanced {
        caps.push(Capability::EnhancedRouteRefresh);
    }
    let mut p = established_peer_with(&link, PEER_AS, "peer", caps);
    bg.wait_established(IpAddr::V4(link.b4));
    p.recv_until("bgplane's network", timeouts::ROUTES, has_b4);
    Some(Refresh {
        peer: p,
        _bgplane: bg,
        _lab: lab,
    })
}

fn has_b4(m: &peer::Msg) -> bool {
    m.ty == ty::UPDATE
        && wire::parse_update(&m.bytes)
            .nlri
            .iter()
            .any(|p| p == routes::B4.prefix)
}

/// The subtype of an IPv4 unicast ROUTE-REFRESH (RFC 7313: 0 request, 1 BoRR, 2 EoRR).
fn refresh_subtype(m: &peer::Msg) -> Option<u8> {
    (m.ty == ty::ROUTE_REFRESH && m.bytes.len() == 23 && m.bytes[19..21] == [0, 1])
        .then(|| m.bytes[21])
}

#[test]
fn route_refresh_without_the_enhanced_capability_resends_routes_without_borr() {
    let Some(mut r) = refresh_setup("rr-plain", false) else {
        return;
    };
    r.peer.send(&wire::route_refresh(1, 0, 1));
    let mut seen = Vec::new();
    r.peer
        .recv_until("bgplane's network again", timeouts::ROUTES, |m| {
            seen.push(m.ty);
            has_b4(m)
        });
    // Anything else for a second: no ROUTE-REFRESH at all (BoRR/EoRR need the enhanced
    // route refresh capability on both sides, RFC 7313 §4).
    let deadline = Instant::now() + secs(1);
    while let Ok(m) = r
        .peer
        .recv(deadline.saturating_duration_since(Instant::now()))
    {
        seen.push(m.ty);
    }
    assert!(
        !seen.contains(&ty::ROUTE_REFRESH),
        "bgplane sent ROUTE-REFRESH messages to a peer without enhanced route refresh: {seen:?}"
    );
}

#[test]
fn enhanced_route_refresh_is_answered_with_borr_the_routes_and_eorr() {
    let Some(mut r) = refresh_setup("rr-enh", true) else {
        return;
    };
    r.peer.send(&wire::route_refresh(1, 0, 1));
    let mut order = Vec::new();
    r.peer
        .recv_until("EoRR for IPv4 unicast", timeouts::ROUTES, |m| {
            match refresh_subtype(m) {
                Some(1) => order.push("BoRR"),
                Some(2) => order.push("EoRR"),
                _ if has_b4(m) => order.push("route"),
                _ => {}
            }
            order.last() == Some(&"EoRR")
        });
    assert_eq!(
        order,
        ["BoRR", "route", "EoRR"],
        "RFC 7313 §4: BoRR, the routes, then EoRR"
    );
}

/// Under `ttl-security: 1`, a peer whose packets arrive with TTL 64 connects and sends its
/// OPEN after `delay`: bgplane must never take that OPEN (RFC 5082 §3).
fn gtsm_refuses(test: &str, delay: Duration) {
    let Some(lab) = Lab::new(test, &[]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link(&a, &b);
    let bg = bgplane_extra(&lab, &a, &[(&link, PEER_AS)], &["ttl-security: 1"]);
    let addr = IpAddr::V4(link.b4);
    let to = SocketAddr::new(IpAddr::V4(link.a4), 179);
    // bgplane completes the handshake and may send its own OPEN; what matters is that the
    // peer's OPEN is never taken: no KEEPALIVE, no OpenConfirm.
    if let Ok(s) = peer::try_connect(&b, to, secs(2)) {
        let mut p = RawPeer::new(s, "TTL-64 peer");
        std::thread::sleep(delay);
        p.send(&peer::open(PEER_AS, 9, link.b4));
        let deadline = Instant::now() + secs(3);
        loop {
            match p.recv(deadline.saturating_duration_since(Instant::now())) {
                Ok(m) if m.ty == ty::OPEN => {}
                Ok(m) => panic!(
                    "bgplane took the TTL-64 peer's OPEN (sent {delay:?} after connecting): \
                     message type {} came back",
                    m.ty
                ),
                Err(RecvError::Timeout) | Err(RecvError::Closed) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
    }
    holds_for("no session under GTSM", secs(1), || {
        match bg.state(addr)?.as_str() {
            "Established" | "OpenConfirm" => Err("the TTL-64 peer got a session".into()),
            _ => Ok(()),
        }
    });
}

#[test]
fn ttl_security_ignores_the_open_of_a_ttl_64_peer_sent_after_the_handshake() {
    gtsm_refuses("gtsm-late", Duration::from_millis(500));
}

#[test]
fn ttl_security_ignores_the_open_of_a_ttl_64_peer_sent_at_once() {
    gtsm_refuses("gtsm-now", Duration::ZERO);
}

#[test]
fn tcp_md5_gives_no_connection_to_a_peer_without_the_password() {
    let Some(lab) = Lab::new("md5-no", &[]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link(&a, &b);
    let bg = bgplane_extra(&lab, &a, &[(&link, PEER_AS)], &["password: \"secret\""]);
    // RFC 2385 §2: segments without the expected digest are dropped, SYN included.
    let to = SocketAddr::new(IpAddr::V4(link.a4), 179);
    let r = peer::try_connect(&b, to, secs(3));
    assert!(
        r.is_err(),
        "a connection without an MD5 signature was accepted: {r:?}"
    );
    let state = bg.state(IpAddr::V4(link.b4)).expect("neighbor");
    assert_ne!(state, "Established");
}
