//! The lab's state on disk (`<lab dir>/state.json`): the plan, and for each node the
//! supervisor's pid and start time. It is written *before* anything is created, so a lab
//! interrupted at any point (crash, Ctrl-C, reboot) can be destroyed completely.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::RtError;
use crate::plan::LabPlan;

/// Where the lab is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Being created.
    Deploying,
    /// Created (exec lines may have failed; see the deploy output).
    Running,
    /// Deploy failed and was rolled back, or is being destroyed.
    Destroying,
}

/// Runtime facts about one node.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NodeRt {
    /// Host pid of the node's supervisor (PID 1 of the node).
    pub pid: Option<i32>,
    /// Its start time, to recognise it.
    pub start: Option<u64>,
    /// The supervisor's control socket.
    pub socket: Option<PathBuf>,
}

/// The state file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabState {
    /// Format version.
    pub version: u32,
    /// Phase.
    pub phase: Phase,
    /// Seconds since the epoch when deploy started.
    pub created: u64,
    /// The kind cluster file, when one was given.
    pub cluster_file: Option<PathBuf>,
    /// The plan.
    pub plan: LabPlan,
    /// Per node, parallel to `plan.nodes`.
    pub nodes: Vec<NodeRt>,
}

impl LabState {
    /// A fresh state for a plan.
    pub fn new(plan: LabPlan, cluster_file: Option<PathBuf>) -> LabState {
        let n = plan.nodes.len();
        LabState {
            version: 1,
            phase: Phase::Deploying,
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            cluster_file,
            plan,
            nodes: vec![NodeRt::default(); n],
        }
    }

    /// The state file of a lab directory.
    pub fn path(lab_dir: &Path) -> PathBuf {
        lab_dir.join("state.json")
    }

    /// Writes the state atomically.
    pub fn save(&self) -> Result<(), RtError> {
        let dir = &self.plan.lab_dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| RtError::io(format!("create {}", dir.display()), e))?;
        let tmp = dir.join(".state.json.tmp");
        let text = serde_json::to_vec_pretty(self).map_err(|e| RtError::Lab {
            lab: self.plan.name.clone(),
            msg: e.to_string(),
        })?;
        std::fs::write(&tmp, text)
            .map_err(|e| RtError::io(format!("write {}", tmp.display()), e))?;
        std::fs::rename(&tmp, Self::path(dir))
            .map_err(|e| RtError::io(format!("rename {}", tmp.display()), e))
    }

    /// Loads a lab's state, if it has one.
    pub fn load(lab_dir: &Path) -> Result<Option<LabState>, RtError> {
        let p = Self::path(lab_dir);
        match std::fs::read(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| RtError::Lab {
                    lab: lab_dir.display().to_string(),
                    msg: format!("corrupt {}: {e}", p.display()),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RtError::io(format!("read {}", p.display()), e)),
        }
    }

    /// Names of the labs under `root` that have state.
    pub fn list(root: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(root)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().join("state.json").exists())
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// An exclusive lock on a lab directory, held while deploying or destroying.
pub struct LabLock(#[allow(dead_code)] Flock<File>);

impl LabLock {
    /// Takes the lock, failing at once if another bgplane holds it.
    pub fn take(lab_dir: &Path, lab: &str) -> Result<LabLock, RtError> {
        std::fs::create_dir_all(lab_dir)
            .map_err(|e| RtError::io(format!("create {}", lab_dir.display()), e))?;
        let p = lab_dir.join(".lock");
        let f = File::create(&p).map_err(|e| RtError::io(format!("create {}", p.display()), e))?;
        Flock::lock(f, FlockArg::LockExclusiveNonblock)
            .map(LabLock)
            .map_err(|(_, e)| RtError::Lab {
                lab: lab.to_string(),
                msg: format!("another bgplane is deploying or destroying this lab ({e})"),
            })
    }
}
