//! From files to a plan: every node's behaviour and namespace, every veth with its two
//! names, MACs and MTU, management addresses. Everything that can be wrong with a topology
//! is found here, before anything is created.

pub mod behaviour;
mod names;
mod vyos;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::topo::cluster::{Cluster, Role};
use crate::topo::env::Magic;
use crate::topo::{Loc, NodeDef, StartupConfig, TopoError, Topology};
use behaviour::{behaviour_for, is_idle_cmd, Behaviour, Unmappable, KINDS};
pub use names::{mac_for, netns_name};

/// containerlab's default MTU of data links.
pub const DEFAULT_LINK_MTU: u32 = 9500;

/// A lab, resolved and validated.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabPlan {
    /// Lab name.
    pub name: String,
    /// Name prefix of node namespaces.
    pub prefix: String,
    /// The topology file.
    pub topo_file: PathBuf,
    /// The kind cluster's name, if there is a cluster.
    pub cluster_name: Option<String>,
    /// The lab's directory (state, node directories).
    pub lab_dir: PathBuf,
    /// The namespace that holds bridges and the management network.
    pub lab_netns: String,
    /// The management network (containerlab's `mgmt`).
    pub mgmt: NetPlan,
    /// The kind node network, when there is a cluster.
    pub kind_net: Option<NetPlan>,
    /// User bridges (`kind: bridge`) in the lab namespace.
    pub bridges: Vec<String>,
    /// Nodes: cluster nodes first, then topology nodes in file order.
    pub nodes: Vec<NodePlan>,
    /// Links, management links included.
    pub links: Vec<LinkPlan>,
    /// Things to tell the user (printed once at deploy).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A bridged IPv4 (+ optional IPv6) network in the lab namespace.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NetPlan {
    /// Bridge name.
    pub bridge: String,
    /// IPv4 subnet.
    pub v4: Ipv4Net,
    /// IPv4 gateway (the bridge's own address).
    pub gw4: Ipv4Addr,
    /// IPv6 subnet.
    pub v6: Option<Ipv6Net>,
    /// IPv6 gateway.
    pub gw6: Option<Ipv6Addr>,
    /// MTU.
    pub mtu: u32,
}

/// Which network namespace something lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ns {
    /// The lab namespace (bridges, host-side ends).
    Lab,
    /// The namespace owned by node `i` (index into `LabPlan::nodes`).
    Node(usize),
}

/// A node, ready to create.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodePlan {
    /// Name (kind's name for cluster nodes).
    pub name: String,
    /// `kind:` (`k8s-node` for cluster nodes).
    pub kind: String,
    /// `image:`.
    pub image: Option<String>,
    /// What it runs.
    pub behaviour: Behaviour,
    /// Its network namespace.
    pub ns: Ns,
    /// The namespace's name under /run/netns when the node owns it.
    pub netns: Option<String>,
    /// Management interface address (`eth0`).
    pub mgmt4: Option<Ipv4Net>,
    /// Management IPv6 address.
    pub mgmt6: Option<Ipv6Net>,
    /// Which network `eth0` is on: `mgmt` or `kind`.
    pub mgmt_net: Option<String>,
    /// `exec:` lines, magic variables applied.
    pub exec: Vec<String>,
    /// The main command (`cmd`, with `entrypoint` in front), when it is not an idle shell.
    pub cmd: Option<String>,
    /// Bind mounts, sources absolute.
    pub binds: Vec<BindPlan>,
    /// Environment.
    pub env: Vec<(String, String)>,
    /// Labels.
    pub labels: Vec<(String, String)>,
    /// Sysctls to set in the node's namespace.
    pub sysctls: Vec<(String, String)>,
    /// startup-config text (read from its file at plan time).
    pub startup_config: Option<String>,
    /// Nodes whose exec lines must finish first.
    pub wait_for: Vec<String>,
    /// Seconds to wait before this node's exec lines.
    pub startup_delay: u64,
    /// Kubernetes role, for cluster nodes.
    pub role: Option<Role>,
    /// Kubernetes node IPs.
    pub node_ips: Vec<IpAddr>,
    /// Pod CIDRs allocated to the node.
    pub pod_cidrs: Vec<IpNet>,
    /// The node's directory.
    pub dir: PathBuf,
    /// For a VyOS node: the config.boot its FRR configuration was translated from.
    #[serde(default)]
    pub vyos_config: Option<PathBuf>,
}

