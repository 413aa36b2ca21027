//! Writing routes: replace and delete many at once, find our routes of a previous run.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use bgp_wire::Prefix;
use futures_util::TryStreamExt;
use rtnetlink::packet_route::route::{RouteMessage, RouteProtocol, RouteScope, RouteType};
use rtnetlink::{Handle, RouteMessageBuilder, RouteNextHopBuilder};
use tracing::warn;

use crate::batch::Writer;
use crate::kernel::KernelState;
use crate::{FibConfig, FibError};

/// One next hop of a route to install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct FibNextHop {
    /// Directly connected gateway (may be IPv6 link-local, also for IPv4 routes per
    /// RFC 8950).
    pub gateway: IpAddr,
    /// Output interface (required for link-local gateways).
    pub ifindex: Option<u32>,
}

/// A route to install: one next hop, or several for ECMP.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FibRoute {
    /// Destination.
    pub prefix: Prefix,
    /// Next hops (one, or an ECMP set); none makes a blackhole route (packets dropped).
    pub nexthops: Vec<FibNextHop>,
}

/// A change to the FIB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Install or replace.
    Replace(FibRoute),
    /// Remove.
    Delete(Prefix),
}

/// What a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Routes installed or replaced.
    pub installed: usize,
    /// Routes removed.
    pub removed: usize,
    /// Requests the kernel refused.
    pub failed: usize,
}

/// The FIB writer.
#[derive(Debug, Clone)]
pub struct Fib {
    handle: Handle,
    cfg: FibConfig,
    /// Route requests go through a socket of their own, many per datagram.
    writer: Arc<Mutex<Writer>>,
}

impl Fib {
    /// Opens the netlink connections, in the calling thread's network namespace (the
    /// connection's task runs on the current tokio runtime).
    pub fn connect(cfg: FibConfig) -> Result<Self, FibError> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(FibError::Socket)?;
        let writer = Arc::new(Mutex::new(Writer::open()?));
        tokio::spawn(conn);
        Ok(Fib {
            handle,
            cfg,
            writer,
        })
    }

    /// The netlink handle (for [`KernelState::load`]).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The settings.
    pub fn config(&self) -> &FibConfig {
        &self.cfg
    }

    /// Reads what the kernel knows.
    pub async fn kernel(&self) -> Result<KernelState, FibError> {
        KernelState::load(&self.handle, &self.cfg).await
    }

    /// Applies changes, hundreds of requests per system call, on a thread of the runtime's
    /// blocking pool (the kernel does the work inside the call). Refusals are counted and
    /// logged, not fatal: one bad route must not stop the others.
    pub async fn apply(&self, ops: Vec<Op>) -> Stats {
        let writer = self.writer.clone();
        let cfg = self.cfg;
        let n = ops.len();
        let job = tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves nothing half-written that matters: the
            // socket has no state between datagrams.
            let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
            w.apply(&ops, &cfg)
        });
        job.await.unwrap_or_else(|e| {
            warn!(error = %e, routes = n, "the FIB writer stopped");
            Stats {
                failed: n,
                ..Stats::default()
            }
        })
    }

    /// Our routes in the table (left by this or a previous run).
    pub async fn own_routes(&self) -> Result<Vec<Prefix>, FibError> {
        let mut out = Vec::new();
        for v6 in [false, true] {
            let msg = if v6 {
                RouteMessageBuilder::<Ipv6Addr>::new()
                    .table_id(self.cfg.table)
                    .build()
            } else {
                RouteMessageBuilder::<Ipv4Addr>::new()
                    .table_id(self.cfg.table)
                    .build()
            };
            let mut routes = self.handle.route().get(msg).execute();
            while let Some(m) = routes
                .try_next()
                .await
                .map_err(|source| FibError::Netlink {
                    what: "route dump".into(),
                    source,
                })?
            {
                if u8::from(m.header.protocol) == self.cfg.protocol {
                    if let Some(p) = prefix_of(&m) {
                        out.push(p);
                    }
                }
            }
        }
        Ok(out)
    }
}

