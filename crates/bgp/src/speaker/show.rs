//! Read-only views of the speaker for the API and the CLI (`show bgp ...`).

use std::net::IpAddr;

use bgp_wire::{Family, Prefix};
use serde::Serialize;

use super::{Counters, Ctx, PeerId, Speaker};
use crate::export::rules::{self, Source};
use crate::negotiate::RemoteAs;
use crate::rib::attrs::Attrs;
use crate::rib::decision;
use crate::rib::table::{path_flags, Dest, Path, LOCAL_PEER};
use crate::rib::{candidate, DecisionContext};

/// A neighbor as `show bgp neighbors` shows it (the runtime adds FSM state and times).
#[derive(Debug, Clone, Serialize)]
pub struct NeighborView {
    /// Peer id.
    pub id: PeerId,
    /// Address.
    pub address: IpAddr,
    /// Configured remote AS (`internal`, `external` or a number).
    pub remote_as: String,
    /// The AS the peer announced, once Established.
    pub peer_asn: Option<u32>,
    /// Our AS towards it.
    pub local_asn: u32,
    /// Description.
    pub description: Option<String>,
    /// Whether the session is Established.
    pub established: bool,
    /// Counters.
    pub counters: Counters,
    /// Prefixes advertised, IPv4 and IPv6.
    pub advertised: [u64; 2],
    /// RFC 8212 (`ebgp-requires-policy`): an eBGP peer without import policy, whose
    /// routes are not accepted.
    pub import_withheld: bool,
    /// RFC 8212: an eBGP peer without export policy, sent no routes.
    pub export_withheld: bool,
    /// Graceful shutdown (RFC 8326) is on for this peer.
    pub graceful_shutdown: bool,
    /// Session details when Established.
    pub session: Option<SessionView>,
}

/// What a session negotiated.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    /// Local address and port.
    pub local: String,
    /// Remote address and port.
    pub remote: String,
    /// The peer's BGP identifier.
    pub peer_id: String,
    /// eBGP or iBGP.
    pub kind: &'static str,
    /// Negotiated hold time.
    pub hold_time: u16,
    /// Keepalive interval.
    pub keepalive: u16,
    /// Families.
    pub families: Vec<String>,
    /// 4-octet AS numbers in use.
    pub four_octet_as: bool,
    /// Route refresh usable.
    pub route_refresh: bool,
    /// Enhanced route refresh usable.
    pub enhanced_route_refresh: bool,
    /// Extended messages.
    pub extended_message: bool,
    /// IPv6 next hops for IPv4 routes.
    pub extended_nexthop: bool,
    /// Peer's host name.
    pub peer_hostname: Option<String>,
    /// Capabilities the peer announced.
    pub peer_capabilities: Vec<String>,
    /// Changes still to send to the peer.
    pub pending_changes: usize,
}

/// One path of a route.
#[derive(Debug, Clone, Serialize)]
pub struct PathView {
    /// `local` or the peer address.
    pub from: String,
    /// ADD-PATH path id (0 without).
    pub path_id: u32,
    /// Next hop.
    pub next_hop: String,
    /// AS path.
    pub as_path: String,
    /// Origin.
    pub origin: String,
    /// MED.
    pub med: Option<u32>,
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
    /// Communities.
    pub communities: Vec<String>,
    /// Large communities.
    pub large_communities: Vec<String>,
    /// Extended communities.
    pub ext_communities: Vec<String>,
    /// ORIGINATOR_ID.
    pub originator_id: Option<String>,
    /// CLUSTER_LIST.
    pub cluster_list: Vec<String>,
    /// The best path.
    pub best: bool,
    /// Part of the multipath set.
    pub multipath: bool,
    /// Why it is not the best path.
    pub reason: Option<String>,
    /// Seconds since the destination's selection last changed, for the best path and its
    /// multipath companions (`None` for the others, or without a running clock; see
    /// [`crate::rib::clock`]).
    pub age_secs: Option<u64>,
    /// Rejected by import policy.
    pub rejected: bool,
    /// Stale (graceful restart / route refresh).
    pub stale: bool,
}

/// A destination and its paths.
#[derive(Debug, Clone, Serialize)]
pub struct RouteView {
    /// The prefix.
    pub prefix: String,
    /// Its paths, best first.
    pub paths: Vec<PathView>,
}

/// A route as sent to a peer.
#[derive(Debug, Clone, Serialize)]
pub struct AdvertisedView {
    /// The prefix.
    pub prefix: String,
    /// Next hop sent.
    pub next_hop: String,
    /// The AS path sent (after our AS and any export policy prepend).
    pub as_path: String,
}

