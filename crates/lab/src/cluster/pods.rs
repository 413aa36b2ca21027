//! Pods: what the scheduler, the DaemonSet controller, kubelet and the container runtime do,
//! for a lab.
//!
//! A pod is a network namespace (`pod-<lab>-<namespace>-<name>`) with a small supervisor of
//! its own (the same PID 1 as a node's, in new mount, UTS and PID namespaces: hostname = pod
//! name, private /run and /tmp, the host's tools read-only), which runs the first
//! container's command and serves `lab exec`. It is wired by the CNI plugins of its node's
//! configuration list (`bgplane`), run in the node's network namespace with the `CNI_*`
//! variables and the plugin configuration on stdin, exactly as a runtime runs them: `ADD`
//! when the pod is created, `DEL` when it is deleted.
//!
//! Each pod has a record (`<lab dir>/pods/<namespace>_<name>/pod.json`) written before
//! anything is created, so `delete` and `destroy` always find what to remove. The Pod object
//! (with its status: node, IP, phase) is kept in the manifest directory.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::objects::{self, write_atomic};
use super::{bin_dir, hash, manifests_dir, node_path, now, rfc3339, uid, CONFLIST};
use crate::cli::SelfExe;
use crate::ops::par_map;
use crate::rt::state::LabState;
use crate::rt::supervisor::{MountSpec, NodeSpec};
use crate::rt::{netns, proc, spawn, RtError};

pub use super::sched::{fits, name_suffix, sched_nodes, schedule, SchedNode};

/// A pod's runtime record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PodRec {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `metadata.uid`.
    pub uid: String,
    /// The node it runs on; None while Pending (no node fits).
    pub node: Option<String>,
    /// The DaemonSet that owns it.
    pub owner: Option<String>,
    /// Its network namespace.
    pub netns: String,
    /// The sandbox id given to the CNI plugins (`CNI_CONTAINERID`).
    pub container_id: String,
    /// Addresses from the CNI result.
    pub ips: Vec<String>,
    /// The node's address.
    pub host_ip: Option<String>,
    /// `Pending`, `Running`, `Failed`.
    pub phase: String,
    /// Why it is not running.
    pub reason: Option<String>,
    /// Creation time (seconds since the epoch).
    pub created: u64,
    /// Start time.
    pub started: Option<u64>,
    /// Host pid of its supervisor.
    pub pid: Option<i32>,
    /// The supervisor's start time.
    pub start: Option<u64>,
    /// The supervisor's socket.
    pub socket: Option<PathBuf>,
    /// The namespace was created (it must be removed).
    #[serde(default)]
    pub netns_made: bool,
    /// `ADD` was run (so `DEL` must be).
    #[serde(default)]
    pub cni_added: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The pod's spec (`nodeName` filled in once scheduled).
    pub spec: Value,
}

impl PodRec {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// The directory of the lab's pods.
pub fn pods_root(lab_dir: &Path) -> PathBuf {
    lab_dir.join("pods")
}

fn pod_dir(lab_dir: &Path, ns: &str, name: &str) -> PathBuf {
    pods_root(lab_dir).join(format!("{ns}_{name}"))
}

fn record_path(lab_dir: &Path, ns: &str, name: &str) -> PathBuf {
    pod_dir(lab_dir, ns, name).join("pod.json")
}

/// Every pod record of a lab, by namespace and name.
pub fn load_all(lab_dir: &Path) -> Vec<PodRec> {
    let mut v: Vec<PodRec> = std::fs::read_dir(pods_root(lab_dir))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path().join("pod.json")).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    v.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    v
}

