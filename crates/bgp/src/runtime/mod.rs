//! The router daemon: listeners and session tasks on a tokio runtime, the speaker actor on
//! its own thread, the API and metrics endpoints, reload and shutdown.

pub mod addrs;
mod answer;
pub mod api;
mod bfd_client;
mod kernel;
mod listeners;
mod metrics;
mod origin;
mod output;
mod reload;
mod restart;
pub mod session;
mod sockopt;
mod unnumbered;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bgp_wire::notification::{cease, codes};
use bgp_wire::{Family, Notification};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use crate::config::{BfdTimers, MaxPrefixAction, Neighbor, Network, RemoteAsConfig, RouterConfig};
use crate::fsm::State;
use crate::negotiate::{RemoteAs, SessionParams};
use crate::policy::Policies;
use crate::rib::attrs::Attrs;
use crate::rib::table::PeerId;
use crate::speaker::{PeerSpec, PrefixLimit, Speaker, SpeakerConfig};
use api::{ApiCall, Request, Response};
use session::{FromSession, SessionSpec, ToSession};

/// Errors that stop the router.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// A listener could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The API socket could not be opened.
    #[error("cannot open the API socket {path}: {source}")]
    Api {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The policies did not compile.
    #[error("{0}")]
    Config(String),
    /// The runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

/// How the daemon was started.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The configuration file, re-read on SIGHUP and `reload`.
    pub config_path: Option<PathBuf>,
    /// Do not touch the kernel FIB.
    pub no_fib: bool,
}

/// Messages to the actor besides session reports.
enum Control {
    Incoming(TcpStream, SocketAddr),
    Api(ApiCall),
    Reload(
        Option<Box<RouterConfig>>,
        oneshot::Sender<Result<String, String>>,
    ),
    Shutdown(oneshot::Sender<()>),
    Kernel(Box<rtnetlink::packet_route::RouteNetlinkMessage>),
    FibDone(fib::Stats),
    GrTimer(PeerId, restart::GrTimer, u64),
    /// A router advertisement heard on the link of an unnumbered neighbor.
    LinkPeer(String, std::net::Ipv6Addr),
    /// A BFD session changed state.
    Bfd(bfd::runtime::Event),
}

struct PeerRt {
    cfg: Neighbor,
    tx: mpsc::Sender<ToSession>,
    state: State,
    since: Instant,
    last_error: Option<String>,
    /// The session may be handed more bytes.
    credit: bool,
    /// With an MRAI, no UPDATE is sent before this time (RFC 4271 §9.2.1.1).
    next_send: Option<Instant>,
    /// Accepted from a listen range: removed when its session ends.
    dynamic: bool,
    /// Invalidates graceful-restart timers started before the last session change.
    gr_generation: u64,
    /// The token of its session task.
    token: u64,
    /// Our address on its last Established session (the source of a multihop BFD
    /// session when no `local-address` is configured).
    session_local: Option<IpAddr>,
    /// Its session waits in OpenSent for BFD (strict mode).
    bfd_pending: Option<crate::fsm::BfdPending>,
}

struct Actor {
    cfg: RouterConfig,
    options: Options,
    speaker: Speaker,
    peers: HashMap<PeerId, PeerRt>,
    handle: tokio::runtime::Handle,
    to_actor: mpsc::Sender<FromSession>,
    fib: Option<kernel::FibState>,
    policies: Policies,
    /// The listening sockets (MD5 keys are set on them).
    listeners: Vec<std::sync::Arc<TcpListener>>,
    /// MD5 keys set on the listeners, by peer address and range length.
    md5_keys: HashMap<(IpAddr, Option<u8>), String>,
    /// Our own control channel (timers).
    ctl: mpsc::Sender<Control>,
    /// Restarting (our routes of a previous run are in the kernel): advertisements wait
    /// until this time at most.
    restarting: Option<Instant>,
    /// The links of unnumbered neighbors.
    links: unnumbered::Links,
    /// The token of the last session task started.
    next_token: u64,
    /// The BFD task, once a neighbor asks for BFD.
    bfd: Option<bfd::runtime::Bfd>,
    /// The BFD sessions last asked of it.
    bfd_specs_sent: Vec<bfd::runtime::PeerSpec>,
    /// Neighbors changed since the BFD sessions were last matched to them.
    bfd_dirty: bool,
    /// The last state change of each BFD session (from its events).
    bfd_states: HashMap<IpAddr, bfd_client::BfdState>,
}