/// Which routes to show.
#[derive(Debug, Clone, Copy, Default)]
pub struct RouteFilter {
    /// Only this prefix (exact) or, with `longer`, prefixes inside it.
    pub prefix: Option<Prefix>,
    /// Include more-specific prefixes of `prefix`.
    pub longer: bool,
    /// Only this family.
    pub family: Option<Family>,
    /// Only paths received from this peer (including rejected ones).
    pub received_from: Option<PeerId>,
}

impl Speaker {
    /// Every neighbor.
    pub fn neighbor_views(&self) -> Vec<NeighborView> {
        self.peer_ids()
            .filter_map(|id| self.neighbor_view(id))
            .collect()
    }

    /// One neighbor.
    pub fn neighbor_view(&self, id: PeerId) -> Option<NeighborView> {
        let p = self.peer(id)?;
        let s = p.session.as_ref();
        let session = s.map(|s| {
            let n = &s.negotiated;
            let pending = self.groups[s.out.group]
                .as_ref()
                .map_or(0, |g| (g.end() - s.out.cursor) as usize)
                + s.out
                    .walks
                    .iter()
                    .map(|w| {
                        let (v4, v6) = (self.rib.v4.id_bound(), self.rib.v6.id_bound());
                        let next = w.next as usize;
                        w.defaults.len()
                            + match (w.in_v6, w.v4, w.v6) {
                                (false, true, true) => v4.saturating_sub(next) + v6,
                                (false, true, false) => v4.saturating_sub(next),
                                (_, _, true) => v6.saturating_sub(next),
                                _ => 0,
                            }
                    })
                    .sum::<usize>();
            SessionView {
                local: s.local.to_string(),
                remote: s.remote.to_string(),
                peer_id: n.peer_id.to_string(),
                kind: if n.is_external() { "eBGP" } else { "iBGP" },
                hold_time: n.hold_time,
                keepalive: n.keepalive,
                families: n.families.iter().map(|f| f.to_string()).collect(),
                four_octet_as: n.rx.four_octet_as,
                route_refresh: n.route_refresh,
                enhanced_route_refresh: n.enhanced_route_refresh,
                extended_message: n.rx.extended_message,
                extended_nexthop: n.extended_nexthop,
                peer_hostname: n.peer_hostname.clone(),
                peer_capabilities: n.peer_capabilities.iter().map(|c| c.to_string()).collect(),
                pending_changes: pending,
            }
        });
        // Before the session is up, what the configured remote AS says.
        let external = s.map_or(p.spec.remote_as.is_external(p.spec.local_asn), |s| {
            s.negotiated.is_external()
        });
        Some(NeighborView {
            id,
            address: p.spec.address,
            remote_as: match p.spec.remote_as {
                RemoteAs::Asn(a) => a.to_string(),
                RemoteAs::Internal => "internal".into(),
                RemoteAs::External => "external".into(),
            },
            peer_asn: s.map(|s| s.negotiated.peer_asn),
            local_asn: p.spec.local_asn,
            description: p.spec.description.clone(),
            established: s.is_some(),
            counters: p.counters,
            advertised: s.map_or([0, 0], |s| s.out.advertised),
            import_withheld: self.cfg.withholds(external, p.spec.import.as_deref()),
            export_withheld: self.cfg.withholds(external, p.spec.export.as_deref()),
            graceful_shutdown: p.spec.graceful_shutdown,
            session,
        })
    }

    /// Routes of the Loc-RIB (or of one peer's Adj-RIB-In), in prefix order.
    pub fn routes(&self, f: &RouteFilter) -> Vec<RouteView> {
        let mut out = Vec::new();
        let wanted = |p: Prefix| match f.prefix {
            None => true,
            Some(q) if f.longer => q.contains(p),
            Some(q) => q == p,
        };
        if f.family.is_none_or(|x| x == Family::IPV4_UNICAST) {
            for p in self.rib.v4.sorted_prefixes() {
                let p = Prefix::V4(p);
                if wanted(p) {
                    self.push_route(p, f, &mut out);
                }
            }
        }
        if f.family.is_none_or(|x| x == Family::IPV6_UNICAST) {
            for p in self.rib.v6.sorted_prefixes() {
                let p = Prefix::V6(p);
                if wanted(p) {
                    self.push_route(p, f, &mut out);
                }
            }
        }
        out
    }

