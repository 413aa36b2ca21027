//! `cilium.io/v2` BGP resources: the cluster-wide `CiliumBGPClusterConfig`, the reusable
//! `CiliumBGPPeerConfig` and `CiliumBGPAdvertisement`, the per-node
//! `CiliumBGPNodeConfigOverride`, and the per-node `CiliumBGPNodeConfig` whose status
//! the agent writes back. Group, version, kinds, plurals, short names, field names,
//! defaults and validation follow Cilium's, so that manifests written for Cilium apply
//! unchanged; the defaults Cilium's API server schema fills in are in the generated CRDs,
//! and the `*_or_default` accessors give the same values for objects that did not pass an
//! API server (a manifest directory).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ServiceAddressType;

/// Default TCP port of a peer.
pub const DEFAULT_PEER_PORT: i32 = 179;
/// Default TTL towards eBGP peers (single hop).
pub const DEFAULT_EBGP_MULTIHOP: i32 = 1;
/// Default ConnectRetry time (RFC 4271 §8), seconds.
pub const DEFAULT_CONNECT_RETRY_TIME: i32 = 120;
/// Default hold time (RFC 4271 §4.2), seconds.
pub const DEFAULT_HOLD_TIME: i32 = 90;
/// Default keepalive time (RFC 4271 §8), seconds.
pub const DEFAULT_KEEPALIVE_TIME: i32 = 30;
/// Default graceful-restart time (RFC 4724 §4.2), seconds.
pub const DEFAULT_RESTART_TIME: i32 = 120;
/// The condition type of a node's BGP reconcile error (in `CiliumBGPNodeStatus`).
pub const CONDITION_RECONCILE_ERROR: &str = "cilium.io/BGPReconcileError";

/// An IPv4 address, or an IPv6 address with an optional `%zone`, with optional blanks
/// around it (the form Cilium accepts in address fields).
pub const IP_ADDRESS_PATTERN: &str = concat!(
    r"^\s*(",
    r"((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
    r"|",
    r"[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){1,7}(:(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3})?(%.+)?",
    r")\s*$"
);

/// A 16-bit decimal number (0 to 65535).
macro_rules! u16_re {
    () => {
        r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}|0)"
    };
}
/// A 32-bit decimal number (0 to 4294967295).
macro_rules! u32_re {
    () => {
        r"(429496729[0-5]|42949672[0-8][0-9]|4294967[01][0-9]{2}|429496[0-6][0-9]{3}|42949[0-5][0-9]{4}|4294[0-8][0-9]{5}|429[0-3][0-9]{6}|42[0-8][0-9]{7}|4[01][0-9]{8}|[1-3][0-9]{9}|[1-9][0-9]{0,8}|0)"
    };
}

/// An RFC 1997 community: a 32-bit decimal number, or two 16-bit ones joined by `:`.
pub const STANDARD_COMMUNITY_PATTERN: &str =
    concat!("^", u32_re!(), "$|^", u16_re!(), ":", u16_re!(), "$");
/// An RFC 8092 large community: three 32-bit decimal numbers joined by `:`.
pub const LARGE_COMMUNITY_PATTERN: &str =
    concat!("^", u32_re!(), ":", u32_re!(), ":", u32_re!(), "$");

// ---------------------------------------------------------------------------------------
// CiliumBGPClusterConfig

/// Which nodes run which BGP instances, with which peers (cluster-scoped). The operator
/// role (one `CiliumBGPNodeConfig` per selected node) is played by each node's agent.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "cilium.io",
    version = "v2",
    kind = "CiliumBGPClusterConfig",
    doc = "Cluster-wide BGP configuration: the BGP instances of the nodes it selects.",
    plural = "ciliumbgpclusterconfigs",
    singular = "ciliumbgpclusterconfig",
    shortname = "cbgpcluster",
    category = "cilium",
    category = "ciliumbgp",
    status = "CiliumBGPClusterConfigStatus",
    derive = "PartialEq",
    printcolumn = r#"{"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPClusterConfigSpec {
    /// The nodes this configuration applies to; all nodes when absent or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<LabelSelector>,
    /// The BGP instances (virtual routers) each selected node runs.
    #[schemars(length(min = 1, max = 16))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub bgp_instances: Vec<CiliumBGPInstance>,
}

