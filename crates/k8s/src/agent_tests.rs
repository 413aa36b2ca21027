//! The agent with a real embedded router (no root needed: the neighbors are loopback
//! addresses where nothing listens, so sessions never come up, but the router plans and
//! reports what a reload does to each one).

use super::*;
use crate::manifests::parse;

const NODE: &str = "apiVersion: v1\nkind: Node\nmetadata: { name: worker, labels: { rack: rack0 } }\nspec: { podCIDR: 10.1.1.0/24 }\nstatus: { addresses: [ { type: InternalIP, address: 127.0.0.1 } ] }\n";

const POLICY: &str = r#"
apiVersion: cilium.io/v2alpha1
kind: CiliumBGPPeeringPolicy
metadata: { name: rack0 }
spec:
  nodeSelector: { matchLabels: { rack: rack0 } }
  virtualRouters:
    - localASN: 65005
      exportPodCIDR: true
      neighbors:
        - { peerAddress: 127.0.0.2/32, peerASN: 65005, peerPort: 1 }
        - { peerAddress: 127.0.0.3/32, peerASN: 65005, peerPort: 1 }
"#;

fn snapshot(node: &str, policy: &str) -> Snapshot {
    let mut s = Snapshot::default();
    for o in parse("node.yaml", node)
        .unwrap()
        .into_iter()
        .chain(parse("policy.yaml", policy).unwrap())
    {
        s.insert(o);
    }
    s
}

fn agent(dir: &Path) -> Agent {
    Agent::new(AgentOptions {
        node: "worker".into(),
        manifests: dir.join("manifests"),
        state_dir: dir.join("state"),
        socket: dir.join("agent.sock"),
        metrics: None,
        install_routes: false,
        secrets_namespace: "kube-system".into(),
        poll: Duration::from_millis(100),
        auto_direct_node_routes: false,
        graceful_shutdown_when_cordoned: false,
        graceful_stop: Duration::ZERO,
    })
    .unwrap()
}

/// Reconciles and returns what the router said it did.
fn reload_notes(a: &mut Agent, snap: &Snapshot) -> String {
    a.reconcile(snap);
    let s = a.status();
    assert!(s.running && s.error.is_none(), "{s:?}");
    s.reload.clone().unwrap_or_default()
}

#[test]
fn a_hold_or_keepalive_change_resets_that_session_and_other_changes_reset_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = agent(dir.path());
    a.reconcile(&snapshot(NODE, POLICY));
    assert!(a.status().running, "{:?}", a.status());
    assert_eq!(a.status().reload, None, "started, not reloaded");

    let hold = POLICY.replacen("peerPort: 1 }", "peerPort: 1, holdTimeSeconds: 60 }", 1);
    let notes = reload_notes(&mut a, &snapshot(NODE, &hold));
    assert!(
        notes.contains("neighbor 127.0.0.2: session reset for the new settings"),
        "{notes}"
    );
    assert!(!notes.contains("127.0.0.3: session reset"), "{notes}");

    let keepalive = hold.replace(
        "127.0.0.3/32, peerASN: 65005, peerPort: 1 }",
        "127.0.0.3/32, peerASN: 65005, peerPort: 1, keepAliveTimeSeconds: 10 }",
    );
    let notes = reload_notes(&mut a, &snapshot(NODE, &keepalive));
    assert!(
        notes.contains("neighbor 127.0.0.3: session reset for the new settings"),
        "{notes}"
    );
    assert!(!notes.contains("127.0.0.2: session reset"), "{notes}");

    // A new pod CIDR and new path attributes: new routes and policies, no session reset.
    let attributes = keepalive.replace(
        "127.0.0.2/32, peerASN: 65005, peerPort: 1, holdTimeSeconds: 60 }",
        "127.0.0.2/32, peerASN: 65005, peerPort: 1, holdTimeSeconds: 60, advertisedPathAttributes: [{ selectorType: PodCIDR, communities: { standard: [\"65005:7\"] } }] }",
    );
    let node = NODE.replace("10.1.1.0/24", "10.1.7.0/24");
    let notes = reload_notes(&mut a, &snapshot(&node, &attributes));
    assert!(notes.contains("originated routes changed"), "{notes}");
    assert!(notes.contains("policies replaced"), "{notes}");
    assert!(!notes.contains("session reset"), "{notes}");

    // The same objects again: nothing to do, the router is not asked.
    a.reconcile(&snapshot(&node, &attributes));
    assert_eq!(a.status().reload.as_deref(), Some(notes.as_str()));
}

#[test]
fn unsupported_fields_are_in_the_status_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = agent(dir.path());
    let pools = POLICY.replace(
        "exportPodCIDR: true",
        "exportPodCIDR: true\n      podIPPoolSelector: { matchLabels: { pool: blue } }",
    );
    a.reconcile(&snapshot(NODE, &pools));
    a.reconcile(&snapshot(NODE, &pools));
    let text = std::fs::read_to_string(dir.path().join("state/status.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["unsupported"],
        serde_json::json!(["CiliumBGPPeeringPolicy rack0: spec.virtualRouters[0].podIPPoolSelector is not supported: bgplane has no multi-pool IPAM (CiliumPodIPPool), the field is ignored"])
    );
    assert_eq!(a.warned.len(), 1, "logged once");
    a.reconcile(&snapshot(NODE, POLICY));
    assert!(a.status().unsupported.is_empty());
}
