//! Naming and addressing: namespace names, deterministic MACs, management addresses and the
//! veth plan with per-namespace interface name checks.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use super::behaviour::Behaviour;
use super::{EndPlan, LinkPlan, NetPlan, NodePlan, Ns, DEFAULT_LINK_MTU};
use crate::topo::{EndpointDef, Loc, TopoError, Topology};

pub(crate) use crate::topo::valid_ifname;

/// The namespace name of a topology node: `<prefix>-<lab>-<node>` as containerlab names
/// containers (`prefix: ""` gives the bare node name, `__lab-name` gives `<lab>-<node>`).
pub fn netns_name(prefix: &str, lab: &str, node: &str) -> String {
    match prefix {
        "" => node.to_string(),
        "__lab-name" => format!("{lab}-{node}"),
        p => format!("{p}-{lab}-{node}"),
    }
}

/// A deterministic, locally administered unicast MAC for an interface (`aa:c1:ab` like
/// containerlab, then 24 bits of a hash of lab, node, interface and a salt).
pub fn mac_for(lab: &str, node: &str, iface: &str, salt: u32) -> [u8; 6] {
    // FNV-1a, 64 bit.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in lab
        .bytes()
        .chain([0])
        .chain(node.bytes())
        .chain([0])
        .chain(iface.bytes())
        .chain(salt.to_le_bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    [0xaa, 0xc1, 0xab, (h >> 16) as u8, (h >> 8) as u8, h as u8]
}

/// The management network from `mgmt:` with containerlab's defaults.
pub(super) fn mgmt_net(topo: &Topology) -> Result<NetPlan, TopoError> {
    let m = &topo.mgmt;
    let v4 = m
        .ipv4_subnet
        .unwrap_or_else(|| "172.20.20.0/24".parse().expect("literal"));
    let v4 = v4.trunc();
    let gw4 = m.ipv4_gw.unwrap_or_else(|| first_host4(&v4));
    let v6 = Some(
        m.ipv6_subnet
            .unwrap_or_else(|| "3fff:172:20:20::/64".parse().expect("literal"))
            .trunc(),
    );
    let gw6 = m.ipv6_gw.or_else(|| v6.map(|n| first_host6(&n)));
    let bad = |key: &str, msg: String| {
        let (loc, key) = m
            .loc_of(key)
            .unwrap_or_else(|| (top_loc(topo), format!("mgmt.{key}")));
        TopoError::Invalid { loc, key, msg }
    };
    if v4.prefix_len() > 30 {
        return Err(bad(
            "ipv4-subnet",
            format!("{v4} is too small for a management network"),
        ));
    }
    if !v4.contains(&gw4) || gw4 == v4.network() || gw4 == v4.broadcast() {
        return Err(bad(
            "ipv4-gw",
            format!("gateway {gw4} is not a host address of {v4}"),
        ));
    }
    if let Some(r) = m.ipv4_range {
        if !v4.contains(&r) {
            return Err(bad("ipv4-range", format!("range {r} is not inside {v4}")));
        }
    }
    if let (Some(n), Some(g)) = (v6, gw6) {
        if !n.contains(&g) {
            return Err(bad("ipv6-gw", format!("gateway {g} is not inside {n}")));
        }
    }
    Ok(NetPlan {
        bridge: m.bridge.clone().unwrap_or_else(|| "mgmt".into()),
        v4,
        gw4,
        v6,
        gw6,
        mtu: m.mtu.unwrap_or(1500),
    })
}

/// kind's Docker network (`kind`, 172.18.0.0/16), rebuilt as a bridge in the lab namespace.
pub(super) fn kind_net() -> NetPlan {
    NetPlan {
        bridge: "kind".into(),
        v4: "172.18.0.0/16".parse().expect("literal"),
        gw4: Ipv4Addr::new(172, 18, 0, 1),
        v6: None,
        gw6: None,
        mtu: 1500,
    }
}

fn first_host4(n: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(n.network()) + 1)
}

fn first_host6(n: &Ipv6Net) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(n.network()) + 1)
}

