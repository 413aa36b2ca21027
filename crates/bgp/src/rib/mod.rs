//! The RIB: interned attributes, per-prefix path lists and the decision process.

pub mod attrs;
pub mod clock;
pub mod decision;
pub mod store;
pub mod table;

use std::net::{IpAddr, Ipv4Addr};

use bgp_wire::{Family, Ipv4Prefix, Ipv6Prefix, Prefix};

use self::attrs::NextHop;
use self::decision::{Candidate, DecisionOptions};
use self::store::{AttrId, AttrStore};
use self::table::{Dest, Path, PeerId, Table};

/// What the decision process needs to know about a path's peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerFacts {
    /// The peer's BGP identifier (ours for local routes).
    pub router_id: Ipv4Addr,
    /// The peer's address (unspecified for local routes).
    pub address: IpAddr,
    /// eBGP session.
    pub external: bool,
}

/// Multipath options (`maximum-paths`, `bestpath as-path multipath-relax`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultipathOptions {
    /// Maximum paths for eBGP-learned best paths (1 disables multipath).
    pub ebgp: u8,
    /// Maximum paths for iBGP-learned best paths.
    pub ibgp: u8,
    /// Combine paths of different neighbor ASes with AS paths of equal length.
    pub relax: bool,
}

impl Default for MultipathOptions {
    fn default() -> Self {
        MultipathOptions {
            ebgp: 1,
            ibgp: 1,
            relax: false,
        }
    }
}

/// The world the decision process looks at.
pub trait DecisionContext {
    /// Facts about a path's peer.
    fn peer(&self, id: PeerId) -> PeerFacts;
    /// IGP cost to reach a next hop, `None` if unreachable.
    fn igp_cost(&self, next_hop: &NextHop) -> Option<u32>;
    /// Decision options.
    fn options(&self) -> DecisionOptions;
    /// Multipath options.
    fn multipath(&self) -> MultipathOptions {
        MultipathOptions::default()
    }
}

/// The RIB of one speaker: attribute store and IPv4/IPv6 unicast tables.
#[derive(Debug, Default)]
pub struct Rib {
    /// Interned attribute sets.
    pub attrs: AttrStore,
    /// IPv4 unicast destinations.
    pub v4: Table<Ipv4Prefix>,
    /// IPv6 unicast destinations.
    pub v6: Table<Ipv6Prefix>,
    seq: u32,
    /// When the change numbers were reached (the age of selections).
    pub clock: clock::ChangeClock,
}

impl Rib {
    /// The destination of a prefix.
    pub fn dest(&self, p: &Prefix) -> Option<&Dest> {
        match p {
            Prefix::V4(p) => self.v4.get(p),
            Prefix::V6(p) => self.v6.get(p),
        }
    }

    /// The destination of a prefix and its id.
    pub fn dest_with_id(&self, p: &Prefix) -> Option<(u32, &Dest)> {
        match p {
            Prefix::V4(p) => self.v4.get_with_id(p),
            Prefix::V6(p) => self.v6.get_with_id(p),
        }
    }

    /// The destination of an id in the table of `p`'s family.
    /// The prefix and destination a logged change is about (tombstones included).
    pub fn dest_of_change(&self, c: &crate::export::group::Change) -> Option<(Prefix, &Dest)> {
        if c.is_v6() {
            let (p, d) = self.v6.by_id_with_prefix(c.id())?;
            Some((Prefix::V6(p), d))
        } else {
            let (p, d) = self.v4.by_id_with_prefix(c.id())?;
            Some((Prefix::V4(p), d))
        }
    }

    /// The destination of an id in the table of `p`'s family.
    pub fn dest_by_id(&self, p: &Prefix, id: u32) -> Option<&Dest> {
        match p {
            Prefix::V4(_) => self.v4.by_id(id),
            Prefix::V6(_) => self.v6.by_id(id),
        }
    }