/// One BGP instance of a `CiliumBGPClusterConfig`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPInstance {
    /// Unique name of the instance within the configuration.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// The instance's AS (4-octet ASNs supported).
    #[serde(rename = "localASN", default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4294967295_i64))]
    pub local_asn: Option<i64>,
    /// The port the instance listens on; it does not listen when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub local_port: Option<i32>,
    /// The instance's peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub peers: Option<Vec<CiliumBGPPeer>>,
}

/// A peer of a BGP instance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPPeer {
    /// Unique name of the peer within its instance.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// The peer's IPv4 or IPv6 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = IP_ADDRESS_PATTERN))]
    pub peer_address: Option<String>,
    /// The peer's AS; 0 takes whatever AS the peer's OPEN announces.
    #[serde(rename = "peerASN", default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 4294967295_i64), extend("default" = 0))]
    pub peer_asn: Option<i64>,
    /// Finds the peer's address instead of `peerAddress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_discovery: Option<BGPAutoDiscovery>,
    /// The `CiliumBGPPeerConfig` with the peer's settings; defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_config_ref: Option<PeerConfigReference>,
}

impl CiliumBGPPeer {
    /// `peerASN` with its default (0: accept the peer's AS).
    pub fn peer_asn_or_default(&self) -> i64 {
        self.peer_asn.unwrap_or(0)
    }
}

/// How a peer's address is discovered.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum BGPAutoDiscoveryMode {
    /// The node's default gateway of an address family is the peer.
    #[default]
    DefaultGateway,
    /// BGP unnumbered: the peer's IPv6 link-local address is discovered on an interface.
    Unnumbered,
}

/// Discovery of a peer's address.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "self.mode != 'DefaultGateway' || has(self.defaultGateway)",
     "message": "mode DefaultGateway needs defaultGateway"},
    {"rule": "self.mode != 'Unnumbered' || has(self.unnumbered)",
     "message": "mode Unnumbered needs unnumbered"}
]))]
pub struct BGPAutoDiscovery {
    /// The discovery mode.
    pub mode: BGPAutoDiscoveryMode,
    /// Settings of `DefaultGateway` discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_gateway: Option<DefaultGateway>,
    /// Settings of `Unnumbered` discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unnumbered: Option<BGPUnnumbered>,
}

/// The default gateway to peer with.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DefaultGateway {
    /// `ipv4` or `ipv6`: the family of the default route whose gateway is the peer.
    #[schemars(extend("enum" = ["ipv4", "ipv6"]))]
    pub address_family: String,
}

/// BGP unnumbered: the interface towards the peer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct BGPUnnumbered {
    /// The local interface the peer is reached on.
    #[schemars(length(min = 1, max = 255))]
    pub interface: String,
}

/// A reference to a `CiliumBGPPeerConfig`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct PeerConfigReference {
    /// The name of the CiliumBGPPeerConfig.
    pub name: String,
}

/// Conditions of a `CiliumBGPClusterConfig`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct CiliumBGPClusterConfigStatus {
    /// The current conditions (`cilium.io/NoMatchingNode`, `cilium.io/MissingPeerConfigs`,
    /// `cilium.io/ConflictingClusterConfig`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

// ---------------------------------------------------------------------------------------
// CiliumBGPPeerConfig

