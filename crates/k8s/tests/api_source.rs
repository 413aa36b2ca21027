//! The API-server source and the status write-back, against an HTTP server that speaks
//! the Kubernetes list/watch protocol (no real API server runs in CI).

mod fake_api;

use std::sync::Arc;
use std::time::Duration;

use fake_api::FakeApi;
use k8s::source::status::StatusWriter;
use k8s::source::{spawn, Observed, ObservedReceiver, SourceOptions};
use serde_json::{json, Value};

fn node(name: &str, rack: &str, ip: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": { "name": name, "labels": { "rack": rack } },
        "spec": { "podCIDR": "10.1.1.0/24" },
        "status": { "addresses": [ { "type": "InternalIP", "address": ip } ] }
    })
}

fn policy(name: &str, rack: &str, asn: u32, peer: &str) -> Value {
    json!({
        "apiVersion": "cilium.io/v2alpha1", "kind": "CiliumBGPPeeringPolicy",
        "metadata": { "name": name },
        "spec": {
            "nodeSelector": { "matchLabels": { "rack": rack } },
            "virtualRouters": [ {
                "localASN": asn, "exportPodCIDR": true,
                "neighbors": [ { "peerAddress": format!("{peer}/32"), "peerASN": asn } ]
            } ]
        }
    })
}

fn source(api: &FakeApi, node: &str) -> ObservedReceiver {
    spawn(
        api.client(),
        SourceOptions {
            node: node.into(),
            secrets_namespace: "kube-system".into(),
            settle: Duration::from_millis(30),
            all_nodes: false,
        },
    )
}

/// Waits (10 s at most) for an observation that satisfies `pred`.
async fn until(
    rx: &mut ObservedReceiver,
    what: &str,
    pred: impl Fn(&Observed) -> bool,
) -> Arc<Observed> {
    let wait = async {
        loop {
            if let Some(o) = rx.borrow_and_update().clone() {
                if pred(&o) {
                    return o;
                }
            }
            rx.changed().await.expect("the source stopped");
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no observation where {what}"))
}

#[tokio::test]
async fn the_snapshot_follows_adds_changes_and_deletes_of_every_watched_kind() {
    let api = FakeApi::start().await;
    api.put(node("worker", "rack0", "10.0.5.12"));
    api.put(node("worker2", "rack1", "10.0.10.11"));
    api.put(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "labels": {"bgp": "on"}},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.10"}}));
    api.put(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "bgp-auth", "namespace": "kube-system"},
        "data": {"password": "czNjcmV0"}}));
    api.put(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "unrelated", "namespace": "default"}, "data": {}}));
    let mut rx = source(&api, "worker");

    let o = until(&mut rx, "the first lists are in", |_| true).await;
    let s = &o.snapshot;
    assert_eq!(
        s.nodes.keys().collect::<Vec<_>>(),
        ["worker"],
        "only this node is watched"
    );
    assert!(s.services.contains_key("default/web"));
    assert_eq!(
        s.secrets.keys().collect::<Vec<_>>(),
        ["kube-system/bgp-auth"]
    );
    assert_eq!(
        s.secret_value("kube-system", "bgp-auth", "password")
            .as_deref(),
        Some("s3cret")
    );
    assert!(s.policies.is_empty());

    api.put(policy("rack0-65005", "rack0", 65005, "10.0.5.1"));
    until(&mut rx, "the policy is added", |o| {
        o.snapshot.policies.contains_key("rack0-65005")
    })
    .await;

    api.put(policy("rack0-65005", "rack0", 65006, "10.0.5.1"));
    until(&mut rx, "the policy's AS changes", |o| {
        o.snapshot.policies["rack0-65005"].spec.virtual_routers[0].local_asn == 65006
    })
    .await;

    api.put(node("worker", "rack1", "10.0.5.12"));
    until(&mut rx, "the node's labels change", |o| {
        o.snapshot.nodes["worker"].metadata.labels.as_ref().unwrap()["rack"] == "rack1"
    })
    .await;

    api.put(
        json!({"apiVersion": "cilium.io/v2", "kind": "CiliumBGPPeerConfig",
        "metadata": {"name": "cilium-peer"}, "spec": {"timers": {"holdTimeSeconds": 9}}}),
    );
    api.put(
        json!({"apiVersion": "cilium.io/v2", "kind": "CiliumBGPNodeConfigOverride",
        "metadata": {"name": "worker2"}, "spec": {"bgpInstances": [{"name": "i"}]}}),
    );
    let o = until(&mut rx, "a v2 peer config is added", |o| {
        o.v2.peer_configs.contains_key("cilium-peer")
    })
    .await;
    assert!(
        o.v2.node_config_overrides.is_empty(),
        "another node's override is not watched"
    );

    api.delete(
        "cilium.io/v2alpha1",
        "CiliumBGPPeeringPolicy",
        None,
        "rack0-65005",
    );
    api.delete("v1", "Service", Some("default"), "web");
    until(&mut rx, "the policy and the service are deleted", |o| {
        o.snapshot.policies.is_empty() && o.snapshot.services.is_empty()
    })
    .await;

    // With autoDirectNodeRoutes, every node is watched.
    let mut all = spawn(
        api.client(),
        SourceOptions {
            node: "worker".into(),
            secrets_namespace: "kube-system".into(),
            settle: Duration::from_millis(30),
            all_nodes: true,
        },
    );
    until(&mut all, "both nodes are listed", |o| {
        o.snapshot.nodes.len() == 2
    })
    .await;

    let reqs = api.requests();
    assert!(
        reqs.iter().any(|r| r.starts_with("GET /api/v1/nodes?")
            && r.contains("watch=true")
            && r.contains("metadata.name")),
        "{reqs:#?}"
    );
    assert!(reqs
        .iter()
        .any(|r| r.starts_with("GET /api/v1/namespaces/kube-system/secrets?")));
}

