//! End-to-end: deploy failures roll back completely, `--reconfigure`, the `cluster:` key,
//! extended links, and a generated Clos fabric converging with FRR.
//!
//! NEEDS ROOT (network namespaces): skipped with a message otherwise.

mod common;

use common::{assert_clean, parent_pid, proc_state, skip, Lab};

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write topology");
    p
}

#[test]
fn failure_midway_rolls_back_everything() {
    if skip("failure_midway_rolls_back_everything", false) {
        return;
    }
    let lab = Lab::new("rollback-demo");
    // The second node's bind source is missing: namespaces, veths and the first node's
    // supervisor exist by the time it fails.
    let topo = write(
        lab.root.path(),
        "topo.yaml",
        "name: rollback-demo\ntopology:\n  nodes:\n    a: {kind: linux}\n    b:\n      kind: linux\n      binds: [\"/nonexistent/bgplane-test:/etc/hostname\"]\n  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n",
    );
    let out = lab.run(&["deploy", "-t", topo.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("node b") && err.contains("/nonexistent/bgplane-test"),
        "{err}"
    );
    assert!(err.contains("rolled back"), "{err}");
    assert_clean(
        &[
            "bgplane-lab-rollback-demo".to_string(),
            "clab-rollback-demo-a".to_string(),
            "clab-rollback-demo-b".to_string(),
        ],
        lab.root.path(),
    );
    assert!(!lab.root.path().join("rollback-demo/state.json").exists());
    lab.assert_no_host_veth_or_bridge_added("after the rollback");
}

#[test]
fn reconfigure_cluster_key_and_extended_links() {
    if skip("reconfigure_cluster_key_and_extended_links", false) {
        return;
    }
    let lab = Lab::new("ext-demo");
    let topo = write(
        lab.root.path(),
        "topo.yaml",
        r#"name: ext-demo
cluster:
  kind: Cluster
  name: ext
  nodes:
    - role: control-plane
      kubeadmConfigPatches:
        - |
          kind: InitConfiguration
          nodeRegistration:
            kubeletExtraArgs:
              node-ip: 192.0.2.10
topology:
  nodes:
    h1:
      kind: linux
      env: {GREETING: hello}
      exec:
        - ip addr add 192.0.2.1/24 dev e1
    n1:
      kind: linux
      network-mode: container:control-plane
      exec:
        - ip addr add 192.0.2.10/24 dev e1
  links:
    - type: veth
      mtu: 1400
      endpoints:
        - {node: h1, interface: e1, mac: "02:00:00:00:00:01"}
        - {node: n1, interface: e1}
"#,
    );
    let t = topo.to_str().unwrap();
    lab.ok(&["deploy", "-t", t]);
    let link = lab.ok(&[
        "exec", "--name", "ext-demo", "h1", "--", "ip", "-o", "link", "show", "e1",
    ]);
    assert!(
        link.contains("mtu 1400") && link.contains("02:00:00:00:00:01"),
        "{link}"
    );
    assert_eq!(
        lab.ok(&[
            "exec",
            "--name",
            "ext-demo",
            "h1",
            "--",
            "sh",
            "-c",
            "echo $GREETING"
        ])
        .trim(),
        "hello"
    );
    supervisor_is_pid_1_and_reaps_daemons(&lab, "ext-demo", "h1");
    let check = lab.json(&["check", "--name", "ext-demo"]);
    assert_eq!(check["failed"], 0, "{check}");
    // The kind node and the topology node that joins it are one host.
    let inspect = lab.json(&["inspect", "--name", "ext-demo"]);
    let cp = inspect["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "ext-control-plane")
        .unwrap()
        .clone();
    assert_eq!(cp["pod_cidrs"][0], "10.244.0.0/24");
    let env = lab.ok(&[
        "exec",
        "--name",
        "ext-demo",
        "control-plane",
        "--",
        "sh",
        "-c",
        "echo $BGPLANE_NODE_IP $BGPLANE_POD_CIDR",
    ]);
    assert_eq!(env.trim(), "192.0.2.10 10.244.0.0/24");
    // A second deploy is refused; --reconfigure redeploys.
    let again = lab.run(&["deploy", "-t", t]);
    assert!(
        !again.status.success() && String::from_utf8_lossy(&again.stderr).contains("--reconfigure")
    );
    lab.ok(&["deploy", "-t", t, "--reconfigure"]);
    assert_eq!(lab.json(&["check", "--name", "ext-demo"])["failed"], 0);
    lab.destroy_and_check_clean();
}

/// PID 1 of `node` is the bgplane supervisor (`bgplane-lab __init SPEC`), and a command
/// that daemonizes leaves no zombie: its orphaned child is reparented to PID 1, which reaps it.
fn supervisor_is_pid_1_and_reaps_daemons(lab: &Lab, name: &str, node: &str) {
    let init = lab.ok(&["exec", "--name", name, node, "--", "cat", "/proc/1/cmdline"]);
    let argv: Vec<&str> = init.trim_end_matches('\0').split('\0').collect();
    assert!(
        argv.first() == Some(&env!("CARGO_BIN_EXE_bgplane-lab")) && argv.get(1) == Some(&"__init"),
        "PID 1 of {node} is {argv:?}"
    );
    lab.ok(&[
        "exec",
        "--name",
        name,
        node,
        "--",
        "sh",
        "-c",
        "sleep 1.5 </dev/null >/dev/null 2>&1 &",
    ]);
    let (pid, start, _) = lab
        .processes()
        .into_iter()
        .find(|(_, _, cmd)| cmd.trim() == "sleep 1.5")
        .expect("the daemonized sleep runs");
    let parent = parent_pid(pid).expect("the sleep's parent");
    let parent_cmd = std::fs::read(format!("/proc/{parent}/cmdline")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&parent_cmd).contains("__init"),
        "the orphaned sleep was reparented to the supervisor, not to {parent} ({})",
        String::from_utf8_lossy(&parent_cmd)
    );
    lab.wait_for(10, "the supervisor to reap the daemonized sleep", || {
        proc_state(pid).is_none_or(|(_, s)| s != start)
    });
    // Zombies have no readable namespace links: find them as the supervisor's children.
    let zombies: Vec<u32> = std::fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|p| parent_pid(*p) == Some(parent))
        .filter(|p| proc_state(*p).is_some_and(|(st, _)| st == "Z"))
        .collect();
    assert!(
        zombies.is_empty(),
        "zombie children of the supervisor: {zombies:?}"
    );
}

