//! The lab's forwarding state, read live: hosts (namespaces) with their addresses, and a
//! hop-by-hop walk of the kernels' FIBs (`ip route get` at each hop, following the veth or
//! bridge to the next namespace). It names the hop where a path breaks.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Mutex;

use serde::Serialize;

use super::inspect::{addresses_of, IfAddr};
use crate::plan::behaviour::Behaviour;
use crate::plan::Ns;
use crate::rt::netlink::{Nl, RouteGet};
use crate::rt::state::LabState;
use crate::rt::{netns, RtError};

/// A host: one network namespace and the nodes in it.
#[derive(Clone, Debug, Serialize)]
pub struct Host {
    /// Display name (the topology node in a kind node's namespace, else the owner).
    pub label: String,
    /// Every node name in this namespace.
    pub members: Vec<String>,
    /// Its namespace.
    #[serde(skip)]
    pub ns: Ns,
    /// The address others ping: node-ip, else a loopback /32, else the first address.
    pub target: Option<IpAddr>,
    /// Non-management global addresses.
    pub addrs: Vec<IfAddr>,
    /// Labels of its nodes.
    #[serde(skip)]
    pub labels: Vec<(String, String)>,
}

/// One hop of a walk.
#[derive(Clone, Debug, Serialize)]
pub struct Hop {
    /// Host label.
    pub host: String,
    /// Outgoing interface.
    pub out_if: Option<String>,
    /// Next-hop address (None: directly connected).
    pub via: Option<IpAddr>,
    /// Source address the kernel picks here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
}

/// The result of a walk.
#[derive(Clone, Debug, Serialize)]
pub struct Walk {
    /// Hops from the source; the last is where the packet is delivered or dropped.
    pub hops: Vec<Hop>,
    /// None when delivered; else why not.
    pub failure: Option<String>,
}

/// Live view of a deployed lab for walks.
pub struct Fabric<'a> {
    /// The lab.
    pub st: &'a LabState,
    /// Hosts in node order of their owners.
    pub hosts: Vec<Host>,
    all_addrs: HashMap<Ns, Vec<IfAddr>>,
    nls: Mutex<HashMap<Ns, Nl>>,
    fds: HashMap<Ns, OwnedFd>,
    peers: HashMap<(Ns, String), (Ns, String)>,
    bridge_of: HashMap<String, String>,
}

