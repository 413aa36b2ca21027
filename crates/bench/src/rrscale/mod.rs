//! `bgplane bench rr-scale`: one route reflector, N iBGP clients each announcing one /24
//! (a Kubernetes node and its pod CIDR), for bgplane, BIRD and FRR as the reflector.
//!
//! Two namespaces per run, joined by one veth: the reflector's (`10.98.0.1/24`, a route
//! `10.100.0.0/16 via 10.98.0.2` to the clients) and the clients' (`10.98.0.2/24`, and
//! `local 10.100.0.0/16 dev lo`, so every client address is local without 5,000 address
//! entries, and the reflector has a single neighbour entry: the kernel's neighbour table
//! is shared by all namespaces and holds 1,024 entries). The reflector is configured with
//! every client as a passive route-reflector-client neighbor in one peer group.
//!
//! The clock: once every session is Established (seen by the clients), the harness tells
//! every client to announce; it stops when every client holds the other N-1 prefixes.
//! Memory: the reflector's peak RSS (`VmHWM`) after convergence.

pub mod config;
pub mod swarm;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

use crate::dut::Dut;
use crate::netns::{self, End, Netns, NetnsError};
use crate::process::Daemon;
use crate::report::{loadavg, Machine};

/// The reflector's address.
pub const RR_ADDR: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 1);
/// The clients' side of the link (gateway to every client address).
pub const CLIENTS_GW: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 2);
/// The AS of the reflector and its clients.
pub const ASN: u32 = 65000;

/// Arguments of `bgplane bench rr-scale`.
#[derive(Debug, Clone, clap::Args)]
pub struct RrScaleArgs {
    /// Route reflectors to measure, in order (bgplane, bird, frr).
    #[arg(long, value_delimiter = ',', default_value = "bgplane,bird,frr")]
    pub dut: Vec<Dut>,
    /// Numbers of clients, one run each.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
    pub clients: Vec<u32>,
    /// Seconds allowed per run for the sessions to come up, and again for convergence.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: crate::CommonArgs,
}

/// One run's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct RrRow {
    /// The reflector.
    pub dut: String,
    /// Its version.
    pub version: Option<String>,
    /// Number of clients.
    pub clients: u32,
    /// From the clients' first connection (1 s after the reflector first accepted one)
    /// to every session Established.
    pub establish_seconds: Option<f64>,
    /// From "announce" to every client holding every other client's prefix.
    pub converge_seconds: Option<f64>,
    /// The reflector's peak RSS in bytes.
    pub peak_rss_bytes: Option<u64>,
    /// UPDATEs received by all clients (End-of-RIB included).
    pub updates_to_clients: u64,
    /// CPU seconds of the clients' thread during convergence.
    pub clients_cpu_seconds: f64,
    /// `/proc/loadavg` before the run.
    pub load_before: String,
    /// `ok` or the error.
    pub result: String,
}

/// The report of `bgplane bench rr-scale`.
#[derive(Debug, Clone, Serialize)]
pub struct RrReport {
    /// Benchmark name.
    pub benchmark: &'static str,
    /// Machine facts.
    pub machine: Machine,
    /// One row per reflector and client count.
    pub rows: Vec<RrRow>,
}

impl RrReport {
    /// JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// A table.
    pub fn to_table(&self) -> String {
        use std::fmt::Write as _;
        let mut s = format!(
            "{:<8} {:<8} {:>7} {:>13} {:>13} {:>12} {:>14} {:>11}  {:<14} result\n",
            "RR",
            "version",
            "clients",
            "sessions up s",
            "converged s",
            "peak RSS MB",
            "UPDATEs to cl",
            "client CPU",
            "load before"
        );
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        for r in &self.rows {
            let _ = writeln!(
                s,
                "{:<8} {:<8} {:>7} {:>13} {:>13} {:>12} {:>14} {:>11.2}  {:<14} {}",
                r.dut,
                r.version.as_deref().unwrap_or("-"),
                r.clients,
                f(r.establish_seconds),
                f(r.converge_seconds),
                r.peak_rss_bytes
                    .map_or("-".into(), |b| format!("{:.0}", b as f64 / 1e6)),
                r.updates_to_clients,
                r.clients_cpu_seconds,
                r.load_before,
                r.result
            );
        }
        let _ = writeln!(
            s,
            "machine: {} CPUs, {}, kernel {}; load {} -> {}",
            self.machine.nproc,
            self.machine.cpu,
            self.machine.kernel,
            self.machine.load_at_start,
            self.machine.load_at_end
        );
        s
    }
}

