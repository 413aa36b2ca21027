//! One BFD session in Asynchronous mode as a sans-IO state machine (RFC 5880 §6.2, §6.8).
//!
//! The caller hands it received packets ([`Session::receive`]) and clock readings
//! ([`Session::tick`], due at [`Session::next_deadline`]); it answers with packets to send
//! and state changes ([`Output`]). It owns no socket and no timer, so every rule is
//! tested with a hand-driven clock.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::packet::{ControlPacket, Diag, SessionState};

/// bfd.DesiredMinTxInterval while the session is not Up: at least one second (RFC 5880
/// §6.8.3), in microseconds.
pub const SLOW_TX_US: u32 = 1_000_000;

/// The timers of a session, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// bfd.DesiredMinTxInterval once Up.
    pub desired_min_tx: Duration,
    /// bfd.RequiredMinRxInterval.
    pub required_min_rx: Duration,
    /// bfd.DetectMult.
    pub detect_mult: u8,
    /// Passive role (RFC 5880 §6.1): send nothing before hearing from the peer.
    pub passive: bool,
}

impl Default for SessionConfig {
    /// FRR's defaults: 300 ms both ways, multiplier 3.
    fn default() -> Self {
        SessionConfig {
            desired_min_tx: Duration::from_millis(300),
            required_min_rx: Duration::from_millis(300),
            detect_mult: 3,
            passive: false,
        }
    }
}

/// What the session asks of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this packet to the peer now.
    Send(ControlPacket),
    /// bfd.SessionState changed.
    StateChange {
        /// The state before.
        from: SessionState,
        /// The state now.
        to: SessionState,
        /// bfd.LocalDiag: why.
        diag: Diag,
    },
}

/// Counters and the last transition, for `show bfd peers`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Counters {
    /// Control packets accepted.
    pub received: u64,
    /// Control packets sent.
    pub sent: u64,
    /// Transitions to Up.
    pub up: u64,
    /// Transitions from Up to another state.
    pub down: u64,
}

/// One BFD session (RFC 5880 §6.8.1 state variables).
#[derive(Debug, Clone)]
pub struct Session {
    cfg: SessionConfig,
    state: SessionState,
    remote_state: SessionState,
    local_disc: u32,
    remote_disc: u32,
    local_diag: Diag,
    /// bfd.RemoteMinRxInterval (µs); 1 until the peer says (§6.8.1).
    remote_min_rx: u32,
    /// The peer's last Desired Min TX Interval (µs).
    remote_desired_tx: u32,
    remote_detect_mult: u8,
    /// bfd.DesiredMinTxInterval as advertised (µs).
    desired_tx: u32,
    /// The interval our transmissions use: an increase waits for the Poll Sequence to end
    /// (§6.8.3).
    tx_in_use: u32,
    /// A Poll Sequence is under way (§6.5).
    polling: bool,
    next_tx: Option<Instant>,
    detect_at: Option<Instant>,
    since: Instant,
    rng: fastrand::Rng,
    counters: Counters,
}

fn us(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX).max(1)
}

impl Session {
    /// A session in Down with our discriminator `local_disc` (nonzero, unique on this
    /// system). An active session sends its first packet at the first tick.
    pub fn new(cfg: SessionConfig, local_disc: u32, now: Instant) -> Session {
        let desired_tx = us(cfg.desired_min_tx).max(SLOW_TX_US);
        Session {
            cfg,
            state: SessionState::Down,
            remote_state: SessionState::Down,
            local_disc,
            remote_disc: 0,
            local_diag: Diag::NONE,
            remote_min_rx: 1,
            remote_desired_tx: 0,
            remote_detect_mult: 0,
            desired_tx,
            tx_in_use: desired_tx,
            polling: false,
            next_tx: (!cfg.passive).then_some(now),
            detect_at: None,
            since: now,
            rng: fastrand::Rng::with_seed(u64::from(local_disc)),
            counters: Counters::default(),
        }
    }

    /// bfd.SessionState.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// bfd.RemoteSessionState.
    pub fn remote_state(&self) -> SessionState {
        self.remote_state
    }

