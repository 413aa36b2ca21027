//! Per-prefix path lists: the Adj-RIBs-In of every peer and the Loc-RIB selection in one
//! structure. A destination keeps every path received for it (post import policy; paths the
//! policy rejected are kept, marked, so "received" counts stay exact), with the best path
//! first and the multipath set right after it.

use std::hash::Hash;

use super::store::AttrId;

/// A peer's index in the speaker's peer table; 0 is the local speaker (originated routes).
pub type PeerId = u16;

/// The local speaker as a path source.
pub const LOCAL_PEER: PeerId = 0;

/// Flags of a path.
pub mod path_flags {
    /// The import policy rejected the path: kept for accounting, never selected.
    pub const REJECTED: u16 = 1;
    /// Kept across a graceful restart of its peer, until End-of-RIB (RFC 4724 §4.2).
    pub const STALE: u16 = 2;
}

/// One path to a destination: 12 octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path {
    /// Interned attributes.
    pub attrs: AttrId,
    /// Who sent it.
    pub peer: PeerId,
    /// [`path_flags`].
    pub flags: u16,
    /// ADD-PATH path identifier as received (0 without ADD-PATH).
    pub path_id: u32,
}

impl Path {
    /// Whether the path may be selected.
    pub fn is_eligible(&self) -> bool {
        self.flags & path_flags::REJECTED == 0
    }
}

/// The paths of a destination; one path is stored inline.
#[derive(Debug, Clone, Default)]
pub enum Paths {
    /// No path.
    #[default]
    Empty,
    /// One path.
    One(Path),
    /// Several paths.
    Many(Box<Vec<Path>>),
}

impl Paths {
    /// The paths as a slice.
    pub fn as_slice(&self) -> &[Path] {
        match self {
            Paths::Empty => &[],
            Paths::One(p) => std::slice::from_ref(p),
            Paths::Many(v) => v,
        }
    }

    /// The paths as a mutable slice.
    pub fn as_mut_slice(&mut self) -> &mut [Path] {
        match self {
            Paths::Empty => &mut [],
            Paths::One(p) => std::slice::from_mut(p),
            Paths::Many(v) => v,
        }
    }

    /// Number of paths.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether there is no path.
    pub fn is_empty(&self) -> bool {
        matches!(self, Paths::Empty)
    }

    /// Replaces the path with the same (peer, path id), or adds it. Returns the replaced one.
    pub fn upsert(&mut self, path: Path) -> Option<Path> {
        if let Some(p) = self
            .as_mut_slice()
            .iter_mut()
            .find(|p| p.peer == path.peer && p.path_id == path.path_id)
        {
            return Some(std::mem::replace(p, path));
        }
        *self = match std::mem::take(self) {
            Paths::Empty => Paths::One(path),
            Paths::One(p) => Paths::Many(Box::new(vec![p, path])),
            Paths::Many(mut v) => {
                v.push(path);
                Paths::Many(v)
            }
        };
        None
    }

    /// Removes the path of (peer, path id), if present.
    pub fn remove(&mut self, peer: PeerId, path_id: u32) -> Option<Path> {
        match self {
            Paths::Empty => None,
            Paths::One(p) => {
                if p.peer == peer && p.path_id == path_id {
                    let p = *p;
                    *self = Paths::Empty;
                    Some(p)
                } else {
                    None
                }
            }
            Paths::Many(v) => {
                let i = v
                    .iter()
                    .position(|p| p.peer == peer && p.path_id == path_id)?;
                let p = v.remove(i);
                if v.len() == 1 {
                    *self = Paths::One(v[0]);
                }
                Some(p)
            }
        }
    }

    /// Removes every path of `peer` (all path ids), calling `f` on each.
    pub fn remove_peer(&mut self, peer: PeerId, mut f: impl FnMut(Path)) {
        match self {
            Paths::Empty => {}
            Paths::One(p) => {
                if p.peer == peer {
                    f(*p);
                    *self = Paths::Empty;
                }
            }
            Paths::Many(v) => {
                v.retain(|p| {
                    if p.peer == peer {
                        f(*p);
                        false
                    } else {
                        true
                    }
                });
                *self = match v.len() {
                    0 => Paths::Empty,
                    1 => Paths::One(v[0]),
                    _ => return,
                };
            }
        }
    }
}

/// A destination: its paths (best first) and bookkeeping.
#[derive(Debug, Clone, Default)]
pub struct Dest {
    /// Paths; when `selected > 0`, the first `selected` are the best path and its
    /// multipath companions.
    pub paths: Paths,
    /// Global change sequence number of the last change to the selection (used by the
    /// export logs to skip superseded entries).
    pub stamp: u32,
    /// How many leading paths are selected: 0 none (no eligible path), 1 the best only,
    /// more with multipath.
    pub selected: u8,
    /// A selected path was replaced or removed since the last decision: the next decision
    /// reports a change whatever it selects.
    pub dirty: bool,
}

