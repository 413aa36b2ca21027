//! `lab apply -f`, `lab delete -f` and `lab kubectl …`: Kubernetes manifests into the lab
//! cluster, and the objects back out in kubectl's formats, so that the seeds' commands work
//! as written (`kubectl get pods -o wide`, `kubectl exec -it POD -- ping …`,
//! `kubectl taint nodes … node-role.kubernetes.io/control-plane:NoSchedule-`).

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::objects::{self, Applied, Doc};
use super::pods::{self, ClusterLock, PodRec};
use super::{has_cluster, human_age, manifests_dir, now, parse_rfc3339};
use crate::cli::SelfExe;
use crate::ops::exec::{run_attached, run_capture};
use crate::ops::{LabSel, OpError};
use crate::rt::state::LabState;
use crate::rt::{proc, require_root};

mod get;

fn usage(msg: impl Into<String>) -> OpError {
    OpError::Usage(msg.into())
}

/// The deployed lab, which must have a kind cluster.
fn cluster_state(root: &Path, sel: &LabSel) -> Result<LabState, OpError> {
    let st = sel.state(root)?;
    if !has_cluster(&st.plan) {
        return Err(usage(format!(
            "lab {} has no kind cluster (deploy it with --cluster kind.yaml)",
            st.plan.name
        )));
    }
    Ok(st)
}

/// Reads `-f` arguments: files, directories (their `*.yaml`, `*.yml`, `*.json`), `-` (stdin).
pub fn read_manifests(files: &[String]) -> Result<Vec<Doc>, OpError> {
    let mut docs = Vec::new();
    for f in files {
        if f == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| usage(format!("read stdin: {e}")))?;
            docs.extend(objects::read_docs("<stdin>", &text).map_err(|e| usage(e.0))?);
            continue;
        }
        let p = PathBuf::from(f);
        let paths: Vec<PathBuf> = if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(&p)
                .map_err(|e| usage(format!("{f}: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|x| {
                    matches!(
                        x.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "yml" | "json")
                    )
                })
                .collect();
            v.sort();
            v
        } else {
            vec![p]
        };
        for path in paths {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| usage(format!("{}: {e}", path.display())))?;
            docs.extend(
                objects::read_docs(&path.display().to_string(), &text).map_err(|e| usage(e.0))?,
            );
        }
    }
    if docs.is_empty() {
        return Err(usage("no objects passed to apply (-f FILE)"));
    }
    Ok(docs)
}

/// Checks the objects the lab itself acts on before anything is stored.
fn check_doc(st: &LabState, d: &Doc) -> Result<(), OpError> {
    let what = || format!("{} ({} {})", d.origin, d.kind(), d.name());
    match d.kind() {
        "Pod"
            if d.value["spec"]["containers"]
                .as_array()
                .is_none_or(|c| c.is_empty()) =>
        {
            return Err(usage(format!("{}: spec.containers: required", what())));
        }
        "DaemonSet" => {
            let t = &d.value["spec"]["template"];
            if t["spec"]["containers"]
                .as_array()
                .is_none_or(|c| c.is_empty())
            {
                return Err(usage(format!(
                    "{}: spec.template.spec.containers: required",
                    what()
                )));
            }
            let sel = &d.value["spec"]["selector"]["matchLabels"];
            if let Some(m) = sel.as_object() {
                for (k, v) in m {
                    if t["metadata"]["labels"][k] != *v {
                        return Err(usage(format!(
                            "{}: spec.template.metadata.labels: `selector` does not match template `labels` ({k}={v})",
                            what()
                        )));
                    }
                }
            }
        }
        "Node" => {
            let n = d.name();
            if st.plan.node_index(n).is_none() {
                return Err(usage(format!(
                    "{}: the lab's nodes come from its kind cluster; there is no node {n}",
                    what()
                )));
            }
        }
        _ => {}
    }
    Ok(())
}

