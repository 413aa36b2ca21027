//! kind's `Cluster` config (`kind.x-k8s.io/v1alpha4`), read verbatim: node names as kind
//! gives them, node IPs and labels from the kubeadm patches' `kubeletExtraArgs`, and per-node
//! pod CIDRs allocated from `podSubnet` in Kubernetes' order.

use std::net::IpAddr;
use std::path::Path;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::parse::parse_from;
use super::yaml::{parse_embedded, parse_str, Loc, Node, Value};
use super::TopoError;

/// A kind cluster.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// `name:` (kind's default is `kind`).
    pub name: String,
    /// Where the cluster is defined.
    pub loc: Loc,
    /// `networking.podSubnet`, one per IP family.
    pub pod_subnets: Vec<IpNet>,
    /// `networking.serviceSubnet` as written.
    pub service_subnet: Option<String>,
    /// Nodes in registration order: control-plane nodes first, then workers as listed.
    pub nodes: Vec<ClusterNode>,
}

/// The role of a kind node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// `role: control-plane`.
    ControlPlane,
    /// `role: worker`.
    Worker,
}

/// One Kubernetes node.
#[derive(Clone, Debug)]
pub struct ClusterNode {
    /// The node name kind gives it (`<cluster>-control-plane`, `<cluster>-worker2`, …).
    pub name: String,
    /// Role.
    pub role: Role,
    /// `node-ip` from `kubeletExtraArgs` (comma-separated for dual stack).
    pub node_ips: Vec<IpAddr>,
    /// Node labels: `node-labels`, kind `labels:`, and the ones Kubernetes sets itself.
    pub labels: Vec<(String, String)>,
    /// The pod CIDRs the node IPAM controller hands out, one per family.
    pub pod_cidrs: Vec<IpNet>,
    /// Where the node is defined.
    pub loc: Loc,
}

/// Reads a kind cluster file.
pub fn parse_cluster_file(file: &Path) -> Result<Cluster, TopoError> {
    let text = std::fs::read_to_string(file).map_err(|source| TopoError::Read {
        file: file.display().to_string(),
        source,
    })?;
    let root = parse_str(&text, file, 0, "")?;
    parse_cluster(&root)
}

