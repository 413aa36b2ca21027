//! The test harness: labs (a temporary directory, namespaces and the processes in them),
//! polling, command helpers, and the launchers and state readers of every daemon.

pub(crate) mod bgplane;
pub(crate) mod bird;
pub(crate) mod daemon;
pub(crate) mod frr;
pub(crate) mod frr_router;
pub(crate) mod gobgp;
pub(crate) mod kernel;
pub(crate) mod netns;
pub(crate) mod openbgpd;
pub(crate) mod peer;
pub(crate) mod process;
pub(crate) mod scripted;
#[path = "../../../../../tests/support/skip.rs"]
pub(crate) mod skip;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Condvar, Mutex, Once};
use std::time::{Duration, Instant};

pub(crate) use netns::{Link, Netns};

/// Interval between two looks at a daemon's state.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// Prefix of every namespace, directory and FRR path space the tests create.
pub(crate) const PREFIX: &str = "bgi-";

/// Something a test needs on the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// FRR's zebra and bgpd, vtysh, user frr.
    Frr,
    /// BIRD 2 and birdc.
    Bird,
    /// gobgpd and gobgp.
    Gobgp,
    /// OpenBGPD's bgpd and bgpctl, user _openbgpd.
    Openbgpd,
}

/// The bgplane executable under test.
pub(crate) fn bgplane_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bgplane"))
}

fn in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into(), "/usr/bin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The full path of a program, if installed.
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        return Path::new(name).is_file().then(|| name.into());
    }
    in_path(name)
}