/// `lab apply -f FILE…`: stores the objects and makes the pods match.
pub fn apply_cmd(
    root: &Path,
    sel: &LabSel,
    files: &[String],
    exe: &SelfExe,
) -> Result<(), OpError> {
    require_root("bgplane lab apply")?;
    let st = cluster_state(root, sel)?;
    let docs = read_manifests(files)?;
    for d in &docs {
        check_doc(&st, d)?;
    }
    let lab_dir = &st.plan.lab_dir;
    let _lock = ClusterLock::take(lab_dir)?;
    let mdir = manifests_dir(lab_dir);
    let mut errors = 0;
    for d in &docs {
        if d.kind() == "Pod" {
            let ns = d.namespace().unwrap_or_default();
            if let Some(r) = pods::find(lab_dir, &format!("{ns}/{}", d.name())) {
                if r.owner.is_none() {
                    let mut spec = d.value["spec"].clone();
                    if spec["nodeName"].is_null() {
                        spec["nodeName"] = r.spec["nodeName"].clone();
                    }
                    if spec == r.spec {
                        println!("{} unchanged", d.ref_name());
                    } else {
                        eprintln!(
                            "{}: the Pod \"{}\" is invalid: spec: Forbidden: pod updates may not change fields other than image and tolerations (delete it first)",
                            d.origin,
                            d.name()
                        );
                        errors += 1;
                    }
                    continue;
                }
            }
        }
        let (how, _) = objects::apply(&st.plan.name, &mdir, &d.value)?;
        println!("{} {}", d.ref_name(), how.word());
        if how == Applied::Configured && d.kind() == "DaemonSet" {
            // Kubernetes rolls the pods of a changed template; here they are replaced.
            let ns = d.namespace().unwrap_or_default();
            let tmpl = &d.value["spec"]["template"]["spec"]["containers"];
            for r in pods::load_all(lab_dir) {
                if r.namespace == ns
                    && r.owner.as_deref() == Some(d.name())
                    && r.spec["containers"] != *tmpl
                {
                    for p in pods::remove(&st, &r) {
                        eprintln!("pod {}: {p}", r.key());
                    }
                    let _ = objects::remove_object(&mdir, &pods::pod_object(&r));
                }
            }
        }
    }
    report(pods::reconcile(&st, Some(exe)), &mut errors);
    if errors > 0 {
        return Err(usage(format!("{errors} object(s) could not be applied")));
    }
    Ok(())
}

fn report(r: pods::Reconciled, errors: &mut usize) {
    for p in &r.pending {
        eprintln!("pod {p} is Pending: no node matches its nodeSelector and tolerations");
    }
    for f in &r.failed {
        eprintln!("error: pod {f}");
        *errors += 1;
    }
}

/// kubectl's word for a deleted object: `pod "x" deleted`.
fn deleted_line(v: &Value) -> String {
    let r = objects::ref_name(v);
    let (kind, name) = r.split_once('/').unwrap_or((&r, ""));
    format!("{kind} \"{name}\" deleted")
}

/// `lab delete -f FILE…`: removes the objects; pods go with their objects.
pub fn delete_cmd(root: &Path, sel: &LabSel, files: &[String]) -> Result<(), OpError> {
    require_root("bgplane lab delete")?;
    let st = cluster_state(root, sel)?;
    let docs = read_manifests(files)?;
    delete_values(
        &st,
        docs.iter()
            .map(|d| (d.origin.clone(), d.value.clone()))
            .collect(),
    )
}

fn delete_values(st: &LabState, items: Vec<(String, Value)>) -> Result<(), OpError> {
    let lab_dir = &st.plan.lab_dir;
    let _lock = ClusterLock::take(lab_dir)?;
    let mdir = manifests_dir(lab_dir);
    let mut errors = 0;
    for (origin, v) in &items {
        if v["kind"] == "Node" {
            eprintln!("{origin}: the lab's nodes come from its kind cluster and cannot be deleted");
            errors += 1;
            continue;
        }
        let mut v = v.clone();
        if let Some(ns) = objects::namespace_of(&v) {
            v["metadata"]["namespace"] = json!(ns);
        }
        if objects::remove_object(&mdir, &v)? {
            println!("{}", deleted_line(&v));
        } else {
            let kind = v["kind"].as_str().unwrap_or("").to_ascii_lowercase();
            eprintln!(
                "Error from server (NotFound): error when deleting \"{origin}\": {kind}s \"{}\" not found",
                v["metadata"]["name"].as_str().unwrap_or("")
            );
            errors += 1;
        }
    }
    report(pods::reconcile(st, None), &mut errors);
    if errors > 0 {
        return Err(usage(format!("{errors} object(s) could not be deleted")));
    }
    Ok(())
}