    fn dest_mut(&mut self, p: Prefix) -> &mut Dest {
        match p {
            Prefix::V4(p) => self.v4.entry(p),
            Prefix::V6(p) => self.v6.entry(p),
        }
    }

    /// Stores `path` (whose attribute reference the caller took), replacing the path of the
    /// same peer and path id, which is returned (its attribute reference already dropped).
    pub fn upsert(&mut self, prefix: Prefix, path: Path) -> Option<Path> {
        let dest = self.dest_mut(prefix);
        dest.touch(path.peer, path.path_id);
        let old = dest.paths.upsert(path);
        if let Some(o) = old {
            self.attrs.release(o.attrs);
        }
        old
    }

    /// Removes the path of (peer, path id) and returns it (its attribute reference dropped).
    pub fn remove(&mut self, prefix: Prefix, peer: PeerId, path_id: u32) -> Option<Path> {
        let dest = match prefix {
            Prefix::V4(p) => self.v4.get_mut(&p),
            Prefix::V6(p) => self.v6.get_mut(&p),
        };
        let removed = dest.and_then(|d| {
            d.touch(peer, path_id);
            d.paths.remove(peer, path_id)
        });
        if let Some(o) = removed {
            self.attrs.release(o.attrs);
        }
        removed
    }

    /// Removes every path of `peer` matching `filter` (all of them with `|_| true`),
    /// returning the prefixes that lost a path.
    pub fn remove_peer(&mut self, peer: PeerId, filter: impl Fn(&Path) -> bool) -> Vec<Prefix> {
        self.remove_peer_counted(peer, None, filter).0
    }

    /// [`remove_peer`](Self::remove_peer) within one family (or all), also returning how
    /// many removed paths were eligible (accepted by import policy).
    pub fn remove_peer_counted(
        &mut self,
        peer: PeerId,
        family: Option<Family>,
        filter: impl Fn(&Path) -> bool,
    ) -> (Vec<Prefix>, usize) {
        let mut accepted = 0usize;
        let mut touched = Vec::new();
        let mut released: Vec<(AttrId, bool)> = Vec::new();
        let v4 = family.is_none_or(|f| f == Family::IPV4_UNICAST);
        let v6 = family.is_none_or(|f| f == Family::IPV6_UNICAST);
        for (p, d) in self.v4.iter_mut().filter(|_| v4) {
            if d.paths
                .as_slice()
                .iter()
                .any(|x| x.peer == peer && filter(x))
            {
                remove_matching(d, peer, &filter, &mut released);
                touched.push(Prefix::V4(*p));
            }
        }
        for (p, d) in self.v6.iter_mut().filter(|_| v6) {
            if d.paths
                .as_slice()
                .iter()
                .any(|x| x.peer == peer && filter(x))
            {
                remove_matching(d, peer, &filter, &mut released);
                touched.push(Prefix::V6(*p));
            }
        }
        for (a, eligible) in released {
            accepted += usize::from(eligible);
            self.attrs.release(a);
        }
        (touched, accepted)
    }

    /// Runs the decision process for a prefix: orders its paths (best, then multipath
    /// companions, then the rest), drops the destination if empty, and returns whether the
    /// selection changed (then the destination's stamp is the new change number).
    pub fn decide(&mut self, prefix: Prefix, ctx: &impl DecisionContext) -> bool {
        let attrs = &self.attrs;
        let dest = match prefix {
            Prefix::V4(p) => self.v4.get_mut(&p),
            Prefix::V6(p) => self.v6.get_mut(&p),
        };
        let Some(dest) = dest else { return false };
        let (changed, empty) = decide_dest(dest, attrs, ctx, &mut self.seq);
        if empty {
            match prefix {
                Prefix::V4(p) => self.v4.note_maybe_empty(p),
                Prefix::V6(p) => self.v6.note_maybe_empty(p),
            }
        }
        changed
    }

