//! Kubernetes objects as files: manifests read (with the agent's own schema checks, so an
//! error names the file, document, object and field), and the lab's manifest directory,
//! one JSON file per object (`<kind>_<namespace>_<name>.json`, `<kind>_<name>.json` for
//! cluster-scoped kinds), written atomically so the agents never read half a file.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::rt::RtError;

/// A manifest problem, with the file and object it is about.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(pub String);

/// One document of a manifest file.
#[derive(Clone, Debug)]
pub struct Doc {
    /// Where it comes from (`file.yaml: document 2`).
    pub origin: String,
    /// The object as written.
    pub value: Value,
}

impl Doc {
    /// `apiVersion`.
    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or("")
    }
    /// `kind`.
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
    /// The namespace (`default` when a namespaced object names none), None when the kind
    /// is cluster-scoped.
    pub fn namespace(&self) -> Option<String> {
        namespace_of(&self.value)
    }
    /// `kind/name` as kubectl prints it (`pod/nettool-1`, `ciliumbgppeeringpolicy.cilium.io/rack0`).
    pub fn ref_name(&self) -> String {
        ref_name(&self.value)
    }
}

/// Kinds without a namespace.
const CLUSTER_SCOPED: &[&str] = &[
    "Node",
    "Namespace",
    "CiliumBGPPeeringPolicy",
    "CiliumBGPClusterConfig",
    "CiliumBGPPeerConfig",
    "CiliumBGPAdvertisement",
    "CiliumBGPNodeConfig",
    "CiliumBGPNodeConfigOverride",
    "CiliumLoadBalancerIPPool",
    "CiliumNode",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
];

/// The namespace of an object (`default` for a namespaced one without it).
pub fn namespace_of(v: &Value) -> Option<String> {
    let kind = v["kind"].as_str().unwrap_or("");
    if CLUSTER_SCOPED.contains(&kind) {
        return None;
    }
    Some(
        v["metadata"]["namespace"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("default")
            .to_string(),
    )
}

/// `kind.group/name`, as kubectl names an object in its messages.
pub fn ref_name(v: &Value) -> String {
    let kind = v["kind"].as_str().unwrap_or("").to_ascii_lowercase();
    let group = v["apiVersion"]
        .as_str()
        .and_then(|a| a.rsplit_once('/').map(|(g, _)| g.to_string()))
        .map(|g| format!(".{g}"))
        .unwrap_or_default();
    format!(
        "{kind}{group}/{}",
        v["metadata"]["name"].as_str().unwrap_or("")
    )
}

/// Reads the documents of a manifest text. The agent's parser checks the kinds it knows
/// (peering policies, Nodes, Services, Secrets, Pods, DaemonSets) against their schemas.
pub fn read_docs(label: &str, text: &str) -> Result<Vec<Doc>, ManifestError> {
    k8s::manifests::parse(label, text).map_err(|e| ManifestError(e.to_string()))?;
    let mut out = Vec::new();
    for (i, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
        let origin = format!("{label}: document {}", i + 1);
        let v = Value::deserialize(doc).map_err(|e| ManifestError(format!("{origin}: {e}")))?;
        if v.is_null() {
            continue;
        }
        if !v.is_object() {
            return Err(ManifestError(format!("{origin}: not an object")));
        }
        let name = v["metadata"]["name"].as_str().unwrap_or("");
        let kind = v["kind"].as_str().unwrap_or("");
        if name.is_empty() {
            return Err(ManifestError(format!(
                "{origin} ({kind}): metadata.name: required (generateName is not supported)"
            )));
        }
        if !valid_name(name) {
            return Err(ManifestError(format!(
                "{origin} ({kind} {name}): metadata.name: `{name}` is not a lowercase RFC 1123 name"
            )));
        }
        if let Some(ns) = v["metadata"]["namespace"].as_str() {
            if !valid_name(ns) {
                return Err(ManifestError(format!(
                    "{origin} ({kind} {name}): metadata.namespace: `{ns}` is not a lowercase RFC 1123 name"
                )));
            }
        }
        if kind == "List" {
            return Err(ManifestError(format!(
                "{origin}: kind List is not supported; write the items as documents"
            )));
        }
        out.push(Doc { origin, value: v });
    }
    Ok(out)
}

/// A lowercase RFC 1123 subdomain (names of pods, nodes, policies).
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
}

/// The file of an object in the manifest directory.
pub fn object_file(dir: &Path, v: &Value) -> PathBuf {
    let kind = v["kind"].as_str().unwrap_or("").to_ascii_lowercase();
    let name = v["metadata"]["name"].as_str().unwrap_or("");
    match namespace_of(v) {
        Some(ns) => dir.join(format!("{kind}_{ns}_{name}.json")),
        None => dir.join(format!("{kind}_{name}.json")),
    }
}

