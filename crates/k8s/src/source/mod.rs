//! The Kubernetes API server as the agent's object source: kube-rs watchers and
//! reflectors for the node's `Node`, every `CiliumBGPPeeringPolicy`, every `Service`, the
//! `Secret`s of the BGP secrets namespace and the `cilium.io/v2` BGP resources. Whenever
//! something changes (changes that arrive together are taken together), a new
//! [`Observed`] — the same [`Snapshot`] the manifest directory gives, plus the v2 objects —
//! is published on a `tokio::sync::watch` channel. The [`status`] module writes the
//! node's `CiliumBGPNodeConfig` status and Events back.

pub mod status;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Secret, Service};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::crd::v2::{
    CiliumBGPAdvertisement, CiliumBGPClusterConfig, CiliumBGPNodeConfig,
    CiliumBGPNodeConfigOverride, CiliumBGPPeerConfig,
};
use crate::crd::v2alpha1::CiliumBGPPeeringPolicy;
use crate::manifests::{Object, Snapshot};

/// Why the API server cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The kubeconfig file named on the command line cannot be used.
    #[error("kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// Why.
        source: kube::config::KubeconfigError,
    },
    /// Neither a kubeconfig (KUBECONFIG, ~/.kube/config) nor the in-cluster service account
    /// gives a configuration.
    #[error(
        "no Kubernetes API server configuration (in-cluster service account or KUBECONFIG): {0}"
    )]
    Infer(#[from] kube::config::InferConfigError),
    /// The client cannot be made from the configuration.
    #[error("Kubernetes client: {0}")]
    Client(#[source] kube::Error),
    /// A request about one object failed.
    #[error("{kind} {name}: {source}")]
    Api {
        /// The object's kind.
        kind: &'static str,
        /// The object's name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// A client for the API server: from `kubeconfig` if given, else inferred (KUBECONFIG or
/// ~/.kube/config, then the in-cluster service account).
pub async fn client(kubeconfig: Option<&Path>) -> Result<Client, SourceError> {
    let config = match kubeconfig {
        Some(path) => {
            let err = |source| SourceError::Kubeconfig {
                path: path.to_path_buf(),
                source,
            };
            let kc = kube::config::Kubeconfig::read_from(path).map_err(err)?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .map_err(err)?
        }
        None => kube::Config::infer().await?,
    };
    Client::try_from(config).map_err(SourceError::Client)
}

/// What the source watches.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// This node's name: only its Node (unless `all_nodes`), CiliumBGPNodeConfig and
    /// CiliumBGPNodeConfigOverride are watched.
    pub node: String,
    /// The namespace of the Secrets that `authSecretRef` names.
    pub secrets_namespace: String,
    /// How long to wait for more changes after one before publishing.
    pub settle: Duration,
    /// Watch every Node, not only this one (`autoDirectNodeRoutes` needs the other nodes'
    /// pod CIDRs and addresses).
    pub all_nodes: bool,
}

/// The `cilium.io/v2` BGP objects, by name (all are cluster-scoped).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct V2Objects {
    /// `CiliumBGPClusterConfig`s.
    pub cluster_configs: BTreeMap<String, CiliumBGPClusterConfig>,
    /// `CiliumBGPPeerConfig`s.
    pub peer_configs: BTreeMap<String, CiliumBGPPeerConfig>,
    /// `CiliumBGPAdvertisement`s.
    pub advertisements: BTreeMap<String, CiliumBGPAdvertisement>,
    /// This node's `CiliumBGPNodeConfigOverride` (named after the node), if any.
    pub node_config_overrides: BTreeMap<String, CiliumBGPNodeConfigOverride>,
    /// This node's `CiliumBGPNodeConfig`, if any.
    pub node_configs: BTreeMap<String, CiliumBGPNodeConfig>,
}

/// Everything the source observed at one moment.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The objects the agent reconciles (as the manifest directory gives them).
    pub snapshot: Snapshot,
    /// The v2 BGP objects.
    pub v2: V2Objects,
}

