//! `bgplane`: one binary for the BGP router, the Kubernetes agent and CNI plugin, the
//! namespace lab, the operator CLI and the benchmark harness.

mod cmd;

use clap::{Parser, Subcommand};

/// Native pod routing across BGP autonomous systems, with no overlay.
#[derive(Debug, Parser)]
#[command(name = "bgplane", version, about, long_about = None)]
struct Cli {
    /// Log filter in `tracing` syntax (also read from `BGPLANE_LOG`).
    #[arg(long, global = true, env = "BGPLANE_LOG", default_value = "info")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the BGP-4 router daemon (stands in for FRR/VyOS in the fabric).
    Router(cmd::router::Args),
    /// Run the per-node Kubernetes BGP control plane (Cilium CRD compatible).
    Agent(cmd::agent::Args),
    /// CNI plugin entry point for native-routed pods (invoked by the container runtime).
    Cni(cmd::cni::Args),
    /// Build and operate network-namespace labs from containerlab and kind files.
    Lab(cmd::lab::Args),
    /// Show state of a running router or agent (`show bgp summary`, ...).
    Show(cmd::show::Args),
    /// Reset BGP sessions of a running router (`clear bgp [ADDRESS] [--soft in|out]`).
    Clear(cmd::show::ClearArgs),
    /// Re-read the configuration file of a running router (like SIGHUP).
    Reload(cmd::show::ReloadArgs),
    /// Cilium-style BGP commands (`bgp peers`, `bgp routes`).
    Bgp(cmd::cilium::Args),
    /// Benchmarks against FRR, BIRD, GoBGP and OpenBGPD.
    Bench(cmd::bench::Args),
    /// Decode BGP messages (hex or raw files) and print them; a debugging aid.
    Decode(cmd::decode::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse_from(cmd::cni::argv(std::env::args_os()));
    init_tracing(&cli.log);
    let result = match cli.command {
        Command::Router(a) => cmd::router::run(a),
        Command::Agent(a) => cmd::agent::run(a),
        Command::Cni(a) => cmd::cni::run(a),
        Command::Lab(a) => cmd::lab::run(a),
        Command::Show(a) => cmd::show::run(a),
        Command::Clear(a) => cmd::show::run_clear(a),
        Command::Reload(a) => cmd::show::run_reload(a),
        Command::Bgp(a) => cmd::cilium::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Decode(a) => cmd::decode::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bgplane: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
