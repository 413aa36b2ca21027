//! The benchmark's results: the machine it ran on, one row per DUT (and the harness floor),
//! rendered as a table or JSON.

use std::fmt::Write as _;

use serde::Serialize;

use crate::fulltable::Measurement;

/// Facts about the machine, recorded with every report.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs (`nproc`).
    pub nproc: usize,
    /// CPU model from `/proc/cpuinfo`.
    pub cpu: String,
    /// Kernel release.
    pub kernel: String,
    /// `/proc/loadavg` when the run started.
    pub load_at_start: String,
    /// `/proc/loadavg` when the run ended.
    pub load_at_end: String,
}

impl Machine {
    /// Reads the facts from `/proc`.
    pub fn read() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|v| v.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            load_at_start: loadavg(),
            load_at_end: String::new(),
        }
    }
}

/// The first three fields of `/proc/loadavg`.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One row: a DUT (or the floor) and what happened.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// DUT name, or `floor`.
    pub dut: String,
    /// Version reported by the daemon.
    pub version: Option<String>,
    /// Seconds from the first UPDATE to the monitor holding every prefix.
    pub seconds: Option<f64>,
    /// Seconds the injector took to write the whole stream.
    pub send_seconds: Option<f64>,
    /// Peak RSS in MB (10^6 bytes).
    pub peak_rss_mb: Option<f64>,
    /// How the peak was measured.
    pub rss_method: Option<String>,
    /// UPDATEs the monitor received.
    pub updates_to_monitor: Option<u64>,
    /// UPDATEs the DUT sent back to the injector.
    pub updates_to_injector: Option<u64>,
    /// CPU seconds the harness's own peers used while the clock ran.
    pub harness_cpu_seconds: Option<f64>,
    /// CPU seconds of the injector's writer, reader and of the monitor's reader.
    pub peer_cpu_seconds: Option<PeerCpu>,
    /// `/proc/loadavg` (1, 5, 15 min) just before this run.
    pub load_before: String,
    /// Why the run failed.
    pub error: Option<String>,
}

impl Row {
    /// A row from a run's outcome.
    pub fn new(dut: &str, version: Option<String>, r: Result<Measurement, String>) -> Self {
        let mut row = Row {
            dut: dut.into(),
            version,
            seconds: None,
            send_seconds: None,
            peak_rss_mb: None,
            rss_method: None,
            updates_to_monitor: None,
            updates_to_injector: None,
            harness_cpu_seconds: None,
            peer_cpu_seconds: None,
            load_before: String::new(),
            error: None,
        };
        match r {
            Ok(m) => {
                row.seconds = Some(m.seconds);
                row.send_seconds = Some(m.send_seconds);
                row.peak_rss_mb = m.rss.as_ref().map(|r| r.bytes as f64 / 1e6);
                row.rss_method = m.rss.map(|r| r.method);
                row.updates_to_monitor = Some(m.updates_to_monitor);
                row.updates_to_injector = Some(m.updates_to_injector);
                row.harness_cpu_seconds = Some(m.harness_cpu_seconds);
                row.peer_cpu_seconds = Some(PeerCpu {
                    injector: m.injector_cpu_seconds,
                    injector_reader: m.drain_cpu_seconds,
                    monitor: m.monitor_cpu_seconds,
                });
            }
            Err(e) => row.error = Some(e),
        }
        row
    }
}

/// CPU seconds of the harness's peer threads during a run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PeerCpu {
    /// The injector's writing thread, first UPDATE to last byte.
    pub injector: f64,
    /// The injector's reading thread (what the DUT sends back).
    pub injector_reader: f64,
    /// The monitor's reading thread, until it held every prefix.
    pub monitor: f64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The benchmark's name.
    pub benchmark: &'static str,
    /// Machine facts.
    pub machine: Machine,
    /// Prefixes announced.
    pub prefixes: u32,
    /// Distinct attribute sets.
    pub sets: u32,
    /// UPDATEs in the stream (End-of-RIB not counted).
    pub updates: u32,
    /// Size of the stream in bytes.
    pub stream_bytes: usize,
    /// Timeout per DUT, seconds.
    pub timeout_secs: u64,
    /// How peak memory is measured, and why not otherwise.
    pub rss_note: String,
    /// The harness floor: injector → monitor without a DUT.
    pub floor: Option<Row>,
    /// One row per DUT, in run order.
    pub duts: Vec<Row>,
}

