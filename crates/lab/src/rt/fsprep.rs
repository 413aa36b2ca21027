//! A node's private files: copies of the host's /etc/frr and /etc/bird (so exec lines like
//! `sed -i … /etc/frr/daemons` change the node's copy, never the host's), startup-config,
//! /etc/hosts, logs; and the list of mounts its supervisor makes.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::{chown, Gid, Uid};

use super::supervisor::MountSpec;
use super::RtError;
use crate::plan::behaviour::Behaviour;
use crate::plan::{LabPlan, NodePlan};

/// Directories that are private to every node (a fresh tmpfs each).
const TMPFS: &[(&str, u32)] = &[
    ("/run", 0o755),
    ("/tmp", 0o1777),
    ("/var/tmp", 0o1777),
    ("/dev/shm", 0o1777),
];

/// The mount that makes `binary` visible inside a node when it lies below a directory that
/// every node gets a fresh tmpfs for (a bgplane built under `/tmp`, say): a read-only bind
/// at the same path. None when the node sees the host's file anyway.
pub fn binary_bind(binary: &Path) -> Option<MountSpec> {
    let binary = fs::canonicalize(binary).ok()?;
    TMPFS
        .iter()
        .any(|(t, _)| binary.starts_with(t))
        .then(|| MountSpec::Bind {
            src: binary.clone(),
            dst: binary,
            ro: true,
            create: true,
        })
}

/// Host directories copied into the node directory and bound over the originals.
const COPIED: &[&str] = &["/etc/frr", "/etc/bird"];

/// Host directories replaced by an empty per-node directory with the same owner.
const EMPTY: &[&str] = &["/var/log", "/var/lib/frr", "/var/lib/bird"];

/// Prepares node `i`'s directory and returns its mounts.
pub fn prepare(plan: &LabPlan, i: usize) -> Result<Vec<MountSpec>, RtError> {
    let n = &plan.nodes[i];
    let dir = &n.dir;
    let root = dir.join("fs");
    if root.exists() {
        fs::remove_dir_all(&root)
            .map_err(|e| RtError::io(format!("clean {}", root.display()), e))?;
    }
    mkdir(&root)?;
    let mut mounts: Vec<MountSpec> = TMPFS
        .iter()
        .filter(|(p, _)| Path::new(p).is_dir())
        .map(|(p, mode)| MountSpec::Tmpfs {
            dst: p.into(),
            mode: *mode,
        })
        .collect();
    for host in COPIED {
        let h = Path::new(host);
        if h.is_dir() {
            let copy = root.join(&host[1..]);
            copy_tree(h, &copy)?;
            mounts.push(MountSpec::Bind {
                src: copy,
                dst: h.into(),
                ro: false,
                create: false,
            });
        }
    }
    for host in EMPTY {
        let h = Path::new(host);
        if h.is_dir() {
            let d = root.join(&host[1..]);
            mkdir_like(h, &d)?;
            if *host == "/var/log" {
                for sub in ["frr", "bird"] {
                    let hs = h.join(sub);
                    if hs.is_dir() {
                        mkdir_like(&hs, &d.join(sub))?;
                    }
                }
            }
            mounts.push(MountSpec::Bind {
                src: d,
                dst: h.into(),
                ro: false,
                create: false,
            });
        }
    }
    let etc = root.join("etc");
    mkdir(&etc)?;
    write(&etc.join("hostname"), &format!("{}\n", n.name))?;
    write(&etc.join("hosts"), &hosts_file(plan, n))?;
    mounts.push(MountSpec::Bind {
        src: etc.join("hostname"),
        dst: "/etc/hostname".into(),
        ro: false,
        create: false,
    });
    mounts.push(MountSpec::Bind {
        src: etc.join("hosts"),
        dst: "/etc/hosts".into(),
        ro: false,
        create: false,
    });

    configure_daemons(n, &root)?;

    for b in &n.binds {
        if !b.src.exists() {
            return Err(RtError::node(
                &n.name,
                format!("bind source {} does not exist", b.src.display()),
            ));
        }
        let under_tmpfs = TMPFS.iter().any(|(t, _)| b.dst.starts_with(t));
        if !b.dst.exists() && !under_tmpfs {
            return Err(RtError::node(
                &n.name,
                format!(
                    "bind target {} does not exist on this machine: nodes share the host's root \
                     filesystem (read-only inside the node) and cannot create it; bind to an \
                     existing path, or below /run or /tmp",
                    b.dst.display()
                ),
            ));
        }
        mounts.push(MountSpec::Bind {
            src: b.src.clone(),
            dst: b.dst.clone(),
            ro: b.ro,
            create: under_tmpfs,
        });
    }
    Ok(mounts)
}

