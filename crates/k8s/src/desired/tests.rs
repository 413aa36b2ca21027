use super::*;
use crate::manifests::{parse, Object};

fn policies(text: &str) -> Vec<CiliumBGPPeeringPolicy> {
    parse("p.yaml", text)
        .unwrap()
        .into_iter()
        .filter_map(|o| match o {
            Object::PeeringPolicy(p) => Some(*p),
            _ => None,
        })
        .collect()
}

fn node(name: &str, rack: &str, ip: &str, cidr: &str) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        labels: [("rack".to_string(), rack.to_string())].into(),
        pod_cidrs: vec![cidr.parse().unwrap()],
        addresses: vec![ip.parse().unwrap()],
        default_gateways: vec![],
        graceful_shutdown: None,
        unschedulable: false,
    }
}

fn settings() -> SpeakerSettings {
    SpeakerSettings {
        socket: "/run/bgplane/agent.sock".into(),
        metrics: None,
        graceful_shutdown_when_cordoned: false,
    }
}

fn run(
    n: &NodeInfo,
    p: &[CiliumBGPPeeringPolicy],
    svcs: &[Service],
) -> Result<Desired, DesiredError> {
    let s = settings();
    let no_secret = |_: &str, _: &str| None;
    desired(&Inputs {
        node: n,
        policies: p,
        services: svcs,
        secret: &no_secret,
        settings: &s,
        v2: Default::default(),
    })
}

const SEED: &str =
    include_str!("../../../../examples/cilium-bgp-cross-as/bgp-peering-policies.yaml");

#[test]
fn a_rack0_node_of_seed_000_peers_with_its_leaf_and_advertises_its_pod_cidr() {
    let n = node("cilium-bgp-worker", "rack0", "10.0.5.12", "10.1.1.0/24");
    let Desired::On {
        policy,
        config,
        advertised,
        unsupported,
    } = run(&n, &policies(SEED), &[]).unwrap()
    else {
        panic!("the node is selected")
    };
    assert!(unsupported.is_empty(), "{unsupported:?}");
    assert_eq!(policy, "rack0-65005");
    assert_eq!(config.router.asn, 65005);
    assert_eq!(config.router.router_id.to_string(), "10.0.5.12");
    assert!(
        config.router.listen.is_empty(),
        "nodes do not listen, as Cilium's"
    );
    let nb = config.neighbors();
    assert_eq!(nb.len(), 1);
    assert_eq!(nb[0].address.to_string(), "10.0.5.1");
    assert_eq!(nb[0].hold_time, Some(90));
    assert_eq!(nb[0].keepalive, Some(30));
    assert_eq!(nb[0].connect_retry, Some(120));
    assert_eq!(advertised, vec!["10.1.1.0/24".parse().unwrap()]);
    assert!(
        !config.router.graceful_restart.enabled,
        "off unless a neighbor asks"
    );
}

#[test]
fn the_export_policy_lets_out_only_what_the_node_owns() {
    let n = node("w", "rack0", "10.0.5.12", "10.1.1.0/24");
    let Desired::On { config, .. } = run(&n, &policies(SEED), &[]).unwrap() else {
        panic!()
    };
    let compiled = bgp::policy::Policies::compile(&config.policy_config()).unwrap();
    let p = compiled.get("neighbor0-out").unwrap();
    let check = |prefix: &str| {
        let a = bgp::rib::attrs::Attrs::local(bgp_wire::Origin::Igp);
        p.evaluate(&bgp::policy::RouteInfo {
            prefix: prefix.parse().unwrap(),
            attrs: &a,
            local_asn: 65005,
        })
        .accept
    };
    assert!(check("10.1.1.0/24"));
    assert!(!check("10.1.2.0/24"), "a learned route is not passed on");
    assert!(!check("0.0.0.0/0"));
}

