//! `lab graph`: the topology as a self-contained HTML page (an SVG laid out in tiers, racks
//! boxed, links labelled with their interfaces), or as Mermaid or Graphviz text.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

use crate::plan::behaviour::Behaviour;
use crate::plan::{LabPlan, Ns};

/// A drawn node.
#[derive(Clone, Debug, Serialize)]
pub struct GNode {
    /// Name.
    pub name: String,
    /// Second line (behaviour, or the kind node it lives in).
    pub sub: String,
    /// `router`, `host`, `bridge`, `k8s`, `external`.
    pub role: String,
    /// Tier (0 = bottom).
    pub tier: usize,
    /// Rack or group.
    pub group: Option<String>,
    /// Position.
    pub x: f64,
    /// Position.
    pub y: f64,
}

/// A drawn link.
#[derive(Clone, Debug, Serialize)]
pub struct GEdge {
    /// Node index.
    pub a: usize,
    /// Interface at `a`.
    pub a_if: String,
    /// Node index.
    pub b: usize,
    /// Interface at `b`.
    pub b_if: String,
}

/// The graph with layout.
#[derive(Clone, Debug, Serialize)]
pub struct Graph {
    /// Lab name.
    pub lab: String,
    /// Nodes.
    pub nodes: Vec<GNode>,
    /// Links.
    pub edges: Vec<GEdge>,
    /// Canvas width.
    pub width: f64,
    /// Canvas height.
    pub height: f64,
}

const DX: f64 = 160.0;
const DY: f64 = 150.0;
const MARGIN: f64 = 90.0;

/// Builds and lays out the graph of a plan (management links left out).
pub fn build(plan: &LabPlan) -> Graph {
    // Kind nodes that a topology node joins are drawn as that topology node.
    let mut shown: Vec<usize> = Vec::new();
    let mut alias: HashMap<String, usize> = HashMap::new();
    for (i, n) in plan.nodes.iter().enumerate() {
        let shares_kind = matches!(n.ns, Ns::Node(o) if o != i && plan.nodes[o].behaviour == Behaviour::ClusterNode);
        let joined_by_other = n.behaviour == Behaviour::ClusterNode
            && plan
                .nodes
                .iter()
                .enumerate()
                .any(|(j, m)| j != i && m.ns == Ns::Node(i));
        if joined_by_other {
            continue;
        }
        alias.insert(n.name.clone(), shown.len());
        let _ = shares_kind;
        shown.push(i);
    }
    let mut nodes: Vec<GNode> = shown
        .iter()
        .map(|&i| {
            let n = &plan.nodes[i];
            let owner = match n.ns {
                Ns::Node(o) if o != i => Some(&plan.nodes[o]),
                _ => None,
            };
            let role = match (&n.behaviour, owner.map(|o| &o.behaviour)) {
                (_, Some(Behaviour::ClusterNode)) | (Behaviour::ClusterNode, _) => "k8s",
                (Behaviour::Bridge, _) => "bridge",
                (Behaviour::Host, _) => "host",
                _ => "router",
            };
            let kind_short = |name: &str| match &plan.cluster_name {
                Some(c) => name
                    .strip_prefix(&format!("{c}-"))
                    .unwrap_or(name)
                    .to_string(),
                None => name.to_string(),
            };
            let runs = match n.behaviour {
                Behaviour::Frr { .. } => "frr",
                Behaviour::Bird { .. } => "bird",
                Behaviour::Bgplane => "bgplane",
                Behaviour::Bridge => "bridge",
                Behaviour::ClusterNode => "k8s node",
                Behaviour::Host => "host",
            };
            let sub = match (owner, &n.image) {
                (Some(o), _) => format!("k8s {}", kind_short(&o.name)),
                (None, _) if n.behaviour == Behaviour::ClusterNode => {
                    format!("k8s {}", kind_short(&n.name))
                }
                (None, Some(img)) if n.behaviour != Behaviour::Bridge => {
                    let short = short_image(img);
                    if short.split(':').next() == Some(runs) {
                        short
                    } else {
                        format!("{short} → {runs}")
                    }
                }
                _ => runs.to_string(),
            };
            let labels: Vec<&(String, String)> = n
                .labels
                .iter()
                .chain(owner.map(|o| o.labels.iter()).into_iter().flatten())
                .collect();
            let group = labels
                .iter()
                .find(|(k, _)| k == "rack" || k == "graph-group")
                .map(|(_, v)| v.clone());
            GNode {
                name: n.name.clone(),
                sub,
                role: role.to_string(),
                tier: 0,
                group,
                x: 0.0,
                y: 0.0,
            }
        })
        .collect();
    let mut edges = Vec::new();
    for l in plan.links.iter().filter(|l| !l.mgmt) {
        let mut end = |node: &str, iface: &str| -> usize {
            if let Some(i) = alias.get(node) {
                return *i;
            }
            // `host` and `mgmt-net` ends.
            alias.insert(node.to_string(), nodes.len());
            nodes.push(GNode {
                name: node.to_string(),
                sub: "outside the lab".into(),
                role: "external".into(),
                tier: 0,
                group: None,
                x: 0.0,
                y: 0.0,
            });
            let _ = iface;
            nodes.len() - 1
        };
        let a = end(&l.a.node, &l.a.iface);
        let b = end(&l.b.node, &l.b.iface);
        edges.push(GEdge {
            a,
            a_if: l.a.iface.clone(),
            b,
            b_if: l.b.iface.clone(),
        });
    }
    assign_tiers(plan, &shown, &mut nodes, &edges);
    order_and_place(&mut nodes, &edges);
    let width = nodes.iter().map(|n| n.x).fold(0.0, f64::max) + MARGIN;
    let height = nodes.iter().map(|n| n.y).fold(0.0, f64::max) + MARGIN;
    Graph {
        lab: plan.name.clone(),
        nodes,
        edges,
        width,
        height,
    }
}

