//! The injector's UPDATE stream, encoded once before the clock starts.
//!
//! `prefixes` IPv4 /24s, consecutive from [`PrefixPlan::BASE`], are split into `sets`
//! groups of (almost) equal size; every group shares one attribute set and goes out in as
//! few UPDATEs as fit 4096 octets (one UPDATE for the default ten prefixes per set). Each
//! attribute set is ORIGIN, an AS_PATH of 4 to 7 hops starting with the injector's AS,
//! NEXT_HOP (the injector's address), MULTI_EXIT_DISC = the set's index (so no two sets
//! are equal) and one community out of a pool of [`COMMUNITIES`] (`local_as:1` to
//! `local_as:16`). The pool is small on purpose: FRR 8.4 keeps an 8 KiB string per
//! distinct community value, so a community per set would add 65,536 × 8 KiB = 537 MB to
//! FRR's peak and measure that quirk rather than table processing. AS numbers after the first are drawn from a
//! seeded generator among public 2-octet and 4-octet ASNs, never the DUT's or the
//! monitor's, so no route is dropped by AS-path loop detection.

use std::net::Ipv4Addr;

use bgp_wire::update::owned::encode_attributes;
use bgp_wire::{
    AsPath, AttributeValue, Community, Ipv4Prefix, Nlri, Origin, PathAttribute, SessionContext,
    UpdatePacker,
};

/// Largest number of prefixes the plan can hold: /24s from 16.0.0.0 stay below 127.0.0.0.
pub const MAX_PREFIXES: u32 = 6_000_000;

/// Number of distinct community values the stream uses.
pub const COMMUNITIES: u32 = 16;

/// Shortest and longest AS_PATH, in hops, the injector sends.
pub const PATH_LEN: (usize, usize) = (4, 7);

/// Why a stream cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// Zero or too many prefixes.
    #[error("--prefixes {0} is out of range: it must be between 1 and {MAX_PREFIXES}")]
    Prefixes(u32),
    /// Zero sets, or more sets than prefixes.
    #[error("--sets {sets} is out of range: it must be between 1 and the number of prefixes ({prefixes})")]
    Sets {
        /// Sets asked for.
        sets: u32,
        /// Prefixes asked for.
        prefixes: u32,
    },
    /// The codec refused an UPDATE (cannot happen with these sizes; kept for honesty).
    #[error("encoding the UPDATE of attribute set {set}: {source}")]
    Encode {
        /// Attribute set index.
        set: u32,
        /// Codec error.
        source: bgp_wire::EncodeError,
    },
}

/// Where the injector's prefixes lie: `count` consecutive /24s from [`Self::BASE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixPlan {
    count: u32,
}

impl PrefixPlan {
    /// The first prefix, 16.0.0.0/24 (clear of the 10.99.x.y link addresses).
    pub const BASE: u32 = 16 << 24;

    /// A plan of `count` prefixes.
    pub fn new(count: u32) -> Result<Self, StreamError> {
        if count == 0 || count > MAX_PREFIXES {
            return Err(StreamError::Prefixes(count));
        }
        Ok(PrefixPlan { count })
    }

    /// Number of prefixes.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Always false: a plan holds at least one prefix.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The `i`-th prefix, `None` past the end of the plan.
    pub fn prefix(&self, i: u32) -> Option<Ipv4Prefix> {
        if i >= self.count {
            return None;
        }
        Ipv4Prefix::new(Ipv4Addr::from(Self::BASE + (i << 8)), 24)
    }

