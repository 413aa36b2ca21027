//! The kernel FIB: installing the routes BGP selects, and knowing what the kernel knows
//! (interfaces, addresses, connected and other routes) to resolve BGP next hops.
//!
//! Routes are written through netlink with a protocol id of our own (`proto bgp` by
//! default) in a configurable table, hundreds of requests per system call so that a full
//! table installs quickly. Routes of a previous run are found by that protocol id and removed
//! once the new selection is known.
//!
//! Next hops resolve through connected subnets and other protocols' routes, and, when
//! those do not reach them (or only the default route does), recursively through our own
//! installed routes ([`KernelState::reach`]), to a bounded depth ([`MAX_DEPTH`]).

mod batch;
mod filter;
mod kernel;
mod own;
mod program;

pub use filter::ignore_own_routes;
pub use kernel::{Addr, KernelRoute, KernelState, Link, Reach, Resolved};
pub use own::{OwnRoute, OwnRoutes, MAX_DEPTH};
pub use program::{Fib, FibNextHop, FibRoute, Op, Stats};

/// FIB settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FibConfig {
    /// Routing table to install into (254 is `main`).
    #[serde(default = "default_table")]
    pub table: u32,
    /// Route protocol id (186 is `bgp` in iproute2's names).
    #[serde(default = "default_protocol")]
    pub protocol: u8,
    /// Route metric (priority).
    #[serde(default = "default_metric")]
    pub metric: u32,
}

fn default_table() -> u32 {
    254
}
fn default_protocol() -> u8 {
    186
}
fn default_metric() -> u32 {
    20
}

impl Default for FibConfig {
    fn default() -> Self {
        FibConfig {
            table: default_table(),
            protocol: default_protocol(),
            metric: default_metric(),
        }
    }
}

/// FIB errors.
#[derive(Debug, thiserror::Error)]
pub enum FibError {
    /// The netlink socket could not be opened.
    #[error("cannot open a netlink socket: {0}")]
    Socket(std::io::Error),
    /// A netlink request failed.
    #[error("netlink {what}: {source}")]
    Netlink {
        /// What was asked.
        what: String,
        /// The kernel's answer.
        source: rtnetlink::Error,
    },
}
