//! End-to-end: the seeds' Kubernetes side. Each kind node runs `bgplane agent`; pods come
//! from the seeds' own manifests (`lab apply -f`), wired by the `bgplane` CNI plugin; the
//! seeds' CiliumBGPPeeringPolicies make the pod CIDRs routed across the fabric.
//!
//! - seed 000 (examples/cilium-bgp-cross-as) with the seed's routers (VyOS configurations
//!   run as FRR) and with bgplane routers: before the policies, pods of one rack reach each
//!   other (autoDirectNodeRoutes) and pods of the other rack do not; after, every pod
//!   reaches every pod and the client, every leaf and spine holds the four pod /24s, and
//!   `bgplane bgp peers` on a rack0 node prints the seed's line;
//! - seed 002 (examples/cilium-bgp-frr) with its FRR routers: router0 learns the pod /24s,
//!   a pod on worker reaches a pod on worker3 through tor0, router0, tor1.
//!
//! NEEDS ROOT (network namespaces), FRR, and the `bgplane` binary next to `bgplane-lab`
//! (the nodes run it as agent and CNI plugin; `cargo test --workspace` builds it, else
//! `cargo build -p bgplane`): skipped with a message otherwise.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{example, say_skipped, skip, Lab};
use serde_json::Value;

/// The two seed 000 runs use the same namespace names (the kind nodes'): one test at a
/// time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn bgplane_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bgplane-lab")).with_file_name("bgplane")
}

/// Skips without root, FRR (when needed) or the bgplane binary.
fn skip_cluster(test: &str, need_frr: bool) -> bool {
    if skip(test, need_frr) {
        return true;
    }
    if !bgplane_binary().exists() {
        say_skipped(
            test,
            &format!(
                "needs {} (cargo build -p bgplane, or cargo test --workspace)",
                bgplane_binary().display()
            ),
        );
        return true;
    }
    false
}

/// A note past libtest's capture (timings in CI logs).
fn note(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// A pod as `kubectl get pods -o json` shows it.
#[derive(Clone, Debug)]
struct Pod {
    name: String,
    ip: String,
    node: String,
}

fn pods(lab: &Lab) -> Vec<Pod> {
    let v = lab.json(&["kubectl", "--name", &lab.name, "get", "pods"]);
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| Pod {
            name: p["metadata"]["name"].as_str().unwrap().to_string(),
            ip: p["status"]["podIP"].as_str().unwrap_or("").to_string(),
            node: p["spec"]["nodeName"].as_str().unwrap_or("").to_string(),
        })
        .collect()
}

fn pod_on<'a>(pods: &'a [Pod], node: &str) -> &'a Pod {
    pods.iter()
        .find(|p| p.node == node)
        .unwrap_or_else(|| panic!("no pod on {node}: {pods:?}"))
}

/// One ping from a pod or node (half a second for the reply: the lab's RTTs are well
/// under a millisecond).
fn ping(lab: &Lab, from: &str, to: &str) -> bool {
    lab.run(&[
        "exec", "--name", &lab.name, from, "--", "ping", "-c", "1", "-W", "0.5", to,
    ])
    .status
    .success()
}

/// Pings all (from, to) pairs in parallel; returns the ones that failed.
fn ping_all(lab: &Lab, pairs: &[(String, String)]) -> Vec<(String, String)> {
    std::thread::scope(|s| {
        let handles: Vec<_> = pairs
            .iter()
            .map(|(f, t)| s.spawn(move || (f.clone(), t.clone(), ping(lab, f, t))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("ping thread"))
            .filter(|(_, _, ok)| !ok)
            .map(|(f, t, _)| (f, t))
            .collect()
    })
}

/// Destinations of a node's kernel routes (`ip -j route`).
fn routes(lab: &Lab, node: &str) -> Vec<String> {
    let out = lab.run(&["exec", "--name", &lab.name, node, "--", "ip", "-j", "route"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["dst"].as_str().map(str::to_string))
        .collect()
}

const POD_CIDRS: [&str; 4] = ["10.1.0.0/24", "10.1.1.0/24", "10.1.2.0/24", "10.1.3.0/24"];

/// Pod namespaces of the lab (`pod-<lab>-…`).
fn pod_netns(lab: &str) -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("pod-{lab}-")))
        .map(str::to_string)
        .collect()
}

