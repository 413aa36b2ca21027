use std::net::Ipv4Addr;

use bgp_wire::{Capability, Family, Notification, Open};

use super::*;
use crate::negotiate::{RemoteAs, SessionParams};

fn fsm(passive: bool) -> Fsm {
    let p = SessionParams::new(65000, Ipv4Addr::new(10, 0, 0, 1), RemoteAs::Asn(65001));
    Fsm::new(p, passive, 10)
}

fn peer_open(hold: u16) -> Open {
    Open::new(
        65001,
        hold,
        Ipv4Addr::new(10, 0, 0, 2),
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::FourOctetAs(65001),
        ],
    )
}

fn run(f: &mut Fsm, e: Event) -> Vec<Action> {
    let mut out = Vec::new();
    f.handle(e, &mut out);
    out
}

fn established() -> Fsm {
    let mut f = fsm(false);
    run(&mut f, Event::ManualStart);
    run(&mut f, Event::TcpCrAcked);
    run(&mut f, Event::BgpOpen(peer_open(90)));
    run(&mut f, Event::KeepAliveMsg);
    assert_eq!(f.state(), State::Established);
    f
}

fn sent_notification(actions: &[Action]) -> Option<&Notification> {
    actions.iter().find_map(|a| match a {
        Action::SendNotification(n) => Some(n),
        _ => None,
    })
}

#[test]
fn a_manual_start_connects_and_arms_the_connect_retry_timer() {
    let mut f = fsm(false);
    let a = run(&mut f, Event::ManualStart);
    assert_eq!(
        a,
        vec![Action::StartTimer(Timer::ConnectRetry, 10), Action::Connect]
    );
    assert_eq!(f.state(), State::Connect);
}

#[test]
fn a_passive_session_waits_in_active_without_connecting() {
    let mut f = fsm(true);
    let a = run(&mut f, Event::ManualStart);
    assert!(!a.contains(&Action::Connect));
    assert_eq!(f.state(), State::Active);
    run(&mut f, Event::ConnectRetryTimerExpires);
    assert_eq!(f.state(), State::Active, "passive sessions never connect");
    let a = run(&mut f, Event::TcpConnectionConfirmed);
    assert!(matches!(a[1], Action::SendOpen(_)));
    assert_eq!(f.state(), State::OpenSent);
}

#[test]
fn the_handshake_reaches_established_with_negotiated_timers() {
    let mut f = fsm(false);
    run(&mut f, Event::ManualStart);
    let a = run(&mut f, Event::TcpCrAcked);
    assert!(matches!(&a[1], Action::SendOpen(o) if o.asn() == 65000));
    assert!(a.contains(&Action::StartTimer(Timer::Hold, LARGE_HOLD_TIME)));
    let a = run(&mut f, Event::BgpOpen(peer_open(30)));
    assert_eq!(a[0], Action::SendKeepalive);
    assert!(a.contains(&Action::StartTimer(Timer::Keepalive, 10)));
    assert!(a.contains(&Action::StartTimer(Timer::Hold, 30)));
    assert!(matches!(a.last(), Some(Action::OpenAccepted(_))));
    assert_eq!(f.state(), State::OpenConfirm);
    let a = run(&mut f, Event::KeepAliveMsg);
    assert!(matches!(a.last(), Some(Action::Established(n)) if n.peer_asn == 65001));
}

#[test]
fn connect_retry_expiry_in_connect_tries_again() {
    let mut f = fsm(false);
    run(&mut f, Event::ManualStart);
    let a = run(&mut f, Event::ConnectRetryTimerExpires);
    assert_eq!(
        a,
        vec![
            Action::Disconnect,
            Action::StartTimer(Timer::ConnectRetry, 10),
            Action::Connect
        ]
    );
    assert_eq!(f.connect_retry_counter(), 1);
    run(&mut f, Event::TcpConnectionFails);
    assert_eq!(f.state(), State::Active);
    run(&mut f, Event::ConnectRetryTimerExpires);
    assert_eq!(f.state(), State::Connect);
}

#[test]
fn hold_timer_expiry_sends_hold_timer_expired_and_goes_idle() {
    let mut f = established();
    let a = run(&mut f, Event::HoldTimerExpires);
    let n = sent_notification(&a).unwrap();
    assert_eq!((n.code, n.subcode), (4, 0));
    assert!(matches!(
        a.last(),
        Some(Action::Down {
            was_established: true,
            ..
        })
    ));
    assert_eq!(f.state(), State::Idle);
}

#[test]
fn updates_and_keepalives_restart_the_hold_timer() {
    let mut f = established();
    assert_eq!(
        run(&mut f, Event::UpdateMsg),
        vec![Action::StartTimer(Timer::Hold, 90)]
    );
    assert_eq!(
        run(&mut f, Event::KeepAliveMsg),
        vec![Action::StartTimer(Timer::Hold, 90)]
    );
    assert_eq!(
        run(&mut f, Event::KeepaliveTimerExpires),
        vec![
            Action::SendKeepalive,
            Action::StartTimer(Timer::Keepalive, 30)
        ]
    );
}

