//! The native-routing datapath of one pod: a veth pair, the pod end (`CNI_IFNAME`) with the
//! pod's /32 (/128) and a default route via an on-link gateway whose neighbour entry is
//! static, the host end without addresses, and a host route to each pod address via the
//! host end.
//!
//! The pod's gateway (`169.254.1.1` and `fe80::1` unless configured) is never assigned to
//! an interface: the pod resolves it through a permanent neighbour entry pointing at the
//! host end's hardware address, so every packet the pod sends reaches the host, which
//! routes it. Proxy ARP on the host end answers too, should that entry be removed.

use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::Path;

use ipnet::IpNet;
use netlink_packet_route::route::RouteScope;

use crate::error::CniError;
use crate::netlink::{mac_string, Link, Netlink, EEXIST};
use crate::netns;

/// What to build for one attachment.
#[derive(Debug, Clone)]
pub(crate) struct Plan<'a> {
    /// `CNI_NETNS`.
    pub netns: &'a Path,
    /// `CNI_IFNAME`.
    pub ifname: &'a str,
    /// Name of the host end.
    pub host_if: &'a str,
    /// Hardware address of the host end.
    pub host_mac: [u8; 6],
    /// MTU of both ends.
    pub mtu: u32,
    /// The pod's addresses (one per family).
    pub ips: &'a [IpAddr],
    /// The pod's gateway per family.
    pub gateways: &'a [IpAddr],
    /// Turn on forwarding in the host's namespace.
    pub ip_forward: bool,
}

/// What was built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Built {
    /// The host end.
    pub host: Link,
    /// The pod end.
    pub pod: Link,
}

/// The name of the host end of an attachment's veth: `prefix` and a hash of the container
/// id and interface name, 15 characters in all.
pub(crate) fn host_interface_name(prefix: &str, container_id: &str, ifname: &str) -> String {
    let hex = format!("{:016x}", fnv1a(container_id, ifname));
    let room = 15usize.saturating_sub(prefix.len()).min(hex.len());
    format!("{prefix}{}", &hex[..room])
}

/// The hardware address of the host end: locally administered, unicast, from the same hash.
pub(crate) fn host_mac(container_id: &str, ifname: &str) -> [u8; 6] {
    let h = fnv1a(container_id, ifname).to_be_bytes();
    [0xee, h[3], h[4], h[5], h[6], h[7]]
}