/// A router API socket that answers every request with `answer`.
fn fake_router(dir: &std::path::Path, answer: Value) -> std::path::PathBuf {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let path = dir.join("agent.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut lines = tokio::io::BufReader::new(r).lines();
                while let Ok(Some(_)) = lines.next_line().await {
                    let _ = w.write_all(format!("{answer}\n").as_bytes()).await;
                }
            });
        }
    });
    path
}

fn established_neighbor() -> Value {
    json!({"kind": "neighbors", "data": [{
        "address": "10.0.5.1", "local_asn": 65005, "peer_asn": 65005, "remote_as": "65005",
        "state": "Established", "state_secs": 694,
        "session": {"hold_time": 90, "keepalive": 30, "families": ["ipv4-unicast", "ipv6-unicast"]},
        "counters": {"received": [6, 0]}, "advertised": [1, 0]
    }]})
}

fn agent_status(policy: Option<&str>, error: Option<&str>) -> k8s::agent::Status {
    k8s::agent::Status {
        node: "worker".into(),
        policy: policy.map(str::to_string),
        running: policy.is_some(),
        advertised: vec!["10.1.1.0/24".into()],
        error: error.map(str::to_string),
        ..Default::default()
    }
}

fn count(api: &FakeApi, prefix: &str) -> usize {
    api.requests()
        .iter()
        .filter(|r| r.starts_with(prefix))
        .count()
}

