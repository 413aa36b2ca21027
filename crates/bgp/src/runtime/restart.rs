//! Graceful restart in the runtime (RFC 4724): the helper's restart and stale timers, the
//! restarting speaker's deferral of its first advertisements, and a shutdown that lets
//! peers keep our routes.

use std::time::{Duration, Instant};

use bgp_wire::notification::{cease, codes};
use bgp_wire::Notification;
use tracing::info;

use super::session::ToSession;
use super::{Actor, Control};
use crate::fsm::DownReason;
use crate::negotiate::GracefulRestart;
use crate::rib::table::PeerId;
use crate::speaker::restart::SessionEnd;

/// Which graceful-restart timer fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GrTimer {
    /// The peer did not come back within its restart time.
    Restart,
    /// The peer came back but did not refresh everything within the stale time.
    Stale,
}

/// The GR view of why a session ended.
fn session_end(reason: &DownReason) -> SessionEnd {
    let hard = |n: &Notification| n.code == codes::CEASE && n.subcode == cease::HARD_RESET;
    match reason {
        DownReason::ConnectionFailed => SessionEnd::Transport,
        DownReason::NotificationReceived { notification } => SessionEnd::Notification {
            hard_reset: hard(notification),
        },
        DownReason::NotificationSent { notification } => {
            if notification.code == codes::HOLD_TIMER_EXPIRED {
                SessionEnd::Transport
            } else if notification.code == codes::CEASE
                && matches!(
                    notification.subcode,
                    cease::ADMIN_SHUTDOWN
                        | cease::PEER_DECONFIGURED
                        | cease::ADMIN_RESET
                        | cease::OTHER_CONFIG_CHANGE
                )
            {
                // Our own decision: the routes go.
                SessionEnd::Admin
            } else {
                SessionEnd::Notification {
                    hard_reset: hard(notification),
                }
            }
        }
        DownReason::AdminStop => SessionEnd::Admin,
    }
}

impl Actor {
    /// The graceful-restart capability we announce: restarting (R) when routes of a
    /// previous run were found in the kernel, forwarding preserved (F) when we write the
    /// kernel.
    pub(super) fn graceful_restart_params(&self) -> Option<GracefulRestart> {
        let gr = &self.cfg.router.graceful_restart;
        gr.enabled.then(|| GracefulRestart {
            restart_time: gr.restart_time,
            restarting: self.restarting.is_some(),
            forwarding_preserved: !self.options.no_fib,
        })
    }

    /// A session left Established: its routes go, or stay as stale while the peer
    /// restarts.
    pub(super) fn session_down(&mut self, id: PeerId, reason: &DownReason) {
        let end = session_end(reason);
        if let Some(secs) = self.speaker.peer_down_graceful(id, end) {
            info!(peer = ?self.peers.get(&id).map(|p| p.cfg.key()), secs, "routes kept as stale while the peer restarts (RFC 4724)");
            self.start_gr_timer(id, GrTimer::Restart, Duration::from_secs(secs.into()));
        }
    }

    /// A session reached Established: if stale routes remain, they have until the stale
    /// time to be sent again.
    pub(super) fn session_up(&mut self, id: PeerId) {
        if self.peers.contains_key(&id) {
            let stale = Duration::from_secs(self.cfg.router.graceful_restart.stale_time.into());
            self.start_gr_timer(id, GrTimer::Stale, stale);
        }
    }

    fn start_gr_timer(&mut self, id: PeerId, kind: GrTimer, after: Duration) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        p.gr_generation += 1;
        let generation = p.gr_generation;
        let ctl = self.ctl.clone();
        self.handle.spawn(async move {
            tokio::time::sleep(after).await;
            let _ = ctl.send(Control::GrTimer(id, kind, generation)).await;
        });
    }

    pub(super) fn gr_timer(&mut self, id: PeerId, kind: GrTimer, generation: u64) {
        let Some(p) = self.peers.get(&id) else { return };
        if p.gr_generation != generation {
            return;
        }
        let established = self.speaker.peer(id).is_some_and(|p| p.session.is_some());
        if kind == GrTimer::Restart && established {
            return;
        }
        info!(peer = %p.cfg.key(), ?kind, "graceful restart timer expired: stale routes removed");
        self.speaker.flush_stale(id);
    }

    /// While restarting, our first advertisements wait until every peer sent its
    /// End-of-RIB, or the restart time passed (RFC 4724 §4.1), so that peers do not
    /// drop our routes for an incomplete table.
    pub(super) fn deferring(&mut self) -> bool {
        let Some(until) = self.restarting else {
            return false;
        };
        if Instant::now() >= until || self.speaker.all_peers_synced() {
            info!("restart: every peer sent End-of-RIB (or the restart time passed): advertising");
            self.restarting = None;
            return false;
        }
        true
    }

    /// The NOTIFICATION of a deliberate reset (clear, shutdown, removal): wrapped in a Hard
    /// Reset when both sides set the N bit, so the peer does not keep our routes
    /// (RFC 8538 §3, §5).
    pub(super) fn admin_notification(&self, id: PeerId, n: Notification) -> Notification {
        let n_bits = self.cfg.router.graceful_restart.enabled
            && self
                .speaker
                .peer(id)
                .and_then(|x| x.session.as_ref())
                .and_then(|s| s.negotiated.peer_graceful_restart.as_ref())
                .is_some_and(|g| g.0 & 0x4 != 0);
        if n_bits {
            Notification::hard_reset(&n)
        } else {
            n
        }
    }

    /// Stops every session on shutdown. With graceful restart, peers that understand
    /// RFC 8538 get a Cease they keep our routes through; the others see the connection
    /// close, as in a crash, and keep them too.
    pub(super) fn shutdown_sessions(&mut self) {
        let gr = self.cfg.router.graceful_restart.enabled;
        let n = Notification::new(codes::CEASE, cease::ADMIN_SHUTDOWN, vec![]);
        for (id, p) in &self.peers {
            let peer_gr = self
                .speaker
                .peer(*id)
                .and_then(|x| x.session.as_ref())
                .and_then(|s| s.negotiated.peer_graceful_restart.as_ref())
                .map(|g| g.0 & 0x4 != 0);
            match (gr, peer_gr) {
                (true, Some(false)) => {
                    let _ = p.tx.try_send(ToSession::ExitSilently);
                }
                _ => {
                    let _ = p.tx.try_send(ToSession::Stop(Some(n.clone())));
                    let _ = p.tx.try_send(ToSession::Exit);
                }
            }
        }
    }
}
