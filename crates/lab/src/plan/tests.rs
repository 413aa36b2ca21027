//! Tests of parsing and planning, on both seed labs and on broken files.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::*;
use crate::topo::cluster::{parse_cluster, parse_cluster_file};
use crate::topo::yaml::parse_str;
use crate::topo::{parse_topology, parse_topology_str, StartupConfig};

fn example(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(p)
}

fn plan_of(topo: &str, cluster: Option<&str>) -> Result<LabPlan, TopoError> {
    let t = parse_topology(&example(topo))?;
    let c = cluster
        .map(|c| parse_cluster_file(&example(c)))
        .transpose()?;
    build(PlanInput {
        topo: &t,
        cluster: c.as_ref(),
        root: Path::new("/labs"),
    })
}

pub(super) fn topo_err(text: &str) -> String {
    let t = match parse_topology_str(text, Path::new("bad.yaml"), &|_| None) {
        Ok(t) => t,
        Err(e) => return e.to_string(),
    };
    build(PlanInput {
        topo: &t,
        cluster: None,
        root: Path::new("/labs"),
    })
    .err()
    .map(|e| e.to_string())
    .unwrap_or_else(|| "no error".into())
}

#[test]
fn seed_002_topology_parses_as_written() {
    let t = parse_topology(&example("cilium-bgp-frr/topo.yaml")).unwrap();
    assert_eq!(t.name, "bgp-cplane-demo");
    let names: Vec<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        ["router0", "tor0", "tor1", "server0", "server1", "server2", "server3"]
    );
    let r0 = &t.nodes[0];
    assert_eq!(r0.kind, "linux");
    assert_eq!(
        r0.cmd.as_deref(),
        Some("bash"),
        "kinds.linux.cmd is inherited"
    );
    assert_eq!(r0.exec.len(), 7);
    assert_eq!(
        r0.exec[0],
        "iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE"
    );
    assert_eq!(r0.exec[5], "usr/lib/frr/frrinit.sh start");
    // The folded scalar (`>-`) is one line.
    assert!(
        r0.exec[6].starts_with("vtysh -c 'conf t' -c 'router bgp 65000'"),
        "{}",
        r0.exec[6]
    );
    assert!(!r0.exec[6].contains('\n'));
    assert_eq!(r0.label("app"), Some("frr"));
    let s0 = &t.nodes[3];
    assert_eq!(
        s0.network_mode.as_ref().map(|m| m.0.as_str()),
        Some("container:control-plane")
    );
    assert_eq!(t.links.len(), 6);
    assert_eq!(
        (t.links[0].a.node.as_str(), t.links[0].a.iface.as_str()),
        ("router0", "net0")
    );
    assert_eq!(
        (t.links[5].b.node.as_str(), t.links[5].b.iface.as_str()),
        ("server3", "net0")
    );
    assert_eq!(t.links[5].loc.line, 135);
}

#[test]
fn seed_002_cluster_parses_with_kind_names_ips_labels_and_cidrs() {
    let c = parse_cluster_file(&example("cilium-bgp-frr/cluster.yaml")).unwrap();
    assert_eq!(c.name, "clab-bgp-cplane-demo");
    let names: Vec<&str> = c.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "clab-bgp-cplane-demo-control-plane",
            "clab-bgp-cplane-demo-worker",
            "clab-bgp-cplane-demo-worker2",
            "clab-bgp-cplane-demo-worker3"
        ]
    );
    let ips: Vec<String> = c.nodes.iter().map(|n| n.node_ips[0].to_string()).collect();
    assert_eq!(ips, ["10.0.1.2", "10.0.2.2", "10.0.3.2", "10.0.4.2"]);
    let racks: Vec<&str> = c
        .nodes
        .iter()
        .map(|n| {
            n.labels
                .iter()
                .find(|(k, _)| k == "rack")
                .map(|(_, v)| v.as_str())
                .unwrap()
        })
        .collect();
    assert_eq!(racks, ["rack0", "rack0", "rack1", "rack1"]);
    let cidrs: Vec<String> = c.nodes.iter().map(|n| n.pod_cidrs[0].to_string()).collect();
    assert_eq!(
        cidrs,
        ["10.1.0.0/24", "10.1.1.0/24", "10.1.2.0/24", "10.1.3.0/24"]
    );
}

