//! The `lab graph` page, rendered by headless Chromium: the page's script runs without
//! error and draws every node and link. Skipped with a message when Chromium is absent
//! (apt package `chromium`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|b| {
            std::env::var_os("PATH").and_then(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join(b))
                    .find(|f| f.is_file())
            })
        })
}

fn example(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(p)
}

/// Runs headless Chromium with `extra` arguments on `page`, with a time limit.
fn run_chromium(bin: &Path, profile: &Path, extra: &[&str], page: &Path) -> String {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start chromium");
    let t = Instant::now();
    loop {
        if child.try_wait().expect("wait chromium").is_some() {
            break;
        }
        if t.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish in 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("chromium output");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn check_page(topo: &str, cluster: &str, nodes: &[&str], edges: usize) {
    let Some(bin) = chromium() else {
        common::say_skipped(
            &format!("graph page check ({topo})"),
            "Chromium is not installed (apt-get install chromium)",
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("graph.html");
    let out = Command::new(env!("CARGO_BIN_EXE_bgplane-lab"))
        .args(["graph", "-t"])
        .arg(example(topo))
        .arg("--cluster")
        .arg(example(cluster))
        .arg("--out")
        .arg(&page)
        .env("BGPLANE_LAB_DIR", dir.path())
        .output()
        .expect("run bgplane-lab graph");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).expect("page");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained"
    );

    let profile = dir.path().join("profile");
    let dom = run_chromium(&bin, &profile, &["--dump-dom"], &page);
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "the page script ran to the end:\n{}",
        &dom[..dom.len().min(2000)]
    );
    assert!(
        dom.contains(&format!("data-nodes=\"{}\"", nodes.len())),
        "node count"
    );
    assert!(
        dom.contains(&format!("data-edges=\"{edges}\"")),
        "edge count"
    );
    let list_start = dom.find("id=\"node-list\"").expect("node list");
    let list = &dom[list_start..];
    for n in nodes {
        assert!(dom.contains(&format!("data-name=\"{n}\"")), "{n} is drawn");
        assert!(
            list.contains(&format!("<li>{n}<span")),
            "{n} is listed by the script"
        );
    }
    let shot = dir.path().join("shot.png");
    let arg = format!("--screenshot={}", shot.display());
    run_chromium(
        &bin,
        &profile,
        &[&arg, "--window-size=1400,1000", "--hide-scrollbars"],
        &page,
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 10_000,
        "the screenshot has content ({} bytes)",
        png.len()
    );
}

#[test]
fn seed_002_graph_renders_in_chromium() {
    check_page(
        "cilium-bgp-frr/topo.yaml",
        "cilium-bgp-frr/cluster.yaml",
        &[
            "router0", "tor0", "tor1", "server0", "server1", "server2", "server3",
        ],
        6,
    );
}

#[test]
fn seed_000_graph_renders_in_chromium() {
    check_page(
        "cilium-bgp-cross-as/topo-frr.yaml",
        "cilium-bgp-cross-as/cluster.yaml",
        &[
            "spine01",
            "spine02",
            "leaf01",
            "leaf02",
            "leaf01-br",
            "leaf02-br",
            "control-plane",
            "worker",
            "worker2",
            "worker3",
            "client",
        ],
        11,
    );
}