/// Runs the router until SIGINT/SIGTERM. Blocks the calling thread.
pub fn run(cfg: RouterConfig, options: Options) -> Result<(), RouterError> {
    run_until(cfg, options, std::future::pending())
}

/// Runs the router until SIGINT/SIGTERM or until `stop` completes (an embedding program,
/// such as the Kubernetes agent, stops it so), then shuts down gracefully. Blocks the
/// calling thread.
pub fn run_until(
    cfg: RouterConfig,
    options: Options,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), RouterError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("bgplane-io")
        .build()
        .map_err(RouterError::Runtime)?;
    rt.block_on(async move { run_async(cfg, options, stop).await })
}

async fn run_async(
    cfg: RouterConfig,
    options: Options,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), RouterError> {
    let policies =
        Policies::compile(&cfg.policy_config()).map_err(|e| RouterError::Config(e.to_string()))?;
    let (session_tx, session_rx) = mpsc::channel::<FromSession>(1024);
    let (ctl_tx, ctl_rx) = mpsc::channel::<Control>(256);
    let (api_tx, mut api_rx) = mpsc::channel::<ApiCall>(64);

    // Listeners.
    let mut listeners = Vec::new();
    for addr in &cfg.router.listen {
        let sa = SocketAddr::new(*addr, cfg.router.port);
        let listener = listen(sa).map_err(|source| RouterError::Listen { addr: sa, source })?;
        let listener = std::sync::Arc::new(listener);
        listeners.push(listener.clone());
        info!(%sa, "listening");
        let ctl = ctl_tx.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, remote)) => {
                        if ctl.send(Control::Incoming(stream, remote)).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => warn!(%e, "accept failed"),
                }
            }
        });
    }
    // API.
    let socket = PathBuf::from(&cfg.router.api.socket);
    {
        let path = socket.clone();
        let api_tx = api_tx.clone();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| RouterError::Api {
                path: path.clone(),
                source,
            })?;
        }
        tokio::spawn(async move {
            if let Err(e) = api::serve(path.clone(), api_tx).await {
                error!(%e, path = %path.display(), "API server stopped");
            }
        });
    }
    {
        let ctl = ctl_tx.clone();
        tokio::spawn(async move {
            while let Some(call) = api_rx.recv().await {
                if ctl.send(Control::Api(call)).await.is_err() {
                    break;
                }
            }
        });
    }
    if let Some(addr) = cfg.router.api.metrics {
        let ctl = ctl_tx.clone();
        tokio::spawn(metrics::serve(addr, ctl_api(ctl)));
    }
    // Signals.
    {
        let ctl = ctl_tx.clone();
        tokio::spawn(async move {
            let mut hup =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                    Ok(s) => s,
                    Err(e) => return warn!(%e, "no SIGHUP handler"),
                };
            while hup.recv().await.is_some() {
                let (tx, rx) = oneshot::channel();
                if ctl.send(Control::Reload(None, tx)).await.is_err() {
                    break;
                }
                match rx.await {
                    Ok(Ok(msg)) => info!("reload: {msg}"),
                    Ok(Err(e)) => error!("reload refused, old configuration kept: {e}"),
                    Err(_) => {}
                }
            }
        });
    }
    // The kernel FIB.
    // The kernel: read always (connected routes, static gateways), written unless --no-fib.
    let fib_start = Some(kernel::start(cfg.router.fib, !options.no_fib, ctl_tx.clone()).await?);
    // The actor on its own thread.
    let handle = tokio::runtime::Handle::current();
    let ctl = ctl_tx.clone();
    let actor_thread = std::thread::Builder::new()
        .name("bgplane-rib".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let rt = match rt {
                Ok(rt) => rt,
                Err(e) => return error!(%e, "cannot start the RIB thread"),
            };
            let mut actor = Actor::new(cfg, options, policies, handle, session_tx, ctl, fib_start);
            actor.listeners = listeners;
            actor.sync_listeners();
            rt.block_on(actor.run(session_rx, ctl_rx));
        })
        .map_err(RouterError::Runtime)?;
    // Wait for a termination signal, then shut down gracefully.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(RouterError::Runtime)?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        () = stop => {}
    }
    info!("shutting down");
    let (tx, rx) = oneshot::channel();
    if ctl_tx.send(Control::Shutdown(tx)).await.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(3), rx).await;
    }
    // Give the session tasks a moment to flush their NOTIFICATIONs.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = std::fs::remove_file(&socket);
    drop(ctl_tx);
    let _ = tokio::task::spawn_blocking(move || actor_thread.join()).await;
    Ok(())
}