/// 64-bit FNV-1a over `container_id`, a zero byte, and `ifname` (stable across builds,
/// unlike the standard library's hasher).
fn fnv1a(container_id: &str, ifname: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in container_id
        .bytes()
        .chain(std::iter::once(0))
        .chain(ifname.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn host_prefix(ip: IpAddr) -> IpNet {
    match ip {
        IpAddr::V4(_) => IpNet::new(ip, 32),
        IpAddr::V6(_) => IpNet::new(ip, 128),
    }
    .expect("full-length prefix")
}

/// Builds the datapath. On failure, whatever was created is removed again.
pub(crate) fn build(plan: &Plan<'_>) -> Result<Built, CniError> {
    let mut host = Netlink::open("host")?;
    if host.link(plan.host_if)?.is_some() {
        return Err(CniError::sys(
            format!(
                "create host interface {}: it already exists (a leftover of the same container, or a hash collision with another; DEL the other attachment first)",
                plan.host_if
            ),
            nix::errno::Errno::EEXIST,
        ));
    }
    let pod_ns = netns::open(plan.netns)?;
    match host.add_veth(
        plan.host_if,
        plan.host_mac,
        plan.ifname,
        pod_ns.as_fd(),
        plan.mtu,
    ) {
        Ok(()) => {}
        Err(e) if e.errno() == Some(EEXIST) => {
            return Err(CniError::InterfaceExists {
                ifname: plan.ifname.to_string(),
                netns: plan.netns.display().to_string(),
            })
        }
        Err(e) => return Err(e),
    }
    let built = configure(&mut host, plan, &pod_ns);
    if built.is_err() {
        if let Err(e) = host.delete_link(plan.host_if) {
            tracing::warn!(host_if = plan.host_if, error = %e, "cannot remove the veth of a failed ADD");
        }
    }
    built
}

fn configure(
    host: &mut Netlink,
    plan: &Plan<'_>,
    pod_ns: &std::os::fd::OwnedFd,
) -> Result<Built, CniError> {
    let v4 = plan.ips.iter().any(IpAddr::is_ipv4);
    let v6 = plan.ips.iter().any(IpAddr::is_ipv6);
    let h = plan.host_if;
    if v4 {
        netns::set_sysctl(&["net", "ipv4", "conf", h, "forwarding"], "1")?;
        netns::set_sysctl(&["net", "ipv4", "conf", h, "proxy_arp"], "1")?;
        netns::set_sysctl(&["net", "ipv4", "neigh", h, "proxy_delay"], "0")?;
    }
    if v6 {
        netns::set_sysctl(&["net", "ipv6", "conf", h, "disable_ipv6"], "0")?;
        netns::set_sysctl(&["net", "ipv6", "conf", h, "accept_dad"], "0")?;
        netns::set_sysctl(&["net", "ipv6", "conf", h, "forwarding"], "1")?;
    }
    let host_link = host.link(h)?.ok_or_else(|| {
        CniError::sys(
            format!("find host interface {h} just created"),
            nix::errno::Errno::ENODEV,
        )
    })?;
    host.set_up(host_link.index, h)?;
    let host_mac = host_link.mac.clone();
    let ns_label = plan.netns.display().to_string();
    let pod_link = netns::run_in(pod_ns.as_fd(), plan.netns, || {
        let mut nl = Netlink::open(&ns_label)?;
        if let Some(lo) = nl.link("lo")? {
            if !lo.up {
                nl.set_up(lo.index, "lo")?;
            }
        }
        if v6 {
            netns::set_sysctl(&["net", "ipv6", "conf", plan.ifname, "disable_ipv6"], "0")?;
            netns::set_sysctl(&["net", "ipv6", "conf", plan.ifname, "accept_dad"], "0")?;
        }
        let link = nl.link(plan.ifname)?.ok_or_else(|| {
            CniError::sys(
                format!("find {} just created in {ns_label}", plan.ifname),
                nix::errno::Errno::ENODEV,
            )
        })?;
        nl.set_up(link.index, plan.ifname)?;
        for ip in plan.ips {
            nl.add_address(link.index, host_prefix(*ip))?;
        }
        for gw in plan.gateways {
            // The gateway is on-link (a scope-link route to it), resolved statically.
            nl.add_neighbour(link.index, *gw, &host_mac)?;
            if gw.is_ipv4() {
                nl.add_route(host_prefix(*gw), None, link.index, RouteScope::Link)?;
            }
            let default = IpNet::new(unspecified(*gw), 0).expect("prefix 0");
            nl.add_route(default, Some(*gw), link.index, RouteScope::Universe)?;
        }
        Ok(Link { up: true, ..link })
    })?;
    for ip in plan.ips {
        let scope = if ip.is_ipv4() {
            RouteScope::Link
        } else {
            RouteScope::Universe
        };
        host.add_route(host_prefix(*ip), None, host_link.index, scope)?;
    }
    if plan.ip_forward {
        if v4 {
            netns::set_sysctl(&["net", "ipv4", "ip_forward"], "1")?;
        }
        if v6 {
            netns::set_sysctl(&["net", "ipv6", "conf", "all", "forwarding"], "1")?;
        }
    }
    Ok(Built {
        host: Link {
            up: true,
            ..host_link
        },
        pod: pod_link,
    })
}

fn unspecified(like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}

/// Deletes the host end `name` (its peer in the pod and the host routes through it go
/// with it); false when it did not exist.
pub(crate) fn remove(name: &str) -> Result<bool, CniError> {
    Netlink::open("host")?.delete_link(name)
}

/// What `CHECK` expects, from `prevResult`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expected {
    /// The host end, if the result names one of ours.
    pub host_if: Option<String>,
    /// The pod end's hardware address, if the result gives it.
    pub pod_mac: Option<String>,
    /// The pod's addresses (with their prefix lengths).
    pub addresses: Vec<IpNet>,
    /// The pod's gateways.
    pub gateways: Vec<IpAddr>,
    /// Routes in the pod: destination, gateway, and whether the route is scope link.
    pub routes: Vec<(IpNet, Option<IpAddr>, bool)>,
}

/// Verifies the datapath against `expected`; the error names the first thing missing.
pub(crate) fn check(netns_path: &Path, ifname: &str, expected: &Expected) -> Result<(), CniError> {
    let fail = |what: String| Err(CniError::Check { what });
    let mut host = Netlink::open("host")?;
    let mut host_mac = None;
    if let Some(h) = &expected.host_if {
        let Some(link) = host.link(h)? else {
            return fail(format!("host interface {h} is missing"));
        };
        if !link.up {
            return fail(format!("host interface {h} is down"));
        }
        let routes = (host.routes(false)?, host.routes(true)?);
        for a in &expected.addresses {
            let want = host_prefix(a.addr());
            let table = if a.addr().is_ipv4() {
                &routes.0
            } else {
                &routes.1
            };
            if !table
                .iter()
                .any(|r| r.dst == want && r.oif == Some(link.index) && r.gw.is_none())
            {
                return fail(format!("the host route {want} dev {h} is missing"));
            }
        }
        host_mac = Some(link.mac);
    }
    let pod_ns = netns::open(netns_path)?;
    let ns_label = netns_path.display().to_string();
    netns::run_in(pod_ns.as_fd(), netns_path, || {
        let mut nl = Netlink::open(&ns_label)?;
        let Some(link) = nl.link(ifname)? else {
            return fail(format!("interface {ifname} is missing in {ns_label}"));
        };
        if !link.up {
            return fail(format!("interface {ifname} in {ns_label} is down"));
        }
        if let Some(mac) = &expected.pod_mac {
            let have = mac_string(&link.mac);
            if !have.eq_ignore_ascii_case(mac) {
                return fail(format!(
                    "interface {ifname} in {ns_label} has hardware address {have}, not {mac}"
                ));
            }
        }
        let addrs = nl.addresses(link.index)?;
        for a in &expected.addresses {
            if !addrs.contains(a) {
                return fail(format!("address {a} is missing on {ifname} in {ns_label}"));
            }
        }
        let routes = (nl.routes(false)?, nl.routes(true)?);
        for (dst, gw, link_scope) in &expected.routes {
            let table = if dst.addr().is_ipv4() {
                &routes.0
            } else {
                &routes.1
            };
            let found = table.iter().any(|r| {
                r.dst == *dst
                    && r.oif == Some(link.index)
                    && (r.gw == *gw || gw.is_none() && !link_scope)
                    && (!link_scope || r.scope == RouteScope::Link)
            });
            if !found {
                let via = gw.map(|g| format!(" via {g}")).unwrap_or_default();
                return fail(format!(
                    "route {dst}{via} dev {ifname} is missing in {ns_label}"
                ));
            }
        }
        let neighbours = nl.neighbours(link.index)?;
        for gw in &expected.gateways {
            let Some(n) = neighbours.iter().find(|n| n.ip == *gw) else {
                return fail(format!(
                    "the neighbour entry of gateway {gw} is missing in {ns_label}"
                ));
            };
            if let Some(hm) = &host_mac {
                if &n.mac != hm {
                    return fail(format!(
                        "gateway {gw} in {ns_label} resolves to {}, not to the host interface's {}",
                        mac_string(&n.mac),
                        mac_string(hm)
                    ));
                }
            }
            if !n.permanent {
                return fail(format!(
                    "the neighbour entry of gateway {gw} in {ns_label} is not permanent"
                ));
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_interface_names_are_stable_short_and_distinct() {
        let a = host_interface_name("bgpl", "0123456789abcdef", "eth0");
        assert_eq!(a, host_interface_name("bgpl", "0123456789abcdef", "eth0"));
        assert_eq!(a.len(), 15);
        assert!(a.starts_with("bgpl"));
        assert_ne!(a, host_interface_name("bgpl", "0123456789abcdef", "eth1"));
        assert_ne!(a, host_interface_name("bgpl", "0123456789abcdeg", "eth0"));
        assert_eq!(host_interface_name("p", "x", "eth0").len(), 15);
        // The same bytes split differently between the id and the name give other names.
        assert_ne!(
            host_interface_name("bgpl", "ab", "c"),
            host_interface_name("bgpl", "a", "bc")
        );
    }

    #[test]
    fn host_hardware_addresses_are_local_unicast() {
        let m = host_mac("0123456789abcdef", "eth0");
        assert_eq!(m[0] & 0x01, 0, "unicast");
        assert_eq!(m[0] & 0x02, 0x02, "locally administered");
        assert_ne!(m, host_mac("0123456789abcdef", "eth1"));
    }
}
