//! `CHECK`, `DEL`, `VERSION`, `STATUS`, `GC`, failures and concurrency.

use std::process::Command;

use serde_json::{json, Value};

use crate::*;

#[test]
fn check_passes_after_add_and_fails_after_tampering() {
    let t = "check_passes_after_add_and_fails_after_tampering";
    if skip(t) {
        return;
    }
    let mut node = Node::new("check");
    let pod = node.pod("check-a");
    let conf = node.conf(json!({}));
    let r = node.cni("ADD", Some(&pod), &conf).success().json();
    let check = with_prev(&conf, &r);
    let ok = node.cni("CHECK", Some(&pod), &check).success();
    assert_eq!(ok.stdout, "", "CHECK prints nothing on success");

    // Without prevResult, CHECK cannot know what to expect.
    let e = node.cni("CHECK", Some(&pod), &conf).error();
    assert_eq!(e["code"], 7, "{e}");

    ip(&["-n", &pod, "route", "del", "default"]);
    let e = node.cni("CHECK", Some(&pod), &check).error();
    assert_eq!(e["code"], 100, "{e}");
    assert!(e["details"].as_str().unwrap().contains("0.0.0.0/0"), "{e}");
    ip(&[
        "-n",
        &pod,
        "route",
        "add",
        "default",
        "via",
        "169.254.1.1",
        "dev",
        "eth0",
    ]);
    node.cni("CHECK", Some(&pod), &check).success();

    ip(&["-n", &node.name, "route", "del", "10.1.0.1/32"]);
    let e = node.cni("CHECK", Some(&pod), &check).error();
    assert!(e["details"].as_str().unwrap().contains("host route"), "{e}");
    ip(&[
        "-n",
        &node.name,
        "route",
        "add",
        "10.1.0.1/32",
        "dev",
        &host_if(&r),
        "scope",
        "link",
    ]);
    node.cni("CHECK", Some(&pod), &check).success();

    ip(&["-n", &pod, "addr", "del", "10.1.0.1/32", "dev", "eth0"]);
    let e = node.cni("CHECK", Some(&pod), &check).error();
    assert!(
        e["details"]
            .as_str()
            .unwrap()
            .contains("address 10.1.0.1/32"),
        "{e}"
    );
    // Removing the last address took the routes through eth0 with it: restore all.
    ip(&["-n", &pod, "addr", "add", "10.1.0.1/32", "dev", "eth0"]);
    let e = node.cni("CHECK", Some(&pod), &check).error();
    assert!(
        e["details"].as_str().unwrap().contains("169.254.1.1"),
        "{e}"
    );
    ip(&[
        "-n",
        &pod,
        "route",
        "replace",
        "169.254.1.1",
        "dev",
        "eth0",
        "scope",
        "link",
    ]);
    ip(&[
        "-n",
        &pod,
        "route",
        "replace",
        "default",
        "via",
        "169.254.1.1",
        "dev",
        "eth0",
    ]);
    let e = node.cni("CHECK", Some(&pod), &check).error();
    assert!(
        e["details"].as_str().unwrap().contains("neighbour entry"),
        "{e}"
    );
    let host_mac = r["interfaces"][0]["mac"].as_str().unwrap();
    ip(&[
        "-n",
        &pod,
        "neigh",
        "replace",
        "169.254.1.1",
        "lladdr",
        host_mac,
        "dev",
        "eth0",
        "nud",
        "permanent",
    ]);
    node.cni("CHECK", Some(&pod), &check).success();

    std::fs::remove_file(node.data.join("state/pods/10.1.0.1")).unwrap();
    let e = node.cni("CHECK", Some(&pod), &check).error();
    assert!(
        e["details"].as_str().unwrap().contains("not reserved"),
        "{e}"
    );
}