fn ctl_api(
    ctl: mpsc::Sender<Control>,
) -> impl Fn(Request) -> oneshot::Receiver<Response> + Send + Sync + 'static {
    move |req| {
        let (tx, rx) = oneshot::channel();
        let _ = ctl.try_send(Control::Api((req, tx)));
        rx
    }
}

fn listen(sa: SocketAddr) -> std::io::Result<TcpListener> {
    let sock = match sa {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => {
            let s = TcpSocket::new_v6()?;
            // Listen on IPv6 only: an IPv4 listener is configured separately.
            socket2::SockRef::from(&s).set_only_v6(true)?;
            s
        }
    };
    sock.set_reuseaddr(true)?;
    // GTSM checks the TTL of the SYN of accepted connections.
    sockopt::save_syn(&sock)?;
    sock.bind(sa)?;
    sock.listen(1024)
}

impl Actor {
    fn new(
        cfg: RouterConfig,
        options: Options,
        policies: Policies,
        handle: tokio::runtime::Handle,
        to_actor: mpsc::Sender<FromSession>,
        ctl: mpsc::Sender<Control>,
        fib_start: Option<kernel::FibStart>,
    ) -> Self {
        let mut speaker = Speaker::new(speaker_config(&cfg));
        let gr = &cfg.router.graceful_restart;
        let restarting = fib_start
            .as_ref()
            .filter(|f| gr.enabled && f.write && !f.own.is_empty())
            .map(|_| Instant::now() + Duration::from_secs(gr.restart_time.into()));
        let fib = fib_start.map(|start| {
            let state = std::rc::Rc::new(std::cell::RefCell::new(start.kernel.clone()));
            let fib = kernel::FibState::new(&start, state);
            if start.write {
                speaker.set_resolver(Box::new(fib.resolver()));
                speaker.enable_fib_feed();
            }
            fib
        });
        let mut a = Actor {
            cfg: cfg.clone(),
            options,
            speaker,
            peers: HashMap::new(),
            handle,
            to_actor,
            fib,
            policies,
            listeners: Vec::new(),
            md5_keys: HashMap::new(),
            ctl,
            restarting,
            links: Default::default(),
            next_token: 0,
            bfd: None,
            bfd_specs_sent: Vec::new(),
            bfd_dirty: true,
            bfd_states: HashMap::new(),
        };
        a.speaker
            .set_policies(crate::policy_adapter::all(&a.policies, cfg.router.asn));
        for line in cfg.rfc8212_withheld() {
            warn!("{line}");
        }
        a.sync_statics();
        a.sync_origination();
        a.sync_unnumbered();
        for n in cfg.neighbors() {
            a.add_neighbor(n);
        }
        a
    }

