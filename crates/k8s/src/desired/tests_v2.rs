use super::*;
use crate::manifests::{parse, Snapshot};

fn snapshot(text: &str) -> Snapshot {
    let mut s = Snapshot::default();
    for o in parse("v2.yaml", text).unwrap() {
        s.insert(o);
    }
    s
}

fn node() -> NodeInfo {
    NodeInfo {
        name: "worker".into(),
        labels: [("rack".to_string(), "rack0".to_string())].into(),
        pod_cidrs: vec![
            "10.1.1.0/24".parse().unwrap(),
            "fd00:1:1::/64".parse().unwrap(),
        ],
        addresses: vec!["10.0.5.12".parse().unwrap()],
        default_gateways: vec!["10.0.5.254".parse().unwrap()],
        graceful_shutdown: None,
        unschedulable: false,
    }
}

fn run(s: &Snapshot, n: &NodeInfo) -> Result<Desired, DesiredError> {
    run_cordoned(s, n, false)
}

/// [`run`] with the agent's `--graceful-shutdown-when-cordoned` as `gshut_when_cordoned`.
fn run_cordoned(
    s: &Snapshot,
    n: &NodeInfo,
    gshut_when_cordoned: bool,
) -> Result<Desired, DesiredError> {
    let services: Vec<_> = s.services.values().cloned().collect();
    let settings = SpeakerSettings {
        socket: "/run/bgplane/agent.sock".into(),
        metrics: None,
        graceful_shutdown_when_cordoned: gshut_when_cordoned,
    };
    let secret = |name: &str, field: &str| s.secret_value("kube-system", name, field);
    let clusters: Vec<_> = s.cluster_configs.values().cloned().collect();
    let adverts: Vec<_> = s.advertisements.values().cloned().collect();
    let policies: Vec<_> = s.policies.values().cloned().collect();
    desired(&Inputs {
        node: n,
        policies: &policies,
        services: &services,
        secret: &secret,
        settings: &settings,
        v2: V2Inputs {
            cluster_configs: &clusters,
            peer_configs: Some(&s.peer_configs),
            advertisements: &adverts,
            node_override: s.node_config_overrides.get(&n.name),
        },
    })
}

const V2: &str = r#"
apiVersion: cilium.io/v2
kind: CiliumBGPClusterConfig
metadata: { name: rack0 }
spec:
  nodeSelector: { matchLabels: { rack: rack0 } }
  bgpInstances:
    - name: main
      localASN: 65005
      peers:
        - name: leaf
          peerAddress: 10.0.5.1
          peerASN: 65005
          peerConfigRef: { name: leaf-peer }
        - name: gateway
          autoDiscovery: { mode: DefaultGateway, defaultGateway: { addressFamily: ipv4 } }
          peerASN: 65000
---
apiVersion: cilium.io/v2
kind: CiliumBGPPeerConfig
metadata: { name: leaf-peer }
spec:
  timers: { holdTimeSeconds: 9, keepAliveTimeSeconds: 3 }
  authSecretRef: leaf-md5
  gracefulRestart: { enabled: true, restartTimeSeconds: 60 }
  families:
    - { afi: ipv4, safi: unicast, advertisements: { matchLabels: { advertise: bgp } } }
---
apiVersion: cilium.io/v2
kind: CiliumBGPAdvertisement
metadata: { name: pods, labels: { advertise: bgp } }
spec:
  advertisements:
    - advertisementType: PodCIDR
      attributes: { communities: { standard: ["65005:10"] }, localPreference: 150 }
---
apiVersion: v1
kind: Secret
metadata: { name: leaf-md5, namespace: kube-system }
stringData: { password: s3cret }
---
apiVersion: cilium.io/v2
kind: CiliumBGPNodeConfigOverride
metadata: { name: worker }
spec:
  bgpInstances:
    - name: main
      routerID: 192.0.2.12
      peers: [{ name: leaf, localAddress: 10.0.5.12 }]
"#;

