//! The CustomResourceDefinitions bgplane understands, generated from the Rust types
//! (`deploy/crds.yaml` is this module's output: `cargo run -p k8s --example gen-crds`),
//! and a check of the apiextensions.k8s.io/v1 structural-schema rules an API server
//! enforces, so that a schema it would refuse is caught without one.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::Value;

use crate::crd::{v2, v2alpha1};

/// The first lines of `deploy/crds.yaml`.
pub const CRDS_HEADER: &str = "# Generated from the Rust types of crates/k8s (cargo run -p k8s --example gen-crds > deploy/crds.yaml).\n# Do not edit: a test fails when this file and the types differ.\n";

/// Every CRD the agent reads or writes: `cilium.io/v2alpha1 CiliumBGPPeeringPolicy` and the
/// `cilium.io/v2` BGP resources.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        v2alpha1::CiliumBGPPeeringPolicy::crd(),
        v2::CiliumBGPClusterConfig::crd(),
        v2::CiliumBGPPeerConfig::crd(),
        v2::CiliumBGPAdvertisement::crd(),
        v2::CiliumBGPNodeConfigOverride::crd(),
        v2::CiliumBGPNodeConfig::crd(),
    ]
}

/// [`crds`] as one multi-document YAML file, [`CRDS_HEADER`] first.
pub fn crds_yaml() -> Result<String, serde_norway::Error> {
    let mut out = String::from(CRDS_HEADER);
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(&crd)?);
    }
    Ok(out)
}

/// The `type`s a structural schema may use.
const TYPES: [&str; 6] = ["object", "array", "string", "integer", "number", "boolean"];

/// The formats the API server knows (others are refused or ignored, depending on the
/// version, so none is allowed here).
const FORMATS: [&str; 24] = [
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "date-time",
];

/// Integer and number formats (from the OpenAPI types).
const NUMERIC_FORMATS: [&str; 4] = ["int32", "int64", "float", "double"];

/// Keywords a structural schema must not use.
const FORBIDDEN: [&str; 8] = [
    "$ref",
    "$schema",
    "definitions",
    "$defs",
    "additionalItems",
    "patternProperties",
    "dependencies",
    "id",
];

/// What is wrong with a CRD by the structural-schema rules of apiextensions.k8s.io/v1
/// (empty: nothing found). Each problem names the CRD, version and JSON path.
pub fn schema_problems(crd: &CustomResourceDefinition) -> Vec<String> {
    let mut out = Vec::new();
    let name = crd.metadata.name.clone().unwrap_or_default();
    for v in &crd.spec.versions {
        let at = format!("{name} {}", v.name);
        let Some(schema) = v
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
        else {
            out.push(format!("{at}: no openAPIV3Schema"));
            continue;
        };
        let schema = match serde_json::to_value(schema) {
            Ok(s) => s,
            Err(e) => {
                out.push(format!("{at}: {e}"));
                continue;
            }
        };
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            out.push(format!("{at}: the root schema must be of type object"));
        }
        check(&schema, &format!("{at}: "), false, &mut out);
    }
    out
}