/// Writes a file atomically (a hidden temporary file, then a rename), so that a reader
/// never sees part of it and the agents, which read `*.json`, never see the temporary.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RtError> {
    let name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(|e| RtError::io(format!("write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| RtError::io(format!("rename {}", tmp.display()), e))
}

/// Writes an object into the manifest directory.
pub fn write_object(dir: &Path, v: &Value) -> Result<(), RtError> {
    let text = serde_json::to_vec_pretty(v).map_err(|e| RtError::io("encode object", e.into()))?;
    write_atomic(&object_file(dir, v), &text)
}

/// Reads a stored object like `v` (same kind, namespace and name), if there is one.
pub fn read_object(dir: &Path, v: &Value) -> Option<Value> {
    read_file(&object_file(dir, v))
}

fn read_file(p: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

/// Removes a stored object; returns whether it existed.
pub fn remove_object(dir: &Path, v: &Value) -> Result<bool, RtError> {
    let p = object_file(dir, v);
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(RtError::io(format!("remove {}", p.display()), e)),
    }
}

/// Every stored object of a kind, in file-name order.
pub fn list(dir: &Path, kind: &str) -> Vec<Value> {
    let prefix = format!("{}_", kind.to_ascii_lowercase());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.starts_with(&prefix) && f.ends_with(".json"))
        })
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|p| read_file(p))
        .filter(|v| v["kind"].as_str() == Some(kind))
        .collect()
}

/// Fields the lab (as an API server) sets on stored objects.
const SERVER_FIELDS: &[&str] = &[
    "uid",
    "creationTimestamp",
    "resourceVersion",
    "generation",
    "managedFields",
];

/// The object as the user wrote it (server-set metadata and status removed), to tell
/// `configured` from `unchanged`.
pub fn user_part(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        for f in SERVER_FIELDS {
            m.remove(*f);
        }
        if m.get("namespace").and_then(|n| n.as_str()) == Some("default") {
            m.remove("namespace");
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    v
}

/// What applying an object did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// It was new.
    Created,
    /// It replaced a different one.
    Configured,
    /// The same object was there.
    Unchanged,
}

impl Applied {
    /// kubectl's word.
    pub fn word(self) -> &'static str {
        match self {
            Applied::Created => "created",
            Applied::Configured => "configured",
            Applied::Unchanged => "unchanged",
        }
    }
}

/// The object to store for `v`: its namespace filled in, a uid and creation time (kept
/// from the stored one if any).
pub fn with_server_fields(lab: &str, v: &Value, old: Option<&Value>) -> Value {
    let mut v = v.clone();
    let ns = namespace_of(&v);
    let created = old
        .and_then(|o| o["metadata"]["creationTimestamp"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| super::rfc3339(super::now()));
    let uid = old
        .and_then(|o| o["metadata"]["uid"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| {
            super::uid(&[
                lab,
                v["kind"].as_str().unwrap_or(""),
                ns.as_deref().unwrap_or(""),
                v["metadata"]["name"].as_str().unwrap_or(""),
                &created,
                &format!("{:?}", std::time::SystemTime::now()),
            ])
        });
    if let Some(m) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        if let Some(ns) = ns {
            m.insert("namespace".into(), json!(ns));
        }
        m.insert("uid".into(), json!(uid));
        m.insert("creationTimestamp".into(), json!(created));
    }
    v
}

/// Stores `v` (from a manifest) in the manifest directory.
pub fn apply(lab: &str, dir: &Path, v: &Value) -> Result<(Applied, Value), RtError> {
    let old = read_object(dir, v);
    if let Some(o) = &old {
        if user_part(o) == user_part(v) {
            return Ok((Applied::Unchanged, o.clone()));
        }
    }
    let stored = with_server_fields(lab, v, old.as_ref());
    write_object(dir, &stored)?;
    let how = if old.is_some() {
        Applied::Configured
    } else {
        Applied::Created
    };
    Ok((how, stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_read_with_their_origin_and_checked() {
        let text =
            include_str!("../../../../examples/cilium-bgp-cross-as/bgp-peering-policies.yaml");
        let docs = read_docs("p.yaml", text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].name(), "rack0-65005");
        assert_eq!(docs[0].namespace(), None);
        assert_eq!(
            docs[1].ref_name(),
            "ciliumbgppeeringpolicy.cilium.io/rack1-65010"
        );
        let bad = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: 3\n";
        let e = read_docs("bad.yaml", bad).unwrap_err().to_string();
        assert!(e.contains("bad.yaml: document 1 (Pod p)"), "{e}");
        assert!(e.contains("spec.containers"), "{e}");
        let noname = "apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: {containers: []}\n";
        let e = read_docs("n.yaml", noname).unwrap_err().to_string();
        assert!(e.contains("n.yaml: document 1 (Pod): metadata.name"), "{e}");
    }

    #[test]
    fn stored_objects_tell_created_configured_unchanged() {
        let d = tempfile::tempdir().unwrap();
        let v = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"type": "ClusterIP"}});
        let (a, stored) = apply("lab", d.path(), &v).unwrap();
        assert_eq!(a, Applied::Created);
        assert_eq!(stored["metadata"]["namespace"], "default");
        assert!(d.path().join("service_default_s.json").exists());
        assert_eq!(apply("lab", d.path(), &v).unwrap().0, Applied::Unchanged);
        let mut v2 = v.clone();
        v2["spec"]["type"] = json!("LoadBalancer");
        let (a, again) = apply("lab", d.path(), &v2).unwrap();
        assert_eq!(a, Applied::Configured);
        assert_eq!(again["metadata"]["uid"], stored["metadata"]["uid"]);
        assert_eq!(list(d.path(), "Service").len(), 1);
        assert!(remove_object(d.path(), &v).unwrap());
        assert!(!remove_object(d.path(), &v).unwrap());
    }
}
