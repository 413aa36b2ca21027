//! `bgplane bench fib-install`: how long a speaker takes to put a full table into the
//! kernel. The injector sends the full-table stream (1,000,000 IPv4 prefixes in 100,000
//! attribute sets by default) over eBGP to the DUT, which installs every route in its
//! namespace's main table (bgplane's FIB; BIRD's `kernel` protocol). The clock runs from
//! the first UPDATE to the moment the kernel holds every prefix, followed by an rtnetlink
//! listener inside the DUT's namespace; a table dump confirms the count at the end.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::dut::{Dut, Launch, DUT_AS, INJ_AS};
use crate::netns::{self, addr, End, Netns};
use crate::peer::{self, Control, Dial, Event, PeerConfig, Role};
use crate::process::Daemon;
use crate::report::{loadavg, Machine};
use crate::rtwatch::{self, Listener};
use crate::stream::{PrefixPlan, Stream, StreamSpec};

/// Arguments of `bgplane bench fib-install`.
#[derive(Debug, Clone, clap::Args)]
pub struct FibInstallArgs {
    /// Speakers to measure, in order (bgplane, bird).
    #[arg(long, value_delimiter = ',', default_value = "bgplane,bird")]
    pub dut: Vec<Dut>,
    /// Number of IPv4 prefixes.
    #[arg(long, default_value_t = 1_000_000)]
    pub prefixes: u32,
    /// Number of distinct attribute sets.
    #[arg(long, default_value_t = 100_000)]
    pub sets: u32,
    /// Seconds allowed per DUT from the first UPDATE to the last route in the kernel.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: crate::CommonArgs,
}

/// One DUT's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct FibRow {
    /// The DUT.
    pub dut: String,
    /// Its version.
    pub version: Option<String>,
    /// From the first UPDATE to every prefix in the kernel.
    pub seconds: Option<f64>,
    /// Prefixes of the plan in the kernel's main table at the end (a dump).
    pub in_kernel: Option<u32>,
    /// The DUT's peak RSS in bytes.
    pub peak_rss_bytes: Option<u64>,
    /// How the kernel was followed: `notifications`, or `dumps` after an overflow.
    pub method: Option<String>,
    /// CPU seconds of the harness's route listener.
    pub listener_cpu_seconds: Option<f64>,
    /// `/proc/loadavg` before the run.
    pub load_before: String,
    /// `ok` or the error.
    pub result: String,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct FibReport {
    /// Benchmark name.
    pub benchmark: &'static str,
    /// Machine facts.
    pub machine: Machine,
    /// Prefixes sent.
    pub prefixes: u32,
    /// Attribute sets.
    pub sets: u32,
    /// One row per DUT.
    pub rows: Vec<FibRow>,
}