#[test]
fn a_cluster_config_gives_the_node_its_instances_peers_and_advertisements() {
    let s = snapshot(V2);
    let Desired::On {
        policy,
        config,
        advertised,
        unsupported,
    } = run(&s, &node()).unwrap()
    else {
        panic!("selected")
    };
    assert!(unsupported.is_empty(), "{unsupported:?}");
    assert_eq!(policy, "rack0");
    assert_eq!(config.router.asn, 65005);
    assert_eq!(
        config.router.router_id.to_string(),
        "192.0.2.12",
        "the override's"
    );
    let nb = config.neighbors();
    assert_eq!(nb.len(), 2);
    assert_eq!(nb[0].address.to_string(), "10.0.5.1");
    assert_eq!(nb[0].hold_time, Some(9));
    assert_eq!(nb[0].password.as_deref(), Some("s3cret"));
    assert_eq!(
        nb[0].local_address.map(|a| a.to_string()).as_deref(),
        Some("10.0.5.12")
    );
    assert_eq!(
        nb[1].address.to_string(),
        "10.0.5.254",
        "the default gateway"
    );
    assert_eq!(
        nb[1].hold_time,
        Some(90),
        "PeerConfig defaults without a reference"
    );
    assert!(config.router.graceful_restart.enabled);
    // Only the IPv4 family selects the advertisement: the IPv6 pod CIDR is not sent.
    assert_eq!(advertised, vec!["10.1.1.0/24".parse().unwrap()]);
    let compiled = bgp::policy::Policies::compile(&config.policy_config()).unwrap();
    let a = bgp::rib::attrs::Attrs::local(bgp_wire::Origin::Igp);
    let o = compiled
        .get("neighbor0-out")
        .unwrap()
        .evaluate(&bgp::policy::RouteInfo {
            prefix: "10.1.1.0/24".parse().unwrap(),
            attrs: &a,
            local_asn: 65005,
        });
    let m = o.attrs.expect("attributes");
    assert_eq!(m.local_pref, Some(150), "iBGP gets the local preference");
    assert_eq!(m.communities.len(), 1);
    // The second peer has no advertisement: nothing goes out.
    let o = compiled
        .get("neighbor1-out")
        .unwrap()
        .evaluate(&bgp::policy::RouteInfo {
            prefix: "10.1.1.0/24".parse().unwrap(),
            attrs: &a,
            local_asn: 65005,
        });
    assert!(!o.accept);
}

#[test]
fn a_missing_peer_config_and_two_apis_are_errors_naming_the_objects() {
    let s = snapshot(&V2.replace(
        "peerConfigRef: { name: leaf-peer }",
        "peerConfigRef: { name: nope }",
    ));
    let e = run(&s, &node()).unwrap_err().to_string();
    assert_eq!(
        e,
        "CiliumBGPClusterConfig rack0: spec.bgpInstances[0].peers[0].peerConfigRef.name: CiliumBGPPeerConfig \"nope\" not found"
    );
    let both = format!(
        "{V2}---\n{}",
        include_str!("../../../../examples/cilium-bgp-cross-as/bgp-peering-policies.yaml")
    );
    let e = run(&snapshot(&both), &node()).unwrap_err().to_string();
    assert!(
        e.contains("both CiliumBGPPeeringPolicy rack0-65005 and CiliumBGPClusterConfig rack0"),
        "{e}"
    );
}

#[test]
fn an_unnumbered_peer_becomes_an_interface_neighbor() {
    let text = V2.replace(
        "autoDiscovery: { mode: DefaultGateway, defaultGateway: { addressFamily: ipv4 } }",
        "autoDiscovery: { mode: Unnumbered, unnumbered: { interface: eth1 } }",
    );
    let Desired::On { config, .. } = run(&snapshot(&text), &node()).unwrap() else {
        panic!()
    };
    assert_eq!(config.neighbors()[1].key(), "eth1");
}

