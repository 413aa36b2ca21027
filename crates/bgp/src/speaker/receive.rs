//! Receiving: UPDATE and ROUTE-REFRESH messages of an Established session into the
//! Adj-RIB-In, with import policy, loop detection and prefix limits.

use std::net::IpAddr;

use bgp_wire::notification::{cease, codes};
use bgp_wire::route_refresh::subtype;
use bgp_wire::{Community, Family, Message, Nlri, Notification, Update};
use tracing::{debug, warn};

use super::{PeerId, Speaker};
use crate::export::group::{Walk, WalkEnd};
use crate::export::rules::{NextHopAction, PolicyResult};
use crate::rib::attrs::{Attrs, NextHop};
use crate::rib::table::{path_flags, Path};

/// What the import side does with a peer's routes.
#[derive(Debug, Clone, Copy)]
enum Import<'a> {
    /// Accept all (no import policy).
    All,
    /// Through this named policy.
    Policy(&'a str),
    /// Keep them, rejected (RFC 8212: an eBGP peer without import policy).
    Nothing,
}
use crate::rib::PathOp;

/// Received messages that end the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiveError {
    /// A malformed message (RFC 4271 §6, RFC 7606).
    #[error("peer {peer}: {detail}")]
    Malformed {
        /// The peer.
        peer: IpAddr,
        /// What was wrong.
        detail: String,
        /// The NOTIFICATION to send.
        notification: Notification,
    },
    /// The prefix limit was exceeded (RFC 4486 Cease subcode 1).
    #[error("peer {peer}: {family} prefix limit {limit} exceeded ({accepted} accepted)")]
    PrefixLimit {
        /// The peer.
        peer: IpAddr,
        /// The family.
        family: Family,
        /// The configured limit.
        limit: u32,
        /// Accepted prefixes.
        accepted: u64,
    },
}

impl ReceiveError {
    /// The NOTIFICATION to send before closing.
    pub fn notification(&self) -> Notification {
        match self {
            ReceiveError::Malformed { notification, .. } => notification.clone(),
            ReceiveError::PrefixLimit { family, limit, .. } => {
                // RFC 4486 §4: AFI, SAFI and the upper bound.
                let mut data = family.afi.0.to_be_bytes().to_vec();
                data.push(family.safi.0);
                data.extend_from_slice(&limit.to_be_bytes());
                Notification::new(codes::CEASE, cease::MAX_PREFIXES, data)
            }
        }
    }
}

fn family_index(f: Family) -> usize {
    usize::from(f == Family::IPV6_UNICAST)
}

impl Speaker {
    /// Processes a buffer of complete messages (UPDATE, ROUTE-REFRESH) received from an
    /// Established peer, then runs the decision process once for everything touched.
    pub fn receive(&mut self, id: PeerId, mut buf: &[u8]) -> Result<(), ReceiveError> {
        let Some(peer) = self.peer(id) else {
            return Ok(());
        };
        let Some(session) = &peer.session else {
            return Ok(());
        };
        let ctx = session.negotiated.rx;
        let address = peer.spec.address;
        let mut result = Ok(());
        while !buf.is_empty() {
            let (msg, len) = match Message::decode(buf, &ctx) {
                Ok(x) => x,
                Err(e) => {
                    result = Err(ReceiveError::Malformed {
                        peer: address,
                        detail: e.to_string(),
                        notification: e
                            .notification()
                            .unwrap_or_else(|| Notification::new(codes::UPDATE_MESSAGE, 0, vec![])),
                    });
                    break;
                }
            };
            match msg {
                Message::Update(u) => self.update(id, &u, &buf[..len]),
                Message::RouteRefresh(rr) => self.route_refresh(id, rr.family, rr.subtype),
                other => debug!(peer = %address, "ignoring {other:?} handed to the RIB"),
            }
            buf = &buf[len..];
        }
        self.run_decisions();
        result.and_then(|()| self.check_limits(id))
    }

