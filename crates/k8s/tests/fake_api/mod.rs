//! An HTTP server that speaks the Kubernetes API's list/watch protocol for a few kinds,
//! enough to drive a kube::Client in tests: GET lists (with resourceVersion, fieldSelector
//! `metadata.name=`), GET ?watch=true streaming JSON watch events (ADDED, MODIFIED,
//! DELETED, BOOKMARK) from a resourceVersion, GET/POST/PATCH (JSON merge patch)/PUT/DELETE
//! of objects and of their status subresource. Tests change objects directly with
//! [`FakeApi::put`] and [`FakeApi::delete`], as other clients of an API server would.

// Shared by several test binaries, each using part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::broadcast;

/// The collection (`/api/v1/nodes`, …) and namespacing of a kind.
fn collection_of(api_version: &str, kind: &str) -> (String, bool) {
    let (plural, namespaced) = match kind {
        "Node" => ("nodes", false),
        "Service" => ("services", true),
        "Secret" => ("secrets", true),
        "Event" => ("events", true),
        k => (
            match k {
                "CiliumBGPPeeringPolicy" => "ciliumbgppeeringpolicies",
                "CiliumBGPClusterConfig" => "ciliumbgpclusterconfigs",
                "CiliumBGPPeerConfig" => "ciliumbgppeerconfigs",
                "CiliumBGPAdvertisement" => "ciliumbgpadvertisements",
                "CiliumBGPNodeConfigOverride" => "ciliumbgpnodeconfigoverrides",
                "CiliumBGPNodeConfig" => "ciliumbgpnodeconfigs",
                other => panic!("fake API: unknown kind {other}"),
            },
            false,
        ),
    };
    let prefix = if api_version == "v1" {
        "/api/v1".to_string()
    } else {
        format!("/apis/{api_version}")
    };
    (format!("{prefix}/{plural}"), namespaced)
}

#[derive(Clone, Debug)]
struct Change {
    rv: u64,
    collection: String,
    namespace: String,
    kind: &'static str,
    object: Value,
}

#[derive(Default)]
struct State {
    rv: u64,
    /// (collection, namespace, name) → object.
    objects: BTreeMap<(String, String, String), Value>,
    log: Vec<Change>,
    requests: Vec<String>,
}

/// The fake API server.
#[derive(Clone)]
pub(crate) struct FakeApi {
    state: Arc<Mutex<State>>,
    changes: broadcast::Sender<Change>,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
}

struct Path {
    collection: String,
    namespace: Option<String>,
    name: Option<String>,
    status: bool,
}

fn parse_path(p: &str) -> Option<Path> {
    let segs: Vec<&str> = p.trim_matches('/').split('/').collect();
    let (prefix, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => (format!("/api/{v}"), rest),
        ["apis", g, v, rest @ ..] => (format!("/apis/{g}/{v}"), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        r => (None, r),
    };
    let (plural, name, status) = match rest {
        [plural] => (plural, None, false),
        [plural, name] => (plural, Some(name.to_string()), false),
        [plural, name, "status"] => (plural, Some(name.to_string()), true),
        _ => return None,
    };
    Some(Path {
        collection: format!("{prefix}/{plural}"),
        namespace,
        name,
        status,
    })
}

fn query(q: Option<&str>) -> BTreeMap<String, String> {
    q.unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%3D", "=").replace("%3d", "=")))
        .collect()
}

fn status(code: StatusCode, reason: &str, message: String) -> Response<BoxBody<Bytes, Infallible>> {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16(),
    });
    respond(code, &body)
}

fn respond(code: StatusCode, v: &Value) -> Response<BoxBody<Bytes, Infallible>> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())).boxed())
        .unwrap()
}

/// RFC 7386 JSON merge patch.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let t = target.as_object_mut().unwrap();
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