/// A resource name as kubectl takes it (`pods`, `po`, `bgpp`, …) → kind.
fn kind_of(resource: &str) -> String {
    let r = resource.to_ascii_lowercase();
    let r = r.split('.').next().unwrap_or(&r).to_string();
    match r.as_str() {
        "pods" | "pod" | "po" => "Pod",
        "nodes" | "node" | "no" => "Node",
        "daemonsets" | "daemonset" | "ds" => "DaemonSet",
        "services" | "service" | "svc" => "Service",
        "secrets" | "secret" => "Secret",
        "namespaces" | "namespace" | "ns" => "Namespace",
        "ciliumbgppeeringpolicies" | "ciliumbgppeeringpolicy" | "bgpp" | "bgpps" => {
            "CiliumBGPPeeringPolicy"
        }
        "ciliumbgpclusterconfigs" | "ciliumbgpclusterconfig" | "cbgpcluster" => {
            "CiliumBGPClusterConfig"
        }
        "ciliumbgppeerconfigs" | "ciliumbgppeerconfig" => "CiliumBGPPeerConfig",
        "ciliumbgpadvertisements" | "ciliumbgpadvertisement" => "CiliumBGPAdvertisement",
        "ciliumbgpnodeconfigs" | "ciliumbgpnodeconfig" => "CiliumBGPNodeConfig",
        "ciliumbgpnodeconfigoverrides" | "ciliumbgpnodeconfigoverride" => {
            "CiliumBGPNodeConfigOverride"
        }
        _ => "",
    }
    .to_string()
}