    /// Changes one path of a prefix and runs the decision process, with a single table
    /// lookup (the receive hot path). Returns the replaced or removed path and, if the
    /// selection changed, the new change number.
    pub fn apply(&mut self, prefix: Prefix, op: PathOp, ctx: &impl DecisionContext) -> Applied {
        let (dest, attrs, seq) = match prefix {
            Prefix::V4(p) => match op {
                PathOp::Upsert(_) => (
                    Some(self.v4.entry_with_id(p)),
                    &mut self.attrs,
                    &mut self.seq,
                ),
                PathOp::Remove { .. } => {
                    (self.v4.get_mut_with_id(&p), &mut self.attrs, &mut self.seq)
                }
            },
            Prefix::V6(p) => match op {
                PathOp::Upsert(_) => (
                    Some(self.v6.entry_with_id(p)),
                    &mut self.attrs,
                    &mut self.seq,
                ),
                PathOp::Remove { .. } => {
                    (self.v6.get_mut_with_id(&p), &mut self.attrs, &mut self.seq)
                }
            },
        };
        let Some((id, dest)) = dest else {
            return Applied {
                old: None,
                changed: None,
            };
        };
        if let PathOp::Upsert(path) = op {
            if dest.paths.as_slice().contains(&path) {
                // Re-announced unchanged: drop the reference the caller took.
                attrs.release(path.attrs);
                return Applied {
                    old: Some(path),
                    changed: None,
                };
            }
        }
        let old = match op {
            PathOp::Upsert(path) => {
                dest.touch(path.peer, path.path_id);
                dest.paths.upsert(path)
            }
            PathOp::Remove { peer, path_id } => {
                dest.touch(peer, path_id);
                dest.paths.remove(peer, path_id)
            }
        };
        if let Some(o) = old {
            attrs.release(o.attrs);
        }
        if old.is_none() && matches!(op, PathOp::Remove { .. }) {
            return Applied { old, changed: None };
        }
        let (changed, empty) = decide_dest(dest, attrs, ctx, seq);
        let stamp = dest.stamp;
        if empty {
            match prefix {
                Prefix::V4(p) => self.v4.note_maybe_empty(p),
                Prefix::V6(p) => self.v6.note_maybe_empty(p),
            }
        }
        Applied {
            old,
            changed: changed.then_some((stamp, id)),
        }
    }

    /// The current change number (the stamp of the latest selection change).
    pub fn seq(&self) -> u32 {
        self.seq
    }

    /// Frees destinations without paths whose withdrawal every export log has processed.
    pub fn collect(&mut self, done: impl Fn(u32) -> bool + Copy) {
        self.v4.collect(done);
        self.v6.collect(done);
    }

    /// Number of destinations with a selected path, per family (IPv4, IPv6).
    pub fn selected_counts(&self) -> (usize, usize) {
        (
            self.v4.iter().filter(|(_, d)| d.selected > 0).count(),
            self.v6.iter().filter(|(_, d)| d.selected > 0).count(),
        )
    }
}

fn remove_matching(
    dest: &mut Dest,
    peer: PeerId,
    filter: &impl Fn(&Path) -> bool,
    released: &mut Vec<(AttrId, bool)>,
) {
    let gone: Vec<Path> = dest
        .paths
        .as_slice()
        .iter()
        .filter(|x| x.peer == peer && filter(x))
        .copied()
        .collect();
    for x in gone {
        dest.touch(x.peer, x.path_id);
        if let Some(r) = dest.paths.remove(x.peer, x.path_id) {
            released.push((r.attrs, r.is_eligible()));
        }
    }
}

/// A change to one path of a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathOp {
    /// Add or replace the path of (peer, path id).
    Upsert(Path),
    /// Remove the path of (peer, path id).
    Remove {
        /// The peer.
        peer: PeerId,
        /// Its path id.
        path_id: u32,
    },
}

/// The result of [`Rib::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The path replaced or removed.
    pub old: Option<Path>,
    /// The new change number and the destination's id, if the selection changed.
    pub changed: Option<(u32, u32)>,
}

