//! `lab inspect`: nodes with kind, behaviour, state and addresses (read live from each
//! namespace over netlink).

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::path::Path;

use ipnet::IpNet;
use serde::Serialize;

use super::table::Table;
use super::{print_json, Format, LabSel, OpError};
use crate::plan::behaviour::Behaviour;
use crate::plan::{LabPlan, Ns};
use crate::rt::netlink::Nl;
use crate::rt::state::LabState;
use crate::rt::{netns, proc, RtError};

/// One row of `inspect`.
#[derive(Clone, Debug, Serialize)]
pub struct NodeRow {
    /// Node name.
    pub name: String,
    /// Kind (`k8s-node` for kind cluster nodes).
    pub kind: String,
    /// Kubernetes role of a cluster node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<crate::topo::cluster::Role>,
    /// Image, if any.
    pub image: Option<String>,
    /// What runs.
    pub behaviour: String,
    /// running / stopped / up.
    pub state: String,
    /// Host pid of its supervisor.
    pub pid: Option<i32>,
    /// Network namespace (its own or the one it shares).
    pub netns: String,
    /// Management addresses (eth0).
    pub mgmt: Vec<IpNet>,
    /// Other global addresses, by interface.
    pub addresses: Vec<IfAddr>,
    /// Kubernetes node IPs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_ips: Vec<std::net::IpAddr>,
    /// Kubernetes pod CIDRs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pod_cidrs: Vec<IpNet>,
    /// Labels.
    pub labels: Vec<(String, String)>,
}

/// An address on an interface.
#[derive(Clone, Debug, Serialize)]
pub struct IfAddr {
    /// Interface.
    pub iface: String,
    /// Address and prefix.
    pub addr: IpNet,
}

/// Global addresses of every namespace of the lab, keyed by namespace.
pub fn live_addresses(plan: &LabPlan) -> HashMap<Ns, Vec<IfAddr>> {
    let mut out = HashMap::new();
    let mut spaces: Vec<(Ns, String)> = vec![(Ns::Lab, plan.lab_netns.clone())];
    spaces.extend(
        plan.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.netns.clone().map(|ns| (Ns::Node(i), ns))),
    );
    for (ns, name) in spaces {
        if let Ok(addrs) = addresses_of(&name) {
            out.insert(ns, addrs);
        }
    }
    out
}

/// Global addresses in one named namespace.
pub fn addresses_of(netns_name: &str) -> Result<Vec<IfAddr>, RtError> {
    let fd = netns::open(netns_name)?;
    let mut nl = Nl::open_in(fd.as_fd(), netns_name)?;
    let links = nl.links()?;
    let names: HashMap<u32, String> = links.into_iter().map(|l| (l.index, l.name)).collect();
    Ok(nl
        .addrs()?
        .into_iter()
        .filter(|a| !a.local_scope)
        .map(|a| IfAddr {
            iface: names.get(&a.index).cloned().unwrap_or_default(),
            addr: a.net,
        })
        .collect())
}

/// Builds the rows.
pub fn rows(st: &LabState) -> Vec<NodeRow> {
    let plan = &st.plan;
    let live = live_addresses(plan);
    plan.nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let rt = &st.nodes[i];
            let state = match (&n.behaviour, rt.pid) {
                (Behaviour::Bridge, _) => if live.contains_key(&Ns::Lab) {
                    "up"
                } else {
                    "missing"
                }
                .to_string(),
                (_, Some(pid)) if proc::alive(pid, rt.start) => "running".to_string(),
                (_, Some(_)) => "stopped".to_string(),
                (_, None) => "not started".to_string(),
            };
            let addrs = if n.behaviour == Behaviour::Bridge {
                Vec::new()
            } else {
                live.get(&n.ns).cloned().unwrap_or_default()
            };
            let mgmt_ns = owner_has_mgmt(plan, n.ns);
            let (mgmt, data): (Vec<IfAddr>, Vec<IfAddr>) = addrs
                .into_iter()
                .partition(|a| mgmt_ns && a.iface == "eth0");
            let data = data
                .into_iter()
                .filter(|a| !a.addr.addr().is_loopback())
                .collect();
            NodeRow {
                name: n.name.clone(),
                kind: n.kind.clone(),
                role: n.role,
                image: n.image.clone(),
                behaviour: n.behaviour.describe().to_string(),
                state,
                pid: rt.pid,
                netns: plan.ns_name(n.ns),
                mgmt: mgmt.into_iter().map(|a| a.addr).collect(),
                addresses: data,
                node_ips: n.node_ips.clone(),
                pod_cidrs: n.pod_cidrs.clone(),
                labels: n.labels.clone(),
            }
        })
        .collect()
}

fn owner_has_mgmt(plan: &LabPlan, ns: Ns) -> bool {
    match ns {
        Ns::Node(o) => plan.nodes[o].mgmt4.is_some(),
        Ns::Lab => false,
    }
}

/// Prints the inspect table (or JSON).
pub fn print(st: &LabState, format: Format) -> Result<(), OpError> {
    let rows = rows(st);
    if format == Format::Json {
        #[derive(Serialize)]
        struct Out<'a> {
            lab: &'a str,
            lab_netns: &'a str,
            lab_dir: &'a Path,
            nodes: &'a [NodeRow],
        }
        return print_json(&Out {
            lab: &st.plan.name,
            lab_netns: &st.plan.lab_netns,
            lab_dir: &st.plan.lab_dir,
            nodes: &rows,
        });
    }
    let cluster = st.plan.cluster_name.is_some();
    let mut header = vec![
        "NAME",
        "KIND",
        "IMAGE → RUNS AS",
        "STATE",
        "MGMT",
        "ADDRESSES",
    ];
    if cluster {
        header.push("POD CIDR");
    }
    let mut t = Table::new(header);
    for r in &rows {
        let image = match &r.image {
            Some(i) if r.behaviour != "bridge" => format!("{i} → {}", r.behaviour),
            _ => r.behaviour.clone(),
        };
        let mut cells = vec![
            r.name.clone(),
            match r.role {
                Some(crate::topo::cluster::Role::ControlPlane) => {
                    "k8s-node (control-plane)".to_string()
                }
                Some(crate::topo::cluster::Role::Worker) => "k8s-node (worker)".to_string(),
                None => r.kind.clone(),
            },
            image,
            r.state.clone(),
            r.mgmt
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            r.addresses
                .iter()
                .map(|a| format!("{} {}", a.iface, a.addr))
                .collect::<Vec<_>>()
                .join("\n"),
        ];
        if cluster {
            cells.push(
                r.pod_cidrs
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        t.row(cells);
    }
    println!(
        "lab {} (namespaces {}…, directory {})",
        st.plan.name,
        st.plan.lab_netns,
        st.plan.lab_dir.display()
    );
    print!("{}", t.render());
    Ok(())
}

/// `lab inspect`.
pub fn inspect_cmd(root: &Path, sel: &LabSel, all: bool, format: Format) -> Result<(), OpError> {
    if all {
        let labs = LabState::list(root);
        if labs.is_empty() {
            println!("no lab is deployed (under {})", root.display());
        }
        for name in labs {
            if let Some(st) = LabState::load(&root.join(&name))? {
                print(&st, format)?;
            }
        }
        return Ok(());
    }
    let st = sel.state(root)?;
    print(&st, format)
}
