//! What the kernel knows: links, addresses and routes (other than ours), kept current from
//! netlink notifications, and the longest-prefix match that resolves BGP next hops.

use std::collections::HashMap;
use std::net::IpAddr;

use bgp_wire::Prefix;
use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteType};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{Handle, RouteMessageBuilder};

use crate::own::{OwnRoute, OwnRoutes, MAX_DEPTH};
use crate::{FibConfig, FibError};

/// A network interface.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    /// Index.
    pub index: u32,
    /// Name.
    pub name: String,
    /// Administratively and operationally up.
    pub up: bool,
}

/// An address of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Addr {
    /// Interface index.
    pub index: u32,
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length.
    pub prefix_len: u8,
}

/// A kernel route that is not ours.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KernelRoute {
    /// Destination.
    pub prefix: Prefix,
    /// Gateway, if any (else directly connected).
    pub gateway: Option<IpAddr>,
    /// Output interface.
    pub ifindex: Option<u32>,
    /// Metric.
    pub metric: u32,
    /// Route protocol id.
    pub protocol: u8,
    /// Whether it is a blackhole/unreachable/prohibit route.
    pub reject: bool,
}

/// How a BGP next hop is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// The directly connected gateway to use (the next hop itself, or the gateway of the
    /// route that covers it).
    pub gateway: IpAddr,
    /// Output interface.
    pub ifindex: Option<u32>,
    /// IGP cost: the metric of the covering route (0 when directly connected).
    pub metric: u32,
}

/// How a BGP next hop is reached: through the kernel's routes, or recursively through
/// one of our own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach<'a> {
    /// Through a connected subnet or a route of another protocol.
    Kernel {
        /// The gateway.
        resolved: Resolved,
        /// The route used is the default route (which a route of ours may beat).
        via_default: bool,
    },
    /// Through one of our own routes (whose next hops are already resolved).
    Own(&'a OwnRoute),
}

impl Reach<'_> {
    /// IGP cost.
    pub fn metric(&self) -> u32 {
        match self {
            Reach::Kernel { resolved, .. } => resolved.metric,
            Reach::Own(r) => r.metric,
        }
    }

    /// How many of our routes deep: 0 through the kernel's routes.
    pub fn depth(&self) -> u8 {
        match self {
            Reach::Kernel { .. } => 0,
            Reach::Own(r) => r.depth + 1,
        }
    }

    /// Whether a change of our own routes may change this resolution (it goes through one
    /// of them, or through the default route that a route of ours could beat).
    pub fn follows_own_routes(&self) -> bool {
        !matches!(
            self,
            Reach::Kernel {
                via_default: false,
                ..
            }
        )
    }
}

/// The kernel's links, addresses and foreign routes of one table, and our own routes.
#[derive(Debug, Clone, Default)]
pub struct KernelState {
    /// Links by index.
    pub links: HashMap<u32, Link>,
    /// Addresses.
    pub addrs: Vec<Addr>,
    /// Routes of other protocols in our table, and connected routes.
    pub routes: Vec<KernelRoute>,
    /// The routes we installed, kept by the FIB's user (the kernel's notifications about
    /// them are not read back).
    pub own: OwnRoutes,
}

impl KernelState {
    /// Reads everything from the kernel.
    pub async fn load(handle: &Handle, cfg: &FibConfig) -> Result<Self, FibError> {
        let nl = |what: &str| {
            let what = what.to_string();
            move |source| FibError::Netlink {
                what: what.clone(),
                source,
            }
        };
        let mut s = KernelState::default();
        let mut links = handle.link().get().execute();
        while let Some(m) = links.try_next().await.map_err(nl("link dump"))? {
            if let Some(l) = link_of(&m) {
                s.links.insert(l.index, l);
            }
        }
        let mut addrs = handle.address().get().execute();
        while let Some(m) = addrs.try_next().await.map_err(nl("address dump"))? {
            s.addrs.extend(addr_of(&m));
        }
        for v6 in [false, true] {
            let msg = if v6 {
                RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                    .table_id(cfg.table)
                    .build()
            } else {
                RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                    .table_id(cfg.table)
                    .build()
            };
            let mut routes = handle.route().get(msg).execute();
            while let Some(m) = routes.try_next().await.map_err(nl("route dump"))? {
                if let Some(r) = route_of(&m, cfg) {
                    s.routes.push(r);
                }
            }
        }
        Ok(s)
    }

