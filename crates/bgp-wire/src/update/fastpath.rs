//! The common case of walking an UPDATE's path attributes: every attribute known, once,
//! with the right flags and a valid value.
//!
//! [`Update::walk_fast`] checks exactly what the complete walk checks, but has nothing to
//! record beyond where each attribute lies, so it keeps its state in registers and has no
//! error bookkeeping. At the first attribute that would raise any RFC 7606 issue it gives
//! up, and the complete walk runs from the start and finds and records the issue.

use super::aspath::validate_as_path;
use super::attr::{code, flags};
use super::mp::{MpReachView, MpUnreachView};
use super::view::{Slot, Update, EXPECTED, KNOWN, SLOT_OF};
use crate::context::SessionContext;
use crate::nlri::V4Walk;

/// Per attribute type code and Optional/Transitive bits (`type << 2 | flags >> 6`): the
/// slot's bit if the fast walk takes an attribute of that type with those flags, else 0.
/// One lookup answers "known?" and "right flags?"; a `const`, so that it is addressed
/// directly rather than through a relocation.
const FAST: [u32; 1024] = {
    let mut t = [0u32; 1024];
    let mut i = 0;
    while i < KNOWN.len() {
        let c = KNOWN[i];
        if c != code::IPV6_EXTENDED_COMMUNITIES {
            t[(c as usize) << 2 | (EXPECTED[i] as usize) >> 6] = 1 << i;
        }
        i += 1;
    }
    t
};

impl Update<'_> {
    /// Walks the path attributes if none raises an issue. Returns the slot bits of the
    /// attributes seen, or `None` (with nothing recorded) to ask for the complete walk.
    #[inline]
    pub(super) fn walk_fast(&mut self) -> Option<u32> {
        self.walk_fast_with(&[]).0
    }

    /// [`walk_fast`](Self::walk_fast), advancing the walk of the IPv4 NLRI field `nlri`
    /// in the same loop, two entries per attribute. Both walks are serial chains (each
    /// length says where the next item starts) independent of each other: interleaved,
    /// the processor works on both at once. The NLRI walk is returned unfinished.
    #[inline]
    pub(super) fn walk_fast_with(&mut self, nlri: &[u8]) -> (Option<u32>, V4Walk) {
        let mut walk = V4Walk::default();
        let seen = self.walk_attrs(nlri, &mut walk);
        (seen, walk)
    }

    #[inline(always)]
    fn walk_attrs(&mut self, nlri: &[u8], walk: &mut V4Walk) -> Option<u32> {
        let attrs = self.attrs;
        let (mut rest, mut seen, mut n) = (attrs, 0u32, 0u16);
        while !rest.is_empty() {
            walk.step(nlri);
            walk.step(nlri);
            // Header and value with two length checks; a short or overrunning attribute
            // is left to the complete walk.
            let &[fl, t, l0, ref after @ ..] = rest else {
                return None;
            };
            let (len, from_value) = if fl & flags::EXTENDED_LENGTH == 0 {
                (usize::from(l0), after)
            } else {
                let (&l1, a) = after.split_first()?;
                (usize::from(u16::from_be_bytes([l0, l1])), a)
            };
            let (value, next) = from_value.split_at_checked(len)?;
            let bit = FAST[usize::from(t) << 2 | usize::from(fl >> 6)];
            // Unknown, wrong flags (no bit) or repeated (bit already seen) fail this test.
            if bit & !seen == 0 || !value_ok(&self.ctx, t, value) {
                return None;
            }
            seen |= bit;
            n += 1;
            // The IPv6 extended communities slot (16) is never taken here.
            self.slots[bit.trailing_zeros() as usize & 15] = Slot {
                start: (attrs.len() - from_value.len()) as u16,
                len: len as u16,
            };
            rest = next;
        }
        self.present = seen;
        self.n_attrs = n;
        self.beyond_unreach = seen & !(1 << SLOT_OF[usize::from(code::MP_UNREACH_NLRI)]) != 0;
        Some(seen)
    }
}

