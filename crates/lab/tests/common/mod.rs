//! Helpers of the end-to-end tests: they need root (network namespaces) and skip with a
//! message otherwise; FRR comes from the Debian package.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

#[path = "../../../../tests/support/skip.rs"]
mod skip;

/// Why an end-to-end test cannot run here, if it cannot.
pub fn skip_reason(need_frr: bool) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root (network namespaces); run as root, as CI does".into());
    }
    if need_frr && !Path::new("/usr/lib/frr/frrinit.sh").exists() {
        return Some("needs FRR (apt-get install frr)".into());
    }
    None
}

/// Prints the skip message and returns true when the test must be skipped.
pub fn skip(test: &str, need_frr: bool) -> bool {
    match skip_reason(need_frr) {
        Some(why) => {
            say_skipped(test, &why);
            true
        }
        None => false,
    }
}

/// Prints a skip message past libtest's output capture (which only catches `print!`), so
/// it shows in CI logs; under `BGPLANE_TEST_REQUIRE_ALL=1` (every test must really run)
/// panics with it instead.
pub fn say_skipped(test: &str, why: &str) {
    skip::skipped(&format!("SKIPPED {test}: {why}"));
}

/// The examples directory.
pub fn example(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(p)
}

/// A lab driven through the `bgplane-lab` binary, with its own lab directory. Destroys
/// the lab when dropped (so a failing test leaves nothing behind).
pub struct Lab {
    /// Lab directory root (a temporary directory).
    pub root: tempfile::TempDir,
    /// Lab name.
    pub name: String,
    /// The host namespace's veth and bridge interfaces before the lab was deployed.
    pub host_ifs_before: Vec<String>,
}

impl Lab {
    /// A fresh root for lab `name`.
    pub fn new(name: &str) -> Lab {
        std::fs::create_dir_all("/var/lib/bgplane").expect("create /var/lib/bgplane");
        let root = tempfile::Builder::new()
            .prefix("lab-test-")
            .tempdir_in("/var/lib/bgplane")
            .expect("tempdir");
        Lab {
            root,
            name: name.to_string(),
            host_ifs_before: host_veths_and_bridges(),
        }
    }

    /// Runs `bgplane-lab ARGS` with this lab's root.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_bgplane-lab"))
            .args(args)
            .env("BGPLANE_LAB_DIR", self.root.path())
            .output()
            .expect("run bgplane-lab")
    }

    /// Runs and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "bgplane-lab {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs with `-o json` and parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        let text = self.ok(&a);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: bad JSON ({e}):\n{text}"))
    }

    /// `exec NODE -- vtysh -c CMD` parsed as JSON.
    pub fn vtysh_json(&self, node: &str, cmd: &str) -> serde_json::Value {
        let out = self.ok(&["exec", "--name", &self.name, node, "--", "vtysh", "-c", cmd]);
        serde_json::from_str(&out).unwrap_or(serde_json::Value::Null)
    }

    /// BGP session states of a router, by peer.
    pub fn bgp_states(&self, node: &str) -> Vec<(String, String)> {
        let v = self.vtysh_json(node, "show bgp ipv4 summary json");
        let peers = v
            .get("ipv4Unicast")
            .and_then(|a| a.get("peers"))
            .or_else(|| v.get("peers"));
        let mut out: Vec<(String, String)> = peers
            .and_then(|p| p.as_object())
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v["state"].as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// Waits until `pred` holds (polling), or panics with `what` after `secs`.
    pub fn wait_for(&self, secs: u64, what: &str, mut pred: impl FnMut() -> bool) {
        let t = Instant::now();
        while !pred() {
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "timed out after {secs}s waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Netns names of the lab, from its state file (read before destroy).
    pub fn netns_names(&self) -> Vec<String> {
        let st: serde_json::Value = serde_json::from_slice(
            &std::fs::read(self.root.path().join(&self.name).join("state.json")).expect("state"),
        )
        .expect("state JSON");
        let mut v = vec![st["plan"]["lab_netns"]
            .as_str()
            .unwrap_or_default()
            .to_string()];
        for n in st["plan"]["nodes"].as_array().expect("nodes") {
            if let Some(ns) = n["netns"].as_str() {
                v.push(ns.to_string());
            }
        }
        v
    }

    /// Processes inside the lab's network namespaces (pid, start time, command).
    pub fn processes(&self) -> Vec<(u32, String, String)> {
        use std::os::unix::fs::MetadataExt;
        let inodes: Vec<u64> = self
            .netns_names()
            .iter()
            .filter_map(|n| {
                std::fs::metadata(Path::new("/run/netns").join(n))
                    .ok()
                    .map(|m| m.ino())
            })
            .collect();
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").expect("proc").flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(m) = std::fs::metadata(format!("/proc/{pid}/ns/net")) else {
                continue;
            };
            if inodes.contains(&m.ino()) {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let start = stat
                    .rsplit(')')
                    .next()
                    .and_then(|r| r.split_whitespace().nth(19))
                    .unwrap_or("")
                    .to_string();
                let cmd = String::from_utf8_lossy(
                    &std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default(),
                )
                .replace('\0', " ");
                out.push((pid, start, cmd));
            }
        }
        out
    }

    /// Asserts that the host's own namespace has no veth or bridge that it did not have
    /// before the lab was deployed: the lab creates them only in its own namespaces.
    pub fn assert_no_host_veth_or_bridge_added(&self, when: &str) {
        let now = host_veths_and_bridges();
        let added: Vec<&String> = now
            .iter()
            .filter(|i| !self.host_ifs_before.contains(i))
            .collect();
        assert!(
            added.is_empty(),
            "{when}: the host namespace gained {added:?} (before the lab: {:?})",
            self.host_ifs_before
        );
    }

    /// Destroys the lab and checks that nothing of it remains: no namespace, no process,
    /// no mount, no interface.
    pub fn destroy_and_check_clean(&self) {
        let names = self.netns_names();
        let procs = self.processes();
        assert!(!procs.is_empty(), "a running lab has processes");
        self.assert_no_host_veth_or_bridge_added("while the lab runs");
        let links_before = host_links();
        self.ok(&["destroy", "--name", &self.name, "--cleanup"]);
        assert_clean(&names, self.root.path());
        self.assert_no_host_veth_or_bridge_added("after destroy");
        for (pid, start, cmd) in procs {
            let now = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let rest: Vec<&str> = now
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            let zombie = rest.first() == Some(&"Z");
            let same = rest.get(19).map(|s| s.to_string()) == Some(start);
            assert!(
                !same || zombie,
                "process {pid} ({cmd}) of the lab survived destroy"
            );
        }
        assert_eq!(
            host_links(),
            links_before,
            "the host's own interfaces did not change"
        );
        // Idempotent.
        let again = self.ok(&["destroy", "--name", &self.name]);
        assert!(again.contains("nothing to destroy"), "{again}");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.run(&["destroy", "--name", &self.name, "--cleanup"]);
    }
}

