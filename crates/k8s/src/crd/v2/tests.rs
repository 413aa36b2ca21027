use super::*;
use kube::{CustomResourceExt, Resource};

fn yaml<T: serde::de::DeserializeOwned>(text: &str) -> T {
    serde_norway::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

const CLUSTER: &str = r#"
apiVersion: cilium.io/v2
kind: CiliumBGPClusterConfig
metadata:
  name: rack0
spec:
  nodeSelector:
    matchLabels:
      rack: rack0
  bgpInstances:
    - name: "instance-65005"
      localASN: 65005
      peers:
        - name: "leaf01"
          peerASN: 65005
          peerAddress: 10.0.5.1
          peerConfigRef:
            name: "cilium-peer"
        - name: "uplink"
          autoDiscovery:
            mode: DefaultGateway
            defaultGateway:
              addressFamily: ipv6
          peerConfigRef:
            name: "cilium-peer"
"#;

const PEER: &str = r#"
apiVersion: cilium.io/v2
kind: CiliumBGPPeerConfig
metadata:
  name: cilium-peer
spec:
  timers:
    holdTimeSeconds: 9
    keepAliveTimeSeconds: 3
  authSecretRef: bgp-auth-secret
  ebgpMultihop: 4
  gracefulRestart:
    enabled: true
    restartTimeSeconds: 15
  families:
    - afi: ipv4
      safi: unicast
      advertisements:
        matchLabels:
          advertise: "bgp"
"#;

const ADVERT: &str = r#"
apiVersion: cilium.io/v2
kind: CiliumBGPAdvertisement
metadata:
  name: bgp-advertisements
  labels:
    advertise: bgp
spec:
  advertisements:
    - advertisementType: "PodCIDR"
      attributes:
        communities:
          standard: [ "65000:99", "4259840099" ]
          wellKnown: [ "no-export" ]
          large: [ "65000:1:2" ]
        localPreference: 120
    - advertisementType: "Service"
      service:
        addresses:
          - ClusterIP
          - ExternalIP
          - LoadBalancerIP
        aggregationLengthIPv4: 24
      selector:
        matchExpressions:
          - { key: bgp, operator: NotIn, values: [ "off" ] }
"#;

const OVERRIDE: &str = r#"
apiVersion: cilium.io/v2
kind: CiliumBGPNodeConfigOverride
metadata:
  name: worker
spec:
  bgpInstances:
    - name: "instance-65005"
      routerID: "192.168.10.1"
      localPort: 1790
      peers:
        - name: "leaf01"
          localAddress: fd00:10::2
"#;

const NODE: &str = r#"
apiVersion: cilium.io/v2
kind: CiliumBGPNodeConfig
metadata:
  name: worker
spec:
  bgpInstances:
    - name: instance-65005
      localASN: 65005
      peers:
        - name: leaf01
          peerAddress: 10.0.5.1
          peerASN: 65005
          peerConfigRef: { name: cilium-peer }
status:
  bgpInstances:
    - name: instance-65005
      localASN: 65005
      peers:
        - name: leaf01
          peerAddress: 10.0.5.1
          peerASN: 65005
          peeringState: established
          establishedTime: "2025-01-02T03:04:05Z"
          timers:
            appliedHoldTimeSeconds: 90
            appliedKeepaliveSeconds: 30
          routeCount:
            - { afi: ipv4, safi: unicast, received: 6, advertised: 1 }
  conditions:
    - type: cilium.io/BGPReconcileError
      status: "False"
      reason: NoError
      message: ""
      lastTransitionTime: "2025-01-02T03:04:05Z"
"#;

#[test]
fn a_cluster_config_parses_with_its_instances_peers_and_discovery() {
    let c: CiliumBGPClusterConfig = yaml(CLUSTER);
    assert_eq!(c.metadata.name.as_deref(), Some("rack0"));
    let i = &c.spec.bgp_instances[0];
    assert_eq!(
        (i.name.as_str(), i.local_asn),
        ("instance-65005", Some(65005))
    );
    let peers = i.peers.as_ref().unwrap();
    assert_eq!(peers[0].peer_address.as_deref(), Some("10.0.5.1"));
    assert_eq!(
        peers[0].peer_config_ref.as_ref().unwrap().name,
        "cilium-peer"
    );
    let ad = peers[1].auto_discovery.as_ref().unwrap();
    assert_eq!(ad.mode, BGPAutoDiscoveryMode::DefaultGateway);
    assert_eq!(ad.default_gateway.as_ref().unwrap().address_family, "ipv6");
    assert_eq!(peers[1].peer_asn_or_default(), 0);
}

#[test]
fn a_peer_config_parses_and_keeps_what_it_sets_when_defaulted() {
    let p: CiliumBGPPeerConfig = yaml(PEER);
    let d = p.spec.with_defaults();
    let t = d.timers.unwrap();
    assert_eq!(t.hold_time_seconds, Some(9));
    assert_eq!(t.keep_alive_time_seconds, Some(3));
    assert_eq!(
        t.connect_retry_time_seconds,
        Some(DEFAULT_CONNECT_RETRY_TIME)
    );
    assert_eq!(d.transport.unwrap().peer_port, Some(179));
    assert_eq!(d.ebgp_multihop, Some(4));
    assert_eq!(d.graceful_restart.unwrap().restart_time_seconds, Some(15));
    let fams = d.families.unwrap();
    assert_eq!(fams.len(), 1);
    let sel = fams[0].advertisements.as_ref().unwrap();
    assert_eq!(sel.match_labels.as_ref().unwrap()["advertise"], "bgp");
    assert_eq!(d.auth_secret_ref.as_deref(), Some("bgp-auth-secret"));
}

#[test]
fn an_empty_peer_config_gets_cilium_defaults() {
    let p: CiliumBGPPeerConfig = yaml(
        "apiVersion: cilium.io/v2\nkind: CiliumBGPPeerConfig\nmetadata: {name: p}\nspec: {}\n",
    );
    let d = p.spec.with_defaults();
    assert_eq!(d.transport.unwrap().peer_port, Some(DEFAULT_PEER_PORT));
    let t = d.timers.unwrap();
    assert_eq!(
        (
            t.connect_retry_time_seconds,
            t.hold_time_seconds,
            t.keep_alive_time_seconds
        ),
        (Some(120), Some(90), Some(30))
    );
    assert_eq!(d.ebgp_multihop, Some(1));
    let gr = d.graceful_restart.unwrap();
    assert!(!gr.enabled);
    assert_eq!(gr.restart_time_seconds, Some(120));
    let fams: Vec<(String, String)> = d
        .families
        .unwrap()
        .into_iter()
        .map(|f| (f.afi, f.safi))
        .collect();
    assert_eq!(
        fams,
        [
            ("ipv6".into(), "unicast".into()),
            ("ipv4".into(), "unicast".into())
        ]
    );
}

#[test]
fn zero_timers_and_port_count_as_unset_as_in_cilium() {
    let p: CiliumBGPPeerConfigSpec =
        yaml("transport: {peerPort: 0}\ntimers: {holdTimeSeconds: 0}\n");
    let d = p.with_defaults();
    assert_eq!(d.transport.unwrap().peer_port, Some(179));
    assert_eq!(d.timers.unwrap().hold_time_seconds, Some(90));
}

#[test]
fn an_advertisement_parses_with_service_options_and_attributes() {
    let a: CiliumBGPAdvertisement = yaml(ADVERT);
    let ads = &a.spec.advertisements;
    assert_eq!(ads[0].advertisement_type, BGPAdvertisementType::PodCIDR);
    let c = ads[0]
        .attributes
        .as_ref()
        .unwrap()
        .communities
        .as_ref()
        .unwrap();
    assert_eq!(c.standard, ["65000:99", "4259840099"]);
    assert_eq!(c.well_known, ["no-export"]);
    assert_eq!(
        ads[0].attributes.as_ref().unwrap().local_preference,
        Some(120)
    );
    assert_eq!(ads[1].advertisement_type, BGPAdvertisementType::Service);
    let svc = ads[1].service.as_ref().unwrap();
    assert_eq!(
        svc.addresses,
        [
            ServiceAddressType::ClusterIP,
            ServiceAddressType::ExternalIP,
            ServiceAddressType::LoadBalancerIP
        ]
    );
    assert_eq!(svc.aggregation_length_ipv4, Some(24));
}

#[test]
fn an_unknown_advertisement_type_is_refused_naming_the_field() {
    let text = "advertisements:\n  - advertisementType: Bogus\n";
    let de = serde_norway::Deserializer::from_str(text);
    let e = serde_path_to_error::deserialize::<_, CiliumBGPAdvertisementSpec>(de).unwrap_err();
    assert_eq!(e.path().to_string(), "advertisements[0].advertisementType");
}

#[test]
fn a_node_config_override_parses() {
    let o: CiliumBGPNodeConfigOverride = yaml(OVERRIDE);
    let i = &o.spec.bgp_instances[0];
    assert_eq!(i.router_id.as_deref(), Some("192.168.10.1"));
    assert_eq!(i.local_port, Some(1790));
    assert_eq!(
        i.peers.as_ref().unwrap()[0].local_address.as_deref(),
        Some("fd00:10::2")
    );
}

#[test]
fn a_node_config_round_trips_with_its_status() {
    let n: CiliumBGPNodeConfig = yaml(NODE);
    let st = n.status.as_ref().unwrap();
    let peer = &st.bgp_instances[0].peer_statuses[0];
    assert_eq!(peer.peering_state.as_deref(), Some("established"));
    assert_eq!(
        peer.timers.as_ref().unwrap().applied_hold_time_seconds,
        Some(90)
    );
    assert_eq!(peer.route_count[0].received, Some(6));
    assert_eq!(st.conditions[0].type_, CONDITION_RECONCILE_ERROR);
    let back: serde_json::Value = serde_json::to_value(&n).unwrap();
    assert_eq!(
        back["status"]["bgpInstances"][0]["peers"][0]["peerASN"],
        65005
    );
    let again: CiliumBGPNodeConfig = serde_json::from_value(back).unwrap();
    assert_eq!(again, n);
}

#[test]
fn kinds_plurals_short_names_and_scopes_are_ciliums() {
    let cases = [
        (
            CiliumBGPClusterConfig::crd(),
            "ciliumbgpclusterconfigs",
            "cbgpcluster",
            true,
        ),
        (
            CiliumBGPPeerConfig::crd(),
            "ciliumbgppeerconfigs",
            "cbgppeer",
            true,
        ),
        (
            CiliumBGPAdvertisement::crd(),
            "ciliumbgpadvertisements",
            "cbgpadvert",
            false,
        ),
        (
            CiliumBGPNodeConfigOverride::crd(),
            "ciliumbgpnodeconfigoverrides",
            "cbgpnodeoverride",
            false,
        ),
        (
            CiliumBGPNodeConfig::crd(),
            "ciliumbgpnodeconfigs",
            "cbgpnode",
            true,
        ),
    ];
    for (crd, plural, short, status) in cases {
        assert_eq!(crd.spec.group, "cilium.io");
        assert_eq!(crd.spec.scope, "Cluster");
        assert_eq!(crd.spec.names.plural, plural);
        assert_eq!(
            crd.spec.names.short_names.as_deref(),
            Some(&[short.to_string()][..])
        );
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&["cilium".to_string(), "ciliumbgp".to_string()][..])
        );
        let v = &crd.spec.versions[0];
        assert_eq!(v.name, "v2");
        assert_eq!(
            v.subresources.as_ref().is_some_and(|s| s.status.is_some()),
            status,
            "{plural}"
        );
    }
    assert_eq!(CiliumBGPNodeConfig::api_version(&()), "cilium.io/v2");
}