#[test]
fn an_unselected_node_runs_no_bgp_and_two_policies_are_an_error() {
    let n = node("x", "rack9", "10.0.9.2", "10.1.9.0/24");
    assert_eq!(run(&n, &policies(SEED), &[]).unwrap(), Desired::Off);
    let both = SEED.replace("rack: rack1", "rack: rack0");
    let n = node("w", "rack0", "10.0.5.12", "10.1.1.0/24");
    let e = run(&n, &policies(&both), &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "node w: more than one CiliumBGPPeeringPolicy selects it (rack0-65005, rack1-65010): none is applied"
    );
}

#[test]
fn bad_fields_are_named_with_their_path() {
    let n = node("w", "rack0", "10.0.5.12", "10.1.1.0/24");
    let bad = SEED.replace("\"10.0.5.1/24\"", "\"leaf01\"");
    let e = run(&n, &policies(&bad), &[]).unwrap_err().to_string();
    assert!(
        e.contains("rack0-65005: spec.virtualRouters[0].neighbors[0].peerAddress"),
        "{e}"
    );
    let ka = SEED.replace(
        "peerASN: 65005",
        "peerASN: 65005\n          holdTimeSeconds: 9\n          keepAliveTimeSeconds: 10",
    );
    let e = run(&n, &policies(&ka), &[]).unwrap_err().to_string();
    assert!(
        e.contains("keepAliveTimeSeconds: 10 is larger than holdTimeSeconds 9"),
        "{e}"
    );
}

#[test]
fn neighbor_settings_and_path_attributes_reach_the_router() {
    let text = r#"
apiVersion: cilium.io/v2alpha1
kind: CiliumBGPPeeringPolicy
metadata: { name: p }
spec:
  virtualRouters:
    - localASN: 65001
      exportPodCIDR: true
      serviceSelector: { matchLabels: { bgp: "yes" } }
      serviceAdvertisements: [LoadBalancerIP, ClusterIP]
      neighbors:
        - peerAddress: 10.0.0.1/32
          peerASN: 65000
          peerPort: 1179
          eBGPMultihopTTL: 3
          gracefulRestart: { enabled: true, restartTimeSeconds: 60 }
          families: [{ afi: ipv4, safi: unicast }]
          advertisedPathAttributes:
            - selectorType: PodCIDR
              communities: { standard: ["65001:7", "4259840100"], wellKnown: [no-export], large: ["65001:1:1"] }
              localPreference: 200
    - localASN: 65002
      neighbors:
        - { peerAddress: 10.0.0.2/32, peerASN: 65002 }
"#;
    let svc: Service = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": "web", "namespace": "default", "labels": { "bgp": "yes" } },
        "spec": { "type": "LoadBalancer", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"] },
        "status": { "loadBalancer": { "ingress": [ { "ip": "172.16.0.5" } ] } }
    }))
    .unwrap();
    let n = node("w", "any", "10.0.5.12", "10.1.1.0/24");
    let Desired::On {
        config, advertised, ..
    } = run(&n, &policies(text), &[svc]).unwrap()
    else {
        panic!()
    };
    let adv: Vec<String> = advertised.iter().map(|p| p.to_string()).collect();
    assert_eq!(adv, ["10.1.1.0/24", "10.96.0.10/32", "172.16.0.5/32"]);
    let nb = config.neighbors();
    assert_eq!(nb[0].port, 1179);
    assert_eq!(nb[0].ebgp_multihop, Some(3));
    assert_eq!(
        nb[1].local_as,
        Some(65002),
        "the second virtual router's AS"
    );
    assert_eq!(config.router.graceful_restart.restart_time, 60);
    let compiled = bgp::policy::Policies::compile(&config.policy_config()).unwrap();
    let a = bgp::rib::attrs::Attrs::local(bgp_wire::Origin::Igp);
    let o = compiled
        .get("neighbor0-out")
        .unwrap()
        .evaluate(&bgp::policy::RouteInfo {
            prefix: "10.1.1.0/24".parse().unwrap(),
            attrs: &a,
            local_asn: 65001,
        });
    let m = o.attrs.expect("attributes set");
    let comms: Vec<String> = m.communities.iter().map(|c| c.to_string()).collect();
    assert_eq!(comms, ["65001:7", "65000:100", "no-export"]);
    assert_eq!(m.large_communities.len(), 1);
    assert_eq!(m.local_pref, None, "local preference only towards iBGP");
    // The second virtual router exports nothing.
    let o2 = compiled
        .get("neighbor1-out")
        .unwrap()
        .evaluate(&bgp::policy::RouteInfo {
            prefix: "10.1.1.0/24".parse().unwrap(),
            attrs: &a,
            local_asn: 65002,
        });
    assert!(!o2.accept);
}

