//! The DUT's processes: started inside its namespace with `ip netns exec` (which execs the
//! daemon, so the child's pid is the daemon's), in their own process group (a Ctrl-C at
//! the terminal reaches only the harness, which then stops them), measured through
//! `/proc`, and stopped by pid — the daemon and every process it forked, each checked by
//! its start time so that a reused pid is never signalled.

use std::collections::HashMap;
use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Errors of the process layer.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The log file could not be created.
    #[error("{dut}: creating log file {path}: {source}")]
    Log {
        /// DUT.
        dut: String,
        /// File.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The process could not be started.
    #[error("{dut}: starting `{cmd}` in namespace {netns}: {source}")]
    Spawn {
        /// DUT.
        dut: String,
        /// Command line.
        cmd: String,
        /// Namespace.
        netns: String,
        /// Why.
        source: std::io::Error,
    },
    /// `/proc/<pid>/status` of the DUT could not be read.
    #[error("{dut}: reading /proc/{pid}/status: {source}")]
    Status {
        /// DUT.
        dut: String,
        /// Process.
        pid: i32,
        /// Why.
        source: std::io::Error,
    },
}

/// How the DUT's peak memory was measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PeakRss {
    /// Sum of the peaks, in bytes.
    pub bytes: u64,
    /// Processes summed.
    pub processes: usize,
    /// Human-readable method.
    pub method: String,
}

/// A running DUT process (and, implicitly, its descendants).
#[derive(Debug)]
pub struct Daemon {
    dut: String,
    child: Child,
    log: PathBuf,
    /// Every process of the DUT seen so far: pid → start time.
    seen: HashMap<i32, u64>,
    stopped: bool,
}

impl Daemon {
    /// Runs `program args` in namespace `netns` with stdout and stderr to `log`.
    pub fn spawn(
        dut: &str,
        netns: &str,
        program: &Path,
        args: &[String],
        log: &Path,
    ) -> Result<Self, ProcessError> {
        let out = File::create(log).map_err(|source| ProcessError::Log {
            dut: dut.into(),
            path: log.into(),
            source,
        })?;
        let err = out.try_clone().map_err(|source| ProcessError::Log {
            dut: dut.into(),
            path: log.into(),
            source,
        })?;
        let cmd_line = format!("{} {}", program.display(), args.join(" "));
        tracing::debug!(dut, netns, cmd = %cmd_line, "starting");
        let child = Command::new("ip")
            .args(["netns", "exec", netns])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|source| ProcessError::Spawn {
                dut: dut.into(),
                cmd: cmd_line,
                netns: netns.into(),
                source,
            })?;
        let mut d = Daemon {
            dut: dut.into(),
            child,
            log: log.into(),
            seen: HashMap::new(),
            stopped: false,
        };
        d.refresh();
        Ok(d)
    }

    /// The daemon's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The exit status if the daemon has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last `n` lines of the daemon's log, for error messages.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log, n)
    }

    /// Records the daemon's current descendants (forked helpers) so that they are
    /// measured and stopped too.
    pub fn refresh(&mut self) {
        for (pid, start) in tree(self.pid()) {
            self.seen.entry(pid).or_insert(start);
        }
    }

    /// Sums `VmHWM` (peak resident set) of every live process of the DUT.
    pub fn peak_rss(&mut self) -> Result<PeakRss, ProcessError> {
        self.refresh();
        let mut bytes = 0;
        let mut processes = 0;
        for (&pid, &start) in &self.seen {
            if start_time(pid) != Some(start) {
                continue; // exited (its peak is lost) or pid reused
            }
            let status = fs::read_to_string(format!("/proc/{pid}/status")).map_err(|source| {
                ProcessError::Status {
                    dut: self.dut.clone(),
                    pid,
                    source,
                }
            })?;
            if let Some(kb) = status_kb(&status, "VmHWM:") {
                bytes += kb * 1024;
                processes += 1;
            }
        }
        let method = if processes == 1 {
            "VmHWM of 1 process".to_string()
        } else {
            format!("sum of VmHWM over {processes} processes")
        };
        Ok(PeakRss {
            bytes,
            processes,
            method,
        })
    }

    /// Stops the daemon: SIGTERM, up to 5 s grace, SIGKILL; then any of its processes
    /// still alive get SIGKILL.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.refresh();
        let pid = self.pid();
        if self.exited().is_none() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.exited().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if self.exited().is_none() {
                tracing::warn!(dut = %self.dut, pid, "ignored SIGTERM for 5 s, sending SIGKILL");
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let alive: Vec<i32> = self
                .seen
                .iter()
                .filter(|(&p, &s)| p != pid && start_time(p) == Some(s) && !zombie(p))
                .map(|(&p, _)| p)
                .collect();
            if alive.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                for p in alive {
                    tracing::warn!(dut = %self.dut, pid = p, "helper still alive, sending SIGKILL");
                    let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `n` lines of a file (empty if unreadable).
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A `kB` field of `/proc/<pid>/status`.
pub fn status_kb(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Start time (field 22 of `/proc/<pid>/stat`), to recognise a process.
pub fn start_time(pid: i32) -> Option<u64> {
    stat_fields(pid).and_then(|f| f.get(19).and_then(|v| v.parse().ok()))
}

fn zombie(pid: i32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s == "Z"))
}

/// Fields of `/proc/<pid>/stat` after the command name: state is [0], ppid [1], start
/// time [19].
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// `root` and its descendants, with their start times.
pub fn tree(root: i32) -> Vec<(i32, u64)> {
    let mut parent: Vec<(i32, i32, u64)> = Vec::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if let Some(f) = stat_fields(pid) {
                let ppid = f.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
                let start = f.get(19).and_then(|v| v.parse().ok()).unwrap_or(0);
                parent.push((pid, ppid, start));
            }
        }
    }
    let mut out: Vec<(i32, u64)> = parent
        .iter()
        .filter(|(p, _, _)| *p == root)
        .map(|&(p, _, s)| (p, s))
        .collect();
    let mut i = 0;
    while i < out.len() {
        let p = out[i].0;
        out.extend(
            parent
                .iter()
                .filter(|(_, pp, _)| *pp == p)
                .map(|&(c, _, s)| (c, s)),
        );
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_parse() {
        let s = "Name:\tbird\nVmPeak:\t  200 kB\nVmHWM:\t  130048 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(status_kb(s, "VmHWM:"), Some(130_048));
        assert_eq!(status_kb(s, "VmSwap:"), None);
    }

    #[test]
    fn our_own_tree_contains_us() {
        let me = std::process::id() as i32;
        let t = tree(me);
        assert_eq!(t.first().map(|x| x.0), Some(me));
        assert_eq!(start_time(me), t.first().map(|x| x.1));
    }
}
