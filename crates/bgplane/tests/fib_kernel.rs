//! bgplane's kernel FIB, the real `bgplane router` binary in network namespaces: BGP
//! routes follow the kernel route that reaches their next hop (changed, removed, its link
//! down, back again) and resolve through another BGP route when nothing else reaches it;
//! `--no-fib` installs nothing; `fib.table`, `.protocol` and `.metric` put the routes
//! where they say and nothing in `main`; a per-neighbor TCP MD5 key that differs from
//! FRR's keeps the session down until both match.
//!
//! Reuses the interop harness (labs of namespaces and veth links, processes stopped on
//! drop, the scripted peer, FRR). The tests need root (and FRR for the MD5 one): without
//! it each prints why it is skipped and passes, or fails under
//! `BGPLANE_TEST_REQUIRE_ALL=1`. Every namespace and process a test starts is removed when
//! it ends, also when it fails (then the logs' tails are printed).

#[allow(dead_code, unused_imports)]
#[path = "interop/harness/mod.rs"]
mod harness;

#[path = "fib_kernel/config.rs"]
mod config;
#[path = "fib_kernel/md5.rs"]
mod md5;
#[path = "fib_kernel/resolution.rs"]
mod resolution;
#[path = "fib_kernel/support.rs"]
mod support;