/// Finds a pod by `name` (namespace `default`) or `namespace/name`.
pub fn find(lab_dir: &Path, name: &str) -> Option<PodRec> {
    let (ns, n) = name.split_once('/').unwrap_or(("default", name));
    let p = record_path(lab_dir, ns, n);
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

fn save(lab_dir: &Path, r: &PodRec) -> Result<(), RtError> {
    let dir = pod_dir(lab_dir, &r.namespace, &r.name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| RtError::io(format!("create {}", dir.display()), e))?;
    let text = serde_json::to_vec_pretty(r).map_err(|e| RtError::io("encode pod", e.into()))?;
    write_atomic(&dir.join("pod.json"), &text)
}

/// An exclusive, blocking lock on the lab's cluster (apply, delete, taint, destroy).
pub struct ClusterLock(#[allow(dead_code)] nix::fcntl::Flock<std::fs::File>);

impl ClusterLock {
    /// Waits for the lock.
    pub fn take(lab_dir: &Path) -> Result<ClusterLock, RtError> {
        let p = lab_dir.join(".cluster.lock");
        let f = std::fs::File::create(&p)
            .map_err(|e| RtError::io(format!("create {}", p.display()), e))?;
        nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
            .map(ClusterLock)
            .map_err(|(_, e)| RtError::sys(format!("lock {}", p.display()), e))
    }
}

/// A new record for a pod.
fn new_record(
    lab: &str,
    ns: &str,
    name: &str,
    owner: Option<&str>,
    meta: &Value,
    spec: &Value,
    uid_hint: Option<&str>,
) -> PodRec {
    let created = now();
    let uid = uid_hint.map(str::to_string).unwrap_or_else(|| {
        uid(&[
            lab,
            ns,
            name,
            &format!("{:?}", std::time::SystemTime::now()),
        ])
    });
    let cid = format!(
        "{:016x}{:016x}{:016x}{:016x}",
        hash(&[&uid, "1"]),
        hash(&[&uid, "2"]),
        hash(&[&uid, "3"]),
        hash(&[&uid, "4"])
    );
    let map = |v: &Value| -> BTreeMap<String, String> {
        serde_json::from_value(v.clone()).unwrap_or_default()
    };
    PodRec {
        namespace: ns.to_string(),
        name: name.to_string(),
        uid,
        node: None,
        owner: owner.map(str::to_string),
        netns: format!("pod-{lab}-{ns}-{name}"),
        container_id: cid,
        ips: Vec::new(),
        host_ip: None,
        phase: "Pending".into(),
        reason: None,
        created,
        started: None,
        pid: None,
        start: None,
        socket: None,
        netns_made: false,
        cni_added: false,
        labels: map(&meta["labels"]),
        annotations: map(&meta["annotations"]),
        spec: spec.clone(),
    }
}

/// The Pod object of a record, with its status, as the API server would hold it.
pub fn pod_object(r: &PodRec) -> Value {
    let mut meta = json!({
        "name": r.name,
        "namespace": r.namespace,
        "uid": r.uid,
        "creationTimestamp": rfc3339(r.created),
        "labels": r.labels,
    });
    if !r.annotations.is_empty() {
        meta["annotations"] = json!(r.annotations);
    }
    if let Some(ds) = &r.owner {
        meta["ownerReferences"] = json!([{
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "name": ds,
            "uid": uid(&[&r.namespace, "daemonset", ds]),
            "controller": true,
            "blockOwnerDeletion": true,
        }]);
    }
    let mut status = json!({ "phase": r.phase });
    if let Some(h) = &r.host_ip {
        status["hostIP"] = json!(h);
        status["hostIPs"] = json!([{ "ip": h }]);
    }
    if let Some(ip) = r.ips.first() {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!(r.ips.iter().map(|i| json!({ "ip": i })).collect::<Vec<_>>());
    }
    if let Some(t) = r.started {
        status["startTime"] = json!(rfc3339(t));
    }
    if let Some(why) = &r.reason {
        status["reason"] = json!("Failed");
        status["message"] = json!(why);
    }
    let ready = if r.phase == "Running" {
        "True"
    } else {
        "False"
    };
    status["conditions"] = json!([
        { "type": "PodScheduled", "status": if r.node.is_some() { "True" } else { "False" } },
        { "type": "Ready", "status": ready },
    ]);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": r.spec,
        "status": status,
    })
}

