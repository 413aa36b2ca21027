//! A small full-table run (20,000 prefixes in 2,000 attribute sets) through BIRD and FRR,
//! checking that every prefix reaches the monitor and that nothing is left behind.
//!
//! Needs root (network namespaces) and the daemons (Debian packages `bird2`, `frr`); it
//! skips with a message otherwise (a failure under `BGPLANE_TEST_REQUIRE_ALL=1`). Run it with
//! `sudo -E cargo test -p bench --test full_table -- --nocapture`.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bench::dut::{Dut, DUT_AS, INJ_AS, MON_AS};
use bench::fulltable::{run_one, RunParams};
use bench::netns::{addr, PREFIX};
use bench::stream::{Stream, StreamSpec};

#[path = "../../../tests/support/skip.rs"]
mod skip;
use skip::skipped;

const PREFIXES: u32 = 20_000;

/// The tests share the process's namespace names and the machine: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());
const SETS: u32 = 2_000;

fn ours() -> Vec<String> {
    let mine = format!("{PREFIX}{}-", std::process::id());
    bench::netns::list()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with(&mine))
        .collect()
}

#[test]
fn bird_and_frr_relay_every_prefix_to_the_monitor() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !nix::unistd::geteuid().is_root() {
        skipped("skipped: needs root (network namespaces); run with sudo");
        return;
    }
    let stream = Arc::new(
        Stream::generate(&StreamSpec {
            prefixes: PREFIXES,
            sets: SETS,
            local_as: INJ_AS,
            next_hop: addr::INJ,
            avoid: [DUT_AS, MON_AS],
            seed: 3,
        })
        .unwrap(),
    );
    let params = RunParams {
        timeout: Duration::from_secs(60),
        settle: Duration::from_millis(200),
        bgplane: Path::new("/nonexistent/bgplane").into(),
        keep_dir: false,
    };
    let stop = AtomicBool::new(false);

    let floor = run_one(None, &stream, &params, &stop).expect("harness floor");
    assert_eq!(floor.prefixes_held, u64::from(PREFIXES));
    assert!(floor.rss.is_none());

    let mut ran = 0;
    for dut in [Dut::Bird, Dut::Frr] {
        if let Err(e) = dut.check_installed(&params.bgplane) {
            skipped(&format!("skipped {dut}: {e}"));
            continue;
        }
        let m = run_one(Some(dut), &stream, &params, &stop)
            .unwrap_or_else(|e| panic!("{dut} failed: {e}"));
        eprintln!(
            "{dut}: {:.3} s, {} prefixes, {} UPDATEs to the monitor, peak RSS {:?}",
            m.seconds, m.prefixes_held, m.updates_to_monitor, m.rss
        );
        assert_eq!(m.prefixes_held, u64::from(PREFIXES), "{dut}");
        assert!(m.updates_to_monitor > 0, "{dut}");
        let rss = m.rss.expect("a DUT has a peak RSS");
        assert!(
            rss.bytes > 1_000_000 && rss.processes >= 1,
            "{dut}: {rss:?}"
        );
        assert!(m.seconds > 0.0 && m.seconds < 60.0);
        ran += 1;
    }
    assert!(ours().is_empty(), "namespaces left behind: {:?}", ours());
    if ran == 0 {
        skipped("skipped: neither BIRD nor FRR is installed");
    }
}

#[test]
fn the_bgplane_dut_fails_cleanly_when_its_binary_cannot_run() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !nix::unistd::geteuid().is_root() {
        skipped("skipped: needs root (network namespaces); run with sudo");
        return;
    }
    let stream = Arc::new(
        Stream::generate(&StreamSpec {
            prefixes: 100,
            sets: 10,
            local_as: INJ_AS,
            next_hop: addr::INJ,
            avoid: [DUT_AS, MON_AS],
            seed: 3,
        })
        .unwrap(),
    );
    // `false` stands in for a `bgplane router` that exits at once with an error.
    let params = RunParams {
        timeout: Duration::from_secs(10),
        settle: Duration::from_millis(100),
        bgplane: Path::new("/bin/false").into(),
        keep_dir: false,
    };
    let err = run_one(
        Some(Dut::Bgplane),
        &stream,
        &params,
        &AtomicBool::new(false),
    )
    .expect_err("`false` is no router");
    let msg = err.to_string();
    assert!(msg.starts_with("bgplane: the daemon exited"), "{msg}");
    assert!(ours().is_empty(), "namespaces left behind: {:?}", ours());
}