/// Interfaces of the host's own namespace.
pub fn host_links() -> Vec<String> {
    let out = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .expect("ip link");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1).map(|s| s.trim().to_string()))
        .collect();
    v.sort();
    v
}

/// The host namespace's veth and bridge interfaces, as `veth NAME` / `bridge NAME`.
pub fn host_veths_and_bridges() -> Vec<String> {
    let mut v = Vec::new();
    for kind in ["veth", "bridge"] {
        let out = Command::new("ip")
            .args(["-o", "link", "show", "type", kind])
            .output()
            .expect("ip link show type");
        assert!(out.status.success(), "ip link show type {kind} failed");
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            // `7: name@peer: <...>`: the name without the peer.
            if let Some(name) = l.split(':').nth(1) {
                let name = name.trim().split('@').next().unwrap_or("");
                v.push(format!("{kind} {name}"));
            }
        }
    }
    v.sort();
    v
}

/// A process's state letter and start time (field 22 of /proc/PID/stat), if it exists.
pub fn proc_state(pid: u32) -> Option<(String, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    Some((rest.first()?.to_string(), rest.get(19)?.to_string()))
}

/// A process's parent pid, from /proc/PID/status.
pub fn parent_pid(pid: u32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))?
        .trim()
        .parse()
        .ok()
}

/// Asserts that no namespace, process or mount of a destroyed lab remains.
pub fn assert_clean(netns: &[String], root: &Path) {
    let listed = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .expect("ip netns")
            .stdout,
    )
    .into_owned();
    for ns in netns {
        assert!(
            !listed
                .lines()
                .any(|l| l.split_whitespace().next() == Some(ns.as_str())),
            "namespace {ns} remains:\n{listed}"
        );
        assert!(
            !Path::new("/run/netns").join(ns).exists(),
            "/run/netns/{ns} remains"
        );
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    for ns in netns {
        assert!(
            !mounts
                .lines()
                .any(|l| l.contains(&format!("/run/netns/{ns} "))),
            "mount of {ns} remains"
        );
    }
    let root_s = root.to_string_lossy().into_owned();
    for e in std::fs::read_dir("/proc").expect("proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(
            !cmdline.contains(&root_s),
            "process {pid} of the lab remains: {cmdline}"
        );
    }
}
