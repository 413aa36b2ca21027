//! `bgplane lab` (issue #5): a thin adapter to the `lab` crate.

/// Arguments of `bgplane lab`.
pub(crate) type Args = lab::Args;

/// Runs the subcommand; node supervisors re-invoke this binary as `bgplane lab __node …`.
pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    lab::run(args, lab::SelfExe::current(&["lab"])?)
}
