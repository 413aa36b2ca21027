//! BFD strict mode (draft-ietf-idr-bgp-bfd-strict-mode §8): the sub-states of OpenSent that
//! wait for BFD, and the BFD events of each state.

use std::net::Ipv4Addr;

use bgp_wire::notification::{cease, codes};
use bgp_wire::{Capability, Family, Notification, Open};

use super::*;
use crate::negotiate::{RemoteAs, SessionParams};

/// An FSM in OpenSent; `strict` announces the capability, `bfd_up` is BFD's state.
fn open_sent(strict: bool, bfd_up: bool) -> Fsm {
    let mut p = SessionParams::new(65000, Ipv4Addr::new(10, 0, 0, 1), RemoteAs::Asn(65001));
    p.bfd_strict = strict;
    let mut f = Fsm::new(p, false, 10).with_bfd(bfd_up, 7);
    run(&mut f, Event::ManualStart);
    run(&mut f, Event::TcpCrAcked);
    assert_eq!(f.state(), State::OpenSent);
    f
}

fn peer_open(hold: u16, strict: bool) -> Open {
    let mut caps = vec![
        Capability::Multiprotocol(Family::IPV4_UNICAST),
        Capability::FourOctetAs(65001),
    ];
    if strict {
        caps.push(Capability::BfdStrictMode);
    }
    Open::new(65001, hold, Ipv4Addr::new(10, 0, 0, 2), caps)
}

fn run(f: &mut Fsm, e: Event) -> Vec<Action> {
    let mut out = Vec::new();
    f.handle(e, &mut out);
    out
}

fn bfd_down_cease() -> Action {
    Action::SendNotification(Notification::new(codes::CEASE, cease::BFD_DOWN, vec![]))
}

fn is_established(a: &[Action]) -> bool {
    a.iter().any(|a| matches!(a, Action::Established(_)))
}

#[test]
fn the_open_carries_the_bfd_strict_mode_capability_only_in_strict_mode() {
    let caps = |strict: bool| {
        let mut p = SessionParams::new(65000, Ipv4Addr::new(10, 0, 0, 1), RemoteAs::Asn(1));
        p.bfd_strict = strict;
        p.open().capabilities().cloned().collect::<Vec<_>>()
    };
    assert!(caps(true).contains(&Capability::BfdStrictMode));
    assert!(!caps(false).contains(&Capability::BfdStrictMode));
}

#[test]
fn with_strict_mode_on_both_sides_no_keepalive_is_sent_until_bfd_is_up() {
    let mut f = open_sent(true, false);
    let a = run(&mut f, Event::BgpOpen(peer_open(30, true)));
    assert!(!a.contains(&Action::SendKeepalive), "{a:?}");
    assert!(!a
        .iter()
        .any(|a| matches!(a, Action::StartTimer(Timer::Keepalive, _))));
    assert!(a.contains(&Action::StartTimer(Timer::Hold, 30)), "{a:?}");
    assert!(a
        .iter()
        .any(|a| matches!(a, Action::OpenAccepted(n) if n.bfd_strict)));
    assert_eq!(f.state(), State::OpenSent);
    assert_eq!(f.bfd_pending(), Some(BfdPending::Open));

    let a = run(&mut f, Event::BfdUp);
    assert_eq!(a[0], Action::SendKeepalive);
    assert!(a.contains(&Action::StartTimer(Timer::Keepalive, 10)));
    assert_eq!(f.state(), State::OpenConfirm);
    assert_eq!(f.bfd_pending(), None);
    let a = run(&mut f, Event::KeepAliveMsg);
    assert!(is_established(&a));
}

#[test]
fn the_peers_keepalive_while_waiting_for_bfd_makes_bfd_up_lead_straight_to_established() {
    let mut f = open_sent(true, false);
    run(&mut f, Event::BgpOpen(peer_open(30, true)));
    // The peer's BFD came up first: it sent its KEEPALIVE (§8.5.6).
    let a = run(&mut f, Event::KeepAliveMsg);
    assert_eq!(a, vec![Action::StartTimer(Timer::Hold, 30)]);
    assert_eq!(f.state(), State::OpenSent);
    assert_eq!(f.bfd_pending(), Some(BfdPending::Confirmed));
    // A second one changes nothing.
    run(&mut f, Event::KeepAliveMsg);
    assert_eq!(f.bfd_pending(), Some(BfdPending::Confirmed));

    let a = run(&mut f, Event::BfdUp);
    assert_eq!(a[0], Action::SendKeepalive);
    assert!(is_established(&a), "{a:?}");
    assert_eq!(f.state(), State::Established);
}