impl<'a> Fabric<'a> {
    /// Reads addresses of every namespace of the lab.
    pub fn new(st: &'a LabState) -> Result<Fabric<'a>, RtError> {
        let plan = &st.plan;
        let mut fds = HashMap::new();
        let mut nls = HashMap::new();
        let mut all_addrs = HashMap::new();
        let mut spaces: Vec<(Ns, String)> = vec![(Ns::Lab, plan.lab_netns.clone())];
        spaces.extend(
            plan.nodes
                .iter()
                .enumerate()
                .filter_map(|(i, n)| n.netns.clone().map(|s| (Ns::Node(i), s))),
        );
        for (ns, name) in spaces {
            let fd = netns::open(&name)?;
            nls.insert(ns, Nl::open_in(fd.as_fd(), &name)?);
            all_addrs.insert(ns, addresses_of(&name)?);
            fds.insert(ns, fd);
        }
        let mut peers = HashMap::new();
        let mut bridge_of = HashMap::new();
        for l in &plan.links {
            peers.insert((l.a.ns, l.a.iface.clone()), (l.b.ns, l.b.iface.clone()));
            peers.insert((l.b.ns, l.b.iface.clone()), (l.a.ns, l.a.iface.clone()));
            for e in [&l.a, &l.b] {
                if let Some(m) = &e.master {
                    bridge_of.insert(e.iface.clone(), m.clone());
                }
            }
        }
        let mut hosts = Vec::new();
        for (o, owner) in plan.nodes.iter().enumerate() {
            if owner.netns.is_none() || owner.behaviour == Behaviour::Bridge {
                continue;
            }
            let members: Vec<usize> = (0..plan.nodes.len())
                .filter(|i| plan.nodes[*i].ns == Ns::Node(o))
                .collect();
            let others: Vec<&usize> = members.iter().filter(|i| **i != o).collect();
            let label = match (owner.behaviour == Behaviour::ClusterNode, others.as_slice()) {
                (true, [one]) => plan.nodes[**one].name.clone(),
                _ => owner.name.clone(),
            };
            let has_mgmt = owner.mgmt4.is_some();
            let addrs: Vec<IfAddr> = all_addrs
                .get(&Ns::Node(o))
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|a| !(a.addr.addr().is_loopback() || has_mgmt && a.iface == "eth0"))
                .collect();
            let node_ip = members
                .iter()
                .flat_map(|i| plan.nodes[*i].node_ips.iter())
                .find(|ip| addrs.iter().any(|a| a.addr.addr() == **ip))
                .copied();
            let lo32 = addrs
                .iter()
                .find(|a| a.iface == "lo" && a.addr.addr().is_ipv4())
                .map(|a| a.addr.addr());
            let target = node_ip
                .or(lo32)
                .or_else(|| {
                    addrs
                        .iter()
                        .find(|a| a.addr.addr().is_ipv4())
                        .map(|a| a.addr.addr())
                })
                .or_else(|| addrs.first().map(|a| a.addr.addr()));
            let labels = members
                .iter()
                .flat_map(|i| plan.nodes[*i].labels.iter().cloned())
                .collect();
            hosts.push(Host {
                label,
                members: members
                    .iter()
                    .map(|i| plan.nodes[*i].name.clone())
                    .collect(),
                ns: Ns::Node(o),
                target,
                addrs,
                labels,
            });
        }
        Ok(Fabric {
            st,
            hosts,
            all_addrs,
            nls: Mutex::new(nls),
            fds,
            peers,
            bridge_of,
        })
    }

    /// The namespace handle of a host.
    pub fn fd(&self, ns: Ns) -> Option<&OwnedFd> {
        self.fds.get(&ns)
    }

    /// The display name of a namespace.
    pub fn label(&self, ns: Ns) -> String {
        match self.hosts.iter().find(|h| h.ns == ns) {
            Some(h) => h.label.clone(),
            None => self.st.plan.ns_name(ns),
        }
    }

    /// The host owning an address.
    pub fn owner_of(&self, ip: IpAddr) -> Option<Ns> {
        self.all_addrs
            .iter()
            .find(|(_, v)| v.iter().any(|a| a.addr.addr() == ip))
            .map(|(ns, _)| *ns)
    }

    /// Finds hosts by name (any member), address, `key=value` label, or `*`.
    pub fn select(&self, sel: &str) -> Vec<usize> {
        if sel == "*" {
            return (0..self.hosts.len()).collect();
        }
        if let Ok(ip) = sel.parse::<IpAddr>() {
            return self
                .hosts
                .iter()
                .position(|h| h.addrs.iter().any(|a| a.addr.addr() == ip))
                .into_iter()
                .collect();
        }
        if let Some((k, v)) = sel.split_once('=') {
            return (0..self.hosts.len())
                .filter(|i| {
                    self.hosts[*i]
                        .labels
                        .iter()
                        .any(|(hk, hv)| hk == k && hv == v)
                })
                .collect();
        }
        let short = self
            .st
            .plan
            .cluster_name
            .as_ref()
            .map(|c| format!("{c}-{sel}"));
        self.hosts
            .iter()
            .position(|h| {
                h.label == sel
                    || h.members
                        .iter()
                        .any(|m| m == sel || Some(m) == short.as_ref())
            })
            .into_iter()
            .collect()
    }

    fn route_get(&self, ns: Ns, dst: IpAddr) -> Result<RouteGet, RtError> {
        let mut nls = self.nls.lock().unwrap_or_else(|p| p.into_inner());
        let nl = nls.get_mut(&ns).ok_or_else(|| RtError::Lab {
            lab: self.st.plan.name.clone(),
            msg: "namespace gone".into(),
        })?;
        nl.route_get(dst)
    }

