//! `bgplane-lab`: the `bgplane lab` subcommand as its own binary (used by the lab crate's
//! end-to-end tests, which cannot build the `bgplane` binary of another crate).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = lab::Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("BGPLANE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let exe = match lab::SelfExe::current(&[]) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("bgplane-lab: cannot find own executable: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match lab::run(args, exe) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bgplane lab: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
