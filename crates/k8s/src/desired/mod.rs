//! What a node's BGP speaker should be, from the Kubernetes objects: a pure function from
//! the node, Cilium's BGP resources (the `v2alpha1` peering policies or the `v2` cluster
//! configurations), the Services and the Secrets to a router configuration. The agent
//! applies it; tests call it directly.
//!
//! Both API versions are first turned into a [`Plan`] (instances, peers, and for each peer
//! what it is sent and with which attributes), from which one function writes the router
//! configuration. As Cilium's BGP control plane, the node only advertises what it owns (its
//! pod CIDRs and the addresses of selected Services): every neighbor gets an export policy
//! that accepts exactly its prefixes, so a node never carries transit routes between peers.

mod bfd;
mod v2;
mod v2alpha1;

pub use bfd::{BFD_ANNOTATION, BFD_AUTH_ANNOTATION};

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use bgp::config::{BfdSetting, RouterConfig};
use bgp_wire::{Community, Prefix};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::{json, Map, Value};

use crate::crd::v2::{
    CiliumBGPAdvertisement, CiliumBGPClusterConfig, CiliumBGPNodeConfigOverride,
    CiliumBGPPeerConfig,
};
use crate::crd::v2alpha1::CiliumBGPPeeringPolicy;
use crate::crd::{selects, ServiceAddressType};

/// Cilium's load-balancer class for the BGP control plane.
pub const BGP_LOAD_BALANCER_CLASS: &str = "io.cilium/bgp-control-plane";

/// What the translation needs to know about the node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// Node labels.
    pub labels: BTreeMap<String, String>,
    /// `spec.podCIDRs` (or `spec.podCIDR`).
    pub pod_cidrs: Vec<Prefix>,
    /// Node addresses, InternalIP first.
    pub addresses: Vec<IpAddr>,
    /// The gateways of the node's default routes (for v2 `autoDiscovery: DefaultGateway`).
    pub default_gateways: Vec<IpAddr>,
    /// The node's [`GRACEFUL_SHUTDOWN_ANNOTATION`], as written.
    pub graceful_shutdown: Option<String>,
    /// `spec.unschedulable`: the node is cordoned (`kubectl cordon`, `kubectl drain`).
    pub unschedulable: bool,
}

/// A Node annotation that puts the node's BGP sessions into graceful shutdown (RFC 8326)
/// while it is `"true"`: the routes it advertises carry the GRACEFUL_SHUTDOWN community
/// (and LOCAL_PREF 0 to iBGP peers), so the fabric moves traffic to other nodes before the
/// node goes away. `"false"` keeps a cordoned node out of it when the agent runs with
/// `--graceful-shutdown-when-cordoned`. Cilium has no counterpart.
pub const GRACEFUL_SHUTDOWN_ANNOTATION: &str = "bgplane.io/graceful-shutdown";

impl NodeInfo {
    /// The BGP identifier: the node's first IPv4 address, as Cilium uses.
    pub fn router_id(&self) -> Option<Ipv4Addr> {
        self.addresses.iter().find_map(|a| match a {
            IpAddr::V4(v4) => Some(*v4),
            IpAddr::V6(_) => None,
        })
    }
}

/// How the agent runs the speaker (not from Kubernetes objects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerSettings {
    /// The router's API socket.
    pub socket: String,
    /// Prometheus endpoint of the router.
    pub metrics: Option<std::net::SocketAddr>,
    /// A cordoned node goes into graceful shutdown unless its annotation says otherwise
    /// (`bgplane agent --graceful-shutdown-when-cordoned`).
    pub graceful_shutdown_when_cordoned: bool,
}

/// The `cilium.io/v2` objects the translation reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct V2Inputs<'a> {
    /// Every `CiliumBGPClusterConfig`.
    pub cluster_configs: &'a [CiliumBGPClusterConfig],
    /// `CiliumBGPPeerConfig`s by name.
    pub peer_configs: Option<&'a BTreeMap<String, CiliumBGPPeerConfig>>,
    /// Every `CiliumBGPAdvertisement`.
    pub advertisements: &'a [CiliumBGPAdvertisement],
    /// The node's `CiliumBGPNodeConfigOverride` (named after it), if any.
    pub node_override: Option<&'a CiliumBGPNodeConfigOverride>,
}

