//! `bgplane show ...`, `bgplane clear ...`, `bgplane reload`: the operator CLI over the
//! router API. Every table is also available as JSON with `-o json`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bgp::runtime::api::{self, Request, Soft};
use bgp_wire::Prefix;
use serde_json::Value;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Output {
    /// Tables as vtysh prints them.
    Text,
    /// The API's JSON.
    Json,
}

/// Arguments of `bgplane show`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    what: ShowWhat,
    /// Router API socket.
    #[arg(long, global = true, default_value = bgp::config::DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, clap::Subcommand)]
enum ShowWhat {
    /// BGP state.
    Bgp {
        #[command(subcommand)]
        what: ShowBgp,
    },
    /// BFD sessions.
    Bfd {
        #[command(subcommand)]
        what: ShowBfd,
    },
    /// The configuration in effect, as YAML (every setting spelled out): what the router
    /// was started with, or last reloaded.
    RunningConfig,
}

#[derive(Debug, clap::Subcommand)]
enum ShowBfd {
    /// One line per session: state, discriminators, timers, counters, last diagnostic.
    Peers,
}

#[derive(Debug, clap::Subcommand)]
enum ShowBgp {
    /// One line per neighbor: AS, state, uptime, received/accepted/advertised prefixes.
    Summary,
    /// Neighbors in detail: capabilities, timers, counters, last error.
    Neighbors {
        /// One neighbor.
        address: Option<IpAddr>,
    },
    /// The routes of the Loc-RIB (with every path and why non-best paths lost).
    Routes {
        /// One prefix (details of every path).
        prefix: Option<Prefix>,
        /// With PREFIX: also the more specific prefixes.
        #[arg(long)]
        longer: bool,
        /// `ipv4` or `ipv6`.
        #[arg(long)]
        family: Option<String>,
        /// Paths received from this neighbor (rejected ones included).
        #[arg(long, conflicts_with = "advertised_to")]
        received_from: Option<IpAddr>,
        /// Routes advertised to this neighbor.
        #[arg(long)]
        advertised_to: Option<IpAddr>,
    },
}

/// Arguments of `bgplane clear`.
#[derive(Debug, clap::Args)]
pub(crate) struct ClearArgs {
    #[command(subcommand)]
    what: ClearWhat,
    /// Router API socket.
    #[arg(long, global = true, default_value = bgp::config::DEFAULT_SOCKET)]
    socket: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
enum ClearWhat {
    /// Reset BGP sessions (`clear bgp [ADDRESS] [soft in|out]`).
    Bgp {
        /// One neighbor (all without).
        address: Option<IpAddr>,
        /// Soft reset instead of closing the session: `in` (route refresh) or `out`.
        #[arg(long, value_enum)]
        soft: Option<SoftArg>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SoftArg {
    In,
    Out,
}

/// Arguments of `bgplane reload`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReloadArgs {
    /// Router API socket.
    #[arg(long, default_value = bgp::config::DEFAULT_SOCKET)]
    socket: PathBuf,
}

pub(crate) fn call(socket: &Path, req: &Request) -> anyhow::Result<Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let resp = rt.block_on(api::call(socket, req))?;
    let kind = resp
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let data = resp.get("data").cloned().unwrap_or(Value::Null);
    if kind == "error" {
        anyhow::bail!("{}", data.as_str().unwrap_or("error"));
    }
    Ok(data)
}

/// Runs `bgplane show`.
pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let what = match args.what {
        ShowWhat::Bgp { what } => what,
        ShowWhat::Bfd {
            what: ShowBfd::Peers,
        } => {
            let data = call(&args.socket, &Request::BfdPeers)?;
            match args.output {
                Output::Json => super::outln!("{}", serde_json::to_string_pretty(&data)?),
                Output::Text => super::outp!("{}", crate::cmd::tables::bfd_peers(&data)),
            }
            return Ok(());
        }
        ShowWhat::RunningConfig => {
            let data = call(&args.socket, &Request::RunningConfig)?;
            match args.output {
                Output::Json => super::outln!("{}", serde_json::to_string_pretty(&data)?),
                Output::Text => super::outp!("{}", data["yaml"].as_str().unwrap_or_default()),
            }
            return Ok(());
        }
    };
    let (req, render): (Request, fn(&Value) -> String) = match what {
        ShowBgp::Summary => (Request::Summary, crate::cmd::tables::summary),
        ShowBgp::Neighbors { address } => (
            Request::Neighbors { address },
            crate::cmd::tables::neighbors,
        ),
        ShowBgp::Routes {
            prefix,
            longer,
            family,
            received_from,
            advertised_to,
        } => {
            let detail = prefix.is_some() && !longer;
            let render: fn(&Value) -> String = if advertised_to.is_some() {
                crate::cmd::tables::advertised
            } else if detail {
                crate::cmd::tables::route_detail
            } else {
                crate::cmd::tables::routes
            };
            (
                Request::Routes {
                    prefix,
                    longer,
                    family,
                    received_from,
                    advertised_to,
                },
                render,
            )
        }
    };
    let data = call(&args.socket, &req)?;
    match args.output {
        Output::Json => super::outln!("{}", serde_json::to_string_pretty(&data)?),
        Output::Text => super::outp!("{}", render(&data)),
    }
    Ok(())
}

/// Runs `bgplane clear`.
pub(crate) fn run_clear(args: ClearArgs) -> anyhow::Result<()> {
    let ClearWhat::Bgp { address, soft } = args.what;
    let soft = soft.map(|s| match s {
        SoftArg::In => Soft::In,
        SoftArg::Out => Soft::Out,
    });
    let data = call(&args.socket, &Request::Clear { address, soft })?;
    super::outln!("{}", data.as_str().unwrap_or_default());
    Ok(())
}

/// Runs `bgplane reload`.
pub(crate) fn run_reload(args: ReloadArgs) -> anyhow::Result<()> {
    let data = call(&args.socket, &Request::Reload).context("reload")?;
    super::outln!("{}", data.as_str().unwrap_or_default());
    Ok(())
}