/// A bind mount with an absolute source.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BindPlan {
    /// Host path.
    pub src: PathBuf,
    /// Path inside the node.
    pub dst: PathBuf,
    /// Read-only.
    pub ro: bool,
}

/// One veth pair.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LinkPlan {
    /// First end.
    pub a: EndPlan,
    /// Second end.
    pub b: EndPlan,
    /// MTU of both ends.
    pub mtu: u32,
    /// A management link (node `eth0` to a lab bridge).
    pub mgmt: bool,
}

/// One end of a veth pair.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EndPlan {
    /// The node name as written (a bridge, `host`, `mgmt-net`, or a node).
    pub node: String,
    /// Namespace of the interface.
    pub ns: Ns,
    /// Interface name.
    pub iface: String,
    /// MAC address.
    pub mac: [u8; 6],
    /// The bridge it is a port of (lab namespace only).
    pub master: Option<String>,
}

impl LabPlan {
    /// The node that owns namespace `ns`'s name, for messages.
    pub fn ns_name(&self, ns: Ns) -> String {
        match ns {
            Ns::Lab => self.lab_netns.clone(),
            Ns::Node(i) => self.nodes[i].netns.clone().unwrap_or_default(),
        }
    }

    /// Finds a node by name; topology nodes may also be found by their cluster alias.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// All namespace names the lab owns, the lab namespace first.
    pub fn all_netns(&self) -> Vec<String> {
        let mut v = vec![self.lab_netns.clone()];
        v.extend(self.nodes.iter().filter_map(|n| n.netns.clone()));
        v
    }
}

/// Inputs of [`build`].
pub struct PlanInput<'a> {
    /// The topology.
    pub topo: &'a Topology,
    /// The kind cluster, if any.
    pub cluster: Option<&'a Cluster>,
    /// Root directory of labs (`<root>/<lab>` is the lab directory).
    pub root: &'a Path,
}