/// Stored objects of any kind whose lowercase name or plural is `resource`.
fn generic_kind(mdir: &Path, resource: &str) -> Option<String> {
    let r = resource.to_ascii_lowercase();
    let r = r.split('.').next().unwrap_or(&r).to_string();
    std::fs::read_dir(mdir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
        .filter_map(|v| v["kind"].as_str().map(str::to_string))
        .find(|k| {
            let l = k.to_ascii_lowercase();
            l == r || format!("{l}s") == r || format!("{l}es") == r
        })
}

/// `taint nodes NODE… KEY[=VALUE]:EFFECT` (add) or `KEY[:EFFECT]-` (remove).
fn taint(st: &LabState, args: &[String]) -> Result<i32, OpError> {
    let mut rest: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    // `taint nodes NODE… TAINT…`, or `taint node/NODE… TAINT…`.
    if rest
        .first()
        .is_some_and(|s| matches!(s.as_str(), "nodes" | "node" | "no"))
    {
        rest.remove(0);
    } else if !rest.first().is_some_and(|s| s.starts_with("node/")) {
        return Err(usage(
            "usage: kubectl taint nodes NODE… KEY[=VALUE]:EFFECT[-]",
        ));
    }
    let (taints, nodes): (Vec<&String>, Vec<&String>) = rest
        .into_iter()
        .partition(|a| a.contains(':') || a.ends_with('-'));
    if nodes.is_empty() || taints.is_empty() {
        return Err(usage(
            "usage: kubectl taint nodes NODE… KEY[=VALUE]:EFFECT[-]",
        ));
    }
    let lab_dir = &st.plan.lab_dir;
    let _lock = ClusterLock::take(lab_dir)?;
    let mdir = manifests_dir(lab_dir);
    let mut status = 0;
    for n in nodes {
        let name = n.strip_prefix("node/").unwrap_or(n);
        let short = st.plan.cluster_name.as_ref().map(|c| format!("{c}-{name}"));
        let full = if st.plan.node_index(name).is_some() {
            name.to_string()
        } else if let Some(s) = short.filter(|s| st.plan.node_index(s).is_some()) {
            s
        } else {
            eprintln!("Error from server (NotFound): nodes \"{name}\" not found");
            status = 1;
            continue;
        };
        let probe = json!({"kind": "Node", "metadata": {"name": full}});
        let Some(mut node) = objects::read_object(&mdir, &probe) else {
            eprintln!("Error from server (NotFound): nodes \"{full}\" not found");
            status = 1;
            continue;
        };
        let mut list: Vec<Value> = node["spec"]["taints"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut changed = false;
        for t in &taints {
            let (body, remove) = match t.strip_suffix('-') {
                Some(b) => (b, true),
                None => (t.as_str(), false),
            };
            let (kv, effect) = match body.rsplit_once(':') {
                Some((kv, e)) => (kv, Some(e)),
                None => (body, None),
            };
            let (key, value) = match kv.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (kv, None),
            };
            if let Some(e) = effect {
                if !matches!(e, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
                    return Err(usage(format!(
                        "error: invalid taint effect: {e}, unsupported taint effect"
                    )));
                }
            }
            let before = list.len();
            if remove {
                list.retain(|x| !(x["key"] == key && effect.is_none_or(|e| x["effect"] == e)));
                if list.len() == before {
                    eprintln!("error: taint \"{body}\" not found");
                    status = 1;
                } else {
                    changed = true;
                }
            } else {
                let Some(e) = effect else {
                    return Err(usage(format!("error: invalid taint spec: {t}")));
                };
                list.retain(|x| !(x["key"] == key && x["effect"] == e));
                let mut nt = json!({"key": key, "effect": e});
                if let Some(v) = value {
                    nt["value"] = json!(v);
                }
                list.push(nt);
                changed = true;
            }
        }
        if changed {
            if list.is_empty() {
                if let Some(s) = node["spec"].as_object_mut() {
                    s.remove("taints");
                }
            } else {
                node["spec"]["taints"] = json!(list);
            }
            objects::write_object(&mdir, &node)?;
            println!(
                "node/{full} {}",
                if taints.iter().all(|t| t.ends_with('-')) {
                    "untainted"
                } else {
                    "tainted"
                }
            );
        }
    }
    drop(_lock);
    Ok(status)
}

/// `exec [-it] [-n NS] POD|NODE [-c C] -- CMD…`.
fn exec(root: &Path, sel: &LabSel, args: &[String]) -> Result<i32, OpError> {
    let (before, cmd) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => return Err(usage("usage: kubectl exec [-it] POD -- COMMAND [ARGS…]")),
    };
    let mut ns = "default".to_string();
    let mut target = None;
    let mut it = before.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-n" | "--namespace" | "-c" | "--container" => {
                let v = it.next().cloned().unwrap_or_default();
                if a == "-n" || a == "--namespace" {
                    ns = v;
                }
            }
            s if s.starts_with("--namespace=") => ns = s["--namespace=".len()..].to_string(),
            s if s.starts_with("-n") && s.len() > 2 && !s.starts_with("--") => {
                ns = s[2..].to_string()
            }
            s if s.starts_with('-') => {} // -i, -t, -it, --stdin, --tty, -q
            s => target = Some(s.strip_prefix("pod/").unwrap_or(s).to_string()),
        }
    }
    let Some(target) = target else {
        return Err(usage("usage: kubectl exec [-it] POD -- COMMAND [ARGS…]"));
    };
    if cmd.is_empty() {
        return Err(usage(
            "error: you must specify at least one command for the container",
        ));
    }
    let name = if ns == "default" {
        target
    } else {
        format!("{ns}/{target}")
    };
    crate::ops::exec::exec_cmd(root, sel, Some(&name), &[], cmd, crate::ops::Format::Table)
}

