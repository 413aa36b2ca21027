//! `lab destroy`: ends every process of the lab (by pid, checked against its start time),
//! removes its namespaces (their veths and bridges go with them) and its state. Idempotent,
//! and works from the state file alone, so it also cleans up after a crash.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{print_json, Format, LabSel, OpError};
use crate::rt::state::{LabLock, LabState};
use crate::rt::{netns, proc, require_root, RtError};

/// What a teardown removed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Removed {
    /// Lab name.
    pub lab: String,
    /// Supervisors killed.
    pub supervisors: usize,
    /// Other processes found in the lab's namespaces and killed.
    pub stray_processes: usize,
    /// Namespaces removed.
    pub namespaces: usize,
    /// Pods removed (CNI DEL, their namespaces and processes).
    pub pods: usize,
    /// Seconds taken.
    pub seconds: f64,
}

/// True if any supervisor of the lab is still running.
pub fn any_alive(st: &LabState) -> bool {
    st.nodes
        .iter()
        .any(|n| n.pid.is_some_and(|p| proc::alive(p, n.start)))
}

fn wait_gone(pids: &[(i32, Option<u64>)]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|(p, s)| proc::alive(*p, *s)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Removes everything of a lab. With `cleanup`, also its directory (node files, logs).
pub fn teardown(st: &LabState, cleanup: bool) -> Result<Removed, RtError> {
    let t = Instant::now();
    let mut r = Removed {
        lab: st.plan.name.clone(),
        ..Removed::default()
    };
    // Pods first, while their nodes are there for the CNI plugins' DEL.
    r.pods = crate::cluster::pods::teardown(st);
    let mut killed: Vec<(i32, Option<u64>)> = Vec::new();
    // PID 1 of each node: killing it kills every process of the node's PID namespace.
    for n in &st.nodes {
        if let Some(pid) = n.pid {
            if proc::kill_if_same(pid, n.start) {
                r.supervisors += 1;
                killed.push((pid, n.start));
            }
        }
    }
    // PID 1 exits only after every process of its namespace is gone.
    wait_gone(&killed);
    // Anything else still inside the lab's network namespaces (e.g. `ip netns exec`).
    let names = st.plan.all_netns();
    let mut strays = Vec::new();
    for name in &names {
        if let Some(ino) = netns::inode(name) {
            for pid in proc::pids_in_netns(ino) {
                let start = proc::start_time(pid);
                if proc::kill_if_same(pid, start) {
                    r.stray_processes += 1;
                    strays.push((pid, start));
                }
            }
        }
    }
    wait_gone(&strays);
    for name in &names {
        if netns::delete(name)? {
            r.namespaces += 1;
        }
    }
    let dir = &st.plan.lab_dir;
    let run = dir.join("run");
    if run.exists() {
        std::fs::remove_dir_all(&run)
            .map_err(|e| RtError::io(format!("remove {}", run.display()), e))?;
    }
    let state = LabState::path(dir);
    if state.exists() {
        std::fs::remove_file(&state)
            .map_err(|e| RtError::io(format!("remove {}", state.display()), e))?;
    }
    if cleanup && dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| RtError::io(format!("remove {}", dir.display()), e))?;
    }
    r.seconds = t.elapsed().as_secs_f64();
    Ok(r)
}

/// `lab destroy`.
pub fn destroy_cmd(
    root: &Path,
    sel: &LabSel,
    all: bool,
    cleanup: bool,
    format: Format,
) -> Result<(), OpError> {
    require_root("bgplane lab destroy")?;
    let names = if all {
        LabState::list(root)
    } else {
        vec![sel.lab_name(root)?]
    };
    let mut out = Vec::new();
    for name in names {
        let dir = root.join(&name);
        let _lock = if dir.exists() {
            Some(LabLock::take(&dir, &name)?)
        } else {
            None
        };
        match LabState::load(&dir)? {
            Some(st) => out.push(teardown(&st, cleanup)?),
            None => {
                if cleanup && dir.exists() {
                    std::fs::remove_dir_all(&dir)
                        .map_err(|e| RtError::io(format!("remove {}", dir.display()), e))?;
                }
                out.push(Removed {
                    lab: name,
                    ..Removed::default()
                });
            }
        }
    }
    if format == Format::Json {
        return print_json(&out);
    }
    for r in &out {
        if r.namespaces == 0 && r.supervisors == 0 {
            println!("lab {}: nothing to destroy", r.lab);
        } else {
            let pods = if r.pods > 0 {
                format!(", {} pods", r.pods)
            } else {
                String::new()
            };
            println!(
                "lab {}: destroyed in {:.2}s ({} node supervisors, {} other processes, {} namespaces{pods})",
                r.lab, r.seconds, r.supervisors, r.stray_processes, r.namespaces
            );
        }
    }
    Ok(())
}