    /// Applies a netlink notification; returns whether anything changed.
    pub fn apply(&mut self, msg: &RouteNetlinkMessage, cfg: &FibConfig) -> bool {
        match msg {
            RouteNetlinkMessage::NewLink(m) => match link_of(m) {
                Some(l) => self.links.insert(l.index, l.clone()) != Some(l),
                None => false,
            },
            RouteNetlinkMessage::DelLink(m) => self.links.remove(&m.header.index).is_some(),
            RouteNetlinkMessage::NewAddress(m) => {
                let mut changed = false;
                for a in addr_of(m) {
                    if !self.addrs.contains(&a) {
                        self.addrs.push(a);
                        changed = true;
                    }
                }
                changed
            }
            RouteNetlinkMessage::DelAddress(m) => {
                let gone = addr_of(m);
                let before = self.addrs.len();
                self.addrs.retain(|a| !gone.contains(a));
                before != self.addrs.len()
            }
            RouteNetlinkMessage::NewRoute(m) => match route_of(m, cfg) {
                Some(r) => {
                    self.routes
                        .retain(|x| !(x.prefix == r.prefix && x.metric == r.metric));
                    self.routes.push(r);
                    true
                }
                None => false,
            },
            RouteNetlinkMessage::DelRoute(m) => match route_of(m, cfg) {
                Some(r) => {
                    let before = self.routes.len();
                    self.routes.retain(|x| {
                        !(x.prefix == r.prefix && x.gateway == r.gateway && x.metric == r.metric)
                    });
                    before != self.routes.len()
                }
                None => false,
            },
            _ => false,
        }
    }

    /// The subnets of the addresses of interfaces that are up (loopback, link-local and
    /// multicast ones excepted): what `redistribute connected` announces.
    pub fn connected(&self) -> Vec<Prefix> {
        let mut v: Vec<Prefix> = self
            .addrs
            .iter()
            .filter(|a| self.link_up(a.index))
            .filter(|a| match a.addr {
                IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local() && !v4.is_multicast(),
                IpAddr::V6(v6) => {
                    !v6.is_loopback() && !v6.is_multicast() && v6.segments()[0] & 0xffc0 != 0xfe80
                }
            })
            .filter_map(|a| Prefix::new(a.addr, a.prefix_len))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The interface index of a name.
    pub fn link_index(&self, name: &str) -> Option<u32> {
        self.links
            .values()
            .find(|l| l.name == name)
            .map(|l| l.index)
    }

    /// Whether the address is one of ours.
    pub fn is_local(&self, a: IpAddr) -> bool {
        self.addrs.iter().any(|x| x.addr == a)
    }

    /// Resolves a BGP next hop: a link-local IPv6 next hop through `via_link` (the session's
    /// interface); any other by the longest matching connected or foreign route whose
    /// interface is up. `None` if unreachable.
    pub fn resolve(&self, nh: IpAddr, via_link: Option<u32>) -> Option<Resolved> {
        self.resolve_kernel(nh, via_link).map(|(r, _)| r)
    }

    /// Resolves a BGP next hop through the kernel's routes ([`KernelState::resolve`]) or,
    /// when none reaches it (or only the default route does), recursively through the
    /// longest of our own routes that covers it, as zebra resolves iBGP next hops through
    /// BGP routes: the next hops that route was installed with, at its cost. `exclude` is
    /// the route being resolved, which may not resolve through itself. Our routes whose
    /// links are all down, or that are [`MAX_DEPTH`] deep, are passed over.
    ///
    /// Unlike zebra, a kernel route other than the default wins over a longer route of
    /// ours: the common case (a connected next hop) then costs no lookup in a full table.
    pub fn reach(
        &self,
        nh: IpAddr,
        via_link: Option<u32>,
        exclude: Option<Prefix>,
    ) -> Option<Reach<'_>> {
        let kernel = self.resolve_kernel(nh, via_link);
        if let Some((r, len)) = kernel {
            if len > 0 || self.own.is_empty() {
                return Some(Reach::Kernel {
                    resolved: r,
                    via_default: false,
                });
            }
        }
        if is_link_local(nh) {
            return None;
        }
        let own = self
            .own
            .covering(nh, 1, exclude)
            .find(|(_, r)| {
                r.depth < MAX_DEPTH
                    && r.hops
                        .iter()
                        .any(|h| h.ifindex.is_none_or(|i| self.link_up(i)))
            })
            .map(|(_, r)| Reach::Own(r));
        own.or(kernel.map(|(r, _)| Reach::Kernel {
            resolved: r,
            via_default: true,
        }))
    }

