//! The lab's Kubernetes side: a kind cluster's nodes become Kubernetes nodes.
//!
//! At deploy every cluster node gets its `Node` object in the lab's manifest directory
//! (`<lab dir>/manifests`, the agents' object source), its pod CIDR file and CNI
//! configuration (`<node dir>/podcidr`, `<node dir>/cni/net.d/10-bgplane.conflist`), a
//! blackhole route for its pod CIDR, and runs `bgplane agent` as its main process.
//! `lab apply -f` stores objects in the manifest directory (the agents react to peering
//! policies, Services and Secrets) and turns `Pod` and `DaemonSet` objects into pods: each a
//! network namespace with its own small supervisor, wired by running the `bgplane` CNI
//! plugin in its node as a container runtime does ([`pods`]). `lab kubectl` reads them back
//! in kubectl's formats ([`kubectl`]).

pub mod kubectl;
pub mod objects;
pub mod pods;
pub mod sched;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::cli::SelfExe;
use crate::ops::exec::run_capture;
use crate::plan::behaviour::Behaviour;
use crate::plan::{LabPlan, NodePlan};
use crate::rt::state::LabState;
use crate::rt::RtError;

/// The file name of a node's CNI configuration list, as kubelet's runtime would find it.
pub const CONFLIST: &str = "10-bgplane.conflist";

/// How often the agents look at the manifest directory, in milliseconds.
pub const AGENT_POLL_MS: u64 = 250;

/// The manifest directory of a lab (the agents' `--manifests`).
pub fn manifests_dir(lab_dir: &Path) -> PathBuf {
    lab_dir.join("manifests")
}

/// The lab's `bin` directory: `bgplane` (a link to the binary that runs the agents), on the
/// `PATH` of cluster nodes and pods and the CNI bin directory (`CNI_PATH`).
pub fn bin_dir(lab_dir: &Path) -> PathBuf {
    lab_dir.join("bin")
}

/// A cluster node's pod CIDR file (the CNI's `podCIDRFile`).
pub fn podcidr_file(node: &NodePlan) -> PathBuf {
    node.dir.join("podcidr")
}

/// A cluster node's CNI directory: `net.d/` (configuration) and `state/` (IPAM).
pub fn cni_dir(node: &NodePlan) -> PathBuf {
    node.dir.join("cni")
}

/// True when the lab has a kind cluster.
pub fn has_cluster(plan: &LabPlan) -> bool {
    plan.nodes
        .iter()
        .any(|n| n.behaviour == Behaviour::ClusterNode)
}

/// The `bgplane` binary that runs the agents and the CNI plugin: this binary if it is
/// bgplane, else a `bgplane` next to it, else one on `PATH`.
pub fn bgplane_binary(exe: &SelfExe) -> Option<PathBuf> {
    if exe.path.file_name().is_some_and(|f| f == "bgplane") {
        return Some(exe.path.clone());
    }
    let sibling = exe.path.with_file_name("bgplane");
    if sibling.is_file() {
        return Some(sibling);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("bgplane"))
            .find(|c| c.is_file())
    })
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 3339 UTC time of `secs` since the epoch (`2025-07-02T10:14:07Z`).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Seconds since the epoch of an RFC 3339 UTC time written by [`rfc3339`].
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

/// kubectl's AGE column (`45s`, `3m20s`, `5h`, `2d3h`, …).
pub fn human_age(secs: u64) -> String {
    let (s, m, h) = (secs, secs / 60, secs / 3600);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{}d", h / 24)
        } else {
            format!("{}d{}h", h / 24, h % 24)
        }
    } else if h < 24 * 365 * 2 {
        format!("{}d", h / 24)
    } else {
        format!("{}y", h / (24 * 365))
    }
}