/// The startup-config and daemon list of FRR and BIRD nodes.
fn configure_daemons(n: &NodePlan, root: &Path) -> Result<(), RtError> {
    match &n.behaviour {
        Behaviour::Frr { .. } => {
            let etc = root.join("etc/frr");
            if !etc.is_dir() {
                return Err(RtError::node(
                    &n.name,
                    format!("{} runs FRR from the Debian package, which is not installed (apt-get install frr)", describe_image(n)),
                ));
            }
            let conf = etc.join("frr.conf");
            if let Some(cfg) = &n.startup_config {
                write_like(&conf, cfg, &etc)?;
            }
            // `kind: frr` runs bgpd (and whatever else its startup-config uses).
            if n.kind == "frr" || n.vyos_config.is_some() {
                let text = n.startup_config.clone().unwrap_or_default();
                let mut wanted = vec!["bgpd"];
                for (needle, d) in [
                    ("router ospf6", "ospf6d"),
                    ("router ospf ", "ospfd"),
                    ("router ospf\n", "ospfd"),
                    ("router isis", "isisd"),
                    ("router rip ", "ripd"),
                    ("router rip\n", "ripd"),
                    ("router ripng", "ripngd"),
                    ("router babel", "babeld"),
                    ("bfd\n", "bfdd"),
                    ("ip pim", "pimd"),
                    ("router openfabric", "fabricd"),
                    ("vrrp ", "vrrpd"),
                ] {
                    if text.contains(needle) {
                        wanted.push(d);
                    }
                }
                let daemons = etc.join("daemons");
                let mut d = fs::read_to_string(&daemons)
                    .map_err(|e| RtError::io(format!("read {}", daemons.display()), e))?;
                for w in wanted {
                    d = d.replace(&format!("{w}=no"), &format!("{w}=yes"));
                }
                write_like(&daemons, &d, &etc)?;
            }
            let vtysh = etc.join("vtysh.conf");
            if !vtysh.exists() {
                write_like(&vtysh, "service integrated-vtysh-config\n", &etc)?;
            }
        }
        Behaviour::Bird { .. } => {
            let etc = root.join("etc/bird");
            if !etc.is_dir() {
                return Err(RtError::node(
                    &n.name,
                    format!("{} runs BIRD from the Debian package, which is not installed (apt-get install bird2)", describe_image(n)),
                ));
            }
            if let Some(cfg) = &n.startup_config {
                write_like(&etc.join("bird.conf"), cfg, &etc)?;
            }
        }
        Behaviour::Bgplane => {
            let cfg = n.startup_config.clone().unwrap_or_default();
            write(&n.dir.join("router.conf"), &cfg)?;
        }
        _ => {}
    }
    Ok(())
}

fn describe_image(n: &NodePlan) -> String {
    match &n.image {
        Some(i) => format!("image {i}"),
        None => format!("kind {}", n.kind),
    }
}

/// /etc/hosts: localhost, the node itself, and every node's management address.
fn hosts_file(plan: &LabPlan, me: &NodePlan) -> String {
    let mut s = format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{}\n",
        me.name
    );
    for n in &plan.nodes {
        if let Some(a) = n.mgmt4 {
            s.push_str(&format!("{}\t{}\n", a.addr(), n.name));
        }
        if let Some(a) = n.mgmt6 {
            s.push_str(&format!("{}\t{}\n", a.addr(), n.name));
        }
    }
    s
}

fn mkdir(p: &Path) -> Result<(), RtError> {
    fs::create_dir_all(p).map_err(|e| RtError::io(format!("create {}", p.display()), e))
}

