//! Skipped tests, for the test programs of every crate: a test that cannot run here (no
//! root, a daemon not installed) says so and passes, unless `BGPLANE_TEST_REQUIRE_ALL=1`,
//! which turns every skip into a failure with the same message (CI, where everything is
//! installed, must not pass by skipping).
//!
//! Included with `#[path = "…/tests/support/skip.rs"] mod skip;` (the workspace root is a
//! virtual manifest, so this file is part of no package and is no test program itself).

#![allow(dead_code)]

/// Whether every test must really run (`BGPLANE_TEST_REQUIRE_ALL=1`).
pub(crate) fn require_all() -> bool {
    std::env::var_os("BGPLANE_TEST_REQUIRE_ALL").is_some_and(|v| v == "1")
}

/// Reports a skip: prints `message` past libtest's output capture (so that it shows in CI
/// logs), or panics with it under `BGPLANE_TEST_REQUIRE_ALL=1`.
pub(crate) fn skipped(message: &str) {
    if require_all() {
        panic!("{message}");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}
