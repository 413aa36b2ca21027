//! `bgplane agent`: one per node. It reads the node's objects, computes the node's BGP
//! speaker ([`crate::desired`]), and runs the embedded router with that configuration:
//! started when a policy selects the node, reloaded in place when the configuration
//! changes (sessions whose settings did not change stay up), restarted when the AS or the
//! router id changes, stopped when no policy selects the node any more. A configuration
//! that cannot be made leaves the running one in force and is reported in the status file.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use bgp::config::RouterConfig;
use bgp::runtime::api::Request;
use serde::Serialize;
use tracing::{error, info, warn};

use crate::desired::{desired, Desired, Inputs, SpeakerSettings, V2Inputs};
use crate::manifests::{node_info, Snapshot};

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// This node's name.
    pub node: String,
    /// The directory of manifests to watch (the lab's, or a user's without a cluster).
    pub manifests: PathBuf,
    /// Where the agent keeps the router configuration it made and its status.
    pub state_dir: PathBuf,
    /// The router's API socket (`bgplane bgp peers` talks to it).
    pub socket: PathBuf,
    /// The router's Prometheus endpoint.
    pub metrics: Option<std::net::SocketAddr>,
    /// Install learned routes into the node's kernel (Cilium does not).
    pub install_routes: bool,
    /// The namespace of the Secrets that `authSecretRef` names.
    pub secrets_namespace: String,
    /// How often the manifest directory is looked at.
    pub poll: Duration,
    /// Cilium's `autoDirectNodeRoutes`: routes to the pod CIDRs of nodes on our links.
    pub auto_direct_node_routes: bool,
    /// Graceful shutdown (RFC 8326) while the node is cordoned, unless its annotation
    /// `bgplane.io/graceful-shutdown` is `"false"`.
    pub graceful_shutdown_when_cordoned: bool,
    /// When the agent stops: graceful shutdown of the BGP sessions for this long before
    /// they are closed (zero: closed at once).
    pub graceful_stop: Duration,
}

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The state directory could not be written.
    #[error("{path}: {source}")]
    State {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The router failed.
    #[error("router: {0}")]
    Router(#[from] bgp::runtime::RouterError),
}

/// What the agent last did, in `<state dir>/status.json`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Status {
    /// This node.
    pub node: String,
    /// The policy in force, if any.
    pub policy: Option<String>,
    /// Whether the router runs.
    pub running: bool,
    /// The prefixes advertised.
    pub advertised: Vec<String>,
    /// The last problem (the previous configuration stays in force meanwhile).
    pub error: Option<String>,
    /// What the router said it did at the last reload in place (`neighbor X: session
    /// reset for the new settings`, `policies replaced`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload: Option<String>,
    /// Fields of the objects in force that bgplane accepts but does not act on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<String>,
}

struct Router {
    config: RouterConfig,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: JoinHandle<Result<(), bgp::runtime::RouterError>>,
}

/// The agent's state between reconciliations.
pub struct Agent {
    opts: AgentOptions,
    router: Option<Router>,
    status: Status,
    direct: crate::direct::DirectRoutes,
    subnets: Vec<bgp_wire::Prefix>,
    /// The unsupported fields already logged (each is logged once).
    warned: std::collections::BTreeSet<String>,
}

impl Agent {
    /// An agent that runs nothing yet.
    pub fn new(opts: AgentOptions) -> Result<Self, AgentError> {
        std::fs::create_dir_all(&opts.state_dir).map_err(|source| AgentError::State {
            path: opts.state_dir.clone(),
            source,
        })?;
        let status = Status {
            node: opts.node.clone(),
            ..Default::default()
        };
        Ok(Agent {
            opts,
            router: None,
            status,
            direct: crate::direct::DirectRoutes::new(),
            subnets: Vec::new(),
            warned: Default::default(),
        })
    }

