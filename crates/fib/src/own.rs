//! Our own routes in the kernel (BGP routes and static routes we installed), with the
//! next hops they were installed with: what a BGP next hop that no kernel route reaches
//! is resolved through, as zebra resolves iBGP next hops through BGP routes.
//!
//! Routes share their next-hop sets (a full table has a handful of distinct ones), so a
//! route costs its address and a 4-byte set id, in a table per prefix length: 18 MB for a
//! full IPv4 table, where one table keyed by [`Prefix`] took 50 MB.

use std::collections::HashMap;
use std::net::IpAddr;

use bgp_wire::Prefix;

use crate::program::FibNextHop;

/// How many of our own routes deep a next hop may be resolved: a route resolved through
/// one of ours has its depth plus one, and is not usable beyond this. Routes that resolve
/// through each other (a loop left when the route under them goes) climb by one at each
/// re-resolution, so a loop is broken after at most this many rounds.
pub const MAX_DEPTH: u8 = 3;

/// The next hops one of our routes was installed with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnRoute {
    /// Directly connected gateways (already resolved).
    pub hops: Vec<FibNextHop>,
    /// IGP cost of reaching them (the cost of the route's own resolution).
    pub metric: u32,
    /// 0 when resolved through the kernel's routes, else one more than the route of ours
    /// it was resolved through.
    pub depth: u8,
}

/// Our installed routes.
#[derive(Debug, Clone, Default)]
pub struct OwnRoutes {
    /// IPv4 routes by prefix length, then address: their next-hop set.
    v4: Vec<HashMap<u32, u32>>,
    /// IPv6 routes likewise.
    v6: Vec<HashMap<u128, u32>>,
    len: usize,
    /// Next-hop sets with their reference counts; free slots have count 0.
    sets: Vec<(OwnRoute, u32)>,
    index: HashMap<OwnRoute, u32>,
    free: Vec<u32>,
    /// The set last used: routes come in runs with the same next hops.
    last: Option<u32>,
}

impl OwnRoutes {
    fn id(&self, p: Prefix) -> Option<u32> {
        match p {
            Prefix::V4(q) => self
                .v4
                .get(usize::from(q.prefix_len()))?
                .get(&q.addr_bits()),
            Prefix::V6(q) => self
                .v6
                .get(usize::from(q.prefix_len()))?
                .get(&q.addr().to_bits()),
        }
        .copied()
    }

    fn set_id(&mut self, p: Prefix, id: u32) -> Option<u32> {
        match p {
            Prefix::V4(q) => {
                self.v4.resize_with(33, HashMap::new);
                self.v4[usize::from(q.prefix_len())].insert(q.addr_bits(), id)
            }
            Prefix::V6(q) => {
                self.v6.resize_with(129, HashMap::new);
                self.v6[usize::from(q.prefix_len())].insert(q.addr().to_bits(), id)
            }
        }
    }

    fn take_id(&mut self, p: Prefix) -> Option<u32> {
        match p {
            Prefix::V4(q) => self
                .v4
                .get_mut(usize::from(q.prefix_len()))?
                .remove(&q.addr_bits()),
            Prefix::V6(q) => self
                .v6
                .get_mut(usize::from(q.prefix_len()))?
                .remove(&q.addr().to_bits()),
        }
    }

    /// Records that `prefix` is installed with `hops` (non-empty), reached at `metric`,
    /// `depth` routes of ours deep. Returns whether anything changed.
    pub fn insert(&mut self, prefix: Prefix, hops: &[FibNextHop], metric: u32, depth: u8) -> bool {
        let same = |r: &OwnRoute| r.hops == hops && r.metric == metric && r.depth == depth;
        let old = self.id(prefix);
        if let Some(id) = old {
            if same(&self.sets[id as usize].0) {
                return false;
            }
        }
        let last = self
            .last
            .filter(|&id| self.sets[id as usize].1 > 0 && same(&self.sets[id as usize].0));
        let key = || OwnRoute {
            hops: hops.to_vec(),
            metric,
            depth,
        };
        let id = match last.or_else(|| self.index.get(&key()).copied()) {
            Some(id) => id,
            None => {
                let key = key();
                let id = match self.free.pop() {
                    Some(id) => {
                        self.sets[id as usize] = (key.clone(), 0);
                        id
                    }
                    None => {
                        self.sets.push((key.clone(), 0));
                        u32::try_from(self.sets.len() - 1).expect("fewer than 2^32 sets")
                    }
                };
                self.index.insert(key, id);
                id
            }
        };
        self.sets[id as usize].1 += 1;
        self.last = Some(id);
        self.set_id(prefix, id);
        match old {
            Some(old) => self.release(old),
            None => self.len += 1,
        }
        true
    }