#[test]
fn seed_002_plan_joins_servers_to_kind_nodes() {
    let p = plan_of(
        "cilium-bgp-frr/topo.yaml",
        Some("cilium-bgp-frr/cluster.yaml"),
    )
    .unwrap();
    let idx = |n: &str| p.node_index(n).unwrap();
    assert_eq!(
        p.nodes[idx("server0")].ns,
        Ns::Node(idx("clab-bgp-cplane-demo-control-plane"))
    );
    assert_eq!(
        p.nodes[idx("server3")].ns,
        Ns::Node(idx("clab-bgp-cplane-demo-worker3"))
    );
    assert_eq!(
        p.nodes[idx("router0")].netns.as_deref(),
        Some("clab-bgp-cplane-demo-router0")
    );
    assert_eq!(p.nodes[idx("server0")].netns, None);
    assert_eq!(
        p.nodes[idx("router0")].behaviour,
        Behaviour::Frr { autostart: false }
    );
    assert_eq!(p.nodes[idx("server1")].behaviour, Behaviour::Host);
    assert_eq!(
        p.nodes[idx("router0")].cmd,
        None,
        "`cmd: bash` is the image's idle shell"
    );
    // Management: containerlab's default subnet, in file order; kind nodes on kind's network.
    assert_eq!(
        p.nodes[idx("router0")].mgmt4.unwrap().to_string(),
        "172.20.20.2/24"
    );
    assert_eq!(
        p.nodes[idx("tor1")].mgmt4.unwrap().to_string(),
        "172.20.20.4/24"
    );
    assert_eq!(
        p.nodes[idx("clab-bgp-cplane-demo-worker")]
            .mgmt4
            .unwrap()
            .to_string(),
        "172.18.0.3/16"
    );
    assert!(p.nodes[idx("server0")].mgmt4.is_none());
    let data: Vec<&LinkPlan> = p.links.iter().filter(|l| !l.mgmt).collect();
    assert_eq!(data.len(), 6);
    assert!(data.iter().all(|l| l.mtu == DEFAULT_LINK_MTU));
    assert_eq!(
        p.links.iter().filter(|l| l.mgmt).count(),
        7,
        "3 routers + 4 kind nodes"
    );
    assert!(p
        .notes
        .iter()
        .any(|n| n.contains("nicolaka/netshoot:latest") && n.contains("plain host")));
    let macs: HashSet<[u8; 6]> = p.links.iter().flat_map(|l| [l.a.mac, l.b.mac]).collect();
    assert_eq!(macs.len(), p.links.len() * 2, "MACs are unique");
}

#[test]
fn seed_000_original_maps_vyos_to_frr() {
    let p = plan_of(
        "cilium-bgp-cross-as/topo.yaml",
        Some("cilium-bgp-cross-as/cluster.yaml"),
    )
    .unwrap();
    let idx = |n: &str| p.node_index(n).unwrap();
    let spine = &p.nodes[idx("spine01")];
    assert_eq!(spine.behaviour, Behaviour::Frr { autostart: true });
    assert!(spine
        .vyos_config
        .as_ref()
        .unwrap()
        .ends_with("vyos-boot-conf/spine01-config.boot"));
    let cfg = spine.startup_config.as_deref().unwrap();
    assert!(
        cfg.contains("router bgp 500\n bgp router-id 10.0.101.1"),
        "{cfg}"
    );
    assert!(
        cfg.contains("interface eth2\n ip address 10.0.104.1/24"),
        "{cfg}"
    );
    assert!(
        spine.binds.is_empty(),
        "config.boot and /lib/modules binds are consumed"
    );
    assert_eq!(
        spine.cmd, None,
        "`cmd: /sbin/init` is replaced by the supervisor"
    );
    let leaf = &p.nodes[idx("leaf02")];
    assert!(leaf
        .startup_config
        .as_deref()
        .unwrap()
        .contains("neighbor 10.0.10.12 route-reflector-client"));
    assert_eq!(
        leaf.exec,
        [
            "iptables -t nat -A POSTROUTING -d 10.0.0.0/8 -j RETURN",
            "iptables -t nat -A POSTROUTING -s 10.0.10.0/24 -o eth0 -j MASQUERADE"
        ]
    );
    assert!(p.notes.iter().any(|n| n.contains("VyOS image hihihiai/vyos:1.5-stream-2025-Q1-generic-amd64 (spine01, spine02, leaf01, leaf02)")), "{:?}", p.notes);
}

