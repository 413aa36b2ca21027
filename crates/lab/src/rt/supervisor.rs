//! The node supervisor: PID 1 of a node.
//!
//! `bgplane lab __node SPEC` is started by deploy inside the node's fresh mount, UTS and PID
//! namespaces and its network namespace ([`super::spawn`]). It starts `__init SPEC` — the
//! first process of the new PID namespace, i.e. PID 1 — prints its host pid and exits.
//! `__init` sets up the node's filesystem view (private /proc, /sys, /run, /tmp, per-node
//! /etc/frr, /etc/bird, /var/log, binds; the shared root read-only), then runs commands for
//! `exec` requests on its socket and reaps every orphan. Killing it ends the whole node.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::proto::{self, ExecReply};
use crate::cli::SelfExe;

/// Everything the supervisor needs, written by deploy as JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeSpec {
    /// Lab name.
    pub lab: String,
    /// Node name (also the hostname).
    pub node: String,
    /// Control socket path.
    pub socket: PathBuf,
    /// Mounts, in order.
    pub mounts: Vec<MountSpec>,
    /// The main command, if any.
    pub cmd: Option<Vec<String>>,
    /// Its log.
    pub cmd_log: PathBuf,
}

/// One mount of a node.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum MountSpec {
    /// A fresh tmpfs.
    Tmpfs {
        /// Mount point.
        dst: PathBuf,
        /// Octal mode of its root.
        mode: u32,
    },
    /// A bind mount of a host path.
    Bind {
        /// Host path.
        src: PathBuf,
        /// Mount point inside the node.
        dst: PathBuf,
        /// Read-only.
        ro: bool,
        /// Create the mount point first (only below a node tmpfs).
        create: bool,
    },
}

/// `__node`: starts PID 1 of the node and reports its host pid on stdout.
pub fn outer_main(exe: &SelfExe, spec: &Path) -> anyhow::Result<()> {
    let child = Command::new(&exe.path)
        .args(&exe.prefix)
        .arg("__init")
        .arg(spec)
        .stdin(Stdio::null())
        .spawn()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "pid {}", child.id())?;
    out.flush()?;
    Ok(())
}

type Waiters = Arc<Mutex<HashMap<i32, mpsc::Sender<WaitStatus>>>>;

/// `__init`: PID 1 of a node. Returns only on a setup error.
pub fn init_main(spec_path: &Path) -> anyhow::Result<()> {
    // SIGCHLD is taken with sigwait by the reaper loop: block it before any thread exists.
    let mut chld = SigSet::empty();
    chld.add(Signal::SIGCHLD);
    chld.thread_block()?;
    let report = |msg: String| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "error: {msg}");
        let _ = out.flush();
        anyhow::anyhow!(msg)
    };
    let spec: NodeSpec = serde_json::from_slice(
        &std::fs::read(spec_path)
            .map_err(|e| report(format!("read {}: {e}", spec_path.display())))?,
    )
    .map_err(|e| report(format!("parse {}: {e}", spec_path.display())))?;
    let _ = std::fs::remove_file(&spec.socket);
    let listener = UnixListener::bind(&spec.socket)
        .map_err(|e| report(format!("bind {}: {e}", spec.socket.display())))?;
    setup_mounts(&spec).map_err(report)?;
    // Opened after the root is read-only, through its own bind mount (see setup_mounts): a
    // file open for writing on the root would make that remount fail with EBUSY.
    let cmd_log = match &spec.cmd {
        Some(_) => Some(
            OpenOptions::new()
                .append(true)
                .open(&spec.cmd_log)
                .map_err(|e| report(format!("open {}: {e}", spec.cmd_log.display())))?,
        ),
        None => None,
    };
    nix::unistd::sethostname(&spec.node).map_err(|e| report(format!("sethostname: {e}")))?;
    nix::unistd::chdir("/").map_err(|e| report(format!("chdir /: {e}")))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready")?;
        out.flush()?;
    }
    let devnull = File::options().read(true).write(true).open("/dev/null")?;
    nix::unistd::dup2_stdout(&devnull)?;

    let waiters: Waiters = Arc::new(Mutex::new(HashMap::new()));
    if let (Some(argv), Some(log)) = (&spec.cmd, cmd_log) {
        start_main_command(argv, log, &waiters);
    }
    let w = waiters.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let w = w.clone();
            std::thread::spawn(move || handle(conn, &w));
        }
    });
    loop {
        if chld.wait().is_err() {
            continue;
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) => {
                    if let Some(pid) = status.pid() {
                        let tx = waiters.lock().map(|mut m| m.remove(&pid.as_raw()));
                        if let Ok(Some(tx)) = tx {
                            let _ = tx.send(status);
                        }
                    }
                }
            }
        }
    }
}

