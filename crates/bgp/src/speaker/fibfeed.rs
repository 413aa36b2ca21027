//! The feed of selection changes to the kernel FIB: for each changed prefix, the next hops
//! of its best path and multipath companions, or a withdrawal.

use std::net::SocketAddr;

use bgp_wire::Prefix;

use super::{Change, Speaker};
use crate::rib::attrs::NextHop;
use crate::rib::table::LOCAL_PEER;

/// A next hop to install, with the session it was learned on (whose interface reaches a
/// link-local next hop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FibHop {
    /// The BGP next hop.
    pub next_hop: NextHop,
    /// Our end of the session the path came from.
    pub session_local: Option<SocketAddr>,
}

/// What the FIB should hold for a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FibChange {
    /// Install (or replace) with these next hops: the best path's first, then the
    /// multipath companions.
    Install(Prefix, Vec<FibHop>),
    /// Remove (no path, or only a locally originated one).
    Remove(Prefix),
}

impl Speaker {
    /// Starts recording changes for the FIB and queues every current selection.
    pub fn enable_fib_feed(&mut self) {
        let mut log = std::collections::VecDeque::new();
        for (p, id, d) in self
            .rib
            .v4
            .iter_ids()
            .map(|(p, id, d)| (Prefix::V4(*p), id, d))
            .chain(
                self.rib
                    .v6
                    .iter_ids()
                    .map(|(p, id, d)| (Prefix::V6(*p), id, d)),
            )
        {
            log.push_back(Change::new(d.stamp, id, &p));
        }
        self.fib_log = Some(log);
    }

    /// Queues every current selection again (after the kernel changed under us).
    pub fn resync_fib(&mut self) {
        if self.fib_log.is_some() {
            self.enable_fib_feed();
        }
    }

    /// How many FIB changes are waiting (superseded ones included).
    pub fn fib_backlog(&self) -> usize {
        self.fib_log.as_ref().map_or(0, |l| l.len())
    }

    /// Whether FIB changes are waiting.
    pub fn has_fib_changes(&self) -> bool {
        self.fib_log.as_ref().is_some_and(|l| !l.is_empty())
    }

    /// Takes up to `max` FIB changes (superseded ones skipped).
    pub fn drain_fib(&mut self, max: usize) -> Vec<FibChange> {
        let mut out = Vec::new();
        let Some(log) = self.fib_log.as_mut() else {
            return out;
        };
        while out.len() < max {
            let Some(c) = log.pop_front() else { break };
            let Some((prefix, d)) = self.rib.dest_of_change(&c) else {
                continue;
            };
            if d.stamp != c.seq {
                continue;
            }
            let selected = d.selected();
            if selected.is_empty() || selected[0].peer == LOCAL_PEER {
                out.push(FibChange::Remove(prefix));
                continue;
            }
            let hops = selected
                .iter()
                .filter(|p| p.peer != LOCAL_PEER)
                .map(|p| FibHop {
                    next_hop: self.rib.attrs.get(p.attrs).next_hop,
                    session_local: self
                        .peers
                        .get(usize::from(p.peer))
                        .and_then(|x| x.as_ref())
                        .and_then(|x| x.session.as_ref())
                        .map(|s| s.local),
                })
                .collect();
            out.push(FibChange::Install(prefix, hops));
        }
        out
    }
}