#[test]
fn vyos_without_configuration_names_the_image() {
    let text = "name: v\ntopology:\n  nodes:\n    r1:\n      kind: linux\n      image: vyos/vyos:1.4\n      cmd: /sbin/init\n";
    let e = topo_err(text);
    assert!(
        e.starts_with("bad.yaml:6:14: `topology.nodes.r1.image`: image `vyos/vyos:1.4` is VyOS"),
        "{e}"
    );
    let missing =
        format!("{text}      binds: [\"./nope.boot:/opt/vyatta/etc/config/config.boot\"]\n");
    let e = topo_err(&missing);
    assert!(e.contains("nope.boot does not exist"), "{e}");
}

#[test]
fn seed_000_topology_parses_as_written() {
    let t = parse_topology(&example("cilium-bgp-cross-as/topo.yaml")).unwrap();
    assert_eq!(t.name, "cilium-bgp");
    assert_eq!(t.mgmt.ipv4_subnet.unwrap().to_string(), "172.16.100.0/24");
    assert_eq!(t.nodes.len(), 11);
    let spine = t.nodes.iter().find(|n| n.name == "spine01").unwrap();
    assert_eq!(spine.binds.len(), 2);
    assert_eq!(spine.binds[1].dst, "/opt/vyatta/etc/config/config.boot");
    assert_eq!(t.links.len(), 11);
    assert_eq!(t.links[0].b.node, "leaf01-br");
    assert_eq!(t.links[0].b.iface, "leaf01-br-eth1");
}

#[test]
fn seed_000_frr_variant_plans() {
    let p = plan_of(
        "cilium-bgp-cross-as/topo-frr.yaml",
        Some("cilium-bgp-cross-as/cluster.yaml"),
    )
    .unwrap();
    let idx = |n: &str| p.node_index(n).unwrap();
    assert_eq!(p.bridges, ["leaf01-br", "leaf02-br"]);
    assert_eq!(
        p.nodes[idx("control-plane")].ns,
        Ns::Node(idx("cilium-bgp-control-plane"))
    );
    assert_eq!(
        p.nodes[idx("spine01")].behaviour,
        Behaviour::Frr { autostart: true }
    );
    assert!(p.nodes[idx("leaf01")]
        .startup_config
        .as_deref()
        .unwrap()
        .contains("neighbor 10.0.5.11 route-reflector-client"));
    assert_eq!(
        p.nodes[idx("spine01")].mgmt4.unwrap().to_string(),
        "172.16.100.2/24"
    );
    let port = p
        .links
        .iter()
        .find(|l| l.b.iface == "leaf01-br-eth3")
        .unwrap();
    assert_eq!(port.b.ns, Ns::Lab);
    assert_eq!(port.b.master.as_deref(), Some("leaf01-br"));
    assert_eq!(port.a.node, "leaf01");
    let cidr = |n: &str| p.nodes[idx(n)].pod_cidrs[0].to_string();
    assert_eq!(cidr("cilium-bgp-control-plane"), "10.1.0.0/24");
    assert_eq!(cidr("cilium-bgp-worker3"), "10.1.3.0/24");
}