/// The node with a policy, Services and Secrets all from one manifest, as the agent reads
/// them (Secrets of `kube-system`).
fn run_manifest(n: &NodeInfo, text: &str) -> Result<Desired, DesiredError> {
    let mut snap = crate::manifests::Snapshot::default();
    for o in parse("m.yaml", text).unwrap() {
        snap.insert(o);
    }
    let p: Vec<_> = snap.policies.values().cloned().collect();
    let svcs: Vec<_> = snap.services.values().cloned().collect();
    let s = settings();
    let secret = |name: &str, field: &str| snap.secret_value("kube-system", name, field);
    desired(&Inputs {
        node: n,
        policies: &p,
        services: &svcs,
        secret: &secret,
        settings: &s,
        v2: Default::default(),
    })
}

#[test]
fn external_ips_of_the_selected_services_are_advertised_as_host_routes() {
    let text = r#"
apiVersion: cilium.io/v2alpha1
kind: CiliumBGPPeeringPolicy
metadata: { name: p }
spec:
  virtualRouters:
    - localASN: 65001
      serviceSelector: { matchLabels: { bgp: "yes" } }
      serviceAdvertisements: [ExternalIP]
      neighbors: [{ peerAddress: 10.0.0.1/32, peerASN: 65000 }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default, labels: { bgp: "yes" } }
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.10
  externalIPs: [203.0.113.7, "2001:db8::7"]
status: { loadBalancer: { ingress: [{ ip: 172.16.0.5 }] } }
---
apiVersion: v1
kind: Service
metadata: { name: other, namespace: default }
spec: { type: ClusterIP, clusterIP: 10.96.0.11, externalIPs: [203.0.113.8] }
"#;
    let n = node("w", "any", "10.0.5.12", "10.1.1.0/24");
    let Desired::On { advertised, .. } = run_manifest(&n, text).unwrap() else {
        panic!("selected")
    };
    let adv: Vec<String> = advertised.iter().map(|p| p.to_string()).collect();
    // Not the cluster IP nor the load-balancer address (not asked for), nor the external IP
    // of a Service the selector does not select; no pod CIDR (exportPodCIDR is false).
    assert_eq!(adv, ["203.0.113.7/32", "2001:db8::7/128"]);
}

#[test]
fn an_auth_secret_ref_becomes_the_neighbors_md5_password() {
    let text = r#"
apiVersion: cilium.io/v2alpha1
kind: CiliumBGPPeeringPolicy
metadata: { name: p }
spec:
  virtualRouters:
    - localASN: 65001
      exportPodCIDR: true
      neighbors:
        - { peerAddress: 10.0.0.1/32, peerASN: 65000, authSecretRef: leaf-md5 }
        - { peerAddress: 10.0.0.2/32, peerASN: 65000 }
---
apiVersion: v1
kind: Secret
metadata: { name: leaf-md5, namespace: kube-system }
data: { password: czNjcmV0 }
---
apiVersion: v1
kind: Secret
metadata: { name: leaf-md5, namespace: default }
stringData: { password: wrong-namespace }
"#;
    let n = node("w", "any", "10.0.5.12", "10.1.1.0/24");
    let Desired::On { config, .. } = run_manifest(&n, text).unwrap() else {
        panic!("selected")
    };
    let nb = config.neighbors();
    assert_eq!(nb[0].password.as_deref(), Some("s3cret"), "base64 `data`");
    assert_eq!(nb[1].password, None);
    let missing = text.replace("authSecretRef: leaf-md5", "authSecretRef: nope");
    let e = run_manifest(&n, &missing).unwrap_err().to_string();
    assert_eq!(
        e,
        "CiliumBGPPeeringPolicy p: spec.virtualRouters[0].neighbors[0].authSecretRef: Secret \"nope\" not found or without a `password` key"
    );
}