    fn push_route(&self, p: Prefix, f: &RouteFilter, out: &mut Vec<RouteView>) {
        let Some(d) = self.rib.dest(&p) else { return };
        let paths: Vec<PathView> = d
            .paths
            .as_slice()
            .iter()
            .enumerate()
            .filter(|(_, x)| f.received_from.is_none_or(|id| x.peer == id))
            .map(|(i, x)| self.path_view(d, i, x))
            .collect();
        if !paths.is_empty() {
            out.push(RouteView {
                prefix: p.to_string(),
                paths,
            });
        }
    }

    fn path_view(&self, d: &Dest, i: usize, p: &Path) -> PathView {
        let ctx = Ctx {
            cfg: &self.cfg,
            peers: &self.peers,
            resolver: &*self.resolver,
        };
        let a: &Attrs = self.rib.attrs.get(p.attrs);
        let selected = usize::from(d.selected);
        let reason = if i == 0 && selected > 0 {
            None
        } else {
            let me = candidate(p, &self.rib.attrs, &ctx);
            match d.best() {
                Some(b) => Some(
                    decision::reason(&me, &candidate(b, &self.rib.attrs, &ctx), &ctx.options())
                        .to_string(),
                ),
                None if me.rejected => Some(decision::Step::Rejected.to_string()),
                None => Some(decision::Step::NexthopUnreachable.to_string()),
            }
        };
        let reason = if i > 0 && i < selected { None } else { reason };
        PathView {
            from: if p.peer == LOCAL_PEER {
                "local".into()
            } else {
                self.peer(p.peer)
                    .map_or("?".into(), |x| x.spec.address.to_string())
            },
            path_id: p.path_id,
            next_hop: a.next_hop.to_string(),
            as_path: a.as_path.to_string(),
            origin: a.origin.to_string(),
            med: a.med,
            local_pref: a.local_pref,
            communities: a.communities.iter().map(|c| c.to_string()).collect(),
            large_communities: a.large_communities.iter().map(|c| c.to_string()).collect(),
            ext_communities: a.ext_communities.iter().map(|c| c.to_string()).collect(),
            originator_id: a.originator_id.map(|x| x.to_string()),
            cluster_list: a.cluster_list.iter().map(|x| x.to_string()).collect(),
            best: i == 0 && selected > 0,
            multipath: i > 0 && i < selected,
            reason,
            age_secs: (i < selected).then(|| self.age(d)).flatten(),
            rejected: p.flags & path_flags::REJECTED != 0,
            stale: p.flags & path_flags::STALE != 0,
        }
    }

    /// Seconds since `d`'s selection last changed (0 if since the last tick), if the
    /// runtime keeps the clock.
    fn age(&self, d: &Dest) -> Option<u64> {
        let clock = &self.rib.clock;
        if !clock.is_running() {
            return None;
        }
        Some(clock.when(d.stamp).map_or(0, |t| t.elapsed().as_secs()))
    }

    /// What a peer was sent (its Adj-RIB-Out), with the attributes it would get now.
    pub fn advertised_to(&self, id: PeerId, family: Option<Family>) -> Vec<AdvertisedView> {
        let Some(s) = self.peer(id).and_then(|p| p.session.as_ref()) else {
            return vec![];
        };
        let Some(group) = self.groups.get(s.out.group).and_then(|g| g.as_ref()) else {
            return vec![];
        };
        let mut prefixes: Vec<Prefix> = Vec::new();
        if family.is_none_or(|f| f == Family::IPV4_UNICAST) {
            prefixes.extend(
                s.out
                    .adj_v4
                    .iter()
                    .filter_map(|i| self.rib.v4.prefix_of(i))
                    .map(Prefix::V4),
            );
        }
        if family.is_none_or(|f| f == Family::IPV6_UNICAST) {
            prefixes.extend(
                s.out
                    .adj_v6
                    .iter()
                    .filter_map(|i| self.rib.v6.prefix_of(i))
                    .map(Prefix::V6),
            );
        }
        prefixes.sort_unstable();
        let policy = group.key.export_policy_in(&self.policies);
        prefixes
            .into_iter()
            .filter_map(|p| {
                let best = self.rib.dest(&p)?.best().copied()?;
                let (source, originator): (Source, _) = self.source(best.peer);
                let a = self.rib.attrs.get(best.attrs);
                // What the peer is sent: our AS prepended towards eBGP, and whatever the
                // export policy set or prepended.
                let o = rules::outbound(p, a, source, originator, &group.key, policy)?;
                Some(AdvertisedView {
                    prefix: p.to_string(),
                    next_hop: o.next_hop.to_string(),
                    as_path: o.attrs.as_path.to_string(),
                })
            })
            .collect()
    }
}