/// Errors of one run, each naming the reflector and the client count.
#[derive(Debug, thiserror::Error)]
pub enum RrError {
    /// Namespace setup.
    #[error("{who}: {source}")]
    Netns {
        /// DUT and N.
        who: String,
        /// Why.
        source: NetnsError,
    },
    /// Configuration or start.
    #[error("{who}: {reason}")]
    Setup {
        /// DUT and N.
        who: String,
        /// Why.
        reason: String,
    },
    /// The reflector exited.
    #[error("{who}: the daemon exited ({status}); last lines of its log:\n{log}")]
    Exited {
        /// DUT and N.
        who: String,
        /// Exit status.
        status: String,
        /// Log tail.
        log: String,
    },
    /// A client failed.
    #[error("{who}: {reason}; last lines of the reflector's log:\n{log}")]
    Client {
        /// DUT and N.
        who: String,
        /// The first client failure.
        reason: String,
        /// Log tail.
        log: String,
    },
    /// Too slow.
    #[error("{who}: timed out after {secs} s {phase}: {done} of {clients} clients{extra}")]
    Timeout {
        /// DUT and N.
        who: String,
        /// Timeout.
        secs: u64,
        /// Which phase.
        phase: &'static str,
        /// Clients done.
        done: usize,
        /// Clients in all.
        clients: u32,
        /// More detail.
        extra: String,
    },
    /// Ctrl-C.
    #[error("{who}: interrupted")]
    Interrupted {
        /// DUT and N.
        who: String,
    },
}

struct Measured {
    establish: f64,
    converge: f64,
    rss: u64,
    updates: u64,
    cpu: f64,
}

/// Runs every reflector with every client count.
pub fn run(a: &RrScaleArgs, bgplane: &Path, interrupted: &AtomicBool) -> RrReport {
    let mut machine = Machine::read();
    let bgplane = a.common.bgplane_or(bgplane);
    raise_fd_limit(a.clients.iter().copied().max().unwrap_or(0));
    let mut rows = Vec::new();
    for &n in &a.clients {
        for d in &a.dut {
            if interrupted.load(Ordering::SeqCst) {
                break;
            }
            let version = d.version(&bgplane);
            let load_before = loadavg();
            tracing::info!(dut = %d, clients = n, "running");
            let r = match (&version, d) {
                (Err(e), _) => Err(e.to_string()),
                (Ok(_), Dut::Bgplane | Dut::Bird | Dut::Frr) => {
                    run_one(*d, n, a, &bgplane, interrupted).map_err(|e| e.to_string())
                }
                (Ok(_), _) => Err(format!("{d} is not supported as a route reflector here")),
            };
            match &r {
                Ok(m) => tracing::info!(
                    dut = %d, clients = n,
                    "sessions up in {:.3} s, converged in {:.3} s, peak RSS {:.0} MB",
                    m.establish, m.converge, m.rss as f64 / 1e6
                ),
                Err(e) => tracing::warn!(dut = %d, clients = n, "failed: {e}"),
            }
            rows.push(match r {
                Ok(m) => RrRow {
                    dut: d.to_string(),
                    version: version.ok(),
                    clients: n,
                    establish_seconds: Some(m.establish),
                    converge_seconds: Some(m.converge),
                    peak_rss_bytes: Some(m.rss),
                    updates_to_clients: m.updates,
                    clients_cpu_seconds: m.cpu,
                    load_before,
                    result: "ok".into(),
                },
                Err(e) => RrRow {
                    dut: d.to_string(),
                    version: version.ok(),
                    clients: n,
                    establish_seconds: None,
                    converge_seconds: None,
                    peak_rss_bytes: None,
                    updates_to_clients: 0,
                    clients_cpu_seconds: 0.0,
                    load_before,
                    result: e,
                },
            });
        }
    }
    machine.load_at_end = loadavg();
    RrReport {
        benchmark: "rr-scale",
        machine,
        rows,
    }
}

/// Thousands of sessions need thousands of descriptors, in the harness and in the
/// daemons it starts (they inherit the limit).
fn raise_fd_limit(clients: u32) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let want = u64::from(clients) * 2 + 1024;
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let hard = hard.max(want);
        if soft < want {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, want, hard) {
                tracing::warn!("raising the descriptor limit to {want}: {e}");
            }
        }
    }
}