    /// The status after the last reconciliation.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Watches the manifest directory until SIGINT/SIGTERM.
    pub fn run(mut self) -> Result<(), AgentError> {
        let term = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        for sig in [
            tokio::signal::unix::SignalKind::terminate(),
            tokio::signal::unix::SignalKind::interrupt(),
        ] {
            let _ = signal_flag(sig, term.clone());
        }
        let mut seen: Option<Vec<(PathBuf, SystemTime, u64)>> = None;
        while !term.load(std::sync::atomic::Ordering::Relaxed) {
            let now = fingerprint(&self.opts.manifests);
            // The node's links can change too (direct routes depend on them).
            if self.opts.auto_direct_node_routes {
                let subnets = local_subnets();
                if subnets != self.subnets {
                    self.subnets = subnets;
                    seen = None;
                }
            }
            if seen.as_ref() != Some(&now) {
                seen = Some(now);
                self.reconcile_dir();
            }
            if self.check_router() {
                seen = None; // start it again at the next reconciliation
            }
            std::thread::sleep(self.opts.poll);
        }
        self.stop();
        Ok(())
    }

    /// Stops the router. With [`AgentOptions::graceful_stop`], its sessions first go into
    /// graceful shutdown (RFC 8326) for that long, so that the fabric moves the traffic to
    /// other nodes before the routes are withdrawn.
    pub fn stop(&mut self) {
        let wait = self.opts.graceful_stop;
        let running = self.router.as_ref().filter(|r| !r.thread.is_finished());
        if let (false, Some(r)) = (wait.is_zero(), running) {
            if !r.config.router.graceful_shutdown {
                let mut cfg = r.config.clone();
                cfg.router.graceful_shutdown = true;
                match self.apply(cfg) {
                    Ok(_) => info!(?wait, "stopping: BGP sessions in graceful shutdown first"),
                    Err(e) => warn!(%e, "stopping: graceful shutdown not applied"),
                }
            }
            std::thread::sleep(wait);
        }
        info!("stopping");
        self.stop_router();
    }

    /// Notices a router that stopped on its own (an error): returns true if it did, after
    /// recording why; the next [`reconcile`](Self::reconcile) starts it again.
    pub fn check_router(&mut self) -> bool {
        if !self.router.as_ref().is_some_and(|r| r.thread.is_finished()) {
            return false;
        }
        let r = self.router.take().map(|r| r.thread.join());
        let msg = match r {
            Some(Ok(Err(e))) => format!("the router stopped: {e}"),
            _ => "the router stopped".to_string(),
        };
        error!("{msg}");
        self.status.running = false;
        self.status.error = Some(msg);
        self.write_status();
        true
    }

    /// Reads the manifest directory and applies it.
    pub fn reconcile_dir(&mut self) {
        match Snapshot::load_dir(&self.opts.manifests) {
            Ok(s) => self.reconcile(&s),
            Err(e) => {
                warn!(%e, "manifests not applied; the configuration in force stays");
                self.status.error = Some(e.to_string());
                self.write_status();
            }
        }
    }