fn write(p: &Path, text: &str) -> Result<(), RtError> {
    fs::write(p, text).map_err(|e| RtError::io(format!("write {}", p.display()), e))
}

/// Writes a file owned like `dir` (FRR and BIRD read their configs as their own users).
fn write_like(p: &Path, text: &str, dir: &Path) -> Result<(), RtError> {
    write(p, text)?;
    let m = fs::metadata(dir).map_err(|e| RtError::io(format!("stat {}", dir.display()), e))?;
    chown(
        p,
        Some(Uid::from_raw(m.uid())),
        Some(Gid::from_raw(m.gid())),
    )
    .map_err(|e| RtError::sys(format!("chown {}", p.display()), e))?;
    fs::set_permissions(p, fs::Permissions::from_mode(0o640))
        .map_err(|e| RtError::io(format!("chmod {}", p.display()), e))
}

/// An empty directory with the owner and mode of `like`.
fn mkdir_like(like: &Path, d: &Path) -> Result<(), RtError> {
    mkdir(d)?;
    copy_meta(like, d)
}

fn copy_meta(from: &Path, to: &Path) -> Result<(), RtError> {
    let m = fs::symlink_metadata(from)
        .map_err(|e| RtError::io(format!("stat {}", from.display()), e))?;
    chown(
        to,
        Some(Uid::from_raw(m.uid())),
        Some(Gid::from_raw(m.gid())),
    )
    .map_err(|e| RtError::sys(format!("chown {}", to.display()), e))?;
    fs::set_permissions(to, fs::Permissions::from_mode(m.mode() & 0o7777))
        .map_err(|e| RtError::io(format!("chmod {}", to.display()), e))
}

/// Copies a directory tree with owners and modes (files and directories; symlinks kept).
fn copy_tree(from: &Path, to: &Path) -> Result<(), RtError> {
    mkdir(to)?;
    let entries =
        fs::read_dir(from).map_err(|e| RtError::io(format!("read {}", from.display()), e))?;
    for e in entries {
        let e = e.map_err(|e| RtError::io(format!("read {}", from.display()), e))?;
        let src: PathBuf = e.path();
        let dst = to.join(e.file_name());
        let ft = e
            .file_type()
            .map_err(|e| RtError::io(format!("stat {}", src.display()), e))?;
        if ft.is_dir() {
            copy_tree(&src, &dst)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&src)
                .map_err(|e| RtError::io(format!("readlink {}", src.display()), e))?;
            std::os::unix::fs::symlink(target, &dst)
                .map_err(|e| RtError::io(format!("symlink {}", dst.display()), e))?;
            continue;
        } else if ft.is_file() {
            fs::copy(&src, &dst).map_err(|e| RtError::io(format!("copy {}", src.display()), e))?;
        } else {
            continue;
        }
        copy_meta(&src, &dst)?;
    }
    copy_meta(from, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_below_a_node_tmpfs_is_bound_read_only_at_its_own_path() {
        let dir = std::env::temp_dir().join(format!("fsprep-bin-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("bgplane");
        fs::write(&bin, b"#!/bin/sh\n").unwrap();
        let bind = binary_bind(&bin);
        fs::remove_dir_all(&dir).unwrap();
        let real = fs::canonicalize(std::env::temp_dir()).unwrap();
        if !TMPFS.iter().any(|(t, _)| real.starts_with(t)) {
            eprintln!(
                "skipped: the temporary directory {} is not below a node tmpfs",
                real.display()
            );
            return;
        }
        match bind {
            Some(MountSpec::Bind {
                src,
                dst,
                ro,
                create,
            }) => {
                assert_eq!(src, dst);
                assert!(src.ends_with("bgplane") && ro && create, "{src:?}");
            }
            other => panic!("expected a bind of the binary, got {other:?}"),
        }
    }

    #[test]
    fn a_binary_the_node_sees_anyway_needs_no_mount() {
        assert!(binary_bind(Path::new("/bin/sh")).is_none());
        assert!(binary_bind(Path::new("/nonexistent/bgplane")).is_none());
    }
}