/// Settings shared by peers that reference it (cluster-scoped).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "cilium.io",
    version = "v2",
    kind = "CiliumBGPPeerConfig",
    doc = "Peer settings (transport, timers, authentication, graceful restart, families) that peers reference by name.",
    plural = "ciliumbgppeerconfigs",
    singular = "ciliumbgppeerconfig",
    shortname = "cbgppeer",
    category = "cilium",
    category = "ciliumbgp",
    status = "CiliumBGPPeerConfigStatus",
    derive = "PartialEq",
    printcolumn = r#"{"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPPeerConfigSpec {
    /// Transport settings; defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<CiliumBGPTransport>,
    /// Timers; defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timers: Option<CiliumBGPTimers>,
    /// A Secret (in the BGP secrets namespace) whose `password` key is the TCP MD5 key; no
    /// authentication when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_secret_ref: Option<String>,
    /// Graceful restart (RFC 4724); off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_restart: Option<CiliumBGPNeighborGracefulRestart>,
    /// TTL of packets to an eBGP peer (1: single hop); ignored for iBGP peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 255), extend("default" = 1))]
    pub ebgp_multihop: Option<i32>,
    /// Families to negotiate, each with the advertisements it carries; IPv6 and IPv4
    /// unicast (without advertisements) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub families: Option<Vec<CiliumBGPFamilyWithAdverts>>,
}

impl CiliumBGPPeerConfigSpec {
    /// The spec with every default filled in, as Cilium's agent sees it.
    pub fn with_defaults(&self) -> CiliumBGPPeerConfigSpec {
        let mut s = self.clone();
        let t = s.transport.get_or_insert_with(Default::default);
        if t.peer_port.unwrap_or(0) == 0 {
            t.peer_port = Some(DEFAULT_PEER_PORT);
        }
        let timers = s.timers.get_or_insert_with(Default::default);
        for (v, d) in [
            (
                &mut timers.connect_retry_time_seconds,
                DEFAULT_CONNECT_RETRY_TIME,
            ),
            (&mut timers.hold_time_seconds, DEFAULT_HOLD_TIME),
            (&mut timers.keep_alive_time_seconds, DEFAULT_KEEPALIVE_TIME),
        ] {
            if v.unwrap_or(0) == 0 {
                *v = Some(d);
            }
        }
        s.ebgp_multihop.get_or_insert(DEFAULT_EBGP_MULTIHOP);
        let gr = s.graceful_restart.get_or_insert_with(Default::default);
        if gr.restart_time_seconds.unwrap_or(0) == 0 {
            gr.restart_time_seconds = Some(DEFAULT_RESTART_TIME);
        }
        if s.families.as_ref().is_none_or(Vec::is_empty) {
            s.families = Some(
                ["ipv6", "ipv4"]
                    .map(|afi| CiliumBGPFamilyWithAdverts {
                        afi: afi.into(),
                        safi: "unicast".into(),
                        advertisements: None,
                    })
                    .to_vec(),
            );
        }
        s
    }
}

/// Transport settings of a peer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPTransport {
    /// The peer's TCP port (179).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535), extend("default" = 179))]
    pub peer_port: Option<i32>,
}

/// Timers of a peer. Changing the hold or keepalive time resets the session.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.keepAliveTimeSeconds) || !has(self.holdTimeSeconds) || self.keepAliveTimeSeconds <= self.holdTimeSeconds",
     "message": "keepAliveTimeSeconds must not be larger than holdTimeSeconds"}
]))]
pub struct CiliumBGPTimers {
    /// ConnectRetry time in seconds (120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2147483647), extend("default" = 120))]
    pub connect_retry_time_seconds: Option<i32>,
    /// Hold time in seconds (90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 3, max = 65535), extend("default" = 90))]
    pub hold_time_seconds: Option<i32>,
    /// Keepalive time in seconds (30); at most the hold time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535), extend("default" = 30))]
    pub keep_alive_time_seconds: Option<i32>,
}

/// Graceful restart settings of a peer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPNeighborGracefulRestart {
    /// Whether the capability is announced.
    pub enabled: bool,
    /// How long the peer keeps our routes while we restart, seconds (120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4095), extend("default" = 120))]
    pub restart_time_seconds: Option<i32>,
}