    /// Applies a snapshot of the objects.
    pub fn reconcile(&mut self, snap: &Snapshot) {
        let Some(node) = snap.nodes.get(&self.opts.node) else {
            self.fail(format!(
                "node {} not found among the Node objects",
                self.opts.node
            ));
            return;
        };
        let mut node = node_info(node);
        node.default_gateways = default_gateways();
        let policies: Vec<_> = snap.policies.values().cloned().collect();
        let services: Vec<_> = snap.services.values().cloned().collect();
        let ns = self.opts.secrets_namespace.clone();
        let secret = |name: &str, field: &str| snap.secret_value(&ns, name, field);
        let settings = SpeakerSettings {
            socket: self.opts.socket.display().to_string(),
            metrics: self.opts.metrics,
            graceful_shutdown_when_cordoned: self.opts.graceful_shutdown_when_cordoned,
        };
        if self.opts.auto_direct_node_routes {
            let others: Vec<_> = snap.nodes.values().map(node_info).collect();
            let want = crate::direct::routes(&self.opts.node, &others, &local_subnets());
            match self.direct.sync(&want) {
                Ok(0) => {}
                Ok(n) => info!(
                    routes = want.len(),
                    changes = n,
                    "direct node routes synced"
                ),
                Err(e) => warn!(%e, "direct node routes not synced"),
            }
        }
        let clusters: Vec<_> = snap.cluster_configs.values().cloned().collect();
        let adverts: Vec<_> = snap.advertisements.values().cloned().collect();
        let d = desired(&Inputs {
            node: &node,
            policies: &policies,
            services: &services,
            secret: &secret,
            settings: &settings,
            v2: V2Inputs {
                cluster_configs: &clusters,
                peer_configs: Some(&snap.peer_configs),
                advertisements: &adverts,
                node_override: snap.node_config_overrides.get(&self.opts.node),
            },
        });
        match d {
            Err(e) => self.fail(e.to_string()),
            Ok(Desired::Off) => {
                if self.router.is_some() {
                    info!("no CiliumBGPPeeringPolicy selects this node: BGP stopped");
                }
                self.stop_router();
                self.status.policy = None;
                self.status.advertised.clear();
                self.status.error = None;
                self.status.unsupported.clear();
                self.write_status();
            }
            Ok(Desired::On {
                policy,
                config,
                advertised,
                unsupported,
            }) => {
                for u in &unsupported {
                    if self.warned.insert(u.clone()) {
                        warn!("{u}");
                    }
                }
                let r = self.apply(*config);
                self.status.policy = Some(policy);
                self.status.advertised = advertised.iter().map(|p| p.to_string()).collect();
                self.status.unsupported = unsupported;
                match r {
                    Ok(Some(notes)) => {
                        info!(%notes, "router reloaded");
                        self.status.reload = Some(notes);
                        self.status.error = None;
                    }
                    Ok(None) => self.status.error = None,
                    Err(e) => self.status.error = Some(e),
                }
                self.status.running = self.router.is_some();
                self.write_status();
            }
        }
    }

    fn fail(&mut self, msg: String) {
        error!("{msg}; the configuration in force stays");
        self.status.error = Some(msg);
        self.write_status();
    }

    fn config_path(&self) -> PathBuf {
        self.opts.state_dir.join("router.yaml")
    }

    /// Runs the router with `cfg`: start, reload in place (the router's account of what it
    /// did is returned: which sessions it reset), or restart.
    fn apply(&mut self, cfg: RouterConfig) -> Result<Option<String>, String> {
        if let Some(r) = &self.router {
            if r.config == cfg {
                return Ok(None);
            }
            let restart = r.config.router.asn != cfg.router.asn
                || r.config.router.router_id != cfg.router.router_id;
            if !restart {
                self.write_config(&cfg)?;
                let res = reload(&self.opts.socket);
                if let Some(r) = self.router.as_mut() {
                    r.config = cfg;
                }
                return res.map(Some);
            }
            info!("AS or router id changed: the router restarts");
            self.stop_router();
        }
        self.write_config(&cfg)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let options = bgp::runtime::Options {
            config_path: Some(self.config_path()),
            no_fib: !self.opts.install_routes,
        };
        let run_cfg = cfg.clone();
        let thread = std::thread::Builder::new()
            .name("bgplane-router".into())
            .spawn(move || {
                bgp::runtime::run_until(run_cfg, options, async move {
                    let _ = stopped.await;
                })
            })
            .map_err(|e| format!("cannot start the router thread: {e}"))?;
        info!(asn = cfg.router.asn, router_id = %cfg.router.router_id, "router started");
        self.router = Some(Router {
            config: cfg,
            stop,
            thread,
        });
        Ok(None)
    }