impl Report {
    /// JSON, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// A plain-text table with the machine facts and notes.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "full-table benchmark: {} prefixes in {} attribute sets ({} UPDATEs, {:.1} MB), eBGP in -> eBGP out",
            self.prefixes,
            self.sets,
            self.updates,
            self.stream_bytes as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "machine: {} CPUs, {}, kernel {}; load {} at start, {} at end",
            m.nproc, m.cpu, m.kernel, m.load_at_start, m.load_at_end
        );
        let _ = writeln!(out);
        let header = [
            "DUT",
            "version",
            "seconds",
            "peak RSS MB",
            "RSS method",
            "UPDATEs to mon",
            "UPDATEs to inj",
            "CPU s: harness (inj/mon)",
            "load before",
            "result",
        ];
        // Columns holding numbers are right-aligned.
        const NUMERIC: [bool; 10] = [
            false, false, true, true, false, true, true, true, false, false,
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
        for r in self.floor.iter().chain(&self.duts) {
            let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
            rows.push(vec![
                r.dut.clone(),
                opt(r.version.clone()),
                opt(r.seconds.map(|s| format!("{s:.3}"))),
                opt(r.peak_rss_mb.map(|s| format!("{s:.0}"))),
                opt(r.rss_method.clone()),
                opt(r.updates_to_monitor.map(|u| u.to_string())),
                opt(r.updates_to_injector.map(|u| u.to_string())),
                opt(r.harness_cpu_seconds.map(|s| match r.peer_cpu_seconds {
                    Some(p) => format!(
                        "{s:.2} ({:.2}/{:.2})",
                        p.injector + p.injector_reader,
                        p.monitor
                    ),
                    None => format!("{s:.2}"),
                })),
                r.load_before.split(' ').next().unwrap_or("-").to_string(),
                match (&r.error, r.dut == "floor") {
                    (Some(_), _) => "FAILED (see below)".into(),
                    (None, true) => "ok (injector -> monitor, no DUT)".into(),
                    (None, false) => "ok".into(),
                },
            ]);
        }
        let mut w = [0usize; 10];
        for r in &rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        for r in &rows {
            let mut l = String::new();
            for (i, c) in r.iter().enumerate() {
                let pad = " ".repeat(w[i] - c.chars().count());
                if NUMERIC[i] {
                    l += &pad;
                    l += c;
                } else {
                    l += c;
                    l += &pad;
                }
                l += "  ";
            }
            let _ = writeln!(out, "{}", l.trim_end());
        }
        let failed: Vec<&Row> = self
            .floor
            .iter()
            .chain(&self.duts)
            .filter(|r| r.error.is_some())
            .collect();
        if !failed.is_empty() {
            let _ = writeln!(out);
            for r in failed {
                let _ = writeln!(out, "{}", r.error.as_deref().unwrap_or_default());
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "seconds: first UPDATE written by the injector -> every prefix held by the monitor"
        );
        let _ = writeln!(out, "peak RSS: {}", self.rss_note);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::PeakRss;

    fn report() -> Report {
        let ok = Measurement {
            seconds: 1.41,
            send_seconds: 0.9,
            rss: Some(PeakRss {
                bytes: 127_000_000,
                processes: 1,
                method: "VmHWM of 1 process".into(),
            }),
            prefixes_held: 1_000_000,
            updates_to_monitor: 100_001,
            harness_cpu_seconds: 0.2,
            injector_cpu_seconds: 0.05,
            drain_cpu_seconds: 0.0,
            monitor_cpu_seconds: 0.15,
            updates_to_injector: 0,
        };
        Report {
            benchmark: "full-table",
            machine: Machine::read(),
            prefixes: 1_000_000,
            sets: 100_000,
            updates: 100_000,
            stream_bytes: 12_000_000,
            timeout_secs: 180,
            rss_note: "note".into(),
            floor: None,
            duts: vec![
                Row::new("bird", Some("2.0.12".into()), Ok(ok)),
                Row::new("bgplane", Some("0.1.0".into()), Err("not yet".into())),
            ],
        }
    }

    #[test]
    fn table_shows_numbers_and_errors() {
        let t = report().to_table();
        assert!(
            t.contains("bird") && t.contains("1.410") && t.contains("127"),
            "{t}"
        );
        assert!(t.contains("\nnot yet\n"), "{t}");
    }

    #[test]
    fn json_has_every_row() {
        let v: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
        assert_eq!(v["duts"][0]["peak_rss_mb"], 127.0);
        assert_eq!(v["duts"][1]["error"], "not yet");
    }
}