#[test]
fn a_notification_from_the_peer_ends_the_session_without_answering() {
    let mut f = established();
    let n = Notification::shutdown(2, "maintenance");
    let a = run(&mut f, Event::NotifMsg(n.clone()));
    assert!(sent_notification(&a).is_none());
    assert!(a.contains(&Action::Down {
        reason: DownReason::NotificationReceived { notification: n },
        was_established: true
    }));
}

#[test]
fn a_peer_with_the_wrong_as_is_refused_with_bad_peer_as() {
    let mut f = fsm(false);
    run(&mut f, Event::ManualStart);
    run(&mut f, Event::TcpCrAcked);
    let mut o = peer_open(90);
    o.my_as = 65099;
    o.params.clear();
    let a = run(&mut f, Event::BgpOpen(o));
    let n = sent_notification(&a).unwrap();
    assert_eq!((n.code, n.subcode), (2, 2));
    assert!(matches!(
        a.last(),
        Some(Action::Down {
            was_established: false,
            ..
        })
    ));
}

#[test]
fn messages_a_state_does_not_allow_are_fsm_errors_with_rfc6608_subcodes() {
    let mut f = fsm(false);
    run(&mut f, Event::ManualStart);
    run(&mut f, Event::TcpCrAcked);
    let a = run(&mut f, Event::UpdateMsg);
    assert_eq!(
        sent_notification(&a).map(|n| (n.code, n.subcode)),
        Some((5, 1))
    );

    let mut f = fsm(false);
    run(&mut f, Event::ManualStart);
    run(&mut f, Event::TcpCrAcked);
    run(&mut f, Event::BgpOpen(peer_open(90)));
    let a = run(&mut f, Event::UpdateMsg);
    assert_eq!(
        sent_notification(&a).map(|n| (n.code, n.subcode)),
        Some((5, 2))
    );

    let mut f = established();
    let a = run(&mut f, Event::BgpOpen(peer_open(90)));
    assert_eq!(
        sent_notification(&a).map(|n| (n.code, n.subcode)),
        Some((5, 3))
    );
}

#[test]
fn a_collision_dump_sends_cease_connection_collision_resolution() {
    let mut f = fsm(false);
    run(&mut f, Event::ManualStart);
    run(&mut f, Event::TcpCrAcked);
    run(&mut f, Event::BgpOpen(peer_open(90)));
    let a = run(&mut f, Event::OpenCollisionDump);
    assert_eq!(
        sent_notification(&a).map(|n| (n.code, n.subcode)),
        Some((6, 7))
    );
    assert_eq!(f.state(), State::Idle);
}

#[test]
fn manual_stop_sends_the_given_shutdown_communication() {
    let mut f = established();
    let n = Notification::shutdown(2, "planned maintenance");
    let a = run(&mut f, Event::ManualStop(Some(n.clone())));
    assert_eq!(sent_notification(&a), Some(&n));
    let mut f = established();
    let a = run(&mut f, Event::ManualStop(None));
    assert_eq!(
        sent_notification(&a).map(|n| (n.code, n.subcode)),
        Some((6, 2))
    );
}

#[test]
fn a_zero_hold_time_never_arms_the_hold_or_keepalive_timers() {
    let mut f = fsm(false);
    run(&mut f, Event::ManualStart);
    run(&mut f, Event::TcpCrAcked);
    let a = run(&mut f, Event::BgpOpen(peer_open(0)));
    assert!(a.contains(&Action::StopTimer(Timer::Hold)));
    assert!(!a
        .iter()
        .any(|x| matches!(x, Action::StartTimer(Timer::Keepalive | Timer::Hold, _))));
    run(&mut f, Event::KeepAliveMsg);
    assert!(run(&mut f, Event::UpdateMsg).is_empty());
}

#[test]
fn idle_ignores_everything_but_a_start() {
    let mut f = fsm(false);
    for e in [
        Event::KeepAliveMsg,
        Event::HoldTimerExpires,
        Event::TcpConnectionFails,
    ] {
        assert!(run(&mut f, e).is_empty());
        assert_eq!(f.state(), State::Idle);
    }
}

#[test]
fn failed_connections_are_retried_after_1_2_4_seconds_up_to_the_connect_retry_time() {
    let mut f = fsm(false);
    run(&mut f, Event::ManualStart);
    let mut waits = Vec::new();
    for _ in 0..6 {
        let a = run(&mut f, Event::TcpConnectionFails);
        waits.extend(a.iter().filter_map(|x| match x {
            Action::StartTimer(Timer::ConnectRetry, t) => Some(*t),
            _ => None,
        }));
        run(&mut f, Event::ConnectRetryTimerExpires);
    }
    assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
    // An Established session starts over from 1 s.
    run(&mut f, Event::TcpCrAcked);
    run(&mut f, Event::BgpOpen(peer_open(90)));
    run(&mut f, Event::KeepAliveMsg);
    assert_eq!(f.state(), State::Established);
    run(&mut f, Event::TcpConnectionFails);
    run(&mut f, Event::ManualStart);
    let a = run(&mut f, Event::TcpConnectionFails);
    assert!(
        a.contains(&Action::StartTimer(Timer::ConnectRetry, 1)),
        "{a:?}"
    );
}
