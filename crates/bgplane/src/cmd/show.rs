//! `bgplane show ...` and `bgplane bgp ...` (issues #3 and #6).

/// Arguments of `bgplane show`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Arguments, reserved until the subcommand lands.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

/// Arguments of `bgplane bgp`.
#[derive(Debug, clap::Args)]
pub(crate) struct BgpArgs {
    /// Arguments, reserved until the subcommand lands.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

/// Runs `bgplane show`.
pub(crate) fn run(_args: Args) -> anyhow::Result<()> {
    Err(super::not_yet("show", 3))
}

/// Runs `bgplane bgp`.
pub(crate) fn run_bgp(_args: BgpArgs) -> anyhow::Result<()> {
    Err(super::not_yet("bgp", 6))
}
