//! Sending: turning selection changes and table walks into UPDATE messages for one peer,
//! within a byte budget (the runtime calls again when the socket drained).

use std::rc::Rc;

use hashbrown::HashMap;

use bgp_wire::route_refresh::subtype;
use bgp_wire::{Family, Nlri, Prefix, RouteRefresh, UpdatePacker};

use super::{Fill, PeerId, Speaker};
use crate::export::group::{CacheKey, Change, WalkEnd};
use crate::export::rules::{self, Exported, Source};

/// Routes gathered for one peer before encoding.
#[derive(Default)]
struct Batch {
    groups: Vec<(Exported, Family, Vec<Nlri>)>,
    /// Groups by the address of the encoded attributes: the common case, an export result
    /// shared through the group's cache. Every buffer keyed here is kept alive by `keep`
    /// until the batch is flushed, so an address is never reused meanwhile.
    by_address: HashMap<(*const u8, Family), usize>,
    keep: Vec<Exported>,
    /// Groups by content: export results cached per prefix (an export policy with a
    /// prefix list) carry equal attributes in distinct buffers, and must still share
    /// UPDATEs.
    by_content: HashMap<(Exported, Family), usize>,
    withdrawn: [Vec<Nlri>; 2],
    estimate: usize,
}

impl Batch {
    fn announce(&mut self, e: &Exported, family: Family, prefix: Prefix) {
        let addr = (Rc::as_ptr(&e.attrs) as *const u8, family);
        let i = match self.by_address.get(&addr) {
            Some(&i) => i,
            None => {
                let i = match self.by_content.get(&(e.clone(), family)) {
                    Some(&i) => i,
                    None => {
                        self.groups.push((e.clone(), family, Vec::new()));
                        self.estimate += e.attrs.len() + 40;
                        let i = self.groups.len() - 1;
                        self.by_content.insert((e.clone(), family), i);
                        i
                    }
                };
                self.by_address.insert(addr, i);
                self.keep.push(e.clone());
                i
            }
        };
        self.groups[i].2.push(Nlri::new(prefix));
        self.estimate += prefix_octets(prefix);
    }

    fn withdraw(&mut self, family: Family, prefix: Prefix) {
        self.withdrawn[usize::from(family == Family::IPV6_UNICAST)].push(Nlri::new(prefix));
        self.estimate += prefix_octets(prefix);
    }

    /// Encodes everything; returns the number of UPDATE messages.
    fn flush(&mut self, packer: &UpdatePacker, out: &mut Vec<u8>) -> u64 {
        let mut n = 0;
        for (fi, w) in self.withdrawn.iter_mut().enumerate() {
            if !w.is_empty() {
                let fam = if fi == 0 {
                    Family::IPV4_UNICAST
                } else {
                    Family::IPV6_UNICAST
                };
                n += packer.withdraw(fam, w.drain(..), out) as u64;
            }
        }
        for (e, fam, nlri) in self.groups.drain(..) {
            let r = if e.in_nlri_field {
                packer.announce_ipv4(&e.attrs, nlri, out)
            } else {
                packer.announce_mp(fam, &e.next_hop.to_mp(), &e.attrs, nlri, out)
            };
            match r {
                Ok(k) => n += k as u64,
                Err(err) => tracing::error!(%err, "route not sent: attributes too large"),
            }
        }
        self.by_address.clear();
        self.by_content.clear();
        self.keep.clear();
        self.estimate = 0;
        n
    }
}

fn prefix_octets(p: Prefix) -> usize {
    1 + usize::from(p.prefix_len()).div_ceil(8)
}

fn family_of(p: Prefix) -> Family {
    match p {
        Prefix::V4(_) => Family::IPV4_UNICAST,
        Prefix::V6(_) => Family::IPV6_UNICAST,
    }
}

