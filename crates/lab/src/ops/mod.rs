//! The user-facing operations of `bgplane lab`.

pub mod check;
pub mod deploy;
pub mod destroy;
pub mod exec;
pub mod explain;
pub mod generate;
pub mod graph;
mod graph_html;
pub mod inspect;
pub mod link;
pub mod save;
pub mod table;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::plan::{self, LabPlan, PlanInput};
use crate::rt::state::LabState;
use crate::rt::RtError;
use crate::topo::cluster::{parse_cluster, parse_cluster_file, Cluster};
use crate::topo::{parse_topology, ClusterRef, TopoError};

/// Errors of the operations layer.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// A file problem.
    #[error(transparent)]
    Topo(#[from] TopoError),
    /// A runtime problem.
    #[error(transparent)]
    Rt(#[from] RtError),
    /// No deployed lab matches.
    #[error("{0}")]
    NotFound(String),
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// Deploy finished but exec lines failed.
    #[error("{count} exec command(s) failed; the lab is up (see the output above)")]
    ExecFailed {
        /// How many.
        count: usize,
    },
    /// `check` found unmet expectations.
    #[error("{failed} of {total} reachability checks did not meet expectations")]
    CheckFailed {
        /// Failed checks.
        failed: usize,
        /// All checks.
        total: usize,
    },
}

/// Loads the topology and the kind cluster (from `--cluster`, else the topology's
/// `cluster:` key) and builds the plan.
pub fn load_plan(
    topo_file: &Path,
    cluster_file: Option<&Path>,
    cluster_name: Option<&str>,
    root: &Path,
) -> Result<(LabPlan, Option<PathBuf>), OpError> {
    let topo = parse_topology(topo_file)?;
    let mut cluster_path = None;
    let mut cluster: Option<Cluster> = match (cluster_file, &topo.cluster) {
        (Some(f), _) => {
            cluster_path = Some(f.to_path_buf());
            Some(parse_cluster_file(f)?)
        }
        (None, Some(ClusterRef::File(p, loc))) => {
            let full = topo_file.parent().unwrap_or(Path::new(".")).join(p);
            cluster_path = Some(full.clone());
            // A missing file is the topology's error: name its `cluster:` line.
            Some(parse_cluster_file(&full).map_err(|e| match e {
                TopoError::Read { source, .. } => TopoError::Invalid {
                    loc: loc.clone(),
                    key: "cluster".into(),
                    msg: format!("cannot read kind cluster file {}: {source}", full.display()),
                },
                e => e,
            })?)
        }
        (None, Some(ClusterRef::Inline(node))) => Some(parse_cluster(node)?),
        (None, None) => None,
    };
    if let (Some(c), Some(name)) = (cluster.as_mut(), cluster_name) {
        rename_cluster(c, name);
    }
    let mut plan = plan::build(PlanInput {
        topo: &topo,
        cluster: cluster.as_ref(),
        root,
    })?;
    if cluster_file.is_some() && topo.cluster.is_some() {
        plan.notes
            .push("--cluster replaces the topology's `cluster:` key".into());
    }
    Ok((plan, cluster_path))
}

/// `kind create cluster --name`: renames the cluster and its nodes.
fn rename_cluster(c: &mut Cluster, name: &str) {
    let old = format!("{}-", c.name);
    for n in &mut c.nodes {
        if let Some(rest) = n.name.strip_prefix(&old) {
            n.name = format!("{name}-{rest}");
            for (k, v) in &mut n.labels {
                if k == "kubernetes.io/hostname" {
                    v.clone_from(&n.name);
                }
            }
        }
    }
    c.name = name.to_string();
}

/// Which lab a command is about: `-t topo.yaml`, `--name`, or the only deployed lab.
#[derive(Clone, Debug, Default)]
pub struct LabSel {
    /// Topology file.
    pub topo: Option<PathBuf>,
    /// Lab name.
    pub name: Option<String>,
}

impl LabSel {
    /// The lab name this selection designates.
    pub fn lab_name(&self, root: &Path) -> Result<String, OpError> {
        if let Some(n) = &self.name {
            return Ok(n.clone());
        }
        if let Some(t) = &self.topo {
            return Ok(parse_topology(t)?.name);
        }
        let labs = LabState::list(root);
        match labs.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(OpError::NotFound(format!(
                "no lab is deployed (under {})",
                root.display()
            ))),
            many => Err(OpError::Usage(format!(
                "several labs are deployed ({}): choose one with --name or -t",
                many.join(", ")
            ))),
        }
    }

    /// Loads the selected lab's state.
    pub fn state(&self, root: &Path) -> Result<LabState, OpError> {
        let name = self.lab_name(root)?;
        let dir = root.join(&name);
        LabState::load(&dir)?.ok_or_else(|| {
            OpError::NotFound(format!(
                "lab {name} is not deployed (no state in {})",
                dir.display()
            ))
        })
    }
}

/// Output format of commands that print tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable table.
    #[default]
    Table,
    /// JSON.
    Json,
}

/// Runs `f` over `items` on up to `threads` threads, keeping the order of results.
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(usize, &T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= items.len() {
                    break;
                }
                let r = f(i, &items[i]);
                if let Ok(mut o) = out.lock() {
                    o[i] = Some(r);
                }
            });
        }
    });
    out.into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.expect("every item was processed"))
        .collect()
}

/// Prints a JSON value to stdout.
pub fn print_json<T: serde::Serialize>(v: &T) -> Result<(), OpError> {
    let s = serde_json::to_string_pretty(v).map_err(|e| RtError::io("encode JSON", e.into()))?;
    println!("{s}");
    Ok(())
}

#[cfg(test)]
mod tests;