    async fn run(
        &mut self,
        mut sessions: mpsc::Receiver<FromSession>,
        mut ctl: mpsc::Receiver<Control>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_millis(
            self.mrai().max(Duration::from_millis(200)).as_millis() as u64,
        ));
        loop {
            tokio::select! {
                m = sessions.recv() => {
                    let Some(m) = m else { break };
                    self.on_session(m);
                    // Take what is queued before producing output: bigger batches.
                    let mut n = 0;
                    while let Ok(m) = sessions.try_recv() {
                        self.on_session(m);
                        n += 1;
                        if n > 256 { break; }
                    }
                }
                c = ctl.recv() => {
                    let Some(c) = c else { break };
                    if let Control::Shutdown(done) = c {
                        self.shutdown();
                        let _ = done.send(());
                        break;
                    }
                    self.on_control(c);
                }
                _ = tick.tick() => {
                    self.speaker.note_time(Instant::now());
                    self.fib_tick();
                }
                () = sleep_until_some(self.next_release()) => {}
            }
            self.pump();
            self.fib_pump();
            if std::mem::take(&mut self.bfd_dirty) {
                self.bfd_sync();
            }
        }
    }

    fn mrai(&self) -> Duration {
        Duration::from_millis(self.cfg.router.mrai_ms)
    }

    fn on_session(&mut self, m: FromSession) {
        let sid = match &m {
            FromSession::State { id, .. }
            | FromSession::Up { id, .. }
            | FromSession::Down { id, .. }
            | FromSession::Received { id, .. }
            | FromSession::Drained { id } => *id,
        };
        // A message of a task that was replaced: its peer id now names another session.
        if self
            .peers
            .get(&sid.peer)
            .is_none_or(|p| p.token != sid.token)
        {
            debug!(peer = sid.peer, "message of a stopped session task dropped");
            return;
        }
        let id = sid.peer;
        match m {
            FromSession::State {
                state, bfd_pending, ..
            } => {
                if let Some(p) = self.peers.get_mut(&id) {
                    if p.state != state {
                        p.since = Instant::now();
                    }
                    p.state = state;
                    p.bfd_pending = bfd_pending;
                }
            }
            FromSession::Up {
                negotiated,
                local,
                remote,
                ..
            } => {
                let addrs = addrs::of_interface(local.ip());
                self.speaker.peer_up(id, *negotiated, local, remote, addrs);
                self.pace_new_session(id);
                self.session_up(id);
                if let Some(p) = self.peers.get_mut(&id) {
                    p.state = State::Established;
                    p.since = Instant::now();
                    p.credit = true;
                    if p.session_local != Some(local.ip()) {
                        p.session_local = Some(local.ip());
                        self.bfd_dirty = true;
                    }
                }
            }
            FromSession::Down {
                reason,
                was_established,
                ..
            } => {
                if let Some(p) = self.peers.get_mut(&id) {
                    p.last_error = Some(reason.to_string());
                    p.credit = false;
                }
                if was_established {
                    self.session_down(id, &reason);
                }
                if self.peers.get(&id).is_some_and(|p| p.dynamic) {
                    let n = Notification::new(codes::CEASE, cease::PEER_DECONFIGURED, vec![]);
                    self.remove_neighbor(id, n);
                }
            }
            FromSession::Received { data, permit, .. } => {
                if let Err(e) = self.speaker.receive(id, &data) {
                    warn!("{e}");
                    if let Some(p) = self.peers.get(&id) {
                        let _ = p.tx.try_send(ToSession::UpdateError(e.notification()));
                    }
                }
                drop(permit);
            }
            FromSession::Drained { .. } => {
                if let Some(p) = self.peers.get_mut(&id) {
                    p.credit = p.state == State::Established;
                }
            }
        }
    }

    fn on_control(&mut self, c: Control) {
        match c {
            Control::Incoming(stream, remote) => {
                let ip = normalize(remote.ip());
                match self
                    .speaker
                    .peer_by_address(ip)
                    .and_then(|id| self.peers.get(&id))
                {
                    Some(p) => {
                        let _ = p.tx.try_send(ToSession::Incoming(stream));
                    }
                    None => {
                        if let Some(stream) = self.accept_unnumbered(stream, remote) {
                            self.accept_dynamic(ip, stream);
                        }
                    }
                }
            }
            Control::Api((Request::BfdPeers, reply)) => self.bfd_peers(reply),
            Control::Api((req, reply)) => {
                let resp = self.api(req);
                let _ = reply.send(resp);
            }
            Control::Reload(new, reply) => {
                let _ = reply.send(self.reload(new));
            }
            Control::Shutdown(_) => {}
            Control::Kernel(m) => self.on_kernel(&m),
            Control::FibDone(stats) => self.fib_done(stats),
            Control::GrTimer(id, kind, generation) => self.gr_timer(id, kind, generation),
            Control::LinkPeer(ifname, addr) => self.link_peer(&ifname, addr),
            Control::Bfd(e) => self.on_bfd(e),
        }
    }

    fn shutdown(&mut self) {
        self.shutdown_sessions();
        // The BFD task ends, sending AdminDown to its peers.
        self.bfd = None;
    }

    fn add_neighbor(&mut self, mut n: Neighbor) -> PeerId {
        // An unnumbered neighbor: its address once heard on the link.
        let link = n.interface.as_deref().and_then(|i| self.links.get(i));
        if let (Some(l), true) = (link, n.address.is_unspecified()) {
            if let Some(peer) = l.peer {
                n.address = IpAddr::V6(peer);
            }
        }
        self.bfd_dirty = true;
        let id = self.speaker.add_peer(peer_spec(&self.cfg, &n));
        self.next_token += 1;
        let token = self.next_token;
        let mut spec = session_spec(
            &self.cfg,
            &n,
            session::SessionId { peer: id, token },
            self.graceful_restart_params(),
        );
        spec.bfd_up = self.bfd_is_up(n.address);
        if let (Some(ifname), IpAddr::V6(ll)) = (&n.interface, n.address) {
            if let Some(ifindex) = self.link_index(ifname) {
                spec.remote = SocketAddr::V6(std::net::SocketAddrV6::new(ll, n.port, 0, ifindex));
            }
        }
        let (tx, rx) = mpsc::channel(64);
        let to_actor = self.to_actor.clone();
        self.handle.spawn(session::run(spec, rx, to_actor));
        self.peers.insert(
            id,
            PeerRt {
                cfg: n,
                tx,
                state: State::Idle,
                since: Instant::now(),
                last_error: None,
                credit: false,
                next_send: None,
                dynamic: false,
                gr_generation: 0,
                token,
                session_local: None,
                bfd_pending: None,
            },
        );
        id
    }

    /// A connection from an address of a listen range: a dynamic neighbor with its peer
    /// group's settings, up to `router.listen-limit` of them (FRR's `bgp listen range`).
    fn accept_dynamic(&mut self, ip: IpAddr, stream: tokio::net::TcpStream) {
        let Some(n) = self.cfg.dynamic_neighbor(ip) else {
            info!(remote = %ip, "connection from an unknown address refused");
            return;
        };
        let count = self.peers.values().filter(|p| p.dynamic).count();
        if count >= self.cfg.router.listen_limit {
            warn!(remote = %ip, limit = self.cfg.router.listen_limit, "dynamic neighbor refused: listen limit reached");
            return;
        }
        info!(remote = %ip, group = ?n.peer_group, "dynamic neighbor accepted from a listen range");
        let id = self.add_neighbor(n);
        if let Some(p) = self.peers.get_mut(&id) {
            p.dynamic = true;
            let _ = p.tx.try_send(ToSession::Incoming(stream));
        }
    }

    /// The peer id of a configured neighbor (by address or interface).
    fn peer_id(&self, n: &Neighbor) -> Option<PeerId> {
        self.peers
            .iter()
            .find(|(_, p)| p.cfg.key() == n.key())
            .map(|(id, _)| *id)
    }

    fn remove_neighbor(&mut self, id: PeerId, n: Notification) {
        self.bfd_dirty = true;
        let n = self.admin_notification(id, n);
        if let Some(p) = self.peers.remove(&id) {
            let _ = p.tx.try_send(ToSession::Stop(Some(n)));
            let _ = p.tx.try_send(ToSession::Exit);
        }
        self.speaker.remove_peer(id);
    }

    fn api(&mut self, req: Request) -> Response {
        answer::answer(self, req)
    }
}

