//! What a node's BGP speaker should be, from the Kubernetes objects: a pure function from
//! the node, the peering policies, the Services and the Secrets to a router
//! configuration. The agent applies it; tests call it directly.
//!
//! As Cilium's BGP control plane, the node only advertises what it owns (its pod CIDRs and
//! the addresses of selected Services): every neighbor gets an export policy that accepts
//! exactly those prefixes, so a node never carries transit routes between its peers.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use bgp::config::RouterConfig;
use bgp_wire::{Community, Prefix};
use k8s_openapi::api::core::v1::Service;
use serde_json::{json, Map, Value};

use crate::crd::v2alpha1::{CiliumBGPNeighbor, CiliumBGPPeeringPolicy, PathAttributesSelectorType};
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
}

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
    /// Cilium's `autoDirectNodeRoutes`: routes to the pod CIDRs of the nodes whose address
    /// is in one of these directly connected subnets, through that address.
    pub direct_subnets: Option<Vec<Prefix>>,
}

/// Everything the translation reads.
pub struct Inputs<'a> {
    /// The node.
    pub node: &'a NodeInfo,
    /// Every `CiliumBGPPeeringPolicy`.
    pub policies: &'a [CiliumBGPPeeringPolicy],
    /// Every Service.
    pub services: &'a [Service],
    /// The TCP MD5 password of a Secret by name (its `password` key), if it exists.
    pub secret: &'a dyn Fn(&str) -> Option<String>,
    /// Agent settings.
    pub settings: &'a SpeakerSettings,
    /// The other nodes (for `autoDirectNodeRoutes`).
    pub other_nodes: &'a [NodeInfo],
}

/// The node's BGP state.
#[derive(Debug, Clone, PartialEq)]
pub enum Desired {
    /// No policy selects the node: no BGP.
    Off,
    /// The speaker to run.
    On {
        /// The policy that selected the node.
        policy: String,
        /// The router configuration.
        config: Box<RouterConfig>,
        /// The prefixes the node advertises.
        advertised: Vec<Prefix>,
    },
}

/// Why no configuration can be made. Each names the object and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DesiredError {
    /// Cilium refuses more than one peering policy per node.
    #[error("node {node}: more than one CiliumBGPPeeringPolicy selects it ({}): none is applied", policies.join(", "))]
    ConflictingPolicies {
        /// The node.
        node: String,
        /// The policies.
        policies: Vec<String>,
    },
    /// A field of a policy is invalid.
    #[error("CiliumBGPPeeringPolicy {policy}: {field}: {problem}")]
    Invalid {
        /// The policy.
        policy: String,
        /// The field, e.g. `spec.virtualRouters[0].neighbors[1].peerAddress`.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The node has no IPv4 address to be the BGP identifier.
    #[error("node {0}: no IPv4 address for the BGP router id")]
    NoRouterId(String),
}