fn top_loc(topo: &Topology) -> Loc {
    Loc {
        file: std::sync::Arc::new(topo.file.clone()),
        line: 1,
        col: 1,
    }
}

/// Gives every node that owns a namespace (and is not `network-mode: none`) an `eth0`
/// address: `mgmt-ipv4`/`mgmt-ipv6` when set, otherwise the next free one in file order.
pub(super) fn assign_mgmt_addresses(
    topo: &Topology,
    nodes: &mut [NodePlan],
    mgmt: &NetPlan,
    kind: Option<&NetPlan>,
    locs: &[Loc],
) -> Result<(), TopoError> {
    let n_cluster = nodes.len() - topo.nodes.len();
    // Cluster nodes: kind network, in node order.
    if let Some(k) = kind {
        for (i, n) in nodes[..n_cluster].iter_mut().enumerate() {
            let host = u32::from(k.v4.network()) + 2 + i as u32;
            n.mgmt4 = Some(Ipv4Net::new(Ipv4Addr::from(host), k.v4.prefix_len()).expect("prefix"));
            n.mgmt_net = Some("kind".into());
        }
    }
    let mut used4: HashSet<Ipv4Addr> = HashSet::from([mgmt.gw4]);
    let mut used6: HashSet<Ipv6Addr> = mgmt.gw6.into_iter().collect();
    let wanted: Vec<bool> = topo
        .nodes
        .iter()
        .enumerate()
        .map(|(i, def)| {
            let n = &nodes[n_cluster + i];
            n.netns.is_some()
                && n.behaviour != Behaviour::Bridge
                && !matches!(&def.network_mode, Some((m, _)) if m == "none")
        })
        .collect();
    let wants = |i: usize| wanted[i];
    for (i, def) in topo.nodes.iter().enumerate() {
        if !wants(i) {
            continue;
        }
        let key = |k: &str| format!("topology.nodes.{}.{k}", def.name);
        if let Some(a) = def.mgmt_ipv4 {
            if !mgmt.v4.contains(&a) || a == mgmt.gw4 || !used4.insert(a) {
                return Err(TopoError::Invalid {
                    loc: def.loc_of("mgmt-ipv4"),
                    key: key("mgmt-ipv4"),
                    msg: format!("{a} is outside {}, the gateway, or already used", mgmt.v4),
                });
            }
        }
        if let (Some(a), Some(v6)) = (def.mgmt_ipv6, mgmt.v6) {
            if !v6.contains(&a) || !used6.insert(a) {
                return Err(TopoError::Invalid {
                    loc: def.loc_of("mgmt-ipv6"),
                    key: key("mgmt-ipv6"),
                    msg: format!("{a} is outside {v6} or already used"),
                });
            }
        }
    }
    let range = topo.mgmt.ipv4_range.unwrap_or(mgmt.v4);
    let mut next4 = u32::from(range.network()) + 1;
    let last4 = u32::from(range.broadcast());
    let mut next6 = mgmt.v6.map(|n| u128::from(n.network()) + 2).unwrap_or(0);
    for (i, def) in topo.nodes.iter().enumerate() {
        if !wants(i) {
            continue;
        }
        let a4 = match def.mgmt_ipv4 {
            Some(a) => a,
            None => loop {
                if next4 >= last4 {
                    let msg = format!(
                        "the management subnet {range} has no address left for node {}",
                        def.name
                    );
                    // Point at the key that sets the range, or at the node when both are
                    // containerlab's defaults.
                    let (loc, key) = topo
                        .mgmt
                        .loc_of("ipv4-range")
                        .filter(|_| topo.mgmt.ipv4_range.is_some())
                        .or_else(|| topo.mgmt.loc_of("ipv4-subnet"))
                        .unwrap_or_else(|| {
                            (
                                locs[n_cluster + i].clone(),
                                format!("topology.nodes.{}", def.name),
                            )
                        });
                    return Err(TopoError::Invalid { loc, key, msg });
                }
                let a = Ipv4Addr::from(next4);
                next4 += 1;
                if used4.insert(a) {
                    break a;
                }
            },
        };
        let n = &mut nodes[n_cluster + i];
        n.mgmt4 = Some(Ipv4Net::new(a4, mgmt.v4.prefix_len()).expect("prefix"));
        if let Some(v6) = mgmt.v6 {
            let a6 = match def.mgmt_ipv6 {
                Some(a) => a,
                None => loop {
                    let a = Ipv6Addr::from(next6);
                    next6 += 1;
                    if !v6.contains(&a) {
                        let (loc, key) = topo.mgmt.loc_of("ipv6-subnet").unwrap_or_else(|| {
                            (
                                locs[n_cluster + i].clone(),
                                format!("topology.nodes.{}", def.name),
                            )
                        });
                        return Err(TopoError::Invalid {
                            loc,
                            key,
                            msg: format!(
                                "the management subnet {v6} has no address left for node {}",
                                def.name
                            ),
                        });
                    }
                    if used6.insert(a) {
                        break a;
                    }
                },
            };
            n.mgmt6 = Some(Ipv6Net::new(a6, v6.prefix_len()).expect("prefix"));
        }
        n.mgmt_net = Some("mgmt".into());
    }
    Ok(())
}

