//! Graceful restart as the receiving speaker, the "helper" (RFC 4724 §4.2, with the
//! NOTIFICATION rules of RFC 8538 §5): when the session of a peer that announced the
//! capability ends, its routes stay, marked stale, while it restarts; a new session
//! replaces them, and End-of-RIB (or a timer) removes those not sent again.

use std::net::Ipv4Addr;

use bgp_wire::Family;

use super::receive::mark_stale;
use super::{PeerId, Speaker};
use crate::negotiate::Negotiated;

/// The GR capability flag saying the speaker understands RFC 8538 (N bit).
const N_BIT: u8 = 0x4;

/// What is kept of a peer whose routes are retained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retained {
    /// The families whose routes are kept.
    pub families: Vec<Family>,
    /// The session was eBGP (for the decision process and the advertisement rules).
    pub external: bool,
    /// The peer's BGP identifier.
    pub peer_id: Ipv4Addr,
    /// The restart time the peer announced, in seconds.
    pub restart_time: u16,
}

/// How a session ended, as graceful restart sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The connection failed or closed, or the hold timer expired.
    Transport,
    /// A NOTIFICATION was sent or received (`hard_reset`: Cease/Hard Reset, RFC 8538 §3).
    Notification {
        /// Cease subcode 9.
        hard_reset: bool,
    },
    /// The operator or the configuration ended it (reset, shutdown, removal).
    Admin,
}

/// The families whose routes to keep when a session ends so (empty: flush all).
fn retained_families(enabled: bool, n: &Negotiated, end: SessionEnd) -> Vec<Family> {
    let Some((flags, _, families)) = n.peer_graceful_restart.as_ref().filter(|_| enabled) else {
        return Vec::new();
    };
    let keep = match end {
        SessionEnd::Transport => true,
        // Without the N bit on both sides, a NOTIFICATION ends graceful restart.
        SessionEnd::Notification { hard_reset } => !hard_reset && flags & N_BIT != 0,
        SessionEnd::Admin => false,
    };
    if !keep {
        return Vec::new();
    }
    families
        .iter()
        .map(|f| f.family)
        .filter(|f| n.families.contains(f))
        .collect()
}

impl Speaker {
    /// A session left Established. If the peer can restart gracefully, its routes of the
    /// families it listed are kept, marked stale, and its restart time is returned: the
    /// caller calls [`flush_stale`](Self::flush_stale) if no new session is up by then.
    /// Otherwise they are withdrawn ([`peer_down`](Self::peer_down)).
    pub fn peer_down_graceful(&mut self, id: PeerId, end: SessionEnd) -> Option<u16> {
        let p = self.peer(id)?;
        let s = p.session.as_ref()?;
        let families = retained_families(p.spec.graceful_restart, &s.negotiated, end);
        if families.is_empty() {
            self.peer_down(id);
            return None;
        }
        let restart_time = s
            .negotiated
            .peer_graceful_restart
            .as_ref()
            .map_or(0, |g| g.1);
        let others: Vec<Family> = s
            .negotiated
            .families
            .iter()
            .copied()
            .filter(|f| !families.contains(f))
            .collect();
        let retained = Retained {
            families: families.clone(),
            external: s.negotiated.is_external(),
            peer_id: s.negotiated.peer_id,
            restart_time,
        };
        let p = self.peer_mut(id)?;
        let s = p.session.take()?;
        p.retained = Some(retained);
        self.leave_group(id, s.out.group);
        for f in others {
            let (touched, _) = self.rib.remove_peer_counted(id, Some(f), |_| true);
            self.dirty.extend(touched);
        }
        if families.contains(&Family::IPV4_UNICAST) {
            for (_, d) in self.rib.v4.iter_mut() {
                mark_stale(d, id);
            }
        }
        if families.contains(&Family::IPV6_UNICAST) {
            for (_, d) in self.rib.v6.iter_mut() {
                mark_stale(d, id);
            }
        }
        self.epoch += 1;
        self.run_decisions();
        Some(restart_time)
    }

    /// Removes the peer's paths still marked stale (its restart or stale timer expired).
    pub fn flush_stale(&mut self, id: PeerId) {
        if let Some(p) = self.peer_mut(id) {
            p.retained = None;
        }
        for f in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
            self.sweep_stale(id, f);
        }
        self.epoch += 1;
        self.run_decisions();
    }

    /// Whether the peer has routes kept from a previous session.
    pub fn has_stale(&self, id: PeerId) -> bool {
        self.peer(id).is_some_and(|p| p.retained.is_some())
    }

    /// A new session of a restarting peer: the kept routes of families whose forwarding
    /// state the peer did not preserve (F bit, RFC 4724 §4.2) go now; the others wait for
    /// its End-of-RIB.
    pub(super) fn restart_up(&mut self, id: PeerId, n: &Negotiated) {
        let Some(r) = self.peer_mut(id).and_then(|p| p.retained.take()) else {
            return;
        };
        let preserved: Vec<Family> = n
            .peer_graceful_restart
            .as_ref()
            .map(|(_, _, fams)| {
                fams.iter()
                    .filter(|f| f.forwarding_preserved())
                    .map(|f| f.family)
                    .collect()
            })
            .unwrap_or_default();
        for f in r.families {
            if !preserved.contains(&f) || !n.families.contains(&f) {
                self.sweep_stale(id, f);
            }
        }
        self.epoch += 1;
        self.run_decisions();
    }
}

#[cfg(test)]
mod tests;
