//! `bgplane cni` run as a container runtime runs it: `CNI_*` variables, the network
//! configuration on stdin, the result (or error result) on stdout, against network
//! namespaces made by the test. A "node" namespace stands in for the host (the plugin runs
//! inside it through `ip netns exec`); each pod is a namespace of its own.
//!
//! Needs root (network namespaces); prints `SKIPPED <test>: <why>` and passes otherwise
//! (fails under `BGPLANE_TEST_REQUIRE_ALL=1`).
//! Every namespace is named `bgc-<pid>-...` and removed by a guard, also when a test fails.

mod datapath;
mod lifecycle;
#[path = "../../../../tests/support/skip.rs"]
mod skip;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_bgplane");

fn say_skipped(test: &str, why: &str) {
    skip::skipped(&format!("SKIPPED {test}: {why}"));
}

/// Why the namespace tests cannot run here, if they cannot.
pub(crate) fn skip(test: &str) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    let why = if !root {
        Some("needs root (network namespaces); run as root, as CI does")
    } else if !Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        Some("needs iproute2 (`ip`)")
    } else if !Command::new("ping")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        Some("needs ping (iputils-ping)")
    } else {
        None
    };
    if let Some(why) = why {
        say_skipped(test, why);
    }
    why.is_some()
}

pub(crate) fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn ip_out(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A node namespace with its pods' namespaces and an IPAM directory, all removed on drop.
pub(crate) struct Node {
    name: String,
    pods: Vec<String>,
    data: PathBuf,
    bin_dir: PathBuf,
}

impl Node {
    /// A node whose loopback holds the node's addresses 10.0.5.11 and fd00:5::11.
    fn new(tag: &str) -> Node {
        let name = format!("bgc-{}-{tag}-node", std::process::id());
        let data = std::env::temp_dir().join(format!("bgc-{}-{tag}-data", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let node = Node {
            name: name.clone(),
            pods: Vec::new(),
            bin_dir: data.join("bin"),
            data,
        };
        ip(&["netns", "add", &name]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        ip(&["-n", &name, "addr", "add", "10.0.5.11/32", "dev", "lo"]);
        ip(&["-n", &name, "addr", "add", "fd00:5::11/128", "dev", "lo"]);
        std::fs::create_dir_all(&node.bin_dir).expect("create the CNI bin directory");
        // Installed as a runtime expects: the executable named by the `type` field.
        std::os::unix::fs::symlink(BIN, node.bin_dir.join("bgplane")).expect("link the plugin");
        node
    }

    /// A pod namespace (as a runtime creates it before calling the plugin).
    fn pod(&mut self, name: &str) -> String {
        let ns = format!("bgc-{}-{name}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        ip(&["netns", "add", &ns]);
        self.pods.push(ns.clone());
        ns
    }

    /// The network configuration, with `extra` keys merged in.
    fn conf(&self, extra: Value) -> Value {
        let mut c = json!({
            "cniVersion": "1.1.0",
            "name": "pods",
            "type": "bgplane",
            "podCIDR": "10.1.0.0/24",
            "dataDir": self.data.join("state"),
        });
        if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                if v.is_null() {
                    c.remove(k);
                } else {
                    c.insert(k.clone(), v.clone());
                }
            }
        }
        c
    }

    /// Runs `bgplane cni` in the node's namespace with `CNI_COMMAND=command`.
    fn cni(&self, command: &str, pod: Option<&str>, conf: &Value) -> Reply {
        self.invoke(&[BIN, "cni"], command, pod, "eth0", conf)
    }

    /// Runs the plugin as a runtime does: `<CNI_PATH>/<type>` with no arguments.
    fn runtime(&self, command: &str, pod: Option<&str>, conf: &Value) -> Reply {
        let exe = self.bin_dir.join("bgplane");
        self.invoke(&[exe.to_str().unwrap()], command, pod, "eth0", conf)
    }

    fn invoke(
        &self,
        argv: &[&str],
        command: &str,
        pod: Option<&str>,
        ifname: &str,
        conf: &Value,
    ) -> Reply {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(argv);
        for (k, _) in std::env::vars() {
            if k.starts_with("CNI_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("CNI_COMMAND", command)
            .env("CNI_PATH", &self.bin_dir)
            .env("BGPLANE_LOG", "debug");
        if let Some(p) = pod {
            cmd.env("CNI_CONTAINERID", format!("ctr-{p}"))
                .env("CNI_NETNS", format!("/run/netns/{p}"))
                .env("CNI_IFNAME", ifname)
                .env(
                    "CNI_ARGS",
                    format!("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={p}"),
                );
        }
        run(cmd, conf)
    }

    fn host_routes(&self, v6: bool) -> String {
        ip_out(&[
            "-n",
            &self.name,
            if v6 { "-6" } else { "-4" },
            "route",
            "show",
        ])
    }

    fn links(&self) -> String {
        ip_out(&["-n", &self.name, "-o", "link", "show"])
    }

    fn allocations(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.data.join("state/pods"))
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n != "lock")
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        for p in self.pods.iter().chain(std::iter::once(&self.name)) {
            let _ = Command::new("ip").args(["netns", "del", p]).output();
        }
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// What an invocation printed and how it exited.
pub(crate) struct Reply {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {:?}\n{}",
                self.stdout, self.stderr
            )
        })
    }

    fn success(self) -> Reply {
        assert!(
            self.ok,
            "the plugin failed: {}\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The error result, checked for the specification's shape.
    fn error(&self) -> Value {
        assert!(!self.ok, "expected a failure, got: {}", self.stdout);
        let e = self.json();
        assert!(e["cniVersion"].is_string(), "{e}");
        assert!(e["code"].is_u64(), "{e}");
        assert!(e["msg"].is_string() && e["details"].is_string(), "{e}");
        e
    }
}

pub(crate) fn run(mut cmd: Command, stdin: &Value) -> Reply {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start the plugin");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.to_string().as_bytes())
        .expect("write the configuration");
    let out: Output = child.wait_with_output().expect("wait for the plugin");
    Reply {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Pings `addr` from namespace `ns`, a few tries (carrier takes a moment to come up).
pub(crate) fn pings(ns: &str, addr: &str) -> bool {
    (0..5).any(|_| {
        Command::new("ip")
            .args(["netns", "exec", ns, "ping", "-c", "1", "-W", "1", addr])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

pub(crate) fn with_prev(conf: &Value, result: &Value) -> Value {
    let mut c = conf.clone();
    c["prevResult"] = result.clone();
    c
}

pub(crate) fn host_if(result: &Value) -> String {
    result["interfaces"][0]["name"]
        .as_str()
        .unwrap()
        .to_string()
}
