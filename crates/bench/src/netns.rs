//! Network namespaces and veth links for one benchmark run, made with `ip` (iproute2).
//!
//! Every namespace is named `bgb-<pid>-<run>-<role>`; [`Netns`] deletes its namespace when
//! dropped, so they disappear on errors and on Ctrl-C too. Nothing is ever configured in
//! the host's own namespace: links are created inside our namespaces (`ip -n`).

use std::fs::File;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sched::{setns, CloneFlags};

/// Prefix of every namespace the harness creates.
pub const PREFIX: &str = "bgb-";

/// Errors of the namespace layer.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// `ip` could not be run at all.
    #[error("running `ip {args}`: {source}")]
    Spawn {
        /// The arguments.
        args: String,
        /// Why.
        source: std::io::Error,
    },
    /// `ip` failed.
    #[error("`ip {args}` failed: {stderr}")]
    Ip {
        /// The arguments.
        args: String,
        /// What it printed.
        stderr: String,
    },
    /// Entering a namespace from a peer thread failed.
    #[error("entering network namespace {name} (/run/netns/{name}): {reason}")]
    Enter {
        /// Namespace.
        name: String,
        /// Why.
        reason: String,
    },
    /// Namespaces of an earlier run are still there and still in use.
    #[error("network namespaces left by an earlier run are still in use: {0}; stop what runs in them (`ip netns pids NAME`) and delete them with `ip netns del NAME`")]
    Stale(String),
}

