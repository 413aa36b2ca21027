//! `bgplane agent`: the per-node Kubernetes BGP control plane (see `crates/k8s`).

use std::path::PathBuf;
use std::time::Duration;

use k8s::agent::{Agent, AgentOptions};

/// Arguments of `bgplane agent`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  bgplane agent --node worker --manifests /var/lib/bgplane/manifests\n  bgplane bgp peers"
)]
pub(crate) struct Args {
    /// This node's name (as in its Node object).
    #[arg(long, env = "NODE_NAME")]
    node: String,
    /// A directory of manifests (Node, CiliumBGPPeeringPolicy, Service, Secret) to watch
    /// instead of an API server.
    #[arg(long)]
    manifests: PathBuf,
    /// Where the agent keeps the router configuration it made and its status.
    #[arg(long, default_value = "/run/bgplane/agent")]
    state_dir: PathBuf,
    /// The embedded router's API socket (`bgplane bgp peers` reads it).
    #[arg(long, default_value = super::cilium::AGENT_SOCKET)]
    socket: PathBuf,
    /// Prometheus endpoint of the embedded router.
    #[arg(long)]
    metrics: Option<std::net::SocketAddr>,
    /// Install the learned routes into the node's kernel (Cilium does not).
    #[arg(long)]
    install_routes: bool,
    /// Namespace of the Secrets named by `authSecretRef`.
    #[arg(long, default_value = "kube-system")]
    secrets_namespace: String,
    /// How often the manifest directory is looked at, in milliseconds.
    #[arg(long, default_value_t = 500)]
    poll_ms: u64,
    /// Routes to the pod CIDRs of nodes on the same link, through their address (Cilium's
    /// autoDirectNodeRoutes).
    #[arg(long)]
    auto_direct_node_routes: bool,
}

/// Runs the subcommand.
pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let agent = Agent::new(AgentOptions {
        node: a.node,
        manifests: a.manifests,
        state_dir: a.state_dir,
        socket: a.socket,
        metrics: a.metrics,
        install_routes: a.install_routes,
        secrets_namespace: a.secrets_namespace,
        poll: Duration::from_millis(a.poll_ms),
        auto_direct_node_routes: a.auto_direct_node_routes,
    })?;
    agent.run()?;
    Ok(())
}