impl Speaker {
    /// Appends to `out` the messages `id` is to be sent next, about `budget` octets at
    /// most (a little more for the last message). Returns whether more is pending.
    pub fn fill(&mut self, id: PeerId, budget: usize, out: &mut Vec<u8>) -> Fill {
        let Some(session) = self.peer(id).and_then(|p| p.session.as_ref()) else {
            return Fill::Idle;
        };
        let packer = UpdatePacker::new(session.negotiated.tx);
        let start = out.len();
        let mut sent = 0u64;
        let borr: Vec<Family> = match self.peer_mut(id).and_then(|p| p.session.as_mut()) {
            Some(s) => s.out.borr.drain(..).collect(),
            None => Vec::new(),
        };
        for family in borr {
            RouteRefresh {
                family,
                subtype: subtype::BORR,
            }
            .encode(out);
        }
        let mut batch = Batch::default();
        // Table walks first (session start, route refresh).
        loop {
            if out.len() - start + batch.estimate >= budget {
                break;
            }
            let step = self.walk_step(id);
            match step {
                None => break,
                Some(Ok(prefix)) => {
                    let info = self
                        .rib
                        .dest_with_id(&prefix)
                        .map(|(id, d)| (id, d.best().copied()));
                    self.export_one(id, prefix, info, &mut batch);
                }
                Some(Err(end)) => {
                    sent += batch.flush(&packer, out);
                    match end {
                        Some(WalkEnd::EndOfRib(families)) => {
                            for f in families {
                                packer.end_of_rib(f, out);
                                sent += 1;
                            }
                        }
                        Some(WalkEnd::EnhancedRefresh(f)) => {
                            RouteRefresh {
                                family: f,
                                subtype: subtype::EORR,
                            }
                            .encode(out);
                        }
                        Some(WalkEnd::Nothing) | None => {}
                    }
                }
            }
        }
        sent += batch.flush(&packer, out);
        let seq = self.rib.seq();
        if let Some(s) = self.peer_mut(id).and_then(|p| p.session.as_mut()) {
            s.out.mark_walk(seq, None);
        }
        // Then the changes logged since.
        let walking = self.session_walking(id);
        if !walking {
            loop {
                if out.len() - start + batch.estimate >= budget {
                    break;
                }
                let Some((g, cursor)) = self.cursor(id) else {
                    break;
                };
                if self.held_from(id).is_some_and(|r| cursor >= r) {
                    break; // the rest waits for the next MRAI interval
                }
                let Some(change) = self.groups[g].as_ref().and_then(|grp| grp.change(cursor))
                else {
                    break;
                };
                if let Some(s) = self.peer_mut(id).and_then(|p| p.session.as_mut()) {
                    s.out.cursor = cursor + 1;
                }
                // One lookup: skip superseded entries, and those the table walk sent in
                // their current state; export the current best.
                let info = self
                    .rib
                    .dest_of_change(&change)
                    .map(|(p, d)| (p, d.stamp, d.best().copied(), d.paths.is_empty()));
                if let Some((prefix, stamp, best, empty)) = info {
                    if stamp == change.seq && !self.walked(id, &change, prefix, empty) {
                        self.export_one(id, prefix, Some((change.id(), best)), &mut batch);
                    }
                }
            }
            sent += batch.flush(&packer, out);
            if let Some((g, _)) = self.cursor(id) {
                let due = self
                    .groups
                    .get_mut(g)
                    .and_then(|x| x.as_mut())
                    .is_some_and(|grp| grp.trim_due());
                if due {
                    self.trim_group(g);
                }
            }
        }
        if let Some(p) = self.peer_mut(id) {
            p.counters.updates_sent += sent;
        }
        if self.session_walking(id) || self.has_log_backlog(id) {
            Fill::More
        } else {
            self.collect_tombstones();
            Fill::Idle
        }
    }

    /// The next prefix of the peer's current table walk, or the walk's end (then removed),
    /// or `None` when it has no walk.
    #[allow(clippy::type_complexity)]
    fn walk_step(&mut self, id: PeerId) -> Option<Result<Prefix, Option<WalkEnd>>> {
        let rib = &self.rib;
        let s = self
            .peers
            .get_mut(usize::from(id))
            .and_then(|p| p.as_mut())
            .and_then(|p| p.session.as_mut())?;
        let w = s.out.walks.front_mut()?;
        if let Some(d) = w.defaults.pop() {
            return Some(Ok(d));
        }
        if !w.in_v6 {
            if w.v4 {
                while (w.next as usize) < rib.v4.id_bound() {
                    let i = w.next;
                    w.next += 1;
                    if let Some((p, d)) = rib.v4.by_id_with_prefix(i) {
                        if !d.paths.is_empty() {
                            return Some(Ok(Prefix::V4(p)));
                        }
                    }
                }
            }
            w.in_v6 = true;
            w.next = 0;
        }
        if w.v6 {
            while (w.next as usize) < rib.v6.id_bound() {
                let i = w.next;
                w.next += 1;
                if let Some((p, d)) = rib.v6.by_id_with_prefix(i) {
                    if !d.paths.is_empty() {
                        return Some(Ok(Prefix::V6(p)));
                    }
                }
            }
        }
        let done = s.out.walks.pop_front();
        s.out.mark_walk(rib.seq(), done.as_ref());
        Some(Err(done.map(|w| w.end)))
    }

