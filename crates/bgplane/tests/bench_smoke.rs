//! `bgplane bench rr-scale` and `bgplane bench fib-install`, run small through the real
//! command: every row succeeds, the counts add up, and no namespace of the harness is left.
//!
//! Needs root (network namespaces) and BIRD (Debian package `bird2`); skips with a message
//! otherwise (fails under `BGPLANE_TEST_REQUIRE_ALL=1`).

use std::process::Command;

use serde_json::Value;

#[path = "../../../tests/support/skip.rs"]
mod skip;

fn skip() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false);
    if !root {
        skip::skipped("skipped: needs root (network namespaces); run with sudo");
        return true;
    }
    if !["/usr/sbin/bird", "/usr/bin/bird"]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
    {
        skip::skipped("skipped: BIRD is not installed (apt-get install bird2)");
        return true;
    }
    false
}

fn bench(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_bgplane"))
        .arg("bench")
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("bgplane runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bgplane bench {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn leftover_namespaces() -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| {
            n.starts_with("bgb-")
                && (n.ends_with("-rr") || n.ends_with("-cl") || n.contains("-fib-"))
        })
        .map(str::to_string)
        .collect()
}

/// The two tests share the machine and the namespace names' pid: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn rr_scale_converges_every_client_for_bgplane_and_bird() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if skip() {
        return;
    }
    let n = 40u64;
    let r = bench(&["rr-scale", "--dut", "bgplane,bird", "--clients", "40"]);
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{r:#}");
    for row in rows {
        assert_eq!(row["result"], "ok", "{row:#}");
        assert_eq!(row["clients"], n);
        assert!(row["converge_seconds"].as_f64().unwrap() > 0.0, "{row:#}");
        assert!(
            row["peak_rss_bytes"].as_u64().unwrap() > 1_000_000,
            "{row:#}"
        );
        // Every client received at least the other n-1 routes.
        assert!(
            row["updates_to_clients"].as_u64().unwrap() >= n * (n - 1),
            "{row:#}"
        );
    }
    assert!(
        leftover_namespaces().is_empty(),
        "{:?}",
        leftover_namespaces()
    );
}

#[test]
fn fib_install_puts_every_prefix_in_the_kernel_for_bgplane_and_bird() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if skip() {
        return;
    }
    let r = bench(&["fib-install", "--prefixes", "5000", "--sets", "500"]);
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{r:#}");
    for row in rows {
        assert_eq!(row["result"], "ok", "{row:#}");
        assert_eq!(row["in_kernel"], 5000, "{row:#}");
        assert!(row["seconds"].as_f64().unwrap() > 0.0, "{row:#}");
    }
    assert!(
        leftover_namespaces().is_empty(),
        "{:?}",
        leftover_namespaces()
    );
}