    fn update(&mut self, id: PeerId, u: &Update<'_>, raw: &[u8]) {
        let Some(peer) = self.peer_mut(id) else {
            return;
        };
        let Some(session) = &peer.session else { return };
        let families = session.negotiated.families.clone();
        let external = session.negotiated.is_external();
        let peer_asn = session.negotiated.peer_asn;
        let address = peer.spec.address;
        peer.counters.updates_received += 1;
        if !u.issues().is_empty() {
            peer.counters.malformed_updates += 1;
            // RFC 7606 §6: log the problem, the NLRI involved and the whole message.
            let issues: Vec<String> = u.issues().iter().map(|i| i.to_string()).collect();
            let nlri: Vec<String> = u
                .announced()
                .chain(u.withdrawals())
                .map(|(_, n)| n.to_string())
                .collect();
            warn!(peer = %address, ?issues, ?nlri, message = %hex(raw), "malformed UPDATE");
        }
        if let Some(f) = u.end_of_rib() {
            self.end_of_rib(id, f);
            return;
        }
        for (fam, n) in u.withdrawals() {
            if families.contains(&fam) {
                self.drop_path(id, fam, n);
            }
        }
        if u.disposition() == bgp_wire::Disposition::TreatAsWithdraw {
            return; // withdrawals() already listed the announced routes (RFC 7606 §2)
        }
        let base = Attrs::from_update(u);
        let mut sources: Vec<(Family, bgp_wire::NlriIter<'_>, NextHop)> = Vec::with_capacity(2);
        if !u.nlri().is_empty() {
            sources.push((Family::IPV4_UNICAST, u.nlri(), base.next_hop));
        }
        if let Some(m) = u.mp_reach() {
            if let Some(nh) = m.next_hop() {
                sources.push((m.family(), m.nlri(), NextHop::from(nh)));
            }
        }
        if sources.is_empty() {
            return;
        }
        let local_asn = self.peer(id).map_or(self.cfg.asn, |p| p.spec.local_asn);
        let allowas = usize::from(self.peer(id).map_or(0, |p| p.spec.allowas_in));
        let occurrences = |asn: u32| {
            base.as_path
                .segments
                .iter()
                .flat_map(|s| &s.asns)
                .filter(|&&a| a == asn)
                .count()
        };
        // RFC 4271 §9.1.2: a path holding our AS is a loop. With a `local-as` override the
        // router's own AS counts too (as FRR does): a route that went through the rest of
        // our AS must not come back in by the overriding session.
        let looped = occurrences(local_asn) > allowas
            || (local_asn != self.cfg.asn && occurrences(self.cfg.asn) > allowas)
            || base.originator_id == Some(self.cfg.router_id)
            || base.cluster_list.contains(&self.cfg.cluster_id);
        // RFC 7606 §7.2: an eBGP path must start with the peer's AS (FRR's enforce-first-as).
        let bad_first = external
            && base.as_path.segments.first().and_then(|s| s.asns.first()) != Some(&peer_asn);
        if looped || bad_first {
            debug!(peer = %address, looped, bad_first, "UPDATE routes treated as withdrawn");
            for (fam, it, _) in sources {
                for n in it {
                    self.drop_path(id, fam, n);
                }
            }
            return;
        }
        let import = self.peer(id).and_then(|p| p.spec.import.clone());
        // RFC 8212 §3: without import policy, an eBGP peer's routes are kept (and counted
        // as received) but not accepted.
        let withhold = self.cfg.withholds(external, import.as_deref());
        for (fam, it, nh) in sources {
            if !families.contains(&fam) {
                debug!(peer = %address, %fam, "routes of a family not negotiated ignored");
                continue;
            }
            let mut attrs = base.clone();
            attrs.next_hop = nh;
            // RFC 8326 §4.2, as FRR does: a path an eBGP peer marked for graceful shutdown
            // is least preferred (an import policy may still set another LOCAL_PREF).
            if external && attrs.has_community(Community::GRACEFUL_SHUTDOWN) {
                attrs.local_pref = Some(0);
            }
            let import = match &import {
                _ if withhold => Import::Nothing,
                Some(name) => Import::Policy(name),
                None => Import::All,
            };
            self.announce(id, fam, it, attrs, import, address);
        }
    }

    /// The policy routes go through on import, if any.
    fn import_policy(&self, import: Import<'_>) -> Option<&dyn crate::export::rules::RoutePolicy> {
        match import {
            Import::Policy(name) => self.policies.get(name).map(|p| &**p),
            Import::All | Import::Nothing => None,
        }
    }

    /// Stores the routes of one NLRI field with their attributes, through import policy.
    fn announce(
        &mut self,
        id: PeerId,
        fam: Family,
        nlri: bgp_wire::NlriIter<'_>,
        attrs: Attrs,
        import: Import<'_>,
        address: IpAddr,
    ) {
        let fi = family_index(fam);
        // Graceful shutdown (RFC 8326 §4.1, as FRR): an eBGP peer's routes are lowered
        // here too, after import policy.
        let lower = self.peer(id).is_some_and(|p| {
            p.spec.graceful_shutdown
                && p.session
                    .as_ref()
                    .is_some_and(|s| s.negotiated.is_external())
        });
        // Without import policy the set is interned once for all prefixes of the field.
        let shared = match import {
            Import::Nothing => Some((self.rib.attrs.intern(attrs.clone()), path_flags::REJECTED)),
            _ if self.import_policy(import).is_none() => {
                Some((self.rib.attrs.intern(gshut(attrs.clone(), lower)), 0))
            }
            _ => None,
        };
        for n in nlri {
            let (attrs_id, flags) = match shared {
                Some((sid, flags)) => {
                    self.rib.attrs.retain(sid);
                    (sid, flags)
                }
                None => {
                    match self
                        .import_policy(import)
                        .map(|p| p.evaluate(n.prefix, &attrs))
                    {
                        Some(PolicyResult::Accept {
                            attrs: modified,
                            next_hop,
                        }) => {
                            let mut a = modified.map_or_else(|| attrs.clone(), |m| *m);
                            match next_hop {
                                NextHopAction::PeerAddress => a.next_hop = address.into(),
                                NextHopAction::Address(x) => a.next_hop = x.into(),
                                NextHopAction::Unchanged
                                | NextHopAction::Keep
                                | NextHopAction::SelfAddress => {}
                            }
                            (self.rib.attrs.intern(gshut(a, lower)), 0)
                        }
                        Some(PolicyResult::Reject) | None => {
                            (self.rib.attrs.intern(attrs.clone()), path_flags::REJECTED)
                        }
                    }
                }
            };
            let path = Path {
                attrs: attrs_id,
                peer: id,
                flags,
                path_id: n.path_id.unwrap_or(0),
            };
            let old = self.apply(n.prefix, PathOp::Upsert(path));
            if let Some(p) = self.peer_mut(id) {
                if old.is_none() {
                    p.counters.received[fi] += 1;
                }
                let was = old.is_some_and(|o| o.is_eligible());
                let now = path.is_eligible();
                if now && !was {
                    p.counters.accepted[fi] += 1;
                } else if was && !now {
                    p.counters.accepted[fi] -= 1;
                }
            }
        }
        if let Some((sid, _)) = shared {
            self.rib.attrs.release(sid);
        }
    }

    fn drop_path(&mut self, id: PeerId, fam: Family, n: Nlri) {
        let op = PathOp::Remove {
            peer: id,
            path_id: n.path_id.unwrap_or(0),
        };
        if let Some(old) = self.apply(n.prefix, op) {
            if let Some(p) = self.peer_mut(id) {
                let fi = family_index(fam);
                p.counters.received[fi] = p.counters.received[fi].saturating_sub(1);
                if old.is_eligible() {
                    p.counters.accepted[fi] = p.counters.accepted[fi].saturating_sub(1);
                }
            }
        }
    }

    /// End-of-RIB from the peer (RFC 4724 §2): paths still marked stale are removed.
    fn end_of_rib(&mut self, id: PeerId, family: Family) {
        if let Some(s) = self.peer_mut(id).and_then(|p| p.session.as_mut()) {
            if !s.eor_received.contains(&family) {
                s.eor_received.push(family);
            }
        }
        self.sweep_stale(id, family);
    }

    pub(super) fn sweep_stale(&mut self, id: PeerId, family: Family) {
        let fam_of = |p: &bgp_wire::Prefix| match p {
            bgp_wire::Prefix::V4(_) => Family::IPV4_UNICAST,
            bgp_wire::Prefix::V6(_) => Family::IPV6_UNICAST,
        };
        let (touched, accepted) = self
            .rib
            .remove_peer_counted(id, Some(family), |p| p.flags & path_flags::STALE != 0);
        let fi = family_index(family);
        let removed = touched.iter().filter(|p| fam_of(p) == family).count() as u64;
        if let Some(p) = self.peer_mut(id) {
            p.counters.received[fi] = p.counters.received[fi].saturating_sub(removed);
            p.counters.accepted[fi] = p.counters.accepted[fi].saturating_sub(accepted as u64);
        }
        self.dirty.extend(touched);
    }

    /// A ROUTE-REFRESH from the peer: a new walk of the family's table (RFC 2918), framed
    /// by BoRR/EoRR when enhanced route refresh was negotiated (RFC 7313 §4). BoRR/EoRR
    /// from the peer mark and sweep its stale paths.
    fn route_refresh(&mut self, id: PeerId, family: Family, st: u8) {
        let Some(p) = self.peer_mut(id) else { return };
        let Some(s) = p.session.as_mut() else { return };
        if !s.negotiated.families.contains(&family) {
            return;
        }
        match st {
            subtype::NORMAL => {
                let enhanced = s.negotiated.enhanced_route_refresh;
                if enhanced {
                    s.out.borr.push(family);
                }
                let end = if enhanced {
                    WalkEnd::EnhancedRefresh(family)
                } else {
                    WalkEnd::Nothing
                };
                s.out.start_walk(Walk::new(Some(family), end));
            }
            subtype::BORR => {
                for d in self
                    .rib
                    .v4
                    .iter_mut()
                    .filter(|_| family == Family::IPV4_UNICAST)
                {
                    mark_stale(d.1, id);
                }
                for d in self
                    .rib
                    .v6
                    .iter_mut()
                    .filter(|_| family == Family::IPV6_UNICAST)
                {
                    mark_stale(d.1, id);
                }
            }
            subtype::EORR => self.sweep_stale(id, family),
            _ => {} // RFC 7313 §5: other subtypes are ignored.
        }
    }

    fn check_limits(&mut self, id: PeerId) -> Result<(), ReceiveError> {
        let Some(p) = self.peer_mut(id) else {
            return Ok(());
        };
        let Some(limit) = p.spec.max_prefix else {
            return Ok(());
        };
        let mut over = false;
        for (fi, family) in [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
            .into_iter()
            .enumerate()
        {
            let accepted = p.counters.accepted[fi];
            if accepted > u64::from(limit.limit) {
                if limit.shutdown {
                    return Err(ReceiveError::PrefixLimit {
                        peer: p.spec.address,
                        family,
                        limit: limit.limit,
                        accepted,
                    });
                }
                over = true;
                if !p.limit_warned {
                    // `action: warn`: the session stays; logged and counted once per
                    // crossing of the limit.
                    p.limit_warned = true;
                    p.counters.prefix_limit_exceeded += 1;
                    warn!(peer = %p.spec.address, %family, limit = limit.limit, accepted, "prefix limit exceeded (max-prefix action warn: session kept)");
                }
            }
        }
        if !over {
            p.limit_warned = false;
        }
        Ok(())
    }
}

pub(super) fn mark_stale(d: &mut crate::rib::table::Dest, peer: PeerId) {
    for p in d.paths.as_mut_slice() {
        if p.peer == peer {
            p.flags |= path_flags::STALE;
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A received path of a session in graceful shutdown (`lower`): GRACEFUL_SHUTDOWN added
/// and LOCAL_PREF 0 (RFC 8326 §4.1); unchanged otherwise.
fn gshut(mut a: Attrs, lower: bool) -> Attrs {
    if lower {
        a.mark_graceful_shutdown(true);
    }
    a
}
