//! The runtime: namespaces, netlink wiring, node supervisors and the lab's on-disk state.

pub mod fsprep;
pub mod icmp;
pub mod netlink;
pub mod netns;
pub mod proc;
pub mod proto;
pub mod spawn;
pub mod state;
pub mod supervisor;

use std::path::PathBuf;

/// Errors of the runtime layer; each names the lab, node, namespace or file involved.
#[derive(Debug, thiserror::Error)]
pub enum RtError {
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// What was being done.
        what: String,
        /// The errno.
        source: nix::Error,
    },
    /// A netlink request failed.
    #[error("netlink {op} (namespace {ns}): {msg}")]
    Netlink {
        /// The operation.
        op: String,
        /// The namespace.
        ns: String,
        /// The kernel's answer.
        msg: String,
    },
    /// Something about one node.
    #[error("node {node}: {msg}")]
    Node {
        /// Node name.
        node: String,
        /// What happened.
        msg: String,
    },
    /// Something about the lab as a whole.
    #[error("lab {lab}: {msg}")]
    Lab {
        /// Lab name.
        lab: String,
        /// What happened.
        msg: String,
    },
}

impl RtError {
    /// An I/O error with context.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> RtError {
        RtError::Io {
            what: what.into(),
            source,
        }
    }

    /// A system call error with context.
    pub fn sys(what: impl Into<String>, source: nix::Error) -> RtError {
        RtError::Sys {
            what: what.into(),
            source,
        }
    }

    /// A node error.
    pub fn node(node: &str, msg: impl Into<String>) -> RtError {
        RtError::Node {
            node: node.to_string(),
            msg: msg.into(),
        }
    }
}

/// The directory that holds all labs: `$BGPLANE_LAB_DIR`, or /var/lib/bgplane/lab.
pub fn labs_root() -> PathBuf {
    std::env::var_os("BGPLANE_LAB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/bgplane/lab"))
}

/// Fails unless running as root (namespaces need it).
pub fn require_root(what: &str) -> Result<(), RtError> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(RtError::Lab {
            lab: String::new(),
            msg: format!("`{what}` creates network namespaces and must run as root"),
        })
    }
}