/// The veth plan: management links first, then the topology's links; checks that every
/// interface name is valid and unique in its namespace.
pub(super) fn plan_links(
    topo: &Topology,
    nodes: &[NodePlan],
    bridges: &[String],
    mgmt: &NetPlan,
    kind: Option<&NetPlan>,
) -> Result<Vec<LinkPlan>, TopoError> {
    let mut taken: HashMap<(Ns, String), String> = HashMap::new();
    let mut macs: HashSet<[u8; 6]> = HashSet::new();
    let mut mac = |node: &str, iface: &str, given: Option<[u8; 6]>| -> [u8; 6] {
        if let Some(m) = given {
            macs.insert(m);
            return m;
        }
        let mut salt = 0;
        loop {
            let m = mac_for(&topo.name, node, iface, salt);
            if macs.insert(m) {
                return m;
            }
            salt += 1;
        }
    };
    // Names the lab namespace reserves: the management bridges, then the user's bridges.
    let reserved = [mgmt.bridge.clone()]
        .into_iter()
        .chain(kind.map(|k| k.bridge.clone()));
    for (b, user) in reserved
        .map(|b| (b, false))
        .chain(bridges.iter().map(|b| (b.clone(), true)))
    {
        if taken
            .insert((Ns::Lab, b.clone()), format!("bridge {b}"))
            .is_some()
        {
            // A user bridge is a node; the other clash is `mgmt.bridge: kind`.
            let def = topo.nodes.iter().find(|n| user && n.name == b);
            let (loc, key) = match def {
                Some(d) => (d.loc.clone(), format!("topology.nodes.{b}")),
                None => topo
                    .mgmt
                    .loc_of("bridge")
                    .unwrap_or_else(|| (top_loc(topo), "mgmt.bridge".into())),
            };
            return Err(TopoError::Invalid {
                loc,
                key,
                msg: format!("bridge name `{b}` is used twice (`mgmt` and `kind` are the management bridges)"),
            });
        }
    }
    let mut links = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let (Some(net_name), Some(addr)) = (&n.mgmt_net, n.mgmt4) else {
            continue;
        };
        let _ = addr;
        let net = if net_name == "kind" {
            kind.unwrap_or(mgmt)
        } else {
            mgmt
        };
        let lab_if = format!("{}{i}", if net_name == "kind" { "kd" } else { "mg" });
        taken.insert(
            (Ns::Lab, lab_if.clone()),
            format!("management port of {}", n.name),
        );
        taken.insert(
            (n.ns, "eth0".into()),
            format!("management interface of {}", n.name),
        );
        links.push(LinkPlan {
            a: EndPlan {
                node: n.name.clone(),
                ns: n.ns,
                iface: "eth0".into(),
                mac: mac(&n.name, "eth0", None),
                master: None,
            },
            b: EndPlan {
                node: net.bridge.clone(),
                ns: Ns::Lab,
                iface: lab_if.clone(),
                mac: mac("", &lab_if, None),
                master: Some(net.bridge.clone()),
            },
            mtu: net.mtu,
            mgmt: true,
        });
    }
    for l in &topo.links {
        let end = |e: &EndpointDef| -> Result<EndPlan, TopoError> {
            let bad = |msg: String| TopoError::Invalid {
                loc: e.loc.clone(),
                key: e.key.clone(),
                msg,
            };
            match e.node.as_str() {
                "host" => Ok(EndPlan {
                    node: "host".into(),
                    ns: Ns::Lab,
                    iface: e.iface.clone(),
                    mac: [0; 6],
                    master: None,
                }),
                "mgmt-net" => Ok(EndPlan {
                    node: "mgmt-net".into(),
                    ns: Ns::Lab,
                    iface: e.iface.clone(),
                    mac: [0; 6],
                    master: Some(mgmt.bridge.clone()),
                }),
                name => {
                    let Some(n) = nodes.iter().find(|n| n.name == name) else {
                        return Err(bad(format!(
                            "endpoint node `{name}` is not defined in topology.nodes"
                        )));
                    };
                    if n.behaviour == Behaviour::ClusterNode {
                        return Err(bad(format!(
                            "`{name}` is a kind node: connect a topology node with `network-mode: container:{name}` instead, as the seeds do"
                        )));
                    }
                    let master = (n.behaviour == Behaviour::Bridge).then(|| n.name.clone());
                    Ok(EndPlan {
                        node: name.to_string(),
                        ns: n.ns,
                        iface: e.iface.clone(),
                        mac: [0; 6],
                        master,
                    })
                }
            }
        };
        let mut a = end(&l.a)?;
        let mut b = end(&l.b)?;
        for (ep, def) in [(&mut a, &l.a), (&mut b, &l.b)] {
            let owner = match ep.ns {
                Ns::Lab => "the lab namespace".to_string(),
                Ns::Node(i) => format!("node {}", nodes[i].name),
            };
            if let Some(prev) = taken.insert(
                (ep.ns, ep.iface.clone()),
                format!("{} ({})", def.key, def.loc),
            ) {
                let what = if ep.iface == "eth0" && ep.ns != Ns::Lab {
                    " (eth0 is the management interface; containerlab reserves it too)".to_string()
                } else {
                    String::new()
                };
                return Err(TopoError::Invalid {
                    loc: def.loc.clone(),
                    key: def.key.clone(),
                    msg: format!(
                        "interface `{}` of {owner} is already used by {prev}{what}",
                        ep.iface
                    ),
                });
            }
            ep.mac = mac(&ep.node, &ep.iface, def.mac);
        }
        if a.ns == b.ns && a.ns != Ns::Lab {
            return Err(TopoError::Invalid {
                loc: l.loc.clone(),
                key: l.key.clone(),
                msg: "both ends are in the same namespace".into(),
            });
        }
        links.push(LinkPlan {
            a,
            b,
            mtu: l.mtu.unwrap_or(DEFAULT_LINK_MTU),
            mgmt: false,
        });
    }
    Ok(links)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netns_names_follow_containerlab_prefixes() {
        assert_eq!(
            netns_name("clab", "bgp-cplane-demo", "tor0"),
            "clab-bgp-cplane-demo-tor0"
        );
        assert_eq!(netns_name("", "x", "tor0"), "tor0");
        assert_eq!(netns_name("__lab-name", "x", "tor0"), "x-tor0");
    }

    #[test]
    fn macs_are_stable_local_unicast() {
        let m = mac_for("lab", "r1", "eth1", 0);
        assert_eq!(m, mac_for("lab", "r1", "eth1", 0));
        assert_ne!(m, mac_for("lab", "r1", "eth2", 0));
        assert_eq!(m[0] & 0x03, 0x02, "locally administered unicast");
    }
}
