//! Update groups: peers with the same outbound settings share one change log and one cache
//! of encoded attributes. Each peer keeps a cursor into its group's log and a bitmap of
//! the destinations it was sent (its Adj-RIB-Out, RFC 4271 §3.2).

use std::collections::VecDeque;

use bgp_wire::{Family, Prefix};
use hashbrown::HashMap;

use super::rules::{Exported, GroupKey, Source};
use crate::rib::store::AttrId;
use crate::rib::table::PeerId;

/// A selection change to propagate: the destination and the change number it got. Eight
/// octets: a full table logs a million of them (the prefix is found from the id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Change number (the destination's stamp when it was logged).
    pub seq: u32,
    /// The destination's id in its table, with the IPv6 table flagged by the top bit.
    key: u32,
}

const V6_BIT: u32 = 1 << 31;

impl Change {
    /// A change of destination `id` of the table of `prefix`'s family.
    pub fn new(seq: u32, id: u32, prefix: &Prefix) -> Self {
        debug_assert!(id < V6_BIT);
        let v6 = if matches!(prefix, Prefix::V6(_)) {
            V6_BIT
        } else {
            0
        };
        Change { seq, key: id | v6 }
    }

    /// The destination's id in its table.
    pub fn id(&self) -> u32 {
        self.key & !V6_BIT
    }

    /// Whether the destination is in the IPv6 table.
    pub fn is_v6(&self) -> bool {
        self.key & V6_BIT != 0
    }
}

/// Cache key of an export result: attribute set, source class, originator, whether the
/// route is IPv6 (the same attributes make different UPDATEs for the two families), and
/// the prefix when the group's export policy looks at prefixes (else `None`: one result
/// serves every prefix with these attributes).
///
/// What the key leaves out is shared by every member of the group: the settings of the
/// [`GroupKey`], and the export policy, which sees only the route (prefix and attributes),
/// never the peer it is evaluated for.
pub type CacheKey = (AttrId, Source, u32, bool, Option<Prefix>);

/// How the export cache of a group was used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Export results computed, and encoded when the route is sent (cache misses).
    pub encodings: u64,
    /// Export results taken from the cache.
    pub hits: u64,
}

/// An update group.
#[derive(Debug)]
pub struct Group {
    /// The shared settings.
    pub key: GroupKey,
    /// Member peers.
    pub members: Vec<PeerId>,
    log: VecDeque<Change>,
    base: u64,
    cache: HashMap<CacheKey, Option<Exported>>,
    cache_epoch: u64,
    stats: CacheStats,
    fills_since_trim: usize,
}

impl Group {
    /// A group without members.
    pub fn new(key: GroupKey) -> Self {
        Group {
            key,
            members: Vec::new(),
            log: VecDeque::new(),
            base: 0,
            cache: HashMap::new(),
            cache_epoch: 0,
            stats: CacheStats::default(),
            fills_since_trim: 0,
        }
    }

    /// Counts a member's fill; true once per `members` fills, when the log is to be
    /// trimmed (finding the slowest member costs a pass over them all: amortized, that
    /// is constant per fill instead of quadratic in the group's size).
    pub fn trim_due(&mut self) -> bool {
        self.fills_since_trim += 1;
        if self.fills_since_trim >= self.members.len().max(1) {
            self.fills_since_trim = 0;
            true
        } else {
            false
        }
    }

    /// Appends a change.
    pub fn log(&mut self, change: Change) {
        self.log.push_back(change);
    }

    /// Absolute index one past the last logged change.
    pub fn end(&self) -> u64 {
        self.base + self.log.len() as u64
    }

    /// The change at absolute index `i`, if still logged.
    pub fn change(&self, i: u64) -> Option<Change> {
        i.checked_sub(self.base)
            .and_then(|o| self.log.get(o as usize))
            .copied()
    }

    /// Drops the changes every member has passed (`min_cursor` is the smallest cursor).
    pub fn trim(&mut self, min_cursor: u64) {
        self.fills_since_trim = 0;
        while self.base < min_cursor && self.log.pop_front().is_some() {
            self.base += 1;
        }
    }

    /// The oldest change number still logged, if any.
    pub fn oldest_seq(&self) -> Option<u32> {
        self.log.front().map(|c| c.seq)
    }

    /// Number of logged changes.
    pub fn backlog(&self) -> usize {
        self.log.len()
    }