/// A short stable hash (FNV-1a, 64 bit) of some strings.
pub fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// A UUID-shaped identifier from a hash of `parts` (objects' `metadata.uid`).
pub fn uid(parts: &[&str]) -> String {
    let a = hash(parts);
    let b = hash(&[&a.to_string(), "uid"]);
    let x = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-8{}-{}",
        &x[0..8],
        &x[8..12],
        &x[13..16],
        &x[17..20],
        &x[20..32]
    )
}

/// `amd64`/`arm64` as Kubernetes names this machine's architecture.
fn k8s_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn os_image() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into())
}

fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The `Node` object of a cluster node: name, labels (kubelet's `node-labels` and the ones
/// Kubernetes sets), the pod CIDR(s) the lab assigned, kubeadm's control-plane taint, and
/// `InternalIP` = node-ip (kind's eth0 address when there is none).
pub fn node_object(plan: &LabPlan, n: &NodePlan, created: u64) -> Value {
    let mut labels = serde_json::Map::new();
    labels.insert("beta.kubernetes.io/arch".into(), json!(k8s_arch()));
    labels.insert("beta.kubernetes.io/os".into(), json!("linux"));
    labels.insert("kubernetes.io/arch".into(), json!(k8s_arch()));
    for (k, v) in &n.labels {
        labels.insert(k.clone(), json!(v));
    }
    let cidrs: Vec<String> = n.pod_cidrs.iter().map(|c| c.to_string()).collect();
    let mut addresses: Vec<Value> = Vec::new();
    let ips: Vec<String> = if n.node_ips.is_empty() {
        n.mgmt4.iter().map(|a| a.addr().to_string()).collect()
    } else {
        n.node_ips.iter().map(|a| a.to_string()).collect()
    };
    for ip in &ips {
        addresses.push(json!({"type": "InternalIP", "address": ip}));
    }
    addresses.push(json!({"type": "Hostname", "address": n.name}));
    let mut spec = json!({ "podCIDR": cidrs.first(), "podCIDRs": cidrs });
    if n.role == Some(crate::topo::cluster::Role::ControlPlane) {
        spec["taints"] = json!([{
            "key": "node-role.kubernetes.io/control-plane",
            "effect": "NoSchedule"
        }]);
    }
    let ts = rfc3339(created);
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": n.name,
            "uid": uid(&[&plan.name, "node", &n.name, &created.to_string()]),
            "creationTimestamp": ts,
            "labels": labels,
            "annotations": { "bgplane.io/lab": plan.name },
        },
        "spec": spec,
        "status": {
            "addresses": addresses,
            "conditions": [{
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "bgplane lab node is ready",
                "lastHeartbeatTime": ts,
                "lastTransitionTime": ts,
            }],
            "nodeInfo": {
                "architecture": k8s_arch(),
                "bootID": uid(&[&plan.name, &n.name, "boot", &created.to_string()]),
                "containerRuntimeVersion": format!("bgplane-lab://{}", env!("CARGO_PKG_VERSION")),
                "kernelVersion": kernel_version(),
                "kubeProxyVersion": "",
                "kubeletVersion": format!("bgplane-{}", env!("CARGO_PKG_VERSION")),
                "machineID": format!("{:016x}", hash(&[&plan.name, &n.name])),
                "operatingSystem": "linux",
                "osImage": os_image(),
                "systemUUID": uid(&[&plan.name, &n.name, "system"]),
            },
        },
    })
}

/// The CNI configuration list of a node: the `bgplane` plugin with the node's pod CIDR file
/// and its IPAM state in the node directory.
pub fn conflist(n: &NodePlan) -> Value {
    json!({
        "cniVersion": "1.1.0",
        "name": "bgplane",
        "plugins": [{
            "type": "bgplane",
            "podCIDRFile": podcidr_file(n),
            "dataDir": cni_dir(n).join("state"),
            "mtu": 1500,
        }],
    })
}