    /// The index of `p` in the plan, if it is one of its prefixes.
    #[inline]
    pub fn index_of(&self, p: Ipv4Prefix) -> Option<u32> {
        if p.prefix_len() != 24 {
            return None;
        }
        let off = p.addr_bits().checked_sub(Self::BASE)? >> 8;
        (off < self.count).then_some(off)
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSpec {
    /// Number of prefixes.
    pub prefixes: u32,
    /// Number of distinct attribute sets.
    pub sets: u32,
    /// The injector's AS (first hop of every AS_PATH).
    pub local_as: u32,
    /// NEXT_HOP of every route.
    pub next_hop: Ipv4Addr,
    /// AS numbers that must not appear after the first hop (the DUT's and monitor's).
    pub avoid: [u32; 2],
    /// Seed of the AS path generator.
    pub seed: u64,
}

/// An encoded stream of UPDATEs, cut into chunks at message boundaries.
#[derive(Debug, Clone)]
pub struct Stream {
    /// Every UPDATE, then the IPv4 End-of-RIB marker.
    pub bytes: Vec<u8>,
    /// Offsets where the writer may stop between two messages (each chunk ~64 KiB); the
    /// last one is `bytes.len()`.
    pub chunk_ends: Vec<usize>,
    /// UPDATEs carrying routes (End-of-RIB not counted).
    pub updates: u32,
    /// The prefixes announced.
    pub plan: PrefixPlan,
    /// Number of attribute sets.
    pub sets: u32,
}

/// Target size of a write chunk.
const CHUNK: usize = 64 * 1024;

impl Stream {
    /// Generates and encodes the stream.
    pub fn generate(spec: &StreamSpec) -> Result<Self, StreamError> {
        let plan = PrefixPlan::new(spec.prefixes)?;
        if spec.sets == 0 || spec.sets > spec.prefixes {
            return Err(StreamError::Sets {
                sets: spec.sets,
                prefixes: spec.prefixes,
            });
        }
        let ctx = SessionContext::ebgp();
        let packer = UpdatePacker::new(ctx);
        let mut bytes = Vec::with_capacity(spec.sets as usize * 130 + spec.prefixes as usize * 4);
        let mut chunk_ends = Vec::new();
        let mut attrs = Vec::with_capacity(128);
        let mut updates = 0u32;
        let (n, sets) = (u64::from(spec.prefixes), u64::from(spec.sets));
        for s in 0..spec.sets {
            attrs.clear();
            encode_attributes(&attribute_set(spec, s), &ctx, &mut attrs);
            let lo = (u64::from(s) * n / sets) as u32;
            let hi = ((u64::from(s) + 1) * n / sets) as u32;
            let nlri = (lo..hi).filter_map(|i| plan.prefix(i)).map(Nlri::new);
            let count = packer
                .announce_ipv4(&attrs, nlri, &mut bytes)
                .map_err(|source| StreamError::Encode { set: s, source })?;
            updates += count as u32;
            let last = chunk_ends.last().copied().unwrap_or(0);
            if bytes.len() - last >= CHUNK {
                chunk_ends.push(bytes.len());
            }
        }
        packer.end_of_rib(bgp_wire::Family::IPV4_UNICAST, &mut bytes);
        chunk_ends.push(bytes.len());
        Ok(Stream {
            bytes,
            chunk_ends,
            updates,
            plan,
            sets: spec.sets,
        })
    }

    /// The chunks, in order.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let starts = std::iter::once(0).chain(self.chunk_ends.iter().copied());
        starts
            .zip(self.chunk_ends.iter().copied())
            .map(|(a, b)| &self.bytes[a..b])
    }
}

/// The attributes of set `s`.
pub fn attribute_set(spec: &StreamSpec, s: u32) -> Vec<PathAttribute> {
    let mut rng = SplitMix(spec.seed ^ (u64::from(s) << 20) ^ 0x9e37_79b9);
    let hops = PATH_LEN.0 + (rng.next() % (PATH_LEN.1 - PATH_LEN.0 + 1) as u64) as usize;
    let mut path = Vec::with_capacity(hops);
    path.push(spec.local_as);
    while path.len() < hops {
        let asn = random_public_asn(&mut rng);
        if !spec.avoid.contains(&asn) && asn != spec.local_as {
            path.push(asn);
        }
    }
    let origin = if s % 8 == 7 {
        Origin::Incomplete
    } else {
        Origin::Igp
    };
    let community = Community(((spec.local_as & 0xffff) << 16) | (1 + s % COMMUNITIES));
    vec![
        PathAttribute::new(AttributeValue::Origin(origin)),
        PathAttribute::new(AttributeValue::AsPath(AsPath::sequence(path))),
        PathAttribute::new(AttributeValue::NextHop(spec.next_hop)),
        PathAttribute::new(AttributeValue::MultiExitDisc(s)),
        PathAttribute::new(AttributeValue::Communities(vec![community])),
    ]
}

/// A public ASN: three in four 2-octet (1–64495 without AS_TRANS), one in four 4-octet
/// (131072–399999).
fn random_public_asn(rng: &mut SplitMix) -> u32 {
    let r = rng.next();
    if r % 4 == 3 {
        131_072 + ((r >> 8) % 268_928) as u32
    } else {
        let a = 1 + ((r >> 8) % 64_495) as u32;
        if a == 23_456 {
            23_457
        } else {
            a
        }
    }
}

/// SplitMix64: small, fast, deterministic.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_wire::{Disposition, Message};
    use std::collections::HashSet;

    fn spec(prefixes: u32, sets: u32) -> StreamSpec {
        StreamSpec {
            prefixes,
            sets,
            local_as: 65001,
            next_hop: Ipv4Addr::new(10, 99, 1, 2),
            avoid: [65000, 65002],
            seed: 1,
        }
    }

