//! The BGP finite state machine of RFC 4271 §8, as a sans-IO core.
//!
//! One [`Fsm`] per TCP connection. The driver (a tokio task) turns socket and timer happenings
//! into [`Event`]s named after RFC 4271 §8.1 and carries out the [`Action`]s the FSM returns:
//! connect, send, start or stop a timer, close. The FSM itself does no I/O and reads no clock,
//! so every transition is tested without sockets or time.

use std::fmt;

use bgp_wire::notification::{cease, codes};
use bgp_wire::{Notification, Open};

use crate::negotiate::{negotiate, Negotiated, SessionParams};

/// FSM states (RFC 4271 §8.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum State {
    /// Refuses connections.
    Idle,
    /// Waiting for our TCP connection to complete.
    Connect,
    /// Listening for the peer's TCP connection.
    Active,
    /// OPEN sent, waiting for the peer's.
    OpenSent,
    /// OPENs exchanged, waiting for a KEEPALIVE.
    OpenConfirm,
    /// Exchanging routes.
    Established,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        })
    }
}

/// The FSM timers (RFC 4271 §8.2.1.3, §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// ConnectRetryTimer.
    ConnectRetry,
    /// HoldTimer.
    Hold,
    /// KeepaliveTimer.
    Keepalive,
    /// BfdHoldTimer: how long a session with a negotiated hold time of zero waits for
    /// BFD in strict mode (draft-ietf-idr-bgp-bfd-strict-mode §3).
    BfdHold,
}

/// FSM events, named and numbered as in RFC 4271 §8.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Event 1: ManualStart (or Event 5, with passive TCP establishment, if configured).
    ManualStart,
    /// Event 2: ManualStop, with the NOTIFICATION to send if connected (default Cease /
    /// Administrative Shutdown).
    ManualStop(Option<Notification>),
    /// Event 3: AutomaticStart.
    AutomaticStart,
    /// Event 9: ConnectRetryTimer_Expires.
    ConnectRetryTimerExpires,
    /// Event 10: HoldTimer_Expires.
    HoldTimerExpires,
    /// Event 11: KeepaliveTimer_Expires.
    KeepaliveTimerExpires,
    /// Event 16: Tcp_CR_Acked (our connection completed).
    TcpCrAcked,
    /// Event 17: TcpConnectionConfirmed (the peer's connection was accepted).
    TcpConnectionConfirmed,
    /// Event 18: TcpConnectionFails.
    TcpConnectionFails,
    /// Event 19: BGPOpen.
    BgpOpen(Open),
    /// Event 21: BGPHeaderErr, with the NOTIFICATION to send.
    BgpHeaderErr(Notification),
    /// Event 22: BGPOpenMsgErr, with the NOTIFICATION to send.
    BgpOpenMsgErr(Notification),
    /// Event 23: OpenCollisionDump.
    OpenCollisionDump,
    /// Events 24/25: NotifMsgVerErr / NotifMsg.
    NotifMsg(Notification),
    /// Event 26: KeepAliveMsg.
    KeepAliveMsg,
    /// Event 27: UpdateMsg (the content is handled by the speaker).
    UpdateMsg,
    /// Event 28: UpdateMsgErr, with the NOTIFICATION to send.
    UpdateMsgErr(Notification),
    /// A ROUTE-REFRESH message (RFC 2918; counts as an UpdateMsg for the hold timer).
    RouteRefreshMsg,
    /// Event 32 of draft-ietf-idr-bgp-bfd-strict-mode §4, BfdUp; also Events 30
    /// (BfdAdminDown) and 33 (BfdDisabled), which release a session waiting for BFD the
    /// same way (§8.5.1).
    BfdUp,
    /// Event 31: BfdDown.
    BfdDown,
    /// Event 34: BfdHoldTimerExpires.
    BfdHoldTimerExpires,
}

/// The sub-states of OpenSent that wait for BFD in strict mode
/// (draft-ietf-idr-bgp-bfd-strict-mode §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum BfdPending {
    /// OpenSentBfdUpPending: the peer's OPEN is accepted, our KEEPALIVE waits for BFD.
    Open,
    /// OpenSentConfirmedBfdUpPending: the peer's KEEPALIVE came too; BFD Up makes the
    /// session Established.
    Confirmed,
}

