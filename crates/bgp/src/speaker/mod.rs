//! The speaker core, sans-IO: peers, the RIB, import and export. The runtime feeds it
//! session events and received messages, and pulls the bytes each peer is to be sent.
//!
//! Everything here runs on one task: no locks, no shared state. The hot paths (receive:
//! decode, intern, insert, decide; send: export with a per-group cache, pack) allocate per
//! UPDATE, never per prefix.

mod fibfeed;
mod group_key;
mod receive;
pub mod restart;
mod send;
pub mod show;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bgp_wire::{Family, Prefix};

use crate::export::group::{Change, Group, PeerOut, Walk, WalkEnd};
use crate::export::rules::{GroupKey, RoutePolicy, Source};
use crate::negotiate::{Negotiated, RemoteAs};
use crate::rib::attrs::{Attrs, NextHop};
use crate::rib::decision::DecisionOptions;
use crate::rib::table::{Path, PeerId, LOCAL_PEER};
use crate::rib::{DecisionContext, MultipathOptions, PeerFacts, Rib};
use group_key::group_key;

pub use fibfeed::{FibChange, FibHop};
pub use receive::ReceiveError;

/// Speaker-wide settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerConfig {
    /// Local AS.
    pub asn: u32,
    /// BGP identifier.
    pub router_id: Ipv4Addr,
    /// Cluster id for route reflection (defaults to the router id).
    pub cluster_id: Ipv4Addr,
    /// Reflect routes from clients to other clients (RFC 4456 §5; off when the clients
    /// are fully meshed).
    pub client_to_client: bool,
    /// Decision process options.
    pub decision: DecisionOptions,
    /// Multipath options.
    pub multipath: MultipathOptions,
    /// RFC 8212: routes from an eBGP peer without import policy are not accepted, and an
    /// eBGP peer without export policy is sent none (FRR's `bgp ebgp-requires-policy`).
    pub ebgp_requires_policy: bool,
}

impl SpeakerConfig {
    /// Defaults for an AS and router id.
    pub fn new(asn: u32, router_id: Ipv4Addr) -> Self {
        SpeakerConfig {
            asn,
            router_id,
            cluster_id: router_id,
            client_to_client: true,
            decision: DecisionOptions {
                local_asn: asn,
                ..Default::default()
            },
            multipath: MultipathOptions::default(),
            ebgp_requires_policy: false,
        }
    }

    /// RFC 8212 §3: whether routes are withheld, in the direction of `policy`, for a peer
    /// that is `external`: eBGP without a policy, under `ebgp_requires_policy`.
    pub fn withholds(&self, external: bool, policy: Option<&str>) -> bool {
        self.ebgp_requires_policy && external && policy.is_none()
    }
}

/// Prefix limit handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixLimit {
    /// Accepted prefixes per family.
    pub limit: u32,
    /// Tear the session down (else only warn).
    pub shutdown: bool,
}

/// What the speaker needs to know about a configured neighbor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSpec {
    /// The neighbor's address.
    pub address: IpAddr,
    /// Acceptable peer AS.
    pub remote_as: RemoteAs,
    /// AS we present to it.
    pub local_asn: u32,
    /// Free text.
    pub description: Option<String>,
    /// Import policy name.
    pub import: Option<String>,
    /// Export policy name.
    pub export: Option<String>,
    /// `next-hop-self` towards iBGP.
    pub next_hop_self: bool,
    /// Route-reflector client (RFC 4456).
    pub rr_client: bool,
    /// Prefix limit.
    pub max_prefix: Option<PrefixLimit>,
    /// Graceful restart (RFC 4724) is on: the peer's routes are kept through a restart of
    /// its session when it announced the capability.
    pub graceful_restart: bool,
    /// Our AS may appear this many times in received paths.
    pub allowas_in: u8,
    /// Send the peer a default route (0.0.0.0/0, ::/0) whatever the RIB holds (FRR's
    /// `default-originate`).
    pub default_originate: bool,
    /// Graceful shutdown (RFC 8326): routes sent carry GRACEFUL_SHUTDOWN, and an eBGP
    /// peer's routes get LOCAL_PREF 0.
    pub graceful_shutdown: bool,
}

