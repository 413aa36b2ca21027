//! Kubernetes manifests as files: multi-document YAML (or JSON) read into typed objects,
//! and a directory of them as the agent's object source (the lab's, and for users
//! without a cluster). Later documents replace earlier ones of the same kind, namespace
//! and name, as `kubectl apply` would.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod, Secret, Service};
use serde::Deserialize;

use crate::crd::v2::{
    CiliumBGPAdvertisement, CiliumBGPClusterConfig, CiliumBGPNodeConfigOverride,
    CiliumBGPPeerConfig,
};
use crate::crd::v2alpha1::CiliumBGPPeeringPolicy;
use crate::desired::NodeInfo;

/// A manifest that cannot be read. Names the file, the document and the field.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A document is not valid YAML, or lacks apiVersion/kind.
    #[error("{path}: document {index}: {problem}")]
    Document {
        /// The file.
        path: String,
        /// 1-based document number.
        index: usize,
        /// What is wrong.
        problem: String,
    },
    /// An object does not fit its kind's schema.
    #[error("{0}")]
    Object(Box<ObjectError>),
}

/// Where and why an object does not fit its kind's schema.
#[derive(Debug, thiserror::Error)]
#[error("{path}: document {index} ({kind} {name}): {field}: {problem}")]
pub struct ObjectError {
    /// The file.
    pub path: String,
    /// 1-based document number.
    pub index: usize,
    /// The kind.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// The field path.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

/// One object of a kind bgplane understands.
#[derive(Debug, Clone)]
pub enum Object {
    /// `cilium.io/v2alpha1 CiliumBGPPeeringPolicy`.
    PeeringPolicy(Box<CiliumBGPPeeringPolicy>),
    /// `v1 Node`.
    Node(Box<Node>),
    /// `v1 Service`.
    Service(Box<Service>),
    /// `v1 Secret`.
    Secret(Box<Secret>),
    /// `v1 Pod`.
    Pod(Box<Pod>),
    /// `apps/v1 DaemonSet`.
    DaemonSet(Box<DaemonSet>),
    /// `cilium.io/v2 CiliumBGPClusterConfig`.
    ClusterConfig(Box<CiliumBGPClusterConfig>),
    /// `cilium.io/v2 CiliumBGPPeerConfig`.
    PeerConfig(Box<CiliumBGPPeerConfig>),
    /// `cilium.io/v2 CiliumBGPAdvertisement`.
    Advertisement(Box<CiliumBGPAdvertisement>),
    /// `cilium.io/v2 CiliumBGPNodeConfigOverride`.
    NodeConfigOverride(Box<CiliumBGPNodeConfigOverride>),
    /// Anything else (kept by identity only).
    Other {
        /// apiVersion.
        api_version: String,
        /// kind.
        kind: String,
    },
}

/// Every object of a set of manifests, by kind.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Peering policies by name.
    pub policies: BTreeMap<String, CiliumBGPPeeringPolicy>,
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
    /// Services by namespace/name.
    pub services: BTreeMap<String, Service>,
    /// Secrets by namespace/name.
    pub secrets: BTreeMap<String, Secret>,
    /// Pods by namespace/name.
    pub pods: BTreeMap<String, Pod>,
    /// DaemonSets by namespace/name.
    pub daemonsets: BTreeMap<String, DaemonSet>,
    /// `CiliumBGPClusterConfig`s by name.
    pub cluster_configs: BTreeMap<String, CiliumBGPClusterConfig>,
    /// `CiliumBGPPeerConfig`s by name.
    pub peer_configs: BTreeMap<String, CiliumBGPPeerConfig>,
    /// `CiliumBGPAdvertisement`s by name.
    pub advertisements: BTreeMap<String, CiliumBGPAdvertisement>,
    /// `CiliumBGPNodeConfigOverride`s by name (a node's is named after it).
    pub node_config_overrides: BTreeMap<String, CiliumBGPNodeConfigOverride>,
    /// Objects of other kinds, as `apiVersion kind`, for reporting.
    pub ignored: Vec<String>,
}

fn key(ns: Option<&str>, name: &str) -> String {
    format!("{}/{name}", ns.unwrap_or("default"))
}

