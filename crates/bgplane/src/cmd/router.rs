//! `bgplane router` (not yet implemented: issue #3).

/// Arguments of `bgplane router`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Arguments, reserved until the subcommand lands.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

/// Runs the subcommand.
pub(crate) fn run(_args: Args) -> anyhow::Result<()> {
    Err(super::not_yet("router", 3))
}
