//! The monitor's view of what it holds: every prefix the DUT announced and did not
//! withdraw since.
//!
//! Prefixes of the injector's plan live in a bitmap (one bit per prefix, a counter of bits
//! set), so a full table costs 125 kB and a few nanoseconds per route; anything else the
//! DUT sends (it should send nothing else) goes to a small hash set and is reported.

use std::collections::HashSet;

use bgp_wire::{Family, Ipv4Prefix, Prefix, Update};

use crate::stream::PrefixPlan;

/// Routes held by the monitor.
#[derive(Debug, Clone)]
pub struct Held {
    plan: PrefixPlan,
    bits: Vec<u64>,
    held: u32,
    others: HashSet<Prefix>,
    /// Announcements seen (a re-announcement counts again).
    pub announcements: u64,
    /// Withdrawals seen (including those of prefixes not held).
    pub withdrawals: u64,
    /// UPDATEs applied.
    pub updates: u64,
    /// End-of-RIB markers seen.
    pub end_of_ribs: u64,
}

impl Held {
    /// Nothing held yet; `plan` says which prefixes are expected.
    pub fn new(plan: PrefixPlan) -> Self {
        Held {
            plan,
            bits: vec![0; (plan.len() as usize).div_ceil(64)],
            held: 0,
            others: HashSet::new(),
            announcements: 0,
            withdrawals: 0,
            updates: 0,
            end_of_ribs: 0,
        }
    }

    /// Prefixes of the plan held now.
    #[inline]
    pub fn held(&self) -> u32 {
        self.held
    }

    /// Prefixes outside the plan held now.
    pub fn others(&self) -> usize {
        self.others.len()
    }

    /// Whether every prefix of the plan is held.
    #[inline]
    pub fn complete(&self) -> bool {
        self.held == self.plan.len()
    }

    /// Records an announcement.
    #[inline]
    pub fn announce(&mut self, p: Prefix) {
        self.announcements += 1;
        match self.slot(p) {
            Some((w, b)) => {
                if self.bits[w] & b == 0 {
                    self.bits[w] |= b;
                    self.held += 1;
                }
            }
            None => {
                self.others.insert(p);
            }
        }
    }

    /// Records a withdrawal.
    #[inline]
    pub fn withdraw(&mut self, p: Prefix) {
        self.withdrawals += 1;
        match self.slot(p) {
            Some((w, b)) => {
                if self.bits[w] & b != 0 {
                    self.bits[w] &= !b;
                    self.held -= 1;
                }
            }
            None => {
                self.others.remove(&p);
            }
        }
    }

    /// Applies a decoded UPDATE: withdrawals first, then announcements (RFC 4271 §9; an
    /// UPDATE to be treated as withdraw only withdraws).
    #[inline]
    pub fn apply(&mut self, u: &Update<'_>) {
        self.updates += 1;
        if u.end_of_rib().is_some() {
            self.end_of_ribs += 1;
            return;
        }
        for (_, n) in u.withdrawals() {
            self.withdraw(n.prefix);
        }
        for (f, n) in u.announced() {
            if f == Family::IPV4_UNICAST {
                self.announce(n.prefix);
            } else {
                self.announcements += 1;
                self.others.insert(n.prefix);
            }
        }
    }

    #[inline]
    fn slot(&self, p: Prefix) -> Option<(usize, u64)> {
        let Prefix::V4(v4) = p else { return None };
        let i = self.index(v4)?;
        Some(((i / 64) as usize, 1u64 << (i % 64)))
    }

    #[inline]
    fn index(&self, p: Ipv4Prefix) -> Option<u32> {
        self.plan.index_of(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{Stream, StreamSpec};
    use bgp_wire::{Message, SessionContext, UpdatePacker};
    use std::net::Ipv4Addr;

    fn plan(n: u32) -> PrefixPlan {
        PrefixPlan::new(n).unwrap()
    }

    fn p(plan: &PrefixPlan, i: u32) -> Prefix {
        Prefix::V4(plan.prefix(i).unwrap())
    }

    #[test]
    fn announce_withdraw_and_reannounce_are_counted_once() {
        let pl = plan(130);
        let mut h = Held::new(pl);
        for i in 0..130 {
            h.announce(p(&pl, i));
        }
        assert!(h.complete());
        h.announce(p(&pl, 5)); // duplicate
        assert_eq!(h.held(), 130);
        h.withdraw(p(&pl, 129));
        h.withdraw(p(&pl, 129)); // withdrawing twice is harmless
        assert_eq!(h.held(), 129);
        assert!(!h.complete());
        h.announce(p(&pl, 129));
        assert!(h.complete());
        assert_eq!(h.announcements, 132);
        assert_eq!(h.withdrawals, 2);
    }

    #[test]
    fn strangers_are_kept_apart() {
        let pl = plan(10);
        let mut h = Held::new(pl);
        let other = Prefix::V4(Ipv4Prefix::new(Ipv4Addr::new(192, 0, 2, 0), 24).unwrap());
        h.announce(other);
        assert_eq!((h.held(), h.others()), (0, 1));
        h.withdraw(other);
        assert_eq!(h.others(), 0);
        // Same address, other length: not in the plan.
        let longer = Prefix::V4(Ipv4Prefix::new(Ipv4Addr::new(16, 0, 0, 0), 25).unwrap());
        h.announce(longer);
        assert_eq!((h.held(), h.others()), (0, 1));
    }

    #[test]
    fn applying_the_injector_stream_holds_everything() {
        let spec = StreamSpec {
            prefixes: 20_000,
            sets: 2_000,
            local_as: 65001,
            next_hop: Ipv4Addr::new(10, 99, 1, 2),
            avoid: [65000, 65002],
            seed: 7,
        };
        let st = Stream::generate(&spec).unwrap();
        let ctx = SessionContext::ebgp();
        let mut h = Held::new(st.plan);
        let mut pos = 0;
        while pos < st.bytes.len() {
            let (m, len) = Message::decode(&st.bytes[pos..], &ctx).unwrap();
            if let Message::Update(u) = m {
                h.apply(&u);
            }
            pos += len;
        }
        assert!(h.complete());
        assert_eq!(h.end_of_ribs, 1);
        assert_eq!(h.updates, u64::from(st.updates) + 1);

        // A withdrawal UPDATE for the first 100 prefixes takes them away again.
        let mut w = Vec::new();
        let nlri = (0..100).map(|i| bgp_wire::Nlri::new(st.plan.prefix(i).unwrap()));
        UpdatePacker::new(ctx).withdraw(Family::IPV4_UNICAST, nlri, &mut w);
        let mut pos = 0;
        while pos < w.len() {
            let (m, len) = Message::decode(&w[pos..], &ctx).unwrap();
            if let Message::Update(u) = m {
                h.apply(&u);
            }
            pos += len;
        }
        assert_eq!(h.held(), 19_900);
        assert_eq!(h.withdrawals, 100);
    }
}