/// Everything the translation reads.
pub struct Inputs<'a> {
    /// The node.
    pub node: &'a NodeInfo,
    /// Every `CiliumBGPPeeringPolicy`.
    pub policies: &'a [CiliumBGPPeeringPolicy],
    /// Every Service.
    pub services: &'a [Service],
    /// A key of a Secret of the secrets namespace (Secret name, key), if both exist: the
    /// TCP MD5 password of `authSecretRef` (`password`), BFD authentication.
    pub secret: &'a dyn Fn(&str, &str) -> Option<String>,
    /// Agent settings.
    pub settings: &'a SpeakerSettings,
    /// The `cilium.io/v2` objects.
    pub v2: V2Inputs<'a>,
}

/// The node's BGP state.
#[derive(Debug, Clone, PartialEq)]
pub enum Desired {
    /// No policy selects the node: no BGP.
    Off,
    /// The speaker to run.
    On {
        /// The object that selected the node (`CiliumBGPPeeringPolicy` or
        /// `CiliumBGPClusterConfig` name).
        policy: String,
        /// The router configuration.
        config: Box<RouterConfig>,
        /// The prefixes the node advertises.
        advertised: Vec<Prefix>,
        /// Fields of the objects in force that are accepted (Cilium's API has them) but
        /// have no effect, each a sentence naming the object and field.
        unsupported: Vec<String>,
    },
}

/// Why no configuration can be made. Each names the object and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DesiredError {
    /// Cilium refuses more than one peering policy per node.
    #[error("node {node}: more than one {kind} selects it ({}): none is applied", policies.join(", "))]
    ConflictingPolicies {
        /// The node.
        node: String,
        /// `CiliumBGPPeeringPolicy` or `CiliumBGPClusterConfig`.
        kind: &'static str,
        /// The objects.
        policies: Vec<String>,
    },
    /// Both API versions select the node.
    #[error("node {node}: both CiliumBGPPeeringPolicy {policy} and CiliumBGPClusterConfig {cluster_config} select it; use one API")]
    BothApis {
        /// The node.
        node: String,
        /// The v2alpha1 policy.
        policy: String,
        /// The v2 cluster configuration.
        cluster_config: String,
    },
    /// A field of an object is invalid.
    #[error("{object}: {field}: {problem}")]
    Invalid {
        /// The object, e.g. `CiliumBGPPeeringPolicy rack0`.
        object: String,
        /// The field, e.g. `spec.virtualRouters[0].neighbors[1].peerAddress`.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The node has no IPv4 address to be the BGP identifier.
    #[error("node {0}: no IPv4 address for the BGP router id")]
    NoRouterId(String),
}

/// The speaker of a node, before it is written as a router configuration.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    /// `Kind name` of the object it comes from.
    object: String,
    name: String,
    router_asn: u32,
    router_id: Ipv4Addr,
    peers: Vec<Peer>,
    /// Fields accepted but not acted on (see [`Desired::On`]).
    unsupported: BTreeSet<String>,
}

/// One neighbor of the plan.
#[derive(Debug, Clone, PartialEq)]
struct Peer {
    /// Where it comes from, for error messages and the description.
    field: String,
    /// Its address, or the interface of an unnumbered peer.
    target: Target,
    /// Its AS (`None`: any other AS, as Cilium's peerASN 0).
    asn: Option<u32>,
    local_asn: u32,
    local_address: Option<IpAddr>,
    port: i32,
    multihop: i32,
    connect_retry: i32,
    hold: i32,
    keepalive: i32,
    graceful_restart: Option<i32>,
    families: Vec<&'static str>,
    password: Option<String>,
    /// What it is sent.
    advertise: Vec<Prefix>,
    /// Attributes for some of those prefixes.
    attributes: Vec<Attributes>,
    /// BFD, from the [`BFD_ANNOTATION`] of the object that sets the peer up.
    bfd: Option<BfdSetting>,
}

#[derive(Debug, Clone, PartialEq)]
enum Target {
    Address(IpAddr),
    Interface(String),
}

/// Attributes added to some advertised prefixes.
#[derive(Debug, Clone, PartialEq, Default)]
struct Attributes {
    prefixes: Vec<Prefix>,
    standard: Vec<String>,
    well_known: Vec<String>,
    large: Vec<String>,
    local_preference: Option<i64>,
}

/// Computes the node's BGP state.
pub fn desired(inp: &Inputs<'_>) -> Result<Desired, DesiredError> {
    let policy = v2alpha1::select(inp)?;
    let cluster = v2::select(inp)?;
    let plan = match (policy, cluster) {
        (None, None) => return Ok(Desired::Off),
        (Some(p), Some(c)) => {
            return Err(DesiredError::BothApis {
                node: inp.node.name.clone(),
                policy: p.metadata.name.clone().unwrap_or_default(),
                cluster_config: c.metadata.name.clone().unwrap_or_default(),
            })
        }
        (Some(p), None) => v2alpha1::plan(inp, p)?,
        (None, Some(c)) => v2::plan(inp, c)?,
    };
    emit(inp, plan)
}

