use std::time::{Duration, Instant};

use super::*;
use crate::packet::ControlPacket;

const MS: Duration = Duration::from_millis(1);

fn cfg(tx_ms: u32, rx_ms: u32, mult: u8) -> SessionConfig {
    SessionConfig {
        desired_min_tx: tx_ms * MS,
        required_min_rx: rx_ms * MS,
        detect_mult: mult,
        passive: false,
    }
}

fn sent(out: &[Output]) -> Vec<ControlPacket> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send(p) => Some(*p),
            _ => None,
        })
        .collect()
}

fn changes(out: &[Output]) -> Vec<(SessionState, SessionState, Diag)> {
    out.iter()
        .filter_map(|o| match o {
            Output::StateChange { from, to, diag } => Some((*from, *to, *diag)),
            _ => None,
        })
        .collect()
}

/// Two sessions joined by a lossless wire, driven by a clock in 1 ms steps. Packets
/// pass through the codec on the way.
struct Wire {
    a: Session,
    b: Session,
    now: Instant,
    /// Every state change, with the side ('a' or 'b') and the time since the start.
    log: Vec<(char, Duration, SessionState, SessionState, Diag)>,
    start: Instant,
    /// Drop what a sends (its peer stops hearing it).
    a_mute: bool,
    /// Every packet sent: side, time since the start, packet.
    sent: Vec<(char, Duration, ControlPacket)>,
}

impl Wire {
    fn new(a: SessionConfig, b: SessionConfig) -> Wire {
        let now = Instant::now();
        Wire {
            a: Session::new(a, 0x1111, now),
            b: Session::new(b, 0x2222, now),
            now,
            log: Vec::new(),
            start: now,
            a_mute: false,
            sent: Vec::new(),
        }
    }

    fn deliver(&mut self, from_a: bool, out: Vec<Output>) {
        let side = if from_a { 'a' } else { 'b' };
        let t = self.now - self.start;
        for (f, to, d) in changes(&out) {
            self.log.push((side, t, f, to, d));
        }
        for p in sent(&out) {
            let p = ControlPacket::decode(&p.encode()).expect("our packets decode");
            self.sent.push((side, t, p));
            if from_a && self.a_mute {
                continue;
            }
            let reply = if from_a {
                self.b.receive(&p, self.now)
            } else {
                self.a.receive(&p, self.now)
            };
            self.deliver(!from_a, reply);
        }
    }

    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            let out = self.a.tick(self.now);
            self.deliver(true, out);
            let out = self.b.tick(self.now);
            self.deliver(false, out);
            self.now += MS;
        }
    }
}

#[test]
fn two_sessions_come_up_through_down_init_up_and_then_use_their_fast_timers() {
    let mut w = Wire::new(cfg(300, 300, 3), cfg(300, 300, 3));
    w.run(3000 * MS);
    assert_eq!(w.a.state(), SessionState::Up);
    assert_eq!(w.b.state(), SessionState::Up);
    // a spoke first: b goes to Init on a's Down, a straight to Up on b's Init (§6.2).
    let side = |c: char| -> Vec<_> { w.log.iter().filter(|l| l.0 == c).map(|l| l.3).collect() };
    assert_eq!(side('a'), [SessionState::Up]);
    assert_eq!(side('b'), [SessionState::Init, SessionState::Up]);
    assert_eq!(w.a.remote_disc(), 0x2222);
    assert_eq!(w.b.remote_disc(), 0x1111);
    // The Poll Sequence of §6.8.3 ended: both advertise and use 300 ms.
    assert!(!w.a.polling && !w.b.polling);
    assert_eq!(w.a.tx_interval(), 300 * MS);
    assert_eq!(w.a.detection_time(), Some(900 * MS));
    // In one second of Up, 300 ms less up to 25% jitter: between 3 and 5 packets each.
    let before = w.a.counters().sent;
    w.run(1000 * MS);
    let n = w.a.counters().sent - before;
    assert!((3..=5).contains(&n), "{n} packets in 1 s");
}

#[test]
fn the_slow_rate_of_one_second_holds_until_the_session_is_up() {
    let a = Session::new(cfg(50, 50, 3), 7, Instant::now());
    let p = a.packet();
    assert_eq!(p.state, SessionState::Down);
    assert_eq!(p.desired_min_tx, 1_000_000);
    assert_eq!(p.required_min_rx, 50_000);
    assert_eq!(p.your_disc, 0);
}

#[test]
fn silence_for_the_detection_time_takes_the_session_down_with_diagnostic_1() {
    let mut w = Wire::new(cfg(100, 100, 3), cfg(100, 100, 3));
    w.run(3000 * MS);
    assert_eq!(w.b.state(), SessionState::Up);
    w.log.clear();
    w.a_mute = true;
    let muted = w.now;
    w.run(1000 * MS);
    let (side, t, from, to, diag) = w.log[0];
    assert_eq!(
        (side, from, to),
        ('b', SessionState::Up, SessionState::Down)
    );
    assert_eq!(diag, Diag::DETECTION_TIME_EXPIRED);
    // Detection time 300 ms after the last packet heard, which came at most one
    // interval (100 ms) before the mute.
    let after = t - (muted - w.start);
    assert!(
        after <= 300 * MS && after >= 200 * MS,
        "down {after:?} after mute"
    );
    assert_eq!(w.b.remote_disc(), 0, "RFC 5880 §6.8.1");
    // a hears b's Down and follows with diagnostic 3.
    assert!(w
        .log
        .iter()
        .any(|l| l.0 == 'a' && l.3 == SessionState::Down && l.4 == Diag::NEIGHBOR_DOWN));
    // Unmuted, both come back up.
    w.a_mute = false;
    w.run(4000 * MS);
    assert_eq!(w.a.state(), SessionState::Up);
    assert_eq!(w.b.state(), SessionState::Up);
    assert_eq!(w.b.counters().up, 2);
    assert_eq!(w.b.counters().down, 1);
}