#[test]
fn bfd_already_up_or_strict_mode_on_one_side_only_changes_nothing() {
    for (ours, theirs, bfd_up) in [
        (true, true, true),
        (true, false, false),
        (false, true, false),
    ] {
        let mut f = open_sent(ours, bfd_up);
        let a = run(&mut f, Event::BgpOpen(peer_open(30, theirs)));
        assert_eq!(a[0], Action::SendKeepalive, "{ours} {theirs} {bfd_up}");
        assert_eq!(f.state(), State::OpenConfirm);
        assert_eq!(
            f.negotiated().unwrap().bfd_strict,
            ours && theirs,
            "BfdStrictNegotiated"
        );
    }
}

#[test]
fn bfd_that_comes_up_before_the_open_is_remembered() {
    let mut f = open_sent(true, false);
    assert!(run(&mut f, Event::BfdUp).is_empty());
    let a = run(&mut f, Event::BgpOpen(peer_open(30, true)));
    assert_eq!(a[0], Action::SendKeepalive);
    assert_eq!(f.state(), State::OpenConfirm);
}

#[test]
fn bfd_down_while_waiting_or_in_open_confirm_ends_a_strict_session_with_cease_bfd_down() {
    let mut f = open_sent(true, false);
    run(&mut f, Event::BgpOpen(peer_open(30, true)));
    let a = run(&mut f, Event::BfdDown);
    assert_eq!(a[0], bfd_down_cease());
    assert_eq!(f.state(), State::Idle);
    assert_eq!(f.bfd_pending(), None);

    let mut f = open_sent(true, true);
    run(&mut f, Event::BgpOpen(peer_open(30, true)));
    assert_eq!(f.state(), State::OpenConfirm);
    let a = run(&mut f, Event::BfdDown);
    assert_eq!(a[0], bfd_down_cease());
    assert_eq!(f.state(), State::Idle);

    // Not negotiated: BFD's state does not concern the handshake (§8.6.2).
    let mut f = open_sent(true, true);
    run(&mut f, Event::BgpOpen(peer_open(30, false)));
    assert!(run(&mut f, Event::BfdDown).is_empty());
    assert_eq!(f.state(), State::OpenConfirm);
}

#[test]
fn with_a_hold_time_of_zero_the_bfd_hold_timer_bounds_the_wait() {
    let mut f = open_sent(true, false);
    let a = run(&mut f, Event::BgpOpen(peer_open(0, true)));
    assert!(a.contains(&Action::StopTimer(Timer::Hold)));
    assert!(a.contains(&Action::StartTimer(Timer::BfdHold, 7)), "{a:?}");
    let a = run(&mut f, Event::BfdHoldTimerExpires);
    assert_eq!(a[0], bfd_down_cease());
    assert!(a.contains(&Action::StopTimer(Timer::BfdHold)));
    assert_eq!(f.state(), State::Idle);

    // BFD in time: the timer is stopped.
    let mut f = open_sent(true, false);
    run(&mut f, Event::BgpOpen(peer_open(0, true)));
    let a = run(&mut f, Event::BfdUp);
    assert!(a.contains(&Action::StopTimer(Timer::BfdHold)));
    assert_eq!(f.state(), State::OpenConfirm);
}

#[test]
fn a_second_open_while_waiting_for_bfd_is_an_fsm_error() {
    let mut f = open_sent(true, false);
    run(&mut f, Event::BgpOpen(peer_open(30, true)));
    let a = run(&mut f, Event::BgpOpen(peer_open(30, true)));
    assert_eq!(
        a[0],
        Action::SendNotification(Notification::new(codes::FSM, 1, vec![]))
    );
    assert_eq!(f.state(), State::Idle);
}

#[test]
fn bfd_events_change_nothing_in_idle_connect_and_established() {
    let mut p = SessionParams::new(65000, Ipv4Addr::new(10, 0, 0, 1), RemoteAs::Asn(65001));
    p.bfd_strict = true;
    let mut f = Fsm::new(p, false, 10).with_bfd(false, 30);
    for e in [Event::BfdUp, Event::BfdDown, Event::BfdHoldTimerExpires] {
        assert!(run(&mut f, e).is_empty());
    }
    assert_eq!(f.state(), State::Idle);
    run(&mut f, Event::ManualStart);
    for e in [Event::BfdDown, Event::BfdHoldTimerExpires, Event::BfdUp] {
        assert!(run(&mut f, e).is_empty());
    }
    assert_eq!(f.state(), State::Connect);
    run(&mut f, Event::TcpCrAcked);
    run(&mut f, Event::BgpOpen(peer_open(30, true)));
    run(&mut f, Event::KeepAliveMsg);
    assert_eq!(f.state(), State::Established);
    // In Established a BFD failure is the speaker's to act on (RFC 5882 §10.2).
    for e in [Event::BfdDown, Event::BfdHoldTimerExpires, Event::BfdUp] {
        assert!(run(&mut f, e).is_empty());
    }
    assert_eq!(f.state(), State::Established);
}
