//! Named network namespaces, exactly as `ip netns add` makes them (a bind mount of the
//! namespace onto `/run/netns/<name>`), so `ip netns exec` and `ip -n` work on lab nodes.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use super::RtError;

/// Where named namespaces live.
pub const NETNS_DIR: &str = "/run/netns";

/// The path of a named namespace.
pub fn path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// True when `/run/netns/<name>` exists.
pub fn exists(name: &str) -> bool {
    path(name).exists()
}

/// Makes `/run/netns` a shared mount point, as iproute2 does, so namespace mounts made here
/// propagate to (and are removed from) other mount namespaces.
pub fn ensure_dir() -> Result<(), RtError> {
    std::fs::create_dir_all(NETNS_DIR)
        .map_err(|e| RtError::io(format!("create {NETNS_DIR}"), e))?;
    let shared = || {
        mount(
            None::<&str>,
            NETNS_DIR,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match shared() {
        Ok(()) => Ok(()),
        Err(Errno::EINVAL) => {
            mount(
                Some(NETNS_DIR),
                NETNS_DIR,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| RtError::sys(format!("bind-mount {NETNS_DIR} onto itself"), e))?;
            shared().map_err(|e| RtError::sys(format!("make {NETNS_DIR} shared"), e))
        }
        Err(e) => Err(RtError::sys(format!("make {NETNS_DIR} shared"), e)),
    }
}

/// Creates a named namespace with loopback up and the given sysctls, and returns a handle.
pub fn create(name: &str, sysctls: &[(String, String)]) -> Result<OwnedFd, RtError> {
    let p = path(name);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                RtError::Lab {
                    lab: name.to_string(),
                    msg: format!("network namespace {name} already exists (another lab of the same name, or a leftover: `ip netns del {name}`)"),
                }
            } else {
                RtError::io(format!("create {}", p.display()), e)
            }
        })?;
    let made = std::thread::scope(|s| {
        s.spawn(|| -> Result<(), RtError> {
            unshare(CloneFlags::CLONE_NEWNET)
                .map_err(|e| RtError::sys("unshare(CLONE_NEWNET)", e))?;
            for (k, v) in sysctls {
                set_sysctl(k, v).map_err(|e| RtError::Lab {
                    lab: name.to_string(),
                    msg: format!("sysctl {k}={v} in namespace {name}: {e}"),
                })?;
            }
            let mut nl = super::netlink::Nl::open(name)?;
            nl.set_up("lo", true)?;
            let tid = nix::unistd::gettid();
            let src = format!("/proc/self/task/{tid}/ns/net");
            mount(
                Some(src.as_str()),
                &p,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| RtError::sys(format!("bind {src} to {}", p.display()), e))
        })
        .join()
        .unwrap_or_else(|_| {
            Err(RtError::Lab {
                lab: name.to_string(),
                msg: "namespace thread panicked".into(),
            })
        })
    });
    if let Err(e) = made {
        let _ = std::fs::remove_file(&p);
        return Err(e);
    }
    open(name)
}

/// Opens a named namespace.
pub fn open(name: &str) -> Result<OwnedFd, RtError> {
    File::open(path(name))
        .map(OwnedFd::from)
        .map_err(|e| RtError::io(format!("open network namespace {name}"), e))
}

/// Removes a named namespace (the namespace itself goes away with its last user). Returns
/// whether it existed.
pub fn delete(name: &str) -> Result<bool, RtError> {
    let p = path(name);
    if !p.exists() {
        return Ok(false);
    }
    match umount2(&p, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(RtError::sys(format!("unmount {}", p.display()), e)),
    }
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(RtError::io(format!("remove {}", p.display()), e)),
    }
}

/// Writes `net.x.y=v` to /proc/sys in the calling thread's network namespace.
pub fn set_sysctl(key: &str, value: &str) -> std::io::Result<()> {
    let p = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::write(p, value)
}

/// Runs `f` on a thread that has entered the network namespace `fd`.
pub fn in_netns<T: Send>(fd: BorrowedFd<'_>, f: impl FnOnce() -> T + Send) -> Result<T, RtError> {
    std::thread::scope(|s| {
        s.spawn(move || -> Result<T, RtError> {
            setns(fd.as_fd(), CloneFlags::CLONE_NEWNET)
                .map_err(|e| RtError::sys("setns(CLONE_NEWNET)", e))?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|_| {
            Err(RtError::Lab {
                lab: String::new(),
                msg: "namespace thread panicked".into(),
            })
        })
    })
}

/// The inode of a namespace file, to find processes inside it.
pub fn inode(name: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path(name)).ok().map(|m| m.ino())
}