/// Deploy, before the node supervisors start: a fresh manifest directory with every cluster
/// node's `Node` object, each node's pod CIDR file and CNI configuration, and the lab's bin
/// directory. Returns a note when the agents cannot run (no `bgplane` binary).
pub fn prepare(plan: &LabPlan, exe: &SelfExe) -> Result<Option<String>, RtError> {
    let io = |what: String| move |e: std::io::Error| RtError::io(what, e);
    let routers = plan.nodes.iter().any(|n| n.behaviour == Behaviour::Bgplane);
    if !has_cluster(plan) {
        if routers {
            // `bgplane` on the PATH of `kind: bgplane` nodes (`lab exec leaf01 -- bgplane show …`).
            if let Some(b) = bgplane_binary(exe) {
                let bin = bin_dir(&plan.lab_dir);
                std::fs::create_dir_all(&bin).map_err(io(format!("create {}", bin.display())))?;
                let link = bin.join("bgplane");
                let _ = std::fs::remove_file(&link);
                std::os::unix::fs::symlink(&b, &link)
                    .map_err(io(format!("link {}", link.display())))?;
            }
        }
        return Ok(None);
    }
    let dir = manifests_dir(&plan.lab_dir);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io(format!("clean {}", dir.display())))?;
    }
    std::fs::create_dir_all(&dir).map_err(io(format!("create {}", dir.display())))?;
    let created = now();
    for n in plan
        .nodes
        .iter()
        .filter(|n| n.behaviour == Behaviour::ClusterNode)
    {
        objects::write_object(&dir, &node_object(plan, n, created))?;
        std::fs::create_dir_all(&n.dir).map_err(io(format!("create {}", n.dir.display())))?;
        let cidrs: Vec<String> = n.pod_cidrs.iter().map(|c| c.to_string()).collect();
        objects::write_atomic(
            &podcidr_file(n),
            format!("{}\n", cidrs.join("\n")).as_bytes(),
        )?;
        let cni = cni_dir(n);
        if cni.exists() {
            std::fs::remove_dir_all(&cni).map_err(io(format!("clean {}", cni.display())))?;
        }
        let netd = cni.join("net.d");
        std::fs::create_dir_all(&netd).map_err(io(format!("create {}", netd.display())))?;
        let text = serde_json::to_vec_pretty(&conflist(n))
            .map_err(|e| RtError::io("encode conflist", e.into()))?;
        objects::write_atomic(&netd.join(CONFLIST), &text)?;
    }
    let bin = bin_dir(&plan.lab_dir);
    std::fs::create_dir_all(&bin).map_err(io(format!("create {}", bin.display())))?;
    let link = bin.join("bgplane");
    let _ = std::fs::remove_file(&link);
    match bgplane_binary(exe) {
        Some(b) => {
            std::os::unix::fs::symlink(&b, &link).map_err(io(format!("link {}", link.display())))?;
            Ok(None)
        }
        None => Ok(Some(format!(
            "no `bgplane` binary next to {} or on PATH: the cluster nodes run no agent, and pods cannot be wired (build it: cargo build -p bgplane)",
            exe.path.display()
        ))),
    }
}

/// The main command of a cluster node: `bgplane agent` against the lab's manifest directory
/// (no `--install-routes`: like Cilium, the node keeps its default route to the ToR), or
/// None when there is no bgplane binary.
pub fn agent_command(plan: &LabPlan, n: &NodePlan) -> Option<Vec<String>> {
    let link = bin_dir(&plan.lab_dir).join("bgplane");
    if n.behaviour != Behaviour::ClusterNode || !link.exists() {
        return None;
    }
    Some(vec![
        link.to_string_lossy().into_owned(),
        "agent".into(),
        "--node".into(),
        n.name.clone(),
        "--manifests".into(),
        manifests_dir(&plan.lab_dir).to_string_lossy().into_owned(),
        "--poll-ms".into(),
        AGENT_POLL_MS.to_string(),
    ])
}

