//! One full-table run: fresh namespaces, the DUT started inside its own, the injector and
//! the monitor in theirs; the clock runs from the first UPDATE the injector writes to the
//! moment the monitor holds every prefix. Everything is torn down by RAII guards, on
//! success, error and interrupt alike.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dut::{Dut, DUT_AS, INJ_AS, MON_AS};
use crate::netns::{addr, NetnsError, Topology};
use crate::peer::{self, Control, Dial, Event, PeerConfig, PeerError, Role};
use crate::process::{Daemon, PeakRss, ProcessError};
use crate::stream::Stream;

/// How often a long run logs how far the monitor got.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// How long the peers may take to connect and establish their sessions.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors of one run, each naming the DUT (or the floor).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Namespace setup failed.
    #[error("{who}: {source}")]
    Netns {
        /// DUT or floor.
        who: String,
        /// Why.
        source: NetnsError,
    },
    /// The DUT could not be prepared.
    #[error(transparent)]
    Dut(#[from] crate::dut::DutError),
    /// The DUT's process could not be started or measured.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// The temporary directory could not be created.
    #[error("{who}: creating a temporary directory: {source}")]
    TempDir {
        /// DUT or floor.
        who: String,
        /// Why.
        source: std::io::Error,
    },
    /// A peer thread could not be started.
    #[error("{who}: starting the {role} thread: {source}")]
    Thread {
        /// DUT or floor.
        who: String,
        /// Peer.
        role: Role,
        /// Why.
        source: std::io::Error,
    },
    /// The DUT exited.
    #[error(
        "{who}: the daemon exited ({status}) in namespace {netns}; last lines of its log:\n{log}"
    )]
    Exited {
        /// DUT.
        who: String,
        /// Exit status.
        status: String,
        /// Namespace.
        netns: String,
        /// Log tail.
        log: String,
    },
    /// A peer failed.
    #[error("{who}: {source}{}", log_suffix(.log))]
    Peer {
        /// DUT or floor.
        who: String,
        /// Why.
        source: PeerError,
        /// The DUT's log tail, if any.
        log: String,
    },
    /// Not every prefix arrived in time.
    #[error("{who}: timed out after {secs} s: the monitor holds {held} of {total} prefixes ({updates} UPDATEs received){}", log_suffix(.log))]
    Timeout {
        /// DUT or floor.
        who: String,
        /// Timeout.
        secs: u64,
        /// Prefixes held.
        held: u64,
        /// Prefixes expected.
        total: u32,
        /// UPDATEs received by the monitor.
        updates: u64,
        /// The DUT's log tail, if any.
        log: String,
    },
    /// Ctrl-C or SIGTERM.
    #[error("{who}: interrupted")]
    Interrupted {
        /// DUT or floor.
        who: String,
    },
}

fn log_suffix(log: &str) -> String {
    if log.trim().is_empty() {
        String::new()
    } else {
        format!("; last lines of the DUT's log:\n{log}")
    }
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// From the first UPDATE written to the monitor holding every prefix.
    pub seconds: f64,
    /// From the first UPDATE written to the last byte of the stream written.
    pub send_seconds: f64,
    /// The DUT's peak memory (none for the floor).
    pub rss: Option<PeakRss>,
    /// Prefixes the monitor held when the clock stopped (all of them).
    pub prefixes_held: u64,
    /// UPDATEs the monitor received.
    pub updates_to_monitor: u64,
    /// UPDATEs the DUT sent back to the injector.
    pub updates_to_injector: u64,
    /// CPU time the harness itself (injector, monitor, orchestration) used while the
    /// clock ran: well below `seconds` means the peers were not the bottleneck.
    pub harness_cpu_seconds: f64,
    /// CPU seconds of the injector's writing thread, first UPDATE to last byte.
    pub injector_cpu_seconds: f64,
    /// CPU seconds of the injector's thread reading what the DUT sends back.
    pub drain_cpu_seconds: f64,
    /// CPU seconds of the monitor's reading thread until it held every prefix.
    pub monitor_cpu_seconds: f64,
}

/// User plus system CPU time of this process so far.
fn cpu_seconds() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    getrusage(UsageWho::RUSAGE_SELF).map_or(0.0, |u| {
        let t = |v: nix::sys::time::TimeVal| v.tv_sec() as f64 + v.tv_usec() as f64 / 1e6;
        t(u.user_time()) + t(u.system_time())
    })
}

/// Parameters shared by every run.
#[derive(Debug, Clone)]
pub struct RunParams {
    /// Time allowed from the first UPDATE to the last prefix at the monitor.
    pub timeout: Duration,
    /// Pause between both sessions being Established and the first UPDATE.
    pub settle: Duration,
    /// The bgplane executable (for the bgplane DUT).
    pub bgplane: PathBuf,
    /// Keep the temporary directory (configurations, logs).
    pub keep_dir: bool,
}