impl Dest {
    /// The best path, if any.
    pub fn best(&self) -> Option<&Path> {
        (self.selected > 0).then(|| &self.paths.as_slice()[0])
    }

    /// The best path and its multipath companions.
    pub fn selected(&self) -> &[Path] {
        let all = self.paths.as_slice();
        &all[..usize::from(self.selected).min(all.len())]
    }

    /// Notes that the path of (peer, path id) is about to change; if it is selected, the
    /// selection is invalidated until the next decision.
    pub fn touch(&mut self, peer: PeerId, path_id: u32) {
        if self
            .selected()
            .iter()
            .any(|p| p.peer == peer && p.path_id == path_id)
        {
            self.dirty = true;
            self.selected = 0;
        }
    }
}

/// A table of destinations keyed by prefix, each with a dense id.
///
/// Destinations live in a vector indexed by their id, their prefixes in another, and a
/// hash index holds only ids (5 octets a slot), hashing each by its prefix: a full table
/// of a million IPv4 prefixes takes about 24 + 8 + 10 MB, and destinations created in
/// prefix order sit next to each other, which keeps a full-table load in the caches.
///
/// A destination that lost its last path stays as a tombstone until every export log has
/// processed its withdrawal ([`Table::collect`]), so its id is not reused while some peer's
/// Adj-RIB-Out bitmap or a log entry may still refer to it.
pub struct Table<P> {
    index: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    dests: Vec<Dest>,
    prefixes: Vec<P>,
    /// Ids not in use (freed tombstones), as a bitmap.
    unused: Vec<u64>,
    free: Vec<u32>,
    tombstones: Vec<u32>,
}

impl<P> std::fmt::Debug for Table<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("destinations", &self.index.len())
            .field("tombstones", &self.tombstones.len())
            .finish_non_exhaustive()
    }
}

impl<P: Hash + Eq + Copy> Default for Table<P> {
    fn default() -> Self {
        Table {
            index: hashbrown::HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            dests: Vec::new(),
            prefixes: Vec::new(),
            unused: Vec::new(),
            free: Vec::new(),
            tombstones: Vec::new(),
        }
    }
}