/// The agent's log in the node directory.
pub fn agent_log(n: &NodePlan) -> PathBuf {
    n.dir.join("agent.log")
}

/// The `PATH` of cluster nodes, pods and `kind: bgplane` nodes: the lab's bin directory
/// first.
pub fn node_path(plan: &LabPlan) -> String {
    format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        bin_dir(&plan.lab_dir).display()
    )
}

/// The addresses others reach a cluster node at: its node-ip(s), else its kind address.
fn node_addresses(n: &NodePlan) -> Vec<std::net::IpAddr> {
    if n.node_ips.is_empty() {
        n.mgmt4.iter().map(|a| a.addr().into()).collect()
    } else {
        n.node_ips.clone()
    }
}

/// Deploy, after the exec lines: a blackhole route for each cluster node's pod CIDR (what
/// the node agent provides, docs/cni.md: traffic to unallocated pod addresses stops at the
/// node instead of looping to the ToR over the default route), and with
/// `auto_direct`, Cilium's `autoDirectNodeRoutes`: a route to each other node's pod CIDR
/// through its address when that address is on one of this node's links. Returns failures.
pub fn node_routes(st: &LabState, auto_direct: bool) -> Vec<String> {
    let mut failed = Vec::new();
    let cluster: Vec<usize> = (0..st.plan.nodes.len())
        .filter(|i| st.plan.nodes[*i].behaviour == Behaviour::ClusterNode)
        .collect();
    for &i in &cluster {
        let n = &st.plan.nodes[i];
        let Some(sock) = &st.nodes[i].socket else {
            continue;
        };
        let mut routes: Vec<Vec<String>> = Vec::new();
        for c in &n.pod_cidrs {
            let fam = if c.addr().is_ipv4() { "-4" } else { "-6" };
            routes.push(
                ["ip", fam, "route", "replace", "blackhole", &c.to_string()]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            );
        }
        if auto_direct {
            let subnets: Vec<ipnet::IpNet> = n
                .netns
                .as_deref()
                .and_then(|ns| crate::ops::inspect::addresses_of(ns).ok())
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.addr.trunc())
                .collect();
            for &j in cluster.iter().filter(|j| **j != i) {
                let other = &st.plan.nodes[j];
                for c in &other.pod_cidrs {
                    let via = node_addresses(other).into_iter().find(|a| {
                        a.is_ipv4() == c.addr().is_ipv4() && subnets.iter().any(|s| s.contains(a))
                    });
                    if let Some(via) = via {
                        routes.push(
                            [
                                "ip",
                                "route",
                                "replace",
                                &c.to_string(),
                                "via",
                                &via.to_string(),
                            ]
                            .iter()
                            .map(|s| s.to_string())
                            .collect(),
                        );
                    }
                }
            }
        }
        for argv in routes {
            let what = argv[3..].join(" ");
            match run_capture(sock, argv, std::time::Duration::from_secs(10)) {
                Ok(c2) if c2.status == 0 => {}
                Ok(c2) => failed.push(format!("{}: ip route {what}: {}", n.name, c2.output.trim())),
                Err(e) => failed.push(format!("{}: ip route {what}: {e}", n.name)),
            }
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_751_451_247), "2025-07-02T10:14:07Z");
        for t in [0, 59, 951_782_400, 1_751_451_247, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t), "{t}");
        }
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(human_age(45), "45s");
        assert_eq!(human_age(112), "112s");
        assert_eq!(human_age(200), "3m20s");
        assert_eq!(human_age(11 * 60 + 34), "11m");
        assert_eq!(human_age(5 * 3600 + 60), "5h1m");
        assert_eq!(human_age(18 * 3600), "18h");
        assert_eq!(human_age(3 * 86_400 + 3600), "3d1h");
    }

    #[test]
    fn uids_look_like_uuids() {
        let u = uid(&["a", "b"]);
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
        assert_ne!(u, uid(&["a", "c"]));
    }
}
