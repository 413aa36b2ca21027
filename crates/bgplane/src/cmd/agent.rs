//! `bgplane agent`: the per-node Kubernetes BGP control plane (see `crates/k8s`). Its
//! objects come from a directory of manifests (`--manifests`) or, without it, from the
//! Kubernetes API server (in-cluster, or `--kubeconfig` / KUBECONFIG), where it also writes
//! the node's `CiliumBGPNodeConfig` status and Events.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use k8s::agent::{Agent, AgentOptions};
use k8s::source::status::StatusWriter;
use k8s::source::{Observed, SourceOptions};
use tracing::{info, warn};

/// Arguments of `bgplane agent`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  bgplane agent --node worker --manifests /var/lib/bgplane/manifests\n  bgplane agent --node worker --kubeconfig ~/.kube/config\n  NODE_NAME=worker bgplane agent            # in a Pod: the in-cluster service account\n  bgplane bgp peers"
)]
pub(crate) struct Args {
    /// This node's name (as in its Node object).
    #[arg(long, env = "NODE_NAME")]
    node: String,
    /// A directory of manifests (Node, CiliumBGPPeeringPolicy, Service, Secret) to watch
    /// instead of an API server.
    #[arg(long)]
    manifests: Option<PathBuf>,
    /// The kubeconfig of the API server (default: KUBECONFIG, ~/.kube/config, then the
    /// in-cluster service account).
    #[arg(long, conflicts_with = "manifests")]
    kubeconfig: Option<PathBuf>,
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
    /// Cilium's `autoDirectNodeRoutes`: routes to the pod CIDRs of the nodes on this
    /// node's links.
    #[arg(long)]
    auto_direct_node_routes: bool,
    /// Graceful shutdown (RFC 8326) while the node is cordoned (`kubectl cordon`, `kubectl
    /// drain`): its routes reach the fabric least preferred before its pods go; the Node
    /// annotation `bgplane.io/graceful-shutdown: "false"` keeps it out.
    #[arg(long)]
    graceful_shutdown_when_cordoned: bool,
    /// On SIGTERM, keep the BGP sessions this many seconds in graceful shutdown (RFC 8326)
    /// before closing them, so the fabric moves traffic away first (0: close at once; keep
    /// it under the pod's terminationGracePeriodSeconds).
    #[arg(long, default_value_t = 0)]
    graceful_stop_secs: u64,
    /// Namespace of the Secrets named by `authSecretRef` and the `bgplane.io/bfd-auth-secret`
    /// annotation.
    #[arg(long, default_value = "kube-system")]
    secrets_namespace: String,
    /// How often the manifest directory is looked at, in milliseconds.
    #[arg(long, default_value_t = 500)]
    poll_ms: u64,
    /// How often the CiliumBGPNodeConfig status is refreshed when no object changes, in
    /// seconds (API server only).
    #[arg(long, default_value_t = 15)]
    status_interval_secs: u64,
}

/// Runs the subcommand.
pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let agent = Agent::new(AgentOptions {
        node: a.node.clone(),
        manifests: a.manifests.clone().unwrap_or_default(),
        state_dir: a.state_dir.clone(),
        socket: a.socket.clone(),
        metrics: a.metrics,
        install_routes: a.install_routes,
        secrets_namespace: a.secrets_namespace.clone(),
        poll: Duration::from_millis(a.poll_ms),
        auto_direct_node_routes: a.auto_direct_node_routes,
        graceful_shutdown_when_cordoned: a.graceful_shutdown_when_cordoned,
        graceful_stop: Duration::from_secs(a.graceful_stop_secs),
    })?;
    if a.manifests.is_some() {
        agent.run()?;
        return Ok(());
    }
    run_api(agent, a)
}

/// What woke the API loop.
enum Wake {
    Changed,
    Tick,
    Stop,
    Closed,
}

/// The API-server loop: each new observation is reconciled (outside the runtime: the
/// agent drives its router synchronously), then the status is written back; the status is
/// also refreshed every `--status-interval-secs`.
fn run_api(mut agent: Agent, a: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bgplane-agent-k8s")
        .enable_all()
        .build()
        .context("cannot start the Kubernetes client runtime")?;
    let client = rt.block_on(k8s::source::client(a.kubeconfig.as_deref()))?;
    info!(node = %a.node, secrets_namespace = %a.secrets_namespace, "watching the Kubernetes API server");
    let mut rx = {
        let _guard = rt.enter();
        k8s::source::spawn(
            client.clone(),
            SourceOptions {
                node: a.node.clone(),
                secrets_namespace: a.secrets_namespace.clone(),
                settle: Duration::from_millis(200),
                all_nodes: a.auto_direct_node_routes,
            },
        )
    };
    let stop = Arc::new(tokio::sync::Notify::new());
    {
        let stop = stop.clone();
        rt.spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            stop.notify_one();
        });
    }
    let mut writer = StatusWriter::new(client, a.node.clone(), a.socket.clone());
    let interval = Duration::from_secs(a.status_interval_secs.max(1));
    let mut current: Option<Arc<Observed>> = None;
    let mut next = interval;
    loop {
        let wake = rt.block_on(async {
            tokio::select! {
                r = rx.changed() => if r.is_ok() { Wake::Changed } else { Wake::Closed },
                _ = tokio::time::sleep(next) => Wake::Tick,
                _ = stop.notified() => Wake::Stop,
            }
        });
        next = interval;
        match wake {
            Wake::Stop => break,
            Wake::Closed => anyhow::bail!("the Kubernetes API source stopped"),
            Wake::Tick => {
                // A router that stopped on an error starts again.
                if agent.check_router() {
                    if let Some(o) = &current {
                        agent.reconcile(&o.snapshot);
                    }
                }
            }
            Wake::Changed => {
                current = rx.borrow_and_update().clone();
                if let Some(o) = &current {
                    agent.reconcile(&o.snapshot);
                    // The router may just have started: look at its peers again soon.
                    next = interval.min(Duration::from_secs(2));
                }
            }
        }
        if let Some(o) = &current {
            if let Err(e) = rt.block_on(writer.write(o, agent.status())) {
                warn!(error = %e, "the node's BGP status was not written");
            }
        }
    }
    agent.stop();
    Ok(())
}
