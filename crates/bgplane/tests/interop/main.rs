//! Interop tests of `bgplane router` against real BGP daemons (FRR, BIRD 2, GoBGP,
//! OpenBGPD) and against a scripted raw peer for the protocol's edge cases.
//!
//! Every test builds its own network namespaces (`bgi-<pid>-<test>-<role>`) joined by veth
//! pairs, starts the daemons inside them with configurations in a private temporary
//! directory, drives them through their CLIs and polls their state. Nothing is configured
//! in the host's own namespace; every process and namespace is removed when the test ends,
//! also when it fails. The tests need root and the Debian packages `frr`, `bird2`,
//! `gobgpd`, `openbgpd`: without them each test prints why it is skipped and passes.
//!
//! The fabric tests of issue 4 (`reflector`, `ecmp`, `unnumbered_fib`, `unnumbered_accept`,
//! `dynamic`, `restart`, `origination`, `fib`) run several FRR routers per lab with zebra
//! (routes in their kernels) and bgplane with its kernel FIB, and look at `ip route` and
//! pings (`iputils-ping`) as well as at the daemons' state.
//!
//! Environment: `BGI_JOBS=N` runs at most N labs at once (default 2); `BGI_KEEP=1` keeps
//! every test's directory (configurations, logs); `BGI_BGPLANE_LOG` sets bgplane's log
//! filter (default `debug`).

mod harness;
mod scenarios;

mod attributes;
mod bfd;
mod bfd_bird;
mod bfd_multihop;
mod bfd_strict;
mod bird;
mod dynamic;
mod ecmp;
mod edge;
mod fib;
mod frr;
mod gobgp;
mod gshut;
mod malformed;
mod openbgpd;
mod origination;
mod reflector;
mod restart;
mod transit;
mod unnumbered;
mod unnumbered_accept;
mod unnumbered_fib;
