//! Daemons started inside a namespace with `ip netns exec` (which execs the program, so
//! the child's pid is the daemon's), logging to a file, and stopped by pid on drop: the
//! daemon and every process it forked (OpenBGPD's helpers), each recognised by its start
//! time so that a reused pid is never signalled.

use std::fs::{self, File};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Lab;

/// A running daemon; stopped on drop.
pub(crate) struct Proc {
    name: String,
    child: Child,
    /// Every process of the daemon seen so far: pid and start time.
    seen: Vec<(u32, u64)>,
    stopped: bool,
}

impl Proc {
    /// Starts `program args` in namespace `ns` with extra environment `env`, output to
    /// `<lab dir>/<name>.log`.
    pub(crate) fn spawn(
        lab: &Lab,
        ns: &str,
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(&str, String)],
    ) -> Proc {
        let log = lab.path(&format!("{name}.log"));
        let out = File::create(&log).unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        let err = out.try_clone().expect("cloning a log file handle");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} in {ns}: {e}", program.display()));
        lab.add_log(name, &log);
        let mut p = Proc {
            name: name.into(),
            child,
            seen: Vec::new(),
            stopped: false,
        };
        p.refresh();
        p
    }

    /// The daemon's pid.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the daemon still runs.
    pub(crate) fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Panics if the daemon has exited.
    pub(crate) fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited: {status}", self.name);
        }
    }

    /// Notes the daemon's current descendants, so that they are stopped too.
    fn refresh(&mut self) {
        for (pid, start) in tree(self.pid()) {
            if !self.seen.contains(&(pid, start)) {
                self.seen.push((pid, start));
            }
        }
    }

    /// Stops the daemon: SIGTERM, up to 5 s grace, SIGKILL; then any of its forked
    /// processes still alive after 3 s get SIGKILL.
    pub(crate) fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.refresh();
        let pid = self.pid();
        if self.running() {
            signal(pid, "TERM");
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.running() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if self.running() {
                super::say(&format!(
                    "{} ({pid}) ignored SIGTERM for 5 s: SIGKILL",
                    self.name
                ));
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let alive: Vec<u32> = self
                .seen
                .iter()
                .filter(|&&(p, s)| p != pid && start_time(p) == Some(s) && !zombie(p))
                .map(|&(p, _)| p)
                .collect();
            if alive.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                for p in alive {
                    super::say(&format!("{}: helper {p} still alive: SIGKILL", self.name));
                    signal(p, "KILL");
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Proc {
    /// Kills the daemon with SIGKILL at once (a crash: no NOTIFICATION, no clean-up) and
    /// reaps it; its forked processes get SIGKILL too.
    pub(crate) fn kill(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.refresh();
        let pid = self.pid();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for &(p, s) in &self.seen {
            if p != pid && start_time(p) == Some(s) && !zombie(p) {
                signal(p, "KILL");
            }
        }
    }

    /// Sends signal `sig` (e.g. `INT`) to the daemon if it still runs.
    pub(crate) fn signal(&mut self, sig: &str) {
        if self.running() {
            signal(self.pid(), sig);
        }
    }

    /// Waits up to `timeout` for the daemon to exit; whether it did.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.running() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends a signal with kill(1).
pub(crate) fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// Fields of `/proc/<pid>/stat` after the command name: state [0], ppid [1], start [19].
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn start_time(pid: u32) -> Option<u64> {
    stat_fields(pid).and_then(|f| f.get(19).and_then(|v| v.parse().ok()))
}

fn zombie(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s == "Z"))
}

/// `root` and its descendants, with their start times.
fn tree(root: u32) -> Vec<(u32, u64)> {
    let mut all: Vec<(u32, u32, u64)> = Vec::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(f) = stat_fields(pid) {
                let ppid = f.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
                let start = f.get(19).and_then(|v| v.parse().ok()).unwrap_or(0);
                all.push((pid, ppid, start));
            }
        }
    }
    let mut out: Vec<(u32, u64)> = all
        .iter()
        .filter(|(p, _, _)| *p == root)
        .map(|&(p, _, s)| (p, s))
        .collect();
    let mut i = 0;
    while i < out.len() {
        let parent = out[i].0;
        out.extend(
            all.iter()
                .filter(|(_, pp, _)| *pp == parent)
                .map(|&(c, _, s)| (c, s)),
        );
        i += 1;
    }
    out
}