/// Writes a plan as a router configuration, and validates it as `bgplane router` would.
fn emit(inp: &Inputs<'_>, plan: Plan) -> Result<Desired, DesiredError> {
    let invalid = |field: String, problem: String| DesiredError::Invalid {
        object: plan.object.clone(),
        field,
        problem,
    };
    let mut networks: BTreeSet<Prefix> = BTreeSet::new();
    let mut neighbors = Vec::new();
    let mut prefix_lists = Map::new();
    let mut policies = Map::new();
    let mut gr: Option<i32> = None;
    for (j, p) in plan.peers.iter().enumerate() {
        networks.extend(p.advertise.iter().copied());
        if let Some(t) = p.graceful_restart {
            gr = Some(gr.unwrap_or(0).max(t));
        }
        let external = p.asn != Some(p.local_asn);
        let export = format!("neighbor{j}-out");
        let mut terms = Vec::new();
        for (k, a) in p.attributes.iter().enumerate() {
            let prefixes: Vec<Prefix> = a
                .prefixes
                .iter()
                .filter(|x| p.advertise.contains(x))
                .copied()
                .collect();
            if prefixes.is_empty() {
                continue;
            }
            let mut set = Map::new();
            let standard: Vec<String> = a
                .standard
                .iter()
                .map(|s| standard_community(s))
                .chain(a.well_known.iter().cloned())
                .collect();
            if !standard.is_empty() {
                set.insert("community".into(), json!({ "add": standard }));
            }
            if !a.large.is_empty() {
                set.insert("large-community".into(), json!({ "add": a.large }));
            }
            if let (Some(lp), false) = (a.local_preference, external) {
                set.insert("local-pref".into(), json!(lp));
            }
            if set.is_empty() {
                continue;
            }
            let list = format!("neighbor{j}-attributes{k}");
            prefix_lists.insert(list.clone(), exact(&prefixes));
            terms.push(json!({ "match": { "prefix-list": list }, "set": set, "action": "next" }));
        }
        if !p.advertise.is_empty() {
            let list = format!("neighbor{j}-advertised");
            prefix_lists.insert(list.clone(), exact(&p.advertise));
            terms.push(json!({ "match": { "prefix-list": list }, "action": "accept" }));
        }
        terms.push(json!({ "action": "reject" }));
        policies.insert(export.clone(), Value::Array(terms));

        let mut nb = Map::new();
        match &p.target {
            Target::Address(a) => nb.insert("address".into(), json!(a.to_string())),
            Target::Interface(i) => nb.insert("interface".into(), json!(i)),
        };
        nb.insert(
            "remote-as".into(),
            match p.asn {
                Some(a) => json!(a),
                None => json!("external"),
            },
        );
        if p.local_asn != plan.router_asn {
            nb.insert("local-as".into(), json!(p.local_asn));
        }
        if let Some(la) = p.local_address {
            nb.insert("local-address".into(), json!(la.to_string()));
        }
        nb.insert("port".into(), json!(p.port));
        if external && p.multihop > 1 {
            nb.insert("ebgp-multihop".into(), json!(p.multihop));
        }
        nb.insert("hold-time".into(), json!(p.hold));
        nb.insert("keepalive".into(), json!(p.keepalive));
        nb.insert("connect-retry".into(), json!(p.connect_retry));
        nb.insert("families".into(), json!(p.families));
        if let Some(pw) = &p.password {
            nb.insert("password".into(), json!(pw));
        }
        if let Some(b) = &p.bfd {
            nb.insert("bfd".into(), json!(b));
        }
        nb.insert("export".into(), json!(export));
        nb.insert(
            "description".into(),
            json!(format!("{} {}", plan.name, p.field)),
        );
        neighbors.push(Value::Object(nb));
    }
    let mut router = Map::new();
    router.insert("asn".into(), json!(plan.router_asn));
    router.insert("router-id".into(), json!(plan.router_id.to_string()));
    // Like Cilium's agents, the node only connects out: no listener.
    router.insert("listen".into(), json!([]));
    let mut api = Map::new();
    api.insert("socket".into(), json!(inp.settings.socket));
    if let Some(m) = inp.settings.metrics {
        api.insert("metrics".into(), json!(m.to_string()));
    }
    router.insert("api".into(), Value::Object(api));
    let gshut = match inp.node.graceful_shutdown.as_deref().map(str::trim) {
        None => inp.settings.graceful_shutdown_when_cordoned && inp.node.unschedulable,
        Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(DesiredError::Invalid {
                object: format!("Node {}", inp.node.name),
                field: format!("metadata.annotations[{GRACEFUL_SHUTDOWN_ANNOTATION:?}]"),
                problem: format!("{other:?}: expected \"true\" or \"false\""),
            })
        }
    };
    if gshut {
        router.insert("graceful-shutdown".into(), json!(true));
    }
    router.insert(
        "graceful-restart".into(),
        match gr {
            Some(t) => json!({ "enabled": true, "restart-time": t }),
            None => json!({ "enabled": false }),
        },
    );
    let cfg = json!({
        "router": router,
        "networks": networks.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "neighbors": neighbors,
        "prefix-lists": prefix_lists,
        "policies": policies,
    });
    let config: RouterConfig =
        serde_json::from_value(cfg).map_err(|e| invalid("spec".into(), e.to_string()))?;
    config
        .validate()
        .map_err(|(key, problem)| invalid(format!("(as router configuration) {key}"), problem))?;
    Ok(Desired::On {
        policy: plan.name,
        config: Box::new(config),
        advertised: networks.into_iter().collect(),
        unsupported: plan.unsupported.into_iter().collect(),
    })
}