    /// The cached export result for a key, valid while the RIB epoch is unchanged.
    pub fn cached(&mut self, epoch: u64, key: &CacheKey) -> Option<&Option<Exported>> {
        if self.cache_epoch != epoch {
            self.cache.clear();
            self.cache_epoch = epoch;
        }
        let hit = self.cache.get(key);
        if hit.is_some() {
            self.stats.hits += 1;
        }
        hit
    }

    /// Stores an export result.
    pub fn store(&mut self, key: CacheKey, value: Option<Exported>) {
        if self.cache.len() > 200_000 {
            self.cache.clear();
        }
        self.stats.encodings += 1;
        self.cache.insert(key, value);
    }

    /// How the export cache was used since the group was formed.
    pub fn cache_stats(&self) -> CacheStats {
        self.stats
    }
}

/// A growable bit set over destination ids.
#[derive(Debug, Clone, Default)]
pub struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    /// Whether bit `i` is set.
    pub fn contains(&self, i: u32) -> bool {
        self.words
            .get(i as usize / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Sets bit `i`; returns whether it was clear.
    pub fn insert(&mut self, i: u32) -> bool {
        let w = i as usize / 64;
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let was = self.words[w] & (1 << (i % 64)) != 0;
        self.words[w] |= 1 << (i % 64);
        !was
    }

    /// Clears bit `i`; returns whether it was set.
    pub fn remove(&mut self, i: u32) -> bool {
        let w = i as usize / 64;
        match self.words.get_mut(w) {
            Some(word) => {
                let was = *word & (1 << (i % 64)) != 0;
                *word &= !(1 << (i % 64));
                was
            }
            None => false,
        }
    }

    /// The set bits.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            (0..64)
                .filter(move |b| w & (1 << b) != 0)
                .map(move |b| (wi * 64 + b) as u32)
        })
    }
}

/// What ends a table walk for a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkEnd {
    /// End-of-RIB markers for these families (after the session came up, RFC 4724 §2).
    EndOfRib(Vec<Family>),
    /// EoRR for this family (answer to an enhanced route refresh, RFC 7313 §4).
    EnhancedRefresh(Family),
    /// Nothing (answer to a plain route refresh).
    Nothing,
}

/// A walk over the table that feeds a peer everything (session start, route refresh). It
/// holds a position in the tables, not a copy of their prefixes: a thousand peers starting
/// at once on a full table cost a few octets each.
#[derive(Debug, Clone)]
pub struct Walk {
    /// Default routes to visit first (`default-originate`), last first.
    pub defaults: Vec<Prefix>,
    /// Walk the IPv4 table.
    pub v4: bool,
    /// Walk the IPv6 table.
    pub v6: bool,
    /// In the IPv6 table already.
    pub in_v6: bool,
    /// Next destination id of the current table.
    pub next: u32,
    /// What to send once done.
    pub end: WalkEnd,
}

impl Walk {
    /// A walk over the tables of `families` (all when `None`).
    pub fn new(family: Option<Family>, end: WalkEnd) -> Self {
        Walk {
            defaults: Vec::new(),
            v4: family.is_none_or(|f| f == Family::IPV4_UNICAST),
            v6: family.is_none_or(|f| f == Family::IPV6_UNICAST),
            in_v6: false,
            next: 0,
            end,
        }
    }
}

/// How far a peer's table walk had gone at each RIB change number, so that a change
/// logged while it ran, and already sent by it, is not sent again.
///
/// The walk runs in rounds (one per [`fill`](crate::speaker::Speaker::fill)) and the RIB
/// does not change within a round: a mark `(seq, v4, v6)` says that by change number
/// `seq` the walk had visited the IPv4 destinations with ids below `v4` and the IPv6 ones
/// below `v6`. A destination whose current state has change number `s` was sent in that
/// state if the first mark past its id has `seq >= s`.
#[derive(Debug, Clone, Default)]
pub struct WalkTrace {
    marks: Vec<(u32, u32, u32)>,
}

impl WalkTrace {
    /// Forgets every mark (a new walk starts, or the trace is of no more use).
    pub fn clear(&mut self) {
        self.marks.clear();
    }

    /// Records the walk's position at change number `seq`.
    pub fn mark(&mut self, seq: u32, v4: u32, v6: u32) {
        if self.marks.last() != Some(&(seq, v4, v6)) {
            self.marks.push((seq, v4, v6));
        }
    }