/// `lab kubectl ARGS…`: `get`, `apply -f`, `delete -f` (or `delete KIND NAME…`), `exec`,
/// `taint`. Returns the exit status.
pub fn kubectl_cmd(
    root: &Path,
    sel: &LabSel,
    args: &[String],
    exe: &SelfExe,
) -> Result<i32, OpError> {
    let Some((verb, rest)) = args.split_first() else {
        return Err(usage(
            "usage: bgplane lab kubectl get|apply|delete|exec|taint …",
        ));
    };
    match verb.as_str() {
        "apply" | "create" => {
            apply_cmd(root, sel, &file_args(rest)?, exe)?;
            Ok(0)
        }
        "delete" => {
            let files = file_args(rest).unwrap_or_default();
            if !files.is_empty() {
                delete_cmd(root, sel, &files)?;
                return Ok(0);
            }
            require_root("bgplane lab kubectl delete")?;
            let st = cluster_state(root, sel)?;
            let plain: Vec<&String> = rest.iter().filter(|a| !a.starts_with('-')).collect();
            let (res, names) = plain
                .split_first()
                .ok_or_else(|| usage("usage: kubectl delete KIND NAME… | -f FILE"))?;
            let mut items = Vec::new();
            for spec in std::iter::once(*res).chain(names.iter().copied()) {
                // `kind/name` or `kind name…`.
                let (r, n) = match spec.split_once('/') {
                    Some((r, n)) => (r.to_string(), vec![n.to_string()]),
                    None if spec == *res && !names.is_empty() => continue,
                    None if spec == *res => {
                        return Err(usage(
                            "error: resource(s) were provided, but no name was specified",
                        ))
                    }
                    None => (res.to_string(), vec![spec.to_string()]),
                };
                let kind = kind_of(&r);
                let kind = if kind.is_empty() {
                    generic_kind(&manifests_dir(&st.plan.lab_dir), &r).ok_or_else(|| {
                        usage(format!(
                            "error: the server doesn't have a resource type \"{r}\""
                        ))
                    })?
                } else {
                    kind
                };
                for name in n {
                    let mut v = json!({"kind": kind, "metadata": {"name": name}});
                    if kind == "Pod" {
                        v["apiVersion"] = json!("v1");
                    }
                    items.push(("<command line>".to_string(), v));
                }
            }
            // Fill the apiVersion from the stored object, for the messages.
            let mdir = manifests_dir(&st.plan.lab_dir);
            for (_, v) in &mut items {
                if let Some(o) = objects::read_object(&mdir, v) {
                    v["apiVersion"] = o["apiVersion"].clone();
                }
            }
            delete_values(&st, items)?;
            Ok(0)
        }
        "get" => {
            let st = cluster_state(root, sel)?;
            get::get(&st, &get::parse(rest)?)
        }
        "exec" => {
            cluster_state(root, sel)?;
            exec(root, sel, rest)
        }
        "taint" => {
            require_root("bgplane lab kubectl taint")?;
            let st = cluster_state(root, sel)?;
            let code = taint(&st, rest)?;
            let mut errors = 0;
            report(pods::reconcile(&st, Some(exe)), &mut errors);
            Ok(if errors > 0 { 1 } else { code })
        }
        other => Err(usage(format!(
            "bgplane lab kubectl: `{other}` is not supported (get, apply, delete, exec, taint)"
        ))),
    }
}

/// `-f FILE`, `-f=FILE`, `--filename FILE` arguments.
fn file_args(args: &[String]) -> Result<Vec<String>, OpError> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-f" | "--filename" => out.push(
                it.next()
                    .cloned()
                    .ok_or_else(|| usage("error: flag needs an argument: 'f' in -f"))?,
            ),
            s if s.starts_with("--filename=") => out.push(s["--filename=".len()..].to_string()),
            s if s.starts_with("-f") && s.len() > 2 => {
                out.push(s[2..].trim_start_matches('=').to_string())
            }
            _ => {}
        }
    }
    if out.is_empty() {
        return Err(usage("error: must specify one of -f and -k"));
    }
    Ok(out)
}

/// The socket of a pod named `name` (`namespace/name` for other namespaces), for `lab exec`.
pub fn pod_socket(st: &LabState, name: &str) -> Option<(String, PathBuf)> {
    let r = pods::find(&st.plan.lab_dir, name)?;
    let s = r.socket.clone()?;
    Some((r.name, s))
}

/// Runs a command in a pod, capturing (for `exec -o json`).
pub fn capture_in_pod(
    sock: &Path,
    argv: Vec<String>,
) -> Result<crate::ops::exec::Captured, OpError> {
    Ok(run_capture(
        sock,
        argv,
        std::time::Duration::from_secs(600),
    )?)
}

/// Runs a command in a pod with this terminal.
pub fn attach_in_pod(sock: &Path, argv: Vec<String>) -> Result<i32, OpError> {
    let term: Vec<(String, String)> = std::env::var("TERM")
        .map(|t| vec![("TERM".to_string(), t)])
        .unwrap_or_default();
    Ok(run_attached(sock, argv, term)?)
}