/// Checks one schema node; `in_logic` is true under anyOf/allOf/oneOf/not, where only value
/// validations may appear.
fn check(s: &Value, path: &str, in_logic: bool, out: &mut Vec<String>) {
    let Some(o) = s.as_object() else {
        out.push(format!("{path}: not a schema object"));
        return;
    };
    let mut bad = |msg: String| out.push(format!("{path}{msg}"));
    for k in FORBIDDEN {
        if o.contains_key(k) {
            bad(format!(": keyword {k} is not allowed"));
        }
    }
    if o.get("uniqueItems") == Some(&Value::Bool(true)) {
        bad(": uniqueItems: true is not allowed".into());
    }
    let preserve = o.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let int_or_string = o.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    let ty = o.get("type");
    if in_logic {
        for k in [
            "type",
            "description",
            "default",
            "nullable",
            "additionalProperties",
        ] {
            if o.contains_key(k) {
                bad(format!(": {k} is not allowed under anyOf/allOf/oneOf/not"));
            }
        }
    } else if ty.is_none() && !preserve && !int_or_string {
        bad(": no type".into());
    }
    let ty = match ty {
        None => None,
        Some(Value::String(t)) if TYPES.contains(&t.as_str()) => Some(t.as_str()),
        Some(t) => {
            bad(format!(": type {t} is not one of {TYPES:?}"));
            None
        }
    };
    for k in [
        "nullable",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-int-or-string",
        "x-kubernetes-embedded-resource",
    ] {
        if let Some(v) = o.get(k) {
            if !v.is_boolean() {
                bad(format!(": {k} must be a boolean"));
            }
        }
    }
    if int_or_string {
        if let Some(t) = ty {
            bad(format!(": x-kubernetes-int-or-string with type {t}"));
        }
    }
    if let Some(f) = o.get("format") {
        let ok = match (f.as_str(), ty) {
            (Some(f), Some("integer" | "number")) => NUMERIC_FORMATS.contains(&f),
            (Some(f), _) => FORMATS.contains(&f),
            (None, _) => false,
        };
        if !ok {
            bad(format!(": unknown format {f} for type {ty:?}"));
        }
    }
    if ty == Some("array") && !o.contains_key("items") {
        bad(": an array needs items".into());
    }
    if o.contains_key("properties") && o.contains_key("additionalProperties") {
        bad(": properties and additionalProperties exclude each other".into());
    }
    if let Some(req) = o.get("required") {
        let props = o.get("properties").and_then(Value::as_object);
        for r in req.as_array().into_iter().flatten() {
            let r = r.as_str().unwrap_or_default();
            if props.is_none_or(|p| !p.contains_key(r)) {
                bad(format!(
                    ": required property {r} is not among the properties"
                ));
            }
        }
    }
    if let Some(e) = o.get("enum").and_then(Value::as_array) {
        for v in e {
            if !fits(v, ty, o.get("nullable") == Some(&Value::Bool(true))) {
                bad(format!(": enum value {v} is not of type {ty:?}"));
            }
        }
    }
    if let Some(d) = o.get("default") {
        if !fits(d, ty, false) {
            bad(format!(": default {d} is not of type {ty:?}"));
        }
        if let (Some(n), Some(min)) = (d.as_f64(), o.get("minimum").and_then(Value::as_f64)) {
            if n < min {
                bad(format!(": default {d} is below the minimum {min}"));
            }
        }
        if let (Some(n), Some(max)) = (d.as_f64(), o.get("maximum").and_then(Value::as_f64)) {
            if n > max {
                bad(format!(": default {d} is above the maximum {max}"));
            }
        }
    }
    match o.get("x-kubernetes-list-type").map(|v| v.as_str()) {
        None => {}
        Some(Some("atomic" | "set")) => {}
        Some(Some("map")) => check_list_map(o, &mut bad),
        Some(other) => bad(format!(
            ": x-kubernetes-list-type {other:?} is not atomic, set or map"
        )),
    }
    if o.contains_key("x-kubernetes-list-map-keys")
        && o.get("x-kubernetes-list-type").and_then(Value::as_str) != Some("map")
    {
        bad(": x-kubernetes-list-map-keys without x-kubernetes-list-type: map".into());
    }
    if let Some(rules) = o.get("x-kubernetes-validations") {
        for (i, r) in rules.as_array().into_iter().flatten().enumerate() {
            let rule = r.get("rule").and_then(Value::as_str).unwrap_or("");
            if rule.trim().is_empty() {
                bad(format!(": x-kubernetes-validations[{i}] has no rule"));
            }
            if r.get("message").is_some_and(|m| !m.is_string()) {
                bad(format!(
                    ": x-kubernetes-validations[{i}].message must be a string"
                ));
            }
        }
        if !rules.is_array() {
            bad(": x-kubernetes-validations must be a list".into());
        }
    }
    // Recurse.
    if let Some(props) = o.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            check(v, &format!("{path}.{k}"), in_logic, out);
        }
    }
    if let Some(items) = o.get("items") {
        check(items, &format!("{path}[]"), in_logic, out);
    }
    if let Some(ap) = o.get("additionalProperties").filter(|v| v.is_object()) {
        check(ap, &format!("{path}{{}}"), in_logic, out);
    }
    for k in ["anyOf", "allOf", "oneOf"] {
        for (i, sub) in o
            .get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            check(sub, &format!("{path}/{k}[{i}]"), true, out);
        }
    }
    if let Some(n) = o.get("not") {
        check(n, &format!("{path}/not"), true, out);
    }
}

