//! The router's kernel side: the FIB writer task, the netlink monitor, next-hop
//! resolution from the kernel's state, and the removal of routes a previous run left.

use std::cell::RefCell;
use std::collections::HashSet;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bgp_wire::Prefix;
use fib::{Fib, FibConfig, FibNextHop, FibRoute, KernelState, Op, Reach};
use futures_util::StreamExt;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::AsyncSocket;
use rtnetlink::MulticastGroup;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::{Actor, Control, RouterError};
use crate::rib::attrs::NextHop;
use crate::speaker::{FibChange, Resolver};

/// Routes handed to the writer per batch.
const BATCH: usize = 8192;
/// Batches handed to the writer and not done yet, at most: with two, the next batch is
/// ready when the kernel is through with one (the writer takes them in order).
const IN_FLIGHT: u8 = 2;
/// How long routes of a previous run may stay when not every peer sends End-of-RIB.
const STALE_GRACE: Duration = Duration::from_secs(120);

/// The actor's view of the kernel: its state, and the FIB when routes are written.
pub(super) struct FibState {
    /// Routes are written (not `--no-fib`).
    write: bool,
    tx: mpsc::Sender<Vec<Op>>,
    /// Batches with the writer (see [`IN_FLIGHT`]).
    in_flight: u8,
    /// What the writer did since the start (for the metrics).
    totals: fib::Stats,
    /// Static routes installed, with their next hops (none: blackhole).
    statics: std::collections::HashMap<Prefix, Vec<FibNextHop>>,
    /// Static route changes waiting for the writer.
    pending: Vec<Op>,
    /// The kernel's state, and the routes we installed (`own`).
    kernel: Rc<RefCell<KernelState>>,
    /// Next hops whose resolution a change of our own routes may change (see
    /// [`Reach::follows_own_routes`]), and unreachable ones: when one of our routes that
    /// covers one of them changes, every path is decided and resolved again.
    watch: Rc<RefCell<Watch>>,
    stale: HashSet<Prefix>,
    stale_deadline: Instant,
    kernel_dirty: bool,
}

/// What the IO side prepared for the actor.
pub(super) struct FibStart {
    pub(super) kernel: KernelState,
    pub(super) own: Vec<Prefix>,
    pub(super) tx: mpsc::Sender<Vec<Op>>,
    pub(super) write: bool,
}

/// Opens the kernel side: reads the kernel and starts the monitor (whose events go to the
/// actor); when `write`, also lists our routes of a previous run and starts the writer.
pub(super) async fn start(
    cfg: FibConfig,
    write: bool,
    ctl: mpsc::Sender<Control>,
) -> Result<FibStart, RouterError> {
    let fib = Fib::connect(cfg).map_err(|e| RouterError::Config(e.to_string()))?;
    // Subscribe before dumping: a change made between the two would otherwise be lost
    // (events about what the dump already holds apply again harmlessly).
    let groups = [
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
        MulticastGroup::Ipv4Route,
        MulticastGroup::Ipv6Route,
    ];
    let (mut conn, _handle, mut events) =
        rtnetlink::new_multicast_connection(&groups).map_err(RouterError::Runtime)?;
    // Our own routes' notifications (a million for a full table) stay in the kernel.
    fib::ignore_own_routes(conn.socket_mut().socket_ref(), &cfg).map_err(RouterError::Runtime)?;
    tokio::spawn(conn);
    let to_actor = ctl.clone();
    tokio::spawn(async move {
        while let Some((msg, _)) = events.next().await {
            if let rtnetlink::packet_core::NetlinkPayload::InnerMessage(m) = msg.payload {
                if to_actor.send(Control::Kernel(Box::new(m))).await.is_err() {
                    break;
                }
            }
        }
    });
    let kernel = fib
        .kernel()
        .await
        .map_err(|e| RouterError::Config(e.to_string()))?;
    let own = if write {
        fib.own_routes()
            .await
            .map_err(|e| RouterError::Config(e.to_string()))?
    } else {
        Vec::new()
    };
    if !own.is_empty() {
        info!(
            routes = own.len(),
            "kernel routes of a previous run kept until the new selection is known"
        );
    }
    let (tx, mut rx) = mpsc::channel::<Vec<Op>>(usize::from(IN_FLIGHT));
    let done = ctl.clone();
    tokio::spawn(async move {
        while let Some(ops) = rx.recv().await {
            let stats = fib.apply(ops).await;
            if done.send(Control::FibDone(stats)).await.is_err() {
                break;
            }
        }
    });
    Ok(FibStart {
        kernel,
        own,
        tx,
        write,
    })
}