impl PeerSpec {
    /// A spec with defaults.
    pub fn new(address: IpAddr, remote_as: RemoteAs, local_asn: u32) -> Self {
        PeerSpec {
            address,
            remote_as,
            local_asn,
            description: None,
            import: None,
            export: None,
            next_hop_self: false,
            rr_client: false,
            max_prefix: None,
            graceful_restart: false,
            allowas_in: 0,
            default_originate: false,
            graceful_shutdown: false,
        }
    }
}

/// Per-peer counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// UPDATE messages received.
    pub updates_received: u64,
    /// UPDATE messages sent.
    pub updates_sent: u64,
    /// Prefixes currently received, per family (IPv4, IPv6), before import policy.
    pub received: [u64; 2],
    /// Prefixes currently accepted by import policy, per family.
    pub accepted: [u64; 2],
    /// Received UPDATEs with RFC 7606 issues.
    pub malformed_updates: u64,
    /// Times a session came up.
    pub established: u64,
    /// Times the accepted prefixes went over a `max-prefix` limit whose action is `warn`.
    pub prefix_limit_exceeded: u64,
}

/// Our addresses on the interface of a session: next hops we announce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct LocalAddrs {
    /// IPv4 address.
    pub v4: Option<std::net::Ipv4Addr>,
    /// Global IPv6 address.
    pub v6: Option<std::net::Ipv6Addr>,
    /// Link-local IPv6 address.
    pub v6_link_local: Option<std::net::Ipv6Addr>,
}

/// A session that is Established.
#[derive(Debug, Clone)]
pub struct Session {
    /// What was negotiated.
    pub negotiated: Negotiated,
    /// Our end of the connection.
    pub local: SocketAddr,
    /// The peer's end.
    pub remote: SocketAddr,
    /// Our addresses on the session's interface.
    pub addrs: LocalAddrs,
    /// Families whose End-of-RIB the peer sent (RFC 4724 §2).
    pub eor_received: Vec<Family>,
    /// Outbound state.
    pub out: PeerOut,
}

/// A configured neighbor.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Its settings.
    pub spec: PeerSpec,
    /// The session, while Established.
    pub session: Option<Session>,
    /// Counters.
    pub counters: Counters,
    /// Whether the prefix-limit warning was already logged.
    limit_warned: bool,
    /// Its routes kept, stale, after the session ended (graceful restart, RFC 4724 §4.2).
    pub retained: Option<restart::Retained>,
}

/// Why no more output is produced for a peer right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// The budget was used; call again.
    More,
    /// Nothing left to send.
    Idle,
}

/// Where an answer for the decision process comes from: next-hop reachability and cost.
pub trait Resolver {
    /// IGP cost to a next hop, `None` when unreachable.
    fn igp_cost(&self, next_hop: &NextHop) -> Option<u32>;
}

/// Treats every next hop as reachable at cost 0 (no FIB knowledge, `--no-fib`).
#[derive(Debug, Default, Clone, Copy)]
pub struct AllReachable;

impl Resolver for AllReachable {
    fn igp_cost(&self, _: &NextHop) -> Option<u32> {
        Some(0)
    }
}

/// The speaker.
pub struct Speaker {
    cfg: SpeakerConfig,
    rib: Rib,
    peers: Vec<Option<Peer>>,
    groups: Vec<Option<Group>>,
    policies: HashMap<String, Box<dyn RoutePolicy>>,
    resolver: Box<dyn Resolver>,
    /// Bumped on every RIB change: invalidates the export caches.
    epoch: u64,
    /// Prefixes touched since the last decision run.
    dirty: Vec<Prefix>,
    networks: Vec<(Prefix, Attrs)>,
    /// Selection changes for the kernel FIB, when it is fed.
    fib_log: Option<std::collections::VecDeque<Change>>,
}

impl std::fmt::Debug for Speaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speaker")
            .field("asn", &self.cfg.asn)
            .field("router_id", &self.cfg.router_id)
            .field("peers", &self.peers.iter().flatten().count())
            .finish_non_exhaustive()
    }
}