/// Sleeps until `t`, or forever.
async fn sleep_until_some(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// IPv4-mapped IPv6 addresses (from dual-stack sockets) as plain IPv4.
fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn speaker_config(cfg: &RouterConfig) -> SpeakerConfig {
    let mut s = SpeakerConfig::new(cfg.router.asn, cfg.router.router_id);
    s.cluster_id = cfg.router.cluster_id.unwrap_or(cfg.router.router_id);
    s.client_to_client = cfg.router.client_to_client_reflection;
    s.decision.always_compare_med = cfg.router.bestpath.always_compare_med;
    s.decision.missing_med_worst = cfg.router.bestpath.med_missing_as_worst;
    s.multipath.ebgp = cfg.router.maximum_paths.ebgp;
    s.multipath.ibgp = cfg.router.maximum_paths.ibgp;
    s.multipath.relax = cfg.router.bestpath.as_path_multipath_relax;
    s.ebgp_requires_policy = cfg.router.ebgp_requires_policy;
    s
}

fn remote_as(r: RemoteAsConfig) -> RemoteAs {
    r.into()
}

fn is_external(cfg: &RouterConfig, n: &Neighbor) -> bool {
    n.is_external(cfg.router.asn)
}

fn peer_spec(cfg: &RouterConfig, n: &Neighbor) -> PeerSpec {
    let mut s = PeerSpec::new(
        n.address,
        remote_as(n.remote_as),
        n.local_as.unwrap_or(cfg.router.asn),
    );
    s.description = n.description.clone();
    s.import = n.import.clone();
    s.export = n.export.clone();
    s.next_hop_self = n.next_hop_self;
    s.rr_client = n.route_reflector_client;
    s.default_originate = n.default_originate;
    s.graceful_shutdown = cfg.router.graceful_shutdown || n.graceful_shutdown;
    s.graceful_restart = cfg.router.graceful_restart.enabled;
    s.allowas_in = n.allowas_in;
    s.max_prefix = n.max_prefix.map(|m| PrefixLimit {
        limit: m.limit,
        shutdown: m.action == MaxPrefixAction::Shutdown,
    });
    s
}

fn session_spec(
    cfg: &RouterConfig,
    n: &Neighbor,
    id: session::SessionId,
    gr: Option<crate::negotiate::GracefulRestart>,
) -> SessionSpec {
    let local_asn = n.local_as.unwrap_or(cfg.router.asn);
    let mut params = SessionParams::new(local_asn, cfg.router.router_id, remote_as(n.remote_as));
    params.hold_time = n.hold_time.unwrap_or(cfg.router.hold_time);
    params.keepalive = n.keepalive.or(cfg.router.keepalive);
    params.families = n.families();
    params.extended_message = true;
    params.hostname = hostname();
    params.graceful_restart = gr;
    // RFC 8950: IPv4 routes over an unnumbered (IPv6 link-local) session.
    params.extended_nexthop = n.interface.is_some();
    let strict_hold = BfdTimers::strict_hold(n.bfd.as_ref());
    params.bfd_strict = strict_hold.is_some();
    SessionSpec {
        id,
        remote: SocketAddr::new(n.address, n.port),
        local_addr: n.local_address,
        // An unnumbered neighbor not heard yet can only be waited for.
        passive: n.passive || n.address.is_unspecified(),
        ttl: match n.ttl_security {
            Some(_) => Some(255),
            None => is_external(cfg, n).then(|| n.ebgp_multihop.unwrap_or(1)),
        },
        min_ttl: n.ttl_security.map(|hops| 255 - (hops - 1)),
        password: n.password.clone(),
        params,
        connect_retry: n.connect_retry.unwrap_or(cfg.router.connect_retry),
        shutdown: n.shutdown_message().map(str::to_string),
        bfd_up: false,
        bfd_hold_time: strict_hold.unwrap_or(crate::fsm::BFD_HOLD_TIME),
    }
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
}

fn network_route(n: &Network) -> (bgp_wire::Prefix, Attrs) {
    let mut a = Attrs::local(bgp_wire::Origin::Igp);
    if let Network::Detailed(d) = n {
        a.communities = d.communities.clone().into();
        a.large_communities = d.large_communities.clone().into();
        a.med = d.med;
    }
    a.communities.sort();
    a.communities.dedup();
    (n.prefix(), a)
}

/// The family names accepted by the API.
pub(crate) fn parse_family(s: &str) -> Option<Family> {
    match s {
        "ipv4" | "ipv4-unicast" | "ipv4/unicast" => Some(Family::IPV4_UNICAST),
        "ipv6" | "ipv6-unicast" | "ipv6/unicast" => Some(Family::IPV6_UNICAST),
        _ => None,
    }
}