/// Runs the decision process on one destination. Returns (changed, empty).
fn decide_dest(
    dest: &mut Dest,
    attrs: &AttrStore,
    ctx: &impl DecisionContext,
    seq: &mut u32,
) -> (bool, bool) {
    let paths = dest.paths.as_slice();
    let changed = if paths.len() <= 1 {
        // One path (the common case): selected if eligible and reachable; no allocation.
        let before = (dest.selected > 0)
            .then(|| paths.first().copied())
            .flatten();
        let n = match paths.first() {
            Some(p) if p.is_eligible() && ctx.igp_cost(&attrs.get(p.attrs).next_hop).is_some() => 1,
            _ => 0,
        };
        dest.selected = n;
        let after = (n > 0).then(|| paths[0]);
        std::mem::take(&mut dest.dirty) || before != after
    } else {
        let mut before = [None; 4];
        for (b, p) in before.iter_mut().zip(dest.selected()) {
            *b = Some(*p);
        }
        let before_n = dest.selected().len();
        let n = select_into(dest, attrs, ctx);
        dest.selected = n;
        let same = before_n == dest.selected().len()
            && before_n <= 4
            && dest
                .selected()
                .iter()
                .zip(before.iter())
                .all(|(a, b)| Some(*a) == *b);
        std::mem::take(&mut dest.dirty) || !same
    };
    if changed {
        *seq = seq.wrapping_add(1);
        dest.stamp = *seq;
    }
    (changed, dest.paths.is_empty())
}

/// Orders the paths of `dest` and returns how many are selected.
fn select_into(dest: &mut Dest, store: &AttrStore, ctx: &impl DecisionContext) -> u8 {
    let opts = ctx.options();
    let paths = dest.paths.as_mut_slice();
    if paths.is_empty() {
        return 0;
    }
    let cands: Vec<Candidate<'_>> = paths.iter().map(|p| candidate(p, store, ctx)).collect();
    let Some(best) = decision::select(&cands, &opts) else {
        return 0;
    };
    let mp = ctx.multipath();
    let max = if cands[best].external {
        mp.ebgp
    } else {
        mp.ibgp
    }
    .max(1);
    // Best first, then the multipath companions ordered by the full comparison.
    let mut order: Vec<usize> = (0..paths.len()).collect();
    order.sort_by(|&a, &b| {
        if a == best {
            return std::cmp::Ordering::Less;
        }
        if b == best {
            return std::cmp::Ordering::Greater;
        }
        let ea = max > 1 && decision::multipath_equal(&cands[best], &cands[a], mp.relax, &opts);
        let eb = max > 1 && decision::multipath_equal(&cands[best], &cands[b], mp.relax, &opts);
        eb.cmp(&ea)
            .then_with(|| decision::compare(&cands[a], &cands[b], true, &opts).0)
    });
    let companions = order[1..]
        .iter()
        .take_while(|&&i| {
            max > 1 && decision::multipath_equal(&cands[best], &cands[i], mp.relax, &opts)
        })
        .count()
        .min(usize::from(max) - 1);
    drop(cands);
    let sorted: Vec<Path> = order.iter().map(|&i| paths[i]).collect();
    paths.copy_from_slice(&sorted);
    (1 + companions) as u8
}

/// Builds the decision candidate of a path.
pub fn candidate<'a>(p: &Path, store: &'a AttrStore, ctx: &impl DecisionContext) -> Candidate<'a> {
    let attrs = store.get(p.attrs);
    let facts = ctx.peer(p.peer);
    Candidate {
        attrs,
        peer_router_id: facts.router_id,
        peer_address: facts.address,
        external: facts.external,
        igp_cost: ctx.igp_cost(&attrs.next_hop),
        rejected: !p.is_eligible(),
    }
}

/// Convenience for tests and origination: a prefix of either family.
pub fn prefix_of(p: impl Into<Prefix>) -> Prefix {
    p.into()
}