impl FakeApi {
    /// Starts the server on a free loopback port.
    pub(crate) async fn start() -> FakeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (changes, _) = broadcast::channel(1024);
        let api = FakeApi {
            state: Arc::default(),
            changes,
            addr: listener.local_addr().unwrap(),
        };
        let server = api.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let server = server.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let server = server.clone();
                        async move { Ok::<_, Infallible>(server.handle(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        api
    }

    /// A kube client for this server.
    pub(crate) fn client(&self) -> kube::Client {
        let config = kube::Config::new(format!("http://{}", self.addr).parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    /// Creates or replaces an object (it must have apiVersion, kind and metadata.name).
    pub(crate) fn put(&self, mut obj: Value) {
        let (collection, namespaced) = collection_of(
            obj["apiVersion"].as_str().unwrap(),
            obj["kind"].as_str().unwrap(),
        );
        let ns = if namespaced {
            obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string()
        } else {
            String::new()
        };
        let name = obj["metadata"]["name"].as_str().unwrap().to_string();
        let mut st = self.state.lock().unwrap();
        let key = (collection.clone(), ns.clone(), name.clone());
        let kind = if st.objects.contains_key(&key) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        if kind == "ADDED" {
            obj["metadata"]["uid"] = json!(format!("uid-{name}-{}", st.rv + 1));
        } else {
            obj["metadata"]["uid"] = st.objects[&key]["metadata"]["uid"].clone();
        }
        self.commit(&mut st, key, kind, obj);
    }

    /// Deletes an object.
    pub(crate) fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) {
        let (collection, _) = collection_of(api_version, kind);
        let mut st = self.state.lock().unwrap();
        let key = (
            collection,
            namespace.unwrap_or("").to_string(),
            name.to_string(),
        );
        let obj = st.objects.get(&key).cloned().expect("no such object");
        self.commit(&mut st, key, "DELETED", obj);
    }

    /// An object, if it exists.
    pub(crate) fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let (collection, _) = collection_of(api_version, kind);
        let st = self.state.lock().unwrap();
        st.objects
            .get(&(
                collection,
                namespace.unwrap_or("").to_string(),
                name.to_string(),
            ))
            .cloned()
    }

    /// Every object of a kind.
    pub(crate) fn list(&self, api_version: &str, kind: &str) -> Vec<Value> {
        let (collection, _) = collection_of(api_version, kind);
        let st = self.state.lock().unwrap();
        st.objects
            .iter()
            .filter(|((c, _, _), _)| *c == collection)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The requests served so far, as `METHOD path?query`.
    pub(crate) fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    fn commit(
        &self,
        st: &mut State,
        key: (String, String, String),
        kind: &'static str,
        mut obj: Value,
    ) {
        st.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(st.rv.to_string());
        if kind == "DELETED" {
            st.objects.remove(&key);
        } else {
            st.objects.insert(key.clone(), obj.clone());
        }
        let change = Change {
            rv: st.rv,
            collection: key.0,
            namespace: key.1,
            kind,
            object: obj,
        };
        st.log.push(change.clone());
        let _ = self.changes.send(change);
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<BoxBody<Bytes, Infallible>> {
        let method = req.method().clone();
        let uri = req.uri().clone();
        self.state
            .lock()
            .unwrap()
            .requests
            .push(format!("{method} {uri}"));
        if let Some(d) = discovery(uri.path()) {
            return respond(StatusCode::OK, &d);
        }
        let Some(path) = parse_path(uri.path()) else {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("no route {}", uri.path()),
            );
        };
        let q = query(uri.query());
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let ns = path.namespace.clone().unwrap_or_default();
        let is_put = method == Method::PUT;
        match (method, path.name.clone()) {
            (Method::GET, None) if q.get("watch").is_some_and(|w| w == "true" || w == "1") => {
                self.watch(path, q)
            }
            (Method::GET, None) => self.list_response(&path, &q),
            (Method::GET, Some(name)) => match self.lookup(&path.collection, &ns, &name) {
                Some(o) => respond(StatusCode::OK, &o),
                None => status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!("{name} not found"),
                ),
            },
            (Method::POST, None) => {
                let mut obj = body;
                let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
                if path.namespace.is_some() {
                    obj["metadata"]["namespace"] = json!(ns);
                }
                let mut st = self.state.lock().unwrap();
                let key = (path.collection.clone(), ns.clone(), name.clone());
                if st.objects.contains_key(&key) {
                    return status(
                        StatusCode::CONFLICT,
                        "AlreadyExists",
                        format!("{name} already exists"),
                    );
                }
                obj["metadata"]["uid"] = json!(format!("uid-{name}-{}", st.rv + 1));
                if let Some(o) = obj.as_object_mut() {
                    o.remove("status"); // the status subresource is written separately
                }
                self.commit(&mut st, key.clone(), "ADDED", obj);
                respond(StatusCode::CREATED, &st.objects[&key])
            }
            (Method::PATCH | Method::PUT, Some(name)) => {
                let mut st = self.state.lock().unwrap();
                let key = (path.collection.clone(), ns.clone(), name.clone());
                let Some(old) = st.objects.get(&key).cloned() else {
                    return status(
                        StatusCode::NOT_FOUND,
                        "NotFound",
                        format!("{name} not found"),
                    );
                };
                let mut new = old.clone();
                match (path.status, is_put) {
                    (true, true) => new["status"] = body["status"].clone(),
                    (true, false) => {
                        merge_patch(&mut new, &json!({ "status": body["status"].clone() }))
                    }
                    (false, put) => {
                        if put {
                            new = body;
                            new["metadata"]["uid"] = old["metadata"]["uid"].clone();
                        } else {
                            merge_patch(&mut new, &body);
                        }
                        // Status changes go through the status subresource only.
                        new["status"] = old["status"].clone();
                        if new["status"].is_null() {
                            new.as_object_mut().unwrap().remove("status");
                        }
                    }
                }
                self.commit(&mut st, key.clone(), "MODIFIED", new);
                respond(StatusCode::OK, &st.objects[&key])
            }
            (Method::DELETE, Some(name)) => {
                let mut st = self.state.lock().unwrap();
                let key = (path.collection.clone(), ns.clone(), name.clone());
                let Some(old) = st.objects.get(&key).cloned() else {
                    return status(
                        StatusCode::NOT_FOUND,
                        "NotFound",
                        format!("{name} not found"),
                    );
                };
                self.commit(&mut st, key, "DELETED", old.clone());
                respond(StatusCode::OK, &old)
            }
            (m, _) => status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("{m}"),
            ),
        }
    }

    fn lookup(&self, collection: &str, ns: &str, name: &str) -> Option<Value> {
        let st = self.state.lock().unwrap();
        st.objects
            .get(&(collection.to_string(), ns.to_string(), name.to_string()))
            .cloned()
    }

    fn list_response(
        &self,
        path: &Path,
        q: &BTreeMap<String, String>,
    ) -> Response<BoxBody<Bytes, Infallible>> {
        let st = self.state.lock().unwrap();
        let items: Vec<Value> = st
            .objects
            .iter()
            .filter(|((c, ns, _), o)| *c == path.collection && selected(path, q, ns, o))
            .map(|(_, o)| o.clone())
            .collect();
        respond(
            StatusCode::OK,
            &json!({
                "apiVersion": "v1", "kind": "List",
                "metadata": { "resourceVersion": st.rv.to_string() },
                "items": items,
            }),
        )
    }

    fn watch(
        &self,
        path: Path,
        q: BTreeMap<String, String>,
    ) -> Response<BoxBody<Bytes, Infallible>> {
        let from: u64 = q
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
        let line = |kind: &str, obj: &Value| {
            Bytes::from(format!("{}\n", json!({"type": kind, "object": obj})))
        };
        let (backlog, mut live, now) = {
            let st = self.state.lock().unwrap();
            (st.log.clone(), self.changes.subscribe(), st.rv)
        };
        let relevant = move |c: &Change| {
            c.collection == path.collection && selected(&path, &q, &c.namespace, &c.object)
        };
        let mut last = from;
        for c in backlog.iter().filter(|c| c.rv > from && relevant(c)) {
            let _ = tx.send(line(c.kind, &c.object));
            last = c.rv;
        }
        // A bookmark: everything up to `now` has been sent.
        let _ = tx.send(line("BOOKMARK", &json!({"kind": "Bookmark", "apiVersion": "v1", "metadata": {"resourceVersion": now.to_string()}})));
        last = last.max(now);
        tokio::spawn(async move {
            while let Ok(c) = live.recv().await {
                if c.rv > last && relevant(&c) && tx.send(line(c.kind, &c.object)).is_err() {
                    return;
                }
            }
        });
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            let b = rx.recv().await?;
            Some((Ok::<_, Infallible>(Frame::data(b)), rx))
        });
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(BodyExt::boxed(StreamBody::new(stream)))
            .unwrap()
    }
}

