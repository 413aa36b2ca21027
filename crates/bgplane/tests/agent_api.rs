//! `bgplane agent` against the Kubernetes API (a test server that speaks the list/watch
//! protocol; no real API server runs in CI): the policy selecting the node starts the
//! embedded router, the node's CiliumBGPNodeConfig and its status appear, and go when the
//! policy goes; SIGTERM stops the agent.

#[path = "../../k8s/tests/fake_api/mod.rs"]
mod fake_api;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_runs_bgp_from_the_api_server_and_writes_the_node_status_back() {
    let api = fake_api::FakeApi::start().await;
    api.put(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": { "name": "worker", "labels": { "rack": "rack0" } },
        "spec": { "podCIDR": "10.1.1.0/24" },
        "status": { "addresses": [ { "type": "InternalIP", "address": "127.0.0.1" } ] }
    }));
    // A neighbor on loopback where nothing listens: the session stays down.
    api.put(json!({
        "apiVersion": "cilium.io/v2alpha1", "kind": "CiliumBGPPeeringPolicy",
        "metadata": { "name": "rack0" },
        "spec": {
            "nodeSelector": { "matchLabels": { "rack": "rack0" } },
            "virtualRouters": [ { "localASN": 65005, "exportPodCIDR": true,
                "neighbors": [ { "peerAddress": "127.0.0.2/32", "peerASN": 65005, "peerPort": 1 } ] } ]
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster: {{server: 'http://{}'}}\ncontexts:\n- name: t\n  context: {{cluster: t, user: t}}\ncurrent-context: t\nusers:\n- name: t\n  user: {{}}\n",
            api.addr
        ),
    )
    .unwrap();
    let socket = dir.path().join("agent.sock");
    let mut agent = Agent(
        Command::new(env!("CARGO_BIN_EXE_bgplane"))
            .args([
                "agent",
                "--node",
                "worker",
                "--status-interval-secs",
                "1",
                "--kubeconfig",
            ])
            .arg(&kubeconfig)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .arg("--socket")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );

    let config = || api.get("cilium.io/v2", "CiliumBGPNodeConfig", None, "worker");
    let peer_state = |c: &Value| c["status"]["bgpInstances"][0]["peers"][0]["peeringState"].clone();
    wait_for("the node config has the peer's state", || {
        config().is_some_and(|c| peer_state(&c).is_string())
    })
    .await;
    let c = config().unwrap();
    assert_eq!(c["spec"]["bgpInstances"][0]["localASN"], 65005);
    let peer = &c["status"]["bgpInstances"][0]["peers"][0];
    assert_eq!(peer["peerAddress"], "127.0.0.2");
    assert_ne!(peer["peeringState"], "established");
    assert_eq!(c["status"]["conditions"][0]["status"], "False");
    assert!(socket.exists(), "the embedded router serves its API");

    api.delete(
        "cilium.io/v2alpha1",
        "CiliumBGPPeeringPolicy",
        None,
        "rack0",
    );
    wait_for("the node config is deleted", || config().is_none()).await;

    let pid = agent.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(st) = agent.0.try_wait().unwrap() {
            assert!(st.success(), "the agent ended with {st}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
