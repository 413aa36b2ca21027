//! The decision process (RFC 4271 §9.1.2 with the usual tie-breakers of RFC 4456 §9 and
//! today's speakers), as a total order per comparison and deterministic-MED selection.
//!
//! Steps, in order: next hop reachable; highest LOCAL_PREF; shortest AS_PATH; lowest ORIGIN;
//! lowest MED (between paths from the same neighbor AS unless `always-compare-med`; a
//! missing MED counts as 0, or as the worst with `missing-as-worst`); eBGP over iBGP; lowest
//! IGP cost to the next hop; lowest router id (ORIGINATOR_ID if present); shortest
//! CLUSTER_LIST; lowest peer address.
//!
//! MED makes pairwise comparison non-transitive across neighbor ASes. Selection therefore
//! groups paths by neighbor AS, picks each group's best with MED, then compares the group
//! winners without MED (what FRR calls deterministic MED): the result does not depend on
//! the order paths arrived in.

use std::cmp::Ordering;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use super::attrs::Attrs;

/// A step of the decision process: the reason a path lost to the best one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Rejected by import policy.
    Rejected,
    /// Its next hop is unreachable.
    NexthopUnreachable,
    /// Lower LOCAL_PREF.
    LocalPref,
    /// Longer AS_PATH.
    AsPathLength,
    /// Higher ORIGIN.
    Origin,
    /// Higher MED.
    Med,
    /// iBGP path against an eBGP one.
    EbgpOverIbgp,
    /// Higher IGP cost to the next hop.
    IgpCost,
    /// Higher router id (or ORIGINATOR_ID).
    RouterId,
    /// Longer CLUSTER_LIST.
    ClusterListLength,
    /// Higher peer address.
    PeerAddress,
    /// Identical on every step (another path of the same peer won arbitrarily).
    Equal,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Rejected => "rejected by import policy",
            Step::NexthopUnreachable => "next hop unreachable",
            Step::LocalPref => "lower local-pref",
            Step::AsPathLength => "longer AS path",
            Step::Origin => "worse origin",
            Step::Med => "higher MED",
            Step::EbgpOverIbgp => "iBGP path, eBGP preferred",
            Step::IgpCost => "higher IGP cost",
            Step::RouterId => "higher router id",
            Step::ClusterListLength => "longer cluster list",
            Step::PeerAddress => "higher peer address",
            Step::Equal => "equal to the best path",
        })
    }
}

/// Options of the decision process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecisionOptions {
    /// Compare MED between paths from different neighbor ASes.
    pub always_compare_med: bool,
    /// Treat a missing MED as the worst value instead of 0.
    pub missing_med_worst: bool,
    /// Local AS (neighbor AS of paths with an empty AS_PATH).
    pub local_asn: u32,
}

/// One candidate path with everything the comparison needs.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Its attributes.
    pub attrs: &'a Attrs,
    /// The sending peer's BGP identifier (the local one for local routes).
    pub peer_router_id: Ipv4Addr,
    /// The sending peer's address (unspecified for local routes).
    pub peer_address: IpAddr,
    /// Learned over eBGP.
    pub external: bool,
    /// IGP cost to the next hop, or `None` if unreachable.
    pub igp_cost: Option<u32>,
    /// Whether import policy rejected it.
    pub rejected: bool,
}

impl Candidate<'_> {
    /// Whether it can be selected at all.
    pub fn eligible(&self) -> bool {
        !self.rejected && self.igp_cost.is_some()
    }

    fn neighbor_as(&self, local: u32) -> u32 {
        self.attrs
            .as_path
            .segments
            .iter()
            .find(|s| !s.kind.is_confed())
            .and_then(|s| s.asns.first().copied())
            .unwrap_or(local)
    }

    fn med(&self, opts: &DecisionOptions) -> u32 {
        self.attrs
            .med
            .unwrap_or(if opts.missing_med_worst { u32::MAX } else { 0 })
    }
}

