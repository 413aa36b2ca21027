//! Starting a node: `bgplane lab __node SPEC` in new mount, UTS and PID namespaces, inside
//! the node's network namespace, as a new session (detached from the caller's terminal).

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::sched::{setns, unshare, CloneFlags};

use super::{proc, RtError};
use crate::cli::SelfExe;

/// The supervisor of a started node.
#[derive(Clone, Copy, Debug)]
pub struct Started {
    /// Host pid of the node's PID 1.
    pub pid: i32,
    /// Its start time.
    pub start: Option<u64>,
}

/// Starts a node's supervisor and waits until it is ready to run commands.
pub fn start_node(
    exe: &SelfExe,
    node: &str,
    spec: &Path,
    netns: &OwnedFd,
    env: &[(String, String)],
    log: &Path,
) -> Result<Started, RtError> {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| RtError::io(format!("open {}", log.display()), e))?;
    let ns = netns
        .try_clone()
        .map_err(|e| RtError::io("dup namespace handle", e))?;
    let mut cmd = Command::new(&exe.path);
    cmd.args(&exe.prefix)
        .arg("__node")
        .arg(spec)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .current_dir("/");
    enter_namespaces_before_exec(&mut cmd, ns);
    let mut child = cmd.spawn().map_err(|e| {
        RtError::node(
            node,
            format!("start supervisor {}: {e}", exe.path.display()),
        )
    })?;
    let mut out = String::new();
    if let Some(mut so) = child.stdout.take() {
        // Ends when both the launcher and PID 1 have closed it (PID 1 after "ready").
        let _ = so.read_to_string(&mut out);
    }
    let _ = child.wait();
    let pid = out.lines().find_map(|l| {
        l.strip_prefix("pid ")
            .and_then(|p| p.trim().parse::<i32>().ok())
    });
    let ready = out.lines().any(|l| l == "ready");
    match (pid, ready) {
        (Some(pid), true) => Ok(Started {
            pid,
            start: proc::start_time(pid),
        }),
        _ => {
            let why = out
                .lines()
                .find_map(|l| l.strip_prefix("error: "))
                .map(str::to_string)
                .unwrap_or_else(|| {
                    let tail = std::fs::read_to_string(log).unwrap_or_default();
                    let tail: Vec<&str> = tail.lines().rev().take(5).collect();
                    format!(
                        "supervisor did not start ({})",
                        tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
                    )
                });
            if let Some(pid) = pid {
                proc::kill_if_same(pid, None);
            }
            Err(RtError::node(node, why))
        }
    }
}

/// Makes the child join the node's network namespace and create its own mount, UTS and
/// PID namespaces (its children are then PID 1, 2, … of the node) in a new session.
#[allow(unsafe_code)]
fn enter_namespaces_before_exec(cmd: &mut Command, netns: OwnedFd) {
    // SAFETY: the closure runs in the forked child before exec. It only makes system calls
    // (setsid, setns, unshare) on a descriptor it owns; it allocates nothing and touches no
    // lock, so it is async-signal-safe as `pre_exec` requires. `netns` is CLOEXEC (dup'ed
    // with F_DUPFD_CLOEXEC), so it does not leak into the node.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid()?;
            setns(&netns, CloneFlags::CLONE_NEWNET)?;
            unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWPID)?;
            Ok(())
        });
    }
}