#[test]
fn the_schema_carries_ciliums_defaults_and_ranges() {
    let crd = serde_json::to_value(CiliumBGPPeerConfig::crd()).unwrap();
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"];
    assert_eq!(spec["transport"]["properties"]["peerPort"]["default"], 179);
    let timers = &spec["timers"]["properties"];
    assert_eq!(timers["holdTimeSeconds"]["default"], 90);
    assert_eq!(timers["holdTimeSeconds"]["minimum"], 3.0);
    assert_eq!(timers["keepAliveTimeSeconds"]["default"], 30);
    assert_eq!(timers["connectRetryTimeSeconds"]["default"], 120);
    assert_eq!(spec["ebgpMultihop"]["default"], 1);
    assert_eq!(spec["ebgpMultihop"]["maximum"], 255.0);
    assert_eq!(
        spec["gracefulRestart"]["properties"]["restartTimeSeconds"]["default"],
        120
    );
    assert!(spec["timers"]["x-kubernetes-validations"][0]["rule"]
        .as_str()
        .unwrap()
        .contains("self.keepAliveTimeSeconds <= self.holdTimeSeconds"));
    let fam = &spec["families"]["items"]["properties"];
    assert_eq!(fam["afi"]["enum"][1], "ipv6");
}

#[test]
fn community_patterns_accept_the_valid_forms_only() {
    let re = |p: &str| regex_lite(p);
    let std = re(STANDARD_COMMUNITY_PATTERN);
    for ok in ["0", "4294967295", "65000:100", "65535:65535", "0:0"] {
        assert!(std(ok), "{ok}");
    }
    for bad in ["4294967296", "65536:1", "1:65536", "01", "a:b", ""] {
        assert!(!std(bad), "{bad}");
    }
    let large = re(LARGE_COMMUNITY_PATTERN);
    assert!(large("4294967295:0:1"));
    assert!(!large("4294967296:0:1"));
    assert!(!large("1:2"));
    let ip = re(IP_ADDRESS_PATTERN);
    for ok in [
        "10.0.5.1",
        " 10.0.5.1 ",
        "fd00::1",
        "fe80::1%eth0",
        "::",
        "::ffff:1.2.3.4",
    ] {
        assert!(ip(ok), "{ok}");
    }
    for bad in ["10.0.5", "256.1.1.1", "host", "10.0.5.1/24"] {
        assert!(!ip(bad), "{bad}");
    }
}

fn regex_lite(p: &str) -> impl Fn(&str) -> bool {
    let re = regex::Regex::new(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    move |s: &str| re.is_match(s)
}