/// Runs the CNI plugins of node `node`'s configuration list for one pod, as a runtime does:
/// in the node's network namespace, each plugin `<CNI_PATH>/<type>` with the `CNI_*`
/// variables and its configuration (the list's `name` and `cniVersion`, and for `ADD` the
/// previous plugin's result as `prevResult`) on stdin. `ADD` runs the plugins in order and
/// returns the last result; `DEL` runs them in reverse order.
pub fn cni(st: &LabState, node: usize, command: &str, r: &PodRec) -> Result<Value, String> {
    let n = &st.plan.nodes[node];
    let list_path = super::cni_dir(n).join("net.d").join(CONFLIST);
    let list: Value = std::fs::read(&list_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| format!("cannot read the CNI configuration {}", list_path.display()))?;
    let node_ns = n
        .netns
        .clone()
        .ok_or_else(|| format!("node {} has no network namespace", n.name))?;
    let bin = bin_dir(&st.plan.lab_dir);
    let mut plugins: Vec<Value> = list["plugins"].as_array().cloned().unwrap_or_default();
    if command == "DEL" {
        plugins.reverse();
    }
    let mut prev: Option<Value> = None;
    for p in plugins {
        let ty = p["type"].as_str().unwrap_or("").to_string();
        let exe = bin.join(&ty);
        if !exe.exists() {
            return Err(format!(
                "CNI plugin `{ty}` not found in {} (CNI_PATH)",
                bin.display()
            ));
        }
        let mut conf = p.clone();
        conf["name"] = list["name"].clone();
        conf["cniVersion"] = list["cniVersion"].clone();
        if let (Some(pr), "ADD") = (&prev, command) {
            conf["prevResult"] = pr.clone();
        }
        let args = format!(
            "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={};K8S_POD_INFRA_CONTAINER_ID={};K8S_POD_UID={}",
            r.namespace, r.name, r.container_id, r.uid
        );
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &node_ns])
            .arg(&exe)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", &r.container_id)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_ARGS", args)
            .env("CNI_PATH", &bin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if netns::exists(&r.netns) {
            cmd.env("CNI_NETNS", netns::path(&r.netns));
        } else if command == "ADD" {
            return Err(format!("the pod's network namespace {} is gone", r.netns));
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("run CNI plugin {}: {e}", exe.display()))?;
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(conf.to_string().as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("run CNI plugin {}: {e}", exe.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            let why = match serde_json::from_str::<Value>(stdout.trim()) {
                Ok(v) if v.get("code").is_some() => format!(
                    "error {}: {}{}",
                    v["code"],
                    v["msg"].as_str().unwrap_or(""),
                    v["details"]
                        .as_str()
                        .filter(|d| !d.is_empty())
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                ),
                _ => format!(
                    "{} {}{}",
                    out.status,
                    stdout.trim(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            };
            return Err(format!(
                "CNI {command} ({ty}) for pod {} on node {}: {why}",
                r.key(),
                n.name
            ));
        }
        if command == "ADD" {
            prev = Some(serde_json::from_str(stdout.trim()).map_err(|e| {
                format!(
                    "CNI ADD ({ty}) for pod {}: bad result ({e}): {stdout}",
                    r.key()
                )
            })?);
        }
    }
    Ok(prev.unwrap_or(Value::Null))
}

/// Private directories of a pod's mount namespace, as a node's.
const POD_TMPFS: &[(&str, u32)] = &[
    ("/run", 0o755),
    ("/tmp", 0o1777),
    ("/var/tmp", 0o1777),
    ("/dev/shm", 0o1777),
];

/// The first container's command (`command` + `args`), or None for the image's default
/// (an idle shell here).
fn container_command(spec: &Value) -> Option<Vec<String>> {
    let c = spec["containers"].as_array()?.first()?;
    let mut argv: Vec<String> = Vec::new();
    for k in ["command", "args"] {
        for a in c[k].as_array().into_iter().flatten() {
            argv.push(a.as_str().unwrap_or("").to_string());
        }
    }
    (!argv.is_empty()).then_some(argv)
}

/// Starts a scheduled pod: namespace, CNI `ADD`, supervisor. The record is saved at each
/// step; on failure everything made is removed again and the record says why.
fn start_pod(st: &LabState, exe: &SelfExe, r: &mut PodRec, node: usize) -> Result<(), String> {
    let lab_dir = &st.plan.lab_dir;
    let save = |r: &PodRec| save(lab_dir, r).map_err(|e| e.to_string());
    r.netns_made = true;
    save(r)?;
    let fd = netns::create(&r.netns, &[]).map_err(|e| e.to_string())?;
    r.cni_added = true;
    save(r)?;
    let result = cni(st, node, "ADD", r)?;
    r.ips = result["ips"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["address"].as_str())
        .map(|a| a.split('/').next().unwrap_or(a).to_string())
        .collect();
    save(r)?;
    // The pod's own files: /etc/hosts (as kubelet writes it) and /etc/hostname.
    let dir = pod_dir(lab_dir, &r.namespace, &r.name);
    let etc = dir.join("etc");
    std::fs::create_dir_all(&etc).map_err(|e| format!("create {}: {e}", etc.display()))?;
    let mut hosts = "# Kubernetes-managed hosts file (bgplane lab).\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_string();
    for ip in &r.ips {
        hosts.push_str(&format!("{ip}\t{}\n", r.name));
    }
    write_atomic(&etc.join("hosts"), hosts.as_bytes()).map_err(|e| e.to_string())?;
    write_atomic(&etc.join("hostname"), format!("{}\n", r.name).as_bytes())
        .map_err(|e| e.to_string())?;
    let mut mounts: Vec<MountSpec> = POD_TMPFS
        .iter()
        .filter(|(p, _)| Path::new(p).is_dir())
        .map(|(p, mode)| MountSpec::Tmpfs {
            dst: p.into(),
            mode: *mode,
        })
        .collect();
    for f in ["hosts", "hostname"] {
        let dst = Path::new("/etc").join(f);
        if dst.exists() {
            mounts.push(MountSpec::Bind {
                src: etc.join(f),
                dst,
                ro: false,
                create: false,
            });
        }
    }
    let run = lab_dir.join("run");
    std::fs::create_dir_all(&run).map_err(|e| format!("create {}: {e}", run.display()))?;
    let sock = run.join(format!(
        "pod-{:012x}.sock",
        hash(&[&r.namespace, &r.name, &r.uid]) & 0xffff_ffff_ffff
    ));
    let spec = NodeSpec {
        lab: st.plan.name.clone(),
        node: r.name.clone(),
        socket: sock.clone(),
        mounts,
        cmd: container_command(&r.spec),
        cmd_log: dir.join("container.log"),
    };
    let spec_path = dir.join("spec.json");
    let text = serde_json::to_vec_pretty(&spec).map_err(|e| e.to_string())?;
    write_atomic(&spec_path, &text).map_err(|e| e.to_string())?;
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), node_path(&st.plan)),
        ("HOME".into(), "/root".into()),
        ("HOSTNAME".into(), r.name.clone()),
    ];
    if let Some(c) = r.spec["containers"].as_array().and_then(|c| c.first()) {
        for e in c["env"].as_array().into_iter().flatten() {
            if let (Some(k), Some(v)) = (e["name"].as_str(), e["value"].as_str()) {
                env.push((k.to_string(), v.to_string()));
            }
        }
    }
    let started = spawn::start_node(
        exe,
        &r.name,
        &spec_path,
        &fd,
        &env,
        &dir.join("supervisor.log"),
    )
    .map_err(|e| format!("pod {}: {e}", r.key()))?;
    drop(fd);
    r.pid = Some(started.pid);
    r.start = started.start;
    r.socket = Some(sock);
    r.phase = "Running".into();
    r.started = Some(now());
    r.reason = None;
    save(r)
}