/// Computes the node's BGP state.
pub fn desired(inp: &Inputs<'_>) -> Result<Desired, DesiredError> {
    let node = inp.node;
    let selected: Vec<&CiliumBGPPeeringPolicy> = inp
        .policies
        .iter()
        .filter(|p| selects(p.spec.node_selector.as_ref(), &node.labels))
        .collect();
    let policy = match selected.as_slice() {
        [] => return Ok(Desired::Off),
        [one] => *one,
        many => {
            let mut policies: Vec<String> = many.iter().map(|p| name(p)).collect();
            policies.sort();
            return Err(DesiredError::ConflictingPolicies {
                node: node.name.clone(),
                policies,
            });
        }
    };
    let pname = name(policy);
    let invalid = |field: String, problem: String| DesiredError::Invalid {
        policy: pname.clone(),
        field,
        problem,
    };
    let router_id = node
        .router_id()
        .ok_or_else(|| DesiredError::NoRouterId(node.name.clone()))?;
    let vrs = &policy.spec.virtual_routers;
    let Some(first) = vrs.first() else {
        return Err(invalid(
            "spec.virtualRouters".into(),
            "at least one virtual router is required".into(),
        ));
    };
    let router_asn = asn(first.local_asn)
        .ok_or_else(|| invalid("spec.virtualRouters[0].localASN".into(), range_msg()))?;

    let mut networks: BTreeMap<Prefix, ()> = BTreeMap::new();
    let mut neighbors = Vec::new();
    let mut prefix_lists = Map::new();
    let mut policies = Map::new();
    let mut gr: Option<i32> = None;
    for (i, vr) in vrs.iter().enumerate() {
        let f = |rest: &str| format!("spec.virtualRouters[{i}].{rest}");
        let local_asn = asn(vr.local_asn).ok_or_else(|| invalid(f("localASN"), range_msg()))?;
        // What this virtual router advertises.
        let mut pods: Vec<Prefix> = Vec::new();
        if vr.exports_pod_cidr() {
            pods.extend(node.pod_cidrs.iter().copied());
        }
        let services = service_prefixes(
            vr.service_selector.as_ref(),
            &vr.service_address_types(),
            inp.services,
        );
        let adv: Vec<Prefix> = pods.iter().chain(services.iter()).copied().collect();
        for p in &adv {
            networks.insert(*p, ());
        }
        let adv_list = format!("vr{i}-advertised");
        if !adv.is_empty() {
            prefix_lists.insert(adv_list.clone(), exact(&adv));
        }
        for (j, n) in vr.neighbors.iter().enumerate() {
            let nf = |rest: &str| f(&format!("neighbors[{j}].{rest}"));
            let address = peer_address(&n.peer_address).ok_or_else(|| {
                invalid(
                    nf("peerAddress"),
                    format!("{:?} is not an IP address in CIDR notation", n.peer_address),
                )
            })?;
            let peer_asn = asn(n.peer_asn).ok_or_else(|| invalid(nf("peerASN"), range_msg()))?;
            if n.keepalive() > n.hold_time() {
                return Err(invalid(
                    nf("keepAliveTimeSeconds"),
                    format!(
                        "{} is larger than holdTimeSeconds {}",
                        n.keepalive(),
                        n.hold_time()
                    ),
                ));
            }
            if let Some(g) = n.graceful_restart.as_ref().filter(|g| g.enabled) {
                gr = Some(gr.unwrap_or(0).max(g.restart_time()));
            }
            let external = peer_asn != local_asn;
            let export = format!("vr{i}-neighbor{j}");
            policies.insert(
                export.clone(),
                export_terms(
                    n,
                    external,
                    &adv_list,
                    !adv.is_empty(),
                    &pods,
                    &services,
                    node,
                    &mut prefix_lists,
                    i,
                    j,
                ),
            );
            let mut nb = Map::new();
            nb.insert("address".into(), json!(address.to_string()));
            nb.insert("remote-as".into(), json!(peer_asn));
            if local_asn != router_asn {
                nb.insert("local-as".into(), json!(local_asn));
            }
            nb.insert("port".into(), json!(n.port()));
            if external && n.multihop_ttl() > 1 {
                nb.insert("ebgp-multihop".into(), json!(n.multihop_ttl()));
            }
            nb.insert("hold-time".into(), json!(n.hold_time()));
            nb.insert("keepalive".into(), json!(n.keepalive()));
            nb.insert("connect-retry".into(), json!(n.connect_retry()));
            let fams: Vec<&str> = n
                .families()
                .iter()
                .filter_map(|fam| match (fam.afi.as_str(), fam.safi.as_str()) {
                    ("ipv4", "unicast") => Some("ipv4-unicast"),
                    ("ipv6", "unicast") => Some("ipv6-unicast"),
                    _ => None,
                })
                .collect();
            if fams.is_empty() {
                return Err(invalid(
                    nf("families"),
                    "only ipv4/unicast and ipv6/unicast are supported".into(),
                ));
            }
            nb.insert("families".into(), json!(fams));
            if let Some(secret) = &n.auth_secret_ref {
                match (inp.secret)(secret) {
                    Some(pw) => {
                        nb.insert("password".into(), json!(pw));
                    }
                    None => {
                        return Err(invalid(
                            nf("authSecretRef"),
                            format!("Secret {secret:?} not found or without a `password` key"),
                        ))
                    }
                }
            }
            nb.insert("export".into(), json!(export));
            nb.insert(
                "description".into(),
                json!(format!("{pname} virtualRouters[{i}] neighbors[{j}]")),
            );
            neighbors.push(Value::Object(nb));
        }
    }
    let mut router = Map::new();
    router.insert("asn".into(), json!(router_asn));
    router.insert("router-id".into(), json!(router_id.to_string()));
    // Like Cilium's agents, the node only connects out: no listener.
    router.insert("listen".into(), json!([]));
    let mut api = Map::new();
    api.insert("socket".into(), json!(inp.settings.socket));
    if let Some(m) = inp.settings.metrics {
        api.insert("metrics".into(), json!(m.to_string()));
    }
    router.insert("api".into(), Value::Object(api));
    router.insert(
        "graceful-restart".into(),
        match gr {
            Some(t) => json!({ "enabled": true, "restart-time": t }),
            None => json!({ "enabled": false }),
        },
    );
    let statics = direct_routes(inp);
    let cfg = json!({
        "static-routes": statics,
        "router": router,
        "networks": networks.keys().map(|p| p.to_string()).collect::<Vec<_>>(),
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
        policy: pname,
        config: Box::new(config),
        advertised: networks.into_keys().collect(),
    })
}

