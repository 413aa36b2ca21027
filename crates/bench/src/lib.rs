//! `bench`: the benchmark harness behind `bgplane bench` (issue #3).
//!
//! `bgplane bench full-table` runs, in one go and in fresh network namespaces, an injector
//! peer that sends a full table (1,000,000 IPv4 prefixes in 100,000 attribute sets by
//! default) to the device under test, which re-advertises it to a monitor peer. It
//! reports, per DUT, the time from the first UPDATE to the monitor holding every prefix and
//! the DUT's peak RSS, for bgplane, BIRD, FRR, OpenBGPD and GoBGP in turn, plus the
//! harness floor (injector straight to monitor, no DUT).
//!
//! Layers, each with its error type: [`stream`] (the pre-encoded UPDATE stream),
//! [`accounting`] (what the monitor holds), [`peer`] (the injector and monitor BGP
//! peers), [`netns`] (namespaces and veths), [`process`] (the DUT's processes and their
//! memory), [`dut`] (configurations), [`fulltable`] (one run) and [`report`].

pub mod accounting;
pub mod dut;
pub mod fibinstall;
pub mod fulltable;
pub mod netns;
pub mod peer;
pub mod process;
pub mod report;
pub mod rrscale;
pub mod rtwatch;
pub mod stream;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

pub use dut::Dut;
pub use fulltable::{Measurement, RunError, RunParams};
pub use report::{Report, Row};

/// `bgplane bench` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Full table through each DUT: 1M IPv4 prefixes in 100k attribute sets, eBGP in,
    /// eBGP out; time to the last prefix at the monitor and the DUT's peak RSS. Needs root.
    FullTable(FullTableArgs),
    /// One route reflector, N iBGP clients each announcing one /24 (a Kubernetes node):
    /// time from every session up to every client holding every other client's route,
    /// and the reflector's peak RSS, for bgplane, BIRD and FRR. Needs root.
    RrScale(rrscale::RrScaleArgs),
    /// A full table (1M IPv4 prefixes) over eBGP into the DUT's kernel FIB: time from
    /// the first UPDATE to every route in the kernel, for bgplane and BIRD. Needs root.
    FibInstall(fibinstall::FibInstallArgs),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// A table.
    Text,
    /// JSON.
    Json,
}

/// The flags every `bgplane bench` subcommand takes.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// The bgplane executable to test (default: this one).
    #[arg(long)]
    pub bgplane: Option<PathBuf>,
    /// Keep each run's temporary directory (configurations and daemon logs).
    #[arg(long)]
    pub keep_dir: bool,
}

impl CommonArgs {
    /// The bgplane executable to start: `--bgplane`, else `default`.
    pub fn bgplane_or(&self, default: &Path) -> PathBuf {
        self.bgplane
            .clone()
            .unwrap_or_else(|| default.to_path_buf())
    }
}

/// Arguments of `bgplane bench full-table`.
#[derive(Debug, Clone, clap::Args)]
pub struct FullTableArgs {
    /// Devices under test, in order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "bgplane,bird,frr,openbgpd,gobgp"
    )]
    pub dut: Vec<Dut>,
    /// Number of IPv4 prefixes (/24s from 16.0.0.0).
    #[arg(long, default_value_t = 1_000_000)]
    pub prefixes: u32,
    /// Number of distinct attribute sets.
    #[arg(long, default_value_t = 100_000)]
    pub sets: u32,
    /// Seconds allowed per DUT from the first UPDATE to the last prefix at the monitor.
    #[arg(long, default_value_t = 180)]
    pub timeout: u64,
    /// Milliseconds to wait between both sessions being up and the first UPDATE.
    #[arg(long, default_value_t = 1000)]
    pub settle_ms: u64,
    /// Skip the harness floor (injector straight to monitor).
    #[arg(long)]
    pub no_floor: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// Errors that stop the whole benchmark (a single DUT's failure only fills its row).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Namespaces need root.
    #[error("bgplane bench needs root (it creates network namespaces and runs daemons in them); run it with sudo")]
    NotRoot,
    /// The stream parameters are invalid.
    #[error(transparent)]
    Stream(#[from] stream::StreamError),
    /// Leftover namespaces or `ip` failures before starting.
    #[error(transparent)]
    Netns(#[from] netns::NetnsError),
    /// Signal handlers could not be installed.
    #[error("installing the Ctrl-C handler: {0}")]
    Signal(std::io::Error),
    /// Ctrl-C or SIGTERM: everything started has been stopped and deleted.
    #[error("interrupted; every namespace and process of the benchmark has been cleaned up")]
    Interrupted,
}

/// Runs a `bgplane bench` subcommand and returns what to print. `bgplane` is the
/// executable to start for the bgplane DUT unless the arguments name another.
pub fn run(cmd: Command, bgplane: &Path) -> Result<String, BenchError> {
    match cmd {
        Command::FullTable(a) => {
            let report = full_table(&a, bgplane)?;
            Ok(match a.common.output {
                Output::Text => report.to_table(),
                Output::Json => report.to_json() + "\n",
            })
        }
        Command::FibInstall(a) => {
            let interrupted = prepare_run()?;
            let report = fibinstall::run(&a, bgplane, &interrupted)?;
            Ok(match a.common.output {
                Output::Text => report.to_table(),
                Output::Json => report.to_json() + "\n",
            })
        }
        Command::RrScale(a) => {
            let interrupted = prepare_run()?;
            let report = rrscale::run(&a, bgplane, &interrupted);
            if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(BenchError::Interrupted);
            }
            Ok(match a.common.output {
                Output::Text => report.to_table(),
                Output::Json => report.to_json() + "\n",
            })
        }
    }
}

