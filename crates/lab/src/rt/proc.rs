//! Process bookkeeping by id: start times (so a recycled pid is never mistaken for a lab
//! process), liveness, and the processes inside a network namespace.

use std::path::Path;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A process's start time in clock ticks since boot (field 22 of /proc/PID/stat).
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// True when `pid` is alive (not a zombie) and, if given, started at `start`.
pub fn alive(pid: i32, start: Option<u64>) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(close) = stat.rfind(')') else {
        return false;
    };
    let state = stat[close + 2..].chars().next().unwrap_or('?');
    if state == 'Z' || state == 'X' {
        return false;
    }
    match start {
        Some(s) => start_time(pid) == Some(s),
        None => true,
    }
}

/// Sends SIGKILL to `pid` if it is still the process that started at `start`.
pub fn kill_if_same(pid: i32, start: Option<u64>) -> bool {
    if alive(pid, start) {
        kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok()
    } else {
        false
    }
}

/// Processes whose network namespace has inode `ino`.
pub fn pids_in_netns(ino: u64) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|pid| {
            std::fs::metadata(Path::new("/proc").join(pid.to_string()).join("ns/net"))
                .map(|m| m.ino() == ino)
                .unwrap_or(false)
        })
        .collect()
}

/// Processes whose PID namespace is the one of `pid` (its supervisor), `pid` excluded.
pub fn pids_in_pidns_of(pid: i32) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::metadata(format!("/proc/{pid}/ns/pid")) else {
        return Vec::new();
    };
    let ino = m.ino();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|p| *p != pid)
        .filter(|p| {
            std::fs::metadata(format!("/proc/{p}/ns/pid"))
                .map(|m| m.ino() == ino)
                .unwrap_or(false)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_stable() {
        let me = std::process::id() as i32;
        let t = start_time(me).expect("start time of self");
        assert_eq!(start_time(me), Some(t));
        assert!(alive(me, Some(t)));
        assert!(!alive(me, Some(t + 1)));
    }
}
