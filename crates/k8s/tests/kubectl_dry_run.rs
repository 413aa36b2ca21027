//! `kubectl apply --dry-run=client -f deploy/`, against the list/watch test server (which
//! also serves API discovery, all that a client-side dry run asks of a server). Skipped,
//! saying so, where kubectl is not installed (a failure under `BGPLANE_TEST_REQUIRE_ALL=1`).

mod fake_api;
#[path = "../../../tests/support/skip.rs"]
mod skip;

use std::process::Command;

#[tokio::test]
async fn kubectl_applies_every_deploy_manifest_in_a_client_dry_run() {
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        skip::skipped("skipped: no kubectl on this machine");
        return;
    }
    let api = fake_api::FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{server: 'http://{}'}}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: fake}}\ncurrent-context: fake\nusers:\n- name: fake\n  user: {{}}\n",
            api.addr
        ),
    )
    .unwrap();
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("kubectl")
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", dir.path())
            .args(["apply", "--dry-run=client", "--validate=false", "-f"])
            .arg(&deploy)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kubectl failed:\n{stdout}\n{stderr}");
    for what in [
        "customresourcedefinition.apiextensions.k8s.io/ciliumbgppeeringpolicies.cilium.io created (dry run)",
        "customresourcedefinition.apiextensions.k8s.io/ciliumbgpnodeconfigs.cilium.io created (dry run)",
        "serviceaccount/bgplane-agent created (dry run)",
        "clusterrole.rbac.authorization.k8s.io/bgplane-agent created (dry run)",
        "role.rbac.authorization.k8s.io/bgplane-agent-secrets created (dry run)",
        "daemonset.apps/bgplane-agent created (dry run)",
    ] {
        assert!(stdout.contains(what), "no `{what}` in:\n{stdout}\n{stderr}");
    }
    assert_eq!(stdout.lines().count(), 6 + 6, "{stdout}");
}