impl BfdPending {
    /// The sub-state's name as `show bgp neighbors` prints it.
    pub fn name(self) -> &'static str {
        match self {
            BfdPending::Open => "open-sent-bfd-up-pending",
            BfdPending::Confirmed => "open-sent-confirmed-bfd-up-pending",
        }
    }
}

/// The BFD hold time by default: 30 s (draft-ietf-idr-bgp-bfd-strict-mode §3).
pub const BFD_HOLD_TIME: u32 = 30;

/// Why a connection went back to Idle.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DownReason {
    /// We sent this NOTIFICATION (hold timer, errors, shutdown, collision).
    NotificationSent {
        /// The NOTIFICATION.
        #[serde(serialize_with = "ser_notif")]
        notification: Notification,
    },
    /// The peer sent this NOTIFICATION.
    NotificationReceived {
        /// The NOTIFICATION.
        #[serde(serialize_with = "ser_notif")]
        notification: Notification,
    },
    /// The TCP connection failed or closed.
    ConnectionFailed,
    /// Stopped by the operator before a connection existed.
    AdminStop,
}

fn ser_notif<S: serde::Serializer>(n: &Notification, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(n)
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownReason::NotificationSent { notification } => write!(f, "sent {notification}"),
            DownReason::NotificationReceived { notification } => {
                write!(f, "received {notification}")
            }
            DownReason::ConnectionFailed => f.write_str("TCP connection closed or failed"),
            DownReason::AdminStop => f.write_str("stopped by the operator"),
        }
    }
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Initiate a TCP connection to the peer.
    Connect,
    /// Close the TCP connection (after sending anything queued).
    Disconnect,
    /// Send our OPEN.
    SendOpen(Open),
    /// Send a KEEPALIVE.
    SendKeepalive,
    /// Send a NOTIFICATION.
    SendNotification(Notification),
    /// (Re)start a timer for this many seconds (the driver adds the jitter of RFC 4271
    /// §10 to ConnectRetry and Keepalive).
    StartTimer(Timer, u32),
    /// Stop a timer.
    StopTimer(Timer),
    /// The peer's OPEN was accepted: the driver checks for connection collisions
    /// (RFC 4271 §6.8) and may answer with [`Event::OpenCollisionDump`].
    OpenAccepted(Box<Negotiated>),
    /// The session reached Established.
    Established(Box<Negotiated>),
    /// The connection went back to Idle; `was_established` says whether routes were
    /// exchanged (and must now be flushed).
    Down {
        /// Why.
        reason: DownReason,
        /// Whether the session had been Established.
        was_established: bool,
    },
}

/// The hold time used before OPENs are exchanged (RFC 4271 §8.2.2 suggests 4 minutes).
pub const LARGE_HOLD_TIME: u32 = 240;

/// The FSM of one connection.
#[derive(Debug, Clone)]
pub struct Fsm {
    params: SessionParams,
    passive: bool,
    connect_retry: u32,
    state: State,
    negotiated: Option<Box<Negotiated>>,
    connect_retry_counter: u32,
    /// Connection attempts failed in a row (reset when Established): the retry after a
    /// failure waits 1, 2, 4, … seconds up to ConnectRetryTime.
    failures: u32,
    /// bfd.SessionState is Up or AdminDown, or BFD is not in use: nothing to wait for.
    bfd_up: bool,
    /// Waiting for BFD in strict mode.
    pending: Option<BfdPending>,
    /// BfdHoldTime in seconds.
    bfd_hold_time: u32,
}

impl Fsm {
    /// An FSM in Idle. `passive` waits for the peer to connect (Event 5 semantics);
    /// `connect_retry` is the ConnectRetryTime in seconds.
    pub fn new(params: SessionParams, passive: bool, connect_retry: u32) -> Self {
        Fsm {
            params,
            passive,
            connect_retry,
            state: State::Idle,
            negotiated: None,
            connect_retry_counter: 0,
            failures: 0,
            bfd_up: true,
            pending: None,
            bfd_hold_time: BFD_HOLD_TIME,
        }
    }