    fn ifname(&self, ns: Ns, index: u32) -> Option<String> {
        let mut nls = self.nls.lock().unwrap_or_else(|p| p.into_inner());
        let nl = nls.get_mut(&ns)?;
        nl.links()
            .ok()?
            .into_iter()
            .find(|l| l.index == index)
            .map(|l| l.name)
    }

    /// Follows the FIBs from `from` towards `dst`.
    pub fn walk(&self, from: Ns, dst: IpAddr) -> Walk {
        let mut hops: Vec<Hop> = Vec::new();
        let mut at = from;
        let mut seen = HashSet::new();
        let fail = |hops: Vec<Hop>, why: String| Walk {
            hops,
            failure: Some(why),
        };
        loop {
            let here = self.label(at);
            if !seen.insert(at) {
                return fail(hops, format!("forwarding loop: back at {here}"));
            }
            let rg = match self.route_get(at, dst) {
                Ok(r) => r,
                Err(e) => return fail(hops, format!("cannot read the routes of {here}: {e}")),
            };
            match rg {
                RouteGet::Local => {
                    hops.push(Hop {
                        host: here,
                        out_if: None,
                        via: None,
                        src: None,
                    });
                    return Walk {
                        hops,
                        failure: None,
                    };
                }
                RouteGet::NoRoute => {
                    hops.push(Hop {
                        host: here.clone(),
                        out_if: None,
                        via: None,
                        src: None,
                    });
                    return fail(hops, format!("no route to {dst} at {here}"));
                }
                RouteGet::Reject(kind) => {
                    hops.push(Hop {
                        host: here.clone(),
                        out_if: None,
                        via: None,
                        src: None,
                    });
                    return fail(hops, format!("{kind} route for {dst} at {here}"));
                }
                RouteGet::Unicast { gw, oif, src } => {
                    let out_if = self.ifname(at, oif);
                    hops.push(Hop {
                        host: here.clone(),
                        out_if: out_if.clone(),
                        via: gw,
                        src,
                    });
                    let Some(out_if) = out_if else {
                        return fail(
                            hops,
                            format!("route at {here} uses an unknown interface {oif}"),
                        );
                    };
                    let mgmt_owner =
                        matches!(at, Ns::Node(o) if self.st.plan.nodes[o].mgmt4.is_some());
                    if out_if == "eth0" && mgmt_owner {
                        return fail(hops, format!("{here} sends {dst} out of eth0, the management network (no route in the fabric)"));
                    }
                    match self.next_ns(at, &out_if, gw.unwrap_or(dst)) {
                        Ok(next) => at = next,
                        Err(why) => return fail(hops, format!("at {here}: {why}")),
                    }
                }
            }
            if hops.len() > 64 {
                return fail(hops, "more than 64 hops".into());
            }
        }
    }

    /// The namespace a packet sent out of `out_if` of `at` towards `next_hop` lands in.
    fn next_ns(&self, at: Ns, out_if: &str, next_hop: IpAddr) -> Result<Ns, String> {
        let Some((peer_ns, peer_if)) = self.peers.get(&(at, out_if.to_string())).cloned() else {
            return Err(format!("{out_if} is not a lab link"));
        };
        if peer_ns != Ns::Lab {
            return Ok(peer_ns);
        }
        let Some(bridge) = self.bridge_of.get(&peer_if) else {
            return Err(format!("{out_if} leaves the lab (a host endpoint)"));
        };
        // Bridged: the port whose namespace owns the next hop.
        let ports: Vec<Ns> = self
            .peers
            .iter()
            .filter(|((ns, ifn), _)| {
                *ns == Ns::Lab && self.bridge_of.get(ifn) == Some(bridge) && *ifn != peer_if
            })
            .map(|(_, (pns, _))| *pns)
            .collect();
        if let Some(owner) = self.owner_of(next_hop) {
            if ports.contains(&owner) {
                return Ok(owner);
            }
            if owner == Ns::Lab {
                return Err(format!("{next_hop} is the lab's bridge {bridge} itself"));
            }
        }
        match ports.as_slice() {
            [one] => Ok(*one),
            _ => Err(format!("nobody on bridge {bridge} has {next_hop}")),
        }
    }
}