/// Removes everything of a pod: its processes, its network (CNI `DEL`), its namespace and
/// its files. Tolerates any of them being gone already.
pub fn remove(st: &LabState, r: &PodRec) -> Vec<String> {
    let mut problems = Vec::new();
    let mut killed = Vec::new();
    if let Some(pid) = r.pid {
        if proc::kill_if_same(pid, r.start) {
            killed.push((pid, r.start));
        }
    }
    wait_gone(&killed);
    if let Some(ino) = netns::inode(&r.netns) {
        let strays: Vec<(i32, Option<u64>)> = proc::pids_in_netns(ino)
            .into_iter()
            .map(|p| (p, proc::start_time(p)))
            .filter(|(p, s)| proc::kill_if_same(*p, *s))
            .collect();
        wait_gone(&strays);
    }
    if r.cni_added {
        let node = r.node.as_ref().and_then(|n| st.plan.node_index(n));
        match node {
            Some(i) if st.plan.nodes[i].netns.as_deref().is_some_and(netns::exists) => {
                if let Err(e) = cni(st, i, "DEL", r) {
                    problems.push(e);
                }
            }
            _ => {}
        }
    }
    if r.netns_made {
        if let Err(e) = netns::delete(&r.netns) {
            problems.push(e.to_string());
        }
    }
    if let Some(s) = &r.socket {
        let _ = std::fs::remove_file(s);
    }
    let dir = pod_dir(&st.plan.lab_dir, &r.namespace, &r.name);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            problems.push(format!("remove {}: {e}", dir.display()));
        }
    }
    problems
}