    /// Whether `fill` has anything to do for the peer.
    pub fn has_pending(&self, id: PeerId) -> bool {
        self.session_walking(id)
            || self.has_log_backlog(id)
            || self
                .peer(id)
                .and_then(|p| p.session.as_ref())
                .is_some_and(|s| !s.out.borr.is_empty())
    }

    fn session_walking(&self, id: PeerId) -> bool {
        self.peer(id)
            .and_then(|p| p.session.as_ref())
            .is_some_and(|s| !s.out.walks.is_empty())
    }

    /// Whether changes are logged that the peer may be sent now.
    fn has_log_backlog(&self, id: PeerId) -> bool {
        let held = self.held_from(id);
        self.cursor(id).is_some_and(|(g, c)| {
            self.groups[g]
                .as_ref()
                .is_some_and(|grp| c < grp.end().min(held.unwrap_or(u64::MAX)))
        })
    }

    /// The log index from which changes are held back for the peer (MRAI).
    fn held_from(&self, id: PeerId) -> Option<u64> {
        self.peer(id)?.session.as_ref()?.out.release
    }

    /// Turns MRAI pacing of the peer's changes on or off (RFC 4271 §9.2.1.1). When on,
    /// changes logged from now on are sent only once [`release`](Self::release) lets
    /// them go: the runtime calls it at most once per interval, so a destination's
    /// change reaches the peer at most once per interval, while what is released (and
    /// every table walk) goes at full speed.
    pub fn pace(&mut self, id: PeerId, on: bool) {
        let Some(s) = self.peer_mut(id).and_then(|p| p.session.as_mut()) else {
            return;
        };
        s.out.release = match (on, s.out.release) {
            (false, _) => None,
            (true, Some(r)) => Some(r),
            (true, None) => Some(s.out.cursor),
        };
    }

    /// Whether a paced peer has changes held back for the next interval.
    pub fn has_held(&self, id: PeerId) -> bool {
        match (self.held_from(id), self.cursor(id)) {
            (Some(r), Some((g, _))) => self.groups[g].as_ref().is_some_and(|grp| r < grp.end()),
            _ => false,
        }
    }

    /// Lets every change logged so far go to a paced peer. Returns whether there was any
    /// held back (the runtime then starts a new interval), `false` for a peer not paced.
    pub fn release(&mut self, id: PeerId) -> bool {
        let Some((g, _)) = self.cursor(id) else {
            return false;
        };
        let end = self.groups.get(g).and_then(|g| g.as_ref()).map(|g| g.end());
        let Some(s) = self.peer_mut(id).and_then(|p| p.session.as_mut()) else {
            return false;
        };
        match (s.out.release, end) {
            (Some(r), Some(end)) if r < end => {
                s.out.release = Some(end);
                true
            }
            _ => false,
        }
    }

    /// Whether the peer's last table walk sent `prefix` in the state of `change` (its
    /// current one). A walk passes over destinations without paths, and the default
    /// route of `default-originate` stands apart: those go through the log.
    fn walked(&mut self, id: PeerId, change: &Change, prefix: Prefix, empty: bool) -> bool {
        let Some(s) = self.peer_mut(id).and_then(|p| p.session.as_mut()) else {
            return false;
        };
        let trace = &mut s.out.walked;
        if trace.is_before(change.seq) {
            trace.clear();
            return false;
        }
        !empty
            && prefix.prefix_len() > 0
            && trace.visited_since(change.seq, change.is_v6(), change.id())
    }

    fn cursor(&self, id: PeerId) -> Option<(usize, u64)> {
        let s = self.peer(id)?.session.as_ref()?;
        Some((s.out.group, s.out.cursor))
    }

