//! `bgplane agent` against the Kubernetes API (a test server that speaks the list/watch
//! protocol; no real API server runs in CI): the policy selecting the node starts the
//! embedded router, the node's CiliumBGPNodeConfig and its status appear, and go when the
//! policy goes; the router's metrics carry Cilium's names; SIGTERM stops the agent.

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

/// A local address with a port nothing listens on.
fn free_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// `GET /metrics`, the body.
async fn scrape(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut last = String::new();
    for _ in 0..100 {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(mut s) => {
                s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .unwrap();
                let mut resp = String::new();
                s.read_to_string(&mut resp).await.unwrap();
                let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
                assert!(head.starts_with("HTTP/1.1 200"), "{resp}");
                return body.to_string();
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no metrics endpoint at {addr}: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_runs_bgp_from_the_api_server_writes_the_node_status_back_and_serves_metrics() {
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
    let metrics = free_port();
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
            .arg("--metrics")
            .arg(metrics.to_string())
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
    let text = scrape(metrics).await;
    for line in [
        r#"bgplane_bgp_control_plane_session_state{vrouter="65005",neighbor="127.0.0.2:1",neighbor_asn="65005"} 0"#,
        r#"bgplane_bgp_control_plane_advertised_routes{vrouter="65005",neighbor="127.0.0.2:1",neighbor_asn="65005",afi="ipv4",safi="unicast"} 0"#,
        r#"bgplane_bgp_control_plane_received_routes{vrouter="65005",neighbor="127.0.0.2:1",neighbor_asn="65005",afi="ipv6",safi="unicast"} 0"#,
    ] {
        assert!(text.lines().any(|l| l == line), "no {line} in:\n{text}");
    }

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