/// Resolves and validates a topology (+ cluster) into a plan.
pub fn build(input: PlanInput<'_>) -> Result<LabPlan, TopoError> {
    let topo = input.topo;
    let prefix = topo.prefix.clone().unwrap_or_else(|| "clab".to_string());
    let lab_dir = input.root.join(&topo.name);
    let mut notes = topo.notes.clone();
    let mut nodes: Vec<NodePlan> = Vec::new();
    // Where each node was defined, for errors (parallel to `nodes`).
    let mut locs: Vec<Loc> = Vec::new();

    if let Some(c) = input.cluster {
        for cn in &c.nodes {
            if let Some(def) = topo.nodes.iter().find(|n| n.name == cn.name) {
                return Err(TopoError::Invalid {
                    loc: def.loc.clone(),
                    key: format!("topology.nodes.{}", def.name),
                    msg: format!(
                        "`{}` is also the name kind gives a node of cluster `{}` (defined at {}); rename one of them",
                        cn.name, c.name, cn.loc
                    ),
                });
            }
            nodes.push(NodePlan {
                name: cn.name.clone(),
                kind: "k8s-node".into(),
                image: Some("kindest/node".into()),
                behaviour: Behaviour::ClusterNode,
                ns: Ns::Node(nodes.len()),
                netns: Some(cn.name.clone()),
                mgmt4: None,
                mgmt6: None,
                mgmt_net: Some("kind".into()),
                exec: Vec::new(),
                cmd: None,
                binds: Vec::new(),
                env: Vec::new(),
                labels: cn.labels.clone(),
                sysctls: Vec::new(),
                startup_config: None,
                wait_for: Vec::new(),
                startup_delay: 0,
                role: Some(cn.role),
                node_ips: cn.node_ips.clone(),
                pod_cidrs: cn.pod_cidrs.clone(),
                dir: lab_dir.join(&cn.name),
                vyos_config: None,
            });
            locs.push(cn.loc.clone());
        }
    }
    let n_cluster = nodes.len();

    let mut host_images: Vec<(String, Vec<String>)> = Vec::new();
    let mut vyos_images: Vec<(String, Vec<String>)> = Vec::new();
    for def in &topo.nodes {
        let has_cmd = def.cmd.is_some() || def.entrypoint.is_some();
        let (behaviour, vyos_image) = match behaviour_for(&def.kind, def.image.as_deref(), has_cmd)
        {
            Ok(b) => (b, None),
            // VyOS runs as FRR with its config.boot translated (see `vyos::map`).
            Err(Unmappable::Vyos(img)) => (Behaviour::Frr { autostart: true }, Some(img)),
            Err(Unmappable::Kind(k)) => {
                return Err(TopoError::Invalid {
                    loc: def.loc_of("kind"),
                    key: format!("topology.nodes.{}.kind", def.name),
                    msg: format!(
                        "kind `{k}` is not supported by bgplane lab (supported: {})",
                        KINDS.join(", ")
                    ),
                })
            }
        };
        if behaviour == Behaviour::Host {
            if let Some(img) = &def.image {
                match host_images.iter_mut().find(|(i, _)| i == img) {
                    Some((_, users)) => users.push(def.name.clone()),
                    None => host_images.push((img.clone(), vec![def.name.clone()])),
                }
            }
        }
        let node_dir = lab_dir.join(&def.name);
        let magic = Magic {
            node: &def.name,
            node_dir: &node_dir.to_string_lossy(),
            lab_dir: &lab_dir.to_string_lossy(),
            lab: &topo.name,
        };
        let idx = nodes.len();
        let cmd = main_command(def, &magic, &mut notes);
        let is_bridge = behaviour == Behaviour::Bridge;
        if is_bridge && (!def.exec.is_empty() || def.network_mode.is_some()) {
            let key = if def.exec.is_empty() {
                "network-mode"
            } else {
                "exec"
            };
            return Err(TopoError::Invalid {
                loc: def.loc_of(key),
                key: format!("topology.nodes.{}.{key}", def.name),
                msg: "a bridge node is a Linux bridge in the lab namespace; it cannot have exec or network-mode".into(),
            });
        }
        if is_bridge && !names::valid_ifname(&def.name) {
            return Err(TopoError::Invalid {
                loc: def.loc.clone(),
                key: format!("topology.nodes.{}", def.name),
                msg: format!(
                    "bridge name `{}` must be a valid interface name (at most 15 characters)",
                    def.name
                ),
            });
        }
        nodes.push(NodePlan {
            name: def.name.clone(),
            kind: def.kind.clone(),
            image: def.image.clone(),
            ns: if is_bridge { Ns::Lab } else { Ns::Node(idx) },
            netns: if is_bridge {
                None
            } else {
                Some(netns_name(&prefix, &topo.name, &def.name))
            },
            behaviour,
            mgmt4: None,
            mgmt6: None,
            mgmt_net: None,
            exec: def.exec.iter().map(|e| magic.apply(e)).collect(),
            cmd,
            binds: resolve_binds(def, &magic, &topo.file)?,
            env: def
                .env
                .iter()
                .map(|(k, v)| (k.clone(), magic.apply(v)))
                .collect(),
            labels: def.labels.clone(),
            sysctls: def.sysctls.clone(),
            startup_config: read_startup_config(def, &magic, &topo.file)?,
            wait_for: def.wait_for.clone(),
            startup_delay: def.startup_delay,
            role: None,
            node_ips: Vec::new(),
            pod_cidrs: Vec::new(),
            dir: node_dir,
            vyos_config: None,
        });
        if let Some(img) = vyos_image {
            let node = nodes.last_mut().expect("just pushed");
            vyos::map(node, def, &img, &topo.file, &mut notes)?;
            match vyos_images.iter_mut().find(|(i, _)| *i == img) {
                Some((_, users)) => users.push(def.name.clone()),
                None => vyos_images.push((img, vec![def.name.clone()])),
            }
        }
        locs.push(def.loc.clone());
    }
    for (img, users) in vyos_images {
        notes.push(format!(
            "VyOS image {img} ({}) runs as Debian FRR, with each node's config.boot translated to FRR configuration",
            users.join(", ")
        ));
    }
    for (img, users) in host_images {
        notes.push(format!(
            "image {img} ({}) runs as a plain host with this machine's tools",
            users.join(", ")
        ));
    }

    resolve_network_modes(topo, input.cluster, &mut nodes, n_cluster)?;
    check_wait_for(topo)?;

    let mgmt = names::mgmt_net(topo)?;
    let kind_net = input.cluster.map(|_| names::kind_net());
    names::assign_mgmt_addresses(topo, &mut nodes, &mgmt, kind_net.as_ref(), &locs)?;
    let bridges: Vec<String> = nodes
        .iter()
        .filter(|n| n.behaviour == Behaviour::Bridge)
        .map(|n| n.name.clone())
        .collect();
    let links = names::plan_links(topo, &nodes, &bridges, &mgmt, kind_net.as_ref())?;

    Ok(LabPlan {
        name: topo.name.clone(),
        prefix,
        topo_file: topo.file.clone(),
        cluster_name: input.cluster.map(|c| c.name.clone()),
        lab_netns: format!("bgplane-lab-{}", topo.name),
        lab_dir,
        mgmt,
        kind_net,
        bridges,
        nodes,
        links,
        notes,
    })
}