    /// [`KernelState::resolve`], with the length of the prefix that matched.
    fn resolve_kernel(&self, nh: IpAddr, via_link: Option<u32>) -> Option<(Resolved, u8)> {
        if is_link_local(nh) {
            let idx = via_link?;
            return self.link_up(idx).then_some((
                Resolved {
                    gateway: nh,
                    ifindex: Some(idx),
                    metric: 0,
                },
                max_len(nh),
            ));
        }
        // Connected subnets first (metric 0).
        let connected = self
            .addrs
            .iter()
            .filter(|a| self.link_up(a.index))
            .filter_map(|a| Some((Prefix::new(a.addr, a.prefix_len)?, a.index)))
            .filter(|(p, _)| p.contains_addr(nh) && p.prefix_len() < max_len(nh))
            .max_by_key(|(p, _)| p.prefix_len());
        let route = self
            .routes
            .iter()
            .filter(|r| r.prefix.contains_addr(nh) && !r.reject)
            .filter(|r| r.ifindex.is_none_or(|i| self.link_up(i)))
            .max_by(|a, b| {
                a.prefix
                    .prefix_len()
                    .cmp(&b.prefix.prefix_len())
                    .then(b.metric.cmp(&a.metric))
            });
        match (connected, route) {
            (Some((p, idx)), r) if r.is_none_or(|r| r.prefix.prefix_len() <= p.prefix_len()) => {
                Some((
                    Resolved {
                        gateway: nh,
                        ifindex: Some(idx),
                        metric: 0,
                    },
                    p.prefix_len(),
                ))
            }
            (_, Some(r)) => Some((
                Resolved {
                    gateway: r.gateway.unwrap_or(nh),
                    ifindex: r.ifindex,
                    metric: r.metric,
                },
                r.prefix.prefix_len(),
            )),
            (None, None) => None,
            (Some(_), None) => unreachable!("covered by the first arm"),
        }
    }

    fn link_up(&self, index: u32) -> bool {
        self.links.get(&index).is_none_or(|l| l.up)
    }
}

fn is_link_local(a: IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}

fn max_len(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        32
    } else {
        128
    }
}

fn link_of(m: &LinkMessage) -> Option<Link> {
    let name = m.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })?;
    let up = m.header.flags.contains(LinkFlags::Up) && m.header.flags.contains(LinkFlags::Running);
    Some(Link {
        index: m.header.index,
        name,
        up,
    })
}

fn addr_of(m: &AddressMessage) -> Vec<Addr> {
    m.attributes
        .iter()
        .filter_map(|a| match a {
            AddressAttribute::Address(ip) => Some(Addr {
                index: m.header.index,
                addr: *ip,
                prefix_len: m.header.prefix_len,
            }),
            _ => None,
        })
        .take(1)
        .collect()
}