    /// Decides what `id` gets for `prefix` now (its destination's id and best path), and
    /// records it in its Adj-RIB-Out.
    fn export_one(
        &mut self,
        id: PeerId,
        prefix: Prefix,
        info: Option<(u32, Option<crate::rib::table::Path>)>,
        batch: &mut Batch,
    ) {
        let family = family_of(prefix);
        let fi = usize::from(family == Family::IPV6_UNICAST);
        // A default route of `default-originate` replaces the RIB's.
        let mut default_was_sent = false;
        if prefix.prefix_len() == 0 {
            if self.export_default(id, prefix, batch) {
                return;
            }
            if let Some(s) = self.peer_mut(id).and_then(|p| p.session.as_mut()) {
                default_was_sent = std::mem::take(&mut s.out.default_sent[fi]);
                if default_was_sent {
                    s.out.advertised[fi] -= 1;
                }
            }
        }
        let Some((did, best)) = info else {
            if default_was_sent {
                batch.withdraw(family, prefix);
            }
            return;
        };
        let exported = match best {
            None => None,
            // Never back to where it came from.
            Some(best) if best.peer == id => None,
            Some(best) => self.exported(id, prefix, best),
        };
        let Some(s) = self.peer_mut(id).and_then(|p| p.session.as_mut()) else {
            return;
        };
        match exported {
            None => {
                if s.out.adj(family).remove(did) {
                    s.out.advertised[fi] -= 1;
                    batch.withdraw(family, prefix);
                } else if default_was_sent {
                    batch.withdraw(family, prefix);
                }
            }
            Some(e) => {
                if s.out.adj(family).insert(did) {
                    s.out.advertised[fi] += 1;
                }
                batch.announce(&e, family, prefix);
            }
        }
    }

    /// Sends the default route of `default-originate` if the peer's group has it; returns
    /// whether it did (the RIB's default route is then not considered).
    fn export_default(&mut self, id: PeerId, prefix: Prefix, batch: &mut Batch) -> bool {
        let Some(g) = self.cursor(id).map(|(g, _)| g) else {
            return false;
        };
        let Some(key) = self.groups.get(g).and_then(|g| g.as_ref()).map(|g| &g.key) else {
            return false;
        };
        if !key.default_originate {
            return false;
        }
        let family = family_of(prefix);
        let attrs = crate::rib::attrs::Attrs::local(bgp_wire::Origin::Igp);
        let e = rules::export(prefix, &attrs, Source::Local, self.cfg.router_id, key, None);
        let fi = usize::from(family == Family::IPV6_UNICAST);
        let did = self.rib.dest_with_id(&prefix).map(|(did, _)| did);
        let Some(s) = self.peer_mut(id).and_then(|p| p.session.as_mut()) else {
            return true;
        };
        // The RIB's default is not advertised meanwhile.
        if let Some(did) = did {
            if s.out.adj(family).remove(did) {
                s.out.advertised[fi] -= 1;
            }
        }
        match e {
            Some(e) => {
                if !std::mem::replace(&mut s.out.default_sent[fi], true) {
                    s.out.advertised[fi] += 1;
                }
                batch.announce(&e, family, prefix);
            }
            None => {
                if std::mem::take(&mut s.out.default_sent[fi]) {
                    s.out.advertised[fi] -= 1;
                    batch.withdraw(family, prefix);
                }
            }
        }
        true
    }

    /// The export result of the best path for the peer's group, cached per group while
    /// the RIB does not change.
    fn exported(
        &mut self,
        id: PeerId,
        prefix: Prefix,
        best: crate::rib::table::Path,
    ) -> Option<Exported> {
        let g = self.peer(id)?.session.as_ref()?.out.group;
        let (source, originator) = self.source(best.peer);
        let reflected = matches!(source, Source::Internal | Source::InternalClient);
        let group = self.groups.get_mut(g)?.as_mut()?;
        if group.key.withhold {
            return None;
        }
        let policy = group.key.export_policy_in(&self.policies);
        // The result is the same for every member of the group: the policy sees the route,
        // not the peer (`next-hop: self` and `peer-address` mean our address on the
        // session, part of the group key). It depends on the prefix only through a prefix
        // list; then it is cached per prefix, which pays only when the group has several
        // members.
        let per_prefix = policy.is_some_and(|p| p.reads_prefix());
        let cacheable = !per_prefix || group.members.len() > 1;
        let key: CacheKey = (
            best.attrs,
            source,
            if reflected { u32::from(originator) } else { 0 },
            matches!(prefix, Prefix::V6(_)),
            per_prefix.then_some(prefix),
        );
        // Valid while no policy or session changed and no attribute set id was reused.
        let epoch = self.epoch.wrapping_add(self.rib.attrs.reuses());
        if cacheable {
            if let Some(hit) = group.cached(epoch, &key) {
                return hit.clone();
            }
        }
        let attrs = self.rib.attrs.get(best.attrs);
        let e = rules::export(prefix, attrs, source, originator, &group.key, policy);
        if cacheable {
            group.store(key, e.clone());
        }
        e
    }
}