#[cfg(test)]
mod tests {
    use super::attrs::Attrs;
    use super::table::LOCAL_PEER;
    use super::*;
    use bgp_wire::{AsPath, Origin};

    struct World;
    impl DecisionContext for World {
        fn peer(&self, id: PeerId) -> PeerFacts {
            PeerFacts {
                router_id: Ipv4Addr::new(10, 0, 0, id as u8),
                address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, id as u8)),
                external: id != LOCAL_PEER,
            }
        }
        fn igp_cost(&self, _: &NextHop) -> Option<u32> {
            Some(0)
        }
        fn options(&self) -> DecisionOptions {
            DecisionOptions {
                local_asn: 65000,
                ..Default::default()
            }
        }
        fn multipath(&self) -> MultipathOptions {
            MultipathOptions {
                ebgp: 4,
                ibgp: 1,
                relax: true,
            }
        }
    }

    fn path_attrs(rib: &mut Rib, asns: &[u32]) -> AttrId {
        let mut a = Attrs::local(Origin::Igp);
        a.as_path = AsPath::sequence(asns.iter().copied());
        rib.attrs.intern(a)
    }

    #[test]
    fn the_best_path_comes_first_and_changes_are_stamped() {
        let mut rib = Rib::default();
        let p: Prefix = "10.1.0.0/24".parse().unwrap();
        let long = path_attrs(&mut rib, &[65001, 65009]);
        let old = rib.upsert(
            p,
            Path {
                attrs: long,
                peer: 1,
                flags: 0,
                path_id: 0,
            },
        );
        assert!(old.is_none());
        assert!(rib.decide(p, &World));
        let s1 = rib.dest(&p).unwrap().stamp;
        let short = path_attrs(&mut rib, &[65002]);
        rib.upsert(
            p,
            Path {
                attrs: short,
                peer: 2,
                flags: 0,
                path_id: 0,
            },
        );
        assert!(rib.decide(p, &World));
        let d = rib.dest(&p).unwrap();
        assert_eq!(d.best().unwrap().peer, 2);
        assert!(d.stamp > s1);
        // Deciding again without change reports no change.
        assert!(!rib.decide(p, &World));
    }

    #[test]
    fn equal_paths_form_a_multipath_set_with_relax() {
        let mut rib = Rib::default();
        let p: Prefix = "10.1.0.0/24".parse().unwrap();
        for (peer, asn) in [(1u16, 65001u32), (2, 65002), (3, 65003)] {
            let a = path_attrs(&mut rib, &[asn]);
            rib.upsert(
                p,
                Path {
                    attrs: a,
                    peer,
                    flags: 0,
                    path_id: 0,
                },
            );
        }
        let longer = path_attrs(&mut rib, &[65004, 1]);
        rib.upsert(
            p,
            Path {
                attrs: longer,
                peer: 4,
                flags: 0,
                path_id: 0,
            },
        );
        rib.decide(p, &World);
        let d = rib.dest(&p).unwrap();
        assert_eq!(d.selected, 3);
        assert_eq!(d.best().unwrap().peer, 1, "lowest router id breaks the tie");
    }

    #[test]
    fn removing_the_last_path_drops_the_destination_and_its_attributes() {
        let mut rib = Rib::default();
        let p: Prefix = "fd00::/64".parse().unwrap();
        let a = path_attrs(&mut rib, &[65001]);
        rib.upsert(
            p,
            Path {
                attrs: a,
                peer: 1,
                flags: 0,
                path_id: 0,
            },
        );
        rib.decide(p, &World);
        assert_eq!(rib.remove_peer(1, |_| true), vec![p]);
        assert!(rib.decide(p, &World));
        assert!(
            rib.dest(&p).is_some_and(|d| d.paths.is_empty()),
            "kept as a tombstone"
        );
        rib.collect(|_| true);
        assert!(rib.dest(&p).is_none());
        assert!(rib.attrs.is_empty());
    }
}