const SERVICES: &str = r#"
apiVersion: cilium.io/v2
kind: CiliumBGPClusterConfig
metadata: { name: lb }
spec:
  bgpInstances:
    - name: main
      localASN: 65001
      peers: [{ name: gw, peerAddress: 10.0.0.1, peerASN: 65000, peerConfigRef: { name: gw } }]
---
apiVersion: cilium.io/v2
kind: CiliumBGPPeerConfig
metadata: { name: gw }
spec:
  families:
    - { afi: ipv4, safi: unicast, advertisements: { matchLabels: { advertise: bgp } } }
---
apiVersion: cilium.io/v2
kind: CiliumBGPAdvertisement
metadata: { name: services, labels: { advertise: bgp } }
spec:
  advertisements:
    - advertisementType: Service
      service: { addresses: [LoadBalancerIP, ExternalIP] }
      selector: { matchLabels: { bgp: "yes" } }
      attributes: { communities: { standard: ["65001:80"] } }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default, labels: { bgp: "yes" } }
spec: { type: LoadBalancer, clusterIP: 10.96.0.10, externalIPs: [203.0.113.9] }
status: { loadBalancer: { ingress: [{ ip: 172.16.0.5 }] } }
---
apiVersion: v1
kind: Service
metadata: { name: db, namespace: default }
spec: { type: LoadBalancer, clusterIP: 10.96.0.11 }
status: { loadBalancer: { ingress: [{ ip: 172.16.0.6 }] } }
"#;

#[test]
fn a_service_advertisement_sends_the_chosen_addresses_of_the_selected_services() {
    let Desired::On {
        config, advertised, ..
    } = run(&snapshot(SERVICES), &node()).unwrap()
    else {
        panic!("selected")
    };
    let adv: Vec<String> = advertised.iter().map(|p| p.to_string()).collect();
    // No cluster IP (not asked for), nothing of the unselected Service, no pod CIDR (no
    // PodCIDR advertisement).
    assert_eq!(adv, ["172.16.0.5/32", "203.0.113.9/32"]);
    let compiled = bgp::policy::Policies::compile(&config.policy_config()).unwrap();
    let a = bgp::rib::attrs::Attrs::local(bgp_wire::Origin::Igp);
    let out = |prefix: &str| {
        compiled
            .get("neighbor0-out")
            .unwrap()
            .evaluate(&bgp::policy::RouteInfo {
                prefix: prefix.parse().unwrap(),
                attrs: &a,
                local_asn: 65001,
            })
    };
    let o = out("172.16.0.5/32");
    assert!(o.accept);
    let comms: Vec<String> = o
        .attrs
        .expect("the advertisement's attributes")
        .communities
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(comms, ["65001:80"]);
    assert!(!out("172.16.0.6/32").accept, "the unselected Service's");
    assert!(!out("10.1.1.0/24").accept, "the pod CIDR is not advertised");
}

#[test]
fn a_pod_ip_pool_advertisement_is_reported_unsupported() {
    let text = SERVICES.replace(
        "    - advertisementType: Service\n",
        "    - advertisementType: CiliumPodIPPool\n      selector: { matchLabels: { pool: blue } }\n    - advertisementType: Service\n",
    );
    let Desired::On {
        advertised,
        unsupported,
        ..
    } = run(&snapshot(&text), &node()).unwrap()
    else {
        panic!("selected")
    };
    assert_eq!(advertised.len(), 2, "the Service addresses only");
    assert_eq!(
        unsupported,
        ["CiliumBGPAdvertisement services: spec.advertisements[0].advertisementType CiliumPodIPPool is not supported: bgplane has no multi-pool IPAM (CiliumPodIPPool), the field is ignored"]
    );
}