/// Interprets a parsed kind `Cluster` document (a file, or the topology's `cluster:` key).
pub fn parse_cluster(root: &Node) -> Result<Cluster, TopoError> {
    root.check_keys(&[
        "kind",
        "apiVersion",
        "name",
        "networking",
        "nodes",
        "featureGates",
        "runtimeConfig",
        "kubeadmConfigPatches",
        "kubeadmConfigPatchesJSON6902",
        "containerdConfigPatches",
        "containerdConfigPatchesJSON6902",
    ])?;
    if let Some(k) = root.get("kind") {
        if k.as_str()? != "Cluster" {
            return Err(k.invalid(format!("expected `kind: Cluster`, found `{}`", k.as_str()?)));
        }
    }
    if let Some(v) = root.get("apiVersion") {
        let s = v.as_str()?;
        if !s.starts_with("kind.x-k8s.io/") {
            return Err(v.invalid(format!(
                "`{s}` is not a kind API version (kind.x-k8s.io/v1alpha4)"
            )));
        }
    }
    let name = match root.get("name") {
        Some(n) => n.as_str()?.to_string(),
        None => "kind".to_string(),
    };
    let mut pod_subnet_text = "10.244.0.0/16".to_string();
    let mut pod_subnet_node: Option<&Node> = None;
    let mut service_subnet = None;
    if let Some(net) = root.get("networking") {
        net.check_keys(&[
            "ipFamily",
            "apiServerPort",
            "apiServerAddress",
            "podSubnet",
            "serviceSubnet",
            "disableDefaultCNI",
            "kubeProxyMode",
            "dnsSearch",
        ])?;
        if let Some(p) = net.get("podSubnet") {
            pod_subnet_text = p.as_str()?.to_string();
            pod_subnet_node = Some(p);
        }
        if let Some(s) = net.get("serviceSubnet") {
            service_subnet = Some(s.as_str()?.to_string());
        }
    }
    let mut pod_subnets = Vec::new();
    for part in pod_subnet_text.split(',') {
        let net: IpNet = part.trim().parse().map_err(|_| match pod_subnet_node {
            Some(n) => n.invalid(format!("`{part}` is not a subnet like 10.1.0.0/16")),
            None => root.invalid("bad default pod subnet"),
        })?;
        pod_subnets.push(net.trunc());
    }

    // Cluster-wide patches apply to every node; a node's own patches win.
    let global = match root.get("kubeadmConfigPatches") {
        Some(p) => kubelet_args(p)?,
        None => Vec::new(),
    };

    let mut cps = Vec::new();
    let mut workers = Vec::new();
    let default_nodes;
    let node_items: &[Node] = match root.get("nodes") {
        Some(n) => n.as_seq()?,
        None => {
            default_nodes = [Node {
                value: Value::Map(Vec::new()),
                loc: root.loc.clone(),
                path: "nodes[0]".into(),
            }];
            &default_nodes
        }
    };
    for n in node_items {
        n.check_keys(&[
            "role",
            "image",
            "extraMounts",
            "extraPortMappings",
            "labels",
            "kubeadmConfigPatches",
            "kubeadmConfigPatchesJSON6902",
            "podCIDR",
        ])?;
        let role = match n.get("role") {
            None => Role::ControlPlane,
            Some(r) => match r.as_str()? {
                "control-plane" => Role::ControlPlane,
                "worker" => Role::Worker,
                other => {
                    return Err(
                        r.invalid(format!("unknown role `{other}` (control-plane or worker)"))
                    )
                }
            },
        };
        let mut args = global.clone();
        if let Some(p) = n.get("kubeadmConfigPatches") {
            for (k, v) in kubelet_args(p)? {
                args.retain(|(x, _)| x.0 != k.0);
                args.push((k, v));
            }
        }
        let mut node_ips = Vec::new();
        let mut labels: Vec<(String, String)> = Vec::new();
        for ((key, loc_node), value) in &args {
            match key.as_str() {
                "node-ip" => {
                    for ip in value.split(',') {
                        node_ips.push(ip.trim().parse().map_err(|_| {
                            loc_node.invalid(format!("node-ip `{ip}` is not an IP address"))
                        })?);
                    }
                }
                "node-labels" => {
                    for l in value.split(',').filter(|l| !l.trim().is_empty()) {
                        let (k, v) = l.split_once('=').ok_or_else(|| {
                            loc_node.invalid(format!("node label `{l}` is not key=value"))
                        })?;
                        labels.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                _ => {}
            }
        }
        if let Some(l) = n.get("labels") {
            labels.extend(l.string_map()?);
        }
        let pinned = match n.get("podCIDR") {
            Some(p) => Some((parse_from::<IpNet>(p, "a subnet like 10.1.7.0/24")?, p)),
            None => None,
        };
        let entry = (role, node_ips, labels, pinned, n);
        match role {
            Role::ControlPlane => cps.push(entry),
            Role::Worker => workers.push(entry),
        }
    }

    let mut nodes = Vec::new();
    for (i, (role, node_ips, mut labels, _, n)) in cps
        .iter()
        .cloned()
        .chain(workers.iter().cloned())
        .enumerate()
    {
        let ordinal = if role == Role::ControlPlane {
            i
        } else {
            i - cps.len()
        };
        let base = if role == Role::ControlPlane {
            "control-plane"
        } else {
            "worker"
        };
        let node_name = if ordinal == 0 {
            format!("{name}-{base}")
        } else {
            format!("{name}-{base}{}", ordinal + 1)
        };
        let mut builtin = vec![
            ("kubernetes.io/hostname".to_string(), node_name.clone()),
            ("kubernetes.io/os".to_string(), "linux".to_string()),
        ];
        if role == Role::ControlPlane {
            builtin.push((
                "node-role.kubernetes.io/control-plane".to_string(),
                String::new(),
            ));
        }
        builtin.append(&mut labels);
        nodes.push(ClusterNode {
            name: node_name,
            role,
            node_ips,
            labels: builtin,
            pod_cidrs: Vec::new(),
            loc: n.loc.clone(),
        });
    }
    let pinned: Vec<Option<(IpNet, &Node)>> =
        cps.iter().chain(workers.iter()).map(|e| e.3).collect();
    allocate_pod_cidrs(&mut nodes, &pod_subnets, &pinned, pod_subnet_node)?;
    Ok(Cluster {
        name,
        loc: root.loc.clone(),
        pod_subnets,
        service_subnet,
        nodes,
    })
}

/// ((argument, where its value is), value).
type KubeletArg = ((String, Node), String);

/// `kubeletExtraArgs` from a list of kubeadm patch documents (map form, or kubeadm v1beta4's
/// list of `{name, value}`).
fn kubelet_args(patches: &Node) -> Result<Vec<KubeletArg>, TopoError> {
    let mut out: Vec<KubeletArg> = Vec::new();
    for p in patches.as_seq()? {
        let text = p.as_str()?;
        // A block scalar's location is its first character: inner line 1 is that line.
        let offset = (p.loc.line.saturating_sub(1), p.loc.col.saturating_sub(1));
        let doc = parse_embedded(text, &p.loc.file, offset, &p.path)?;
        let kind = doc.get("kind").map(Node::as_str).transpose()?.unwrap_or("");
        if kind != "InitConfiguration" && kind != "JoinConfiguration" {
            continue;
        }
        let Some(args) = doc
            .get("nodeRegistration")
            .and_then(|r| r.get("kubeletExtraArgs"))
        else {
            continue;
        };
        let mut pairs: Vec<(String, Node, String)> = Vec::new();
        match &args.value {
            Value::Seq(items) => {
                for it in items {
                    let k = it.require("name")?.as_str()?.to_string();
                    let vn = it.require("value")?;
                    pairs.push((k, vn.clone(), vn.as_str()?.to_string()));
                }
            }
            _ => {
                for (k, v) in args.as_map()? {
                    let val = v.opt_string()?.unwrap_or_default();
                    pairs.push((k.as_str()?.to_string(), v.clone(), val));
                }
            }
        }
        for (k, n, v) in pairs {
            out.retain(|(x, _)| x.0 != k);
            out.push(((k, n), v));
        }
    }
    Ok(out)
}

/// Hands out per-node pod CIDRs like kube-controller-manager's range allocator: /24 per
/// node for IPv4 and /64 for IPv6, in node order, skipping CIDRs pinned by `podCIDR:`.
/// `subnet_at` is `networking.podSubnet` when the file sets it (errors point there).
pub fn allocate_pod_cidrs(
    nodes: &mut [ClusterNode],
    subnets: &[IpNet],
    pinned: &[Option<(IpNet, &Node)>],
    subnet_at: Option<&Node>,
) -> Result<(), TopoError> {
    let first_loc = nodes
        .first()
        .map(|n| n.loc.clone())
        .unwrap_or_else(dummy_loc);
    let subnet_err = |msg: String| match subnet_at {
        Some(n) => n.invalid(msg),
        None => TopoError::Invalid {
            loc: first_loc.clone(),
            key: "networking.podSubnet".into(),
            msg: format!("{msg} (kind's default pod subnet)"),
        },
    };
    for subnet in subnets {
        let mask = match subnet {
            IpNet::V4(_) => 24,
            IpNet::V6(_) => 64,
        };
        if subnet.prefix_len() > mask {
            return Err(subnet_err(format!(
                "pod subnet {subnet} is smaller than the per-node /{mask}"
            )));
        }
        let mut taken: Vec<IpNet> = Vec::new();
        for (node, pin) in nodes.iter().zip(pinned) {
            if let Some((cidr, at)) = pin {
                if std::mem::discriminant(cidr) != std::mem::discriminant(subnet) {
                    continue;
                }
                if cidr.prefix_len() != mask || !subnet.contains(cidr) || cidr.trunc() != *cidr {
                    return Err(at.invalid(format!(
                        "pinned pod CIDR {cidr} of {} must be a /{mask} inside {subnet}",
                        node.name
                    )));
                }
                if taken.contains(cidr) {
                    return Err(at.invalid(format!("pod CIDR {cidr} is pinned twice")));
                }
                taken.push(*cidr);
            }
        }
        let mut candidates = per_node_cidrs(subnet, mask);
        for (i, node) in nodes.iter_mut().enumerate() {
            let cidr = match pinned.get(i).and_then(|p| p.as_ref()) {
                Some((c, _)) if std::mem::discriminant(c) == std::mem::discriminant(subnet) => *c,
                _ => loop {
                    match candidates.next() {
                        Some(c) if taken.contains(&c) => continue,
                        Some(c) => break c,
                        None => {
                            return Err(subnet_err(format!(
                                "pod subnet {subnet} has no /{mask} left for node {}",
                                node.name
                            )))
                        }
                    }
                },
            };
            node.pod_cidrs.push(cidr);
        }
    }
    Ok(())
}

fn per_node_cidrs(subnet: &IpNet, mask: u8) -> Box<dyn Iterator<Item = IpNet>> {
    match subnet {
        IpNet::V4(n) => {
            let base = u32::from(n.network());
            let count = 1u64 << (mask - n.prefix_len());
            Box::new((0..count).filter_map(move |i| {
                let addr = base.checked_add((i as u32) << (32 - mask))?;
                Ipv4Net::new(addr.into(), mask).ok().map(IpNet::V4)
            }))
        }
        IpNet::V6(n) => {
            let base = u128::from(n.network());
            let bits = (mask - n.prefix_len()).min(32);
            let count = 1u64 << bits;
            Box::new((0..count).filter_map(move |i| {
                let addr = base.checked_add(u128::from(i) << (128 - mask))?;
                Ipv6Net::new(addr.into(), mask).ok().map(IpNet::V6)
            }))
        }
    }
}

fn dummy_loc() -> Loc {
    Loc {
        file: std::sync::Arc::new("<cluster>".into()),
        line: 0,
        col: 0,
    }
}