fn short_image(img: &str) -> String {
    img.rsplit('/').next().unwrap_or(img).to_string()
}

/// Tier 0: hosts in racks (or all hosts); others by distance from them; a host hanging off
/// the fabric elsewhere sits above its neighbour. `graph-level` labels win.
fn assign_tiers(plan: &LabPlan, shown: &[usize], nodes: &mut [GNode], edges: &[GEdge]) {
    let n = nodes.len();
    let mut adj = vec![Vec::new(); n];
    for e in edges {
        adj[e.a].push(e.b);
        adj[e.b].push(e.a);
    }
    let is_host = |g: &GNode| g.role == "host" || g.role == "k8s";
    let racked: Vec<usize> = (0..n)
        .filter(|i| is_host(&nodes[*i]) && nodes[*i].group.is_some())
        .collect();
    let sources: Vec<usize> = if racked.is_empty() {
        (0..n).filter(|i| is_host(&nodes[*i])).collect()
    } else {
        racked
    };
    let mut dist = vec![usize::MAX; n];
    let mut q = VecDeque::new();
    for s in &sources {
        dist[*s] = 0;
        q.push_back(*s);
    }
    while let Some(u) = q.pop_front() {
        for &v in &adj[u] {
            let may_enter = !is_host(&nodes[v]) || sources.contains(&v);
            if dist[v] == usize::MAX && may_enter {
                dist[v] = dist[u] + 1;
                q.push_back(v);
            }
        }
    }
    for i in 0..n {
        if dist[i] == usize::MAX {
            let above = adj[i]
                .iter()
                .filter(|j| dist[**j] != usize::MAX)
                .map(|j| dist[*j] + 1)
                .max();
            dist[i] = above.unwrap_or(0);
        }
        nodes[i].tier = dist[i];
    }
    for (gi, &pi) in shown.iter().enumerate() {
        if let Some((_, v)) = plan.nodes[pi]
            .labels
            .iter()
            .find(|(k, _)| k == "graph-level" || k == "tier")
        {
            if let Ok(t) = v.parse::<usize>() {
                nodes[gi].tier = t;
            }
        }
    }
}