#[test]
fn del_removes_everything_and_a_second_del_still_succeeds() {
    let t = "del_removes_everything_and_a_second_del_still_succeeds";
    if skip(t) {
        return;
    }
    let mut node = Node::new("del");
    let a = node.pod("del-a");
    let b = node.pod("del-b");
    let conf = node.conf(json!({}));
    let ra = node.cni("ADD", Some(&a), &conf).success().json();
    let rb = node.cni("ADD", Some(&b), &conf).success().json();
    let del = with_prev(&conf, &ra);
    let out = node.cni("DEL", Some(&a), &del).success();
    assert_eq!(out.stdout, "");
    assert!(!node.links().contains(&host_if(&ra)), "{}", node.links());
    assert!(!ip_out(&["-n", &a, "-o", "link"]).contains("eth0"));
    assert!(
        !node.host_routes(false).contains("10.1.0.1 "),
        "{}",
        node.host_routes(false)
    );
    assert_eq!(node.allocations(), vec!["10.1.0.2"]);
    // Again, with and without prevResult: nothing left to do, still a success.
    node.cni("DEL", Some(&a), &del).success();
    node.cni("DEL", Some(&a), &conf).success();
    // The other pod is untouched.
    node.cni("CHECK", Some(&b), &with_prev(&conf, &rb))
        .success();

    // A pod whose namespace is already gone: DEL still cleans up, without CNI_NETNS too.
    ip(&["netns", "del", &b]);
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &node.name, BIN, "cni"])
        .env("CNI_COMMAND", "DEL")
        .env("CNI_CONTAINERID", format!("ctr-{b}"))
        .env("CNI_IFNAME", "eth0")
        .env_remove("CNI_NETNS");
    let out = run(cmd, &conf);
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(node.allocations().is_empty(), "{:?}", node.allocations());
    assert!(!node.links().contains("bgpl"), "{}", node.links());
    // The freed addresses are handed out again, lowest first.
    let c = node.pod("del-c");
    let rc = node.cni("ADD", Some(&c), &conf).success().json();
    assert_eq!(rc["ips"][0]["address"], "10.1.0.1/32");
}

#[test]
fn version_is_answered_when_run_as_a_runtime_does() {
    // No namespaces needed: runs as any user.
    let dir = std::env::temp_dir().join(format!("bgc-{}-version", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("bgplane");
    std::os::unix::fs::symlink(BIN, &exe).unwrap();
    let mut cmd = Command::new(&exe);
    cmd.env("CNI_COMMAND", "VERSION");
    let r = run(cmd, &json!({"cniVersion": "1.0.0"}));
    let _ = std::fs::remove_dir_all(&dir);
    let v = r.success().json();
    assert_eq!(v["cniVersion"], "1.0.0");
    let versions: Vec<&str> = v["supportedVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for want in ["0.4.0", "1.0.0", "1.1.0"] {
        assert!(versions.contains(&want), "{v}");
    }

    // And explicitly, as `bgplane cni`; an unknown command is an error result.
    let mut cmd = Command::new(BIN);
    cmd.arg("cni").env("CNI_COMMAND", "VERSION");
    assert_eq!(
        run(cmd, &json!({"cniVersion": "1.1.0"})).json()["cniVersion"],
        "1.1.0"
    );
    let mut cmd = Command::new(BIN);
    cmd.arg("cni").env("CNI_COMMAND", "FROB");
    let e = run(cmd, &json!({})).error();
    assert_eq!(e["code"], 4);
}

#[test]
fn status_reports_readiness_and_an_exhausted_pool_refuses_add() {
    let t = "status_reports_readiness_and_an_exhausted_pool_refuses_add";
    if skip(t) {
        return;
    }
    let mut node = Node::new("status");
    let cidr_file = node.data.join("podcidr");
    let conf = node.conf(json!({"podCIDR": null, "podCIDRFile": cidr_file}));
    // The agent has not written the node's pod CIDR yet.
    let e = node.cni("STATUS", None, &conf).error();
    assert_eq!(e["code"], 50, "{e}");
    let p0 = node.pod("status-0");
    let e = node.cni("ADD", Some(&p0), &conf).error();
    assert_eq!(e["code"], 11, "{e}");
    std::fs::write(&cidr_file, "10.1.2.0/30\n").unwrap();
    let ok = node.cni("STATUS", None, &conf).success();
    assert_eq!(ok.stdout, "");

    let p1 = node.pod("status-1");
    node.cni("ADD", Some(&p0), &conf).success();
    node.cni("ADD", Some(&p1), &conf).success();
    let e = node.cni("STATUS", None, &conf).error();
    assert_eq!(e["code"], 50, "{e}");
    assert!(
        e["details"].as_str().unwrap().contains("10.1.2.0/30"),
        "{e}"
    );
    let p2 = node.pod("status-2");
    let e = node.cni("ADD", Some(&p2), &conf).error();
    assert_eq!(e["code"], 101, "{e}");
    assert_eq!(e["cniVersion"], "1.1.0");
    // The failed ADD left nothing behind.
    assert!(!ip_out(&["-n", &p2, "-o", "link"]).contains("eth0"));
    assert_eq!(node.links().matches("bgpl").count(), 2, "{}", node.links());
    assert_eq!(node.allocations().len(), 2);
}

#[test]
fn gc_releases_stale_attachments_and_keeps_valid_ones() {
    let t = "gc_releases_stale_attachments_and_keeps_valid_ones";
    if skip(t) {
        return;
    }
    let mut node = Node::new("gc");
    let keep = node.pod("gc-keep");
    let stale = node.pod("gc-stale");
    let conf = node.conf(json!({}));
    let rk = node.cni("ADD", Some(&keep), &conf).success().json();
    let rs = node.cni("ADD", Some(&stale), &conf).success().json();
    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] =
        json!([{"containerID": format!("ctr-{keep}"), "ifname": "eth0"}]);
    let out = node.cni("GC", None, &gc).success();
    assert_eq!(out.stdout, "");
    assert_eq!(node.allocations(), vec!["10.1.0.1"]);
    assert!(!node.links().contains(&host_if(&rs)), "{}", node.links());
    assert!(node.links().contains(&host_if(&rk)));
    node.cni("CHECK", Some(&keep), &with_prev(&conf, &rk))
        .success();
    // GC is repeatable.
    node.cni("GC", None, &gc).success();
    assert_eq!(node.allocations(), vec!["10.1.0.1"]);
}

#[test]
fn add_failures_are_error_results_and_release_the_address() {
    let t = "add_failures_are_error_results_and_release_the_address";
    if skip(t) {
        return;
    }
    let mut node = Node::new("fail");
    let pod = node.pod("fail-a");
    // The interface name is taken in the pod already.
    ip(&[
        "-n", &pod, "link", "add", "eth0", "type", "veth", "peer", "name", "other",
    ]);
    let conf = node.conf(json!({"cniVersion": "1.0.0"}));
    let r = node.cni("ADD", Some(&pod), &conf);
    let e = r.error();
    assert_eq!(e["code"], 102, "{e}");
    assert_eq!(e["cniVersion"], "1.0.0");
    assert!(node.allocations().is_empty(), "{:?}", node.allocations());
    assert!(!node.links().contains("bgpl"), "{}", node.links());

    // A namespace path that is not one.
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &node.name, BIN, "cni"])
        .env("CNI_COMMAND", "ADD")
        .env("CNI_CONTAINERID", "ctr-nowhere")
        .env("CNI_NETNS", "/run/netns/bgc-does-not-exist")
        .env("CNI_IFNAME", "eth0");
    let e = run(cmd, &conf).error();
    assert_eq!(e["code"], 4, "{e}");
    assert!(e["details"].as_str().unwrap().contains("CNI_NETNS"), "{e}");
    assert!(node.allocations().is_empty(), "{:?}", node.allocations());

    // A bad configuration.
    let e = node
        .cni(
            "ADD",
            Some(&pod),
            &node.conf(json!({"podCIDR": "10.1.0.0/33"})),
        )
        .error();
    assert_eq!(e["code"], 7, "{e}");
    let e = node
        .cni(
            "ADD",
            Some(&pod),
            &node.conf(json!({"cniVersion": "0.2.0"})),
        )
        .error();
    assert_eq!(e["code"], 1, "{e}");
}