/// Runs the benchmark against `dut`, or the harness floor (injector → monitor directly)
/// when `dut` is `None`.
pub fn run_one(
    dut: Option<Dut>,
    stream: &Arc<Stream>,
    params: &RunParams,
    interrupted: &AtomicBool,
) -> Result<Measurement, RunError> {
    let who = dut.map_or_else(|| "floor".to_string(), |d| d.to_string());
    let netns_err = |source| RunError::Netns {
        who: who.clone(),
        source,
    };
    let topo = match dut {
        Some(_) => Topology::full_table(),
        None => Topology::back_to_back(),
    }
    .map_err(netns_err)?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!("bgb-{who}-"))
        .tempdir()
        .map_err(|source| RunError::TempDir {
            who: who.clone(),
            source,
        })?;
    let mut daemon = match (dut, &topo.dut) {
        (Some(d), Some(ns)) => {
            let launch = d.prepare(tmp.path(), &params.bgplane)?;
            let log = tmp.path().join(format!("{d}.log"));
            Some(Daemon::spawn(
                &who,
                ns.name(),
                &launch.program,
                &launch.args,
                &log,
            )?)
        }
        _ => None,
    };
    let (inj_cfg, mon_cfg) = peer_configs(&topo);
    let result = drive(
        &who,
        &topo,
        inj_cfg,
        mon_cfg,
        stream,
        daemon.as_mut(),
        params,
        interrupted,
    );
    if let Some(d) = daemon.as_mut() {
        d.stop();
    }
    drop(daemon);
    if params.keep_dir {
        let kept = tmp.keep();
        tracing::info!(dir = %kept.display(), "{who}: temporary directory kept");
    }
    drop(topo);
    result
}

fn peer_configs(topo: &Topology) -> (PeerConfig, PeerConfig) {
    let sock = |a| SocketAddr::new(std::net::IpAddr::V4(a), 179);
    let (inj_dial, mon_dial, inj_peer, mon_peer) = if topo.dut.is_some() {
        (
            Dial::Connect(sock(addr::DUT_INJ)),
            Dial::Connect(sock(addr::DUT_MON)),
            DUT_AS,
            DUT_AS,
        )
    } else {
        (
            Dial::Connect(sock(addr::FLOOR_MON)),
            Dial::Accept(sock(addr::FLOOR_MON)),
            MON_AS,
            INJ_AS,
        )
    };
    (
        PeerConfig {
            role: Role::Injector,
            local_as: INJ_AS,
            router_id: addr::INJ,
            peer_as: inj_peer,
            netns: topo.inj.name().to_string(),
            dial: inj_dial,
            connect_timeout: ESTABLISH_TIMEOUT,
        },
        PeerConfig {
            role: Role::Monitor,
            local_as: MON_AS,
            router_id: addr::MON,
            peer_as: mon_peer,
            netns: topo.mon.name().to_string(),
            dial: mon_dial,
            connect_timeout: ESTABLISH_TIMEOUT,
        },
    )
}

#[allow(clippy::too_many_arguments)]
fn drive(
    who: &str,
    topo: &Topology,
    inj_cfg: PeerConfig,
    mon_cfg: PeerConfig,
    stream: &Arc<Stream>,
    mut daemon: Option<&mut Daemon>,
    params: &RunParams,
    interrupted: &AtomicBool,
) -> Result<Measurement, RunError> {
    let ctl = Arc::new(Control::default());
    let (ev_tx, ev_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel();
    let spawn = |role: Role, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(format!("bench-{role}"))
            .spawn(f)
            .map_err(|source| RunError::Thread {
                who: who.to_string(),
                role,
                source,
            })
    };
    let mut threads = Vec::new();
    {
        let (plan, tx, c) = (stream.plan, ev_tx.clone(), ctl.clone());
        let f = Box::new(move || peer::run_monitor(mon_cfg, plan, tx, c));
        threads.push(spawn(Role::Monitor, f)?);
    }
    {
        let (st, tx, c) = (stream.clone(), ev_tx.clone(), ctl.clone());
        let f = Box::new(move || peer::run_injector(inj_cfg, st, go_rx, tx, c));
        match spawn(Role::Injector, f) {
            Ok(t) => threads.push(t),
            Err(e) => {
                ctl.shutdown();
                return Err(e);
            }
        }
    }
    drop(ev_tx);
    let netns = topo.dut.as_ref().map_or("", |n| n.name()).to_string();
    let r = wait(
        who,
        &netns,
        &ctl,
        &ev_rx,
        go_tx,
        daemon.as_deref_mut(),
        params,
        stream.plan.len(),
        interrupted,
    );
    // Measure before anything is stopped.
    let r = r.and_then(|mut m| {
        if let Some(d) = daemon.as_deref_mut() {
            m.rss = Some(d.peak_rss()?);
        }
        Ok(m)
    });
    ctl.shutdown();
    if let Some(d) = daemon {
        d.stop();
    }
    for t in threads {
        let _ = t.join();
    }
    r
}