/// Checks for root, installs the interrupt flag (Ctrl-C, SIGTERM, SIGHUP: everything
/// started is cleaned up) and removes namespaces left by killed runs.
fn prepare_run() -> Result<Arc<AtomicBool>, BenchError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(BenchError::NotRoot);
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, interrupted.clone()).map_err(BenchError::Signal)?;
    }
    netns::clean_stale()?;
    Ok(interrupted)
}

/// Runs the full-table benchmark for every DUT asked for.
pub fn full_table(a: &FullTableArgs, bgplane: &Path) -> Result<Report, BenchError> {
    let interrupted = prepare_run()?;
    let mut machine = report::Machine::read();
    let spec = stream::StreamSpec {
        prefixes: a.prefixes,
        sets: a.sets,
        local_as: dut::INJ_AS,
        next_hop: netns::addr::INJ,
        avoid: [dut::DUT_AS, dut::MON_AS],
        seed: 3,
    };
    let t = std::time::Instant::now();
    let st = Arc::new(stream::Stream::generate(&spec)?);
    tracing::info!(
        prefixes = a.prefixes,
        sets = a.sets,
        updates = st.updates,
        bytes = st.bytes.len(),
        "stream encoded in {:.3} s",
        t.elapsed().as_secs_f64()
    );
    let params = RunParams {
        timeout: Duration::from_secs(a.timeout),
        settle: Duration::from_millis(a.settle_ms),
        bgplane: a.common.bgplane_or(bgplane),
        keep_dir: a.common.keep_dir,
    };
    let interrupted_now = || interrupted.load(std::sync::atomic::Ordering::SeqCst);
    let floor = if a.no_floor {
        None
    } else {
        tracing::info!("floor: injector -> monitor, no DUT");
        let load = report::loadavg();
        let r = fulltable::run_one(None, &st, &params, &interrupted);
        if interrupted_now() {
            return Err(BenchError::Interrupted);
        }
        log_outcome("floor", &r);
        let mut row = Row::new("floor", None, r.map_err(|e| e.to_string()));
        row.load_before = load;
        Some(row)
    };
    let mut rows = Vec::new();
    for d in &a.dut {
        let version = d.version(&params.bgplane);
        let load = report::loadavg();
        tracing::info!(dut = %d, "running");
        let r = match &version {
            Err(e) => Err(e.to_string()),
            Ok(_) => {
                let r = fulltable::run_one(Some(*d), &st, &params, &interrupted);
                if interrupted_now() {
                    return Err(BenchError::Interrupted);
                }
                log_outcome(&d.to_string(), &r);
                r.map_err(|e| e.to_string())
            }
        };
        let mut row = Row::new(&d.to_string(), version.ok(), r);
        row.load_before = load;
        rows.push(row);
    }
    machine.load_at_end = report::loadavg();
    Ok(Report {
        benchmark: "full-table",
        machine,
        prefixes: a.prefixes,
        sets: a.sets,
        updates: st.updates,
        stream_bytes: st.bytes.len(),
        timeout_secs: a.timeout,
        rss_note: rss_note(),
        floor,
        duts: rows,
    })
}

fn log_outcome(who: &str, r: &Result<Measurement, RunError>) {
    match r {
        Ok(m) => tracing::info!(
            "{who}: {:.3} s, peak RSS {}",
            m.seconds,
            m.rss.as_ref().map_or("-".into(), |r| format!(
                "{:.0} MB ({})",
                r.bytes as f64 / 1e6,
                r.method
            ))
        ),
        Err(e) => tracing::warn!("{e}"),
    }
}

/// Says how peak memory is measured here and why a cgroup is not used.
pub fn rss_note() -> String {
    let v2 = [
        "/sys/fs/cgroup/cgroup.controllers",
        "/sys/fs/cgroup/unified/cgroup.controllers",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok().map(|c| (p, c)));
    let why = match v2 {
        Some((p, c)) if c.split_whitespace().any(|x| x == "memory") => format!(
            "{p} offers the memory controller, but the harness does not move daemons into cgroups yet"
        ),
        Some((p, c)) => format!(
            "cgroup v2 memory.peak is unavailable: {p} lists no memory controller ({:?})",
            c.trim()
        ),
        None => "cgroup v2 is not mounted".into(),
    };
    format!(
        "VmHWM from /proc/<pid>/status of the DUT and every process it forked, read just before \
         stopping it and summed (a sum of per-process peaks; shared pages count once per process); {why}"
    )
}