#[test]
fn admin_down_on_one_side_takes_the_other_down_with_diagnostic_3() {
    let mut w = Wire::new(cfg(100, 100, 3), cfg(100, 100, 3));
    w.run(3000 * MS);
    let out = w.a.admin_down(w.now);
    assert_eq!(
        changes(&out),
        [(SessionState::Up, SessionState::AdminDown, Diag::ADMIN_DOWN)]
    );
    w.run(500 * MS);
    assert_eq!(w.b.state(), SessionState::Down);
    assert_eq!(w.b.diag(), Diag::NEIGHBOR_DOWN);
    assert_eq!(w.a.state(), SessionState::AdminDown);
    // b keeps sending Down; a ignores it and stays AdminDown.
    w.run(2000 * MS);
    assert_eq!(w.a.state(), SessionState::AdminDown);
    assert_eq!(w.b.state(), SessionState::Down);
    w.a.admin_up(w.now);
    w.run(4000 * MS);
    assert_eq!(
        (w.a.state(), w.b.state()),
        (SessionState::Up, SessionState::Up)
    );
}

#[test]
fn a_poll_is_answered_at_once_with_final() {
    let now = Instant::now();
    let mut s = Session::new(cfg(300, 300, 3), 5, now);
    let mut p = Session::new(cfg(300, 300, 3), 9, now).packet();
    p.poll = true;
    let out = s.receive(&p, now);
    let f = sent(&out);
    assert_eq!(f.len(), 1);
    assert!(f[0].final_ && !f[0].poll);
    assert_eq!(f[0].your_disc, 9);
}

#[test]
fn a_timer_increase_while_up_waits_for_the_final() {
    let mut w = Wire::new(cfg(100, 100, 3), cfg(100, 100, 3));
    w.run(3000 * MS);
    w.b.reconfigure(cfg(500, 100, 3), w.now);
    assert!(w.b.polling);
    assert_eq!(w.b.tx_interval(), 100 * MS, "old interval until the Final");
    w.run(200 * MS);
    assert!(!w.b.polling);
    assert_eq!(w.b.tx_interval(), 500 * MS);
    // a's Detection Time follows b's new Desired Min TX.
    assert_eq!(w.a.detection_time(), Some(1500 * MS));
    assert_eq!(w.a.state(), SessionState::Up);
}

#[test]
fn a_passive_session_waits_for_its_peer_and_one_with_rx_zero_gets_nothing() {
    let now = Instant::now();
    let mut passive = Session::new(
        SessionConfig {
            passive: true,
            ..SessionConfig::default()
        },
        3,
        now,
    );
    assert!(sent(&passive.tick(now + 5000 * MS)).is_empty());
    let mut peer = Session::new(SessionConfig::default(), 4, now);
    let first = sent(&peer.tick(now))[0];
    passive.receive(&first, now);
    assert_eq!(sent(&passive.tick(now + MS)).len(), 1);
    // A peer that asks for no packets (Required Min RX 0) gets none (§6.8.7).
    let mut quiet = first;
    quiet.required_min_rx = 0;
    passive.receive(&quiet, now + 2 * MS);
    assert!(sent(&passive.tick(now + 5000 * MS)).is_empty());
}

#[test]
fn jitter_stays_within_75_to_100_percent_and_90_with_multiplier_1() {
    for (mult, top) in [(3u8, 100u32), (1, 90)] {
        let mut s = Session::new(cfg(1000, 1000, mult), 11, Instant::now());
        for _ in 0..1000 {
            let d = s.jittered();
            assert!(d >= 750 * MS && d <= top * 10 * MS, "{d:?} for mult {mult}");
        }
    }
}

#[test]
fn a_passive_session_turned_active_starts_sending() {
    let now = Instant::now();
    let passive = SessionConfig {
        passive: true,
        ..SessionConfig::default()
    };
    let mut s = Session::new(passive, 3, now);
    assert!(sent(&s.tick(now + 2000 * MS)).is_empty());
    s.reconfigure(SessionConfig::default(), now + 2000 * MS);
    assert_eq!(sent(&s.tick(now + 2000 * MS)).len(), 1);
}

#[test]
fn on_going_up_the_fast_interval_applies_to_the_very_next_packet() {
    let mut w = Wire::new(cfg(300, 300, 3), cfg(300, 300, 3));
    w.run(3000 * MS);
    for side in ['a', 'b'] {
        let up = w
            .log
            .iter()
            .find(|l| l.0 == side && l.3 == SessionState::Up)
            .expect("up")
            .1;
        // Packets after Up (Finals included) are at most 300 ms apart: none still timed
        // by the 1 s of the slow rate, which the peer's 900 ms Detection Time would miss.
        let times: Vec<Duration> = w
            .sent
            .iter()
            .filter(|s| s.0 == side && s.1 >= up)
            .map(|s| s.1)
            .collect();
        assert!(times.len() > 3, "{side}: {times:?}");
        let first_gap = times[0] - up;
        assert!(
            first_gap <= 300 * MS,
            "{side}: first packet {first_gap:?} after Up"
        );
        for pair in times.windows(2) {
            assert!(
                pair[1] - pair[0] <= 300 * MS,
                "{side}: gap {:?}",
                pair[1] - pair[0]
            );
        }
    }
}