/// Next hops to watch, with every prefix that covers one of them: whether a route of ours
/// covers a watched next hop is one lookup, however many there are.
#[derive(Debug, Default)]
pub(super) struct Watch {
    addrs: HashSet<IpAddr>,
    covers: HashSet<Prefix>,
}

impl Watch {
    fn insert(&mut self, addr: IpAddr) {
        if self.addrs.insert(addr) {
            let max = if addr.is_ipv4() { 32 } else { 128 };
            self.covers
                .extend((0..=max).filter_map(|len| Prefix::new(addr, len)));
        }
    }

    fn covered_by(&self, prefix: Prefix) -> bool {
        self.covers.contains(&prefix)
    }

    fn clear(&mut self) {
        self.addrs.clear();
        self.covers.clear();
    }
}

/// Next-hop reachability and cost from the kernel's state (and our own routes, for next
/// hops the kernel's routes do not reach).
pub(super) struct KernelResolver {
    kernel: Rc<RefCell<KernelState>>,
    watch: Rc<RefCell<Watch>>,
}

impl Resolver for KernelResolver {
    fn igp_cost(&self, next_hop: &NextHop) -> Option<u32> {
        let addr = next_hop.addr();
        if is_link_local(addr) {
            // Reached through the session's interface, which is up while the session is.
            return Some(0);
        }
        let k = self.kernel.borrow();
        let reach = k.reach(addr, None, None);
        if reach.is_none_or(|r| r.follows_own_routes()) {
            self.watch.borrow_mut().insert(addr);
        }
        reach.map(|r| r.metric())
    }
}

fn is_link_local(a: IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}

impl FibState {
    pub(super) fn new(start: &FibStart, kernel: Rc<RefCell<KernelState>>) -> Self {
        FibState {
            write: start.write,
            tx: start.tx.clone(),
            in_flight: 0,
            totals: fib::Stats::default(),
            statics: Default::default(),
            pending: Vec::new(),
            kernel,
            watch: Rc::default(),
            stale: start.own.iter().copied().collect(),
            stale_deadline: Instant::now() + STALE_GRACE,
            kernel_dirty: false,
        }
    }

    /// Hands `ops` to the writer. The channel holds [`IN_FLIGHT`] batches, so with fewer
    /// in flight it has room; should it not, the changes wait for the next batch.
    fn send(&mut self, ops: Vec<Op>) {
        match self.tx.try_send(ops) {
            Ok(()) => self.in_flight += 1,
            Err(mpsc::error::TrySendError::Full(ops)) => self.pending.extend(ops),
            Err(mpsc::error::TrySendError::Closed(_)) => warn!("the FIB writer has stopped"),
        }
    }

    /// The kernel's state, shared.
    pub(super) fn kernel_state(&self) -> Rc<RefCell<KernelState>> {
        self.kernel.clone()
    }

    /// The speaker's resolver, reading the same state.
    pub(super) fn resolver(&self) -> KernelResolver {
        KernelResolver {
            kernel: self.kernel.clone(),
            watch: self.watch.clone(),
        }
    }

    /// Records that `prefix`, one of our routes, changed: if it covers a watched next hop,
    /// every path is decided and resolved again at the next tick.
    fn own_changed(&mut self, prefix: Prefix) {
        if self.watch.borrow().covered_by(prefix) {
            self.kernel_dirty = true;
        }
    }

    /// The subnets of the interfaces (for `redistribute connected`).
    pub(super) fn connected(&self) -> Vec<Prefix> {
        self.kernel.borrow().connected()
    }