const CLUSTER_WORKERS_FIRST: &str = "\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: c
networking:
  podSubnet: 10.1.0.0/16
nodes:
  - role: worker
  - role: worker
    podCIDR: 10.1.0.0/24
  - role: control-plane
  - role: worker
";

#[test]
fn pod_cidrs_follow_kubernetes_order_and_pins() {
    let root = parse_str(CLUSTER_WORKERS_FIRST, Path::new("c.yaml"), 0, "").unwrap();
    let c = parse_cluster(&root).unwrap();
    let got: Vec<(String, String)> = c
        .nodes
        .iter()
        .map(|n| (n.name.clone(), n.pod_cidrs[0].to_string()))
        .collect();
    assert_eq!(
        got,
        [
            ("c-control-plane".to_string(), "10.1.1.0/24".to_string()),
            ("c-worker".to_string(), "10.1.2.0/24".to_string()),
            ("c-worker2".to_string(), "10.1.0.0/24".to_string()),
            ("c-worker3".to_string(), "10.1.3.0/24".to_string()),
        ]
    );
}

#[test]
fn default_pod_subnet_and_dual_stack() {
    let text = "kind: Cluster\nnetworking:\n  podSubnet: \"10.244.0.0/16,fd00:10:244::/56\"\nnodes:\n- role: control-plane\n- role: worker\n";
    let c = parse_cluster(&parse_str(text, Path::new("c.yaml"), 0, "").unwrap()).unwrap();
    assert_eq!(c.name, "kind");
    assert_eq!(c.nodes[1].name, "kind-worker");
    let w: Vec<String> = c.nodes[1].pod_cidrs.iter().map(|n| n.to_string()).collect();
    assert_eq!(w, ["10.244.1.0/24", "fd00:10:244:1::/64"]);
}

#[test]
fn cluster_errors_name_file_line_key() {
    let bad_ip = "kind: Cluster\nnodes:\n- role: worker\n  kubeadmConfigPatches:\n  - |\n    kind: JoinConfiguration\n    nodeRegistration:\n      kubeletExtraArgs:\n        node-ip: 10.0.0.300\n";
    let e = parse_cluster(&parse_str(bad_ip, Path::new("k.yaml"), 0, "").unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("k.yaml:9:18: `nodes[0].kubeadmConfigPatches[0].nodeRegistration.kubeletExtraArgs.node-ip`") && e.contains("10.0.0.300"), "{e}");
    let bad_role = "kind: Cluster\nnodes:\n- role: master\n";
    let e = parse_cluster(&parse_str(bad_role, Path::new("k.yaml"), 0, "").unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("k.yaml:3:9: `nodes[0].role`") && e.contains("master"),
        "{e}"
    );
    let small = "kind: Cluster\nnetworking:\n  podSubnet: 10.1.0.0/25\n";
    let e = parse_cluster(&parse_str(small, Path::new("k.yaml"), 0, "").unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("smaller than the per-node /24"), "{e}");
    let pin = "kind: Cluster\nnetworking:\n  podSubnet: 10.1.0.0/16\nnodes:\n- role: control-plane\n  podCIDR: 10.2.0.0/24\n";
    let e = parse_cluster(&parse_str(pin, Path::new("k.yaml"), 0, "").unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("k.yaml:6:12: `nodes[0].podCIDR`"), "{e}");
}

const GOOD: &str = "name: t\ntopology:\n  nodes:\n    a:\n      kind: linux\n    b:\n      kind: linux\n  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n";