#[tokio::test]
async fn the_node_config_is_made_from_the_policy_and_its_status_from_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let socket = fake_router(dir.path(), established_neighbor());
    let api = FakeApi::start().await;
    api.put(node("worker", "rack0", "10.0.5.12"));
    api.put(policy("rack0-65005", "rack0", 65005, "10.0.5.1"));
    let mut rx = source(&api, "worker");
    let o = until(&mut rx, "the policy is listed", |o| {
        o.snapshot.policies.len() == 1
    })
    .await;
    let mut w = StatusWriter::new(api.client(), "worker".into(), socket);

    w.write(&o, &agent_status(Some("rack0-65005"), None))
        .await
        .unwrap();
    let c = api
        .get("cilium.io/v2", "CiliumBGPNodeConfig", None, "worker")
        .unwrap();
    assert_eq!(
        c["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "bgplane"
    );
    let node_uid = api.get("v1", "Node", None, "worker").unwrap()["metadata"]["uid"].clone();
    assert_eq!(c["metadata"]["ownerReferences"][0]["uid"], node_uid);
    assert_eq!(c["metadata"]["ownerReferences"][0]["kind"], "Node");
    assert_eq!(c["spec"]["bgpInstances"][0]["name"], "instance-65005");
    let inst = &c["status"]["bgpInstances"][0];
    assert_eq!(inst["localASN"], 65005);
    let peer = &inst["peers"][0];
    assert_eq!(peer["peerAddress"], "10.0.5.1");
    assert_eq!(peer["peerASN"], 65005);
    assert_eq!(peer["peeringState"], "established");
    assert!(peer["establishedTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        peer["timers"],
        json!({"appliedHoldTimeSeconds": 90, "appliedKeepaliveSeconds": 30})
    );
    assert_eq!(
        peer["routeCount"][0],
        json!({"afi": "ipv4", "safi": "unicast", "received": 6, "advertised": 1})
    );
    assert_eq!(
        c["status"]["conditions"][0]["type"],
        "cilium.io/BGPReconcileError"
    );
    assert_eq!(c["status"]["conditions"][0]["status"], "False");

    // Nothing changed: nothing is written.
    let patches = count(&api, "PATCH ");
    w.write(&o, &agent_status(Some("rack0-65005"), None))
        .await
        .unwrap();
    assert_eq!(count(&api, "PATCH "), patches);

    // The policy changes its neighbor: the spec the agent made follows.
    api.put(policy("rack0-65005", "rack0", 65005, "10.0.5.2"));
    let o = until(&mut rx, "the neighbor changes", |o| {
        o.snapshot.policies["rack0-65005"].spec.virtual_routers[0].neighbors[0].peer_address
            == "10.0.5.2/32"
    })
    .await;
    w.write(&o, &agent_status(Some("rack0-65005"), None))
        .await
        .unwrap();
    let c = api
        .get("cilium.io/v2", "CiliumBGPNodeConfig", None, "worker")
        .unwrap();
    let peer = &c["status"]["bgpInstances"][0]["peers"][0];
    assert_eq!(
        c["spec"]["bgpInstances"][0]["peers"][0]["peerAddress"],
        "10.0.5.2"
    );
    assert_eq!(peer["peerAddress"], "10.0.5.2");
    assert!(
        peer.get("peeringState").is_none(),
        "the router has no such neighbor: {peer}"
    );

    // No policy in force any more: the config the agent made goes.
    w.write(&o, &agent_status(None, None)).await.unwrap();
    assert!(api
        .get("cilium.io/v2", "CiliumBGPNodeConfig", None, "worker")
        .is_none());
}

#[tokio::test]
async fn two_policies_selecting_the_node_become_one_warning_event_and_the_error_condition() {
    let dir = tempfile::tempdir().unwrap();
    let socket = fake_router(dir.path(), json!({"kind": "neighbors", "data": []}));
    let api = FakeApi::start().await;
    api.put(node("worker", "rack0", "10.0.5.12"));
    api.put(policy("a", "rack0", 65005, "10.0.5.1"));
    api.put(policy("b", "rack0", 65006, "10.0.5.1"));
    let mut rx = source(&api, "worker");
    let o = until(&mut rx, "both policies are listed", |o| {
        o.snapshot.policies.len() == 2
    })
    .await;
    let mut w = StatusWriter::new(api.client(), "worker".into(), socket);
    let msg =
        "node worker: more than one CiliumBGPPeeringPolicy selects it (a, b): none is applied";

    // The agent had applied `a` before `b` appeared; its error now says why nothing changes.
    w.write(&o, &agent_status(Some("a"), Some(msg)))
        .await
        .unwrap();
    w.write(&o, &agent_status(Some("a"), Some(msg)))
        .await
        .unwrap();
    let events = api.list("events.k8s.io/v1", "Event");
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e["type"], "Warning");
    assert_eq!(e["reason"], "ConflictingPolicies");
    assert_eq!(e["note"], msg);
    assert_eq!(e["regarding"]["kind"], "Node");
    assert_eq!(e["regarding"]["name"], "worker");
    assert_eq!(e["reportingController"], "bgplane-agent");
    assert_eq!(e["metadata"]["namespace"], "default");
    let c = api
        .get("cilium.io/v2", "CiliumBGPNodeConfig", None, "worker")
        .unwrap();
    let cond = &c["status"]["conditions"][0];
    assert_eq!(
        (cond["status"].as_str(), cond["message"].as_str()),
        (Some("True"), Some(msg))
    );

    // Resolved (`b` deleted), then a different problem: one more Event.
    api.delete("cilium.io/v2alpha1", "CiliumBGPPeeringPolicy", None, "b");
    let o = until(&mut rx, "policy b is deleted", |o| {
        o.snapshot.policies.len() == 1
    })
    .await;
    w.write(&o, &agent_status(Some("a"), None)).await.unwrap();
    let c = api
        .get("cilium.io/v2", "CiliumBGPNodeConfig", None, "worker")
        .unwrap();
    assert_eq!(c["status"]["conditions"][0]["status"], "False");
    w.write(&o, &agent_status(Some("a"), Some("Secret \"x\" not found")))
        .await
        .unwrap();
    let events = api.list("events.k8s.io/v1", "Event");
    assert_eq!(events.len(), 2);
    assert!(events.iter().any(|e| e["reason"] == "BGPReconcileError"));
}

#[tokio::test]
async fn a_node_config_made_by_another_writer_gets_status_but_is_never_changed_or_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let socket = fake_router(dir.path(), established_neighbor());
    let api = FakeApi::start().await;
    api.put(node("worker", "rack0", "10.0.5.12"));
    api.put(
        json!({"apiVersion": "cilium.io/v2", "kind": "CiliumBGPNodeConfig",
        "metadata": {"name": "worker"},
        "spec": {"bgpInstances": [{"name": "tor", "localASN": 65005,
            "peers": [{"name": "leaf01", "peerAddress": "10.0.5.1", "peerASN": 65005}]}]}}),
    );
    let mut rx = source(&api, "worker");
    let o = until(&mut rx, "the node config is listed", |o| {
        o.v2.node_configs.contains_key("worker")
    })
    .await;
    let mut w = StatusWriter::new(api.client(), "worker".into(), socket);
    let mut st = agent_status(None, None);
    st.running = true;
    w.write(&o, &st).await.unwrap();
    let c = api
        .get("cilium.io/v2", "CiliumBGPNodeConfig", None, "worker")
        .unwrap();
    assert_eq!(c["spec"]["bgpInstances"][0]["name"], "tor");
    let peer = &c["status"]["bgpInstances"][0]["peers"][0];
    assert_eq!(peer["name"], "leaf01");
    assert_eq!(peer["peeringState"], "established");
    assert_eq!(count(&api, "DELETE "), 0);
}
