//! `bgplane lab`: the seeds' kind + containerlab labs, rebuilt on Linux namespaces without
//! Docker or images.
//!
//! Layers, each with its own error type:
//! - [`topo`]: the files users already write (containerlab topology, kind `Cluster`), parsed
//!   with file/line/key locations;
//! - [`plan`]: the resolved lab: behaviours, namespaces, veths, names, addresses;
//! - [`rt`]: the runtime: namespaces, netlink wiring, the per-node supervisor, on-disk state;
//! - [`ops`]: the user-facing operations (deploy, inspect, exec, check, graph, …);
//! - [`cluster`]: the kind cluster as Kubernetes (Node objects, agents, `apply`, pods,
//!   `kubectl`);
//! - [`cli`]: the clap arguments and dispatch.

pub mod cli;
pub mod cluster;
pub mod ops;
pub mod plan;
pub mod rt;
pub mod topo;

pub use cli::{run, Args, SelfExe};