fn wait_gone(pids: &[(i32, Option<u64>)]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|(p, s)| proc::alive(*p, *s)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What a reconciliation did.
#[derive(Debug, Default)]
pub struct Reconciled {
    /// Pods started.
    pub started: Vec<String>,
    /// Pods removed.
    pub removed: Vec<String>,
    /// Pods left Pending (no node fits).
    pub pending: Vec<String>,
    /// Failures (pod and why).
    pub failed: Vec<String>,
}

/// A pod that should exist.
struct Wanted {
    ns: String,
    name: String,
    owner: Option<String>,
    meta: Value,
    spec: Value,
    uid: Option<String>,
}

/// Makes the running pods match the stored Pod and DaemonSet objects: pods whose object
/// (or DaemonSet, or fitting node) is gone are removed, new ones are scheduled and
/// started, Pending ones are scheduled again. DaemonSets get one pod per fitting node.
pub fn reconcile(st: &LabState, exe: Option<&SelfExe>) -> Reconciled {
    let lab_dir = &st.plan.lab_dir;
    let mdir = manifests_dir(lab_dir);
    let nodes = sched_nodes(st);
    let mut out = Reconciled::default();
    let recs = load_all(lab_dir);

    // Desired pods: bare Pod objects, and a pod per fitting node for each DaemonSet.
    let mut wanted: Vec<Wanted> = Vec::new();
    for p in objects::list(&mdir, "Pod") {
        if p["metadata"]["ownerReferences"].is_array() {
            continue; // a DaemonSet's pod: the DaemonSet says whether it stays
        }
        wanted.push(Wanted {
            ns: objects::namespace_of(&p).unwrap_or_default(),
            name: p["metadata"]["name"].as_str().unwrap_or("").to_string(),
            owner: None,
            meta: p["metadata"].clone(),
            spec: p["spec"].clone(),
            uid: p["metadata"]["uid"].as_str().map(str::to_string),
        });
    }
    for ds in objects::list(&mdir, "DaemonSet") {
        let ns = objects::namespace_of(&ds).unwrap_or_default();
        let dname = ds["metadata"]["name"].as_str().unwrap_or("").to_string();
        let tmpl = &ds["spec"]["template"];
        for n in nodes.iter().filter(|n| fits(&tmpl["spec"], n)) {
            let existing = recs.iter().find(|r| {
                r.namespace == ns
                    && r.owner.as_deref() == Some(dname.as_str())
                    && r.node.as_deref() == Some(n.name.as_str())
            });
            let name = match existing {
                Some(r) => r.name.clone(),
                None => format!(
                    "{dname}-{}",
                    name_suffix(&[
                        &st.plan.name,
                        &ns,
                        ds["metadata"]["uid"].as_str().unwrap_or(&dname),
                        &n.name
                    ])
                ),
            };
            let mut spec = tmpl["spec"].clone();
            spec["nodeName"] = json!(n.name);
            wanted.push(Wanted {
                ns: ns.clone(),
                name,
                owner: Some(dname.clone()),
                meta: tmpl["metadata"].clone(),
                spec,
                uid: None,
            });
        }
    }

    // Remove pods nobody wants any more.
    let gone: Vec<&PodRec> = recs
        .iter()
        .filter(|r| {
            !wanted
                .iter()
                .any(|w| w.ns == r.namespace && w.name == r.name && w.owner == r.owner)
        })
        .collect();
    let results = par_map(&gone, 8, |_, r| (r.key(), remove(st, r)));
    for ((key, problems), r) in results.into_iter().zip(&gone) {
        let _ = objects::remove_object(&mdir, &pod_object(r));
        if problems.is_empty() {
            out.removed.push(key);
        } else {
            out.failed.push(format!(
                "{key}: removed, with problems: {}",
                problems.join("; ")
            ));
        }
    }

    // Schedule new and Pending pods (one at a time, so that counts are current).
    let mut recs: Vec<PodRec> = load_all(lab_dir);
    let mut to_start: Vec<(PodRec, usize)> = Vec::new();
    for w in &wanted {
        let existing = recs
            .iter()
            .find(|r| r.namespace == w.ns && r.name == w.name)
            .cloned();
        let mut r = match existing {
            Some(r) if r.node.is_some() => continue,
            Some(r) => r,
            None => new_record(
                &st.plan.name,
                &w.ns,
                &w.name,
                w.owner.as_deref(),
                &w.meta,
                &w.spec,
                w.uid.as_deref(),
            ),
        };
        match schedule(st, &nodes, &recs, &w.spec) {
            Err(why) => {
                r.phase = "Failed".into();
                r.reason = Some(why.clone());
                out.failed.push(format!("{}: {why}", r.key()));
            }
            Ok(None) => {
                r.reason = Some(
                    "0 nodes are available: no node matches the pod's nodeSelector and tolerations"
                        .into(),
                );
                out.pending.push(r.key());
            }
            Ok(Some(i)) => {
                let n = &nodes[i];
                r.node = Some(n.name.clone());
                r.host_ip = n.ip.clone();
                r.spec["nodeName"] = json!(n.name);
                r.reason = None;
                to_start.push((r.clone(), n.index));
            }
        }
        if let Err(e) = save(lab_dir, &r) {
            out.failed.push(format!("{}: {e}", r.key()));
        }
        let _ = objects::write_object(&mdir, &pod_object(&r));
        recs.retain(|x| !(x.namespace == r.namespace && x.name == r.name));
        recs.push(r);
    }
    let Some(exe) = exe else {
        return out;
    };
    let results = par_map(&to_start, 8, |_, (r, node)| {
        let mut r = r.clone();
        let res = start_pod(st, exe, &mut r, *node);
        (r, res)
    });
    for (mut r, res) in results {
        match res {
            Ok(()) => out.started.push(r.key()),
            Err(why) => {
                let problems = remove(st, &r);
                r.phase = "Failed".into();
                r.reason = Some(if problems.is_empty() {
                    why.clone()
                } else {
                    format!("{why} (cleanup: {})", problems.join("; "))
                });
                r.netns_made = false;
                r.cni_added = false;
                r.pid = None;
                r.socket = None;
                let _ = save(lab_dir, &r);
                out.failed.push(format!("{}: {why}", r.key()));
            }
        }
        let _ = objects::write_object(&mdir, &pod_object(&r));
    }
    out
}

/// Destroy: removes every pod of the lab (processes, CNI `DEL`, namespaces, files), from
/// the records alone. Returns the number of pods removed.
pub fn teardown(st: &LabState) -> usize {
    let lab_dir = &st.plan.lab_dir;
    if !pods_root(lab_dir).exists() {
        return 0;
    }
    let _lock = ClusterLock::take(lab_dir).ok();
    let recs = load_all(lab_dir);
    let _ = par_map(&recs, 8, |_, r| remove(st, r));
    let _ = std::fs::remove_dir_all(pods_root(lab_dir));
    recs.len()
}