    fn write_config(&self, cfg: &RouterConfig) -> Result<(), String> {
        let text = serde_norway::to_string(cfg).map_err(|e| e.to_string())?;
        let path = self.config_path();
        write_atomic(&path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn stop_router(&mut self) {
        if let Some(r) = self.router.take() {
            let _ = r.stop.send(());
            let _ = r.thread.join();
        }
        self.status.running = false;
        self.status.reload = None;
    }

    fn write_status(&self) {
        let path = self.opts.state_dir.join("status.json");
        if let Ok(text) = serde_json::to_vec_pretty(&self.status) {
            if let Err(e) = write_atomic(&path, &text) {
                warn!(path = %path.display(), %e, "cannot write the status");
            }
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop_router();
    }
}

/// Asks the running router to re-read its configuration file, waiting for its API socket
/// if it is still starting. Returns what the router did.
fn reload(socket: &Path) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut last = String::new();
        for _ in 0..50 {
            match bgp::runtime::api::call(socket, &Request::Reload).await {
                Ok(v) => {
                    let data = v.get("data").and_then(|d| d.as_str()).unwrap_or_default();
                    return match v.get("kind").and_then(|k| k.as_str()) {
                        Some("error") => Err(data.to_string()),
                        _ => Ok(data.to_string()),
                    };
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("the router did not answer a reload: {last}"))
    })
}

/// The gateways of this host's default routes (IPv4 from /proc/net/route, IPv6 from
/// /proc/net/ipv6_route), for v2's `autoDiscovery: DefaultGateway`.
fn default_gateways() -> Vec<std::net::IpAddr> {
    let mut out = Vec::new();
    if let Ok(t) = std::fs::read_to_string("/proc/net/route") {
        for l in t.lines().skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() > 7 && f[1] == "00000000" && f[7] == "00000000" {
                if let Ok(g) = u32::from_str_radix(f[2], 16) {
                    // The file holds the address in host order of a little-endian read.
                    let ip = std::net::Ipv4Addr::from(g.swap_bytes());
                    if !ip.is_unspecified() {
                        out.push(std::net::IpAddr::V4(ip));
                    }
                }
            }
        }
    }
    if let Ok(t) = std::fs::read_to_string("/proc/net/ipv6_route") {
        for l in t.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() > 4 && f[0] == "0".repeat(32) && f[1] == "00" {
                if let Ok(g) = u128::from_str_radix(f[4], 16) {
                    let ip = std::net::Ipv6Addr::from(g);
                    if !ip.is_unspecified() {
                        out.push(std::net::IpAddr::V6(ip));
                    }
                }
            }
        }
    }
    out
}

/// The subnets of this host's interface addresses (loopback and link-local excepted).
fn local_subnets() -> Vec<bgp_wire::Prefix> {
    let mut out = Vec::new();
    let Ok(ifaddrs) = nix::ifaddrs::getifaddrs() else {
        return out;
    };
    for i in ifaddrs {
        let (Some(a), Some(m)) = (i.address, i.netmask) else {
            continue;
        };
        let (ip, len) = if let (Some(a), Some(m)) = (a.as_sockaddr_in(), m.as_sockaddr_in()) {
            (
                std::net::IpAddr::V4(a.ip()),
                u32::from(m.ip()).count_ones() as u8,
            )
        } else if let (Some(a), Some(m)) = (a.as_sockaddr_in6(), m.as_sockaddr_in6()) {
            (
                std::net::IpAddr::V6(a.ip()),
                u128::from(m.ip()).count_ones() as u8,
            )
        } else {
            continue;
        };
        let skip = match ip {
            std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local(),
            std::net::IpAddr::V6(v6) => v6.is_loopback() || v6.segments()[0] & 0xffc0 == 0xfe80,
        };
        if let (false, Some(p)) = (skip, bgp_wire::Prefix::new(ip, len)) {
            out.push(p);
        }
    }
    out
}

/// Writes `bytes` to `path` through a temporary file, readable by the owner only: the
/// router's configuration holds the TCP MD5 and BFD keys of the Secrets.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

/// Names, modification times and sizes of the manifest files: a change triggers a
/// reconciliation.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, SystemTime, u64)> {
    let mut v: Vec<(PathBuf, SystemTime, u64)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            let m = e.metadata().ok()?;
            Some((e.path(), m.modified().ok()?, m.len()))
        })
        .collect();
    v.sort();
    v
}

/// Sets `flag` when the signal arrives (a thread waiting on the signal with sigwait would
/// steal it from the router's own handlers, so a tokio signal stream is used instead).
fn signal_flag(
    kind: tokio::signal::unix::SignalKind,
    flag: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("bgplane-agent-signal".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(rt) = rt else { return };
            rt.block_on(async move {
                let Ok(mut s) = tokio::signal::unix::signal(kind) else {
                    return;
                };
                s.recv().await;
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            });
        })?;
    Ok(())
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