impl<P: Hash + Eq + Copy + Ord> Table<P> {
    #[inline]
    fn hash(&self, p: &P) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(p)
    }

    #[inline]
    fn find(&self, p: &P) -> Option<u32> {
        let prefixes = &self.prefixes;
        self.index
            .find(self.hash(p), |&id| prefixes[id as usize] == *p)
            .copied()
    }

    #[inline]
    fn in_use(&self, id: u32) -> bool {
        let (w, b) = ((id / 64) as usize, id % 64);
        (id as usize) < self.prefixes.len() && self.unused.get(w).is_none_or(|x| x & (1 << b) == 0)
    }

    fn set_unused(&mut self, id: u32, unused: bool) {
        let (w, b) = ((id / 64) as usize, id % 64);
        if self.unused.len() <= w {
            self.unused.resize(w + 1, 0);
        }
        if unused {
            self.unused[w] |= 1 << b;
        } else {
            self.unused[w] &= !(1 << b);
        }
    }

    /// The destination of a prefix.
    #[inline]
    pub fn get(&self, p: &P) -> Option<&Dest> {
        self.find(p).map(|id| &self.dests[id as usize])
    }

    /// The destination of a prefix and its id.
    #[inline]
    pub fn get_with_id(&self, p: &P) -> Option<(u32, &Dest)> {
        self.find(p).map(|id| (id, &self.dests[id as usize]))
    }

    /// The destination of an id (tombstones included).
    #[inline]
    pub fn by_id(&self, id: u32) -> Option<&Dest> {
        self.in_use(id).then(|| &self.dests[id as usize])
    }

    /// The prefix and destination of an id (tombstones included).
    #[inline]
    pub fn by_id_with_prefix(&self, id: u32) -> Option<(P, &Dest)> {
        self.in_use(id)
            .then(|| (self.prefixes[id as usize], &self.dests[id as usize]))
    }

    /// The destination of a prefix, created empty (with a fresh id) if absent.
    #[inline]
    pub fn entry(&mut self, p: P) -> &mut Dest {
        self.entry_with_id(p).1
    }

    /// [`entry`](Self::entry) with the destination's id.
    #[inline]
    pub fn entry_with_id(&mut self, p: P) -> (u32, &mut Dest) {
        let hash = self.hash(&p);
        let found = {
            let prefixes = &self.prefixes;
            self.index
                .find(hash, |&id| prefixes[id as usize] == p)
                .copied()
        };
        let id = match found {
            Some(id) => id,
            None => {
                let id = match self.free.pop() {
                    Some(id) => {
                        self.prefixes[id as usize] = p;
                        self.dests[id as usize] = Dest::default();
                        self.set_unused(id, false);
                        id
                    }
                    None => {
                        self.prefixes.push(p);
                        self.dests.push(Dest::default());
                        (self.dests.len() - 1) as u32
                    }
                };
                let (prefixes, hasher) = (&self.prefixes, &self.hasher);
                self.index.insert_unique(hash, id, |&i| {
                    use std::hash::BuildHasher;
                    hasher.hash_one(prefixes[i as usize])
                });
                id
            }
        };
        (id, &mut self.dests[id as usize])
    }

    /// The destination of a prefix, if present.
    #[inline]
    pub fn get_mut(&mut self, p: &P) -> Option<&mut Dest> {
        self.get_mut_with_id(p).map(|x| x.1)
    }

    /// [`get_mut`](Self::get_mut) with the destination's id.
    #[inline]
    pub fn get_mut_with_id(&mut self, p: &P) -> Option<(u32, &mut Dest)> {
        self.find(p).map(|id| (id, &mut self.dests[id as usize]))
    }

    /// Notes that a destination may have become a tombstone (no path left).
    pub fn note_maybe_empty(&mut self, p: P) {
        if let Some(id) = self.find(&p) {
            if self.dests[id as usize].paths.is_empty() {
                self.tombstones.push(id);
            }
        }
    }

    /// Removes tombstones whose last change every export log has processed (`done` says
    /// whether a stamp is processed) and frees their ids.
    pub fn collect(&mut self, done: impl Fn(u32) -> bool) {
        let mut keep = Vec::new();
        for id in std::mem::take(&mut self.tombstones) {
            if !self.in_use(id) {
                continue;
            }
            let d = &self.dests[id as usize];
            if !d.paths.is_empty() {
                continue;
            }
            if done(d.stamp) {
                let p = self.prefixes[id as usize];
                let hash = self.hash(&p);
                if let Ok(e) = self.index.find_entry(hash, |&i| i == id) {
                    e.remove();
                }
                self.set_unused(id, true);
                self.dests[id as usize] = Dest::default();
                self.free.push(id);
            } else {
                keep.push(id);
            }
        }
        keep.sort_unstable();
        keep.dedup();
        self.tombstones = keep;
    }

    /// The prefix of a destination id.
    pub fn prefix_of(&self, id: u32) -> Option<P> {
        self.in_use(id).then(|| self.prefixes[id as usize])
    }

    /// One more than the highest id in use (the size a bitmap over ids needs).
    pub fn id_bound(&self) -> usize {
        self.dests.len()
    }

    /// Number of destinations with at least one path.
    pub fn len(&self) -> usize {
        self.index.len().saturating_sub(self.tombstones.len())
    }

    /// Whether no destination has a path.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every destination (tombstones included, with no path), in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&P, &Dest)> {
        self.iter_ids().map(|(p, _, d)| (p, d))
    }

    /// Every destination with its id (tombstones included), in id order.
    pub fn iter_ids(&self) -> impl Iterator<Item = (&P, u32, &Dest)> {
        self.prefixes
            .iter()
            .zip(&self.dests)
            .enumerate()
            .filter(|(i, _)| self.in_use(*i as u32))
            .map(|(i, (p, d))| (p, i as u32, d))
    }

    /// Every destination, mutably, in id order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&P, &mut Dest)> {
        let unused = &self.unused;
        self.prefixes
            .iter()
            .zip(self.dests.iter_mut())
            .enumerate()
            .filter(move |(i, _)| unused.get(i / 64).is_none_or(|x| x & (1 << (i % 64)) == 0))
            .map(|(_, x)| x)
    }

    /// The prefixes with at least one path, in order (for display and for feeding a new
    /// peer).
    pub fn sorted_prefixes(&self) -> Vec<P> {
        let mut v: Vec<P> = self
            .iter()
            .filter(|(_, d)| !d.paths.is_empty())
            .map(|(p, _)| *p)
            .collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(peer: PeerId, id: u32, attrs: AttrId) -> Path {
        Path {
            attrs,
            peer,
            flags: 0,
            path_id: id,
        }
    }

    #[test]
    fn paths_are_replaced_per_peer_and_path_id() {
        let mut p = Paths::default();
        assert_eq!(p.upsert(path(1, 0, 10)), None);
        assert!(matches!(p, Paths::One(_)));
        assert_eq!(p.upsert(path(1, 0, 11)).map(|x| x.attrs), Some(10));
        assert_eq!(p.upsert(path(2, 0, 12)), None);
        assert_eq!(p.upsert(path(2, 7, 13)), None);
        assert_eq!(p.len(), 3);
        assert_eq!(p.remove(2, 0).map(|x| x.attrs), Some(12));
        let mut gone = vec![];
        p.remove_peer(2, |x| gone.push(x.attrs));
        assert_eq!(gone, vec![13]);
        assert!(matches!(p, Paths::One(x) if x.attrs == 11));
        assert_eq!(p.remove(1, 0).map(|x| x.attrs), Some(11));
        assert!(p.is_empty());
    }

    #[test]
    fn a_destination_is_small() {
        assert_eq!(std::mem::size_of::<Path>(), 12);
        assert!(
            std::mem::size_of::<Dest>() <= 24,
            "{}",
            std::mem::size_of::<Dest>()
        );
    }
}