impl Snapshot {
    /// Adds an object (replacing one of the same identity).
    pub fn insert(&mut self, o: Object) {
        match o {
            Object::PeeringPolicy(p) => {
                self.policies
                    .insert(p.metadata.name.clone().unwrap_or_default(), *p);
            }
            Object::Node(n) => {
                self.nodes
                    .insert(n.metadata.name.clone().unwrap_or_default(), *n);
            }
            Object::Service(s) => {
                let k = key(
                    s.metadata.namespace.as_deref(),
                    s.metadata.name.as_deref().unwrap_or(""),
                );
                self.services.insert(k, *s);
            }
            Object::Secret(s) => {
                let k = key(
                    s.metadata.namespace.as_deref(),
                    s.metadata.name.as_deref().unwrap_or(""),
                );
                self.secrets.insert(k, *s);
            }
            Object::Pod(p) => {
                let k = key(
                    p.metadata.namespace.as_deref(),
                    p.metadata.name.as_deref().unwrap_or(""),
                );
                self.pods.insert(k, *p);
            }
            Object::DaemonSet(d) => {
                let k = key(
                    d.metadata.namespace.as_deref(),
                    d.metadata.name.as_deref().unwrap_or(""),
                );
                self.daemonsets.insert(k, *d);
            }
            Object::ClusterConfig(c) => {
                self.cluster_configs
                    .insert(c.metadata.name.clone().unwrap_or_default(), *c);
            }
            Object::PeerConfig(c) => {
                self.peer_configs
                    .insert(c.metadata.name.clone().unwrap_or_default(), *c);
            }
            Object::Advertisement(a) => {
                self.advertisements
                    .insert(a.metadata.name.clone().unwrap_or_default(), *a);
            }
            Object::NodeConfigOverride(o) => {
                self.node_config_overrides
                    .insert(o.metadata.name.clone().unwrap_or_default(), *o);
            }
            Object::Other { api_version, kind } => {
                self.ignored.push(format!("{api_version} {kind}"))
            }
        }
    }

    /// Reads every `*.yaml`, `*.yml` and `*.json` file of a directory, in name order.
    pub fn load_dir(dir: &Path) -> Result<Snapshot, ManifestError> {
        let read = |e: std::io::Error| ManifestError::Read {
            path: dir.to_path_buf(),
            source: e,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
            })
            .collect();
        files.sort();
        let mut snap = Snapshot::default();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| ManifestError::Read {
                path: f.clone(),
                source: e,
            })?;
            for o in parse(&f.display().to_string(), &text)? {
                snap.insert(o);
            }
        }
        Ok(snap)
    }

    /// One key of a Secret (`data.KEY`, or `stringData.KEY`), if it is UTF-8 text.
    pub fn secret_value(&self, namespace: &str, name: &str, field: &str) -> Option<String> {
        let s = self.secrets.get(&key(Some(namespace), name))?;
        if let Some(v) = s.data.as_ref().and_then(|d| d.get(field)) {
            return String::from_utf8(v.0.clone()).ok();
        }
        s.string_data.as_ref().and_then(|d| d.get(field)).cloned()
    }
}

/// Parses the documents of a manifest file.
pub fn parse(path: &str, text: &str) -> Result<Vec<Object>, ManifestError> {
    let mut out = Vec::new();
    for (i, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
        let index = i + 1;
        let doc_err = |problem: String| ManifestError::Document {
            path: path.to_string(),
            index,
            problem,
        };
        let v = serde_json::Value::deserialize(doc).map_err(|e| doc_err(e.to_string()))?;
        if v.is_null() {
            continue; // an empty document (`---` at the end)
        }
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let (Some(api_version), Some(kind)) = (field("apiVersion"), field("kind")) else {
            return Err(doc_err("no apiVersion or kind".into()));
        };
        let name = v
            .pointer("/metadata/name")
            .and_then(|x| x.as_str())
            .unwrap_or("")
            .to_string();
        let obj_err = |e: serde_path_to_error::Error<serde_json::Error>| {
            ManifestError::Object(Box::new(ObjectError {
                path: path.to_string(),
                index,
                kind: kind.clone(),
                name: name.clone(),
                field: e.path().to_string(),
                problem: e.inner().to_string(),
            }))
        };
        fn typed<T: serde::de::DeserializeOwned>(
            v: serde_json::Value,
        ) -> Result<Box<T>, serde_path_to_error::Error<serde_json::Error>> {
            serde_path_to_error::deserialize(v).map(Box::new)
        }
        let o = match (api_version.as_str(), kind.as_str()) {
            ("cilium.io/v2alpha1", "CiliumBGPPeeringPolicy") => {
                Object::PeeringPolicy(typed(v).map_err(obj_err)?)
            }
            ("v1", "Node") => Object::Node(typed(v).map_err(obj_err)?),
            ("v1", "Service") => Object::Service(typed(v).map_err(obj_err)?),
            ("v1", "Secret") => Object::Secret(typed(v).map_err(obj_err)?),
            ("v1", "Pod") => Object::Pod(typed(v).map_err(obj_err)?),
            ("apps/v1", "DaemonSet") => Object::DaemonSet(typed(v).map_err(obj_err)?),
            // The v2 resources were served as v2alpha1 before Cilium 1.18, with the same
            // fields.
            ("cilium.io/v2" | "cilium.io/v2alpha1", "CiliumBGPClusterConfig") => {
                Object::ClusterConfig(typed(v).map_err(obj_err)?)
            }
            ("cilium.io/v2" | "cilium.io/v2alpha1", "CiliumBGPPeerConfig") => {
                Object::PeerConfig(typed(v).map_err(obj_err)?)
            }
            ("cilium.io/v2" | "cilium.io/v2alpha1", "CiliumBGPAdvertisement") => {
                Object::Advertisement(typed(v).map_err(obj_err)?)
            }
            ("cilium.io/v2" | "cilium.io/v2alpha1", "CiliumBGPNodeConfigOverride") => {
                Object::NodeConfigOverride(typed(v).map_err(obj_err)?)
            }
            _ => Object::Other { api_version, kind },
        };
        out.push(o);
    }
    Ok(out)
}

