//! What `ADD` builds, and traffic through it.

use std::process::Command;

use serde_json::{json, Value};

use crate::*;

#[test]
fn a_pod_gets_its_interface_address_gateway_and_host_route() {
    let t = "a_pod_gets_its_interface_address_gateway_and_host_route";
    if skip(t) {
        return;
    }
    let mut node = Node::new("add");
    let pod = node.pod("add-a");
    let conf = node.conf(json!({"mtu": 1400, "dns": {"nameservers": ["10.96.0.10"]}}));
    let r = node.runtime("ADD", Some(&pod), &conf).success().json();

    assert_eq!(r["cniVersion"], "1.1.0");
    let host = host_if(&r);
    assert!(host.starts_with("bgpl") && host.len() == 15, "{r}");
    assert!(r["interfaces"][0].get("sandbox").is_none(), "{r}");
    assert_eq!(r["interfaces"][1]["name"], "eth0");
    assert_eq!(r["interfaces"][1]["sandbox"], format!("/run/netns/{pod}"));
    assert_eq!(r["interfaces"][1]["mtu"], 1400);
    assert_eq!(r["ips"][0]["address"], "10.1.0.1/32");
    assert_eq!(r["ips"][0]["gateway"], "169.254.1.1");
    assert_eq!(r["ips"][0]["interface"], 1);
    assert_eq!(r["dns"]["nameservers"][0], "10.96.0.10");
    let routes = r["routes"].as_array().unwrap();
    assert!(
        routes.contains(&json!({"dst": "0.0.0.0/0", "gw": "169.254.1.1"})),
        "{r}"
    );
    assert!(
        routes.contains(&json!({"dst": "169.254.1.1/32", "scope": 253})),
        "{r}"
    );

    // The pod: eth0 with the /32, the MAC of the result, an on-link gateway resolved
    // statically to the host end.
    let addr = ip_out(&["-n", &pod, "-o", "-4", "addr", "show", "dev", "eth0"]);
    assert!(addr.contains("inet 10.1.0.1/32"), "{addr}");
    let link = ip_out(&["-n", &pod, "-o", "link", "show", "dev", "eth0"]);
    assert!(link.contains("mtu 1400") && link.contains(",UP"), "{link}");
    assert!(
        link.contains(r["interfaces"][1]["mac"].as_str().unwrap()),
        "{link}"
    );
    let routes = ip_out(&["-n", &pod, "-4", "route", "show"]);
    assert!(
        routes.contains("default via 169.254.1.1 dev eth0"),
        "{routes}"
    );
    assert!(
        routes.contains("169.254.1.1 dev eth0 scope link"),
        "{routes}"
    );
    let neigh = ip_out(&["-n", &pod, "neigh", "show", "dev", "eth0"]);
    let host_mac = r["interfaces"][0]["mac"].as_str().unwrap();
    assert!(
        neigh.contains(&format!("169.254.1.1 lladdr {host_mac} PERMANENT")),
        "{neigh}"
    );
    let lo = ip_out(&["-n", &pod, "-o", "link", "show", "dev", "lo"]);
    assert!(lo.contains(",UP"), "{lo}");

    // The node: the host end has no address, a /32 route to the pod through it, proxy ARP
    // and forwarding on.
    let host_addrs = ip_out(&["-n", &node.name, "-o", "addr", "show", "dev", &host]);
    assert!(!host_addrs.contains("inet "), "{host_addrs}");
    let hr = node.host_routes(false);
    assert!(
        hr.contains(&format!("10.1.0.1 dev {host} scope link")),
        "{hr}"
    );
    let sysctl = |k: &str| {
        let path = format!("/proc/sys/{}", k.replace('.', "/"));
        let out = Command::new("ip")
            .args(["netns", "exec", &node.name, "cat", &path])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(sysctl(&format!("net.ipv4.conf.{host}.proxy_arp")), "1");
    assert_eq!(sysctl("net.ipv4.ip_forward"), "1");

    // IPAM: one record naming the attachment.
    assert_eq!(node.allocations(), vec!["10.1.0.1"]);
    let rec: Value = serde_json::from_str(
        &std::fs::read_to_string(node.data.join("state/pods/10.1.0.1")).unwrap(),
    )
    .unwrap();
    assert_eq!(rec["containerID"], format!("ctr-{pod}"));
    assert_eq!(rec["ifname"], "eth0");
    assert_eq!(rec["hostInterface"], host.as_str());
    assert_eq!(rec["pod"], format!("default/{pod}"));
}

#[test]
fn two_pods_on_a_node_reach_each_other_and_the_node_on_both_families() {
    let t = "two_pods_on_a_node_reach_each_other_and_the_node_on_both_families";
    if skip(t) {
        return;
    }
    let mut node = Node::new("ping");
    let a = node.pod("ping-a");
    let b = node.pod("ping-b");
    let conf = node.conf(json!({"podCIDR": null, "podCIDRs": ["10.1.1.0/24", "fd00:10:1:1::/64"]}));
    let ra = node.cni("ADD", Some(&a), &conf).success().json();
    let rb = node.cni("ADD", Some(&b), &conf).success().json();
    assert_eq!(ra["ips"][0]["address"], "10.1.1.1/32");
    assert_eq!(ra["ips"][1]["address"], "fd00:10:1:1::1/128");
    assert_eq!(ra["ips"][1]["gateway"], "fe80::1");
    assert_eq!(rb["ips"][0]["address"], "10.1.1.2/32");
    assert_eq!(rb["ips"][1]["address"], "fd00:10:1:1::2/128");
    let r6 = ip_out(&["-n", &a, "-6", "route", "show"]);
    assert!(r6.contains("default via fe80::1 dev eth0"), "{r6}");
    let hr6 = node.host_routes(true);
    assert!(
        hr6.contains(&format!("fd00:10:1:1::1 dev {}", host_if(&ra))),
        "{hr6}"
    );

    for (from, to) in [
        (&a, "10.1.1.2"),
        (&b, "10.1.1.1"),
        (&a, "10.0.5.11"),
        (&b, "10.0.5.11"),
        (&a, "fd00:10:1:1::2"),
        (&b, "fd00:10:1:1::1"),
        (&a, "fd00:5::11"),
    ] {
        assert!(pings(from, to), "{from} cannot ping {to}");
    }
    // And the node reaches its pods.
    assert!(pings(&node.name, "10.1.1.1"), "the node cannot ping pod a");
    assert!(
        pings(&node.name, "fd00:10:1:1::2"),
        "the node cannot ping pod b over IPv6"
    );
}

#[test]
fn a_pod_is_routed_natively_beyond_the_node_which_is_its_first_hop() {
    let t = "a_pod_is_routed_natively_beyond_the_node_which_is_its_first_hop";
    if skip(t) {
        return;
    }
    let mut node = Node::new("route");
    // A router (the ToR) on the node's uplink, with an address behind it and a route back
    // to the node's pod CIDR, as BGP would give it.
    let tor = node.pod("route-tor");
    ip(&[
        "-n", &node.name, "link", "add", "up0", "type", "veth", "peer", "name", "dn0", "netns",
        &tor,
    ]);
    ip(&[
        "-n",
        &node.name,
        "addr",
        "add",
        "10.0.6.11/24",
        "dev",
        "up0",
    ]);
    ip(&["-n", &node.name, "link", "set", "up0", "up"]);
    ip(&[
        "-n", &node.name, "route", "add", "default", "via", "10.0.6.1",
    ]);
    ip(&["-n", &tor, "addr", "add", "10.0.6.1/24", "dev", "dn0"]);
    ip(&["-n", &tor, "link", "set", "dn0", "up"]);
    ip(&["-n", &tor, "link", "set", "lo", "up"]);
    ip(&["-n", &tor, "addr", "add", "192.0.2.1/32", "dev", "lo"]);
    ip(&[
        "-n",
        &tor,
        "route",
        "add",
        "10.1.0.0/24",
        "via",
        "10.0.6.11",
    ]);
    let pod = node.pod("route-a");
    node.cni("ADD", Some(&pod), &node.conf(json!({}))).success();

    assert!(
        pings(&pod, "192.0.2.1"),
        "the pod cannot reach beyond the node"
    );
    assert!(pings(&tor, "10.1.0.1"), "the router cannot reach the pod");
    // The first hop answers from the node's address: no tunnel, no NAT.
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &pod,
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            "-t",
            "1",
            "192.0.2.1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("From 10.0.5.11") || text.contains("From 10.0.6.11"),
        "{text}"
    );

    // Should the pod lose its static entry for the gateway, proxy ARP on the host end
    // answers (the node has a default route covering 169.254.1.1).
    ip(&["-n", &pod, "neigh", "del", "169.254.1.1", "dev", "eth0"]);
    assert!(pings(&pod, "192.0.2.1"), "no proxy ARP for the gateway");
    let neigh = ip_out(&["-n", &pod, "neigh", "show", "169.254.1.1"]);
    assert!(neigh.contains("lladdr ee:"), "{neigh}");
}