/// Runs `ip` with `args`.
pub fn ip(args: &[&str]) -> Result<String, NetnsError> {
    let joined = args.join(" ");
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|source| NetnsError::Spawn {
            args: joined.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(NetnsError::Ip {
            args: joined,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Names of the existing network namespaces.
pub fn list() -> Result<Vec<String>, NetnsError> {
    Ok(ip(&["netns", "list"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// Deletes `bgb-*` namespaces left behind by a run that was killed (its pid, part of the
/// name, is gone) when nothing runs in them; refuses when any is still in use.
pub fn clean_stale() -> Result<(), NetnsError> {
    let mut busy = Vec::new();
    for name in list()?.into_iter().filter(|n| n.starts_with(PREFIX)) {
        let owner = name[PREFIX.len()..]
            .split('-')
            .next()
            .and_then(|p| p.parse::<u32>().ok());
        if owner.is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists()) {
            busy.push(name);
            continue;
        }
        let pids = ip(&["netns", "pids", &name])?;
        if pids.trim().is_empty() {
            tracing::warn!(namespace = %name, "deleting a namespace left by an earlier run");
            ip(&["netns", "del", &name])?;
        } else {
            busy.push(name);
        }
    }
    if busy.is_empty() {
        Ok(())
    } else {
        Err(NetnsError::Stale(busy.join(", ")))
    }
}

/// A network namespace we created; deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `bgb-<pid>-<n>-<role>` (`n` counts the runs of this process) with its
    /// loopback up.
    pub fn create(run: u32, role: &str) -> Result<Self, NetnsError> {
        let name = format!("{PREFIX}{}-{run}-{role}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME args`.
    pub fn ip(&self, args: &[&str]) -> Result<String, NetnsError> {
        let mut v = vec!["-n", self.name.as_str()];
        v.extend_from_slice(args);
        ip(&v)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            tracing::warn!(namespace = %self.name, error = %e, "could not delete namespace");
        }
    }
}

/// Moves the calling thread into namespace `name`; sockets it creates afterwards live
/// there. Used by the injector's and monitor's threads only.
pub fn enter(name: &str) -> Result<(), NetnsError> {
    let err = |reason: String| NetnsError::Enter {
        name: name.to_string(),
        reason,
    };
    let f = File::open(format!("/run/netns/{name}")).map_err(|e| err(e.to_string()))?;
    setns(&f, CloneFlags::CLONE_NEWNET).map_err(|e| err(e.to_string()))
}

/// One end of a link: namespace, interface, address (/24).
#[derive(Debug, Clone, Copy)]
pub struct End<'a> {
    /// Namespace.
    pub ns: &'a Netns,
    /// Interface name.
    pub ifname: &'a str,
    /// Address, configured as a /24.
    pub addr: Ipv4Addr,
}

/// Creates a veth pair between two of our namespaces and configures both ends.
pub fn link(a: End<'_>, b: End<'_>) -> Result<(), NetnsError> {
    a.ns.ip(&[
        "link",
        "add",
        a.ifname,
        "type",
        "veth",
        "peer",
        "name",
        b.ifname,
        "netns",
        b.ns.name(),
    ])?;
    for e in [a, b] {
        e.ns.ip(&["addr", "add", &format!("{}/24", e.addr), "dev", e.ifname])?;
        e.ns.ip(&["link", "set", e.ifname, "up"])?;
    }
    Ok(())
}

/// The addresses of the benchmark topology.
pub mod addr {
    use std::net::Ipv4Addr;

    /// The DUT's address towards the injector.
    pub const DUT_INJ: Ipv4Addr = Ipv4Addr::new(10, 99, 1, 1);
    /// The injector.
    pub const INJ: Ipv4Addr = Ipv4Addr::new(10, 99, 1, 2);
    /// The DUT's address towards the monitor.
    pub const DUT_MON: Ipv4Addr = Ipv4Addr::new(10, 99, 2, 1);
    /// The monitor.
    pub const MON: Ipv4Addr = Ipv4Addr::new(10, 99, 2, 2);
    /// The injector on the back-to-back link (harness floor).
    pub const FLOOR_INJ: Ipv4Addr = Ipv4Addr::new(10, 99, 3, 1);
    /// The monitor on the back-to-back link (harness floor).
    pub const FLOOR_MON: Ipv4Addr = Ipv4Addr::new(10, 99, 3, 2);
    /// The DUT's router id.
    pub const DUT_ID: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
}

fn next_run() -> u32 {
    static RUNS: AtomicU32 = AtomicU32::new(0);
    RUNS.fetch_add(1, Ordering::Relaxed)
}

/// Namespaces of one run. Dropping it deletes them (after the processes in them have
/// been stopped by their owners).
#[derive(Debug)]
pub struct Topology {
    /// The injector's namespace.
    pub inj: Netns,
    /// The DUT's namespace (absent for the harness floor).
    pub dut: Option<Netns>,
    /// The monitor's namespace.
    pub mon: Netns,
}

impl Topology {
    /// injector (10.99.1.2) — (10.99.1.1) DUT (10.99.2.1) — (10.99.2.2) monitor.
    pub fn full_table() -> Result<Self, NetnsError> {
        let run = next_run();
        let inj = Netns::create(run, "inj")?;
        let dut = Netns::create(run, "dut")?;
        let mon = Netns::create(run, "mon")?;
        link(
            End {
                ns: &inj,
                ifname: "eth0",
                addr: addr::INJ,
            },
            End {
                ns: &dut,
                ifname: "to-inj",
                addr: addr::DUT_INJ,
            },
        )?;
        link(
            End {
                ns: &dut,
                ifname: "to-mon",
                addr: addr::DUT_MON,
            },
            End {
                ns: &mon,
                ifname: "eth0",
                addr: addr::MON,
            },
        )?;
        Ok(Topology {
            inj,
            dut: Some(dut),
            mon,
        })
    }

    /// injector (10.99.3.1) — (10.99.3.2) monitor, no DUT: the harness floor.
    pub fn back_to_back() -> Result<Self, NetnsError> {
        let run = next_run();
        let inj = Netns::create(run, "floor-inj")?;
        let mon = Netns::create(run, "floor-mon")?;
        link(
            End {
                ns: &inj,
                ifname: "eth0",
                addr: addr::FLOOR_INJ,
            },
            End {
                ns: &mon,
                ifname: "eth0",
                addr: addr::FLOOR_MON,
            },
        )?;
        Ok(Topology {
            inj,
            dut: None,
            mon,
        })
    }
}