    /// Forgets `prefix`; returns whether it was there.
    pub fn remove(&mut self, prefix: Prefix) -> bool {
        match self.take_id(prefix) {
            Some(id) => {
                self.release(id);
                self.len -= 1;
                true
            }
            None => false,
        }
    }

    fn release(&mut self, id: u32) {
        let (route, refs) = &mut self.sets[id as usize];
        *refs -= 1;
        if *refs == 0 {
            let route = std::mem::replace(
                route,
                OwnRoute {
                    hops: Vec::new(),
                    metric: 0,
                    depth: 0,
                },
            );
            self.index.remove(&route);
            self.free.push(id);
        }
    }

    /// Whether `prefix` is installed.
    pub fn contains(&self, prefix: Prefix) -> bool {
        self.id(prefix).is_some()
    }

    /// How `prefix` is installed.
    pub fn get(&self, prefix: Prefix) -> Option<&OwnRoute> {
        self.id(prefix).map(|id| &self.sets[id as usize].0)
    }

    /// The number of routes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of distinct next-hop sets in use.
    pub fn sets(&self) -> usize {
        self.index.len()
    }

    /// Our routes covering `addr` that are at least `min_len` long, longest first,
    /// `exclude` left out.
    pub fn covering(
        &self,
        addr: IpAddr,
        min_len: u8,
        exclude: Option<Prefix>,
    ) -> impl Iterator<Item = (Prefix, &OwnRoute)> + '_ {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let used = move |l: u8| match addr {
            IpAddr::V4(_) => self.v4.get(usize::from(l)).is_some_and(|m| !m.is_empty()),
            IpAddr::V6(_) => self.v6.get(usize::from(l)).is_some_and(|m| !m.is_empty()),
        };
        (min_len..=max)
            .rev()
            .filter(move |&l| used(l))
            .filter_map(move |l| Prefix::new(addr, l))
            .filter(move |p| Some(*p) != exclude)
            .filter_map(move |p| self.get(p).map(|r| (p, r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(g: &str) -> FibNextHop {
        FibNextHop {
            gateway: g.parse().unwrap(),
            ifindex: Some(2),
        }
    }

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn routes_with_the_same_next_hops_share_one_set_which_goes_with_the_last_of_them() {
        let mut o = OwnRoutes::default();
        let a = [hop("10.0.5.2")];
        assert!(o.insert(p("10.1.0.0/24"), &a, 0, 0));
        assert!(o.insert(p("10.1.1.0/24"), &a, 0, 0));
        assert!(!o.insert(p("10.1.1.0/24"), &a, 0, 0), "unchanged");
        assert_eq!((o.len(), o.sets()), (2, 1));
        assert!(o.insert(p("10.1.1.0/24"), &[hop("10.0.5.3")], 0, 0));
        assert_eq!(o.sets(), 2);
        assert!(o.remove(p("10.1.0.0/24")));
        assert!(!o.remove(p("10.1.0.0/24")));
        assert_eq!((o.len(), o.sets()), (1, 1));
        assert_eq!(o.get(p("10.1.1.0/24")).unwrap().hops, [hop("10.0.5.3")]);
    }

    #[test]
    fn covering_routes_come_longest_first_without_the_excluded_one() {
        let mut o = OwnRoutes::default();
        for (r, g) in [
            ("10.0.0.0/8", "10.0.5.2"),
            ("10.9.0.0/16", "10.0.5.3"),
            ("10.9.9.9/32", "10.0.5.4"),
        ] {
            o.insert(p(r), &[hop(g)], 0, 0);
        }
        let addr = "10.9.9.9".parse().unwrap();
        let all: Vec<Prefix> = o.covering(addr, 0, None).map(|(p, _)| p).collect();
        assert_eq!(all, [p("10.9.9.9/32"), p("10.9.0.0/16"), p("10.0.0.0/8")]);
        let rest: Vec<Prefix> = o
            .covering(addr, 9, Some(p("10.9.9.9/32")))
            .map(|(p, _)| p)
            .collect();
        assert_eq!(rest, [p("10.9.0.0/16")]);
        assert_eq!(o.covering("192.0.2.1".parse().unwrap(), 0, None).count(), 0);
    }
}