fn route_addr(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// A foreign (or connected) route of our table, or `None` for ours and other tables.
fn route_of(m: &RouteMessage, cfg: &FibConfig) -> Option<KernelRoute> {
    let table = m
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(m.header.table));
    let protocol = u8::from(m.header.protocol);
    if table != cfg.table || protocol == cfg.protocol {
        return None;
    }
    let dst = m.attributes.iter().find_map(|a| match a {
        RouteAttribute::Destination(d) => route_addr(d),
        _ => None,
    });
    let zero = match m.header.address_family {
        AddressFamily::Inet6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    };
    let prefix = Prefix::new(dst.unwrap_or(zero), m.header.destination_prefix_length)?;
    // For a multipath route, its first next hop is enough to resolve through it.
    let first_hop = m.attributes.iter().find_map(|a| match a {
        RouteAttribute::MultiPath(hops) => hops.first(),
        _ => None,
    });
    let gateway = m
        .attributes
        .iter()
        .chain(first_hop.into_iter().flat_map(|h| h.attributes.iter()))
        .find_map(|a| match a {
            RouteAttribute::Gateway(g) => route_addr(g),
            _ => None,
        });
    let ifindex = m
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Oif(i) => Some(*i),
            _ => None,
        })
        .or(first_hop.map(|h| h.interface_index));
    let metric = m
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Priority(p) => Some(*p),
            _ => None,
        })
        .unwrap_or(0);
    let reject = matches!(
        m.header.kind,
        RouteType::BlackHole | RouteType::Unreachable | RouteType::Prohibit
    );
    if matches!(
        m.header.kind,
        RouteType::Local | RouteType::Broadcast | RouteType::Multicast | RouteType::Anycast
    ) {
        return None;
    }
    Some(KernelRoute {
        prefix,
        gateway,
        ifindex,
        metric,
        protocol,
        reject,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> KernelState {
        let mut s = KernelState::default();
        s.links.insert(
            2,
            Link {
                index: 2,
                name: "eth0".into(),
                up: true,
            },
        );
        s.links.insert(
            3,
            Link {
                index: 3,
                name: "eth1".into(),
                up: false,
            },
        );
        s.addrs.push(Addr {
            index: 2,
            addr: "10.0.5.1".parse().unwrap(),
            prefix_len: 24,
        });
        s.addrs.push(Addr {
            index: 3,
            addr: "10.0.6.1".parse().unwrap(),
            prefix_len: 24,
        });
        s.routes.push(KernelRoute {
            prefix: "10.9.0.0/16".parse().unwrap(),
            gateway: Some("10.0.5.254".parse().unwrap()),
            ifindex: Some(2),
            metric: 50,
            protocol: 4,
            reject: false,
        });
        s
    }

    #[test]
    fn connected_next_hops_resolve_to_themselves_with_cost_zero() {
        let r = state().resolve("10.0.5.11".parse().unwrap(), None).unwrap();
        assert_eq!(
            r,
            Resolved {
                gateway: "10.0.5.11".parse().unwrap(),
                ifindex: Some(2),
                metric: 0
            }
        );
    }

    #[test]
    fn remote_next_hops_resolve_through_the_covering_route() {
        let r = state().resolve("10.9.1.1".parse().unwrap(), None).unwrap();
        assert_eq!(r.gateway, "10.0.5.254".parse::<IpAddr>().unwrap());
        assert_eq!(r.metric, 50);
    }

    #[test]
    fn next_hops_behind_a_down_interface_or_nowhere_are_unreachable() {
        assert_eq!(state().resolve("10.0.6.7".parse().unwrap(), None), None);
        assert_eq!(state().resolve("192.0.2.1".parse().unwrap(), None), None);
    }

    #[test]
    fn link_local_next_hops_need_the_session_interface() {
        let ll: IpAddr = "fe80::1".parse().unwrap();
        assert_eq!(state().resolve(ll, None), None);
        assert_eq!(state().resolve(ll, Some(2)).unwrap().ifindex, Some(2));
    }

    fn own(s: &mut KernelState, prefix: &str, gateway: &str, depth: u8) {
        let hop = crate::FibNextHop {
            gateway: gateway.parse().unwrap(),
            ifindex: Some(2),
        };
        s.own.insert(prefix.parse().unwrap(), &[hop], 7, depth);
    }

    fn gateway_of(r: Option<Reach<'_>>) -> Option<String> {
        match r? {
            Reach::Kernel { resolved, .. } => Some(resolved.gateway.to_string()),
            Reach::Own(o) => Some(o.hops[0].gateway.to_string()),
        }
    }

    #[test]
    fn next_hops_no_kernel_route_reaches_resolve_through_the_longest_route_of_ours() {
        let mut s = state();
        own(&mut s, "172.16.0.0/12", "10.0.5.2", 0);
        own(&mut s, "172.16.1.0/24", "10.0.5.3", 1);
        let nh: IpAddr = "172.16.1.9".parse().unwrap();
        let r = s.reach(nh, None, None).unwrap();
        assert_eq!(gateway_of(Some(r)).unwrap(), "10.0.5.3");
        assert_eq!((r.metric(), r.depth()), (7, 2));
        assert!(r.follows_own_routes());
        // Connected and kernel-routed next hops do not look at our routes.
        own(&mut s, "10.9.1.0/24", "10.0.5.4", 0);
        let k = s.reach("10.9.1.1".parse().unwrap(), None, None).unwrap();
        assert_eq!(gateway_of(Some(k)).unwrap(), "10.0.5.254");
        assert!(!k.follows_own_routes());
        assert_eq!(s.reach("192.0.2.1".parse().unwrap(), None, None), None);
    }

    #[test]
    fn a_route_of_ours_beats_the_default_route_but_not_itself() {
        let mut s = state();
        s.routes.push(KernelRoute {
            prefix: "0.0.0.0/0".parse().unwrap(),
            gateway: Some("10.0.5.1".parse().unwrap()),
            ifindex: Some(2),
            metric: 0,
            protocol: 3,
            reject: false,
        });
        own(&mut s, "172.16.0.0/16", "10.0.5.2", 0);
        let nh: IpAddr = "172.16.0.1".parse().unwrap();
        assert_eq!(gateway_of(s.reach(nh, None, None)).unwrap(), "10.0.5.2");
        // The route being resolved is left out: the default route is what remains.
        let me = Some("172.16.0.0/16".parse().unwrap());
        let r = s.reach(nh, None, me).unwrap();
        assert_eq!(gateway_of(Some(r)).unwrap(), "10.0.5.1");
        assert!(r.follows_own_routes(), "via the default route");
    }

    #[test]
    fn routes_of_ours_too_deep_or_behind_a_down_link_are_passed_over() {
        let mut s = state();
        own(&mut s, "172.16.0.0/16", "10.0.5.2", 0);
        own(&mut s, "172.16.1.0/24", "10.0.5.3", crate::MAX_DEPTH);
        let nh: IpAddr = "172.16.1.1".parse().unwrap();
        assert_eq!(gateway_of(s.reach(nh, None, None)).unwrap(), "10.0.5.2");
        s.links.get_mut(&2).unwrap().up = false;
        assert_eq!(s.reach(nh, None, None), None);
    }

    /// Two routes resolving through each other once the kernel routes under them go: re-resolving them in turn (as the router does after each change) must make
    /// both unreachable within MAX_DEPTH rounds instead of keeping each other alive.
    #[test]
    fn routes_resolving_through_each_other_lose_their_next_hops_within_the_depth_limit() {
        let mut s = state();
        let under = KernelRoute {
            prefix: "10.8.0.0/16".parse().unwrap(),
            gateway: Some("10.0.5.254".parse().unwrap()),
            ifindex: Some(2),
            metric: 5,
            protocol: 4,
            reject: false,
        };
        s.routes.push(under);
        // a = 10.8.0.0/16 via 10.9.0.1 (under it the kernel's 10.9.0.0/16 of `state`),
        // b = 10.9.0.0/16 via 10.8.0.1 (under it the kernel's 10.8.0.0/16).
        let routes: [(Prefix, IpAddr); 2] = [
            ("10.8.0.0/16".parse().unwrap(), "10.9.0.1".parse().unwrap()),
            ("10.9.0.0/16".parse().unwrap(), "10.8.0.1".parse().unwrap()),
        ];
        let round = |s: &mut KernelState| {
            for (prefix, nh) in routes {
                let got = s.reach(nh, None, Some(prefix)).map(|r| {
                    let hops = match r {
                        Reach::Kernel { resolved, .. } => vec![crate::FibNextHop {
                            gateway: resolved.gateway,
                            ifindex: resolved.ifindex,
                        }],
                        Reach::Own(o) => o.hops.clone(),
                    };
                    (hops, r.metric(), r.depth())
                });
                match got {
                    Some((hops, metric, depth)) => s.own.insert(prefix, &hops, metric, depth),
                    None => s.own.remove(prefix),
                };
            }
        };
        round(&mut s);
        assert_eq!(s.own.len(), 2, "both through the kernel");
        s.routes.clear();
        let mut rounds = 0;
        while !s.own.is_empty() {
            rounds += 1;
            assert!(
                rounds <= usize::from(crate::MAX_DEPTH),
                "still installed after {rounds} rounds: {:?}",
                s.own
            );
            round(&mut s);
        }
    }
}
