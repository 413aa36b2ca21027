//! Output to the sessions: each session with credit (its last batch written) is handed
//! its next batch of UPDATEs, and the MinRouteAdvertisementInterval (RFC 4271 §9.2.1.1)
//! paces the changes.
//!
//! The MRAI limits how often a destination's change is advertised to a peer, not how fast
//! the peer is fed: at most once per interval (jittered, RFC 4271 §10) the changes logged
//! so far are released, and what is released, like every table walk (session start, route
//! refresh), is sent as fast as the socket drains. Changes logged meanwhile wait for the
//! next interval, where only a destination's latest state is sent.

use std::time::{Duration, Instant};

use super::Actor;
use crate::rib::table::PeerId;
use crate::speaker::Fill;

/// Most bytes handed to a session per round; the next round starts when they are written.
pub(super) const FILL_BUDGET: usize = 256 * 1024;
/// Fewest bytes handed to a session per round (a few full-size UPDATEs).
const FILL_MIN: usize = 16 * 1024;
/// Bytes in flight to all sessions together: with many sessions each round is smaller, so
/// that a route reflector feeding 5,000 clients holds tens of MB of output, not 1.3 GB.
const FILL_TOTAL: usize = 32 * 1024 * 1024;

/// The round size for one of `sessions` sessions.
pub(super) fn fill_budget(sessions: usize) -> usize {
    (FILL_TOTAL / sessions.max(1)).clamp(FILL_MIN, FILL_BUDGET)
}

/// The MRAI interval jittered by a factor between 0.75 and 1 (RFC 4271 §10); `draw` is in
/// [0, 1).
pub(super) fn jittered(mrai: Duration, draw: f64) -> Duration {
    mrai.mul_f64(0.75 + draw.clamp(0.0, 1.0) * 0.25)
}

impl Actor {
    /// Hands every session with credit its next batch of UPDATEs, releasing the changes
    /// of each paced peer whose interval is over.
    pub(super) fn pump(&mut self) {
        if self.deferring() {
            return;
        }
        let now = Instant::now();
        let mrai = self.mrai();
        let ids: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.credit)
            .map(|(id, _)| *id)
            .collect();
        let budget = fill_budget(self.peers.len());
        for id in ids {
            if !mrai.is_zero() {
                let due = self
                    .peers
                    .get(&id)
                    .is_some_and(|p| p.next_send.is_none_or(|t| t <= now));
                if due && self.speaker.release(id) {
                    if let Some(p) = self.peers.get_mut(&id) {
                        p.next_send = Some(now + jittered(mrai, fastrand::f64()));
                    }
                }
            }
            if !self.speaker.has_pending(id) {
                continue;
            }
            let mut buf = Vec::with_capacity(budget + 4096);
            let _more: Fill = self.speaker.fill(id, budget, &mut buf);
            if buf.is_empty() {
                continue;
            }
            if let Some(p) = self.peers.get_mut(&id) {
                match p.tx.try_send(super::session::ToSession::Send(buf)) {
                    Ok(()) => p.credit = false,
                    Err(e) => {
                        tracing::warn!(peer = %p.cfg.address, %e, "session queue full, output dropped")
                    }
                }
            }
        }
    }

    /// A session came up: with an MRAI its changes are paced from now on (its table walk
    /// is not).
    pub(super) fn pace_new_session(&mut self, id: PeerId) {
        let on = !self.mrai().is_zero();
        self.speaker.pace(id, on);
        if let Some(p) = self.peers.get_mut(&id) {
            p.next_send = None;
        }
    }

    /// After a reload: the MRAI may have been turned on or off.
    pub(super) fn repace_sessions(&mut self) {
        let on = !self.mrai().is_zero();
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            self.speaker.pace(id, on);
            if !on {
                if let Some(p) = self.peers.get_mut(&id) {
                    p.next_send = None;
                }
            }
        }
    }

    /// When the actor must wake up to release held changes: the end of the earliest
    /// interval of a session with changes waiting.
    pub(super) fn next_release(&self) -> Option<Instant> {
        if self.mrai().is_zero() {
            return None;
        }
        self.peers
            .iter()
            .filter(|(_, p)| p.credit)
            .filter_map(|(id, p)| p.next_send.filter(|_| self.speaker.has_held(*id)))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_shrink_with_the_number_of_sessions_between_16_and_256_kib() {
        assert_eq!(fill_budget(0), FILL_BUDGET);
        assert_eq!(fill_budget(2), FILL_BUDGET);
        assert_eq!(fill_budget(128), FILL_BUDGET);
        assert_eq!(fill_budget(512), 64 * 1024);
        assert_eq!(fill_budget(5000), FILL_MIN);
        assert!(fill_budget(5000) * 5000 <= 80 * 1024 * 1024);
    }

    #[test]
    fn the_mrai_is_jittered_between_three_quarters_and_all_of_it() {
        let mrai = Duration::from_secs(4);
        assert_eq!(jittered(mrai, 0.0), Duration::from_secs(3));
        assert_eq!(jittered(mrai, 0.5), Duration::from_millis(3500));
        assert!(jittered(mrai, 0.999_999) <= mrai);
        assert_eq!(jittered(mrai, 7.0), mrai, "out-of-range draws are clamped");
    }
}