/// Whether the value of a known attribute passes every check of
/// [`check`](Update::check) without raising an issue (RFC 7606 §7, RFC 6793 §6).
#[inline(always)]
fn value_ok(ctx: &SessionContext, t: u8, v: &[u8]) -> bool {
    let len = v.len();
    match t {
        code::ORIGIN => matches!(v, [0..=2]),
        code::AS_PATH => validate_as_path(v, if ctx.four_octet_as { 4 } else { 2 }).is_ok(),
        code::NEXT_HOP => matches!(v, [a, _, _, _] if *a != 0 && *a < 224),
        code::MULTI_EXIT_DISC => len == 4,
        code::LOCAL_PREF | code::ORIGINATOR_ID => !ctx.external && len == 4,
        code::CLUSTER_LIST => !ctx.external && len != 0 && len % 4 == 0,
        code::ATOMIC_AGGREGATE => len == 0,
        code::AGGREGATOR => len == if ctx.four_octet_as { 8 } else { 6 },
        code::COMMUNITIES => len != 0 && len % 4 == 0,
        code::EXTENDED_COMMUNITIES => len != 0 && len % 8 == 0,
        code::LARGE_COMMUNITIES => len != 0 && len % 12 == 0,
        code::AS4_PATH => {
            !ctx.four_octet_as && len >= 6 && len % 2 == 0 && validate_as_path(v, 4).is_ok()
        }
        code::AS4_AGGREGATOR => !ctx.four_octet_as && len == 8,
        code::MP_REACH_NLRI => MpReachView::parse(v, ctx).is_ok(),
        code::MP_UNREACH_NLRI => MpUnreachView::parse(v, ctx).is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::{Family, FamilySet};
    use proptest::prelude::*;

    /// One attribute: flags, type and value drawn so that both valid and invalid ones
    /// (bad flags, lengths, values, repeats, unknown types) are common.
    fn attribute() -> impl Strategy<Value = Vec<u8>> {
        let types = prop_oneof![
            Just(code::ORIGIN),
            Just(code::AS_PATH),
            Just(code::NEXT_HOP),
            Just(code::MULTI_EXIT_DISC),
            Just(code::LOCAL_PREF),
            Just(code::ATOMIC_AGGREGATE),
            Just(code::AGGREGATOR),
            Just(code::COMMUNITIES),
            Just(code::ORIGINATOR_ID),
            Just(code::CLUSTER_LIST),
            Just(code::MP_REACH_NLRI),
            Just(code::MP_UNREACH_NLRI),
            Just(code::EXTENDED_COMMUNITIES),
            Just(code::AS4_PATH),
            Just(code::AS4_AGGREGATOR),
            Just(code::LARGE_COMMUNITIES),
            Just(code::IPV6_EXTENDED_COMMUNITIES),
            any::<u8>(),
        ];
        let value = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..4),
            proptest::collection::vec(any::<u8>(), 4..=4),
            // AS_PATH-like: a segment of 1-3 4-octet ASes.
            (1u8..=2, 1u8..=3, any::<[u8; 12]>()).prop_map(|(t, n, a)| {
                let mut v = vec![t, n];
                v.extend_from_slice(&a[..usize::from(n) * 4]);
                v
            }),
            // MP_UNREACH_NLRI-like: IPv4 or IPv6 unicast and a few prefix octets.
            (1u8..=2, proptest::collection::vec(any::<u8>(), 0..6)).prop_map(|(afi, n)| {
                let mut v = vec![0, afi, 1];
                v.extend(n);
                v
            }),
            proptest::collection::vec(any::<u8>(), 0..30),
        ];
        let fl = prop_oneof![
            Just(0x40u8),
            Just(0x80),
            Just(0xc0),
            Just(0x50),
            any::<u8>()
        ];
        (fl, types, value).prop_map(|(fl, t, v)| {
            let mut a = vec![fl, t];
            if fl & flags::EXTENDED_LENGTH != 0 {
                a.extend_from_slice(&(v.len() as u16).to_be_bytes());
            } else {
                a.push(v.len() as u8);
            }
            a.extend(v);
            a
        })
    }

    fn message(attrs: &[Vec<u8>], nlri: &[u8], cut: usize) -> Vec<u8> {
        let mut field: Vec<u8> = attrs.concat();
        field.truncate(field.len().saturating_sub(cut));
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&((23 + field.len() + nlri.len()) as u16).to_be_bytes());
        m.push(2);
        m.extend_from_slice(&[0, 0]);
        m.extend_from_slice(&(field.len() as u16).to_be_bytes());
        m.extend(field);
        m.extend_from_slice(nlri);
        m
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The fast walk never changes the outcome: whenever it accepts an UPDATE, the
        /// complete walk gives the same view, and every other UPDATE takes the complete
        /// walk anyway.
        #[test]
        fn fast_walk_gives_the_same_view_as_the_complete_walk(
            attrs in proptest::collection::vec(attribute(), 0..7),
            nlri in prop_oneof![
                Just(vec![]),
                Just(vec![24, 10, 0, 1]),
                Just(vec![0]),
                // Up to 20 prefixes (some past the 16 whose sizes are recorded).
                proptest::collection::vec((0u8..=32, any::<u32>()), 1..20).prop_map(|v| {
                    let mut b = Vec::new();
                    for (l, a) in v {
                        b.push(l);
                        b.extend_from_slice(&a.to_be_bytes()[..usize::from(l).div_ceil(8)]);
                    }
                    b
                }),
                proptest::collection::vec(any::<u8>(), 1..12),
            ],
            cut in prop_oneof![Just(0usize), 0usize..3],
            four in any::<bool>(),
            external in any::<bool>(),
            add_path_v6 in any::<bool>(),
        ) {
            let mut add_path = FamilySet::EMPTY;
            if add_path_v6 {
                add_path.insert(Family::IPV6_UNICAST);
            }
            let ctx = SessionContext { four_octet_as: four, external, add_path, ..Default::default() };
            let msg = message(&attrs, &nlri, cut);
            let fast = Update::decode_with(&msg, &ctx, true);
            let complete = Update::decode_with(&msg, &ctx, false);
            prop_assert_eq!(format!("{fast:?}"), format!("{complete:?}"));
        }
    }

    #[test]
    fn a_well_formed_update_takes_the_fast_walk() {
        let attrs = [
            vec![0x40, code::ORIGIN, 1, 0],
            vec![0x40, code::AS_PATH, 6, 2, 1, 0, 0, 0xfd, 0xe9],
            vec![0x40, code::NEXT_HOP, 4, 10, 0, 0, 1],
            vec![0x80, code::MULTI_EXIT_DISC, 4, 0, 0, 0, 5],
            vec![0xc0, code::COMMUNITIES, 4, 0xfd, 0xe8, 0, 1],
        ];
        let msg = message(&attrs, &[24, 10, 0, 1], 0);
        let ctx = SessionContext::ebgp();
        let mut u = Update::decode(&msg, &ctx).unwrap();
        assert_eq!(u.walk_fast(), Some(u.present));
        assert_eq!(u.n_attrs, 5);
        // A repeated attribute is left to the complete walk.
        let mut twice = attrs.to_vec();
        twice.push(attrs[3].clone());
        let msg = message(&twice, &[24, 10, 0, 1], 0);
        let mut u = Update::decode(&msg, &ctx).unwrap();
        assert_eq!(u.walk_fast(), None);
        assert_eq!(u.issues().iter().count(), 1);
    }
}