    /// The kernel next hops of a change of `prefix`, resolved now, with the cost and depth
    /// of the first one's resolution (see [`KernelState::reach`]).
    fn resolve(
        &self,
        prefix: Prefix,
        hops: &[crate::speaker::FibHop],
    ) -> (Vec<FibNextHop>, u32, u8) {
        let k = self.kernel.borrow();
        let mut out: Vec<FibNextHop> = Vec::new();
        let (mut metric, mut depth) = (None, 0);
        for h in hops {
            let addr = h.next_hop.addr();
            let via_link = h
                .session_local
                .and_then(|l| k.addrs.iter().find(|a| a.addr == l.ip()).map(|a| a.index));
            // A link-local next hop (also the link-local part of a 32-octet one when the
            // global address is not reachable) goes through the session's interface.
            let me = Some(prefix);
            let reach = k.reach(addr, via_link, me).or_else(|| match h.next_hop {
                NextHop::V6 {
                    link_local: Some(ll),
                    ..
                } => k.reach(IpAddr::V6(ll), via_link, me),
                _ => None,
            });
            if reach.is_none_or(|r| r.follows_own_routes()) {
                self.watch.borrow_mut().insert(addr);
            }
            let Some(reach) = reach else { continue };
            metric.get_or_insert(reach.metric());
            depth = depth.max(reach.depth());
            let mut add = |nh: FibNextHop| {
                if !out.contains(&nh) {
                    out.push(nh);
                }
            };
            match reach {
                Reach::Kernel { resolved: r, .. } => add(FibNextHop {
                    gateway: r.gateway,
                    ifindex: r.ifindex,
                }),
                Reach::Own(o) => o.hops.iter().copied().for_each(add),
            }
        }
        (out, metric.unwrap_or(0), depth)
    }
}

impl Actor {
    /// Hands the FIB writer its next batch of changes.
    pub(super) fn fib_pump(&mut self) {
        let Some(f) = self.fib.as_mut() else { return };
        if !f.write
            || f.in_flight >= IN_FLIGHT
            || (f.pending.is_empty() && !self.speaker.has_fib_changes())
        {
            return;
        }
        let changes = self.speaker.drain_fib(BATCH);
        // A connected subnet stays the kernel's (as zebra's distance 0 beats BGP's 20).
        let connected: HashSet<Prefix> = f.kernel.borrow().connected().into_iter().collect();
        let mut ops = std::mem::take(&mut f.pending);
        ops.reserve(changes.len());
        for c in changes {
            // A static route wins over BGP's (FRR's administrative distances: 1 and 20).
            let (FibChange::Install(p, _) | FibChange::Remove(p)) = &c;
            if f.statics.contains_key(p) {
                continue;
            }
            match c {
                FibChange::Install(prefix, hops) => {
                    let (nexthops, metric, depth) = if connected.contains(&prefix) {
                        (Vec::new(), 0, 0)
                    } else {
                        f.resolve(prefix, &hops)
                    };
                    if nexthops.is_empty() {
                        if f.kernel.borrow_mut().own.remove(prefix) {
                            ops.push(Op::Delete(prefix));
                            f.own_changed(prefix);
                        }
                    } else {
                        let changed = f
                            .kernel
                            .borrow_mut()
                            .own
                            .insert(prefix, &nexthops, metric, depth);
                        if changed {
                            f.own_changed(prefix);
                        }
                        f.stale.remove(&prefix);
                        ops.push(Op::Replace(FibRoute { prefix, nexthops }));
                    }
                }
                FibChange::Remove(prefix) => {
                    if f.kernel.borrow_mut().own.remove(prefix) {
                        ops.push(Op::Delete(prefix));
                        f.own_changed(prefix);
                    }
                }
            }
        }
        if !ops.is_empty() {
            f.send(ops);
        }
    }

    pub(super) fn fib_done(&mut self, stats: fib::Stats) {
        if let Some(f) = self.fib.as_mut() {
            f.in_flight = f.in_flight.saturating_sub(1);
            f.totals.installed += stats.installed;
            f.totals.removed += stats.removed;
            f.totals.failed += stats.failed;
            if stats.failed > 0 {
                warn!(?stats, "some kernel route changes failed");
            }
        }
    }

    /// What the metrics show of the FIB, when routes are written.
    pub(super) fn fib_sample(&self) -> Option<super::metrics::FibSample> {
        let f = self.fib.as_ref().filter(|f| f.write)?;
        let blackholes = f.statics.values().filter(|h| h.is_empty()).count();
        Some(super::metrics::FibSample {
            routes: (f.kernel.borrow().own.len() + blackholes) as u64,
            pending: (self.speaker.fib_backlog() + f.pending.len()) as u64,
            installed: f.totals.installed as u64,
            removed: f.totals.removed as u64,
            refused: f.totals.failed as u64,
        })
    }