fn run_one(
    dut: Dut,
    n: u32,
    a: &RrScaleArgs,
    bgplane: &Path,
    interrupted: &AtomicBool,
) -> Result<Measured, RrError> {
    let who = format!("{dut} with {n} clients");
    let ns_err = |source| RrError::Netns {
        who: who.clone(),
        source,
    };
    let setup = |reason: String| RrError::Setup {
        who: who.clone(),
        reason,
    };
    let run = next_run();
    let rr = Netns::create(run, "rr").map_err(ns_err)?;
    let cl = Netns::create(run, "cl").map_err(ns_err)?;
    netns::link(
        End {
            ns: &rr,
            ifname: "eth0",
            addr: RR_ADDR,
        },
        End {
            ns: &cl,
            ifname: "eth0",
            addr: CLIENTS_GW,
        },
    )
    .map_err(ns_err)?;
    rr.ip(&[
        "route",
        "add",
        "10.100.0.0/16",
        "via",
        &CLIENTS_GW.to_string(),
    ])
    .map_err(ns_err)?;
    cl.ip(&["route", "add", "local", "10.100.0.0/16", "dev", "lo"])
        .map_err(ns_err)?;

    let tmp = tempfile::Builder::new()
        .prefix(&format!("bgb-rr-{dut}-"))
        .tempdir()
        .map_err(|e| setup(format!("creating a temporary directory: {e}")))?;
    let launch = config::prepare(dut, n, tmp.path(), bgplane).map_err(setup)?;
    let log = tmp.path().join(format!("{dut}.log"));
    let start = Instant::now();
    let mut daemon = Daemon::spawn(&who, rr.name(), &launch.program, &launch.args, &log)
        .map_err(|e| setup(e.to_string()))?;

    let progress = Arc::new(swarm::Progress::default());
    let (go_tx, go_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let cfg = swarm::SwarmConfig {
        netns: cl.name().to_string(),
        clients: n,
        rr: SocketAddrV4::new(RR_ADDR, 179),
        asn: ASN,
        establish_timeout: Duration::from_secs(a.timeout),
    };
    let p = progress.clone();
    let thread = std::thread::Builder::new()
        .name("bench-rr-clients".into())
        .spawn(move || swarm::run(cfg, p, go_rx, stop_rx))
        .map_err(|e| setup(format!("starting the clients' thread: {e}")))?;
    let r = drive(
        &who,
        n,
        a,
        &mut daemon,
        &progress,
        &go_tx,
        start,
        interrupted,
    );
    let _ = stop_tx.send(true);
    daemon.stop();
    let _ = thread.join();
    if a.common.keep_dir {
        let kept = tmp.keep();
        tracing::info!(dir = %kept.display(), "{who}: temporary directory kept");
    }
    drop(cl);
    drop(rr);
    r
}

#[allow(clippy::too_many_arguments)]
fn drive(
    who: &str,
    n: u32,
    a: &RrScaleArgs,
    daemon: &mut Daemon,
    progress: &swarm::Progress,
    go: &watch::Sender<bool>,
    start: Instant,
    interrupted: &AtomicBool,
) -> Result<Measured, RrError> {
    let timeout = Duration::from_secs(a.timeout);
    let check = |daemon: &mut Daemon| -> Result<(), RrError> {
        if interrupted.load(Ordering::SeqCst) {
            return Err(RrError::Interrupted { who: who.into() });
        }
        if let Some(status) = daemon.exited() {
            return Err(RrError::Exited {
                who: who.into(),
                status: status.to_string(),
                log: daemon.log_tail(15),
            });
        }
        if let Some(f) = progress.failure.lock().ok().and_then(|f| f.clone()) {
            return Err(RrError::Client {
                who: who.into(),
                reason: f,
                log: daemon.log_tail(15),
            });
        }
        Ok(())
    };
    // Phase 1: every session up.
    let mut next_log = Duration::from_secs(10);
    loop {
        check(daemon)?;
        let up = progress.established.load(Ordering::Relaxed);
        if up == n as usize {
            break;
        }
        if start.elapsed() > timeout {
            return Err(RrError::Timeout {
                who: who.into(),
                secs: a.timeout,
                phase: "waiting for the sessions",
                done: up,
                clients: n,
                extra: " Established".into(),
            });
        }
        if start.elapsed() > next_log {
            next_log += Duration::from_secs(10);
            tracing::info!("{who}: {up} of {n} sessions Established");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let from = progress
        .started_at
        .lock()
        .ok()
        .and_then(|s| *s)
        .unwrap_or(start);
    let establish = from.elapsed().as_secs_f64();
    daemon.refresh();
    // Phase 2: announce, converge.
    let cpu0 = progress.cpu_ns.load(Ordering::Relaxed);
    let t0 = Instant::now();
    let _ = go.send(true);
    let mut next_log = Duration::from_secs(10);
    loop {
        check(daemon)?;
        if let Some(t1) = progress.done_at.lock().ok().and_then(|d| *d) {
            // Let the swarm's CPU counter catch up.
            std::thread::sleep(Duration::from_millis(150));
            let rss = daemon.peak_rss().map_err(|e| RrError::Setup {
                who: who.into(),
                reason: e.to_string(),
            })?;
            return Ok(Measured {
                establish,
                converge: (t1 - t0).as_secs_f64(),
                rss: rss.bytes,
                updates: progress.updates.load(Ordering::Relaxed),
                cpu: (progress.cpu_ns.load(Ordering::Relaxed) - cpu0) as f64 / 1e9,
            });
        }
        let held = progress.held.load(Ordering::Relaxed);
        let want = u64::from(n) * u64::from(n);
        if t0.elapsed() > timeout {
            return Err(RrError::Timeout {
                who: who.into(),
                secs: a.timeout,
                phase: "after the announcements",
                done: progress.complete.load(Ordering::Relaxed),
                clients: n,
                extra: format!(" hold every prefix ({held} of {want} routes held in all)"),
            });
        }
        if t0.elapsed() > next_log {
            next_log += Duration::from_secs(10);
            tracing::info!("{who}: {held} of {want} routes held by the clients");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn next_run() -> u32 {
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1000);
    RUNS.fetch_add(1, Ordering::Relaxed)
}
