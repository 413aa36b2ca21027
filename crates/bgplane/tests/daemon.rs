//! The real `bgplane router` binary in network namespaces, driven through its CLI, its
//! signals and scripted BGP peers ([`harness::peer::RawPeer`]): configuration reload
//! (SIGHUP and `bgplane reload`), the quick command-line form with the default API
//! socket, the `show bgp routes` views, and the MRAI's pacing.
//!
//! Reuses the interop harness (labs of namespaces and veth links, processes stopped on
//! drop, the scripted peer). The tests need root: without it each prints why it is
//! skipped and passes. Every namespace and process a test starts is removed when it ends,
//! also when it fails (then the logs' tails are printed).

#[allow(dead_code, unused_imports)]
#[path = "interop/harness/mod.rs"]
mod harness;

#[path = "daemon/mrai.rs"]
mod mrai;
#[path = "daemon/quick.rs"]
mod quick;
#[path = "daemon/reload.rs"]
mod reload;
#[path = "daemon/support.rs"]
mod support;
