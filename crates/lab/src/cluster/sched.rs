//! Scheduling, as kube-scheduler and the DaemonSet controller decide it for a lab: which
//! nodes a pod fits (node selector, taints and tolerations) and the names of generated
//! pods.

use std::collections::BTreeMap;

use serde_json::Value;

use super::pods::PodRec;
use super::{hash, manifests_dir, objects};
use crate::plan::behaviour::Behaviour;
use crate::rt::state::LabState;

/// A cluster node as the scheduler sees it.
#[derive(Clone, Debug)]
pub struct SchedNode {
    /// Index in the plan.
    pub index: usize,
    /// Name.
    pub name: String,
    /// Labels of its Node object.
    pub labels: BTreeMap<String, String>,
    /// Taints of its Node object.
    pub taints: Vec<Value>,
    /// Its InternalIP.
    pub ip: Option<String>,
}

/// The cluster nodes, with labels and taints from their Node objects.
pub fn sched_nodes(st: &LabState) -> Vec<SchedNode> {
    let dir = manifests_dir(&st.plan.lab_dir);
    let objs = objects::list(&dir, "Node");
    st.plan
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.behaviour == Behaviour::ClusterNode)
        .map(|(i, n)| {
            let o = objs
                .iter()
                .find(|o| o["metadata"]["name"].as_str() == Some(n.name.as_str()));
            let labels = o
                .and_then(|o| serde_json::from_value(o["metadata"]["labels"].clone()).ok())
                .unwrap_or_else(|| n.labels.iter().cloned().collect());
            let taints = o
                .and_then(|o| o["spec"]["taints"].as_array().cloned())
                .unwrap_or_default();
            let ip = o
                .and_then(|o| o["status"]["addresses"].as_array())
                .and_then(|a| {
                    a.iter()
                        .find(|x| x["type"] == "InternalIP")
                        .and_then(|x| x["address"].as_str())
                        .map(str::to_string)
                });
            SchedNode {
                index: i,
                name: n.name.clone(),
                labels,
                taints,
                ip,
            }
        })
        .collect()
}

/// Whether a toleration tolerates a taint (Kubernetes' rules).
fn tolerates(t: &Value, taint: &Value) -> bool {
    let key = t["key"].as_str().unwrap_or("");
    let op = t["operator"].as_str().unwrap_or("Equal");
    let effect = t["effect"].as_str().unwrap_or("");
    if !effect.is_empty() && Some(effect) != taint["effect"].as_str() {
        return false;
    }
    if key.is_empty() {
        return op == "Exists";
    }
    if Some(key) != taint["key"].as_str() {
        return false;
    }
    op == "Exists" || t["value"].as_str().unwrap_or("") == taint["value"].as_str().unwrap_or("")
}

/// Whether a pod spec may run on a node: its nodeSelector matches, and every NoSchedule or
/// NoExecute taint is tolerated.
pub fn fits(spec: &Value, n: &SchedNode) -> bool {
    if let Some(sel) = spec["nodeSelector"].as_object() {
        for (k, v) in sel {
            if n.labels.get(k).map(String::as_str) != v.as_str() {
                return false;
            }
        }
    }
    let tols = spec["tolerations"].as_array().cloned().unwrap_or_default();
    n.taints.iter().all(|taint| {
        let e = taint["effect"].as_str().unwrap_or("");
        !(e == "NoSchedule" || e == "NoExecute") || tols.iter().any(|t| tolerates(t, taint))
    })
}

/// The node for a pod: `nodeName` (a node's name, or a kind node's short name), else the
/// fitting node with the fewest pods, the first in the cluster's order on a tie.
pub fn schedule(
    st: &LabState,
    nodes: &[SchedNode],
    recs: &[PodRec],
    spec: &Value,
) -> Result<Option<usize>, String> {
    if let Some(want) = spec["nodeName"].as_str().filter(|s| !s.is_empty()) {
        let short = st.plan.cluster_name.as_ref().map(|c| format!("{c}-{want}"));
        return nodes
            .iter()
            .position(|n| n.name == want || Some(&n.name) == short.as_ref())
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "spec.nodeName: no node {want} (nodes: {})",
                    nodes
                        .iter()
                        .map(|n| n.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
    }
    let count = |n: &SchedNode| {
        recs.iter()
            .filter(|r| r.node.as_deref() == Some(n.name.as_str()))
            .count()
    };
    Ok(nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| fits(spec, n))
        .min_by_key(|(i, n)| (count(n), *i))
        .map(|(i, _)| i))
}

/// Kubernetes' generated name suffix: 5 characters from its alphabet (no vowels).
pub fn name_suffix(seed: &[&str]) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h = hash(seed);
    (0..5)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, labels: &[(&str, &str)], taints: Value) -> SchedNode {
        SchedNode {
            index: 0,
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            taints: taints.as_array().cloned().unwrap_or_default(),
            ip: None,
        }
    }

    #[test]
    fn taints_and_selectors_decide_where_a_pod_fits() {
        let cp = node(
            "cp",
            &[("rack", "rack0")],
            json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
        );
        let w = node("w", &[("rack", "rack0")], json!([]));
        let spec = json!({"nodeSelector": {"rack": "rack0"}, "containers": []});
        assert!(!fits(&spec, &cp));
        assert!(fits(&spec, &w));
        let tolerant = json!({"tolerations": [{"operator": "Exists"}]});
        assert!(fits(&tolerant, &cp));
        let by_key = json!({"tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]});
        assert!(fits(&by_key, &cp));
        let other = json!({"tolerations": [{"key": "x", "operator": "Exists"}]});
        assert!(!fits(&other, &cp));
        assert!(!fits(&json!({"nodeSelector": {"rack": "rack1"}}), &w));
    }

    #[test]
    fn generated_suffixes_use_kubernetes_alphabet() {
        let s = name_suffix(&["lab", "default", "ds", "node"]);
        assert_eq!(s.len(), 5);
        assert!(s.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
        assert_ne!(s, name_suffix(&["lab", "default", "ds", "node2"]));
    }
}