#[test]
fn a_peer_configs_bfd_annotation_turns_bfd_on_for_the_peers_that_use_it() {
    let annotated = V2.replace(
        "metadata: { name: leaf-peer }",
        "metadata: { name: leaf-peer, annotations: { bgplane.io/bfd: \"true\" } }",
    );
    let Desired::On { config, .. } = run(&snapshot(&annotated), &node()).unwrap() else {
        panic!("selected")
    };
    let nb = config.neighbors();
    let t = nb[0].bfd.clone().expect("the leaf, through leaf-peer");
    assert_eq!(
        (t.transmit_interval, t.receive_interval, t.detect_multiplier),
        (300, 300, 3),
        "FRR's defaults"
    );
    assert_eq!(nb[1].bfd, None, "the gateway has no peer config");

    let bad = V2.replace(
        "metadata: { name: leaf-peer }",
        "metadata: { name: leaf-peer, annotations: { bgplane.io/bfd: \"on\" } }",
    );
    let e = run(&snapshot(&bad), &node()).unwrap_err().to_string();
    assert!(
        e.contains("CiliumBGPPeerConfig leaf-peer") && e.contains("bgplane.io/bfd"),
        "{e}"
    );
}

#[test]
fn a_bfd_auth_secret_annotation_puts_the_secrets_key_in_the_peers_bfd_setting() {
    let annotated = V2.replace(
        "metadata: { name: leaf-peer }",
        "metadata:\n  name: leaf-peer\n  annotations:\n    bgplane.io/bfd: \"{ transmit-interval: 100 }\"\n    bgplane.io/bfd-auth-secret: leaf-bfd",
    ) + "---\napiVersion: v1\nkind: Secret\nmetadata: { name: leaf-bfd, namespace: kube-system }\nstringData: { type: keyed-sha1, key-id: \"3\", password: bfd-s3cret }\n";
    let Desired::On { config, .. } = run(&snapshot(&annotated), &node()).unwrap() else {
        panic!("selected")
    };
    let t = config.neighbors()[0].bfd.clone().expect("the leaf");
    assert_eq!(t.transmit_interval, 100);
    let a = t.authentication.expect("from the Secret");
    assert_eq!(
        (serde_json::json!(a.kind), a.key_id, a.password.as_str()),
        (serde_json::json!("keyed-sha1"), 3, "bfd-s3cret")
    );

    // A Secret in another namespace is not read.
    let elsewhere = annotated.replace(
        "name: leaf-bfd, namespace: kube-system",
        "name: leaf-bfd, namespace: default",
    );
    let e = run(&snapshot(&elsewhere), &node()).unwrap_err().to_string();
    assert!(
        e.contains("CiliumBGPPeerConfig leaf-peer")
            && e.contains("bgplane.io/bfd-auth-secret")
            && e.contains("Secret \"leaf-bfd\": not found"),
        "{e}"
    );
    assert!(!e.contains("bfd-s3cret"), "{e}");
}

#[test]
fn the_graceful_shutdown_annotation_of_the_node_puts_its_router_into_graceful_shutdown() {
    let s = snapshot(V2);
    let on = |v: Option<&str>| {
        let mut n = node();
        n.graceful_shutdown = v.map(str::to_string);
        run(&s, &n)
    };
    for (v, want) in [(None, false), (Some("false"), false), (Some("true"), true)] {
        let Desired::On { config, .. } = on(v).unwrap() else {
            panic!("selected")
        };
        assert_eq!(config.router.graceful_shutdown, want, "{v:?}");
    }
    // Cordoned, with --graceful-shutdown-when-cordoned: on unless the annotation is "false".
    let mut n = node();
    n.unschedulable = true;
    for (flag, annotation, want) in [
        (false, None, false),
        (true, None, true),
        (true, Some("false"), false),
        (true, Some("true"), true),
    ] {
        n.graceful_shutdown = annotation.map(str::to_string);
        let Desired::On { config, .. } = run_cordoned(&s, &n, flag).unwrap() else {
            panic!("selected")
        };
        assert_eq!(
            config.router.graceful_shutdown, want,
            "{flag} {annotation:?}"
        );
    }

    let e = on(Some("yes")).unwrap_err().to_string();
    assert!(
        e.contains("Node worker")
            && e.contains("bgplane.io/graceful-shutdown")
            && e.contains("expected \"true\" or \"false\""),
        "{e}"
    );
}
