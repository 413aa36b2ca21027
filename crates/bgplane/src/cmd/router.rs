//! `bgplane router`: the BGP-4 router daemon.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context as _;
use bgp::config::RouterConfig;

/// Arguments of `bgplane router`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  bgplane router --config /etc/bgplane/router.yaml\n  bgplane router --asn 65000 --router-id 10.99.0.1 --listen 10.99.0.1 --neighbor 10.99.0.2,65001 --neighbor 10.99.0.3,65002 --no-fib"
)]
pub(crate) struct Args {
    /// YAML configuration file (see docs/router.md); re-read on SIGHUP and `bgplane reload`.
    #[arg(short, long, conflicts_with_all = ["asn", "router_id", "neighbor"])]
    config: Option<PathBuf>,
    /// Local AS (quick form, without a file).
    #[arg(long, requires = "router_id")]
    asn: Option<u32>,
    /// BGP identifier (quick form).
    #[arg(long, requires = "asn")]
    router_id: Option<Ipv4Addr>,
    /// Address to listen on for BGP (quick form; repeatable).
    #[arg(long)]
    listen: Vec<IpAddr>,
    /// Neighbor as ADDRESS,ASN or ADDRESS,internal|external (quick form; repeatable).
    #[arg(long)]
    neighbor: Vec<String>,
    /// Do not install routes in the kernel.
    #[arg(long)]
    no_fib: bool,
    /// API socket (overrides the configuration).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// Prometheus metrics address, e.g. 127.0.0.1:9179 (overrides the configuration).
    #[arg(long)]
    metrics: Option<SocketAddr>,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
}

/// Runs the subcommand.
pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = match (&args.config, args.asn, args.router_id) {
        (Some(path), _, _) => RouterConfig::load(path)?,
        (None, Some(asn), Some(id)) => {
            RouterConfig::quick(asn, id, args.listen.clone(), &args.neighbor)?
        }
        _ => anyhow::bail!(
            "give --config FILE, or --asn and --router-id (with --listen and --neighbor)"
        ),
    };
    if let Some(s) = &args.socket {
        cfg.router.api.socket = s.display().to_string();
    }
    if args.metrics.is_some() {
        cfg.router.api.metrics = args.metrics;
    }
    if args.config.is_some() && !args.listen.is_empty() {
        anyhow::bail!("--listen belongs to the quick form; set router.listen in the file");
    }
    if args.check {
        super::outln!(
            "configuration OK: AS {}, router-id {}, {} neighbors, {} networks",
            cfg.router.asn,
            cfg.router.router_id,
            cfg.neighbors.len(),
            cfg.networks.len()
        );
        return Ok(());
    }
    let options = bgp::runtime::Options {
        config_path: args.config.clone(),
        no_fib: args.no_fib,
    };
    bgp::runtime::run(cfg, options).context("router stopped")
}