/// Orders nodes in each tier (racks together, then barycentre sweeps) and places them.
fn order_and_place(nodes: &mut [GNode], edges: &[GEdge]) {
    let max_tier = nodes.iter().map(|n| n.tier).max().unwrap_or(0);
    let mut tiers: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, n) in nodes.iter().enumerate() {
        tiers.entry(n.tier).or_default().push(i);
    }
    let mut pos: Vec<f64> = vec![0.0; nodes.len()];
    let set_pos = |tiers: &BTreeMap<usize, Vec<usize>>, pos: &mut Vec<f64>| {
        for list in tiers.values() {
            for (k, i) in list.iter().enumerate() {
                pos[*i] = k as f64 - (list.len() as f64 - 1.0) / 2.0;
            }
        }
    };
    // Initial: group, then name (so racks are contiguous).
    for list in tiers.values_mut() {
        list.sort_by(|a, b| (nodes[*a].group.clone(), *a).cmp(&(nodes[*b].group.clone(), *b)));
    }
    set_pos(&tiers, &mut pos);
    for sweep in 0..8 {
        let order: Vec<usize> = if sweep % 2 == 0 {
            (0..=max_tier).collect()
        } else {
            (0..=max_tier).rev().collect()
        };
        for t in order {
            let Some(list) = tiers.get(&t).cloned() else {
                continue;
            };
            let bary = |i: usize| -> f64 {
                let ns: Vec<f64> = edges
                    .iter()
                    .filter_map(|e| {
                        if e.a == i {
                            Some(e.b)
                        } else if e.b == i {
                            Some(e.a)
                        } else {
                            None
                        }
                    })
                    .filter(|j| nodes[*j].tier != t)
                    .map(|j| pos[j])
                    .collect();
                if ns.is_empty() {
                    pos[i]
                } else {
                    ns.iter().sum::<f64>() / ns.len() as f64
                }
            };
            let mut keyed: Vec<(f64, f64, usize)> =
                list.iter().map(|&i| (0.0, bary(i), i)).collect();
            // Keep groups together: a group sorts by its members' mean.
            let mut gmean: HashMap<Option<String>, (f64, usize)> = HashMap::new();
            for (_, b, i) in &keyed {
                let e = gmean.entry(nodes[*i].group.clone()).or_insert((0.0, 0));
                e.0 += b;
                e.1 += 1;
            }
            for k in keyed.iter_mut() {
                k.0 = match &nodes[k.2].group {
                    Some(g) => {
                        let (s, c) = gmean[&Some(g.clone())];
                        s / c as f64
                    }
                    None => k.1,
                };
            }
            keyed.sort_by(|a, b| {
                a.0.total_cmp(&b.0)
                    .then(a.1.total_cmp(&b.1))
                    .then(a.2.cmp(&b.2))
            });
            tiers.insert(t, keyed.into_iter().map(|k| k.2).collect());
            set_pos(&tiers, &mut pos);
        }
    }
    // Coordinates: the bottom tier evenly spaced; each tier above centred over its lower
    // neighbours, keeping the order and at least DX apart.
    let mut x: Vec<f64> = pos.iter().map(|p| p * DX).collect();
    let mut placed = vec![false; nodes.len()];
    for (t, list) in &tiers {
        let wanted: Vec<f64> = list
            .iter()
            .map(|&i| {
                let below: Vec<f64> = edges
                    .iter()
                    .filter_map(|e| {
                        if e.a == i {
                            Some(e.b)
                        } else if e.b == i {
                            Some(e.a)
                        } else {
                            None
                        }
                    })
                    .filter(|j| placed[*j] && nodes[*j].tier < *t)
                    .map(|j| x[j])
                    .collect();
                if below.is_empty() {
                    x[i]
                } else {
                    below.iter().sum::<f64>() / below.len() as f64
                }
            })
            .collect();
        let mut got = wanted.clone();
        for k in 1..got.len() {
            got[k] = got[k].max(got[k - 1] + DX);
        }
        // Pushing right drifts the tier: shift it back so it sits where it wants on average.
        let drift =
            (got.iter().sum::<f64>() - wanted.iter().sum::<f64>()) / got.len().max(1) as f64;
        for (k, &i) in list.iter().enumerate() {
            x[i] = got[k] - drift;
            placed[i] = true;
        }
    }
    let min_x = x.iter().copied().fold(f64::MAX, f64::min);
    for (i, n) in nodes.iter_mut().enumerate() {
        n.x = MARGIN + x[i] - min_x;
        n.y = MARGIN + (max_tier - n.tier) as f64 * DY;
    }
}

fn mermaid_id(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Mermaid flowchart text.
pub fn mermaid(g: &Graph) -> String {
    let mut s = String::from("graph TD\n");
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        if let Some(gr) = &n.group {
            groups.entry(gr.clone()).or_default().push(i);
        }
    }
    let node = |i: usize| {
        format!(
            "{}[\"{}<br/><small>{}</small>\"]",
            mermaid_id(&g.nodes[i].name),
            g.nodes[i].name,
            g.nodes[i].sub
        )
    };
    for (gr, members) in &groups {
        s.push_str(&format!(
            "  subgraph {}[\"{gr}\"]\n",
            mermaid_id(&format!("group_{gr}"))
        ));
        for m in members {
            s.push_str(&format!("    {}\n", node(*m)));
        }
        s.push_str("  end\n");
    }
    for (i, n) in g.nodes.iter().enumerate() {
        if n.group.is_none() {
            s.push_str(&format!("  {}\n", node(i)));
        }
    }
    // Higher tiers first so Mermaid draws them on top.
    let mut edges: Vec<&GEdge> = g.edges.iter().collect();
    edges.sort_by_key(|e| std::cmp::Reverse(g.nodes[e.a].tier.max(g.nodes[e.b].tier)));
    for e in edges {
        let (a, b, ai, bi) = if g.nodes[e.a].tier >= g.nodes[e.b].tier {
            (e.a, e.b, &e.a_if, &e.b_if)
        } else {
            (e.b, e.a, &e.b_if, &e.a_if)
        };
        s.push_str(&format!(
            "  {} ---|\"{ai} ↔ {bi}\"| {}\n",
            mermaid_id(&g.nodes[a].name),
            mermaid_id(&g.nodes[b].name)
        ));
    }
    s
}