#[allow(clippy::too_many_arguments)]
fn wait(
    who: &str,
    netns: &str,
    ctl: &Control,
    events: &mpsc::Receiver<Event>,
    go: mpsc::Sender<()>,
    mut daemon: Option<&mut Daemon>,
    params: &RunParams,
    total: u32,
    interrupted: &AtomicBool,
) -> Result<Measurement, RunError> {
    let log = |d: &Option<&mut Daemon>| d.as_ref().map(|d| d.log_tail(15)).unwrap_or_default();
    let mut established = 0;
    let mut go = Some(go);
    let mut go_at: Option<Instant> = None;
    let (mut t0, mut sent): (Option<Instant>, Option<Instant>) = (None, None);
    let mut cpu0: Option<f64> = None;
    let mut inj_cpu = 0.0;
    let mut next_progress = PROGRESS_EVERY;
    loop {
        if interrupted.load(Ordering::SeqCst) {
            return Err(RunError::Interrupted { who: who.into() });
        }
        if let Some(d) = daemon.as_deref_mut() {
            if let Some(status) = d.exited() {
                return Err(RunError::Exited {
                    who: who.into(),
                    status: status.to_string(),
                    netns: netns.into(),
                    log: d.log_tail(15),
                });
            }
        }
        if go_at.is_some_and(|at| Instant::now() >= at) {
            go_at = None;
            if let Some(g) = go.take() {
                let _ = g.send(());
            }
        }
        if let Some(t) = t0 {
            if t.elapsed() >= next_progress {
                next_progress += PROGRESS_EVERY;
                tracing::info!(
                    "{who}: {:.0} s, the monitor holds {} of {total} prefixes",
                    t.elapsed().as_secs_f64(),
                    ctl.held.load(Ordering::Relaxed)
                );
            }
            if t.elapsed() > params.timeout {
                return Err(RunError::Timeout {
                    who: who.into(),
                    secs: params.timeout.as_secs(),
                    held: ctl.held.load(Ordering::Relaxed),
                    total,
                    updates: ctl.monitor_updates.load(Ordering::Relaxed),
                    log: log(&daemon),
                });
            }
        }
        match events.recv_timeout(Duration::from_millis(100)) {
            Ok(Event::Established(role)) => {
                tracing::debug!(%role, "{who}: session Established");
                established += 1;
                if established == 2 {
                    tracing::info!(
                        "{who}: both sessions Established; starting in {:?}",
                        params.settle
                    );
                    go_at = Some(Instant::now() + params.settle);
                    if let Some(d) = daemon.as_deref_mut() {
                        d.refresh();
                    }
                }
            }
            Ok(Event::Started(t)) => {
                t0 = Some(t);
                cpu0 = Some(cpu_seconds());
            }
            Ok(Event::SendDone { at: t, cpu }) => {
                sent = Some(t);
                inj_cpu = cpu;
                if let Some(s) = t0 {
                    tracing::debug!("{who}: stream written in {:.3} s", (t - s).as_secs_f64());
                }
            }
            Ok(Event::Complete {
                at: t1,
                held,
                updates,
                cpu,
            }) => {
                let Some(s) = t0 else { continue };
                // The End-of-RIB may still be in flight when the last prefix arrives.
                let sent = sent.unwrap_or(t1);
                return Ok(Measurement {
                    seconds: (t1 - s).as_secs_f64(),
                    send_seconds: (sent.min(t1) - s).as_secs_f64(),
                    rss: None,
                    prefixes_held: held,
                    updates_to_monitor: updates,
                    harness_cpu_seconds: cpu_seconds() - cpu0.unwrap_or(0.0),
                    injector_cpu_seconds: inj_cpu,
                    drain_cpu_seconds: ctl.drain_cpu_ns.load(Ordering::Relaxed) as f64 / 1e9,
                    monitor_cpu_seconds: cpu,
                    updates_to_injector: ctl.injector_updates.load(Ordering::Relaxed),
                });
            }
            Ok(Event::Failed(e)) => {
                // Give a dying daemon a moment so that its exit is what gets reported.
                std::thread::sleep(Duration::from_millis(200));
                if let Some(d) = daemon.as_deref_mut() {
                    if let Some(status) = d.exited() {
                        return Err(RunError::Exited {
                            who: who.into(),
                            status: status.to_string(),
                            netns: netns.into(),
                            log: d.log_tail(15),
                        });
                    }
                }
                return Err(RunError::Peer {
                    who: who.into(),
                    source: e,
                    log: log(&daemon),
                });
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(RunError::Peer {
                    who: who.into(),
                    source: PeerError::Closed {
                        role: Role::Monitor,
                        when: "peer threads ended",
                    },
                    log: log(&daemon),
                })
            }
        }
    }
}