#[test]
fn link_naming_and_collisions() {
    let t = parse_topology_str(GOOD, Path::new("t.yaml"), &|_| None).unwrap();
    let p = build(PlanInput {
        topo: &t,
        cluster: None,
        root: Path::new("/labs"),
    })
    .unwrap();
    let l = p.links.iter().find(|l| !l.mgmt).unwrap();
    assert_eq!((l.a.iface.as_str(), l.b.iface.as_str()), ("eth1", "eth1"));
    assert_eq!(p.nodes[0].netns.as_deref(), Some("clab-t-a"));
    let mg = p.links.iter().find(|l| l.mgmt).unwrap();
    assert_eq!(
        (
            mg.a.iface.as_str(),
            mg.b.iface.as_str(),
            mg.b.master.as_deref()
        ),
        ("eth0", "mg0", Some("mgmt"))
    );

    let dup = format!("{GOOD}    - endpoints: [\"a:eth1\", \"b:eth2\"]\n");
    let e = topo_err(&dup);
    assert!(
        e.starts_with("bad.yaml:10:19: `topology.links[1].endpoints[0]`"),
        "{e}"
    );
    assert!(e.contains("interface `eth1` of node a is already used by topology.links[0].endpoints[0] (bad.yaml:9:19)"), "{e}");

    let eth0 = format!("{GOOD}    - endpoints: [\"a:eth0\", \"b:eth3\"]\n");
    assert!(topo_err(&eth0).contains("eth0 is the management interface"));

    let long = GOOD.replace("b:eth1", "b:ethernet-1/1");
    let e = topo_err(&long);
    assert!(
        e.starts_with("bad.yaml:9:29: `topology.links[0].endpoints[1]`")
            && e.contains("not a valid Linux interface name"),
        "{e}"
    );

    let unknown = GOOD.replace("b:eth1", "c:eth1");
    let e = topo_err(&unknown);
    assert!(
        e.starts_with("bad.yaml:9:29:") && e.contains("endpoint node `c` is not defined"),
        "{e}"
    );

    let prefix = format!("prefix: \"\"\n{GOOD}");
    let t = parse_topology_str(&prefix, Path::new("t.yaml"), &|_| None).unwrap();
    let p = build(PlanInput {
        topo: &t,
        cluster: None,
        root: Path::new("/labs"),
    })
    .unwrap();
    assert_eq!(p.nodes[0].netns.as_deref(), Some("a"));
}