impl FibReport {
    /// JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// A table.
    pub fn to_table(&self) -> String {
        let mut s = format!(
            "{} prefixes in {} attribute sets, eBGP in, into the kernel's main table\n\
             {:<8} {:<8} {:>9} {:>10} {:>12} {:<14} {:>13}  {:<14} result\n",
            self.prefixes,
            self.sets,
            "DUT",
            "version",
            "seconds",
            "in kernel",
            "peak RSS MB",
            "followed by",
            "listener CPU",
            "load before"
        );
        for r in &self.rows {
            let _ = writeln!(
                s,
                "{:<8} {:<8} {:>9} {:>10} {:>12} {:<14} {:>13}  {:<14} {}",
                r.dut,
                r.version.as_deref().unwrap_or("-"),
                r.seconds.map_or("-".into(), |v| format!("{v:.3}")),
                r.in_kernel.map_or("-".into(), |v| v.to_string()),
                r.peak_rss_bytes
                    .map_or("-".into(), |b| format!("{:.0}", b as f64 / 1e6)),
                r.method.as_deref().unwrap_or("-"),
                r.listener_cpu_seconds
                    .map_or("-".into(), |v| format!("{v:.2}")),
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

/// Runs the benchmark for every DUT.
pub fn run(
    a: &FibInstallArgs,
    bgplane: &Path,
    interrupted: &AtomicBool,
) -> Result<FibReport, crate::BenchError> {
    let mut machine = Machine::read();
    let bgplane = a.common.bgplane_or(bgplane);
    let spec = StreamSpec {
        prefixes: a.prefixes,
        sets: a.sets,
        local_as: INJ_AS,
        next_hop: addr::INJ,
        avoid: [DUT_AS, crate::dut::MON_AS],
        seed: 3,
    };
    let stream = Arc::new(Stream::generate(&spec)?);
    let mut rows = Vec::new();
    for d in &a.dut {
        if interrupted.load(Ordering::SeqCst) {
            return Err(crate::BenchError::Interrupted);
        }
        let version = d.version(&bgplane);
        let load_before = loadavg();
        tracing::info!(dut = %d, "running");
        let r = match (&version, d) {
            (Err(e), _) => Err(e.to_string()),
            (Ok(_), Dut::Bgplane | Dut::Bird) => {
                run_one(*d, &stream, a, &bgplane, interrupted).map_err(|e| format!("{d}: {e}"))
            }
            (Ok(_), _) => Err(format!("{d}: not supported here (bgplane and bird)")),
        };
        match &r {
            Ok(m) => {
                tracing::info!(dut = %d, "{} prefixes in the kernel in {:.3} s", m.in_kernel, m.seconds)
            }
            Err(e) => tracing::warn!("{e}"),
        }
        rows.push(match r {
            Ok(m) => FibRow {
                dut: d.to_string(),
                version: version.ok(),
                seconds: Some(m.seconds),
                in_kernel: Some(m.in_kernel),
                peak_rss_bytes: Some(m.rss),
                method: Some(m.method.into()),
                listener_cpu_seconds: Some(m.listener_cpu),
                load_before,
                result: "ok".into(),
            },
            Err(e) => FibRow {
                dut: d.to_string(),
                version: version.ok(),
                seconds: None,
                in_kernel: None,
                peak_rss_bytes: None,
                method: None,
                listener_cpu_seconds: None,
                load_before,
                result: e,
            },
        });
    }
    machine.load_at_end = loadavg();
    Ok(FibReport {
        benchmark: "fib-install",
        machine,
        prefixes: a.prefixes,
        sets: a.sets,
        rows,
    })
}

struct Measured {
    seconds: f64,
    in_kernel: u32,
    rss: u64,
    method: &'static str,
    listener_cpu: f64,
}

/// What the kernel watcher shares with the orchestrator.
#[derive(Default)]
struct Watch {
    stop: AtomicBool,
    held: AtomicU64,
    done_at: Mutex<Option<Instant>>,
    overflowed: AtomicBool,
    failure: Mutex<Option<String>>,
    cpu_ns: AtomicU64,
}

fn prepare(dut: Dut, dir: &Path, bgplane: &Path) -> Result<Launch, String> {
    let bin = dut.check_installed(bgplane).map_err(|e| e.to_string())?;
    let args = match dut {
        Dut::Bgplane => {
            crate::dut::bgplane_args(&[addr::DUT_INJ], &[(addr::INJ, INJ_AS)], true, dir)
        }
        Dut::Bird => {
            let conf = dir.join("bird.conf");
            std::fs::write(&conf, bird_conf())
                .map_err(|e| format!("writing {}: {e}", conf.display()))?;
            crate::dut::bird_args(dir, &conf)
        }
        other => return Err(format!("{other} is not supported here")),
    };
    Ok(Launch { program: bin, args })
}

/// BIRD: one passive eBGP protocol importing everything, and the `kernel` protocol
/// exporting everything to the main table.
pub fn bird_conf() -> String {
    format!(
        "router id {};\nlog stderr {{ warning, error, auth, fatal, bug }};\nprotocol device {{ }}\n\
         protocol kernel {{ ipv4 {{ import none; export all; }}; }}\n\
         protocol bgp injector {{\n  local {} as {DUT_AS};\n  neighbor {} as {INJ_AS};\n  \
         passive on;\n  ipv4 {{ import all; export none; }};\n}}\n",
        addr::DUT_ID,
        addr::DUT_INJ,
        addr::INJ
    )
}

fn run_one(
    dut: Dut,
    stream: &Arc<Stream>,
    a: &FibInstallArgs,
    bgplane: &Path,
    interrupted: &AtomicBool,
) -> Result<Measured, String> {
    let run = 2000 + RUNS.fetch_add(1, Ordering::Relaxed) as u32;
    let inj = Netns::create(run, "fib-inj").map_err(|e| e.to_string())?;
    let dns = Netns::create(run, "fib-dut").map_err(|e| e.to_string())?;
    netns::link(
        End {
            ns: &inj,
            ifname: "eth0",
            addr: addr::INJ,
        },
        End {
            ns: &dns,
            ifname: "to-inj",
            addr: addr::DUT_INJ,
        },
    )
    .map_err(|e| e.to_string())?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!("bgb-fib-{dut}-"))
        .tempdir()
        .map_err(|e| format!("creating a temporary directory: {e}"))?;

    // The listener first, so that it sees the first route.
    let watch = Arc::new(Watch::default());
    let (ready_tx, ready_rx) = mpsc::channel();
    let watcher = {
        let (w, ns, plan) = (watch.clone(), dns.name().to_string(), stream.plan);
        std::thread::Builder::new()
            .name("bench-fib-watch".into())
            .spawn(move || watch_kernel(&ns, plan, &w, ready_tx))
            .map_err(|e| format!("starting the route listener: {e}"))?
    };
    if ready_rx.recv_timeout(Duration::from_secs(10)).is_err() {
        watch.stop.store(true, Ordering::SeqCst);
        let _ = watcher.join();
        let f = watch.failure.lock().ok().and_then(|f| f.clone());
        return Err(f.unwrap_or_else(|| "the route listener did not start".into()));
    }

    let launch = prepare(dut, tmp.path(), bgplane)?;
    let log = tmp.path().join(format!("{dut}.log"));
    let r = (|| {
        let mut daemon = Daemon::spawn(
            &dut.to_string(),
            dns.name(),
            &launch.program,
            &launch.args,
            &log,
        )
        .map_err(|e| e.to_string())?;
        let r = drive(stream, &inj, &mut daemon, &watch, a, interrupted);
        daemon.stop();
        r
    })();
    watch.stop.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    if a.common.keep_dir {
        let kept = tmp.keep();
        tracing::info!(dir = %kept.display(), "{dut}: temporary directory kept");
    }
    r
}

static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn drive(
    stream: &Arc<Stream>,
    inj: &Netns,
    daemon: &mut Daemon,
    watch: &Watch,
    a: &FibInstallArgs,
    interrupted: &AtomicBool,
) -> Result<Measured, String> {
    let ctl = Arc::new(Control::default());
    let (ev_tx, ev_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel();
    let cfg = PeerConfig {
        role: Role::Injector,
        local_as: INJ_AS,
        router_id: addr::INJ,
        peer_as: DUT_AS,
        netns: inj.name().to_string(),
        dial: Dial::Connect(SocketAddr::new(addr::DUT_INJ.into(), 179)),
        connect_timeout: Duration::from_secs(60),
    };
    let injector = {
        let (st, c) = (stream.clone(), ctl.clone());
        std::thread::Builder::new()
            .name("bench-injector".into())
            .spawn(move || peer::run_injector(cfg, st, go_rx, ev_tx, c))
            .map_err(|e| format!("starting the injector: {e}"))?
    };
    let r = wait(stream.plan, daemon, watch, &ev_rx, go_tx, a, interrupted);
    let r = r.and_then(|(t0, t1, cpu0)| {
        let rss = daemon.peak_rss().map_err(|e| e.to_string())?;
        let in_kernel = in_namespace(daemon_ns(daemon)?, || rtwatch::dump_count(stream.plan))?;
        Ok(Measured {
            seconds: (t1 - t0).as_secs_f64(),
            in_kernel,
            rss: rss.bytes,
            method: if watch.overflowed.load(Ordering::Relaxed) {
                "dumps"
            } else {
                "notifications"
            },
            listener_cpu: (watch.cpu_ns.load(Ordering::Relaxed).saturating_sub(cpu0)) as f64 / 1e9,
        })
    });
    ctl.shutdown();
    let _ = injector.join();
    r
}

/// The namespace a daemon runs in (from its `/proc/PID/ns/net`).
fn daemon_ns(daemon: &Daemon) -> Result<String, String> {
    Ok(format!("/proc/{}/ns/net", daemon.pid()))
}

/// Runs `f` on a thread that entered the namespace at `path` (the caller's thread stays
/// where it is).
fn in_namespace<T: Send>(
    path: String,
    f: impl FnOnce() -> Result<T, rtwatch::WatchError> + Send,
) -> Result<T, String> {
    std::thread::scope(|s| {
        s.spawn(move || {
            let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| format!("entering {path}: {e}"))?;
            f().map_err(|e| e.to_string())
        })
        .join()
        .unwrap_or_else(|_| Err("the dump thread panicked".into()))
    })
}

fn wait(
    plan: PrefixPlan,
    daemon: &mut Daemon,
    watch: &Watch,
    events: &mpsc::Receiver<Event>,
    go: mpsc::Sender<()>,
    a: &FibInstallArgs,
    interrupted: &AtomicBool,
) -> Result<(Instant, Instant, u64), String> {
    let mut go = Some(go);
    let mut go_at = None;
    let mut t0 = None;
    let mut cpu0 = 0;
    let mut next_log = Duration::from_secs(10);
    loop {
        if interrupted.load(Ordering::SeqCst) {
            return Err("interrupted".into());
        }
        if let Some(status) = daemon.exited() {
            return Err(format!(
                "the daemon exited ({status}); last lines of its log:\n{}",
                daemon.log_tail(15)
            ));
        }
        if let Some(f) = watch.failure.lock().ok().and_then(|f| f.clone()) {
            return Err(f);
        }
        if go_at.is_some_and(|at| Instant::now() >= at) {
            go_at = None;
            if let Some(g) = go.take() {
                let _ = g.send(());
            }
        }
        if let Some(t) = t0 {
            if let Some(t1) = watch.done_at.lock().ok().and_then(|d| *d) {
                return Ok((t, t1, cpu0));
            }
            let e: Duration = Instant::now() - t;
            if e > Duration::from_secs(a.timeout) {
                return Err(format!(
                    "timed out after {} s: {} of {} prefixes in the kernel",
                    a.timeout,
                    watch.held.load(Ordering::Relaxed),
                    plan.len()
                ));
            }
            if e > next_log {
                next_log += Duration::from_secs(10);
                tracing::info!(
                    "{} of {} prefixes in the kernel",
                    watch.held.load(Ordering::Relaxed),
                    plan.len()
                );
            }
        }
        match events.recv_timeout(Duration::from_millis(5)) {
            Ok(Event::Established(_)) => {
                daemon.refresh();
                go_at = Some(Instant::now() + Duration::from_secs(1));
            }
            Ok(Event::Started(t)) => {
                t0 = Some(t);
                cpu0 = watch.cpu_ns.load(Ordering::Relaxed);
            }
            Ok(Event::Failed(e)) => {
                return Err(format!(
                    "{e}; last lines of the DUT's log:\n{}",
                    daemon.log_tail(15)
                ))
            }
            Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                if t0.is_none() {
                    return Err("the injector ended before sending".into());
                }
            }
        }
    }
}

/// The route listener's thread: enters the DUT's namespace, follows route notifications
/// (or, after an overflow, dumps the table every 200 ms) until every prefix is there.
fn watch_kernel(ns: &str, plan: PrefixPlan, w: &Watch, ready: mpsc::Sender<()>) {
    let fail = |m: String| {
        if let Ok(mut f) = w.failure.lock() {
            f.get_or_insert(m);
        }
    };
    if let Err(e) = netns::enter(ns) {
        return fail(e.to_string());
    }
    let mut listener = match Listener::new(512 << 20) {
        Ok(l) => l,
        Err(e) => return fail(e.to_string()),
    };
    let _ = ready.send(());
    let mut held = crate::accounting::Held::new(plan);
    let cpu = || {
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
            .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
            .unwrap_or(0)
    };
    let mut done = false;
    while !w.stop.load(Ordering::Relaxed) {
        if w.overflowed.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            match rtwatch::dump_count(plan) {
                Ok(n) => {
                    w.held.store(u64::from(n), Ordering::Relaxed);
                    if n == plan.len() && !done {
                        done = true;
                        if let Ok(mut d) = w.done_at.lock() {
                            *d = Some(Instant::now());
                        }
                    }
                }
                Err(e) => return fail(e.to_string()),
            }
        } else {
            match listener.poll(&mut held) {
                Ok(_) => {
                    w.held.store(u64::from(held.held()), Ordering::Relaxed);
                    if held.complete() && !done {
                        done = true;
                        if let Ok(mut d) = w.done_at.lock() {
                            *d = Some(Instant::now());
                        }
                    }
                }
                Err(rtwatch::WatchError::Overflow) => {
                    tracing::warn!("route notifications overflowed; counting by table dumps");
                    w.overflowed.store(true, Ordering::Relaxed);
                }
                Err(e) => return fail(e.to_string()),
            }
        }
        w.cpu_ns.store(cpu(), Ordering::Relaxed);
    }
}