    /// The FSM of a session that uses BFD: `up` is the BFD session's state now (Up or
    /// AdminDown), `hold_time` the BfdHoldTime in seconds. Only matters in strict mode
    /// ([`SessionParams::bfd_strict`]).
    pub fn with_bfd(mut self, up: bool, hold_time: u32) -> Self {
        self.bfd_up = up;
        self.bfd_hold_time = hold_time;
        self
    }

    /// Whether the BFD session is Up (or AdminDown, or BFD is not used).
    pub fn bfd_up(&self) -> bool {
        self.bfd_up
    }

    /// The OpenSent sub-state waiting for BFD, if any.
    pub fn bfd_pending(&self) -> Option<BfdPending> {
        self.pending
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// What was negotiated, once the peer's OPEN was accepted.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_deref()
    }

    /// How many times the connection was retried since the last start.
    pub fn connect_retry_counter(&self) -> u32 {
        self.connect_retry_counter
    }

    /// The parameters this FSM proposes.
    pub fn params(&self) -> &SessionParams {
        &self.params
    }

    /// Processes one event, appending the resulting actions to `out`.
    pub fn handle(&mut self, event: Event, out: &mut Vec<Action>) {
        use Event as E;
        use State as S;
        match event {
            E::BfdUp => self.bfd_up = true,
            E::BfdDown => self.bfd_up = false,
            _ => {}
        }
        let strict = self.negotiated.as_ref().is_some_and(|n| n.bfd_strict);
        match (self.state, event) {
            // ---- Idle (§8.2.2: all other events are ignored) ----
            (S::Idle, E::ManualStart | E::AutomaticStart) => {
                self.connect_retry_counter = 0;
                out.push(Action::StartTimer(Timer::ConnectRetry, self.connect_retry));
                if self.passive {
                    self.state = S::Active;
                } else {
                    out.push(Action::Connect);
                    self.state = S::Connect;
                }
            }
            (S::Idle, _) => {}

            // ---- Connect and Active ----
            (S::Connect | S::Active, E::ManualStop(_)) => {
                out.push(Action::StopTimer(Timer::ConnectRetry));
                out.push(Action::Disconnect);
                self.go_idle(DownReason::AdminStop, out);
            }
            (S::Connect, E::ConnectRetryTimerExpires) => {
                self.connect_retry_counter += 1;
                out.push(Action::Disconnect);
                out.push(Action::StartTimer(Timer::ConnectRetry, self.connect_retry));
                out.push(Action::Connect);
            }
            (S::Active, E::ConnectRetryTimerExpires) => {
                self.connect_retry_counter += 1;
                out.push(Action::StartTimer(Timer::ConnectRetry, self.connect_retry));
                if !self.passive {
                    out.push(Action::Connect);
                    self.state = S::Connect;
                }
            }
            (S::Connect | S::Active, E::TcpCrAcked | E::TcpConnectionConfirmed) => {
                out.push(Action::StopTimer(Timer::ConnectRetry));
                self.send_open(out);
            }
            (S::Connect | S::Active, E::TcpConnectionFails) => {
                let wait = self.backoff();
                out.push(Action::StartTimer(Timer::ConnectRetry, wait));
                self.state = S::Active;
            }
            (S::Connect | S::Active, E::ManualStart | E::AutomaticStart) => {}
            // No DelayOpen here, so BFD has nothing to release yet (§8.3, §8.4).
            (S::Connect | S::Active, E::BfdUp | E::BfdDown | E::BfdHoldTimerExpires) => {}
            (S::Connect | S::Active, _) => {
                // Messages cannot arrive without a connection: an FSM error (§8.2.2).
                out.push(Action::Disconnect);
                self.go_idle(DownReason::ConnectionFailed, out);
            }

            // ---- OpenSent ----
            (S::OpenSent, E::BgpOpen(_)) if self.pending.is_some() => {
                // A second OPEN while waiting for BFD (§8.5.5).
                self.fail(Notification::new(codes::FSM, 1, vec![]), out);
            }
            (S::OpenSent, E::BgpOpen(open)) => match negotiate(&self.params, &open) {
                Ok(n) if n.bfd_strict && !self.bfd_up => {
                    // §8.5.5: no KEEPALIVE before BFD is Up.
                    if n.hold_time > 0 {
                        out.push(Action::StartTimer(Timer::Hold, u32::from(n.hold_time)));
                    } else {
                        out.push(Action::StopTimer(Timer::Hold));
                        out.push(Action::StartTimer(Timer::BfdHold, self.bfd_hold_time));
                    }
                    let n = Box::new(n);
                    self.negotiated = Some(n.clone());
                    out.push(Action::OpenAccepted(n));
                    self.pending = Some(BfdPending::Open);
                }
                Ok(n) => {
                    out.push(Action::SendKeepalive);
                    if n.hold_time > 0 {
                        out.push(Action::StartTimer(Timer::Keepalive, u32::from(n.keepalive)));
                        out.push(Action::StartTimer(Timer::Hold, u32::from(n.hold_time)));
                    } else {
                        out.push(Action::StopTimer(Timer::Hold));
                    }
                    let n = Box::new(n);
                    self.negotiated = Some(n.clone());
                    out.push(Action::OpenAccepted(n));
                    self.state = S::OpenConfirm;
                }
                Err(notification) => self.fail(notification, out),
            },
            (S::OpenSent, E::KeepAliveMsg) if self.pending.is_some() => {
                // §8.5.6: the peer's BFD came up first.
                self.restart_hold(out);
                self.pending = Some(BfdPending::Confirmed);
            }
            (S::OpenSent, E::BfdUp) => {
                // §8.5.1.
                if let Some(p) = self.pending.take() {
                    out.push(Action::SendKeepalive);
                    if let Some(n) = &self.negotiated {
                        if n.hold_time > 0 {
                            out.push(Action::StartTimer(Timer::Keepalive, u32::from(n.keepalive)));
                        }
                    }
                    out.push(Action::StopTimer(Timer::BfdHold));
                    match p {
                        BfdPending::Open => self.state = S::OpenConfirm,
                        BfdPending::Confirmed => {
                            self.restart_hold(out);
                            self.establish(out);
                        }
                    }
                }
            }
            (S::OpenSent | S::OpenConfirm, E::BfdDown) if strict => {
                // §8.5.2, §8.6.2.
                self.fail(
                    Notification::new(codes::CEASE, cease::BFD_DOWN, vec![]),
                    out,
                );
            }
            (S::OpenSent, E::BfdHoldTimerExpires) if self.pending.is_some() => {
                // §8.5.3.
                self.fail(
                    Notification::new(codes::CEASE, cease::BFD_DOWN, vec![]),
                    out,
                );
            }
            // Otherwise BFD changes nothing here (§8.2–§8.7); a BFD failure of an
            // Established session is the speaker's to act on (RFC 5882 §10.2).
            (_, E::BfdUp | E::BfdDown | E::BfdHoldTimerExpires) => {}
            (S::OpenSent, E::TcpConnectionFails) => {
                out.push(Action::Disconnect);
                let wait = self.backoff();
                out.push(Action::StartTimer(Timer::ConnectRetry, wait));
                self.state = S::Active;
            }

            // ---- OpenConfirm ----
            (S::OpenConfirm, E::KeepAliveMsg) => {
                self.restart_hold(out);
                self.establish(out);
            }

            // ---- Established ----
            (S::Established, E::UpdateMsg | E::RouteRefreshMsg | E::KeepAliveMsg) => {
                self.restart_hold(out);
            }
            (S::Established, E::UpdateMsgErr(n)) => self.fail(n, out),

            // ---- Shared by OpenSent, OpenConfirm and Established ----
            (S::OpenConfirm | S::Established, E::KeepaliveTimerExpires) => {
                out.push(Action::SendKeepalive);
                if let Some(n) = &self.negotiated {
                    out.push(Action::StartTimer(Timer::Keepalive, u32::from(n.keepalive)));
                }
            }
            (S::OpenSent | S::OpenConfirm | S::Established, E::HoldTimerExpires) => {
                self.fail(Notification::new(codes::HOLD_TIMER_EXPIRED, 0, vec![]), out);
            }
            (S::OpenSent | S::OpenConfirm | S::Established, E::ManualStop(n)) => {
                let n = n.unwrap_or_else(|| {
                    Notification::new(codes::CEASE, cease::ADMIN_SHUTDOWN, vec![])
                });
                self.fail(n, out);
            }
            (S::OpenSent | S::OpenConfirm | S::Established, E::OpenCollisionDump) => {
                let n = Notification::new(codes::CEASE, cease::CONNECTION_COLLISION, vec![]);
                self.fail(n, out);
            }
            (
                S::OpenSent | S::OpenConfirm | S::Established,
                E::BgpHeaderErr(n) | E::BgpOpenMsgErr(n),
            ) => self.fail(n, out),
            (S::OpenSent | S::OpenConfirm | S::Established, E::NotifMsg(n)) => {
                out.push(Action::Disconnect);
                self.go_idle(DownReason::NotificationReceived { notification: n }, out);
            }
            (S::OpenConfirm | S::Established, E::TcpConnectionFails) => {
                out.push(Action::Disconnect);
                self.go_idle(DownReason::ConnectionFailed, out);
            }
            (S::OpenSent | S::OpenConfirm | S::Established, E::ManualStart | E::AutomaticStart) => {
            }
            (S::OpenSent | S::OpenConfirm | S::Established, E::ConnectRetryTimerExpires) => {}
            (
                S::OpenSent | S::OpenConfirm | S::Established,
                E::TcpCrAcked | E::TcpConnectionConfirmed,
            ) => {
                // A second connection is the driver's (collision handling); not ours.
            }
            (S::OpenSent, E::KeepaliveTimerExpires) => {}
            // Anything else is a message the state does not allow: FSM error (RFC 6608).
            (state, _) => {
                let sub = match state {
                    S::OpenSent => 1,
                    S::OpenConfirm => 2,
                    _ => 3,
                };
                self.fail(Notification::new(codes::FSM, sub, vec![]), out);
            }
        }
    }