/// `x-kubernetes-list-type: map` needs object items whose key properties are scalars that
/// are required or defaulted.
fn check_list_map(o: &serde_json::Map<String, Value>, bad: &mut impl FnMut(String)) {
    let keys: Vec<&str> = o
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if keys.is_empty() {
        bad(": x-kubernetes-list-type: map needs x-kubernetes-list-map-keys".into());
    }
    let items = o.get("items");
    if items.and_then(|i| i.get("type")).and_then(Value::as_str) != Some("object") {
        bad(": x-kubernetes-list-type: map needs object items".into());
        return;
    }
    let items = items.and_then(Value::as_object);
    let props = items
        .and_then(|i| i.get("properties"))
        .and_then(Value::as_object);
    let required: Vec<&str> = items
        .and_then(|i| i.get("required"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for k in keys {
        let Some(p) = props.and_then(|p| p.get(k)) else {
            bad(format!(": list map key {k} is not a property of the items"));
            continue;
        };
        if !required.contains(&k) && p.get("default").is_none() {
            bad(format!(
                ": list map key {k} must be required or have a default"
            ));
        }
        if !matches!(
            p.get("type").and_then(Value::as_str),
            Some("string" | "integer" | "number" | "boolean")
        ) {
            bad(format!(": list map key {k} must be a scalar"));
        }
        if p.get("nullable") == Some(&Value::Bool(true)) {
            bad(format!(": list map key {k} must not be nullable"));
        }
    }
}

/// Whether a JSON value is of a schema type.
fn fits(v: &Value, ty: Option<&str>, nullable: bool) -> bool {
    match (v, ty) {
        (Value::Null, _) => nullable,
        (_, None) => true,
        (Value::String(_), Some("string")) => true,
        (Value::Bool(_), Some("boolean")) => true,
        (Value::Number(n), Some("integer")) => n.is_i64() || n.is_u64(),
        (Value::Number(_), Some("number")) => true,
        (Value::Array(_), Some("array")) => true,
        (Value::Object(_), Some("object")) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_file(rel: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(rel)
    }

    #[test]
    fn deploy_crds_yaml_is_what_the_types_generate() {
        let want = crds_yaml().unwrap();
        let path = repo_file("deploy/crds.yaml");
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale: run `cargo run -p k8s --example gen-crds > deploy/crds.yaml`",
            path.display()
        );
    }

    #[test]
    fn every_generated_crd_is_a_structural_schema() {
        for crd in crds() {
            let problems = schema_problems(&crd);
            assert!(problems.is_empty(), "{}", problems.join("\n"));
        }
    }

    #[test]
    fn the_checker_finds_untyped_nodes_unknown_formats_and_bad_list_maps() {
        let mut crd = v2::CiliumBGPNodeConfig::crd();
        let mut v = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
        let spec = &mut v["openAPIV3Schema"]["properties"]["spec"];
        spec["properties"]["bgpInstances"]["items"]["properties"]["name"]
            .as_object_mut()
            .unwrap()
            .remove("type");
        spec["properties"]["bgpInstances"]["x-kubernetes-list-map-keys"] =
            serde_json::json!(["nope"]);
        spec["properties"]["bgpInstances"]["items"]["properties"]["routerID"]["format"] =
            serde_json::json!("ip");
        crd.spec.versions[0].schema = serde_json::from_value(v).unwrap();
        let p = schema_problems(&crd).join("\n");
        assert!(p.contains(".spec.bgpInstances[].name: no type"), "{p}");
        assert!(p.contains("list map key nope is not a property"), "{p}");
        assert!(p.contains("unknown format \"ip\""), "{p}");
    }

    #[test]
    fn every_deploy_manifest_parses_as_kubernetes_objects() {
        let dir = repo_file("deploy");
        let mut kinds = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for doc in serde_norway::Deserializer::from_str(&text) {
                let v: Value = serde::Deserialize::deserialize(doc).unwrap();
                if v.is_null() {
                    continue;
                }
                let kind = v["kind"].as_str().unwrap_or_default().to_string();
                let what = format!("{}: {kind}", f.display());
                use k8s_openapi::api::{apps, core, rbac};
                let r = match kind.as_str() {
                    "CustomResourceDefinition" => {
                        serde_json::from_value::<CustomResourceDefinition>(v).map(|_| ())
                    }
                    "ServiceAccount" => {
                        serde_json::from_value::<core::v1::ServiceAccount>(v).map(|_| ())
                    }
                    "ClusterRole" => serde_json::from_value::<rbac::v1::ClusterRole>(v).map(|_| ()),
                    "ClusterRoleBinding" => {
                        serde_json::from_value::<rbac::v1::ClusterRoleBinding>(v).map(|_| ())
                    }
                    "Role" => serde_json::from_value::<rbac::v1::Role>(v).map(|_| ()),
                    "RoleBinding" => serde_json::from_value::<rbac::v1::RoleBinding>(v).map(|_| ()),
                    "DaemonSet" => serde_json::from_value::<apps::v1::DaemonSet>(v).map(|_| ()),
                    other => panic!("{what}: unexpected kind {other}"),
                };
                r.unwrap_or_else(|e| panic!("{what}: {e}"));
                kinds.push(kind);
            }
        }
        for k in [
            "CustomResourceDefinition",
            "ServiceAccount",
            "ClusterRole",
            "Role",
            "DaemonSet",
        ] {
            assert!(kinds.iter().any(|x| x == k), "no {k} in deploy/");
        }
    }

    #[test]
    fn the_daemonset_serves_metrics_on_its_declared_port() {
        let text = std::fs::read_to_string(repo_file("deploy/daemonset.yaml")).unwrap();
        let ds: k8s_openapi::api::apps::v1::DaemonSet = serde_norway::from_str(&text).unwrap();
        let pod = ds.spec.unwrap().template;
        let c = &pod.spec.unwrap().containers[0];
        let metrics: std::net::SocketAddr = c
            .args
            .iter()
            .flatten()
            .find_map(|a| a.strip_prefix("--metrics="))
            .expect("the agent is given --metrics")
            .parse()
            .unwrap();
        let port = c
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some("metrics"))
            .expect("a metrics containerPort");
        assert_eq!(port.container_port, i32::from(metrics.port()));
        let annotations = pod.metadata.unwrap().annotations.unwrap_or_default();
        assert_eq!(
            annotations.get("prometheus.io/port"),
            Some(&metrics.port().to_string())
        );
    }
}