/// Compares two eligible candidates; `Less` means `a` is preferred. Returns the deciding
/// step. With `with_med`, MED is compared regardless of neighbor AS (callers pass it only
/// for paths of one neighbor AS, or with always-compare-med).
pub fn compare(
    a: &Candidate<'_>,
    b: &Candidate<'_>,
    with_med: bool,
    opts: &DecisionOptions,
) -> (Ordering, Step) {
    let steps: [(Ordering, Step); 11] = [
        (b.eligible().cmp(&a.eligible()), Step::NexthopUnreachable),
        (
            b.attrs
                .local_pref
                .unwrap_or(100)
                .cmp(&a.attrs.local_pref.unwrap_or(100)),
            Step::LocalPref,
        ),
        (
            a.attrs.as_path.path_len().cmp(&b.attrs.as_path.path_len()),
            Step::AsPathLength,
        ),
        (a.attrs.origin.cmp(&b.attrs.origin), Step::Origin),
        (
            if with_med {
                a.med(opts).cmp(&b.med(opts))
            } else {
                Ordering::Equal
            },
            Step::Med,
        ),
        (b.external.cmp(&a.external), Step::EbgpOverIbgp),
        (
            a.igp_cost
                .unwrap_or(u32::MAX)
                .cmp(&b.igp_cost.unwrap_or(u32::MAX)),
            Step::IgpCost,
        ),
        (router_id(a).cmp(&router_id(b)), Step::RouterId),
        (
            a.attrs.cluster_list.len().cmp(&b.attrs.cluster_list.len()),
            Step::ClusterListLength,
        ),
        (a.peer_address.cmp(&b.peer_address), Step::PeerAddress),
        (Ordering::Equal, Step::Equal),
    ];
    steps
        .into_iter()
        .find(|(o, _)| *o != Ordering::Equal)
        .unwrap_or((Ordering::Equal, Step::Equal))
}

fn router_id(c: &Candidate<'_>) -> u32 {
    u32::from(c.attrs.originator_id.unwrap_or(c.peer_router_id))
}

/// Whether `b` may share traffic with the best path `a`: equal up to and including the
/// IGP cost step, with the same AS path, or with `relax`
/// (`bestpath as-path multipath-relax`) any AS path of the same length.
pub fn multipath_equal(
    a: &Candidate<'_>,
    b: &Candidate<'_>,
    relax: bool,
    opts: &DecisionOptions,
) -> bool {
    if !a.eligible() || !b.eligible() || (!relax && a.attrs.as_path != b.attrs.as_path) {
        return false;
    }
    let same_as = a.neighbor_as(opts.local_asn) == b.neighbor_as(opts.local_asn);
    let (ord, step) = compare(a, b, same_as || opts.always_compare_med, opts);
    ord == Ordering::Equal || step > Step::IgpCost
}

/// Selects the best path: returns its index, or `None` if no candidate is eligible.
pub fn select(cands: &[Candidate<'_>], opts: &DecisionOptions) -> Option<usize> {
    let mut group_best: Vec<(u32, usize)> = Vec::new();
    for (i, c) in cands.iter().enumerate() {
        if !c.eligible() {
            continue;
        }
        let nas = if opts.always_compare_med {
            0
        } else {
            c.neighbor_as(opts.local_asn)
        };
        match group_best.iter_mut().find(|(a, _)| *a == nas) {
            Some((_, best)) => {
                if compare(c, &cands[*best], true, opts).0 == Ordering::Less {
                    *best = i;
                }
            }
            None => group_best.push((nas, i)),
        }
    }
    let mut best: Option<usize> = None;
    for &(_, i) in &group_best {
        best = match best {
            None => Some(i),
            Some(b) => {
                let with_med = opts.always_compare_med;
                if compare(&cands[i], &cands[b], with_med, opts).0 == Ordering::Less {
                    Some(i)
                } else {
                    Some(b)
                }
            }
        };
    }
    best
}

/// Why `loser` is not the best path `best`.
pub fn reason(loser: &Candidate<'_>, best: &Candidate<'_>, opts: &DecisionOptions) -> Step {
    if loser.rejected {
        return Step::Rejected;
    }
    if loser.igp_cost.is_none() {
        return Step::NexthopUnreachable;
    }
    let same_as = loser.neighbor_as(opts.local_asn) == best.neighbor_as(opts.local_asn);
    compare(best, loser, same_as || opts.always_compare_med, opts).1
}

#[cfg(test)]
mod tests;