/// The families a peer negotiates, as the router names them.
fn family_names<'a>(families: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<&'static str> {
    let mut out = Vec::new();
    for f in families {
        let name = match f {
            ("ipv4", "unicast") => "ipv4-unicast",
            ("ipv6", "unicast") => "ipv6-unicast",
            _ => continue,
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// A standard community as `HIGH:LOW` (Cilium also takes the 32-bit number).
fn standard_community(s: &str) -> String {
    match s.parse::<u32>() {
        Ok(n) => Community(n).to_string(),
        Err(_) => s.to_string(),
    }
}

/// Host prefixes of the selected Services' addresses of the given kinds (no selector: no
/// Service).
fn service_prefixes(
    selector: Option<&LabelSelector>,
    kinds: &[ServiceAddressType],
    services: &[Service],
) -> Vec<Prefix> {
    let Some(selector) = selector else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for svc in services {
        let labels = svc.metadata.labels.clone().unwrap_or_default();
        if !selects(Some(selector), &labels) {
            continue;
        }
        let Some(spec) = &svc.spec else { continue };
        let class_ok = spec
            .load_balancer_class
            .as_deref()
            .is_none_or(|c| c == BGP_LOAD_BALANCER_CLASS);
        let mut addrs: Vec<String> = Vec::new();
        for k in kinds {
            match k {
                ServiceAddressType::LoadBalancerIP
                    if class_ok && spec.type_.as_deref() == Some("LoadBalancer") =>
                {
                    let ingress = svc
                        .status
                        .as_ref()
                        .and_then(|s| s.load_balancer.as_ref())
                        .and_then(|l| l.ingress.as_ref());
                    addrs.extend(ingress.into_iter().flatten().filter_map(|i| i.ip.clone()));
                }
                ServiceAddressType::ClusterIP => {
                    addrs.extend(spec.cluster_ips.iter().flatten().cloned());
                    addrs.extend(spec.cluster_ip.iter().cloned());
                }
                ServiceAddressType::ExternalIP => {
                    addrs.extend(spec.external_ips.iter().flatten().cloned())
                }
                ServiceAddressType::LoadBalancerIP => {}
            }
        }
        for a in addrs {
            if let Ok(ip) = a.parse::<IpAddr>() {
                let len = if ip.is_ipv4() { 32 } else { 128 };
                if let Some(p) = Prefix::new(ip, len) {
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
            }
        }
    }
    out.sort();
    out
}

fn exact(prefixes: &[Prefix]) -> Value {
    Value::Array(
        prefixes
            .iter()
            .map(|p| json!({ "prefix": p.to_string() }))
            .collect(),
    )
}

/// `10.0.5.1/24` → 10.0.5.1 (Cilium takes the address of the CIDR); a bare address too.
fn peer_address(s: &str) -> Option<IpAddr> {
    let addr = s
        .split_once('/')
        .map_or(s, |(a, len)| if len.parse::<u8>().is_ok() { a } else { "" });
    addr.parse().ok()
}

fn asn(v: i64) -> Option<u32> {
    u32::try_from(v).ok().filter(|a| *a != 0)
}

fn range_msg() -> String {
    "must be between 1 and 4294967295".into()
}

/// Why multi-pool IPAM fields are accepted and ignored.
const NO_MULTI_POOL: &str =
    "is not supported: bgplane has no multi-pool IPAM (CiliumPodIPPool), the field is ignored";

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_v2;