#[test]
fn schema_errors_name_file_line_key() {
    let cases: &[(&str, &str)] = &[
        ("name: t\ntopology:\n  nodes:\n    a:\n      kidn: linux\n", "bad.yaml:5:7: unknown key `topology.nodes.a.kidn` (did you mean `kind`?)"),
        ("name: t\ntopology:\n  nodes:\n    a:\n      exec: {x: 1}\n", "bad.yaml:5:13: `topology.nodes.a.exec` must be a list, found a mapping"),
        ("topology:\n  nodes: {}\n", "bad.yaml:1:1: missing required key `name`"),
        ("name: t\nmgmt:\n  ipv4-subnet: 300.1.0.0/24\ntopology: {}\n", "bad.yaml:3:16: `mgmt.ipv4-subnet`: `300.1.0.0/24` is not an IPv4 subnet"),
        ("name: t\ntopology:\n  links:\n    - type: vxlan\n      endpoints: []\n", "bad.yaml:4:13: `topology.links[0].type`: link type `vxlan` is not supported"),
        ("name: t\ntopology:\n  nodes:\n    a: {kind: nokia_srlinux}\n", "bad.yaml:4:15: `topology.nodes.a.kind`: kind `nokia_srlinux` is not supported"),
        ("name: t\ntopology:\n  nodes:\n    a: {network-mode: \"container:ghost\"}\n", "bad.yaml:4:23: `topology.nodes.a.network-mode`: no node named `ghost` (no kind cluster is loaded"),
        ("name: t\ntopology:\n  nodes:\n    a: {network-mode: host}\n", "host's own network namespace"),
        ("name: t\ntopology:\n  nodes:\n    a: {binds: [\"/x\"]}\n", "bad.yaml:4:17: `topology.nodes.a.binds[0]`: `/x` is not `source:target[:ro]`"),
        ("name: t\ntopology:\n  nodes:\n    a: {group: g}\n", "group `g` is not defined"),
        ("name: \"bad name\"\ntopology: {}\n", "bad.yaml:1:7: `name`: lab name `bad name`"),
        ("name: t\ntopology:\n  nodes:\n    a: {mgmt-ipv4: 10.9.9.9}\n", "`topology.nodes.a.mgmt-ipv4`: 10.9.9.9 is outside 172.20.20.0/24"),
        ("name: t\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:e1\"]\n", "bad.yaml:6:18: `topology.links[0].endpoints`: a link has exactly 2 endpoints, found 1"),
        ("name: t\ntopology: [\n", "bad.yaml:3:1: YAML syntax error"),
        ("name: t\ntopology:\n  nodes:\n    a: {wait-for: [b]}\n    b: {wait-for: [a]}\n", "bad.yaml:4:19: `topology.nodes.a.wait-for`: wait-for forms a cycle: a → b → a"),
        ("name: t\ntopology:\n  nodes:\n    a: {wait-for: [c]}\n", "`c` is not a node of this topology"),
        ("name: t\ntopology:\n  nodes:\n    a: {}\n    a: {}\n", "bad.yaml:5:5: `topology.nodes.a`: duplicate key"),
    ];
    let mut wrong = Vec::new();
    for (text, want) in cases {
        let e = topo_err(text);
        if !e.contains(want) {
            wrong.push(format!("for\n{text}\nwanted `{want}`\ngot    `{e}`"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn inheritance_defaults_kinds_groups() {
    let text = "name: t\ntopology:\n  defaults:\n    env: {A: d, B: d}\n    binds: [\"/etc:/mnt/etc\"]\n  kinds:\n    linux:\n      image: alpine\n      exec: [\"echo kind\"]\n  groups:\n    spines:\n      env: {B: g}\n      exec: [\"echo group\"]\n  nodes:\n    s1: {group: spines, env: {C: n}}\n    h1: {}\n";
    let t = parse_topology_str(text, Path::new("t.yaml"), &|_| None).unwrap();
    let s1 = &t.nodes[0];
    assert_eq!(s1.image.as_deref(), Some("alpine"));
    assert_eq!(s1.exec, ["echo group"]);
    assert_eq!(
        s1.env,
        [
            ("A".to_string(), "d".to_string()),
            ("B".to_string(), "g".to_string()),
            ("C".to_string(), "n".to_string())
        ]
    );
    assert_eq!(s1.binds.len(), 1);
    assert_eq!(t.nodes[1].exec, ["echo kind"]);
}

#[test]
fn env_and_magic_variables() {
    let text = "name: ${LAB:=fallback}\ntopology:\n  nodes:\n    r1:\n      kind: frr\n      image: ${IMG}\n      startup-config: |\n        hostname __clabNodeName__\n      exec: [\"cat __clabNodeDir__/x\"]\n      binds: [\"cfg/__clabNodeName__.conf:/run/x.conf\"]\n";
    let env = |k: &str| (k == "IMG").then(|| "quay.io/frrouting/frr:9.1.0".to_string());
    let t = parse_topology_str(text, Path::new("/topo/t.yaml"), &env).unwrap();
    assert_eq!(t.name, "fallback");
    assert_eq!(
        t.nodes[0].image.as_deref(),
        Some("quay.io/frrouting/frr:9.1.0")
    );
    assert!(
        matches!(&t.nodes[0].startup_config, Some(StartupConfig::Inline(s)) if s.contains("hostname"))
    );
    let p = build(PlanInput {
        topo: &t,
        cluster: None,
        root: Path::new("/labs"),
    })
    .unwrap();
    assert_eq!(p.nodes[0].exec, ["cat /labs/fallback/r1/x"]);
    assert_eq!(p.nodes[0].binds[0].src, PathBuf::from("/topo/cfg/r1.conf"));
}