/// Seed 000 with routers from `topo` (relative to examples/cilium-bgp-cross-as).
fn seed_000(test: &str, topo: &str) {
    let _serial = serial();
    let t0 = Instant::now();
    let lab = Lab::new("cilium-bgp");
    let n = |s: &str| format!("cilium-bgp-{s}");
    let dir = example("cilium-bgp-cross-as");
    let f = |p: &str| dir.join(p).to_string_lossy().into_owned();
    lab.ok(&[
        "deploy",
        "-t",
        &f(topo),
        "--cluster",
        &f("cluster.yaml"),
        "--auto-direct-node-routes",
    ]);
    // The Node objects, as kubectl shows them.
    let nodes = lab.ok(&["kubectl", "--name", &lab.name, "get", "nodes", "-o", "wide"]);
    for (name, ip) in [
        ("control-plane", "10.0.5.11"),
        ("worker", "10.0.5.12"),
        ("worker2", "10.0.10.11"),
        ("worker3", "10.0.10.12"),
    ] {
        let line = nodes
            .lines()
            .find(|l| l.split_whitespace().next() == Some(n(name).as_str()))
            .unwrap_or_else(|| panic!("{name} in:\n{nodes}"));
        assert!(line.contains(" Ready ") && line.contains(ip), "{line}");
    }
    // The seed's steps: the control plane takes pods, the DaemonSet puts one on every node.
    let cp = lab.ok(&["kubectl", "--name", &lab.name, "get", "nodes", "-o", "name"]);
    let cp = cp.lines().find(|l| l.contains("control-plane")).unwrap();
    lab.ok(&[
        "kubectl",
        "--name",
        &lab.name,
        "taint",
        "nodes",
        cp,
        "node-role.kubernetes.io/control-plane:NoSchedule-",
    ]);
    lab.ok(&["apply", "--name", &lab.name, "-f", &f("test-client.yaml")]);
    let ps = pods(&lab);
    assert_eq!(ps.len(), 4, "{ps:?}");
    for (p, (node, cidr)) in [
        ("control-plane", "10.1.0."),
        ("worker", "10.1.1."),
        ("worker2", "10.1.2."),
        ("worker3", "10.1.3."),
    ]
    .iter()
    .map(|(a, b)| (pod_on(&ps, &n(a)), (a, b)))
    {
        assert!(
            p.name.starts_with("test-client-") && p.name.len() == 17,
            "{p:?}"
        );
        assert!(p.ip.starts_with(cidr), "{p:?} on {node}");
    }
    let wide = lab.ok(&["kubectl", "--name", &lab.name, "get", "pods", "-o", "wide"]);
    assert!(wide.starts_with("NAME "), "{wide}");
    assert_eq!(wide.matches(" Running ").count(), 4, "{wide}");

    // The fabric first, as in the seed (the routers were up long before Cilium): both racks'
    // networks and the client's at both spines.
    for spine in ["spine01", "spine02"] {
        lab.wait_for(60, "the fabric's routes at the spines", || {
            let r = routes(&lab, spine);
            ["10.0.5.0/24", "10.0.10.0/24", "192.168.0.0/24"]
                .iter()
                .all(|p| r.iter().any(|d| d == p))
        });
    }
    // Before the policies: one rack's pods reach each other, the other rack's do not, and
    // the spines have no pod routes.
    let (p0, p1, p2) = (
        pod_on(&ps, &n("control-plane")),
        pod_on(&ps, &n("worker")),
        pod_on(&ps, &n("worker2")),
    );
    assert!(
        ping(&lab, &p0.name, &p1.ip),
        "same rack before the policies"
    );
    assert!(
        !ping(&lab, &p1.name, &p2.ip),
        "cross-rack before the policies"
    );
    for spine in ["spine01", "spine02"] {
        let r = routes(&lab, spine);
        assert!(!r.iter().any(|d| d.starts_with("10.1.")), "{spine}: {r:?}");
    }

    // The policies: every pod reaches every pod.
    let applied = Instant::now();
    let out = lab.ok(&[
        "apply",
        "--name",
        &lab.name,
        "-f",
        &f("bgp-peering-policies.yaml"),
    ]);
    assert!(
        out.contains("ciliumbgppeeringpolicy.cilium.io/rack0-65005 created"),
        "{out}"
    );
    let pairs: Vec<(String, String)> = ps
        .iter()
        .flat_map(|a| {
            ps.iter()
                .filter(move |b| b.name != a.name)
                .map(move |b| (a.name.clone(), b.ip.clone()))
        })
        .collect();
    let mut failed = pairs.clone();
    while !failed.is_empty() {
        assert!(
            applied.elapsed() < Duration::from_secs(60),
            "pods still unreachable 60 s after the policies: {failed:?}"
        );
        failed = ping_all(&lab, &failed);
    }
    note(&format!(
        "{test}: all 12 pod pairs reachable {:.2} s after `lab apply` of the policies",
        applied.elapsed().as_secs_f64()
    ));
    // The client reaches a pod, a pod reaches the client.
    assert!(ping(&lab, "client", &p2.ip));
    assert!(ping(&lab, &p0.name, "192.168.0.2"));
    // Every leaf and spine holds the four pod /24s.
    for r in ["leaf01", "leaf02", "spine01", "spine02"] {
        lab.wait_for(30, "the four pod /24s in every router", || {
            let rs = routes(&lab, r);
            POD_CIDRS.iter().all(|c| rs.iter().any(|d| d == c))
        });
    }
    // `cilium bgp peers` on a rack0 node, as in the seed.
    let mut peers = String::new();
    lab.wait_for(30, "6 routes received from leaf01", || {
        peers = lab.ok(&[
            "exec",
            "--name",
            &lab.name,
            "cilium-bgp-worker",
            "--",
            "bgplane",
            "bgp",
            "peers",
        ]);
        peers.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() >= 8
                && w[..4] == ["65005", "65005", "10.0.5.1:179", "established"]
                && w[5..8] == ["ipv4/unicast", "6", "1"]
        })
    });
    assert!(peers.starts_with("Local AS"), "{peers}");
    let bgpp = lab.ok(&[
        "kubectl",
        "--name",
        &lab.name,
        "get",
        "ciliumbgppeeringpolicies",
    ]);
    assert!(
        bgpp.contains("rack0-65005") && bgpp.contains("rack1-65010"),
        "{bgpp}"
    );

    // Deleting the DaemonSet removes its pods: namespaces, host routes, addresses.
    lab.ok(&["delete", "--name", &lab.name, "-f", &f("test-client.yaml")]);
    assert!(pods(&lab).is_empty());
    assert!(
        pod_netns(&lab.name).is_empty(),
        "{:?}",
        pod_netns(&lab.name)
    );
    let node_routes = routes(&lab, "worker");
    assert!(
        !node_routes.iter().any(|d| d == &p1.ip),
        "host route of the deleted pod: {node_routes:?}"
    );
    let state = lab
        .root
        .path()
        .join("cilium-bgp")
        .join(n("worker"))
        .join("cni/state/bgplane");
    let left: Vec<_> = std::fs::read_dir(&state)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|f| f != "lock")
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "IPAM records left: {left:?}");

    // Pods again, then destroy: nothing of the lab, its pods included, remains.
    lab.ok(&["apply", "--name", &lab.name, "-f", &f("test-client.yaml")]);
    assert_eq!(pod_netns(&lab.name).len(), 4);
    lab.destroy_and_check_clean();
    assert!(
        pod_netns(&lab.name).is_empty(),
        "{:?}",
        pod_netns(&lab.name)
    );
    note(&format!("{test}: {:.1} s", t0.elapsed().as_secs_f64()));
}

