//! `bgplane bench`: benchmarks against FRR, BIRD, OpenBGPD and GoBGP (issue #3); the
//! harness lives in the `bench` crate.

/// Arguments of `bgplane bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: bench::Command,
}

/// Runs the subcommand and prints its report.
pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    // BGPLANE_BENCH_DUT: another `bgplane` build (or a wrapper: a profiler) to measure.
    let exe = match std::env::var_os("BGPLANE_BENCH_DUT") {
        Some(p) => std::path::PathBuf::from(p),
        None => std::env::current_exe()?,
    };
    let out = bench::run(args.command, &exe)?;
    super::outp!("{out}");
    Ok(())
}
