//! Tests of [`load_plan`]: where the kind cluster comes from (`--cluster`, the topology's
//! `cluster:` key) and `--cluster-name`.

use std::path::{Path, PathBuf};

use super::*;
use crate::plan::Ns;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write test file");
    p
}

/// A kind file listing a worker first: kind still names the control plane first.
const SEED: &str = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: seed\nnodes:\n- role: worker\n- role: control-plane\n- role: worker\n";
const OTHER: &str = "kind: Cluster\nname: other\nnodes:\n- role: control-plane\n- role: worker\n";
const TOPO: &str = "name: ck\ncluster: kind.yaml\ntopology:\n  nodes:\n    s0: {network-mode: \"container:control-plane\"}\n    s1: {network-mode: \"container:worker\"}\n";

fn names(p: &LabPlan) -> Vec<&str> {
    p.nodes.iter().map(|n| n.name.as_str()).collect()
}

/// The node whose namespace `node` shares.
fn owner<'a>(p: &'a LabPlan, node: &str) -> &'a str {
    match p.nodes[p.node_index(node).expect("node")].ns {
        Ns::Node(i) => &p.nodes[i].name,
        Ns::Lab => "lab",
    }
}

#[test]
fn a_cluster_key_naming_a_file_loads_it_relative_to_the_topology() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "kind.yaml", SEED);
    let topo = write(dir.path(), "topo.yaml", TOPO);
    let (p, path) = load_plan(&topo, None, None, Path::new("/labs")).unwrap();
    assert_eq!(path, Some(dir.path().join("kind.yaml")));
    assert_eq!(p.cluster_name.as_deref(), Some("seed"));
    assert_eq!(
        names(&p),
        [
            "seed-control-plane",
            "seed-worker",
            "seed-worker2",
            "s0",
            "s1"
        ]
    );
    assert_eq!(owner(&p, "s0"), "seed-control-plane");
    assert_eq!(owner(&p, "s1"), "seed-worker");
    assert!(
        !p.notes.iter().any(|n| n.contains("--cluster")),
        "{:?}",
        p.notes
    );
}

#[test]
fn cluster_name_renames_the_nodes_as_kind_create_cluster_name_does() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "kind.yaml", SEED);
    let topo = write(dir.path(), "topo.yaml", TOPO);
    let (p, _) = load_plan(&topo, None, Some("lab2"), Path::new("/labs")).unwrap();
    assert_eq!(p.cluster_name.as_deref(), Some("lab2"));
    assert_eq!(
        names(&p),
        [
            "lab2-control-plane",
            "lab2-worker",
            "lab2-worker2",
            "s0",
            "s1"
        ]
    );
    let hostnames: Vec<&str> = p.nodes[..3]
        .iter()
        .map(|n| {
            n.labels
                .iter()
                .find(|(k, _)| k == "kubernetes.io/hostname")
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        })
        .collect();
    assert_eq!(
        hostnames,
        ["lab2-control-plane", "lab2-worker", "lab2-worker2"]
    );
    assert_eq!(p.nodes[0].netns.as_deref(), Some("lab2-control-plane"));
    // `container:<short name>` follows the new cluster name.
    assert_eq!(owner(&p, "s0"), "lab2-control-plane");
    assert_eq!(owner(&p, "s1"), "lab2-worker");
}

#[test]
fn renaming_a_cluster_without_a_name_replaces_kinds_default_name() {
    let root = crate::topo::yaml::parse_str(
        "kind: Cluster\nnodes:\n- {}\n- role: worker\n",
        Path::new("k.yaml"),
        0,
        "",
    )
    .unwrap();
    let mut c = parse_cluster(&root).unwrap();
    assert_eq!(c.nodes[0].name, "kind-control-plane");
    rename_cluster(&mut c, "kind-2");
    assert_eq!(c.name, "kind-2");
    let n: Vec<&str> = c.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(n, ["kind-2-control-plane", "kind-2-worker"]);
}

#[test]
fn the_cluster_flag_overrides_the_topology_cluster_key() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "kind.yaml", SEED);
    let other = write(dir.path(), "other.yaml", OTHER);
    let topo = write(dir.path(), "topo.yaml", TOPO);
    let (p, path) = load_plan(&topo, Some(&other), None, Path::new("/labs")).unwrap();
    assert_eq!(path.as_deref(), Some(other.as_path()));
    assert_eq!(p.cluster_name.as_deref(), Some("other"));
    assert_eq!(
        names(&p),
        ["other-control-plane", "other-worker", "s0", "s1"]
    );
    assert_eq!(owner(&p, "s1"), "other-worker");
    assert!(
        p.notes
            .iter()
            .any(|n| n == "--cluster replaces the topology's `cluster:` key"),
        "{:?}",
        p.notes
    );
    // With --cluster-name too, the renaming applies to the --cluster file.
    let (p, _) = load_plan(&topo, Some(&other), Some("x"), Path::new("/labs")).unwrap();
    assert_eq!(names(&p), ["x-control-plane", "x-worker", "s0", "s1"]);
    // The key's file is not read at all when --cluster is given.
    let missing = write(
        dir.path(),
        "topo2.yaml",
        &TOPO.replace("kind.yaml", "missing.yaml"),
    );
    let (p, _) = load_plan(&missing, Some(&other), None, Path::new("/labs")).unwrap();
    assert_eq!(p.cluster_name.as_deref(), Some("other"));
}

#[test]
fn a_cluster_key_naming_a_missing_file_names_the_topology_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let topo = write(
        dir.path(),
        "topo.yaml",
        &TOPO.replace("kind.yaml", "missing.yaml"),
    );
    let e = load_plan(&topo, None, None, Path::new("/labs"))
        .unwrap_err()
        .to_string();
    let want = format!(
        "{}:2:10: `cluster`: cannot read kind cluster file {}",
        topo.display(),
        dir.path().join("missing.yaml").display()
    );
    assert!(e.starts_with(&want), "wanted `{want}…`\ngot `{e}`");
}

#[test]
fn an_inline_cluster_key_reports_errors_under_the_cluster_key() {
    let dir = tempfile::tempdir().unwrap();
    let topo = write(
        dir.path(),
        "topo.yaml",
        "name: ck\ncluster:\n  kind: Cluster\n  nodes:\n  - role: master\ntopology: {}\n",
    );
    let e = load_plan(&topo, None, None, Path::new("/labs"))
        .unwrap_err()
        .to_string();
    let want = format!(
        "{}:5:11: `cluster.nodes[0].role`: unknown role `master`",
        topo.display()
    );
    assert!(e.starts_with(&want), "wanted `{want}…`\ngot `{e}`");
}
