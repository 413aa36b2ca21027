//! Cilium's `autoDirectNodeRoutes`: a kernel route to each other node's pod CIDRs through
//! that node's address, when the address is on one of this node's links. Installed by the
//! agent itself, with or without BGP (as Cilium does), under their own route protocol so
//! that neither the embedded router nor a restart of the agent removes the other's.

use std::collections::BTreeMap;
use std::net::IpAddr;

use bgp_wire::Prefix;
use fib::{Fib, FibConfig, FibNextHop, FibRoute, Op};

use crate::desired::NodeInfo;

/// The route protocol of these routes (the router's BGP routes use 186).
pub const PROTOCOL: u8 = 187;

/// The routes to the pod CIDRs of the other nodes whose address is in `subnets`.
pub fn routes(me: &str, nodes: &[NodeInfo], subnets: &[Prefix]) -> BTreeMap<Prefix, IpAddr> {
    let mut out = BTreeMap::new();
    for n in nodes.iter().filter(|n| n.name != me) {
        for cidr in &n.pod_cidrs {
            let via = n.addresses.iter().find(|a| {
                a.is_ipv4() == matches!(cidr, Prefix::V4(_))
                    && subnets.iter().any(|s| s.contains_addr(**a))
            });
            if let Some(via) = via {
                out.insert(*cidr, *via);
            }
        }
    }
    out
}

/// The kernel side: installs what is wanted and removes what is not, including routes
/// of this protocol left by a previous run.
pub struct DirectRoutes {
    installed: Option<BTreeMap<Prefix, IpAddr>>,
}

impl Default for DirectRoutes {
    fn default() -> Self {
        Self::new()
    }
}

impl DirectRoutes {
    /// Nothing known yet: the first sync reads what the kernel holds.
    pub fn new() -> Self {
        DirectRoutes { installed: None }
    }

    /// Makes the kernel hold exactly `want`. Returns the number of changes.
    pub fn sync(&mut self, want: &BTreeMap<Prefix, IpAddr>) -> Result<usize, String> {
        if self.installed.as_ref() == Some(want) {
            return Ok(0);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let installed = &mut self.installed;
        rt.block_on(async {
            let cfg = FibConfig {
                protocol: PROTOCOL,
                ..FibConfig::default()
            };
            let fib = Fib::connect(cfg).map_err(|e| e.to_string())?;
            let have: Vec<Prefix> = match installed {
                Some(m) => m.keys().copied().collect(),
                None => fib.own_routes().await.map_err(|e| e.to_string())?,
            };
            let mut ops: Vec<Op> = have
                .iter()
                .filter(|p| !want.contains_key(p))
                .map(|p| Op::Delete(*p))
                .collect();
            for (p, via) in want {
                if installed.as_ref().and_then(|m| m.get(p)) != Some(via) {
                    ops.push(Op::Replace(FibRoute {
                        prefix: *p,
                        nexthops: vec![FibNextHop {
                            gateway: *via,
                            ifindex: None,
                        }],
                    }));
                }
            }
            let n = ops.len();
            let stats = fib.apply(ops).await;
            if stats.failed > 0 {
                return Err(format!(
                    "{} of {n} route changes refused by the kernel",
                    stats.failed
                ));
            }
            *installed = Some(want.clone());
            Ok(n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, ip: &str, cidr: &str) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            pod_cidrs: vec![cidr.parse().unwrap()],
            addresses: vec![ip.parse().unwrap()],
            ..Default::default()
        }
    }

    #[test]
    fn only_nodes_on_our_links_get_a_route_and_never_ourselves() {
        let nodes = [
            node("a", "10.0.5.11", "10.1.0.0/24"),
            node("b", "10.0.5.12", "10.1.1.0/24"),
            node("c", "10.0.10.11", "10.1.2.0/24"),
        ];
        let r = routes("a", &nodes, &["10.0.5.0/24".parse().unwrap()]);
        let got: Vec<(String, String)> = r
            .iter()
            .map(|(p, v)| (p.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, [("10.1.1.0/24".to_string(), "10.0.5.12".to_string())]);
    }
}
