//! The router's kernel side: the FIB writer task, the netlink monitor, next-hop
//! resolution from the kernel's state, and the removal of routes a previous run left.

use std::cell::RefCell;
use std::collections::HashSet;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bgp_wire::Prefix;
use fib::{Fib, FibConfig, FibNextHop, FibRoute, KernelState, Op};
use futures_util::StreamExt;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::MulticastGroup;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::{Actor, Control, RouterError};
use crate::rib::attrs::NextHop;
use crate::speaker::{FibChange, Resolver};

/// Routes handed to the writer per batch.
const BATCH: usize = 8192;
/// How long routes of a previous run may stay when not every peer sends End-of-RIB.
const STALE_GRACE: Duration = Duration::from_secs(120);

/// The actor's view of the kernel: its state, and the FIB when routes are written.
pub(super) struct FibState {
    /// Routes are written (not `--no-fib`).
    write: bool,
    tx: mpsc::Sender<Vec<Op>>,
    busy: bool,
    /// Static routes installed, with their next hops (none: blackhole).
    statics: std::collections::HashMap<Prefix, Vec<FibNextHop>>,
    /// Static route changes waiting for the writer.
    pending: Vec<Op>,
    kernel: Rc<RefCell<KernelState>>,
    installed: HashSet<Prefix>,
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
    let (conn, _handle, mut events) =
        rtnetlink::new_multicast_connection(&groups).map_err(RouterError::Runtime)?;
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
    let (tx, mut rx) = mpsc::channel::<Vec<Op>>(2);
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

/// Next-hop reachability and cost from the kernel's state.
pub(super) struct KernelResolver(pub(super) Rc<RefCell<KernelState>>);

impl Resolver for KernelResolver {
    fn igp_cost(&self, next_hop: &NextHop) -> Option<u32> {
        let addr = next_hop.addr();
        if is_link_local(addr) {
            // Reached through the session's interface, which is up while the session is.
            return Some(0);
        }
        self.0.borrow().resolve(addr, None).map(|r| r.metric)
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
            busy: false,
            statics: Default::default(),
            pending: Vec::new(),
            kernel,
            installed: HashSet::new(),
            stale: start.own.iter().copied().collect(),
            stale_deadline: Instant::now() + STALE_GRACE,
            kernel_dirty: false,
        }
    }

    /// The kernel's state, shared.
    pub(super) fn kernel_state(&self) -> Rc<RefCell<KernelState>> {
        self.kernel.clone()
    }

    /// The subnets of the interfaces (for `redistribute connected`).
    pub(super) fn connected(&self) -> Vec<Prefix> {
        self.kernel.borrow().connected()
    }

    /// The kernel next hops of a change, resolved now.
    fn resolve(&self, hops: &[crate::speaker::FibHop]) -> Vec<FibNextHop> {
        let k = self.kernel.borrow();
        let mut out: Vec<FibNextHop> = Vec::new();
        for h in hops {
            let addr = h.next_hop.addr();
            let via_link = h
                .session_local
                .and_then(|l| k.addrs.iter().find(|a| a.addr == l.ip()).map(|a| a.index));
            // A link-local next hop (also the link-local part of a 32-octet one when the
            // global address is not reachable) goes through the session's interface.
            let resolved = k.resolve(addr, via_link).or_else(|| match h.next_hop {
                NextHop::V6 {
                    link_local: Some(ll),
                    ..
                } => k.resolve(IpAddr::V6(ll), via_link),
                _ => None,
            });
            if let Some(r) = resolved {
                let nh = FibNextHop {
                    gateway: r.gateway,
                    ifindex: r.ifindex,
                };
                if !out.contains(&nh) {
                    out.push(nh);
                }
            }
        }
        out
    }
}

impl Actor {
    /// Hands the FIB writer its next batch of changes.
    pub(super) fn fib_pump(&mut self) {
        let Some(f) = self.fib.as_mut() else { return };
        if !f.write || f.busy || (f.pending.is_empty() && !self.speaker.has_fib_changes()) {
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
                    let nexthops = if connected.contains(&prefix) {
                        Vec::new()
                    } else {
                        f.resolve(&hops)
                    };
                    if nexthops.is_empty() {
                        if f.installed.remove(&prefix) {
                            ops.push(Op::Delete(prefix));
                        }
                    } else {
                        f.installed.insert(prefix);
                        f.stale.remove(&prefix);
                        ops.push(Op::Replace(FibRoute { prefix, nexthops }));
                    }
                }
                FibChange::Remove(prefix) => {
                    if f.installed.remove(&prefix) {
                        ops.push(Op::Delete(prefix));
                    }
                }
            }
        }
        if !ops.is_empty() && f.tx.try_send(ops).is_ok() {
            f.busy = true;
        }
    }

    pub(super) fn fib_done(&mut self, stats: fib::Stats) {
        if let Some(f) = self.fib.as_mut() {
            f.busy = false;
            if stats.failed > 0 {
                warn!(?stats, "some kernel route changes failed");
            }
        }
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
        let mut changed = false;
        for p in f.statics.keys() {
            if !want.contains_key(p) {
                f.pending.push(Op::Delete(*p));
                changed = true;
            }
        }
        for (p, hops) in &want {
            if f.statics.get(p) != Some(hops) {
                f.pending.push(Op::Replace(FibRoute {
                    prefix: *p,
                    nexthops: hops.clone(),
                }));
                f.installed.remove(p);
                f.stale.remove(p);
                changed = true;
            }
        }
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
            && !f.busy
        {
            let gone: Vec<Op> = f.stale.drain().map(Op::Delete).collect();
            info!(
                routes = gone.len(),
                "removing kernel routes of a previous run"
            );
            if f.tx.try_send(gone).is_ok() {
                f.busy = true;
            }
        }
    }
}