/// The resources served, for discovery: (group, version, plural, kind, namespaced).
const RESOURCES: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "nodes", "Node", false),
    ("", "v1", "services", "Service", true),
    ("", "v1", "secrets", "Secret", true),
    ("", "v1", "serviceaccounts", "ServiceAccount", true),
    ("apps", "v1", "daemonsets", "DaemonSet", true),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
    ),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
    ),
    ("events.k8s.io", "v1", "events", "Event", true),
    (
        "cilium.io",
        "v2alpha1",
        "ciliumbgppeeringpolicies",
        "CiliumBGPPeeringPolicy",
        false,
    ),
    (
        "cilium.io",
        "v2",
        "ciliumbgpclusterconfigs",
        "CiliumBGPClusterConfig",
        false,
    ),
    (
        "cilium.io",
        "v2",
        "ciliumbgppeerconfigs",
        "CiliumBGPPeerConfig",
        false,
    ),
    (
        "cilium.io",
        "v2",
        "ciliumbgpadvertisements",
        "CiliumBGPAdvertisement",
        false,
    ),
    (
        "cilium.io",
        "v2",
        "ciliumbgpnodeconfigoverrides",
        "CiliumBGPNodeConfigOverride",
        false,
    ),
    (
        "cilium.io",
        "v2",
        "ciliumbgpnodeconfigs",
        "CiliumBGPNodeConfig",
        false,
    ),
];