/// Every AFI Cilium's schema accepts.
pub const AFIS: [&str; 5] = ["ipv4", "ipv6", "l2vpn", "ls", "opaque"];
/// Every SAFI Cilium's schema accepts.
pub const SAFIS: [&str; 15] = [
    "unicast",
    "multicast",
    "mpls_label",
    "encapsulation",
    "vpls",
    "evpn",
    "ls",
    "sr_policy",
    "mup",
    "mpls_vpn",
    "mpls_vpn_multicast",
    "route_target_constraints",
    "flowspec_unicast",
    "flowspec_vpn",
    "key_value",
];

/// A family with the advertisements it carries.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPFamilyWithAdverts {
    /// Address family (`ipv4`, `ipv6`, …).
    #[schemars(extend("enum" = AFIS))]
    pub afi: String,
    /// Subsequent address family (`unicast`, …).
    #[schemars(extend("enum" = SAFIS))]
    pub safi: String,
    /// The `CiliumBGPAdvertisement`s (by label) whose routes this family carries; none
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertisements: Option<LabelSelector>,
}

/// Conditions of a `CiliumBGPPeerConfig`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct CiliumBGPPeerConfigStatus {
    /// The current conditions (`cilium.io/MissingAuthSecret`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

// ---------------------------------------------------------------------------------------
// CiliumBGPAdvertisement

/// Routes to advertise and their attributes, selected by peers' families (cluster-scoped).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "cilium.io",
    version = "v2",
    kind = "CiliumBGPAdvertisement",
    doc = "Routes to advertise (pod CIDRs, pool CIDRs, Service addresses) and their attributes.",
    plural = "ciliumbgpadvertisements",
    singular = "ciliumbgpadvertisement",
    shortname = "cbgpadvert",
    category = "cilium",
    category = "ciliumbgp",
    derive = "PartialEq",
    printcolumn = r#"{"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPAdvertisementSpec {
    /// The advertisements.
    pub advertisements: Vec<BGPAdvertisement>,
}

/// What an advertisement announces.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum BGPAdvertisementType {
    /// The node's pod CIDRs.
    #[default]
    PodCIDR,
    /// CIDRs of multi-pool IPAM pools.
    CiliumPodIPPool,
    /// Addresses of Services.
    Service,
}

/// One advertisement: a type, the objects of that type, and optional attributes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "self.advertisementType != 'Service' || has(self.service)",
     "message": "advertisementType Service needs the service field"}
]))]
pub struct BGPAdvertisement {
    /// What is advertised.
    pub advertisement_type: BGPAdvertisementType,
    /// Which Service addresses (for `Service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<BGPServiceOptions>,
    /// Objects of the advertised type; none when absent (for `PodCIDR`: not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Attributes of the advertised routes; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BGPAttributes>,
}

/// Service addresses to advertise.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BGPServiceOptions {
    /// Address kinds to advertise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1))]
    pub addresses: Vec<ServiceAddressType>,
    /// Prefix length IPv4 Service addresses are aggregated to.
    #[serde(
        rename = "aggregationLengthIPv4",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 0, max = 31), extend("format" = "int32"))]
    pub aggregation_length_ipv4: Option<i16>,
    /// Prefix length IPv6 Service addresses are aggregated to.
    #[serde(
        rename = "aggregationLengthIPv6",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 0, max = 127), extend("format" = "int32"))]
    pub aggregation_length_ipv6: Option<i16>,
}

/// Attributes set on advertised routes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BGPAttributes {
    /// Communities to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communities: Option<BGPCommunities>,
    /// LOCAL_PREF (iBGP peers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_preference: Option<i64>,
}