#[test]
fn generated_clos_converges() {
    if skip("generated_clos_converges", true) {
        return;
    }
    let lab = Lab::new("clos-e2e");
    let text = lab.ok(&[
        "generate",
        "--name",
        "clos-e2e",
        "--spines",
        "2",
        "--leafs",
        "2",
        "--hosts-per-leaf",
        "2",
    ]);
    let topo = write(lab.root.path(), "clos.yaml", &text);
    lab.ok(&["deploy", "-t", topo.to_str().unwrap()]);
    lab.wait_for(60, "every host reaches every other", || {
        lab.run(&[
            "check",
            "--name",
            "clos-e2e",
            "--from",
            "rack=rack1",
            "--from",
            "rack=rack2",
            "--to",
            "*",
        ])
        .status
        .success()
    });
    let trace = lab.json(&["trace", "--name", "clos-e2e", "host1-1", "host2-2"]);
    let hops: Vec<&str> = trace["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert_eq!(hops.len(), 5, "{hops:?}");
    assert_eq!(
        (hops[0], hops[1], hops[3], hops[4]),
        ("host1-1", "leaf1", "leaf2", "host2-2")
    );
    assert!(hops[2].starts_with("spine"), "{hops:?}");
    lab.destroy_and_check_clean();
}

#[test]
fn generated_clos_with_bird_converges() {
    if skip("generated_clos_with_bird_converges", false) {
        return;
    }
    if !std::path::Path::new("/usr/sbin/bird").exists() {
        common::say_skipped(
            "generated_clos_with_bird_converges",
            "needs BIRD 2 (apt-get install bird2)",
        );
        return;
    }
    let lab = Lab::new("birdclos-e2e");
    let text = lab.ok(&[
        "generate",
        "--name",
        "birdclos-e2e",
        "--router",
        "bird",
        "--spines",
        "1",
        "--leafs",
        "2",
        "--hosts-per-leaf",
        "1",
    ]);
    let topo = write(lab.root.path(), "clos.yaml", &text);
    lab.ok(&["deploy", "-t", topo.to_str().unwrap()]);
    lab.wait_for(60, "every node reaches every other through BIRD", || {
        lab.run(&["check", "--name", "birdclos-e2e", "--timeout", "0.5"])
            .status
            .success()
    });
    let protocols = lab.ok(&[
        "exec",
        "--name",
        "birdclos-e2e",
        "spine1",
        "--",
        "birdc",
        "show",
        "protocols",
    ]);
    assert_eq!(protocols.matches("Established").count(), 2, "{protocols}");
    lab.destroy_and_check_clean();
}

#[test]
fn destroy_after_a_crashed_deploy() {
    if skip("destroy_after_a_crashed_deploy", false) {
        return;
    }
    let lab = Lab::new("crash-demo");
    let topo = write(
        lab.root.path(),
        "topo.yaml",
        "name: crash-demo\ntopology:\n  nodes:\n    a:\n      exec: [\"sleep 300\"]\n    b: {}\n  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n",
    );
    let mut deploy = std::process::Command::new(env!("CARGO_BIN_EXE_bgplane-lab"))
        .args(["deploy", "-t", topo.to_str().unwrap()])
        .env("BGPLANE_LAB_DIR", lab.root.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start deploy");
    // Kill deploy while node a runs its exec line.
    let state = lab.root.path().join("crash-demo/state.json");
    lab.wait_for(30, "the exec phase", || {
        std::fs::read_to_string(&state).is_ok_and(|s| s.contains("\"phase\": \"running\""))
            && lab
                .processes()
                .iter()
                .any(|(_, _, cmd)| cmd.starts_with("sleep 300"))
    });
    deploy.kill().expect("kill deploy");
    let _ = deploy.wait();
    // A fresh bgplane finds the lab from its state and removes all of it, the orphaned
    // exec command included.
    let sleeping: Vec<u32> = lab
        .processes()
        .iter()
        .filter(|(_, _, c)| c.starts_with("sleep 300"))
        .map(|p| p.0)
        .collect();
    assert_eq!(sleeping.len(), 1);
    lab.destroy_and_check_clean();
    assert!(
        !std::path::Path::new(&format!("/proc/{}", sleeping[0])).exists() || {
            let s =
                std::fs::read_to_string(format!("/proc/{}/stat", sleeping[0])).unwrap_or_default();
            !s.contains("(sleep)")
        }
    );
}