    fn establish(&mut self, out: &mut Vec<Action>) {
        self.state = State::Established;
        self.failures = 0;
        if let Some(n) = &self.negotiated {
            out.push(Action::Established(n.clone()));
        }
    }

    fn send_open(&mut self, out: &mut Vec<Action>) {
        out.push(Action::SendOpen(self.params.open()));
        out.push(Action::StartTimer(Timer::Hold, LARGE_HOLD_TIME));
        self.state = State::OpenSent;
    }

    fn restart_hold(&self, out: &mut Vec<Action>) {
        if let Some(n) = &self.negotiated {
            if n.hold_time > 0 {
                out.push(Action::StartTimer(Timer::Hold, u32::from(n.hold_time)));
            }
        }
    }

    /// Sends a NOTIFICATION, closes and goes to Idle.
    /// The wait before the next attempt after a failed connection: 1, 2, 4, … seconds up
    /// to ConnectRetryTime, so that a peer that refused a first connection (still
    /// starting, not configured yet) is tried again soon (RFC 4271 §8 leaves the value to
    /// the implementation; §10 suggests 120 s as the steady interval).
    fn backoff(&mut self) -> u32 {
        let wait = 1u32
            .checked_shl(self.failures)
            .unwrap_or(u32::MAX)
            .min(self.connect_retry.max(1));
        self.failures = self.failures.saturating_add(1);
        wait
    }

    fn fail(&mut self, notification: Notification, out: &mut Vec<Action>) {
        out.push(Action::SendNotification(notification.clone()));
        out.push(Action::Disconnect);
        self.go_idle(DownReason::NotificationSent { notification }, out);
    }

    fn go_idle(&mut self, reason: DownReason, out: &mut Vec<Action>) {
        let was_established = self.state == State::Established;
        for t in [
            Timer::ConnectRetry,
            Timer::Hold,
            Timer::Keepalive,
            Timer::BfdHold,
        ] {
            out.push(Action::StopTimer(t));
        }
        self.state = State::Idle;
        self.negotiated = None;
        self.pending = None;
        out.push(Action::Down {
            reason,
            was_established,
        });
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod strict_tests;
