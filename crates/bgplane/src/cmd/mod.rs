//! One module per subcommand; each owns its clap arguments and its `run`.

pub(crate) mod agent;
pub(crate) mod bench;
pub(crate) mod cni;
pub(crate) mod decode;
pub(crate) mod lab;
pub(crate) mod router;
pub(crate) mod show;
pub(crate) mod tables;

/// The error for a subcommand whose capability has not landed yet: it names the issue
/// that tracks it, so nobody mistakes the skeleton for a working feature.
pub(crate) fn not_yet(what: &str, issue: u32) -> anyhow::Error {
    anyhow::anyhow!(
        "`bgplane {what}` is not available in this build yet (tracked by issue #{issue})"
    )
}