    /// Whether the walk visited destination `id` (of the IPv6 table if `v6`) when its
    /// state was already that of change number `seq`.
    pub fn visited_since(&self, seq: u32, v6: bool, id: u32) -> bool {
        let cover = |m: &(u32, u32, u32)| if v6 { m.2 } else { m.1 };
        let i = self.marks.partition_point(|m| cover(m) <= id);
        // Change numbers wrap: compare by distance.
        self.marks
            .get(i)
            .is_some_and(|m| m.0.wrapping_sub(seq) as i32 >= 0)
    }

    /// Whether a change numbered `seq` comes after every mark (the trace can go).
    pub fn is_before(&self, seq: u32) -> bool {
        self.marks
            .last()
            .is_none_or(|m| (seq.wrapping_sub(m.0) as i32) > 0)
    }
}

/// A peer's outbound state.
#[derive(Debug, Clone, Default)]
pub struct PeerOut {
    /// Its group.
    pub group: usize,
    /// Absolute index of the next change to process in the group log.
    pub cursor: u64,
    /// Table walks to do before (or while) following the log.
    pub walks: VecDeque<Walk>,
    /// Where the current (or last) walk was at each change number.
    pub walked: WalkTrace,
    /// IPv4 destinations advertised to the peer.
    pub adj_v4: BitSet,
    /// IPv6 destinations advertised to the peer.
    pub adj_v6: BitSet,
    /// Number of IPv4 and IPv6 prefixes advertised.
    pub advertised: [u64; 2],
    /// BoRR markers to send first (enhanced route refresh, RFC 7313 §4).
    pub borr: Vec<Family>,
    /// Whether an originated default route (`default-originate`) was sent, IPv4 and
    /// IPv6: it is not in the RIB, so not in the bitmaps.
    pub default_sent: [bool; 2],
    /// With an MRAI (RFC 4271 §9.2.1.1): the log index up to which changes may be sent
    /// now; those logged later wait for the next interval. `None`: no MRAI, changes go
    /// at once. Table walks (session start, route refresh) are never held.
    pub release: Option<u64>,
}

impl PeerOut {
    /// Queues a table walk. A walk that starts now (none before it) starts a new trace.
    pub fn start_walk(&mut self, walk: Walk) {
        if self.walks.is_empty() {
            self.walked.clear();
        }
        self.walks.push_back(walk);
    }

    /// Marks the front walk's position (the walk being at `seq`), or the full coverage of
    /// `done`, a walk that just ended with no other after it.
    pub fn mark_walk(&mut self, seq: u32, done: Option<&Walk>) {
        // IPv4 first, then IPv6: the position is in one table, the other is all or none.
        let cover = |w: &Walk| -> (u32, u32) {
            match (w.v4, w.in_v6) {
                (false, false) => (0, 0),
                (true, false) => (w.next, 0),
                (v4, true) => (if v4 { u32::MAX } else { 0 }, if w.v6 { w.next } else { 0 }),
            }
        };
        match (done, self.walks.front()) {
            (Some(w), None) => {
                let v4 = if w.v4 { u32::MAX } else { 0 };
                let v6 = if w.v6 { u32::MAX } else { 0 };
                self.walked.mark(seq, v4, v6);
            }
            // The next walk starts over: its own trace.
            (Some(_), Some(_)) => self.walked.clear(),
            (None, Some(w)) => {
                let (v4, v6) = cover(w);
                self.walked.mark(seq, v4, v6);
            }
            (None, None) => {}
        }
    }

    /// The bitmap of a family.
    pub fn adj(&mut self, family: Family) -> &mut BitSet {
        if family == Family::IPV6_UNICAST {
            &mut self.adj_v6
        } else {
            &mut self.adj_v4
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitsets_track_membership() {
        let mut b = BitSet::default();
        assert!(b.insert(3));
        assert!(!b.insert(3));
        assert!(b.insert(200));
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![3, 200]);
        assert!(b.remove(3));
        assert!(!b.remove(3));
        assert!(!b.contains(3) && b.contains(200) && !b.contains(9999));
    }

    #[test]
    fn the_log_is_trimmed_once_per_round_of_the_members_fills() {
        let mut g = Group::new(crate::export::rules::tests::key(false));
        g.members = vec![1, 2, 3];
        let due: Vec<bool> = (0..7).map(|_| g.trim_due()).collect();
        assert_eq!(due, [false, false, true, false, false, true, false]);
        g.trim(0);
        assert!(!g.trim_due(), "a trim starts a new round");
        g.members.clear();
        assert!(g.trim_due(), "a group without members trims at once");
    }
}
