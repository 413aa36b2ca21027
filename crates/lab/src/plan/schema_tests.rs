//! Every schema error names the file, the line and column, and the dotted key: one table per
//! area (links, binds and files, topology rules, kind cluster files), plus the extended link
//! form. The older cases are in `tests.rs` (`schema_errors_name_file_line_key`).

use std::path::Path;

use super::tests::topo_err;
use super::*;
use crate::topo::cluster::parse_cluster;
use crate::topo::yaml::parse_str;
use crate::topo::{parse_topology_str, LinkKind};

/// Runs every case; each error must contain its expected text (which starts with
/// `file:line:col: \`key\``). Reports all mismatches at once.
fn check(cases: &[(&str, &str)], err_of: impl Fn(&str) -> String) {
    let mut wrong = Vec::new();
    for (text, want) in cases {
        let e = err_of(text);
        if !e.starts_with(want) {
            wrong.push(format!("for\n{text}\nwanted `{want}…`\ngot    `{e}`"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// The error of a kind cluster file `k.yaml`.
fn cluster_err(text: &str) -> String {
    match parse_str(text, Path::new("k.yaml"), 0, "").and_then(|root| parse_cluster(&root)) {
        Ok(_) => "no error".into(),
        Err(e) => e.to_string(),
    }
}

/// The error of topology `bad.yaml` planned with kind cluster `k.yaml`.
fn topo_cluster_err(topo: &str, cluster: &str) -> String {
    let t = parse_topology_str(topo, Path::new("bad.yaml"), &|_| None).unwrap();
    let c = parse_cluster(&parse_str(cluster, Path::new("k.yaml"), 0, "").unwrap()).unwrap();
    match build(PlanInput {
        topo: &t,
        cluster: Some(&c),
        root: Path::new("/labs"),
    }) {
        Ok(_) => "no error".into(),
        Err(e) => e.to_string(),
    }
}

const TWO: &str = "name: t\ntopology:\n  nodes:\n    a: {}\n    b: {}\n  links:\n";

#[test]
fn link_errors_name_file_line_key() {
    let ext = |a: &str| {
        format!("{TWO}    - type: veth\n      endpoints:\n        - {{node: a, interface: e1, mac: \"{a}\"}}\n        - {{node: b, interface: e1}}\n")
    };
    let cases: Vec<(String, &str)> = vec![
        (format!("{TWO}    - endpoints: [\"a:e1\", \"b:e1\"]\n      mtu: 60\n"), "bad.yaml:8:12: `topology.links[0].mtu`: MTU 60 is outside 68..=65535"),
        (format!("{TWO}    - endpoints: [\"a:e1\", \"b:e1\"]\n      mtu: 65536\n"), "bad.yaml:8:12: `topology.links[0].mtu`: MTU 65536 is outside 68..=65535"),
        ("name: t\nmgmt: {mtu: 20}\ntopology: {}\n".into(), "bad.yaml:2:13: `mgmt.mtu`: MTU 20 is outside 68..=65535"),
        (ext("zz:00:00:00:00:01"), "bad.yaml:9:41: `topology.links[0].endpoints[0].mac`: `zz:00:00:00:00:01` is not a MAC address like aa:c1:ab:00:00:01"),
        (ext("02:00:00:00:01"), "bad.yaml:9:41: `topology.links[0].endpoints[0].mac`: `02:00:00:00:01` is not a MAC address"),
        (ext("01:00:5e:00:00:01"), "bad.yaml:9:41: `topology.links[0].endpoints[0].mac`: `01:00:5e:00:00:01` is a multicast MAC address"),
        (format!("{TWO}    - endpoints: [\"a:e1\", \"macvlan:enp1s0\"]\n"), "bad.yaml:7:27: `topology.links[0].endpoints[1]`: macvlan endpoints attach to host interfaces, which bgplane lab never touches"),
        (format!("{TWO}    - type: host\n      endpoint: {{node: a, interface: e1}}\n      host-interface: \"bad/if\"\n"), "bad.yaml:9:23: `topology.links[0].host-interface`: `bad/if` is not a valid interface name"),
        (format!("{TWO}    - type: mgmt-net\n      endpoint: {{node: a, interface: e1}}\n      host-interface: sixteen-chars-ab\n"), "bad.yaml:9:23: `topology.links[0].host-interface`: `sixteen-chars-ab` is not a valid interface name"),
        (format!("{TWO}    - type: host\n      endpoint: {{node: a, interface: e1}}\n"), "bad.yaml:7:7: missing required key `topology.links[0].host-interface`"),
        (format!("{TWO}    - endpoints: [\"a-e1\", \"b:e1\"]\n"), "bad.yaml:7:19: `topology.links[0].endpoints[0]`: endpoint `a-e1` is not `node:interface`"),
        (format!("{TWO}    - endpoints: [\"a:e1\", \":e1\"]\n"), "bad.yaml:7:27: `topology.links[0].endpoints[1]`: the endpoint has no node name"),
        (format!("{TWO}    - endpoints: [\"a:e1\", \"a:e2\"]\n"), "bad.yaml:7:7: `topology.links[0]`: both ends are in the same namespace"),
        ("name: t\ntopology:\n  nodes:\n    a: {}\n    b: {network-mode: \"container:a\"}\n  links:\n    - endpoints: [\"a:e1\", \"b:e2\"]\n".into(), "bad.yaml:7:7: `topology.links[0]`: both ends are in the same namespace"),
    ];
    let cases: Vec<(&str, &str)> = cases.iter().map(|(t, w)| (t.as_str(), *w)).collect();
    check(&cases, topo_err);
}

#[test]
fn bind_and_file_errors_name_file_line_key() {
    let node = |v: &str| format!("name: t\ntopology:\n  nodes:\n    a: {v}\n");
    let cases: Vec<(String, &str)> = vec![
        (node("{binds: [\"/srv:/srv:rx\"]}"), "bad.yaml:4:17: `topology.nodes.a.binds[0]`: unknown bind option `rx` (use ro or rw)"),
        (node("{binds: [\"/srv:/srv:ro,bogus\"]}"), "bad.yaml:4:17: `topology.nodes.a.binds[0]`: unknown bind option `bogus`"),
        (node("{binds: [\"/srv:srv\"]}"), "bad.yaml:4:17: `topology.nodes.a.binds[0]`: `/srv:srv`: the target must be an absolute path"),
        (node("{binds: [\":/srv\"]}"), "bad.yaml:4:17: `topology.nodes.a.binds[0]`: `:/srv`: the target must be an absolute path"),
        (node("{binds: [\"/srv:/\"]}"), "bad.yaml:4:17: `topology.nodes.a.binds[0]`: cannot bind over `/`"),
        // Inherited: the error points where the bind is written.
        ("name: t\ntopology:\n  defaults:\n    binds: [\"/srv:/\"]\n  nodes:\n    a: {}\n".into(), "bad.yaml:4:13: `topology.defaults.binds[0]`: cannot bind over `/`"),
        (node("{env-files: [no-such-bgplane-test.env]}"), "bad.yaml:4:21: `topology.nodes.a.env-files[0]`: cannot read env file no-such-bgplane-test.env"),
        (node("{startup-config: no-such-bgplane-test.cfg}"), "bad.yaml:4:25: `topology.nodes.a.startup-config`: cannot read no-such-bgplane-test.cfg"),
        ("name: t\ntopology:\n  kinds:\n    frr:\n      startup-config: no-such-bgplane-test.cfg\n  nodes:\n    a: {kind: frr}\n".into(), "bad.yaml:5:23: `topology.nodes.a.startup-config`: cannot read no-such-bgplane-test.cfg"),
    ];
    let cases: Vec<(&str, &str)> = cases.iter().map(|(t, w)| (t.as_str(), *w)).collect();
    check(&cases, topo_err);
}

#[test]
fn topology_rule_errors_name_file_line_key() {
    let cases: &[(&str, &str)] = &[
        ("name: t\ntopology:\n  nodes:\n    br: {kind: bridge, exec: [\"ip link\"]}\n", "bad.yaml:4:30: `topology.nodes.br.exec`: a bridge node is a Linux bridge in the lab namespace; it cannot have exec or network-mode"),
        ("name: t\ntopology:\n  nodes:\n    br: {kind: bridge, network-mode: none}\n", "bad.yaml:4:38: `topology.nodes.br.network-mode`: a bridge node"),
        ("name: t\ntopology:\n  nodes:\n    mgmt: {kind: bridge}\n", "bad.yaml:4:11: `topology.nodes.mgmt`: bridge name `mgmt` is used twice"),
        ("name: t\nmgmt:\n  bridge: br1\ntopology:\n  nodes:\n    br1: {kind: bridge}\n", "bad.yaml:6:10: `topology.nodes.br1`: bridge name `br1` is used twice"),
        ("name: t\ntopology:\n  nodes:\n    sixteen-chars-br: {kind: bridge}\n", "bad.yaml:4:23: `topology.nodes.sixteen-chars-br`: bridge name `sixteen-chars-br` must be a valid interface name"),
        // A node defined twice is a duplicate mapping key, however it is quoted.
        ("name: t\ntopology:\n  nodes:\n    a: {}\n    \"a\": {}\n", "bad.yaml:5:5: `topology.nodes.a`: duplicate key"),
        ("name: t\nmgmt:\n  ipv4-subnet: 10.0.0.0/31\ntopology: {}\n", "bad.yaml:3:16: `mgmt.ipv4-subnet`: 10.0.0.0/31 is too small for a management network"),
        ("name: t\nmgmt:\n  ipv4-subnet: 10.0.0.0/30\ntopology:\n  nodes:\n    a: {}\n    b: {}\n", "bad.yaml:3:16: `mgmt.ipv4-subnet`: the management subnet 10.0.0.0/30 has no address left for node b"),
        ("name: t\nmgmt:\n  ipv4-subnet: 10.0.0.0/24\n  ipv4-range: 10.0.0.8/30\ntopology:\n  nodes:\n    a: {}\n    b: {}\n    c: {}\n", "bad.yaml:4:15: `mgmt.ipv4-range`: the management subnet 10.0.0.8/30 has no address left for node c"),
        ("name: t\nmgmt:\n  ipv4-subnet: 10.0.0.0/24\n  ipv4-range: 10.1.0.0/28\ntopology: {}\n", "bad.yaml:4:15: `mgmt.ipv4-range`: range 10.1.0.0/28 is not inside 10.0.0.0/24"),
        ("name: t\nmgmt:\n  ipv4-subnet: 10.0.0.0/24\n  ipv4-gw: 10.1.0.1\ntopology: {}\n", "bad.yaml:4:12: `mgmt.ipv4-gw`: gateway 10.1.0.1 is not a host address of 10.0.0.0/24"),
        ("name: t\nmgmt:\n  ipv6-subnet: \"2001:db8::/127\"\ntopology:\n  nodes:\n    a: {}\n", "bad.yaml:3:16: `mgmt.ipv6-subnet`: the management subnet 2001:db8::/127 has no address left for node a"),
        ("name: t\ntopology:\n  nodes:\n    a: {mgmt-ipv4: 10.9.9.9}\n", "bad.yaml:4:20: `topology.nodes.a.mgmt-ipv4`: 10.9.9.9 is outside 172.20.20.0/24"),
        ("name: t\ntopology:\n  nodes:\n    a: {mgmt-ipv4: 172.20.20.1}\n", "bad.yaml:4:20: `topology.nodes.a.mgmt-ipv4`: 172.20.20.1 is outside 172.20.20.0/24, the gateway, or already used"),
        ("name: t\ntopology:\n  nodes:\n    a: {mgmt-ipv4: 172.20.20.5}\n    b: {mgmt-ipv4: 172.20.20.5}\n", "bad.yaml:5:20: `topology.nodes.b.mgmt-ipv4`: 172.20.20.5 is outside"),
        ("name: t\ntopology:\n  nodes:\n    a: {mgmt-ipv6: \"2001:db8::5\"}\n", "bad.yaml:4:20: `topology.nodes.a.mgmt-ipv6`: 2001:db8::5 is outside 3fff:172:20:20::/64"),
    ];
    check(cases, topo_err);
}

#[test]
fn a_full_default_management_subnet_names_the_node_left_without_an_address() {
    // 172.20.20.0/24 holds the gateway and 253 nodes: the 254th has no address.
    let mut text = "name: t\ntopology:\n  nodes:\n".to_string();
    for i in 0..254 {
        text.push_str(&format!("    n{i}: {{}}\n"));
    }
    let e = topo_err(&text);
    assert!(
        e.starts_with("bad.yaml:257:11: `topology.nodes.n253`: the management subnet 172.20.20.0/24 has no address left for node n253"),
        "{e}"
    );
}

#[test]
fn topology_and_cluster_clashes_name_file_line_key() {
    let cluster = "kind: Cluster\nname: c\nnodes:\n- role: control-plane\n";
    let e = topo_cluster_err(
        "name: t\ntopology:\n  nodes:\n    c-control-plane: {}\n",
        cluster,
    );
    assert!(
        e.starts_with("bad.yaml:4:22: `topology.nodes.c-control-plane`: `c-control-plane` is also the name kind gives a node of cluster `c` (defined at k.yaml:4:3)"),
        "{e}"
    );
    let e = topo_cluster_err("name: t\nmgmt:\n  bridge: kind\ntopology: {}\n", cluster);
    assert!(
        e.starts_with("bad.yaml:3:11: `mgmt.bridge`: bridge name `kind` is used twice"),
        "{e}"
    );
    let e = topo_cluster_err(
        "name: t\ntopology:\n  nodes:\n    kind: {kind: bridge}\n",
        cluster,
    );
    assert!(
        e.starts_with("bad.yaml:4:11: `topology.nodes.kind`: bridge name `kind` is used twice"),
        "{e}"
    );
}

#[test]
fn cluster_file_errors_name_file_line_key() {
    let labels = |v: &str| {
        format!("kind: Cluster\nnodes:\n- role: worker\n  kubeadmConfigPatches:\n  - |\n    kind: JoinConfiguration\n    nodeRegistration:\n      kubeletExtraArgs:\n        node-labels: \"{v}\"\n")
    };
    let cases: Vec<(String, &str)> = vec![
        ("kind: Config\n".into(), "k.yaml:1:7: `kind`: expected `kind: Cluster`, found `Config`"),
        ("kind: Cluster\napiVersion: v1\n".into(), "k.yaml:2:13: `apiVersion`: `v1` is not a kind API version (kind.x-k8s.io/v1alpha4)"),
        ("kind: Cluster\nnetworking:\n  podSubnet: 10.1.0.0/33\n".into(), "k.yaml:3:14: `networking.podSubnet`: `10.1.0.0/33` is not a subnet like 10.1.0.0/16"),
        ("kind: Cluster\nnetworking:\n  podSubnet: \"10.1.0.0/16,fd00::/200\"\n".into(), "k.yaml:3:14: `networking.podSubnet`: `fd00::/200` is not a subnet"),
        ("kind: Cluster\nnetworking:\n  podSubnet: 10.1.0.0/25\n".into(), "k.yaml:3:14: `networking.podSubnet`: pod subnet 10.1.0.0/25 is smaller than the per-node /24"),
        ("kind: Cluster\nnetworking:\n  podSubnet: 10.1.0.0/24\nnodes:\n- role: control-plane\n- role: worker\n".into(), "k.yaml:3:14: `networking.podSubnet`: pod subnet 10.1.0.0/24 has no /24 left for node kind-worker"),
        (labels("rack"), "k.yaml:9:22: `nodes[0].kubeadmConfigPatches[0].nodeRegistration.kubeletExtraArgs.node-labels`: node label `rack` is not key=value"),
        (labels("rack=r0,zone"), "k.yaml:9:22: `nodes[0].kubeadmConfigPatches[0].nodeRegistration.kubeletExtraArgs.node-labels`: node label `zone` is not key=value"),
        ("kind: Cluster\nnetworking:\n  podSubnet: 10.1.0.0/16\nnodes:\n- role: control-plane\n  podCIDR: 10.1.5.0/24\n- role: worker\n  podCIDR: 10.1.5.0/24\n".into(), "k.yaml:8:12: `nodes[1].podCIDR`: pod CIDR 10.1.5.0/24 is pinned twice"),
        ("kind: Cluster\nnodes:\n- role: worker\n  podCIDR: 10.1.5.0/33\n".into(), "k.yaml:4:12: `nodes[0].podCIDR`: `10.1.5.0/33` is not a subnet like 10.1.7.0/24"),
    ];
    let cases: Vec<(&str, &str)> = cases.iter().map(|(t, w)| (t.as_str(), *w)).collect();
    check(&cases, cluster_err);
}

const EXTENDED: &str = "\
name: t
topology:
  nodes:
    a: {}
    b: {}
  links:
    - type: veth
      mtu: 1400
      endpoints:
        - {node: a, interface: e1, mac: \"02:00:00:00:00:01\"}
        - node: b
          interface: e2
          mac: 02:00:00:00:00:02
    - endpoints: [\"a:e3\", \"b:e3\"]
";

#[test]
fn extended_veth_links_carry_their_mtu_and_macs_into_the_plan() {
    let t = parse_topology_str(EXTENDED, Path::new("t.yaml"), &|_| None).unwrap();
    let l = &t.links[0];
    assert_eq!((l.kind, l.mtu), (LinkKind::Veth, Some(1400)));
    assert_eq!(
        (l.a.node.as_str(), l.a.iface.as_str(), l.a.mac),
        ("a", "e1", Some([2, 0, 0, 0, 0, 1]))
    );
    assert_eq!(
        (l.b.node.as_str(), l.b.iface.as_str(), l.b.mac),
        ("b", "e2", Some([2, 0, 0, 0, 0, 2]))
    );
    let p = build(PlanInput {
        topo: &t,
        cluster: None,
        root: Path::new("/labs"),
    })
    .unwrap();
    let data: Vec<&LinkPlan> = p.links.iter().filter(|l| !l.mgmt).collect();
    assert_eq!(data.len(), 2);
    let (a, b) = (p.node_index("a").unwrap(), p.node_index("b").unwrap());
    let ext = data[0];
    assert_eq!(ext.mtu, 1400);
    assert_eq!(
        (ext.a.ns, ext.a.iface.as_str(), ext.a.mac),
        (Ns::Node(a), "e1", [2, 0, 0, 0, 0, 1])
    );
    assert_eq!(
        (ext.b.ns, ext.b.iface.as_str(), ext.b.mac),
        (Ns::Node(b), "e2", [2, 0, 0, 0, 0, 2])
    );
    // The brief link keeps containerlab's default MTU and gets generated MACs.
    assert_eq!(data[1].mtu, DEFAULT_LINK_MTU);
    assert_eq!(data[1].a.mac[..3], [0xaa, 0xc1, 0xab]);
    assert_ne!(data[1].a.mac, data[1].b.mac);
}

#[test]
fn a_brief_link_given_a_mapping_endpoint_is_refused_with_a_pointer_to_type_veth() {
    let brief = format!(
        "{TWO}    - endpoints:\n        - {{node: a, interface: e1}}\n        - \"b:e1\"\n"
    );
    let e = topo_err(&brief);
    assert!(
        e.starts_with("bad.yaml:8:11: `topology.links[0].endpoints[0]` must be a `node:interface` string (use `type: veth` for the extended form), found a mapping"),
        "{e}"
    );
    // The same endpoints under `type: veth` are accepted.
    let ext = brief.replace("    - endpoints:", "    - type: veth\n      endpoints:");
    assert_eq!(topo_err(&ext), "no error");
}
