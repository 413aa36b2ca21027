//! Entering the pod's network namespace: the work is done on a thread that has entered it,
//! so the plugin's own thread stays in the host's namespace.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};

use crate::error::CniError;

/// Opens the namespace file `CNI_NETNS` names.
pub(crate) fn open(path: &Path) -> Result<OwnedFd, CniError> {
    File::open(path)
        .map(OwnedFd::from)
        .map_err(|e| CniError::Env {
            var: "CNI_NETNS",
            why: format!("cannot open {}: {e}", path.display()),
        })
}

/// Runs `f` on a thread that has entered the network namespace `ns` (opened from `path`,
/// named in errors).
pub(crate) fn run_in<T: Send>(
    ns: BorrowedFd<'_>,
    path: &Path,
    f: impl FnOnce() -> Result<T, CniError> + Send,
) -> Result<T, CniError> {
    std::thread::scope(|s| {
        s.spawn(move || {
            setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| match e {
                Errno::EINVAL => CniError::Env {
                    var: "CNI_NETNS",
                    why: format!("{} is not a network namespace", path.display()),
                },
                e => CniError::sys(format!("enter network namespace {}", path.display()), e),
            })?;
            f()
        })
        .join()
        .unwrap_or_else(|_| {
            Err(CniError::sys(
                format!(
                    "work in network namespace {} (the thread panicked)",
                    path.display()
                ),
                Errno::EIO,
            ))
        })
    })
}

/// Writes a sysctl (`net.ipv4.conf.eth0.forwarding`) in the calling thread's network
/// namespace, unless it already has that value. Interface names may contain dots, so the
/// key is given as path components.
pub(crate) fn set_sysctl(parts: &[&str], value: &str) -> Result<(), CniError> {
    let path = Path::new("/proc/sys").join(parts.join("/"));
    let key = parts.join(".");
    if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(&path, value).map_err(|e| CniError::io(format!("set sysctl {key}={value}"), e))
}
