//! End-to-end: both seed fabrics built from `kind: bgplane` routers only
//! (examples/bgplane-fabric-000, examples/bgplane-fabric-002): sessions, routes in the
//! routers' RIBs (`bgplane show ... -o json` inside the nodes) and kernels (`ip -j route`),
//! route reflection, ECMP, dynamic and unnumbered neighbors, reachability (`lab check
//! --expect`), traceroute; then destroyed with a leak check.
//!
//! NEEDS ROOT (network namespaces) and the `bgplane` binary next to `bgplane-lab` (the lab
//! runs it for `kind: bgplane` nodes; `cargo test --workspace` builds it, else
//! `cargo build -p bgplane`): skipped with a message otherwise. CI runs them as root.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{example, say_skipped, skip, Lab};
use serde_json::Value;

/// The API socket of a node's router: the default one, in the node's private /run.
const SOCKET: &str = "/run/bgplane/router.sock";

/// The `bgplane` binary the lab runs for `kind: bgplane` nodes (next to `bgplane-lab`).
fn bgplane_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bgplane-lab")).with_file_name("bgplane")
}

/// Skips (with a message) without root or without the bgplane binary.
fn skip_fabric(test: &str) -> bool {
    if skip(test, false) {
        return true;
    }
    let bin = bgplane_binary();
    if !bin.exists() {
        say_skipped(
            test,
            &format!(
                "needs {} (cargo build -p bgplane, or cargo test --workspace)",
                bin.display()
            ),
        );
        return true;
    }
    false
}

