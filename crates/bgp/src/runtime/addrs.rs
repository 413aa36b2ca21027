//! Our addresses on the interface a session runs over: the next hops we announce
//! (an IPv6 next hop for IPv6 routes on an IPv4 session, and the reverse).

use std::net::{IpAddr, Ipv6Addr};

use crate::speaker::LocalAddrs;

/// The addresses of the interface that holds `local`.
pub fn of_interface(local: IpAddr) -> LocalAddrs {
    let local = match local {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(local, IpAddr::V4),
        v4 => v4,
    };
    let Ok(ifaddrs) = nix::ifaddrs::getifaddrs() else {
        return LocalAddrs::default();
    };
    let all: Vec<(String, IpAddr)> = ifaddrs
        .filter_map(|i| {
            let a = i.address?;
            let ip = if let Some(v4) = a.as_sockaddr_in() {
                IpAddr::V4(v4.ip())
            } else {
                IpAddr::V6(a.as_sockaddr_in6()?.ip())
            };
            Some((i.interface_name, ip))
        })
        .collect();
    let Some(name) = all
        .iter()
        .find(|(_, ip)| *ip == local)
        .map(|(n, _)| n.clone())
    else {
        return LocalAddrs::default();
    };
    let mut out = LocalAddrs::default();
    for (_, ip) in all.iter().filter(|(n, _)| *n == name) {
        match ip {
            IpAddr::V4(a) if out.v4.is_none() => out.v4 = Some(*a),
            IpAddr::V6(a) if is_link_local(a) && out.v6_link_local.is_none() => {
                out.v6_link_local = Some(*a)
            }
            IpAddr::V6(a) if is_link_local(a) => {}
            IpAddr::V6(a) if out.v6.is_none() && !a.is_loopback() => out.v6 = Some(*a),
            _ => {}
        }
    }
    out
}

fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn the_loopback_interface_is_found_by_its_address() {
        let a = of_interface(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(a.v4, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(
            of_interface(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 254))),
            LocalAddrs::default()
        );
    }
}