fn prefix_of(m: &RouteMessage) -> Option<Prefix> {
    use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
    let dst = m.attributes.iter().find_map(|a| match a {
        RouteAttribute::Destination(RouteAddress::Inet(v4)) => Some(IpAddr::V4(*v4)),
        RouteAttribute::Destination(RouteAddress::Inet6(v6)) => Some(IpAddr::V6(*v6)),
        _ => None,
    });
    let zero = match m.header.address_family {
        rtnetlink::packet_route::AddressFamily::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    Prefix::new(dst.unwrap_or(zero), m.header.destination_prefix_length)
}

/// The message of a route: a single gateway, or a multipath set.
pub(crate) fn route_message(r: &FibRoute, cfg: &FibConfig) -> RouteMessage {
    let proto = RouteProtocol::from(cfg.protocol);
    let mut msg = prefix_message(r.prefix, cfg);
    msg.header.protocol = proto;
    msg.header.scope = RouteScope::Universe;
    let v4 = matches!(r.prefix, Prefix::V4(_));
    let hop = |nh: &FibNextHop| -> Option<rtnetlink::packet_route::route::RouteNextHop> {
        let b = if v4 {
            RouteNextHopBuilder::new_ipv4()
        } else {
            RouteNextHopBuilder::new_ipv6()
        };
        let b = match nh.ifindex {
            Some(i) => b.interface(i),
            None => b,
        };
        b.via(nh.gateway).ok().map(|b| b.build())
    };
    match r.nexthops.as_slice() {
        [] => {
            msg.header.kind = RouteType::BlackHole;
            msg
        }
        [one] => {
            // A single next hop: gateway (or via for a next hop of the other family).
            let mut b = match r.prefix {
                Prefix::V4(p) => {
                    let mut b = RouteMessageBuilder::<Ipv4Addr>::new()
                        .destination_prefix(p.addr(), p.prefix_len())
                        .table_id(cfg.table)
                        .protocol(proto)
                        .priority(cfg.metric);
                    b = match one.gateway {
                        IpAddr::V4(g) => b.gateway(g),
                        IpAddr::V6(g) => b.via(g),
                    };
                    b.build()
                }
                Prefix::V6(p) => {
                    let mut b = RouteMessageBuilder::<Ipv6Addr>::new()
                        .destination_prefix(p.addr(), p.prefix_len())
                        .table_id(cfg.table)
                        .protocol(proto)
                        .priority(cfg.metric);
                    if let IpAddr::V6(g) = one.gateway {
                        b = b.gateway(g);
                    }
                    b.build()
                }
            };
            if let Some(i) = one.ifindex {
                b.attributes
                    .push(rtnetlink::packet_route::route::RouteAttribute::Oif(i));
            }
            b
        }
        many => {
            let hops: Vec<_> = many.iter().filter_map(hop).collect();
            match r.prefix {
                Prefix::V4(p) => RouteMessageBuilder::<Ipv4Addr>::new()
                    .destination_prefix(p.addr(), p.prefix_len())
                    .table_id(cfg.table)
                    .protocol(proto)
                    .priority(cfg.metric)
                    .multipath(hops)
                    .build(),
                Prefix::V6(p) => RouteMessageBuilder::<Ipv6Addr>::new()
                    .destination_prefix(p.addr(), p.prefix_len())
                    .table_id(cfg.table)
                    .protocol(proto)
                    .priority(cfg.metric)
                    .multipath(hops)
                    .build(),
            }
        }
    }
}

/// A message naming a route of ours (for deletion: of any type, blackhole included).
pub(crate) fn prefix_message(p: Prefix, cfg: &FibConfig) -> RouteMessage {
    let proto = RouteProtocol::from(cfg.protocol);
    let mut msg = match p {
        Prefix::V4(p) => RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(p.addr(), p.prefix_len())
            .table_id(cfg.table)
            .protocol(proto)
            .priority(cfg.metric)
            .build(),
        Prefix::V6(p) => RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix(p.addr(), p.prefix_len())
            .table_id(cfg.table)
            .protocol(proto)
            .priority(cfg.metric)
            .build(),
    };
    msg.header.kind = RouteType::Unspec;
    msg
}