/// The receiving end of the source: `None` until every required kind has been listed once.
pub type ObservedReceiver = watch::Receiver<Option<Arc<Observed>>>;

/// A kind the source watches: its reader, and whether the first list has completed.
struct Watched<K: 'static + Resource<DynamicType = ()> + Clone> {
    store: Store<K>,
    ready: Arc<AtomicBool>,
}

impl<K> Watched<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    /// Starts the reflector of `api` (with `config`); its stream yields a unit per change.
    fn start(
        api: Api<K>,
        config: watcher::Config,
        streams: &mut Vec<BoxStream<'static, ()>>,
    ) -> Self {
        let (store, writer) = reflector::store();
        let ready = Arc::new(AtomicBool::new(false));
        let flag = ready.clone();
        let kind = K::kind(&()).into_owned();
        let s = reflector::reflector(writer, watcher(api, config).default_backoff()).filter_map(
            move |ev| {
                let out = match ev {
                    Ok(watcher::Event::InitDone) => {
                        if !flag.swap(true, Ordering::Relaxed) {
                            debug!(kind = %kind, "listed");
                        }
                        Some(())
                    }
                    Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => None,
                    Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => Some(()),
                    Err(e) => {
                        warn!(kind = %kind, error = %e, "watching failed; retrying");
                        None
                    }
                };
                std::future::ready(out)
            },
        );
        streams.push(s.boxed());
        Watched { store, ready }
    }
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Watched<K> {
    fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    fn objects(&self) -> Vec<Arc<K>> {
        self.store.state()
    }
}

struct Watches {
    nodes: Watched<Node>,
    policies: Watched<CiliumBGPPeeringPolicy>,
    services: Watched<Service>,
    secrets: Watched<Secret>,
    cluster_configs: Watched<CiliumBGPClusterConfig>,
    peer_configs: Watched<CiliumBGPPeerConfig>,
    advertisements: Watched<CiliumBGPAdvertisement>,
    overrides: Watched<CiliumBGPNodeConfigOverride>,
    node_configs: Watched<CiliumBGPNodeConfig>,
}

impl Watches {
    /// The kinds the agent cannot work without. The v2 kinds are optional: a cluster may
    /// not have their CRDs (their watchers keep retrying and log why).
    fn required_ready(&self) -> bool {
        self.nodes.ready() && self.policies.ready() && self.services.ready() && self.secrets.ready()
    }

    fn observed(&self) -> Observed {
        let mut snapshot = Snapshot::default();
        for n in self.nodes.objects() {
            snapshot.insert(Object::Node(Box::new((*n).clone())));
        }
        for p in self.policies.objects() {
            snapshot.insert(Object::PeeringPolicy(Box::new((*p).clone())));
        }
        for s in self.services.objects() {
            snapshot.insert(Object::Service(Box::new((*s).clone())));
        }
        for s in self.secrets.objects() {
            snapshot.insert(Object::Secret(Box::new((*s).clone())));
        }
        fn by_name<K: Resource + Clone>(objs: Vec<Arc<K>>) -> BTreeMap<String, K> {
            objs.into_iter()
                .map(|o| (o.name_any(), (*o).clone()))
                .collect()
        }
        let v2 = V2Objects {
            cluster_configs: by_name(self.cluster_configs.objects()),
            peer_configs: by_name(self.peer_configs.objects()),
            advertisements: by_name(self.advertisements.objects()),
            node_config_overrides: by_name(self.overrides.objects()),
            node_configs: by_name(self.node_configs.objects()),
        };
        // The reconciliation reads the v2 objects from the snapshot too.
        snapshot.cluster_configs = v2.cluster_configs.clone();
        snapshot.peer_configs = v2.peer_configs.clone();
        snapshot.advertisements = v2.advertisements.clone();
        snapshot.node_config_overrides = v2.node_config_overrides.clone();
        Observed { snapshot, v2 }
    }

