//! Iterators over a decoded UPDATE: its kept path attributes and its routes.

use super::attr::flags;
use super::view::{TypeSet, NONE, SLOT_OF};
use crate::family::Family;
use crate::nlri::{Nlri, NlriIter};

/// One path attribute as it is on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAttribute<'a> {
    /// Flags octet.
    pub flags: u8,
    /// Type code.
    pub type_code: u8,
    /// Value.
    pub value: &'a [u8],
}

/// Iterator over the kept path attributes of an UPDATE.
#[derive(Debug, Clone)]
pub struct RawAttributes<'a> {
    data: &'a [u8],
    seen: TypeSet,
    discarded: u32,
}

impl<'a> RawAttributes<'a> {
    /// Iterates the path attributes field `data`, skipping the slots in `discarded`.
    #[inline]
    pub(super) fn new(data: &'a [u8], discarded: u32) -> Self {
        RawAttributes {
            data,
            seen: TypeSet::default(),
            discarded,
        }
    }
}

impl<'a> Iterator for RawAttributes<'a> {
    type Item = RawAttribute<'a>;

    fn next(&mut self) -> Option<RawAttribute<'a>> {
        loop {
            let d = self.data;
            if d.len() < 3 {
                return None;
            }
            let ext = d[0] & flags::EXTENDED_LENGTH != 0;
            let (hdr, len) = if ext {
                (4, usize::from(u16::from_be_bytes([d[2], *d.get(3)?])))
            } else {
                (3, usize::from(d[2]))
            };
            let value = d.get(hdr..hdr + len)?;
            self.data = &d[hdr + len..];
            let (fl, t) = (d[0], d[1]);
            let slot = SLOT_OF[usize::from(t)];
            let dropped = slot != NONE && self.discarded & (1 << slot) != 0;
            if self.seen.insert(t) && !dropped {
                return Some(RawAttribute {
                    flags: fl,
                    type_code: t,
                    value,
                });
            }
        }
    }
}

/// Iterator over the routes of an UPDATE across its NLRI fields, with their families.
//
// Only constant indices and plain values: the compiler keeps the whole iterator in
// registers, which matters on the hottest loop of a router.
#[derive(Debug, Clone)]
pub struct Routes<'a> {
    family: Family,
    cur: NlriIter<'a>,
    queue: [Option<(Family, NlriIter<'a>)>; 3],
}

impl Default for Routes<'_> {
    fn default() -> Self {
        Routes {
            family: Family::IPV4_UNICAST,
            cur: NlriIter::empty(),
            queue: [None, None, None],
        }
    }
}

impl<'a> Routes<'a> {
    #[inline]
    pub(super) fn push(&mut self, family: Family, it: NlriIter<'a>) {
        if it.is_empty() {
            return;
        }
        if self.cur.is_empty() {
            (self.family, self.cur) = (family, it);
        } else if self.queue[0].is_none() {
            self.queue[0] = Some((family, it));
        } else if self.queue[1].is_none() {
            self.queue[1] = Some((family, it));
        } else {
            self.queue[2] = Some((family, it));
        }
    }
}

impl Iterator for Routes<'_> {
    type Item = (Family, Nlri);

    #[inline]
    fn next(&mut self) -> Option<(Family, Nlri)> {
        loop {
            if let Some(n) = self.cur.next() {
                return Some((self.family, n));
            }
            let (family, cur) = self.queue[0].take()?;
            (self.family, self.cur) = (family, cur);
            self.queue[0] = self.queue[1].take();
            self.queue[1] = self.queue[2].take();
        }
    }
}