/// Graphviz text.
pub fn dot(g: &Graph) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\\\""));
    let mut s = format!(
        "graph {} {{\n  rankdir=BT;\n  node [shape=box, style=rounded];\n",
        q(&g.lab)
    );
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        if let Some(gr) = &n.group {
            groups.entry(gr.clone()).or_default().push(i);
        }
    }
    for (k, (gr, members)) in groups.iter().enumerate() {
        s.push_str(&format!(
            "  subgraph cluster_{k} {{\n    label={};\n",
            q(gr)
        ));
        for m in members {
            s.push_str(&format!("    {};\n", q(&g.nodes[*m].name)));
        }
        s.push_str("  }\n");
    }
    for n in &g.nodes {
        let shape = match n.role.as_str() {
            "router" => "ellipse",
            "bridge" => "box",
            _ => "box",
        };
        s.push_str(&format!(
            "  {} [label={}, shape={shape}];\n",
            q(&n.name),
            q(&format!("{}\\n{}", n.name, n.sub))
        ));
    }
    let mut by_tier: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for n in &g.nodes {
        by_tier.entry(n.tier).or_default().push(&n.name);
    }
    for names in by_tier.values() {
        s.push_str(&format!(
            "  {{ rank=same; {} }}\n",
            names.iter().map(|n| q(n)).collect::<Vec<_>>().join("; ")
        ));
    }
    for e in &g.edges {
        s.push_str(&format!(
            "  {} -- {} [taillabel={}, headlabel={}];\n",
            q(&g.nodes[e.a].name),
            q(&g.nodes[e.b].name),
            q(&e.a_if),
            q(&e.b_if)
        ));
    }
    s.push_str("}\n");
    s
}

/// The self-contained HTML page.
pub fn html(g: &Graph) -> String {
    super::graph_html::render(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{build as plan_build, PlanInput};
    use crate::topo::cluster::parse_cluster_file;
    use crate::topo::parse_topology;
    use std::path::Path;

    fn graph_of(topo: &str, cluster: &str) -> Graph {
        let ex = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let t = parse_topology(&ex.join(topo)).unwrap();
        let c = parse_cluster_file(&ex.join(cluster)).unwrap();
        build(
            &plan_build(PlanInput {
                topo: &t,
                cluster: Some(&c),
                root: Path::new("/labs"),
            })
            .unwrap(),
        )
    }

    fn tier(g: &Graph, name: &str) -> usize {
        g.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("{name} drawn"))
            .tier
    }

    #[test]
    fn seed_002_tiers_and_racks() {
        let g = graph_of("cilium-bgp-frr/topo.yaml", "cilium-bgp-frr/cluster.yaml");
        assert_eq!(
            g.nodes.len(),
            7,
            "kind nodes are drawn as the servers that join them"
        );
        assert_eq!(g.edges.len(), 6);
        assert_eq!(
            (tier(&g, "server0"), tier(&g, "tor0"), tier(&g, "router0")),
            (0, 1, 2)
        );
        let s1 = g.nodes.iter().find(|n| n.name == "server1").unwrap();
        assert_eq!(s1.group.as_deref(), Some("rack0"));
        assert_eq!(s1.role, "k8s");
        // Racks are contiguous: server0, server1 left of server2, server3.
        let x = |n: &str| g.nodes.iter().find(|m| m.name == n).unwrap().x;
        assert!(x("server0").max(x("server1")) < x("server2").min(x("server3")));
        assert!(x("tor0") < x("tor1"));
        let m = mermaid(&g);
        assert!(m.contains("router0 ---|\"net0 ↔ net0\"| tor0"), "{m}");
        assert!(m.contains("subgraph group_rack0[\"rack0\"]"), "{m}");
        let d = dot(&g);
        assert!(
            d.contains("\"router0\" -- \"tor0\" [taillabel=\"net0\", headlabel=\"net0\"];"),
            "{d}"
        );
        assert!(d.contains("label=\"rack1\""), "{d}");
    }

    #[test]
    fn seed_000_tiers() {
        let g = graph_of(
            "cilium-bgp-cross-as/topo-frr.yaml",
            "cilium-bgp-cross-as/cluster.yaml",
        );
        assert_eq!(g.nodes.len(), 11);
        assert_eq!(tier(&g, "worker"), 0);
        assert_eq!(tier(&g, "leaf01-br"), 1);
        assert_eq!(tier(&g, "leaf02"), 2);
        assert_eq!(tier(&g, "spine01"), 3);
        assert_eq!(tier(&g, "spine02"), 3);
        assert_eq!(
            tier(&g, "client"),
            4,
            "a host hanging off a spine sits above it"
        );
        let page = html(&g);
        assert!(page.contains("data-name=\"leaf01-br\""));
        for external in ["src=\"http", "href=\"http", "url(http", "@import", "<link "] {
            assert!(
                !page.contains(external),
                "no external resources ({external})"
            );
        }
    }
}