#[test]
fn pod_ip_pool_selectors_are_reported_unsupported_and_change_nothing() {
    let plain = r#"
apiVersion: cilium.io/v2alpha1
kind: CiliumBGPPeeringPolicy
metadata: { name: p }
spec:
  virtualRouters:
    - localASN: 65001
      exportPodCIDR: true
      neighbors:
        - peerAddress: 10.0.0.1/32
          peerASN: 65000
          advertisedPathAttributes:
            - { selectorType: PodCIDR, communities: { standard: ["65001:7"] } }
"#;
    let pools = plain
        .replace(
            "exportPodCIDR: true",
            "exportPodCIDR: true\n      podIPPoolSelector: { matchLabels: { pool: blue } }",
        )
        .replace(
            "            - { selectorType: PodCIDR",
            "            - { selectorType: CiliumPodIPPool, communities: { standard: [\"65001:9\"] } }\n            - { selectorType: PodCIDR",
        );
    let n = node("w", "any", "10.0.5.12", "10.1.1.0/24");
    let (
        Desired::On {
            config: want,
            unsupported: none,
            ..
        },
        Desired::On {
            config: got,
            unsupported,
            ..
        },
    ) = (
        run(&n, &policies(plain), &[]).unwrap(),
        run(&n, &policies(&pools), &[]).unwrap(),
    )
    else {
        panic!("selected")
    };
    assert!(none.is_empty(), "{none:?}");
    assert_eq!(got, want, "the router configuration is the same");
    assert_eq!(
        unsupported,
        [
            "CiliumBGPPeeringPolicy p: spec.virtualRouters[0].neighbors[0].advertisedPathAttributes[0].selectorType CiliumPodIPPool is not supported: bgplane has no multi-pool IPAM (CiliumPodIPPool), the field is ignored",
            "CiliumBGPPeeringPolicy p: spec.virtualRouters[0].podIPPoolSelector is not supported: bgplane has no multi-pool IPAM (CiliumPodIPPool), the field is ignored",
        ]
    );
}

#[test]
fn a_policys_bfd_annotation_turns_bfd_on_for_all_its_neighbors() {
    let n = node("cilium-bgp-worker", "rack0", "10.0.5.12", "10.1.1.0/24");
    let annotated = SEED.replacen(
        "  name: \"rack0-65005\"",
        "  name: \"rack0-65005\"\n  annotations: { bgplane.io/bfd: '{ transmit-interval: 100, receive-interval: 200 }' }",
        1,
    );
    let Desired::On { config, .. } = run(&n, &policies(&annotated), &[]).unwrap() else {
        panic!("selected")
    };
    let t = config.neighbors()[0].bfd.clone().expect("bfd on");
    assert_eq!(
        (t.transmit_interval, t.receive_interval, t.detect_multiplier),
        (100, 200, 3)
    );
    // Without the annotation (as Cilium's own manifests): no BFD.
    let Desired::On { config, .. } = run(&n, &policies(SEED), &[]).unwrap() else {
        panic!("selected")
    };
    assert_eq!(config.neighbors()[0].bfd, None);
    // A bad value is refused with the object and the annotation named.
    let bad = annotated.replace("transmit-interval: 100", "transmit-interval: 1");
    let e = run(&n, &policies(&bad), &[]).unwrap_err().to_string();
    assert!(
        e.contains("CiliumBGPPeeringPolicy rack0-65005")
            && e.contains("bgplane.io/bfd")
            && e.contains("must be 10 to 60000"),
        "{e}"
    );
}
