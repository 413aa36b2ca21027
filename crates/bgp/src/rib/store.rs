//! Interned attribute sets: a full table with 100,000 distinct sets stores each set once,
//! and paths refer to it by a 4-octet id.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::attrs::Attrs;

/// The id of an interned attribute set.
pub type AttrId = u32;

struct Entry {
    attrs: Option<Attrs>,
    hash: u64,
    refs: u32,
}

/// Reference-counted store of attribute sets.
pub struct AttrStore {
    entries: Vec<Entry>,
    free: Vec<AttrId>,
    index: HashTable<AttrId>,
    hasher: foldhash::fast::RandomState,
    reused: u64,
}

impl Default for AttrStore {
    fn default() -> Self {
        AttrStore {
            entries: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            reused: 0,
        }
    }
}

impl std::fmt::Debug for AttrStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AttrStore({} sets)", self.len())
    }
}

impl AttrStore {
    /// Returns the id of `attrs`, storing it if new, and takes one reference.
    pub fn intern(&mut self, attrs: Attrs) -> AttrId {
        let hash = self.hasher.hash_one(&attrs);
        let entries = &self.entries;
        if let Some(&id) = self.index.find(hash, |&id| {
            entries[id as usize].attrs.as_ref() == Some(&attrs)
        }) {
            self.entries[id as usize].refs += 1;
            return id;
        }
        let entry = Entry {
            attrs: Some(attrs),
            hash,
            refs: 1,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = entry;
                self.reused += 1;
                id
            }
            None => {
                self.entries.push(entry);
                (self.entries.len() - 1) as AttrId
            }
        };
        let entries = &self.entries;
        self.index
            .insert_unique(hash, id, |&i| entries[i as usize].hash);
        id
    }

    /// The attribute set of a live id.
    ///
    /// # Panics
    /// If `id` was released; ids come only from [`intern`](Self::intern).
    pub fn get(&self, id: AttrId) -> &Attrs {
        self.entries[id as usize]
            .attrs
            .as_ref()
            .expect("attribute set id in use")
    }

    /// Takes one more reference.
    pub fn retain(&mut self, id: AttrId) {
        self.entries[id as usize].refs += 1;
    }

    /// Drops one reference, freeing the set when none is left.
    pub fn release(&mut self, id: AttrId) {
        let e = &mut self.entries[id as usize];
        e.refs -= 1;
        if e.refs == 0 {
            let hash = e.hash;
            e.attrs = None;
            if let Ok(slot) = self.index.find_entry(hash, |&i| i == id) {
                slot.remove();
            }
            self.free.push(id);
        }
    }

    /// How many times an id was given to a new set after being freed: what was derived
    /// from an id's set (export caches) is stale once this changes.
    pub fn reuses(&self) -> u64 {
        self.reused
    }

    /// Number of distinct live sets.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no set is stored.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_wire::Origin;

    #[test]
    fn equal_sets_share_one_id_and_are_freed_with_their_last_reference() {
        let mut s = AttrStore::default();
        let a = s.intern(Attrs::local(Origin::Igp));
        let b = s.intern(Attrs::local(Origin::Igp));
        let c = s.intern(Attrs::local(Origin::Egp));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(s.len(), 2);
        s.release(a);
        assert_eq!(s.len(), 2);
        s.release(b);
        assert_eq!(s.len(), 1);
        // The freed slot is reused.
        let d = s.intern(Attrs::local(Origin::Incomplete));
        assert_eq!(d, a);
        assert_eq!(s.get(c).origin, Origin::Egp);
    }
}
