//! End-to-end: both seed labs deployed from their files with Debian FRR, checked through
//! vtysh in the nodes, pings and traceroute; then destroyed with a leak check.
//!
//! NEEDS ROOT (network namespaces) and FRR: skipped with a message otherwise. CI runs them
//! as root.

mod common;

use common::{example, skip, Lab};

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

/// The node owning an address, from `inspect -o json` (routers: any address of theirs).
fn owner(inspect: &serde_json::Value, addr: &str) -> String {
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
fn seed_002_frr_fabric_with_kind_cluster() {
    if skip("seed_002_frr_fabric_with_kind_cluster", true) {
        return;
    }
    let lab = Lab::new("bgp-cplane-demo");
    let topo = example("cilium-bgp-frr/topo.yaml");
    let cluster = example("cilium-bgp-frr/cluster.yaml");
    lab.ok(&[
        "deploy",
        "-t",
        topo.to_str().unwrap(),
        "--cluster",
        cluster.to_str().unwrap(),
    ]);

    // The sessions between router0, tor0 and tor1 come up (unnumbered eBGP on net0/net1);
    // the ToRs' sessions to the Kubernetes nodes stay down until the agent exists.
    lab.wait_for(60, "router0's two sessions", || {
        lab.bgp_states("router0")
            == [
                ("net0".to_string(), "Established".to_string()),
                ("net1".to_string(), "Established".to_string()),
            ]
    });
    for (tor, servers) in [
        ("tor0", ["10.0.1.2", "10.0.2.2"]),
        ("tor1", ["10.0.3.2", "10.0.4.2"]),
    ] {
        lab.wait_for(30, "the ToR's session to router0", || {
            lab.bgp_states(tor)
                .iter()
                .any(|(p, s)| p == "net0" && s == "Established")
        });
        let states = lab.bgp_states(tor);
        for s in servers {
            let st = states
                .iter()
                .find(|(p, _)| p == s)
                .map(|(_, st)| st.as_str());
            assert!(
                matches!(st, Some(x) if x != "Established"),
                "{tor}: {s} is configured and not established: {states:?}"
            );
        }
    }
    // router0 learns the fabric's 8 routes (the seed's 12 minus the 4 pod CIDRs).
    lab.wait_for(30, "router0's 8 routes", || {
        lab.vtysh_json("router0", "show bgp ipv4 json")["routes"]
            .as_object()
            .map(|r| r.len())
            == Some(8)
    });

    // The four node IPs reach each other across the fabric.
    let nodes = ["server0", "server1", "server2", "server3"];
    let mut args = vec!["check", "--name", "bgp-cplane-demo"];
    for n in nodes {
        args.extend(["--from", n, "--to", n]);
    }
    let check = lab.json(&args);
    assert_eq!(check["total"], 12, "{check}");
    assert_eq!(check["failed"], 0, "{check}");
    let addrs: Vec<&str> = check["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["address"].as_str().unwrap())
        .collect();
    for ip in ["10.0.1.2", "10.0.2.2", "10.0.3.2", "10.0.4.2"] {
        assert!(addrs.contains(&ip), "{ip} was pinged");
    }
    // Every addressed node reaches every other (the routers' loopbacks too).
    let all = lab.json(&["check", "--name", "bgp-cplane-demo"]);
    assert_eq!(all["failed"], 0, "{all}");

    // Traceroute between racks: tor0 → router0 → tor1 (the seed's hops).
    let inspect = lab.json(&["inspect", "--name", "bgp-cplane-demo"]);
    let hops = traceroute(&lab, "server1", "10.0.4.2");
    let path: Vec<String> = hops.iter().map(|h| owner(&inspect, h)).collect();
    assert_eq!(
        hops,
        ["10.0.2.1", "10.0.0.0", "10.0.0.2", "10.0.4.2"],
        "{path:?}"
    );
    assert_eq!(path[..3], ["tor0", "router0", "tor1"]);
    let trace = lab.json(&["trace", "--name", "bgp-cplane-demo", "server1", "server3"]);
    let walked: Vec<&str> = trace["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert_eq!(walked, ["server1", "tor0", "router0", "tor1", "server3"]);

    // Exec: statuses come back; labels select kind nodes; the root filesystem is read-only.
    assert_eq!(
        lab.run(&[
            "exec",
            "--name",
            "bgp-cplane-demo",
            "tor0",
            "--",
            "sh",
            "-c",
            "exit 7"
        ])
        .status
        .code(),
        Some(7)
    );
    let racks: serde_json::Value = serde_json::from_str(&lab.ok(&[
        "exec",
        "--name",
        "bgp-cplane-demo",
        "--label",
        "rack=rack1",
        "-o",
        "json",
        "--",
        "hostname",
    ]))
    .unwrap();
    let names: Vec<&str> = racks
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["output"].as_str().unwrap().trim())
        .collect();
    assert_eq!(
        names,
        [
            "clab-bgp-cplane-demo-worker2",
            "clab-bgp-cplane-demo-worker3"
        ]
    );
    let ro = lab.run(&[
        "exec",
        "--name",
        "bgp-cplane-demo",
        "server0",
        "--",
        "touch",
        "/etc/bgplane-must-not-exist",
    ]);
    assert!(!ro.status.success() && !std::path::Path::new("/etc/bgplane-must-not-exist").exists());
    // Each FRR node has its own FRR: the host's /etc/frr/daemons is untouched.
    let host_daemons = std::fs::read_to_string("/etc/frr/daemons").unwrap();
    assert!(host_daemons.contains("bgpd=no"));
    let node_daemons = lab.ok(&[
        "exec",
        "--name",
        "bgp-cplane-demo",
        "tor0",
        "--",
        "grep",
        "^bgpd=",
        "/etc/frr/daemons",
    ]);
    assert_eq!(node_daemons.trim(), "bgpd=yes");

    // A link down breaks the path, and check explains where; up restores it.
    lab.ok(&["link", "--name", "bgp-cplane-demo", "down", "tor1:net2"]);
    let down = lab.run(&[
        "check",
        "--name",
        "bgp-cplane-demo",
        "--from",
        "server0",
        "--to",
        "server3",
        "-o",
        "json",
    ]);
    assert!(!down.status.success());
    let v: serde_json::Value = serde_json::from_slice(&down.stdout).unwrap();
    let why = v["pairs"][0]["explanation"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Before BGP withdraws 10.0.4.0/24 tor1 has no route for it; after, router0's
    // blackhole 10.0.0.0/8 catches it. Either way the hop is named.
    assert!(
        why.contains("at tor1") || why.contains("blackhole route for 10.0.4.2 at router0"),
        "explanation names the hop: {why}"
    );
    lab.ok(&["link", "--name", "bgp-cplane-demo", "up", "tor1:net2"]);
    lab.wait_for(20, "server3 reachable again", || {
        lab.run(&[
            "check",
            "--name",
            "bgp-cplane-demo",
            "--from",
            "server0",
            "--to",
            "server3",
        ])
        .status
        .success()
    });

    // save writes the routers' running configurations.
    let saved = lab.json(&["save", "--name", "bgp-cplane-demo"]);
    assert_eq!(saved.as_array().map(Vec::len), Some(3), "{saved}");

    lab.destroy_and_check_clean();
}

/// Seed 000's fabric checks: eBGP between leafs and spines, RR clients configured, the
/// spines' routes, reachability as in the seed, traceroute across racks.
fn check_seed_000(lab: &Lab, topo_file: &str) {
    let topo = example(topo_file);
    let cluster = example("cilium-bgp-cross-as/cluster.yaml");
    lab.ok(&[
        "deploy",
        "-t",
        topo.to_str().unwrap(),
        "--cluster",
        cluster.to_str().unwrap(),
    ]);
    let fabric = [
        ("spine01", vec!["10.0.101.2", "10.0.104.2"]),
        ("spine02", vec!["10.0.102.2", "10.0.103.2"]),
        ("leaf01", vec!["10.0.101.1", "10.0.103.1"]),
        ("leaf02", vec!["10.0.102.1", "10.0.104.1"]),
    ];
    for (router, peers) in &fabric {
        lab.wait_for(60, "eBGP sessions between leafs and spines", || {
            let st = lab.bgp_states(router);
            peers
                .iter()
                .all(|p| st.iter().any(|(q, s)| q == p && s == "Established"))
        });
    }
    // The route-reflector clients (the Kubernetes nodes) are configured, not yet up.
    let leaf01 = lab.bgp_states("leaf01");
    for n in ["10.0.5.11", "10.0.5.12"] {
        assert!(
            leaf01.iter().any(|(p, s)| p == n && s != "Established"),
            "{leaf01:?}"
        );
    }
    // Every spine has both racks and the client's network (the seed's `route -n`).
    for spine in ["spine01", "spine02"] {
        lab.wait_for(30, "spine routes", || {
            let r = lab.vtysh_json(spine, "show ip route json");
            ["10.0.5.0/24", "10.0.10.0/24", "192.168.0.0/24"]
                .iter()
                .all(|p| r.get(*p).is_some())
        });
    }
    // The VyOS source-NAT rules are in place on the leafs.
    let nat = lab.ok(&[
        "exec",
        "--name",
        "cilium-bgp",
        "leaf01",
        "--",
        "iptables",
        "-t",
        "nat",
        "-S",
        "POSTROUTING",
    ]);
    assert!(
        nat.contains("-s 10.0.5.0/24 -o eth0 -j MASQUERADE"),
        "{nat}"
    );
    // Nodes and the client reach each other; the transit networks are not announced.
    let expect = example("cilium-bgp-cross-as/expect.yaml");
    let check = lab.json(&[
        "check",
        "--name",
        "cilium-bgp",
        "--expect",
        expect.to_str().unwrap(),
    ]);
    assert_eq!(check["failed"], 0, "{check}");
    assert_eq!(check["total"], 20 + 6, "{check}");
    // Across racks: leaf01 → a spine → leaf02.
    let inspect = lab.json(&["inspect", "--name", "cilium-bgp"]);
    let hops = traceroute(lab, "control-plane", "10.0.10.11");
    let path: Vec<String> = hops.iter().map(|h| owner(&inspect, h)).collect();
    assert_eq!(path.len(), 4, "{hops:?} {path:?}");
    assert_eq!(path[0], "leaf01");
    assert!(path[1] == "spine01" || path[1] == "spine02", "{path:?}");
    assert_eq!(path[2], "leaf02");
    assert_eq!(hops[3], "10.0.10.11");
    lab.destroy_and_check_clean();
}

#[test]
fn seed_000_as_written_and_with_frr_for_vyos() {
    if skip("seed_000_as_written_and_with_frr_for_vyos", true) {
        return;
    }
    let lab = Lab::new("cilium-bgp");
    // The seed's file as written: VyOS nodes run FRR with their config.boot translated.
    check_seed_000(&lab, "cilium-bgp-cross-as/topo.yaml");
    // The FRR variant with hand-written FRR configuration.
    check_seed_000(&lab, "cilium-bgp-cross-as/topo-frr.yaml");
}