fn setup_mounts(spec: &NodeSpec) -> Result<(), String> {
    let none = None::<&str>;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_SLAVE, none)
        .map_err(|e| format!("make / a slave mount: {e}"))?;
    // Drop this node's copies of /run/netns/*: they would keep other namespaces alive, and
    // as slaves of the host's mounts they make every later `ip netns del` (and destroy)
    // propagate into every node: O(nodes²) at destroy.
    let _ = umount2("/run/netns", MntFlags::MNT_DETACH);
    // Open bind sources now, while the host's view is intact.
    let mut sources: Vec<Option<File>> = Vec::new();
    for m in &spec.mounts {
        sources.push(match m {
            MountSpec::Bind { src, .. } => Some(
                OpenOptions::new()
                    .read(true)
                    .custom_flags(nix::libc::O_PATH)
                    .open(src)
                    .map_err(|e| format!("bind source {}: {e}", src.display()))?,
            ),
            MountSpec::Tmpfs { .. } => None,
        });
    }
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), "/proc", Some("proc"), flags, none)
        .map_err(|e| format!("mount /proc: {e}"))?;
    mount(Some("sysfs"), "/sys", Some("sysfs"), flags, none)
        .map_err(|e| format!("mount /sys: {e}"))?;
    for (m, src) in spec.mounts.iter().zip(&sources) {
        match (m, src) {
            (MountSpec::Tmpfs { dst, mode }, _) => {
                let data = format!("mode={mode:o}");
                mount(
                    Some("tmpfs"),
                    dst,
                    Some("tmpfs"),
                    MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                    Some(data.as_str()),
                )
                .map_err(|e| format!("mount tmpfs on {}: {e}", dst.display()))?;
            }
            (
                MountSpec::Bind {
                    dst, ro, create, ..
                },
                Some(f),
            ) => {
                if *create && !dst.exists() {
                    let is_dir = f.metadata().map(|m| m.is_dir()).unwrap_or(false);
                    let made = if is_dir {
                        std::fs::create_dir_all(dst)
                    } else {
                        dst.parent()
                            .map(std::fs::create_dir_all)
                            .transpose()
                            .and_then(|_| File::create(dst).map(drop))
                    };
                    made.map_err(|e| format!("create bind target {}: {e}", dst.display()))?;
                }
                let from = format!("/proc/self/fd/{}", f.as_raw_fd());
                mount(
                    Some(from.as_str()),
                    dst,
                    none,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    none,
                )
                .map_err(|e| format!("bind {} on {}: {e}", describe(m), dst.display()))?;
                if *ro {
                    mount(
                        none,
                        dst,
                        none,
                        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                        none,
                    )
                    .map_err(|e| format!("make {} read-only: {e}", dst.display()))?;
                }
            }
            (MountSpec::Bind { .. }, None) => {}
        }
    }
    // The main command's log lives in the node directory, on the root filesystem: it gets
    // a writable bind mount of its own, which the read-only remount of / leaves alone.
    if spec.cmd.is_some() {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.cmd_log)
            .map_err(|e| format!("create {}: {e}", spec.cmd_log.display()))?;
        mount(
            Some(&spec.cmd_log),
            &spec.cmd_log,
            none,
            MsFlags::MS_BIND,
            none,
        )
        .map_err(|e| format!("bind {} on itself: {e}", spec.cmd_log.display()))?;
    }
    // The host's root filesystem is shared: keep nodes from writing to it.
    mount(
        none,
        "/",
        none,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        none,
    )
    .map_err(|e| format!("remount / read-only: {e}"))?;
    Ok(())
}

fn describe(m: &MountSpec) -> String {
    match m {
        MountSpec::Bind { src, .. } => src.display().to_string(),
        MountSpec::Tmpfs { .. } => "tmpfs".into(),
    }
}