/// Well-known communities by name (RFC 1997, RFC 7999, RFC 8326, RFC 8642, …).
pub const WELL_KNOWN_COMMUNITIES: [(&str, u32); 14] = [
    ("internet", 0x0000_0000),
    ("planned-shut", 0xffff_0000),
    ("accept-own", 0xffff_0001),
    ("route-filter-translated-v4", 0xffff_0002),
    ("route-filter-v4", 0xffff_0003),
    ("route-filter-translated-v6", 0xffff_0004),
    ("route-filter-v6", 0xffff_0005),
    ("llgr-stale", 0xffff_0006),
    ("no-llgr", 0xffff_0007),
    ("blackhole", 0xffff_029a),
    ("no-export", 0xffff_ff01),
    ("no-advertise", 0xffff_ff02),
    ("no-export-subconfed", 0xffff_ff03),
    ("no-peer", 0xffff_ff04),
];

fn well_known_names(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let names: Vec<&str> = WELL_KNOWN_COMMUNITIES.iter().map(|(n, _)| *n).collect();
    schemars::json_schema!({
        "type": "array",
        "items": { "type": "string", "enum": names },
    })
}

fn standard_communities(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "type": "string", "pattern": STANDARD_COMMUNITY_PATTERN },
    })
}

fn large_communities(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "type": "string", "pattern": LARGE_COMMUNITY_PATTERN },
    })
}

/// Communities of advertised routes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BGPCommunities {
    /// RFC 1997 communities: `65000:100` or a 32-bit decimal number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "standard_communities")]
    pub standard: Vec<String>,
    /// Well-known communities by name (`no-export`, `blackhole`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "well_known_names")]
    pub well_known: Vec<String>,
    /// RFC 8092 large communities: `65000:1:2`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "large_communities")]
    pub large: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// CiliumBGPNodeConfigOverride

/// Per-node changes to the BGP instances of a node; its name is the node's (cluster-scoped).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "cilium.io",
    version = "v2",
    kind = "CiliumBGPNodeConfigOverride",
    doc = "Per-node overrides (router ID, ports, local addresses, AS) of a node's BGP instances; named after the node.",
    plural = "ciliumbgpnodeconfigoverrides",
    singular = "ciliumbgpnodeconfigoverride",
    shortname = "cbgpnodeoverride",
    category = "cilium",
    category = "ciliumbgp",
    derive = "PartialEq",
    printcolumn = r#"{"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPNodeConfigOverrideSpec {
    /// The instances to change, by name.
    #[schemars(length(min = 1))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub bgp_instances: Vec<CiliumBGPNodeConfigInstanceOverride>,
}

/// Changes to one BGP instance of the node.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPNodeConfigInstanceOverride {
    /// The instance's name.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// The BGP identifier (unique among the instances).
    #[serde(rename = "routerID", default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "ipv4"))]
    pub router_id: Option<String>,
    /// The port the instance listens on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_port: Option<i32>,
    /// Changes to peers, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub peers: Option<Vec<CiliumBGPNodeConfigPeerOverride>>,
    /// The instance's AS.
    #[serde(rename = "localASN", default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4294967295_i64))]
    pub local_asn: Option<i64>,
}

/// Changes to one peer of an instance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPNodeConfigPeerOverride {
    /// The peer's name.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// The local address the session is made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = IP_ADDRESS_PATTERN))]
    pub local_address: Option<String>,
    /// Deprecated and without effect (the kernel picks the source port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_port: Option<i32>,
}

// ---------------------------------------------------------------------------------------
// CiliumBGPNodeConfig

/// A node's BGP instances (named after the node; cluster-scoped), with their status.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "cilium.io",
    version = "v2",
    kind = "CiliumBGPNodeConfig",
    doc = "A node's BGP instances, named after the node, with the state of their peers in its status.",
    plural = "ciliumbgpnodeconfigs",
    singular = "ciliumbgpnodeconfig",
    shortname = "cbgpnode",
    category = "cilium",
    category = "ciliumbgp",
    status = "CiliumBGPNodeStatus",
    derive = "PartialEq",
    printcolumn = r#"{"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPNodeSpec {
    /// The node's BGP instances.
    #[schemars(length(min = 1, max = 16))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub bgp_instances: Vec<CiliumBGPNodeInstance>,
}