fn user_exists(name: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .map(|p| p.lines().any(|l| l.split(':').next() == Some(name)))
        .unwrap_or(false)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Why the test cannot run here, if it cannot.
fn missing(needs: &[Need]) -> Option<String> {
    if !is_root() {
        return Some("not running as root (network namespaces need it)".into());
    }
    for tool in ["ip", "unshare", "sysctl"] {
        if which(tool).is_none() {
            return Some(format!(
                "{tool} is not installed (iproute2, util-linux, procps)"
            ));
        }
    }
    for need in needs {
        let (bins, user, package): (&[&str], Option<&str>, &str) = match need {
            Need::Frr => (
                &["/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "vtysh"],
                Some("frr"),
                "frr",
            ),
            Need::Bird => (&["bird", "birdc"], None, "bird2"),
            Need::Gobgp => (&["gobgpd", "gobgp"], None, "gobgpd"),
            Need::Openbgpd => (
                &[openbgpd::BGPD, openbgpd::BGPCTL],
                Some("_openbgpd"),
                "openbgpd",
            ),
        };
        for b in bins {
            if which(b).is_none() {
                return Some(format!("{b} is not installed (Debian package {package})"));
            }
        }
        if let Some(u) = user {
            if !user_exists(u) {
                return Some(format!(
                    "user {u} does not exist (Debian package {package})"
                ));
            }
        }
        if *need == Need::Openbgpd && !openbgpd::is_openbgpd() {
            return Some(format!("{} is not OpenBGPD", openbgpd::BGPD));
        }
    }
    None
}

/// Prints a line past libtest's output capture (which only catches the print macros), so
/// that skips and daemon quirks show in CI logs. A line starting with `SKIPPED ` is a skip:
/// a failure under `BGPLANE_TEST_REQUIRE_ALL=1` ([`skip::skipped`]).
pub(crate) fn say(line: &str) {
    if line.starts_with("SKIPPED ") {
        skip::skipped(line);
        return;
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

// --- how many labs run at once ------------------------------------------------------

static RUNNING: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

fn max_jobs() -> usize {
    std::env::var("BGI_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(2)
}

/// A slot among the labs allowed to run at once; freed on drop.
struct Permit;

impl Permit {
    fn acquire() -> Permit {
        let mut n = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= max_jobs() {
            n = FREED.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        Permit
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut n = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        FREED.notify_one();
    }
}

// --- the lab ---------------------------------------------------------------------------

/// One test's world: a temporary directory, its namespaces and the logs of its processes.
///
/// Declare it before the daemons that run in it: locals drop in reverse order, so the
/// processes stop before the namespaces go. On a failure the logs' tails are printed and
/// the directory is kept.
pub(crate) struct Lab {
    /// `bgi-<pid>-<test id>`: the prefix of this lab's namespaces and FRR path spaces.
    pub(crate) id: String,
    /// The temporary directory.
    pub(crate) dir: PathBuf,
    namespaces: RefCell<Vec<Netns>>,
    logs: RefCell<Vec<(String, PathBuf)>>,
    links: RefCell<u8>,
    _permit: Permit,
}

impl Lab {
    /// A lab for the test `test` (a short id, unique among the tests), or `None` after
    /// printing why the test is skipped.
    pub(crate) fn new(test: &str, needs: &[Need]) -> Option<Lab> {
        if let Some(why) = missing(needs) {
            say(&format!("SKIPPED {test}: {why}"));
            return None;
        }
        static CLEAN: Once = Once::new();
        CLEAN.call_once(netns::clean_stale);
        let permit = Permit::acquire();
        let id = format!("{PREFIX}{}-{test}", std::process::id());
        let dir = std::env::temp_dir().join(&id);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the lab directory");
        // FRR's daemons run as user frr and need to reach their directory.
        run(Command::new("chmod").arg("0755").arg(&dir)).expect("chmod of the lab directory");
        Some(Lab {
            id,
            dir,
            namespaces: RefCell::new(Vec::new()),
            logs: RefCell::new(Vec::new()),
            links: RefCell::new(0),
            _permit: permit,
        })
    }

    /// Creates namespace `<id>-<role>` and returns its name.
    pub(crate) fn netns(&self, role: &str) -> String {
        let ns = Netns::create(&format!("{}-{role}", self.id));
        let name = ns.name().to_string();
        self.namespaces.borrow_mut().push(ns);
        name
    }

    /// Joins two of the lab's namespaces with a veth pair, addressed 10.9N.0.1/24 and
    /// fd9N::1/64 on `a`'s side, .2 and ::2 on `b`'s (N counts the lab's links from 0).
    pub(crate) fn link(&self, a: &str, b: &str) -> Link {
        netns::link(a, b, self.next_link(), true)
    }

    /// [`Lab::link`] with IPv6 addresses only (unnumbered links).
    pub(crate) fn link_v6_only(&self, a: &str, b: &str) -> Link {
        netns::link(a, b, self.next_link(), false)
    }

    /// [`Lab::link`] without global IPv6 addresses (link-local ones only).
    pub(crate) fn link_v4_only(&self, a: &str, b: &str) -> Link {
        netns::link_with(a, b, self.next_link(), true, false)
    }

    /// [`Lab::link`] with no addresses but the IPv6 link-local ones (seed 002's
    /// unnumbered links).
    pub(crate) fn link_bare(&self, a: &str, b: &str) -> Link {
        netns::link_with(a, b, self.next_link(), false, false)
    }

    fn next_link(&self) -> u8 {
        let mut l = self.links.borrow_mut();
        *l += 1;
        *l - 1
    }

    /// With `BGI_PCAP=1`: records BGP traffic on `ifname` in namespace `ns` into
    /// `<lab dir>/<name>.pcap` until the returned process is dropped.
    pub(crate) fn capture(&self, ns: &str, ifname: &str, name: &str) -> Option<process::Proc> {
        std::env::var_os("BGI_PCAP")?;
        let tcpdump = which("tcpdump")?;
        let pcap = self.path(&format!("{name}.pcap"));
        let p = process::Proc::spawn(
            self,
            ns,
            name,
            &tcpdump,
            &[
                "-i".into(),
                ifname.into(),
                "-U".into(),
                "-n".into(),
                "-w".into(),
                pcap.display().to_string(),
                "tcp port 179".into(),
            ],
            &[],
        );
        let log = self.path(&format!("{name}.log"));
        wait_for("tcpdump to listen", timeouts::START, || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("listening on")
                .then_some(())
                .ok_or_else(|| "not yet".to_string())
        });
        Some(p)
    }

    /// A path in the lab's directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Registers a log file, printed when the test fails.
    pub(crate) fn add_log(&self, label: &str, path: &Path) {
        self.logs
            .borrow_mut()
            .push((label.to_string(), path.to_path_buf()));
    }

    fn print_logs(&self) {
        for (label, path) in self.logs.borrow().iter() {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!(
                "----- {label}: {} (last {} lines)",
                path.display(),
                tail.len()
            );
            for l in tail {
                eprintln!("{l}");
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        if failed {
            self.print_logs();
        }
        // Namespaces go first (newest first), then the directory.
        while let Some(ns) = self.namespaces.borrow_mut().pop() {
            drop(ns);
        }
        frr::remove_pathspaces(&self.id);
        if failed || std::env::var_os("BGI_KEEP").is_some() {
            eprintln!("lab directory kept: {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

// --- polling -------------------------------------------------------------------------

/// Polls `check` every [`POLL`] until it returns `Ok`, and returns that value; panics after
/// `timeout` with `what` and the last `Err` (the state seen).
pub(crate) fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let start = Instant::now();
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) => {
                if start.elapsed() >= timeout {
                    panic!(
                        "timed out after {:.1} s waiting for {what}; last seen: {last}",
                        timeout.as_secs_f64()
                    );
                }
            }
        }
        std::thread::sleep(POLL);
    }
}

/// Checks for `during` that `check` keeps returning `Ok` (something that must not happen
/// does not happen); panics with the first `Err`.
pub(crate) fn holds_for(
    what: &str,
    during: Duration,
    mut check: impl FnMut() -> Result<(), String>,
) {
    let start = Instant::now();
    while start.elapsed() < during {
        if let Err(e) = check() {
            panic!(
                "{what} stopped holding after {:.1} s: {e}",
                start.elapsed().as_secs_f64()
            );
        }
        std::thread::sleep(POLL);
    }
}

/// Ordinary waiting times.
pub(crate) mod timeouts {
    use std::time::Duration;

    /// A session coming up (connect retries of 1 s, daemons starting).
    pub(crate) const SESSION: Duration = Duration::from_secs(40);
    /// Routes arriving or leaving on an Established session.
    pub(crate) const ROUTES: Duration = Duration::from_secs(20);
    /// A daemon starting (its control socket appearing).
    pub(crate) const START: Duration = Duration::from_secs(20);
}

// --- commands ------------------------------------------------------------------------

/// Runs a command to completion and returns its stdout, or an error with its stderr.
pub(crate) fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("running {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    }
}

/// `ip netns exec NS program`.
pub(crate) fn in_ns(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).arg(program);
    c
}

/// Writes a file, panicking with its name on failure.
pub(crate) fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