/// The translation's view of a Node object.
pub fn node_info(n: &Node) -> NodeInfo {
    let spec = n.spec.clone().unwrap_or_default();
    let mut cidrs: Vec<String> = spec.pod_cidrs.unwrap_or_default();
    if cidrs.is_empty() {
        cidrs.extend(spec.pod_cidr);
    }
    let mut addresses: Vec<(u8, std::net::IpAddr)> = n
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let rank = match a.type_.as_str() {
                "InternalIP" => 0,
                "ExternalIP" => 1,
                _ => return None,
            };
            Some((rank, a.address.parse().ok()?))
        })
        .collect();
    addresses.sort_by_key(|(r, _)| *r);
    NodeInfo {
        name: n.metadata.name.clone().unwrap_or_default(),
        labels: n.metadata.labels.clone().unwrap_or_default(),
        pod_cidrs: cidrs.iter().filter_map(|c| c.parse().ok()).collect(),
        addresses: addresses.into_iter().map(|(_, a)| a).collect(),
        default_gateways: Vec::new(),
        graceful_shutdown: n
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(crate::desired::GRACEFUL_SHUTDOWN_ANNOTATION))
            .cloned(),
        unschedulable: spec.unschedulable.unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_policies_parse_with_their_fields() {
        let text = include_str!("../../../examples/cilium-bgp-cross-as/bgp-peering-policies.yaml");
        let objs = parse("policies.yaml", text).unwrap();
        let mut s = Snapshot::default();
        for o in objs {
            s.insert(o);
        }
        let p = &s.policies["rack0-65005"];
        let vr = &p.spec.virtual_routers[0];
        assert_eq!(vr.local_asn, 65005);
        assert!(vr.exports_pod_cidr());
        assert_eq!(vr.neighbors[0].peer_address, "10.0.5.1/24");
        assert_eq!(vr.neighbors[0].hold_time(), 90);
        assert_eq!(s.policies.len(), 2);
    }

    #[test]
    fn a_wrong_field_type_names_the_file_document_object_and_field() {
        let text = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\napiVersion: cilium.io/v2alpha1\nkind: CiliumBGPPeeringPolicy\nmetadata: {name: p}\nspec:\n  virtualRouters:\n    - localASN: lots\n      neighbors: []\n";
        let e = parse("m.yaml", text).unwrap_err().to_string();
        assert!(
            e.contains("m.yaml: document 2 (CiliumBGPPeeringPolicy p)"),
            "{e}"
        );
        assert!(e.contains("spec.virtualRouters[0].localASN"), "{e}");
    }

    #[test]
    fn a_node_gives_its_pod_cidrs_and_internal_ip_first() {
        let text = "apiVersion: v1\nkind: Node\nmetadata: {name: w1, labels: {rack: rack0}}\nspec: {podCIDR: 10.1.1.0/24}\nstatus:\n  addresses:\n    - {type: Hostname, address: w1}\n    - {type: ExternalIP, address: 192.0.2.9}\n    - {type: InternalIP, address: 10.0.5.12}\n";
        let Object::Node(n) = parse("n.yaml", text).unwrap().remove(0) else {
            panic!()
        };
        let info = node_info(&n);
        assert_eq!(info.pod_cidrs, vec!["10.1.1.0/24".parse().unwrap()]);
        assert_eq!(info.router_id(), Some("10.0.5.12".parse().unwrap()));
        assert_eq!(info.labels["rack"], "rack0");
        assert_eq!((info.graceful_shutdown, info.unschedulable), (None, false));
        let text = text
            .replace(
                "labels: {rack: rack0}",
                "labels: {rack: rack0}, annotations: {bgplane.io/graceful-shutdown: \"true\"}",
            )
            .replace(
                "spec: {podCIDR: 10.1.1.0/24}",
                "spec: {podCIDR: 10.1.1.0/24, unschedulable: true}",
            );
        let Object::Node(n) = parse("n.yaml", &text).unwrap().remove(0) else {
            panic!()
        };
        let info = node_info(&n);
        assert_eq!(info.graceful_shutdown.as_deref(), Some("true"));
        assert!(info.unschedulable);
    }
}