    /// Installs, replaces and removes the static routes to match the configuration,
    /// resolving their gateways against the kernel (an unreachable one is not installed).
    pub(super) fn sync_statics(&mut self) {
        let Some(f) = self.fib.as_mut() else { return };
        if !f.write {
            return;
        }
        let mut want = std::collections::HashMap::new();
        {
            let k = f.kernel.borrow();
            for r in &self.cfg.static_routes {
                let hops = match r.via {
                    None => Some(Vec::new()),
                    Some(via) => k.resolve(via, None).map(|x| {
                        vec![FibNextHop {
                            gateway: x.gateway,
                            ifindex: x.ifindex,
                        }]
                    }),
                };
                match hops {
                    Some(h) => {
                        want.insert(r.prefix, h);
                    }
                    None => {
                        warn!(prefix = %r.prefix, via = ?r.via, "static route not installed: gateway unreachable")
                    }
                }
            }
        }
        let mut changed = Vec::new();
        for p in f.statics.keys() {
            if !want.contains_key(p) {
                f.pending.push(Op::Delete(*p));
                f.kernel.borrow_mut().own.remove(*p);
                changed.push(*p);
            }
        }
        for (p, hops) in &want {
            if f.statics.get(p) != Some(hops) {
                f.pending.push(Op::Replace(FibRoute {
                    prefix: *p,
                    nexthops: hops.clone(),
                }));
                // A static route with a gateway resolves BGP next hops (a blackhole
                // does not).
                let mut k = f.kernel.borrow_mut();
                if hops.is_empty() {
                    k.own.remove(*p);
                } else {
                    k.own.insert(*p, hops, 0, 0);
                }
                f.stale.remove(p);
                changed.push(*p);
            }
        }
        for p in &changed {
            f.own_changed(*p);
        }
        let changed = !changed.is_empty();
        f.statics = want;
        if changed {
            // A prefix no longer static may get its BGP route back.
            self.speaker.resync_fib();
        }
    }

    pub(super) fn on_kernel(&mut self, msg: &RouteNetlinkMessage) {
        let Some(f) = self.fib.as_mut() else { return };
        let cfg = self.cfg.router.fib;
        if f.kernel.borrow_mut().apply(msg, &cfg) {
            f.kernel_dirty = true;
        }
    }

    /// Periodic work: re-resolve after kernel changes; drop routes of a previous run once
    /// every peer has sent its End-of-RIB, or after the grace time.
    pub(super) fn fib_tick(&mut self) {
        let all_synced = self.speaker.all_peers_synced();
        let Some(f) = self.fib.as_mut() else { return };
        if f.kernel_dirty {
            f.kernel_dirty = false;
            // Deciding every path again records the next hops to watch afresh.
            f.watch.borrow_mut().clear();
            if f.write {
                self.speaker.redecide_all();
                self.speaker.resync_fib();
            }
            self.sync_statics();
            self.sync_origination();
            self.sync_unnumbered();
        }
        let Some(f) = self.fib.as_mut() else { return };
        if f.write
            && !f.stale.is_empty()
            && (all_synced || Instant::now() >= f.stale_deadline)
            && f.in_flight < IN_FLIGHT
        {
            let gone: Vec<Op> = f.stale.drain().map(Op::Delete).collect();
            info!(
                routes = gone.len(),
                "removing kernel routes of a previous run"
            );
            f.send(gone);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watched_next_hop_is_covered_by_every_prefix_holding_it_and_no_other() {
        let mut w = Watch::default();
        let p = |s: &str| s.parse::<Prefix>().unwrap();
        assert!(!w.covered_by(p("0.0.0.0/0")));
        w.insert("10.77.0.1".parse().unwrap());
        w.insert("2001:db8::1".parse().unwrap());
        for covering in [
            "10.77.0.0/24",
            "10.77.0.1/32",
            "0.0.0.0/0",
            "2001:db8::/32",
            "::/0",
        ] {
            assert!(w.covered_by(p(covering)), "{covering}");
        }
        for other in ["10.77.1.0/24", "10.77.0.2/32", "2001:db9::/32"] {
            assert!(!w.covered_by(p(other)), "{other}");
        }
        w.clear();
        assert!(!w.covered_by(p("10.77.0.0/24")));
    }
}