/// One BGP instance of a node.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPNodeInstance {
    /// The instance's name.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// The instance's AS.
    #[serde(rename = "localASN", default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4294967295_i64))]
    pub local_asn: Option<i64>,
    /// The BGP identifier; the node's address when absent.
    #[serde(rename = "routerID", default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "ipv4"))]
    pub router_id: Option<String>,
    /// The port the instance listens on; it does not listen when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub local_port: Option<i32>,
    /// The instance's peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub peers: Option<Vec<CiliumBGPNodePeer>>,
}

/// A peer of a node's BGP instance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.peerInterface) || !has(self.peerAddress) || self.peerAddress.lowerAscii().startsWith('fe80:')",
     "message": "with peerInterface, peerAddress must be an IPv6 link-local address (fe80::/10)"},
    {"rule": "!has(self.peerInterface) || !has(self.localAddress)",
     "message": "localAddress and peerInterface exclude each other"},
    {"rule": "has(self.peerAddress) || has(self.autoDiscovery)",
     "message": "peerAddress or autoDiscovery is required"}
]))]
pub struct CiliumBGPNodePeer {
    /// The peer's name.
    pub name: String,
    /// The peer's IPv4 or IPv6 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = IP_ADDRESS_PATTERN))]
    pub peer_address: Option<String>,
    /// The peer's AS (0: whatever its OPEN announces).
    #[serde(rename = "peerASN", default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 4294967295_i64))]
    pub peer_asn: Option<i64>,
    /// Finds the peer's address instead of `peerAddress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_discovery: Option<BGPAutoDiscovery>,
    /// The local address the session is made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = IP_ADDRESS_PATTERN))]
    pub local_address: Option<String>,
    /// The interface towards a link-local peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub peer_interface: Option<String>,
    /// The `CiliumBGPPeerConfig` with the peer's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_config_ref: Option<PeerConfigReference>,
}

/// What the node's agent observed of its BGP instances.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPNodeStatus {
    /// Each instance's state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub bgp_instances: Vec<CiliumBGPNodeInstanceStatus>,
    /// The current conditions (`cilium.io/BGPReconcileError`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// The state of one BGP instance of a node.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPNodeInstanceStatus {
    /// The instance's name.
    pub name: String,
    /// The instance's AS.
    #[serde(rename = "localASN", default, skip_serializing_if = "Option::is_none")]
    pub local_asn: Option<i64>,
    /// Each peer's state.
    #[serde(rename = "peers", default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub peer_statuses: Vec<CiliumBGPNodePeerStatus>,
}

/// The state of one peer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPNodePeerStatus {
    /// The peer's name.
    pub name: String,
    /// The peer's address.
    pub peer_address: String,
    /// The peer's AS.
    #[serde(rename = "peerASN", default, skip_serializing_if = "Option::is_none")]
    pub peer_asn: Option<i64>,
    /// The session's last known state (`idle`, `connect`, `active`, `opensent`,
    /// `openconfirm`, `established`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peering_state: Option<String>,
    /// The timers in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timers: Option<CiliumBGPTimersState>,
    /// When the session was established (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub established_time: Option<String>,
    /// Routes exchanged, per family.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_count: Vec<BGPFamilyRouteCount>,
}

/// The negotiated timers of a session.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPTimersState {
    /// The hold time in force, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_hold_time_seconds: Option<i32>,
    /// The keepalive interval in force, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_keepalive_seconds: Option<i32>,
}

/// Routes exchanged with a peer in one family.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BGPFamilyRouteCount {
    /// Address family.
    #[schemars(extend("enum" = AFIS))]
    pub afi: String,
    /// Subsequent address family.
    #[schemars(extend("enum" = SAFIS))]
    pub safi: String,
    /// Routes received from the peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<i32>,
    /// Routes advertised to the peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertised: Option<i32>,
}

#[cfg(test)]
mod tests;