    /// Decodes the whole stream and checks every property the benchmark relies on.
    fn check(prefixes: u32, sets: u32) {
        let st = Stream::generate(&spec(prefixes, sets)).unwrap();
        let ctx = SessionContext::ebgp();
        let mut seen = HashSet::new();
        let mut attr_sets = HashSet::new();
        let (mut pos, mut updates, mut eor) = (0, 0, 0);
        let mut per_update = Vec::new();
        while pos < st.bytes.len() {
            let (m, len) = Message::decode(&st.bytes[pos..], &ctx).unwrap();
            let Message::Update(u) = m else {
                panic!("not an UPDATE at {pos}")
            };
            assert_eq!(u.disposition(), Disposition::Normal);
            assert!(u.issues().is_empty());
            if u.end_of_rib().is_some() {
                eor += 1;
                assert_eq!(pos + len, st.bytes.len(), "End-of-RIB comes last");
            } else {
                updates += 1;
                let path = u.as_path().unwrap();
                assert_eq!(path.first_as(), Some(65001));
                let hops = path.path_len();
                assert!((4..=7).contains(&hops), "{hops} hops");
                assert!(path.count(65000) == 0 && path.count(65002) == 0);
                assert_eq!(u.next_hop(), Some(Ipv4Addr::new(10, 99, 1, 2)));
                attr_sets.insert(u.attributes_bytes().to_vec());
                let n = u.nlri().count();
                per_update.push(n);
                for nlri in u.nlri() {
                    let bgp_wire::Prefix::V4(p) = nlri.prefix else {
                        panic!("IPv6 prefix")
                    };
                    let i = st.plan.index_of(p).unwrap();
                    assert!(seen.insert(i), "prefix {p} sent twice");
                }
            }
            pos += len;
        }
        assert_eq!(eor, 1);
        assert_eq!(updates, st.updates);
        assert_eq!(seen.len(), prefixes as usize);
        assert_eq!(attr_sets.len(), sets as usize);
        assert_eq!(*st.chunk_ends.last().unwrap(), st.bytes.len());
        assert_eq!(st.chunks().map(<[u8]>::len).sum::<usize>(), st.bytes.len());
        // Every chunk ends on a message boundary: each chunk decodes on its own.
        for c in st.chunks() {
            let mut p = 0;
            while p < c.len() {
                p += Message::decode(&c[p..], &ctx).unwrap().1;
            }
            assert_eq!(p, c.len());
        }
        if prefixes % sets == 0 {
            let per = (prefixes / sets) as usize;
            if per <= 10 {
                assert!(per_update.iter().all(|&n| n == per));
            }
        }
    }

    #[test]
    fn exact_prefix_and_attribute_set_counts() {
        check(10_000, 1_000);
        check(20_000, 2_000);
        check(1_000, 7); // uneven split, several UPDATEs per set
        check(5, 5);
        check(1, 1);
    }

    #[test]
    fn full_size_stream_has_one_million_prefixes_in_100k_sets() {
        check(1_000_000, 100_000);
    }

    #[test]
    fn path_lengths_cover_four_to_seven_hops_and_communities_a_small_pool() {
        let s = spec(10_000, 1_000);
        let lens: HashSet<usize> = (0..1_000)
            .map(|i| match &attribute_set(&s, i)[1].value {
                AttributeValue::AsPath(p) => p.path_len(),
                _ => 0,
            })
            .collect();
        assert_eq!(lens, (4..=7).collect());
        let communities: HashSet<Vec<Community>> = (0..1_000)
            .map(|i| match &attribute_set(&s, i)[4].value {
                AttributeValue::Communities(c) => c.clone(),
                _ => vec![],
            })
            .collect();
        assert_eq!(communities.len(), COMMUNITIES as usize);
    }

    #[test]
    fn bad_sizes_are_errors_not_panics() {
        assert_eq!(
            Stream::generate(&spec(0, 1)).unwrap_err(),
            StreamError::Prefixes(0)
        );
        assert!(Stream::generate(&spec(MAX_PREFIXES + 1, 1)).is_err());
        assert!(matches!(
            Stream::generate(&spec(10, 11)).unwrap_err(),
            StreamError::Sets { .. }
        ));
        assert!(Stream::generate(&spec(10, 0)).is_err());
    }

    #[test]
    fn plan_index_round_trips_and_rejects_strangers() {
        let plan = PrefixPlan::new(1_000_000).unwrap();
        for i in [0, 1, 65_535, 65_536, 999_999] {
            assert_eq!(plan.index_of(plan.prefix(i).unwrap()), Some(i));
        }
        let p = |a: [u8; 4], l| Ipv4Prefix::new(Ipv4Addr::from(a), l).unwrap();
        assert_eq!(plan.index_of(p([16, 0, 0, 0], 23)), None);
        assert_eq!(plan.index_of(p([15, 255, 255, 0], 24)), None);
        let past = plan.prefix(999_999).unwrap().addr_bits() + 256;
        assert_eq!(plan.prefix(1_000_000), None);
        assert_eq!(plan.index_of(p(past.to_be_bytes(), 24)), None);
        assert_eq!(plan.index_of(p([10, 99, 1, 0], 24)), None);
    }
}