    /// bfd.LocalDiscr.
    pub fn local_disc(&self) -> u32 {
        self.local_disc
    }

    /// bfd.RemoteDiscr (0 while unknown).
    pub fn remote_disc(&self) -> u32 {
        self.remote_disc
    }

    /// bfd.LocalDiag.
    pub fn diag(&self) -> Diag {
        self.local_diag
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    /// When the state last changed.
    pub fn since(&self) -> Instant {
        self.since
    }

    /// Packet counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The interval between our packets before jitter (§6.8.7): the larger of ours in use
    /// and the peer's Required Min RX.
    pub fn tx_interval(&self) -> Duration {
        Duration::from_micros(u64::from(self.tx_in_use.max(self.remote_min_rx)))
    }

    /// The Detection Time (§6.8.4): the peer's Detect Mult times the larger of our
    /// Required Min RX and its Desired Min TX; `None` before the peer is heard.
    pub fn detection_time(&self) -> Option<Duration> {
        (self.remote_detect_mult != 0).then(|| {
            let rx = us(self.cfg.required_min_rx).max(self.remote_desired_tx);
            Duration::from_micros(u64::from(rx) * u64::from(self.remote_detect_mult))
        })
    }

    /// The next instant [`tick`](Self::tick) has work.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.next_tx, self.detect_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A received packet, already checked by [`ControlPacket::decode`] and matched to this
    /// session (RFC 5880 §6.8.6, from "set bfd.RemoteDiscr" on).
    pub fn receive(&mut self, p: &ControlPacket, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        if self.state == SessionState::AdminDown {
            return out;
        }
        self.counters.received += 1;
        self.remote_disc = p.my_disc;
        self.remote_state = p.state;
        self.remote_min_rx = p.required_min_rx;
        self.remote_desired_tx = p.desired_min_tx;
        self.remote_detect_mult = p.detect_mult;
        if p.final_ && self.polling {
            self.polling = false;
            self.tx_in_use = self.desired_tx;
        }
        self.detect_at = self.detection_time().map(|d| now + d);
        let next = match (self.state, p.state) {
            (s, SessionState::AdminDown) if s != SessionState::Down => {
                self.local_diag = Diag::NEIGHBOR_DOWN;
                Some(SessionState::Down)
            }
            (SessionState::Down, SessionState::Down) => Some(SessionState::Init),
            (SessionState::Down, SessionState::Init) => Some(SessionState::Up),
            (SessionState::Init, SessionState::Init | SessionState::Up) => Some(SessionState::Up),
            (SessionState::Up, SessionState::Down) => {
                self.local_diag = Diag::NEIGHBOR_DOWN;
                Some(SessionState::Down)
            }
            _ => None,
        };
        if let Some(to) = next {
            self.set_state(to, now, &mut out);
        }
        // A passive session that has now heard its peer starts transmitting; a shorter
        // interval (ours on going Up, or the peer's Required Min RX) takes effect at once
        // rather than after a packet still timed by the old one (§6.8.3): the peer's
        // Detection Time may already count on it.
        match self.next_tx {
            None => self.next_tx = Some(now),
            Some(t) if t > now + self.tx_interval() => self.next_tx = Some(now + self.jittered()),
            Some(_) => {}
        }
        if p.poll {
            // The Final answers at once, whatever the transmit timer (§6.8.7).
            let mut f = self.packet();
            f.poll = false;
            f.final_ = true;
            self.counters.sent += 1;
            out.push(Output::Send(f));
        }
        out
    }

    /// Work due at `now`: the Detection Time (§6.8.4) and periodic transmission (§6.8.7).
    pub fn tick(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        if self.detect_at.is_some_and(|d| now >= d) {
            self.detect_at = None;
            // §6.8.1: bfd.RemoteDiscr goes back to zero when the Detection Time passes.
            self.remote_disc = 0;
            self.remote_state = SessionState::Down;
            if matches!(self.state, SessionState::Init | SessionState::Up) {
                self.local_diag = Diag::DETECTION_TIME_EXPIRED;
                self.set_state(SessionState::Down, now, &mut out);
            }
        }
        if self.next_tx.is_some_and(|t| now >= t) {
            self.next_tx = Some(now + self.jittered());
            let silent = (self.cfg.passive && self.remote_disc == 0) || self.remote_min_rx == 0;
            if !silent {
                self.counters.sent += 1;
                out.push(Output::Send(self.packet()));
            }
        }
        out
    }

    /// Takes the session administratively down (§6.8.16): it sends AdminDown with
    /// diagnostic 7 at once and then periodically, and ignores what it receives.
    pub fn admin_down(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        if self.state != SessionState::AdminDown {
            self.local_diag = Diag::ADMIN_DOWN;
            self.set_state(SessionState::AdminDown, now, &mut out);
            self.detect_at = None;
            // Told at once, then at the usual rate.
            self.counters.sent += 1;
            out.push(Output::Send(self.packet()));
        }
        out
    }

    /// Ends an administrative down: the session starts again from Down.
    pub fn admin_up(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        if self.state == SessionState::AdminDown {
            self.set_state(SessionState::Down, now, &mut out);
            self.next_tx = Some(now);
        }
        out
    }

    /// Changes the timers; a change while Up goes through a Poll Sequence (§6.8.3).
    pub fn reconfigure(&mut self, cfg: SessionConfig, now: Instant) {
        let old = self.cfg;
        self.cfg = cfg;
        let want = self.desired_for(self.state);
        if want != self.desired_tx || us(old.required_min_rx) != us(cfg.required_min_rx) {
            self.change_desired(want);
        }
        // Turned active: it speaks first from now on.
        if !cfg.passive && self.next_tx.is_none() {
            self.next_tx = Some(now);
        }
    }

    fn desired_for(&self, state: SessionState) -> u32 {
        let want = us(self.cfg.desired_min_tx);
        if state == SessionState::Up {
            want
        } else {
            want.max(SLOW_TX_US)
        }
    }

    fn change_desired(&mut self, want: u32) {
        if self.state == SessionState::Up {
            self.polling = true;
            // A decrease takes effect at once, an increase when the Poll Sequence ends.
            self.tx_in_use = self.tx_in_use.min(want);
        } else {
            self.tx_in_use = want;
        }
        self.desired_tx = want;
    }

    fn set_state(&mut self, to: SessionState, now: Instant, out: &mut Vec<Output>) {
        let from = self.state;
        if from == to {
            return;
        }
        if to == SessionState::Up {
            self.counters.up += 1;
            self.local_diag = Diag::NONE;
        } else if from == SessionState::Up {
            self.counters.down += 1;
        }
        self.state = to;
        self.since = now;
        let want = self.desired_for(to);
        if want != self.desired_tx {
            self.change_desired(want);
        }
        if to != SessionState::Up {
            self.polling = false;
            self.tx_in_use = self.desired_tx;
        }
        out.push(Output::StateChange {
            from,
            to,
            diag: self.local_diag,
        });
    }

    /// The interval to the next periodic packet: 75–100% of [`tx_interval`]
    /// (Self::tx_interval), 75–90% with a Detect Mult of 1 (§6.8.7).
    fn jittered(&mut self) -> Duration {
        let top = if self.cfg.detect_mult == 1 { 90 } else { 100 };
        let pct = self.rng.u64(75..=top);
        self.tx_interval() * pct as u32 / 100
    }

    /// The packet our state calls for (§6.8.7).
    fn packet(&self) -> ControlPacket {
        ControlPacket {
            diag: self.local_diag,
            state: self.state,
            poll: self.polling,
            final_: false,
            cpi: false,
            demand: false,
            detect_mult: self.cfg.detect_mult,
            my_disc: self.local_disc,
            your_disc: self.remote_disc,
            desired_min_tx: self.desired_tx,
            required_min_rx: us(self.cfg.required_min_rx),
            required_min_echo_rx: 0,
        }
    }
}

#[cfg(test)]
mod tests;