struct Ctx<'a> {
    cfg: &'a SpeakerConfig,
    peers: &'a [Option<Peer>],
    resolver: &'a dyn Resolver,
}

impl DecisionContext for Ctx<'_> {
    fn peer(&self, id: PeerId) -> PeerFacts {
        match self.peers.get(usize::from(id)).and_then(|p| p.as_ref()) {
            Some(p) => {
                let (router_id, external) = match (&p.session, &p.retained) {
                    (Some(s), _) => (s.negotiated.peer_id, s.negotiated.is_external()),
                    (None, Some(r)) => (r.peer_id, r.external),
                    (None, None) => (Ipv4Addr::UNSPECIFIED, false),
                };
                PeerFacts {
                    router_id,
                    address: p.spec.address,
                    external,
                }
            }
            None => PeerFacts {
                router_id: self.cfg.router_id,
                address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                external: false,
            },
        }
    }

    fn igp_cost(&self, next_hop: &NextHop) -> Option<u32> {
        if next_hop.is_local() {
            return Some(0);
        }
        self.resolver.igp_cost(next_hop)
    }

    fn options(&self) -> DecisionOptions {
        self.cfg.decision
    }

    fn multipath(&self) -> MultipathOptions {
        self.cfg.multipath
    }
}

impl Speaker {
    /// A speaker with no peers.
    pub fn new(cfg: SpeakerConfig) -> Self {
        Speaker {
            cfg,
            rib: Rib::default(),
            // Index 0 is the local speaker.
            peers: vec![None],
            groups: Vec::new(),
            policies: HashMap::new(),
            resolver: Box::new(AllReachable),
            epoch: 0,
            dirty: Vec::new(),
            networks: Vec::new(),
            fib_log: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &SpeakerConfig {
        &self.cfg
    }

    /// Replaces the speaker-wide settings (decision options take effect on the next
    /// decision of each prefix; [`redecide_all`](Self::redecide_all) applies them now).
    pub fn set_config(&mut self, cfg: SpeakerConfig) {
        self.cfg = cfg;
    }

    /// The RIB.
    pub fn rib(&self) -> &Rib {
        &self.rib
    }

    /// Sets the next-hop resolver.
    pub fn set_resolver(&mut self, r: Box<dyn Resolver>) {
        self.resolver = r;
    }

    /// Notes the time (the runtime calls this on its tick): selections are dated by it
    /// (see [`crate::rib::clock`]).
    pub fn note_time(&mut self, now: std::time::Instant) {
        let seq = self.rib.seq();
        self.rib.clock.note(seq, now);
    }

    /// Installs the named policies (replacing all).
    pub fn set_policies(&mut self, policies: HashMap<String, Box<dyn RoutePolicy>>) {
        self.policies = policies;
        self.epoch += 1;
    }

    /// Adds a neighbor and returns its id.
    pub fn add_peer(&mut self, spec: PeerSpec) -> PeerId {
        let peer = Peer {
            spec,
            session: None,
            counters: Counters::default(),
            limit_warned: false,
            retained: None,
        };
        if let Some(i) = self.peers.iter().skip(1).position(|p| p.is_none()) {
            self.peers[i + 1] = Some(peer);
            return (i + 1) as PeerId;
        }
        self.peers.push(Some(peer));
        (self.peers.len() - 1) as PeerId
    }

    /// Changes a neighbor's settings; the caller brings the session down first if the
    /// change needs a new session.
    pub fn update_peer(&mut self, id: PeerId, spec: PeerSpec) {
        if let Some(p) = self.peer_mut(id) {
            p.spec = spec;
        }
    }

    /// Removes a neighbor (its routes are withdrawn).
    pub fn remove_peer(&mut self, id: PeerId) {
        self.peer_down(id);
        if let Some(slot) = self.peers.get_mut(usize::from(id)) {
            *slot = None;
        }
    }

    /// The neighbor of an id.
    pub fn peer(&self, id: PeerId) -> Option<&Peer> {
        self.peers.get(usize::from(id)).and_then(|p| p.as_ref())
    }

    fn peer_mut(&mut self, id: PeerId) -> Option<&mut Peer> {
        self.peers.get_mut(usize::from(id)).and_then(|p| p.as_mut())
    }

    /// Ids of every neighbor.
    pub fn peer_ids(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.peers
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_some())
            .map(|(i, _)| i as PeerId)
    }

    /// The neighbor with this address.
    pub fn peer_by_address(&self, addr: IpAddr) -> Option<PeerId> {
        self.peer_ids()
            .find(|&id| self.peer(id).is_some_and(|p| p.spec.address == addr))
    }

    /// Whether every neighbor is Established and sent End-of-RIB for each of its families:
    /// the initial table is complete.
    pub fn all_peers_synced(&self) -> bool {
        self.peers.iter().flatten().all(|p| {
            p.session.as_ref().is_some_and(|s| {
                s.negotiated
                    .families
                    .iter()
                    .all(|f| s.eor_received.contains(f))
            })
        })
    }

    /// Originates `prefix` with `attrs` (a `network` statement).
    pub fn originate(&mut self, prefix: Prefix, attrs: Attrs) {
        self.networks.retain(|(p, _)| *p != prefix);
        self.networks.push((prefix, attrs.clone()));
        let id = self.rib.attrs.intern(attrs);
        self.rib.upsert(
            prefix,
            Path {
                attrs: id,
                peer: LOCAL_PEER,
                flags: 0,
                path_id: 0,
            },
        );
        self.dirty.push(prefix);
        self.epoch += 1;
        self.run_decisions();
    }

    /// Stops originating `prefix`.
    pub fn withdraw_local(&mut self, prefix: Prefix) {
        self.networks.retain(|(p, _)| *p != prefix);
        if self.rib.remove(prefix, LOCAL_PEER, 0).is_some() {
            self.dirty.push(prefix);
            self.epoch += 1;
            self.run_decisions();
        }
    }

    /// The prefixes originated locally.
    pub fn networks(&self) -> impl Iterator<Item = &(Prefix, Attrs)> {
        self.networks.iter()
    }

    /// A session reached Established: join its update group and schedule the initial
    /// table walk, ended by End-of-RIB for each family.
    pub fn peer_up(
        &mut self,
        id: PeerId,
        negotiated: Negotiated,
        local: SocketAddr,
        remote: SocketAddr,
        addrs: LocalAddrs,
    ) {
        self.restart_up(id, &negotiated);
        let Some(p) = self.peer(id) else { return };
        let key = group_key(&self.cfg, &p.spec, &negotiated, local, &addrs);
        let families = negotiated.families.clone();
        let default_originate = p.spec.default_originate;
        let g = self.join_group(id, key);
        let cursor = self.groups[g].as_ref().map_or(0, |g| g.end());
        let mut walk = Walk::new(None, WalkEnd::EndOfRib(families.clone()));
        if default_originate {
            add_defaults(&mut walk.defaults, &families, &self.rib);
        }
        let out = PeerOut {
            group: g,
            cursor,
            walks: [walk].into(),
            ..Default::default()
        };
        if let Some(p) = self.peer_mut(id) {
            p.counters.established += 1;
            p.limit_warned = false;
            p.session = Some(Session {
                negotiated,
                local,
                remote,
                addrs,
                eor_received: Vec::new(),
                out,
            });
        }
    }

    /// Sends the peer everything again (after an export policy change, `clear soft out`):
    /// re-evaluates its update group, then walks the table; routes it should no longer
    /// have are withdrawn, as its Adj-RIB-Out is kept.
    pub fn resend(&mut self, id: PeerId, family: Option<Family>) {
        self.epoch += 1;
        let mut walk = Walk::new(family, WalkEnd::Nothing);
        let Some(p) = self.peer(id) else { return };
        let Some(s) = p.session.as_ref() else { return };
        if p.spec.default_originate || s.out.default_sent.contains(&true) {
            let families: Vec<Family> = s
                .negotiated
                .families
                .iter()
                .copied()
                .filter(|f| family.is_none_or(|x| x == *f))
                .collect();
            add_defaults(&mut walk.defaults, &families, &self.rib);
        }
        let key = group_key(&self.cfg, &p.spec, &s.negotiated, s.local, &s.addrs);
        let old = s.out.group;
        let same = self
            .groups
            .get(old)
            .and_then(|g| g.as_ref())
            .is_some_and(|g| g.key == key);
        if !same {
            self.leave_group(id, old);
            let g = self.join_group(id, key);
            let end = self.groups[g].as_ref().map_or(0, |g| g.end());
            if let Some(s) = self.peer_mut(id).and_then(|p| p.session.as_mut()) {
                s.out.group = g;
                s.out.cursor = end;
                // Positions of the old group's log mean nothing in the new one.
                if s.out.release.is_some() {
                    s.out.release = Some(end);
                }
            }
        }
        if let Some(s) = self.peer_mut(id).and_then(|p| p.session.as_mut()) {
            s.out.start_walk(walk);
        }
    }

    /// A session left Established: its routes are withdrawn and it leaves its group.
    pub fn peer_down(&mut self, id: PeerId) {
        let Some(p) = self.peer_mut(id) else { return };
        let had_retained = p.retained.take().is_some();
        let Some(s) = p.session.take() else {
            if had_retained {
                self.flush_stale(id);
            }
            return;
        };
        p.counters.received = [0, 0];
        p.counters.accepted = [0, 0];
        self.leave_group(id, s.out.group);
        let touched = self.rib.remove_peer(id, |_| true);
        self.dirty.extend(touched);
        self.epoch += 1;
        self.run_decisions();
    }

    /// Every prefix with a path, IPv4 first, optionally of one family only.
    fn all_prefixes(&self, family: Option<Family>) -> Vec<Prefix> {
        let mut v = Vec::new();
        if family.is_none_or(|f| f == Family::IPV4_UNICAST) {
            v.extend(self.rib.v4.sorted_prefixes().into_iter().map(Prefix::V4));
        }
        if family.is_none_or(|f| f == Family::IPV6_UNICAST) {
            v.extend(self.rib.v6.sorted_prefixes().into_iter().map(Prefix::V6));
        }
        v
    }

    fn join_group(&mut self, id: PeerId, key: GroupKey) -> usize {
        if let Some(i) = self
            .groups
            .iter()
            .position(|g| g.as_ref().is_some_and(|g| g.key == key))
        {
            if let Some(g) = self.groups[i].as_mut() {
                g.members.push(id);
            }
            return i;
        }
        let mut g = Group::new(key);
        g.members.push(id);
        match self.groups.iter().position(|g| g.is_none()) {
            Some(i) => {
                self.groups[i] = Some(g);
                i
            }
            None => {
                self.groups.push(Some(g));
                self.groups.len() - 1
            }
        }
    }

    fn leave_group(&mut self, id: PeerId, g: usize) {
        let empty = match self.groups.get_mut(g).and_then(|g| g.as_mut()) {
            Some(grp) => {
                grp.members.retain(|&m| m != id);
                grp.members.is_empty()
            }
            None => false,
        };
        if empty {
            self.groups[g] = None;
        } else {
            self.trim_group(g);
        }
    }

    /// Changes one path, decides, and logs a selection change to every group: the
    /// per-prefix receive path (one table lookup).
    fn apply(&mut self, prefix: Prefix, op: crate::rib::PathOp) -> Option<Path> {
        let ctx = Ctx {
            cfg: &self.cfg,
            peers: &self.peers,
            resolver: &*self.resolver,
        };
        let a = self.rib.apply(prefix, op, &ctx);
        if let Some((seq, id)) = a.changed {
            for g in self.groups.iter_mut().flatten() {
                g.log(Change::new(seq, id, &prefix));
            }
            if let Some(f) = &mut self.fib_log {
                f.push_back(Change::new(seq, id, &prefix));
            }
        }
        a.old
    }

    /// Runs the decision process for the touched prefixes and logs the changes to every
    /// group.
    pub(crate) fn run_decisions(&mut self) {
        if self.dirty.is_empty() {
            return;
        }
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        let ctx = Ctx {
            cfg: &self.cfg,
            peers: &self.peers,
            resolver: &*self.resolver,
        };
        for p in &dirty {
            if self.rib.decide(*p, &ctx) {
                if let Some((id, d)) = self.rib.dest_with_id(p) {
                    let change = Change::new(d.stamp, id, p);
                    for g in self.groups.iter_mut().flatten() {
                        g.log(change);
                    }
                    if let Some(f) = &mut self.fib_log {
                        f.push_back(change);
                    }
                }
            }
        }
        dirty.clear();
        self.dirty = dirty;
        self.collect_tombstones();
    }

    /// Re-runs the decision process for every prefix (after a change of decision options
    /// or of next-hop reachability).
    pub fn redecide_all(&mut self) {
        let all = self.all_prefixes(None);
        self.dirty.extend(all);
        self.epoch += 1;
        self.run_decisions();
    }

    fn collect_tombstones(&mut self) {
        // A tombstone may go once no group, nor the kernel FIB feed, still logs a change at
        // or before its stamp (else its withdrawal would never be sent or installed).
        let oldest: Vec<u32> = self
            .groups
            .iter()
            .flatten()
            .filter_map(|g| g.oldest_seq())
            .chain(self.fib_log.as_ref().and_then(|l| l.front()).map(|c| c.seq))
            .collect();
        let walking = self
            .peers
            .iter()
            .flatten()
            .any(|p| p.session.as_ref().is_some_and(|s| !s.out.walks.is_empty()));
        if walking {
            return;
        }
        self.rib
            .collect(|stamp| oldest.iter().all(|&o| (stamp.wrapping_sub(o) as i32) < 0));
    }

    fn trim_group(&mut self, g: usize) {
        let min = self.groups.get(g).and_then(|x| x.as_ref()).map(|grp| {
            grp.members
                .iter()
                .filter_map(|&m| {
                    self.peer(m)
                        .and_then(|p| p.session.as_ref())
                        .map(|s| s.out.cursor)
                })
                .min()
                .unwrap_or(grp.end())
        });
        if let (Some(min), Some(grp)) = (min, self.groups.get_mut(g).and_then(|x| x.as_mut())) {
            grp.trim(min);
        }
    }

    /// How a path's peer classifies as a source for the advertisement rules.
    fn source(&self, peer: PeerId) -> (Source, Ipv4Addr) {
        if peer == LOCAL_PEER {
            return (Source::Local, self.cfg.router_id);
        }
        match self.peer(peer) {
            Some(p) => {
                let (external, id) = match (&p.session, &p.retained) {
                    (Some(s), _) => (s.negotiated.is_external(), s.negotiated.peer_id),
                    (None, Some(r)) => (r.external, r.peer_id),
                    (None, None) => (false, Ipv4Addr::UNSPECIFIED),
                };
                match (external, p.spec.rr_client) {
                    (true, _) => (Source::External, id),
                    (false, true) => (Source::InternalClient, id),
                    (false, false) => (Source::Internal, id),
                }
            }
            None => (Source::Internal, Ipv4Addr::UNSPECIFIED),
        }
    }
}

/// The default routes of `families` a walk visits first (those not in the RIB).
fn add_defaults(defaults: &mut Vec<Prefix>, families: &[Family], rib: &Rib) {
    for (f, d) in [
        (
            Family::IPV6_UNICAST,
            Prefix::V6(bgp_wire::Ipv6Prefix::DEFAULT),
        ),
        (
            Family::IPV4_UNICAST,
            Prefix::V4(bgp_wire::Ipv4Prefix::DEFAULT),
        ),
    ] {
        // A default route in the RIB is visited by the table walk.
        let in_rib = rib.dest(&d).is_some_and(|x| !x.paths.is_empty());
        if families.contains(&f) && !defaults.contains(&d) && !in_rib {
            // Popped from the end: IPv4 first.
            defaults.push(d);
        }
    }
}

#[cfg(test)]
mod tests;