/// A note past libtest's capture (convergence times in CI logs).
fn note(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// A deployed fabric of bgplane routers.
struct Fabric {
    lab: Lab,
    started: Instant,
    // Dropped after `lab` (fields drop in order): the lab is destroyed before the next
    // test deploys.
    _guard: std::sync::MutexGuard<'static, ()>,
}

/// One fabric lab at a time in this test binary.
static LABS: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Fabric {
    /// Deploys `topo` (relative to examples/) as lab `name`.
    fn deploy(name: &str, topo: &str) -> Fabric {
        // Tests of one topology share its namespace names: one lab at a time.
        let guard = LABS.lock().unwrap_or_else(|e| e.into_inner());
        let lab = Lab::new(name);
        let started = Instant::now();
        lab.ok(&["deploy", "-t", example(topo).to_str().unwrap()]);
        Fabric {
            lab,
            started,
            _guard: guard,
        }
    }

    fn name(&self) -> &str {
        &self.lab.name
    }

    /// `bgplane show bgp ARGS -o json --socket SOCKET` inside a node, or why not.
    fn try_show(&self, node: &str, args: &[&str]) -> Result<Value, String> {
        let bin = bgplane_binary();
        let mut a = vec![
            "exec",
            "--name",
            self.name(),
            node,
            "--",
            bin.to_str().unwrap(),
            "show",
            "bgp",
        ];
        a.extend(args);
        a.extend(["-o", "json", "--socket", SOCKET]);
        let out = self.lab.run(&a);
        serde_json::from_slice(&out.stdout).map_err(|e| {
            format!(
                "{node}: bgplane show bgp {args:?} ({}, {e}):\nstdout:\n{}\nstderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    /// `bgplane show bgp ARGS` as JSON; a failure is reported (and read as nothing, so
    /// polls go on).
    fn show(&self, node: &str, args: &[&str]) -> Value {
        self.try_show(node, args).unwrap_or_else(|e| {
            note(&e);
            Value::Null
        })
    }

    /// A router's neighbors (address, or interface if unnumbered) and their summary lines.
    fn neighbors(&self, node: &str) -> BTreeMap<String, Value> {
        self.show(node, &["summary"])["neighbors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| {
                // Unnumbered neighbors by their interface, others by address.
                let key = n["interface"].as_str().or(n["neighbor"].as_str());
                (key.unwrap_or("?").to_string(), n.clone())
            })
            .collect()
    }

    /// Whether a router has exactly `count` neighbors, all established.
    fn all_established(&self, node: &str, count: usize) -> bool {
        let n = self.neighbors(node);
        n.len() == count && n.values().all(|v| v["state"] == "Established")
    }

    /// A router's Loc-RIB: prefix → paths.
    fn routes(&self, node: &str) -> BTreeMap<String, Vec<Value>> {
        self.show(node, &["routes"])
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["prefix"].as_str().unwrap_or("?").to_string(),
                    r["paths"].as_array().cloned().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// A node's kernel IPv4 routes (`ip -j -4 route`): destination → route.
    fn kernel(&self, node: &str) -> BTreeMap<String, Value> {
        let out = self.lab.run(&[
            "exec",
            "--name",
            self.name(),
            node,
            "--",
            "ip",
            "-j",
            "-4",
            "route",
            "show",
        ]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        v.as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let dst = r["dst"].as_str().unwrap_or("?");
                // `ip` prints host routes without /32, the default route as `default`.
                let dst = if dst == "default" {
                    "0.0.0.0/0".to_string()
                } else if dst.contains('/') {
                    dst.to_string()
                } else {
                    format!("{dst}/32")
                };
                (dst, r.clone())
            })
            .collect()
    }

    /// Whether a router has a best path for every prefix in its RIB.
    fn selects(&self, node: &str, prefixes: &[&str]) -> bool {
        let rib = self.routes(node);
        prefixes.iter().all(|p| {
            rib.get(*p)
                .is_some_and(|paths| paths.iter().any(|x| x["best"] == true))
        })
    }

    /// Whether a router holds every prefix in its RIB and, installed by bgplane (or
    /// connected), in its kernel.
    fn holds(&self, node: &str, prefixes: &[&str]) -> bool {
        let fib = self.kernel(node);
        prefixes.iter().all(|p| fib.contains_key(*p)) && self.selects(node, prefixes)
    }

    /// Waits for `what` (polling), and notes how long after deploy started it held. On a
    /// timeout, the failure shows every router's sessions and the end of its log.
    fn converge(&self, secs: u64, what: &str, mut pred: impl FnMut() -> bool) {
        let t = Instant::now();
        while !pred() {
            if t.elapsed() > Duration::from_secs(secs) {
                panic!(
                    "timed out after {secs}s waiting for {what}\n{}",
                    self.dump()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        note(&format!(
            "{}: {what} after {:.2}s",
            self.name(),
            self.started.elapsed().as_secs_f64()
        ));
    }

    /// Every router's `show bgp summary` and the last lines of its log.
    fn dump(&self) -> String {
        let mut s = String::new();
        let dir = self.lab.root.path().join(self.name());
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let log = e.path().join("cmd.log");
            let Ok(text) = std::fs::read_to_string(&log) else {
                continue;
            };
            let node = e.file_name().to_string_lossy().into_owned();
            let bin = bgplane_binary();
            let bin = bin.to_str().unwrap();
            s.push_str(&format!("=== {node}\n"));
            for cmd in [
                &[bin, "show", "bgp", "summary", "--socket", SOCKET][..],
                &[bin, "show", "bgp", "routes", "--socket", SOCKET],
                &["ip", "-4", "route"],
            ] {
                let mut a = vec!["exec", "--name", self.name(), &node, "--"];
                a.extend(cmd);
                let out = self.lab.run(&a);
                s.push_str(&String::from_utf8_lossy(&out.stdout));
                s.push_str(&String::from_utf8_lossy(&out.stderr));
            }
            let lines: Vec<&str> = text.lines().collect();
            s.push_str(&format!(
                "--- {} (end)\n{}\n",
                log.display(),
                lines[lines.len().saturating_sub(15)..].join("\n")
            ));
        }
        s
    }

    /// `lab check --expect FILE` (relative to examples/), which must pass; returns the
    /// result.
    fn check(&self, expect: &str) -> Value {
        let file = example(expect);
        let v = self.lab.json(&[
            "check",
            "--name",
            self.name(),
            "--expect",
            file.to_str().unwrap(),
        ]);
        assert_eq!(v["failed"], 0, "{v:#}");
        v
    }

    /// The hosts `lab trace A B` walks through.
    fn trace(&self, from: &str, to: &str) -> Vec<String> {
        let t = self.lab.json(&["trace", "--name", self.name(), from, to]);
        t["hops"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| h["host"].as_str().unwrap_or("?").to_string())
            .collect()
    }
}

/// The four node hosts' /24s (the pod CIDRs the seeds' nodes get).
const PODS: [&str; 4] = ["10.1.0.0/24", "10.1.1.0/24", "10.1.2.0/24", "10.1.3.0/24"];

/// Seed 000's spines and leafs with their neighbor counts.
const FABRIC_000: [(&str, usize); 4] =
    [("spine01", 2), ("spine02", 2), ("leaf01", 4), ("leaf02", 4)];

/// The node hosts of seed 000.
const HOSTS_000: [&str; 4] = ["control-plane", "worker", "worker2", "worker3"];

/// What every leaf and spine of seed 000 holds: the four /24s, the racks' networks and
/// the client's.
const ROUTES_000: [&str; 7] = [
    "10.1.0.0/24",
    "10.1.1.0/24",
    "10.1.2.0/24",
    "10.1.3.0/24",
    "10.0.5.0/24",
    "10.0.10.0/24",
    "192.168.0.0/24",
];

/// The multipath sets of the ECMP variant: each leaf reaches the other rack through both
/// spines (AS paths of equal length through AS 500 and AS 1000).
const ECMP_000: [(&str, [&str; 3], [&str; 2]); 2] = [
    (
        "leaf01",
        ["10.1.2.0/24", "10.1.3.0/24", "10.0.10.0/24"],
        ["10.0.101.1", "10.0.103.1"],
    ),
    (
        "leaf02",
        ["10.1.0.0/24", "10.1.1.0/24", "10.0.5.0/24"],
        ["10.0.102.1", "10.0.104.1"],
    ),
];

/// Deploys seed 000's fabric (`topo.yaml`, or `topo-ecmp.yaml`), waits for every session
/// and for every leaf and spine to select the routes of [`ROUTES_000`], and checks the
/// RIBs: route reflection, the seed's counts, the spines' next hops; with ECMP, the
/// dynamic neighbors and the multipath sets.
fn fabric_000(ecmp: bool) -> Fabric {
    let f = if ecmp {
        Fabric::deploy(
            "bgplane-fabric-000-ecmp",
            "bgplane-fabric-000/topo-ecmp.yaml",
        )
    } else {
        Fabric::deploy("bgplane-fabric-000", "bgplane-fabric-000/topo.yaml")
    };
    f.converge(30, "every session established", || {
        FABRIC_000.iter().all(|(r, n)| f.all_established(r, *n))
            && HOSTS_000.iter().all(|h| f.all_established(h, 1))
    });
    f.converge(30, "the four /24s in every leaf's and spine's RIB", || {
        FABRIC_000.iter().all(|(r, _)| f.selects(r, &ROUTES_000))
    });

    // The leafs reflect their nodes' routes: a rack0 host learns its neighbor's /24 with
    // ORIGINATOR_ID and CLUSTER_LIST set (RFC 4456), and the next hop left as it was.
    f.converge(20, "control-plane's reflected route", || {
        f.selects("control-plane", &PODS)
    });
    let rib = f.routes("control-plane");
    let p = &rib["10.1.1.0/24"][0];
    assert_eq!(p["originator_id"], "10.0.5.12", "{p:#}");
    assert_eq!(p["cluster_list"], serde_json::json!(["10.0.5.1"]), "{p:#}");
    assert_eq!(p["next_hop"], "10.0.5.12", "{p:#}");
    assert_eq!(p["from"], "10.0.5.1", "{p:#}");
    // Other racks' /24s come through leaf01 from a spine, with the spines' AS paths.
    for pod in ["10.1.2.0/24", "10.1.3.0/24"] {
        let p = &rib[pod][0];
        let path = p["as_path"].as_str().unwrap_or("");
        assert!(path == "500 65010" || path == "1000 65010", "{pod}: {p:#}");
    }
    // What the seed shows on a rack0 node (`bgp peers`): peer AS 65005 at 10.0.5.1,
    // established, 6 received, 1 advertised.
    f.converge(20, "control-plane's counts as in the seed", || {
        let n = f.neighbors("control-plane");
        n.get("10.0.5.1")
            .is_some_and(|l| l["asn"] == "65005" && l["received"] == 6 && l["advertised"] == 1)
    });
    // The spines learn each /24 from its rack's leaf.
    let spine = f.routes("spine01");
    for (pod, hop) in PODS
        .iter()
        .zip(["10.0.101.2", "10.0.101.2", "10.0.104.2", "10.0.104.2"])
    {
        let best: Vec<&Value> = spine[*pod].iter().filter(|p| p["best"] == true).collect();
        assert_eq!(best[0]["next_hop"], hop, "spine01 {pod}: {best:?}");
    }
    for (leaf, far, hops) in ECMP_000 {
        let rib = f.routes(leaf);
        for p in far {
            let paths = &rib[p];
            let mut from: Vec<&str> = paths
                .iter()
                .filter_map(|x| x["next_hop"].as_str())
                .collect();
            from.sort_unstable();
            assert_eq!(from, hops, "{leaf} {p}: both spines' paths: {paths:#?}");
            let best = paths.iter().filter(|x| x["best"] == true).count();
            let multi = paths.iter().filter(|x| x["multipath"] == true).count();
            // With ECMP, one best path and one multipath companion; without, the best only.
            assert_eq!(
                (best, multi),
                (1, usize::from(ecmp)),
                "{leaf} {p}: {paths:#?}"
            );
        }
    }
    if ecmp {
        // The node hosts are dynamic neighbors of their leaf, accepted from its listen range.
        for (leaf, hosts) in [
            ("leaf01", ["10.0.5.11", "10.0.5.12"]),
            ("leaf02", ["10.0.10.11", "10.0.10.12"]),
        ] {
            let n = f.neighbors(leaf);
            for h in hosts {
                assert_eq!(n[h]["dynamic"], true, "{leaf}: {:#}", n[h]);
                assert_eq!(n[h]["state"], "Established", "{leaf}: {:#}", n[h]);
            }
        }
    }
    f
}

/// The kernels of seed 000's fabric: every leaf and spine has the routes of [`ROUTES_000`];
/// with ECMP, the leafs' multipath sets are one kernel route with both spines as next
/// hops. Then reachability as in the seed, and the path across racks.
fn kernel_and_reachability_000(f: &Fabric, ecmp: bool) {
    f.converge(
        20,
        "the four /24s in every leaf's and spine's kernel",
        || FABRIC_000.iter().all(|(r, _)| f.holds(r, &ROUTES_000)),
    );
    for (leaf, far, hops) in ECMP_000 {
        f.converge(20, "the leafs' kernel routes through the spines", || {
            let k = f.kernel(leaf);
            far.iter().all(|p| {
                let Some(r) = k.get(*p) else { return false };
                let mut gws: Vec<&str> = r["nexthops"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .chain(std::iter::once(r))
                    .filter_map(|h| h["gateway"].as_str())
                    .collect();
                gws.sort_unstable();
                if ecmp {
                    gws == hops
                } else {
                    gws.len() == 1 && hops.contains(&gws[0])
                }
            })
        });
    }
    let v = f.check("bgplane-fabric-000/expect.yaml");
    assert_eq!(v["total"], 20 + 6 + 4, "{v:#}");
    note(&format!(
        "{}: check passed after {:.2}s",
        f.name(),
        f.started.elapsed().as_secs_f64()
    ));
    let path = f.trace("control-plane", "worker3");
    assert_eq!(path.len(), 5, "{path:?}");
    assert_eq!(path[1], "leaf01", "{path:?}");
    assert!(path[2] == "spine01" || path[2] == "spine02", "{path:?}");
    assert_eq!(path[3..], ["leaf02", "worker3"], "{path:?}");
}

#[test]
fn seed_000_bgplane_fabric_sessions_and_route_reflection() {
    if skip_fabric("seed_000_bgplane_fabric_sessions_and_route_reflection") {
        return;
    }
    let f = fabric_000(false);
    f.lab.destroy_and_check_clean();
}

#[test]
fn seed_000_bgplane_fabric_ecmp_and_dynamic_neighbors() {
    if skip_fabric("seed_000_bgplane_fabric_ecmp_and_dynamic_neighbors") {
        return;
    }
    let f = fabric_000(true);
    f.lab.destroy_and_check_clean();
}

#[test]
fn seed_000_bgplane_fabric_kernel_routes_and_reachability() {
    if skip_fabric("seed_000_bgplane_fabric_kernel_routes_and_reachability") {
        return;
    }
    let f = fabric_000(false);
    kernel_and_reachability_000(&f, false);
    f.lab.destroy_and_check_clean();
}

#[test]
fn seed_000_bgplane_fabric_ecmp_kernel_routes_and_reachability() {
    if skip_fabric("seed_000_bgplane_fabric_ecmp_kernel_routes_and_reachability") {
        return;
    }
    let f = fabric_000(true);
    kernel_and_reachability_000(&f, true);
    f.lab.destroy_and_check_clean();
}

/// `traceroute -n` hops (addresses) from a node.
fn traceroute(lab: &Lab, node: &str, dst: &str) -> Vec<String> {
    let out = lab.ok(&[
        "exec",
        "--name",
        &lab.name,
        node,
        "--",
        "traceroute",
        "-n",
        "-q",
        "1",
        "-w",
        "1",
        dst,
    ]);
    out.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

/// Seed 002's routers and servers with their neighbor counts.
const NODES_002: [(&str, usize); 7] = [
    ("router0", 2),
    ("tor0", 3),
    ("tor1", 3),
    ("server0", 1),
    ("server1", 1),
    ("server2", 1),
    ("server3", 1),
];

/// Deploys seed 002's fabric and waits for every session.
fn deploy_002() -> Fabric {
    let f = Fabric::deploy("bgplane-fabric-002", "bgplane-fabric-002/topo.yaml");
    f.converge(30, "every session established", || {
        NODES_002.iter().all(|(r, n)| f.all_established(r, *n))
    });
    f
}

#[test]
fn seed_002_bgplane_fabric_unnumbered_ebgp_and_reachability() {
    let test = "seed_002_bgplane_fabric_unnumbered_ebgp_and_reachability";
    if skip_fabric(test) {
        return;
    }
    let f = deploy_002();
    // Unnumbered: router0's neighbors are its interfaces, the ToRs' router0 is net0.
    let n = f.neighbors("router0");
    assert_eq!(n.keys().collect::<Vec<_>>(), ["net0", "net1"], "{n:#?}");
    assert_eq!(
        (n["net0"]["asn"].as_str(), n["net1"]["asn"].as_str()),
        (Some("65010"), Some("65011"))
    );

    // router0 learns the four servers' /24s from the ToRs, with IPv6 link-local next
    // hops (RFC 8950), and installs them in its kernel via those next hops.
    f.converge(30, "router0's four /24s in BGP and in the kernel", || {
        f.holds("router0", &PODS)
    });
    let rib = f.routes("router0");
    for (pod, from) in PODS.iter().zip(["net0", "net0", "net1", "net1"]) {
        let best = rib[*pod]
            .iter()
            .find(|p| p["best"] == true)
            .unwrap_or_else(|| panic!("{pod}: {:#?}", rib[*pod]));
        let nh = best["next_hop"].as_str().unwrap_or("");
        assert!(nh.starts_with("fe80:"), "{pod}: {best:#}");
        let k = &f.kernel("router0")[*pod];
        assert_eq!(k["via"]["family"], "inet6", "{pod}: {k:#}");
        assert_eq!(k["dev"], from, "{pod}: {k:#}");
        assert_eq!(k["protocol"], "bgp", "{pod}: {k:#}");
    }
    // As in the seed, router0 has 12 IPv4 routes: the four /24s, the ToRs' loopbacks and
    // connected networks, its own loopback and the management network.
    f.converge(20, "router0's 12 IPv4 routes", || {
        f.show("router0", &["summary"])["rib_v4"] == 12
    });
    // The static blackhole for 10.0.0.0/8 is in router0's kernel.
    let k = f.kernel("router0");
    assert_eq!(
        k["10.0.0.0/8"]["type"], "blackhole",
        "{:#}",
        k["10.0.0.0/8"]
    );
    // default-originate: each ToR gets a default route from router0, in its kernel.
    for tor in ["tor0", "tor1"] {
        f.converge(20, "the ToRs' default route from router0", || {
            f.holds(tor, &["0.0.0.0/0"])
                && f.kernel(tor)
                    .get("0.0.0.0/0")
                    .is_some_and(|r| r["protocol"] == "bgp")
        });
    }
    // tor0 reaches the other rack's /24s through router0.
    f.converge(20, "tor0 holds every /24", || f.holds("tor0", &PODS));

    // Every node reaches every other (servers at their /24 address, routers at their
    // loopback); the fabric's range ends at router0's blackhole.
    let v = f.check("bgplane-fabric-002/expect.yaml");
    note(&format!(
        "{}: check passed after {:.2}s",
        f.name(),
        f.started.elapsed().as_secs_f64()
    ));
    let pairs = v["pairs"].as_array().unwrap();
    let black = pairs
        .iter()
        .find(|p| p["address"] == "10.9.9.9")
        .expect("a pair to 10.9.9.9");
    assert!(
        black["explanation"]
            .as_str()
            .unwrap_or("")
            .contains("blackhole route for 10.9.9.9 at router0"),
        "{black:#}"
    );

    // Across racks: server1 → tor0 → router0 → tor1 → server3, in the FIBs and on the wire.
    assert_eq!(
        f.trace("server1", "server3"),
        ["server1", "tor0", "router0", "tor1", "server3"]
    );
    let hops = traceroute(&f.lab, "server1", "10.1.3.1");
    assert_eq!(hops, ["10.0.2.1", "10.0.0.0", "10.0.0.2", "10.1.3.1"]);

    // `lab save` writes each router's running configuration over the router.conf it
    // runs from; read back, it is the configuration in effect: a reload changes nothing.
    let saved = f.lab.json(&["save", "--name", f.name()]);
    assert_eq!(saved.as_array().map(Vec::len), Some(7), "{saved}");
    let bin = bgplane_binary();
    let out = f.lab.run(&[
        "exec",
        "--name",
        f.name(),
        "router0",
        "--",
        bin.to_str().unwrap(),
        "reload",
        "--socket",
        SOCKET,
    ]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("no change"),
        "reload of the saved configuration: {said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(f.all_established("router0", 2));

    f.lab.destroy_and_check_clean();
}

/// FRR as the seed's ToR sends the routes it learns from router0 (IPv6 next hops over the
/// unnumbered session) on to its iBGP servers with itself as next hop: a server peering
/// with 10.0.0.1 receives the default route, the other rack's networks and so on.
#[test]
fn seed_002_bgplane_fabric_servers_learn_the_fabric_routes_from_their_tor() {
    let test = "seed_002_bgplane_fabric_servers_learn_the_fabric_routes_from_their_tor";
    if skip_fabric(test) {
        return;
    }
    let f = deploy_002();
    f.converge(
        30,
        "server1 learns the other rack's /24s and the default route",
        || {
            let rib = f.routes("server1");
            ["0.0.0.0/0", "10.1.2.0/24", "10.1.3.0/24", "10.0.4.0/24"]
                .iter()
                .all(|p| {
                    rib.get(*p)
                        .is_some_and(|v| v.iter().any(|x| x["next_hop"] == "10.0.0.1"))
                })
        },
    );
    f.lab.destroy_and_check_clean();
}

/// A node's main command (a `kind: bgplane` router, or any `cmd:` that is not an idle
/// shell) starts, and its node still cannot write to the host's root filesystem.
#[test]
fn lab_node_main_command_starts_under_a_read_only_root() {
    let test = "lab_node_main_command_starts_under_a_read_only_root";
    if skip(test, false) {
        return;
    }
    let lab = Lab::new("main-cmd");
    let topo = lab.root.path().join("topo.yaml");
    std::fs::write(
        &topo,
        "name: main-cmd\ntopology:\n  nodes:\n    a:\n      kind: linux\n      cmd: sleep 600\n",
    )
    .unwrap();
    lab.ok(&["deploy", "-t", topo.to_str().unwrap()]);
    let t = Instant::now();
    while !lab
        .processes()
        .iter()
        .any(|(_, _, c)| c.starts_with("sleep 600"))
    {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{:?}",
            lab.processes()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let ro = lab.run(&[
        "exec",
        "--name",
        "main-cmd",
        "a",
        "--",
        "touch",
        "/etc/bgplane-must-not-exist",
    ]);
    assert!(!ro.status.success() && !std::path::Path::new("/etc/bgplane-must-not-exist").exists());
    assert!(lab.root.path().join("main-cmd/a/cmd.log").exists());
    lab.destroy_and_check_clean();
}