#[test]
fn concurrent_adds_get_distinct_addresses_and_an_older_version_gets_its_result_format() {
    let t = "concurrent_adds_get_distinct_addresses_and_an_older_version_gets_its_result_format";
    if skip(t) {
        return;
    }
    let mut node = Node::new("conc");
    let pods: Vec<String> = (0..6).map(|i| node.pod(&format!("conc-{i}"))).collect();
    let conf = node.conf(json!({"cniVersion": "0.4.0", "gateway": "10.0.5.11"}));
    let results: Vec<Value> = std::thread::scope(|s| {
        let hs: Vec<_> = pods
            .iter()
            .map(|p| {
                let node = &node;
                let conf = &conf;
                s.spawn(move || node.cni("ADD", Some(p), conf).success().json())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut addrs: Vec<&str> = results
        .iter()
        .map(|r| r["ips"][0]["address"].as_str().unwrap())
        .collect();
    addrs.sort();
    addrs.dedup();
    assert_eq!(addrs.len(), 6, "{addrs:?}");
    for r in &results {
        assert_eq!(r["cniVersion"], "0.4.0");
        assert_eq!(r["ips"][0]["version"], "4");
        assert_eq!(r["ips"][0]["gateway"], "10.0.5.11");
        assert!(r["interfaces"][0].get("mtu").is_none(), "{r}");
    }
    // With the node's own address as the gateway, the pod can ping its gateway.
    assert!(pings(&pods[0], "10.0.5.11"));
    let routes = ip_out(&["-n", &pods[0], "-4", "route", "show"]);
    assert!(
        routes.contains("default via 10.0.5.11 dev eth0"),
        "{routes}"
    );
}