fn start_main_command(argv: &[String], log: File, waiters: &Waiters) {
    let (tx, rx) = mpsc::channel();
    let mut log2 = log.try_clone().ok();
    let Ok(err) = log.try_clone() else { return };
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0);
    let spawned = {
        let mut m = match waiters.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let c = cmd.spawn();
        if let Ok(c) = &c {
            m.insert(c.id() as i32, tx);
        }
        c
    };
    match spawned {
        Ok(_) => {
            let argv = argv.to_vec();
            std::thread::spawn(move || {
                if let (Ok(status), Some(l)) = (rx.recv(), log2.as_mut()) {
                    let _ = writeln!(l, "[bgplane] main command {argv:?} ended: {status:?}");
                }
            });
        }
        Err(e) => {
            if let Some(l) = log2.as_mut() {
                let _ = writeln!(l, "[bgplane] cannot start {argv:?}: {e}");
            }
        }
    }
}

/// Serves one exec request.
fn handle(conn: UnixStream, waiters: &Waiters) {
    let (req, fds) = match proto::read_request(&conn) {
        Ok(x) => x,
        Err(msg) => {
            let _ = proto::reply(&conn, &ExecReply::Failed { msg });
            return;
        }
    };
    if req.argv.is_empty() {
        let _ = proto::reply(
            &conn,
            &ExecReply::Failed {
                msg: "empty command".into(),
            },
        );
        return;
    }
    let cwd = req.cwd.clone().unwrap_or_else(|| "/".into());
    if let Err(msg) = resolve(&req.argv[0], &cwd, &req.env) {
        let _ = proto::reply(&conn, &ExecReply::Failed { msg });
        return;
    }
    let [i, o, e]: [OwnedFd; 3] = match fds.try_into() {
        Ok(a) => a,
        Err(_) => return,
    };
    let mut cmd = Command::new(&req.argv[0]);
    cmd.args(&req.argv[1..])
        .envs(req.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(&cwd)
        .stdin(Stdio::from(i))
        .stdout(Stdio::from(o))
        .stderr(Stdio::from(e))
        .process_group(0);
    let (tx, rx) = mpsc::channel();
    let spawned = {
        let mut m = match waiters.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        // std reaps a child whose exec failed; the reaper may have raced it (ECHILD makes
        // std panic): treat that as a failed start.
        let c = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cmd.spawn()));
        if let Ok(Ok(c)) = &c {
            m.insert(c.id() as i32, tx);
        }
        c
    };
    let pid = match spawned {
        Ok(Ok(c)) => c.id() as i32,
        Ok(Err(e)) => {
            let _ = proto::reply(
                &conn,
                &ExecReply::Failed {
                    msg: format!("{}: {e}", req.argv[0]),
                },
            );
            return;
        }
        Err(_) => {
            let _ = proto::reply(
                &conn,
                &ExecReply::Failed {
                    msg: format!("{}: could not start", req.argv[0]),
                },
            );
            return;
        }
    };
    let _ = proto::reply(&conn, &ExecReply::Started { pid });
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(WaitStatus::Exited(_, code)) => {
                let _ = proto::reply(&conn, &ExecReply::Exited { code });
                return;
            }
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                let _ = proto::reply(&conn, &ExecReply::Signaled { signal: sig as i32 });
                return;
            }
            Ok(_) => return,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if peer_gone(&conn) {
                    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// True when the client closed its end.
fn peer_gone(conn: &UnixStream) -> bool {
    let mut fds = [PollFd::new(
        std::os::fd::AsFd::as_fd(conn),
        PollFlags::POLLIN,
    )];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(0) => false,
        Ok(_) => {
            let mut b = [0u8; 1];
            let revents = fds[0].revents().unwrap_or(PollFlags::empty());
            revents.contains(PollFlags::POLLHUP)
                || matches!(
                    nix::sys::socket::recv(
                        conn.as_raw_fd(),
                        &mut b,
                        nix::sys::socket::MsgFlags::MSG_PEEK
                            | nix::sys::socket::MsgFlags::MSG_DONTWAIT
                    ),
                    Ok(0)
                )
        }
        Err(_) => true,
    }
}

/// Checks that a program can be found (PATH from the request or the supervisor's own).
fn resolve(prog: &str, cwd: &str, env: &[(String, String)]) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let exec_ok = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if prog.contains('/') {
        let p = Path::new(cwd).join(prog);
        return if exec_ok(&p) {
            Ok(p)
        } else {
            Err(format!("{prog}: no such executable file"))
        };
    }
    let path = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    path.split(':')
        .map(|d| Path::new(d).join(prog))
        .find(|p| exec_ok(p))
        .ok_or_else(|| format!("{prog}: command not found"))
}