/// Legacy (unaggregated) discovery documents: `/api`, `/apis`, `/api/v1`, `/apis/G/V`.
fn discovery(path: &str) -> Option<Value> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let resources = |g: &str, v: &str| {
        let list: Vec<Value> = RESOURCES
            .iter()
            .filter(|r| r.0 == g && r.1 == v)
            .map(|r| {
                json!({"name": r.2, "singularName": "", "namespaced": r.4, "kind": r.3,
                "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]})
            })
            .collect();
        let gv = if g.is_empty() {
            v.to_string()
        } else {
            format!("{g}/{v}")
        };
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list})
    };
    match segs.as_slice() {
        ["api"] => Some(json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})),
        ["apis"] => {
            let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
            for r in RESOURCES.iter().filter(|r| !r.0.is_empty()) {
                match groups.iter_mut().find(|g| g.0 == r.0) {
                    Some(g) if !g.1.contains(&r.1) => g.1.push(r.1),
                    Some(_) => {}
                    None => groups.push((r.0, vec![r.1])),
                }
            }
            let groups: Vec<Value> = groups
                .iter()
                .map(|(g, vs)| {
                    let versions: Vec<Value> = vs
                        .iter()
                        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                        .collect();
                    json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
                })
                .collect();
            Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        ["api", "v1"] => Some(resources("", "v1")),
        ["apis", g, v] => Some(resources(g, v)),
        _ => None,
    }
}

/// Whether an object of a change or list is in the request's namespace and field selector.
fn selected(path: &Path, q: &BTreeMap<String, String>, ns: &str, obj: &Value) -> bool {
    if let Some(want) = &path.namespace {
        if want != ns {
            return false;
        }
    }
    match q
        .get("fieldSelector")
        .and_then(|f| f.strip_prefix("metadata.name="))
    {
        Some(name) => obj["metadata"]["name"] == name,
        None => true,
    }
}