/// `wait-for` names existing nodes and has no cycle (deploy would wait forever).
fn check_wait_for(topo: &Topology) -> Result<(), TopoError> {
    let err = |def: &NodeDef, msg: String| TopoError::Invalid {
        loc: def.loc_of("wait-for"),
        key: format!("topology.nodes.{}.wait-for", def.name),
        msg,
    };
    for def in &topo.nodes {
        for w in &def.wait_for {
            if !topo.nodes.iter().any(|n| &n.name == w) {
                return Err(err(def, format!("`{w}` is not a node of this topology")));
            }
        }
    }
    // Depth-first search from each node, following wait-for edges.
    for start in &topo.nodes {
        let mut stack: Vec<(&str, Vec<&str>)> =
            vec![(start.name.as_str(), vec![start.name.as_str()])];
        while let Some((at, path)) = stack.pop() {
            let Some(def) = topo.nodes.iter().find(|n| n.name == at) else {
                continue;
            };
            for w in &def.wait_for {
                if w == &start.name {
                    let mut cycle = path.clone();
                    cycle.push(w);
                    return Err(err(
                        start,
                        format!("wait-for forms a cycle: {}", cycle.join(" → ")),
                    ));
                }
                if !path.contains(&w.as_str()) {
                    let mut p = path.clone();
                    p.push(w);
                    stack.push((w, p));
                }
            }
        }
    }
    Ok(())
}

/// `entrypoint` + `cmd`, unless it is only an idle shell or an init system (replaced by the
/// node supervisor).
fn main_command(def: &NodeDef, magic: &Magic<'_>, notes: &mut Vec<String>) -> Option<String> {
    let cmd = match (&def.entrypoint, &def.cmd) {
        (Some(e), Some(c)) => format!("{e} {c}"),
        (Some(e), None) => e.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => return None,
    };
    if is_idle_cmd(&cmd) {
        if cmd.contains("init") || cmd.contains("systemd") {
            notes.push(format!(
                "{}: `cmd: {cmd}` is an init system; the bgplane node supervisor is PID 1 instead",
                def.name
            ));
        }
        return None;
    }
    Some(magic.apply(&cmd))
}

fn resolve_binds(
    def: &NodeDef,
    magic: &Magic<'_>,
    topo_file: &Path,
) -> Result<Vec<BindPlan>, TopoError> {
    let base = topo_file.parent().unwrap_or(Path::new("."));
    def.binds
        .iter()
        .map(|b| {
            let src = PathBuf::from(magic.apply(&b.src));
            let src = if src.is_absolute() {
                src
            } else {
                base.join(src)
            };
            let dst = PathBuf::from(magic.apply(&b.dst));
            if dst == Path::new("/") {
                return Err(TopoError::Invalid {
                    loc: b.loc.clone(),
                    key: b.key.clone(),
                    msg: "cannot bind over `/`".into(),
                });
            }
            Ok(BindPlan { src, dst, ro: b.ro })
        })
        .collect()
}