#[test]
fn seed_000_cluster_with_the_seeds_routers() {
    let test = "seed_000_cluster_with_the_seeds_routers";
    if skip_cluster(test, true) {
        return;
    }
    seed_000(test, "topo.yaml");
}

#[test]
fn seed_000_cluster_with_bgplane_routers() {
    let test = "seed_000_cluster_with_bgplane_routers";
    if skip_cluster(test, false) {
        return;
    }
    seed_000(test, "topo-bgplane.yaml");
}

/// `apply -f -` with `text` on stdin.
fn apply_stdin(lab: &Lab, text: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bgplane-lab"))
        .args(["apply", "--name", &lab.name, "-f", "-"])
        .env("BGPLANE_LAB_DIR", lab.root.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("apply -f -");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("apply -f -")
}

/// The node owning an address, from `inspect -o json`.
fn owner(inspect: &Value, addr: &str) -> String {
    for n in inspect["nodes"].as_array().expect("nodes") {
        for a in n["addresses"].as_array().into_iter().flatten() {
            if a["addr"]
                .as_str()
                .is_some_and(|x| x.split('/').next() == Some(addr))
            {
                return n["name"].as_str().unwrap_or("?").to_string();
            }
        }
    }
    format!("? ({addr})")
}

#[test]
fn seed_002_cluster_pods_across_racks() {
    let test = "seed_002_cluster_pods_across_racks";
    if skip_cluster(test, true) {
        return;
    }
    let _serial = serial();
    let t0 = Instant::now();
    let lab = Lab::new("bgp-cplane-demo");
    let dir = example("cilium-bgp-frr");
    let f = |p: &str| dir.join(p).to_string_lossy().into_owned();
    lab.ok(&[
        "deploy",
        "-t",
        &f("topo.yaml"),
        "--cluster",
        &f("cluster.yaml"),
    ]);
    // The seed's pods: nettool-1 in rack0 (worker: the control plane keeps its taint),
    // nettool-2 in rack1; and one more pinned to worker3, where the seed's nettool-2 ran.
    lab.ok(&["apply", "--name", &lab.name, "-f", &f("nettool.yaml")]);
    let pinned = "apiVersion: v1\nkind: Pod\nmetadata: {name: nettool-3}\nspec:\n  nodeName: clab-bgp-cplane-demo-worker3\n  containers: [{name: c, image: nicolaka/netshoot, command: [sleep, 100d]}]\n";
    let out = apply_stdin(&lab, pinned);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "pod/nettool-3 created"
    );
    // A manifest that does not fit its schema is refused, naming the file, the document,
    // the object and the field; nothing is stored.
    let bad = apply_stdin(
        &lab,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec: {containers: [{name: c}]}\n---\napiVersion: cilium.io/v2alpha1\nkind: CiliumBGPPeeringPolicy\nmetadata: {name: broken}\nspec:\n  virtualRouters: [{localASN: lots, neighbors: []}]\n",
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(
        err.contains("<stdin>: document 2 (CiliumBGPPeeringPolicy broken)")
            && err.contains("localASN"),
        "{err}"
    );
    let ps = pods(&lab);
    assert!(!ps.iter().any(|p| p.name == "ok"), "{ps:?}");
    let by_name: BTreeMap<&str, &Pod> = ps.iter().map(|p| (p.name.as_str(), p)).collect();
    assert_eq!(by_name["nettool-1"].node, "clab-bgp-cplane-demo-worker");
    assert_eq!(by_name["nettool-2"].node, "clab-bgp-cplane-demo-worker2");
    assert_eq!(by_name["nettool-3"].node, "clab-bgp-cplane-demo-worker3");
    let (src, dst) = (by_name["nettool-1"], by_name["nettool-3"]);
    assert!(dst.ip.starts_with("10.1.3."), "{dst:?}");

    // The fabric first, as in the seed: router0 has its 8 routes (tor0 and tor1 are up).
    lab.wait_for(60, "router0's 8 fabric routes", || {
        lab.vtysh_json("router0", "show bgp ipv4 json")["routes"]
            .as_object()
            .map(|r| r.len())
            == Some(8)
    });
    let applied = Instant::now();
    lab.ok(&[
        "apply",
        "--name",
        &lab.name,
        "-f",
        &f("bgp-peering-policies.yaml"),
    ]);
    // router0 learns the four pod /24s (12 routes, as in the seed).
    lab.wait_for(60, "router0's pod routes", || {
        let v = lab.vtysh_json("router0", "show bgp ipv4 json");
        let r = v["routes"].as_object().cloned().unwrap_or_default();
        POD_CIDRS.iter().all(|c| r.contains_key(*c))
    });
    let v = lab.vtysh_json("router0", "show bgp ipv4 json");
    assert_eq!(v["routes"].as_object().map(|r| r.len()), Some(12), "{v}");
    let mut pairs = vec![
        (src.name.clone(), dst.ip.clone()),
        (dst.name.clone(), src.ip.clone()),
        (src.name.clone(), by_name["nettool-2"].ip.clone()),
    ];
    while !pairs.is_empty() {
        assert!(
            applied.elapsed() < Duration::from_secs(60),
            "still unreachable: {pairs:?}"
        );
        pairs = ping_all(&lab, &pairs);
    }
    note(&format!(
        "{test}: pods across racks reachable {:.2} s after `lab apply` of the policies",
        applied.elapsed().as_secs_f64()
    ));
    // traceroute from the pod: its node, tor0, router0, tor1, worker3, the pod.
    let out = lab.ok(&[
        "kubectl",
        "--name",
        &lab.name,
        "exec",
        "-it",
        &src.name,
        "--",
        "traceroute",
        "-n",
        "-q",
        "1",
        "-w",
        "1",
        &dst.ip,
    ]);
    let hops: Vec<String> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect();
    let inspect = lab.json(&["inspect", "--name", &lab.name]);
    let path: Vec<String> = hops.iter().map(|h| owner(&inspect, h)).collect();
    assert_eq!(hops.last(), Some(&dst.ip), "{out}");
    let routers: Vec<&str> = path
        .iter()
        .map(String::as_str)
        .filter(|p| ["tor0", "router0", "tor1"].contains(p))
        .collect();
    assert_eq!(routers, ["tor0", "router0", "tor1"], "{out}\n{path:?}");
    assert_eq!(hops.len(), 6, "{out}\n{path:?}");
    lab.destroy_and_check_clean();
    assert!(pod_netns(&lab.name).is_empty());
    note(&format!("{test}: {:.1} s", t0.elapsed().as_secs_f64()));
}