/// The export policy of a neighbor: the path attributes of matching entries, then accept
/// what the virtual router advertises, reject everything else.
#[allow(clippy::too_many_arguments)]
fn export_terms(
    n: &CiliumBGPNeighbor,
    external: bool,
    adv_list: &str,
    has_adv: bool,
    pods: &[Prefix],
    services: &[Prefix],
    node: &NodeInfo,
    prefix_lists: &mut Map<String, Value>,
    i: usize,
    j: usize,
) -> Value {
    let mut terms = Vec::new();
    for (k, pa) in n.advertised_path_attributes.iter().flatten().enumerate() {
        let targets: Vec<Prefix> = match pa.selector_type {
            // The selector matches the node (CiliumNode labels are the Node's).
            PathAttributesSelectorType::PodCIDR if selects(pa.selector.as_ref(), &node.labels) => {
                pods.to_vec()
            }
            // Services' load-balancer addresses stand for their pools.
            PathAttributesSelectorType::CiliumLoadBalancerIPPool => services.to_vec(),
            _ => Vec::new(),
        };
        if targets.is_empty() {
            continue;
        }
        let list = format!("vr{i}-neighbor{j}-attributes{k}");
        prefix_lists.insert(list.clone(), exact(&targets));
        let mut set = Map::new();
        if let Some(c) = &pa.communities {
            let std: Vec<String> = c
                .standard
                .iter()
                .map(|s| standard_community(s))
                .chain(c.well_known.iter().cloned())
                .collect();
            if !std.is_empty() {
                set.insert("community".into(), json!({ "add": std }));
            }
            if !c.large.is_empty() {
                set.insert("large-community".into(), json!({ "add": c.large }));
            }
        }
        if let (Some(lp), false) = (pa.local_preference, external) {
            set.insert("local-pref".into(), json!(lp));
        }
        if set.is_empty() {
            continue;
        }
        terms.push(json!({ "match": { "prefix-list": list }, "set": set, "action": "next" }));
    }
    if has_adv {
        terms.push(json!({ "match": { "prefix-list": adv_list }, "action": "accept" }));
    }
    terms.push(json!({ "action": "reject" }));
    Value::Array(terms)
}

/// `autoDirectNodeRoutes`: a static route to each other node's pod CIDRs through its
/// address, when that address is on one of our links.
fn direct_routes(inp: &Inputs<'_>) -> Vec<Value> {
    let Some(subnets) = &inp.settings.direct_subnets else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for n in inp.other_nodes.iter().filter(|n| n.name != inp.node.name) {
        for cidr in &n.pod_cidrs {
            let via = n.addresses.iter().find(|a| {
                a.is_ipv4() == matches!(cidr, Prefix::V4(_))
                    && subnets.iter().any(|s| s.contains_addr(**a))
            });
            if let Some(via) = via {
                out.push(json!({ "prefix": cidr.to_string(), "via": via.to_string() }));
            }
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

/// Host prefixes of the selected Services' addresses of the given kinds.
fn service_prefixes(
    selector: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    kinds: &[ServiceAddressType],
    services: &[Service],
) -> Vec<Prefix> {
    // Without a selector, no Service is advertised.
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

/// `10.0.5.1/24` → 10.0.5.1 (Cilium takes the address of the CIDR).
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

fn name(p: &CiliumBGPPeeringPolicy) -> String {
    p.metadata.name.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests;