fn read_startup_config(
    def: &NodeDef,
    magic: &Magic<'_>,
    topo_file: &Path,
) -> Result<Option<String>, TopoError> {
    match &def.startup_config {
        None => Ok(None),
        Some(StartupConfig::Inline(text)) => Ok(Some(magic.apply(text))),
        Some(StartupConfig::File(path)) => {
            let p = PathBuf::from(magic.apply(path));
            let full = if p.is_absolute() {
                p
            } else {
                topo_file.parent().unwrap_or(Path::new(".")).join(p)
            };
            std::fs::read_to_string(&full)
                .map(Some)
                .map_err(|e| TopoError::Invalid {
                    loc: def.loc_of("startup-config"),
                    key: format!("topology.nodes.{}.startup-config", def.name),
                    msg: format!("cannot read {}: {e}", full.display()),
                })
        }
    }
}

/// `network-mode`: `container:<node>` shares a topology node's or a kind node's namespace
/// (`<name>` or `<cluster>-<name>`); `none` means no management interface.
fn resolve_network_modes(
    topo: &Topology,
    cluster: Option<&Cluster>,
    nodes: &mut [NodePlan],
    n_cluster: usize,
) -> Result<(), TopoError> {
    let err = |def: &NodeDef, loc: &Loc, msg: String| TopoError::Invalid {
        loc: loc.clone(),
        key: format!("topology.nodes.{}.network-mode", def.name),
        msg,
    };
    // First pass: direct targets.
    let mut target: Vec<Option<usize>> = vec![None; nodes.len()];
    for (ti, def) in topo.nodes.iter().enumerate() {
        let idx = n_cluster + ti;
        let Some((mode, loc)) = &def.network_mode else {
            continue;
        };
        if let Some(name) = mode.strip_prefix("container:") {
            let by_node = nodes
                .iter()
                .position(|n| n.name == name && n.behaviour != Behaviour::Bridge);
            let by_cluster = cluster.and_then(|c| {
                let full = format!("{}-{name}", c.name);
                nodes[..n_cluster].iter().position(|n| n.name == full)
            });
            let t = by_node.or(by_cluster).ok_or_else(|| {
                let hint = match cluster {
                    Some(c) => format!(
                        " (kind nodes: {})",
                        c.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                    None => " (no kind cluster is loaded: pass --cluster kind.yaml or add `cluster:` to the topology)".to_string(),
                };
                err(def, loc, format!("no node named `{name}`{hint}"))
            })?;
            if t == idx {
                return Err(err(
                    def,
                    loc,
                    "a node cannot share its own namespace".into(),
                ));
            }
            target[idx] = Some(t);
        } else if mode == "host" {
            return Err(err(def, loc, "network-mode host would use the host's own network namespace, which bgplane lab never touches".into()));
        } else if mode != "none" && mode != "bridge" && mode != "default" {
            return Err(err(
                def,
                loc,
                format!("unknown network-mode `{mode}` (container:<node>, none or bridge)"),
            ));
        }
    }
    for (i, def) in topo.nodes.iter().enumerate() {
        let idx = n_cluster + i;
        if def.kind == "ext-container" && target[idx].is_none() {
            // An external container: the kind node of the same name.
            let t = nodes[..n_cluster]
                .iter()
                .position(|n| n.name == def.name)
                .ok_or_else(|| {
                    err(
                        def,
                        &def.loc,
                        format!(
                            "ext-container `{}` is not a kind node of the loaded cluster",
                            def.name
                        ),
                    )
                })?;
            target[idx] = Some(t);
        }
    }
    // Follow chains to the owning node, detecting cycles.
    for idx in 0..nodes.len() {
        let Some(mut t) = target[idx] else { continue };
        let mut hops = 0;
        while let Some(next) = target[t] {
            t = next;
            hops += 1;
            if hops > nodes.len() {
                let def = &topo.nodes[idx - n_cluster];
                return Err(err(
                    def,
                    &def.loc,
                    "network-mode container: references form a cycle".into(),
                ));
            }
        }
        nodes[idx].ns = Ns::Node(t);
        nodes[idx].netns = None;
    }
    Ok(())
}

#[cfg(test)]
mod schema_tests;
#[cfg(test)]
mod tests;
