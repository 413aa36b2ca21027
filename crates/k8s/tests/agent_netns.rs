//! The agent in network namespaces (needs root; skipped otherwise, a failure under
//! `BGPLANE_TEST_REQUIRE_ALL=1`): a leaf router with a
//! listen range for its nodes, and a node whose agent follows a directory of manifests.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s::agent::{Agent, AgentOptions};

#[path = "../../../tests/support/skip.rs"]
mod skip;

fn root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("ip");
    assert!(st.success(), "ip {args:?}");
}

/// Two namespaces joined by a veth: `<base>-l` (leaf, 10.0.5.1/24) and `<base>-n` (node,
/// 10.0.5.12/24). Removed on drop.
struct Lab {
    leaf: String,
    node: String,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let base = format!("bgk-{}-{n}", std::process::id());
        let (leaf, node) = (format!("{base}-l"), format!("{base}-n"));
        ip(&["netns", "add", &leaf]);
        ip(&["netns", "add", &node]);
        let lab = Lab {
            leaf,
            node,
            dir: tempfile::tempdir().unwrap(),
        };
        ip(&[
            "-n", &lab.leaf, "link", "add", "l0", "type", "veth", "peer", "name", "n0",
        ]);
        ip(&["-n", &lab.leaf, "link", "set", "n0", "netns", &lab.node]);
        for (ns, dev, addr) in [
            (&lab.leaf, "l0", "10.0.5.1/24"),
            (&lab.node, "n0", "10.0.5.12/24"),
        ] {
            ip(&["-n", ns, "addr", "add", addr, "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        lab
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.leaf, &self.node] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Moves the calling thread into a named network namespace (threads it starts later are
/// in it too).
fn enter(ns: &str) {
    let f = std::fs::File::open(format!("/run/netns/{ns}")).unwrap();
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn api(socket: &Path, req: bgp::runtime::api::Request) -> Option<serde_json::Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bgp::runtime::api::call(socket, &req))
        .ok()
        .and_then(|v| v.get("data").cloned())
}

/// The LOCAL_PREF and communities of the best path of `prefix`, if there is one.
fn best_path(socket: &Path, prefix: &str) -> Option<(serde_json::Value, Vec<String>)> {
    let req = bgp::runtime::api::Request::Routes {
        prefix: Some(prefix.parse().unwrap()),
        longer: false,
        family: None,
        received_from: None,
        advertised_to: None,
    };
    let v = api(socket, req)?;
    let p = v.get(0)?.get("paths")?.get(0)?.clone();
    let communities = p["communities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect();
    Some((p["local_pref"].clone(), communities))
}

fn routes_of(socket: &Path) -> Vec<String> {
    let req = bgp::runtime::api::Request::Routes {
        prefix: None,
        longer: false,
        family: None,
        received_from: None,
        advertised_to: None,
    };
    api(socket, req)
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.get("prefix").and_then(|p| p.as_str()).map(str::to_string))
        .collect()
}

/// A router in the leaf namespace, run by a thread of the test.
struct Leaf {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Result<(), bgp::runtime::RouterError>>,
}

impl Leaf {
    fn start(lab: &Lab, yaml: &str) -> Leaf {
        let cfg = bgp::config::RouterConfig::parse("leaf.yaml", yaml).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let ns = lab.leaf.clone();
        let thread = std::thread::spawn(move || {
            enter(&ns);
            let opts = bgp::runtime::Options {
                config_path: None,
                no_fib: true,
            };
            bgp::runtime::run_until(cfg, opts, async move {
                let _ = stopped.await;
            })
        });
        Leaf { stop, thread }
    }

    fn stop(self) {
        let _ = self.stop.send(());
        self.thread.join().unwrap().unwrap();
    }
}

/// The node's agent (node `worker`, routes installed), run by a thread of the test that
/// reconciles its manifest directory at each [`step`](Self::step).
struct AgentThread {
    manifests: PathBuf,
    socket: PathBuf,
    tx: std::sync::mpsc::Sender<bool>,
    done: std::sync::mpsc::Receiver<k8s::agent::Status>,
    thread: std::thread::JoinHandle<()>,
}

impl AgentThread {
    fn start(lab: &Lab) -> AgentThread {
        Self::start_with(lab, Duration::ZERO)
    }

    /// [`start`](Self::start) with the agent's `--graceful-stop-secs`.
    fn start_with(lab: &Lab, graceful_stop: Duration) -> AgentThread {
        let manifests = lab.path("manifests");
        std::fs::create_dir_all(&manifests).unwrap();
        std::fs::write(manifests.join("node.yaml"), NODE).unwrap();
        let socket = lab.path("agent.sock");
        let opts = AgentOptions {
            node: "worker".into(),
            manifests: manifests.clone(),
            state_dir: lab.path("state"),
            socket: socket.clone(),
            metrics: None,
            install_routes: true,
            secrets_namespace: "kube-system".into(),
            poll: Duration::from_millis(100),
            auto_direct_node_routes: false,
            graceful_shutdown_when_cordoned: false,
            graceful_stop,
        };
        let ns = lab.node.clone();
        let (tx, rx) = std::sync::mpsc::channel::<bool>();
        let (done_tx, done) = std::sync::mpsc::channel::<k8s::agent::Status>();
        let thread = std::thread::spawn(move || {
            enter(&ns);
            let mut a = Agent::new(opts).unwrap();
            while let Ok(true) = rx.recv() {
                a.reconcile_dir();
                done_tx.send(a.status().clone()).unwrap();
            }
            a.stop();
        });
        AgentThread {
            manifests,
            socket,
            tx,
            done,
            thread,
        }
    }

    /// Writes (or with `None` removes) manifest files, then reconciles once.
    fn step(&self, files: &[(&str, Option<&str>)]) -> k8s::agent::Status {
        for (name, text) in files {
            match text {
                Some(t) => std::fs::write(self.manifests.join(name), t).unwrap(),
                None => std::fs::remove_file(self.manifests.join(name)).unwrap(),
            }
        }
        self.tx.send(true).unwrap();
        self.done.recv_timeout(Duration::from_secs(20)).unwrap()
    }

    fn exit(self) {
        self.tx.send(false).unwrap();
        self.thread.join().unwrap();
    }
}

const NODE: &str = "apiVersion: v1\nkind: Node\nmetadata: { name: worker, labels: { rack: rack0 } }\nspec: { podCIDR: 10.1.1.0/24 }\nstatus: { addresses: [ { type: InternalIP, address: 10.0.5.12 } ] }\n";

#[test]
fn the_agent_starts_reloads_and_stops_bgp_as_the_policies_change() {
    if !root() {
        skip::skipped(
            "SKIPPED the_agent_starts_reloads_and_stops_bgp_as_the_policies_change: needs root",
        );
        return;
    }
    let lab = Lab::new();
    let leaf_sock = lab.path("leaf.sock");
    let leaf_yaml = format!(
        "router:\n  asn: 65005\n  router-id: 10.0.5.1\n  listen: [0.0.0.0]\n  api: {{ socket: {} }}\n  listen-ranges: [{{ prefix: 10.0.5.0/24, peer-group: NODES }}]\nnetworks: [192.168.0.0/24]\npeer-groups:\n  NODES: {{ remote-as: internal, route-reflector-client: true, hold-time: 9 }}\n",
        leaf_sock.display()
    );
    let leaf = Leaf::start(&lab, &leaf_yaml);
    let agent = AgentThread::start(&lab);
    let agent_sock = agent.socket.clone();
    let step = |files: &[(&str, Option<&str>)]| agent.step(files);

    // No policy: no BGP.
    let s = step(&[]);
    assert!(!s.running && s.policy.is_none(), "{s:?}");

    // The seed's policies: the node peers with its leaf and advertises its pod CIDR.
    let seed = include_str!("../../../examples/cilium-bgp-cross-as/bgp-peering-policies.yaml");
    let s = step(&[("policies.yaml", Some(seed))]);
    assert!(s.running, "{s:?}");
    assert_eq!(s.policy.as_deref(), Some("rack0-65005"));
    wait_for("the pod CIDR at the leaf", Duration::from_secs(15), || {
        routes_of(&leaf_sock).contains(&"10.1.1.0/24".to_string())
    });
    wait_for(
        "the leaf's network at the node",
        Duration::from_secs(15),
        || routes_of(&agent_sock).contains(&"192.168.0.0/24".to_string()),
    );

    // Two policies for the node: refused, the running configuration stays.
    let both = seed.replace("rack: rack1", "rack: rack0");
    let s = step(&[("policies.yaml", Some(&both))]);
    assert!(
        s.error.as_deref().unwrap_or("").contains("more than one"),
        "{s:?}"
    );
    assert!(s.running);
    assert!(routes_of(&leaf_sock).contains(&"10.1.1.0/24".to_string()));

    // A new pod CIDR is advertised by a reload, without a new session.
    let established = |sock: &Path| -> u64 {
        api(
            sock,
            bgp::runtime::api::Request::Neighbors { address: None },
        )
        .and_then(|v| {
            v.pointer("/0/counters/established")
                .and_then(|x| x.as_u64())
        })
        .unwrap_or(0)
    };
    let before = established(&agent_sock);
    let s = step(&[
        ("policies.yaml", Some(seed)),
        (
            "node.yaml",
            Some(&NODE.replace("10.1.1.0/24", "10.1.7.0/24")),
        ),
    ]);
    assert!(s.error.is_none(), "{s:?}");
    wait_for(
        "the new pod CIDR at the leaf",
        Duration::from_secs(15),
        || {
            let r = routes_of(&leaf_sock);
            r.contains(&"10.1.7.0/24".to_string()) && !r.contains(&"10.1.1.0/24".to_string())
        },
    );
    assert_eq!(established(&agent_sock), before, "the session was kept");

    // The policy goes: BGP stops, the leaf loses the route.
    let s = step(&[("policies.yaml", None)]);
    assert!(!s.running, "{s:?}");
    wait_for(
        "the withdrawal at the leaf",
        Duration::from_secs(15),
        || !routes_of(&leaf_sock).contains(&"10.1.7.0/24".to_string()),
    );

    agent.exit();
    leaf.stop();
}

/// The BFD session of the peer at `addr`, as the router at `socket` reports it.
fn bfd_state(socket: &Path, addr: &str) -> Option<serde_json::Value> {
    api(socket, bgp::runtime::api::Request::BfdPeers)?
        .as_array()?
        .iter()
        .find(|p| p["peer"] == addr)
        .cloned()
}

fn iptables(ns: &str, op: &str) {
    let st = Command::new("ip")
        .args([
            "netns", "exec", ns, "iptables", op, "INPUT", "-i", "n0", "-j", "DROP",
        ])
        .status()
        .expect("iptables");
    assert!(st.success(), "iptables {op} in {ns}");
}

#[test]
fn a_bfd_annotation_with_an_auth_secret_takes_the_nodes_session_down_within_a_second_of_a_silent_link_failure(
) {
    let name = "a_bfd_annotation_with_an_auth_secret_takes_the_nodes_session_down_within_a_second_of_a_silent_link_failure";
    if !root() {
        skip::skipped(&format!("SKIPPED {name}: needs root"));
        return;
    }
    if Command::new("iptables").arg("--version").output().is_err() {
        skip::skipped(&format!("SKIPPED {name}: iptables is not installed"));
        return;
    }
    let lab = Lab::new();
    let leaf_sock = lab.path("leaf.sock");
    // Hold time 9 s: without BFD the node would keep the session that long. Every BFD
    // packet is signed (meticulous keyed SHA1), the node's key from a Secret.
    let leaf_yaml = format!(
        "router:\n  asn: 65005\n  router-id: 10.0.5.1\n  listen: [0.0.0.0]\n  api: {{ socket: {} }}\n  listen-ranges: [{{ prefix: 10.0.5.0/24, peer-group: NODES }}]\nnetworks: [192.168.0.0/24]\npeer-groups:\n  NODES: {{ remote-as: internal, route-reflector-client: true, hold-time: 9, bfd: {{ transmit-interval: 100, receive-interval: 100, authentication: {{ type: meticulous-keyed-sha1, key-id: 2, password: rack0-bfd-key }} }} }}\n",
        leaf_sock.display()
    );
    let leaf = Leaf::start(&lab, &leaf_yaml);
    let agent = AgentThread::start(&lab);
    let seed = include_str!("../../../examples/cilium-bgp-cross-as/bgp-peering-policies.yaml")
        .replacen(
            "  name: \"rack0-65005\"",
            "  name: \"rack0-65005\"\n  annotations: { bgplane.io/bfd: '{ transmit-interval: 100, receive-interval: 100 }', bgplane.io/bfd-auth-secret: rack0-bfd }",
            1,
        );
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: { name: rack0-bfd, namespace: kube-system }\nstringData: { key-id: \"2\", password: rack0-bfd-key }\n";
    let s = agent.step(&[
        ("policies.yaml", Some(&seed)),
        ("secret.yaml", Some(secret)),
    ]);
    assert!(s.running && s.error.is_none(), "{s:?}");
    let leaf_route = |sock: &Path| routes_of(sock).contains(&"192.168.0.0/24".to_string());
    wait_for(
        "the leaf's network at the node",
        Duration::from_secs(15),
        || leaf_route(&agent.socket),
    );
    let up = |sock: &Path, peer: &str| bfd_state(sock, peer).is_some_and(|v| v["state"] == "up");
    wait_for("BFD up at both ends", Duration::from_secs(15), || {
        up(&agent.socket, "10.0.5.1") && up(&leaf_sock, "10.0.5.12")
    });
    let b = bfd_state(&agent.socket, "10.0.5.1").unwrap();
    assert_eq!(b["authentication"], "meticulous-keyed-sha1", "{b}");
    // The router's configuration holds the key: readable by its owner only.
    let mode = std::fs::metadata(lab.path("state").join("router.yaml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "router.yaml mode {mode:o}");
    let kernel_route = || {
        let out = Command::new("ip")
            .args(["-n", &lab.node, "route", "show", "192.168.0.0/24"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("via 10.0.5.1")
    };
    wait_for(
        "the leaf's network in the node's kernel",
        Duration::from_secs(10),
        kernel_route,
    );
    // Both ends at 100 ms once the Poll Sequences are over: a Detection Time of 300 ms.
    wait_for("the 100 ms timers", Duration::from_secs(10), || {
        bfd_state(&agent.socket, "10.0.5.1")
            .is_some_and(|b| b["tx-interval-ms"] == 100 && b["detection-time-ms"] == 300)
    });

    // The node stops hearing its leaf, with the link still up: only BFD can tell.
    iptables(&lab.node, "-A");
    let cut = Instant::now();
    wait_for("the node's BFD down", Duration::from_secs(5), || {
        !up(&agent.socket, "10.0.5.1")
    });
    let bfd_down = cut.elapsed();
    wait_for(
        "the leaf's route gone from the node",
        Duration::from_secs(5),
        || !leaf_route(&agent.socket),
    );
    wait_for("the kernel route gone", Duration::from_secs(5), || {
        !kernel_route()
    });
    let withdrawn = cut.elapsed();
    let b = bfd_state(&agent.socket, "10.0.5.1").unwrap();
    eprintln!("BFD down after {bfd_down:?}, the leaf's route gone from RIB and kernel after {withdrawn:?}: {b}");
    assert_eq!(b["diagnostic"], "control detection time expired", "{b}");
    assert!(
        withdrawn < Duration::from_secs(2),
        "BFD took the session down in {withdrawn:?}, not the 9 s hold timer"
    );

    // The link heals: BFD and BGP come back, and so does the route.
    iptables(&lab.node, "-D");
    wait_for("BFD up again", Duration::from_secs(15), || {
        up(&agent.socket, "10.0.5.1")
    });
    wait_for("the leaf's route back", Duration::from_secs(20), || {
        leaf_route(&agent.socket) && kernel_route()
    });

    agent.exit();
    leaf.stop();
}

#[test]
fn direct_node_routes_are_installed_without_any_policy_and_follow_the_nodes() {
    if !root() {
        skip::skipped("SKIPPED direct_node_routes_are_installed_without_any_policy_and_follow_the_nodes: needs root");
        return;
    }
    let lab = Lab::new();
    let manifests = lab.path("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    let other = "apiVersion: v1\nkind: Node\nmetadata: { name: worker2 }\nspec: { podCIDR: 10.1.2.0/24 }\nstatus: { addresses: [ { type: InternalIP, address: 10.0.5.13 } ] }\n---\napiVersion: v1\nkind: Node\nmetadata: { name: far }\nspec: { podCIDR: 10.1.3.0/24 }\nstatus: { addresses: [ { type: InternalIP, address: 10.0.10.11 } ] }\n";
    std::fs::write(manifests.join("node.yaml"), NODE).unwrap();
    std::fs::write(manifests.join("others.yaml"), other).unwrap();
    let opts = AgentOptions {
        node: "worker".into(),
        manifests: manifests.clone(),
        state_dir: lab.path("state"),
        socket: lab.path("agent.sock"),
        metrics: None,
        install_routes: false,
        secrets_namespace: "kube-system".into(),
        poll: Duration::from_millis(100),
        auto_direct_node_routes: true,
        graceful_shutdown_when_cordoned: false,
        graceful_stop: Duration::ZERO,
    };
    let node_ns = lab.node.clone();
    let routes = |ns: &str| -> String {
        let out = Command::new("ip")
            .args(["-n", ns, "route", "show", "proto", "187"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let m = manifests.clone();
    std::thread::spawn(move || {
        enter(&node_ns);
        let mut a = Agent::new(opts).unwrap();
        a.reconcile_dir();
        assert!(!a.status().running, "no policy: no BGP");
        std::fs::write(m.join("others.yaml"), "").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        // Keep the first result for the check below, then reconcile the removal.
        let _ = std::fs::write(m.join("step"), "1");
        while !m.join("go").exists() {
            std::thread::sleep(Duration::from_millis(20));
        }
        a.reconcile_dir();
        let _ = std::fs::write(m.join("step"), "2");
    });
    wait_for("the first reconciliation", Duration::from_secs(20), || {
        manifests.join("step").exists()
    });
    let r = routes(&lab.node);
    assert!(r.contains("10.1.2.0/24 via 10.0.5.13"), "{r}");
    assert!(!r.contains("10.1.3.0/24"), "a node off our links: {r}");
    std::fs::write(manifests.join("go"), "").unwrap();
    wait_for("the removal", Duration::from_secs(20), || {
        std::fs::read_to_string(manifests.join("step")).unwrap_or_default() == "2"
    });
    assert!(routes(&lab.node).trim().is_empty(), "{}", routes(&lab.node));
}

#[test]
fn a_graceful_stop_marks_the_nodes_routes_for_graceful_shutdown_before_closing_the_session() {
    let name =
        "a_graceful_stop_marks_the_nodes_routes_for_graceful_shutdown_before_closing_the_session";
    if !root() {
        skip::skipped(&format!("SKIPPED {name}: needs root"));
        return;
    }
    let lab = Lab::new();
    let leaf_sock = lab.path("leaf.sock");
    let leaf_yaml = format!(
        "router:\n  asn: 65005\n  router-id: 10.0.5.1\n  listen: [0.0.0.0]\n  api: {{ socket: {} }}\n  listen-ranges: [{{ prefix: 10.0.5.0/24, peer-group: NODES }}]\npeer-groups:\n  NODES: {{ remote-as: internal, route-reflector-client: true, hold-time: 9 }}\n",
        leaf_sock.display()
    );
    let leaf = Leaf::start(&lab, &leaf_yaml);
    let agent = AgentThread::start_with(&lab, Duration::from_secs(2));
    let seed = include_str!("../../../examples/cilium-bgp-cross-as/bgp-peering-policies.yaml");
    let s = agent.step(&[("policies.yaml", Some(seed))]);
    assert!(s.running && s.error.is_none(), "{s:?}");
    let pods = "10.1.1.0/24";
    wait_for(
        "the node's pod CIDR at the leaf",
        Duration::from_secs(15),
        || best_path(&leaf_sock, pods).is_some(),
    );
    let (lp, c) = best_path(&leaf_sock, pods).unwrap();
    assert_eq!(lp, 100, "{c:?}");

    // The agent stops (SIGTERM in a pod): the route is marked first, withdrawn after.
    let t0 = Instant::now();
    let stopping = std::thread::spawn(move || agent.exit());
    wait_for(
        "the route marked at the leaf",
        Duration::from_secs(5),
        || {
            best_path(&leaf_sock, pods)
                .is_some_and(|(lp, c)| lp == 0 && c.iter().any(|c| c == "graceful-shutdown"))
        },
    );
    let marked = t0.elapsed();
    wait_for("the route withdrawn", Duration::from_secs(10), || {
        best_path(&leaf_sock, pods).is_none()
    });
    let withdrawn = t0.elapsed();
    stopping.join().unwrap();
    eprintln!("graceful stop: route marked after {marked:?}, withdrawn after {withdrawn:?}");
    assert!(
        withdrawn >= Duration::from_secs(2) && marked < Duration::from_secs(2),
        "marked {marked:?}, withdrawn {withdrawn:?}: a 2 s graceful stop"
    );
    leaf.stop();
}
