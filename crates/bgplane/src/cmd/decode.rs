//! `bgplane decode`: print BGP messages given as hex.

/// Arguments of `bgplane decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Arguments, reserved until the subcommand lands.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

/// Runs the subcommand.
pub(crate) fn run(_args: Args) -> anyhow::Result<()> {
    Err(super::not_yet("decode", 2))
}