    /// Kind, namespace/name and resourceVersion of every object: equal fingerprints are
    /// equal observations.
    fn fingerprint(&self) -> Vec<(&'static str, String, String)> {
        fn add<K: Resource<DynamicType = ()> + Clone>(
            out: &mut Vec<(&'static str, String, String)>,
            kind: &'static str,
            w: &Watched<K>,
        ) {
            for o in w.objects() {
                let m = o.meta();
                out.push((
                    kind,
                    format!(
                        "{}/{}",
                        m.namespace.as_deref().unwrap_or(""),
                        m.name.as_deref().unwrap_or("")
                    ),
                    m.resource_version.clone().unwrap_or_default(),
                ));
            }
        }
        let mut out = Vec::new();
        add(&mut out, "Node", &self.nodes);
        add(&mut out, "CiliumBGPPeeringPolicy", &self.policies);
        add(&mut out, "Service", &self.services);
        add(&mut out, "Secret", &self.secrets);
        add(&mut out, "CiliumBGPClusterConfig", &self.cluster_configs);
        add(&mut out, "CiliumBGPPeerConfig", &self.peer_configs);
        add(&mut out, "CiliumBGPAdvertisement", &self.advertisements);
        add(&mut out, "CiliumBGPNodeConfigOverride", &self.overrides);
        add(&mut out, "CiliumBGPNodeConfig", &self.node_configs);
        out.sort();
        out
    }
}

/// Starts watching (on the current tokio runtime) and returns the channel the
/// observations arrive on. The task ends when every receiver is gone.
pub fn spawn(client: Client, opts: SourceOptions) -> ObservedReceiver {
    let (tx, rx) = watch::channel(None);
    let mut streams = Vec::new();
    let by_name = watcher::Config::default().fields(&format!("metadata.name={}", opts.node));
    let all = watcher::Config::default;
    let watches = Watches {
        nodes: Watched::start(
            Api::all(client.clone()),
            if opts.all_nodes {
                all()
            } else {
                by_name.clone()
            },
            &mut streams,
        ),
        policies: Watched::start(Api::all(client.clone()), all(), &mut streams),
        services: Watched::start(Api::all(client.clone()), all(), &mut streams),
        secrets: Watched::start(
            Api::namespaced(client.clone(), &opts.secrets_namespace),
            all(),
            &mut streams,
        ),
        cluster_configs: Watched::start(Api::all(client.clone()), all(), &mut streams),
        peer_configs: Watched::start(Api::all(client.clone()), all(), &mut streams),
        advertisements: Watched::start(Api::all(client.clone()), all(), &mut streams),
        overrides: Watched::start(Api::all(client.clone()), by_name.clone(), &mut streams),
        node_configs: Watched::start(Api::all(client), by_name, &mut streams),
    };
    tokio::spawn(run(watches, stream::select_all(streams), tx, opts.settle));
    rx
}

async fn run(
    watches: Watches,
    mut changes: stream::SelectAll<BoxStream<'static, ()>>,
    tx: watch::Sender<Option<Arc<Observed>>>,
    settle: Duration,
) {
    let mut last: Option<Vec<(&'static str, String, String)>> = None;
    while changes.next().await.is_some() {
        // Take the changes that arrive together as one.
        while let Ok(Some(())) = tokio::time::timeout(settle, changes.next()).await {}
        if !watches.required_ready() {
            continue;
        }
        let fp = watches.fingerprint();
        if last.as_ref() == Some(&fp) {
            continue;
        }
        let observed = watches.observed();
        info!(
            nodes = observed.snapshot.nodes.len(),
            policies = observed.snapshot.policies.len(),
            services = observed.snapshot.services.len(),
            secrets = observed.snapshot.secrets.len(),
            "objects changed"
        );
        last = Some(fp);
        if tx.send(Some(Arc::new(observed))).is_err() {
            debug!("no receiver left: the source stops");
            return;
        }
    }
}
