//! `cilium.io/v2alpha1` `CiliumBGPPeeringPolicy`: the BGP API the seeds use. Field names,
//! defaults and validation follow Cilium's, so that users' manifests apply unchanged.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Communities, Family, GracefulRestart, ServiceAddressType};

/// Default TCP port of a neighbor.
pub const DEFAULT_PEER_PORT: i32 = 179;
/// Default TTL towards eBGP neighbors (no multihop).
pub const DEFAULT_EBGP_MULTIHOP_TTL: i32 = 1;
/// Default ConnectRetry time (RFC 4271 §8), seconds.
pub const DEFAULT_CONNECT_RETRY: i32 = 120;
/// Default hold time (RFC 4271 §4.2), seconds.
pub const DEFAULT_HOLD_TIME: i32 = 90;
/// Default keepalive time (RFC 4271 §8), seconds.
pub const DEFAULT_KEEPALIVE: i32 = 30;

/// A set of virtual BGP routers for the nodes its selector matches (cluster-scoped).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "cilium.io",
    version = "v2alpha1",
    kind = "CiliumBGPPeeringPolicy",
    doc = "BGP virtual routers, their neighbors and advertisements, for the nodes its selector matches.",
    plural = "ciliumbgppeeringpolicies",
    singular = "ciliumbgppeeringpolicy",
    shortname = "bgpp",
    category = "cilium",
    category = "ciliumbgp",
    printcolumn = r#"{"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPPeeringPolicySpec {
    /// The nodes this policy applies to; all nodes when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<LabelSelector>,
    /// The virtual routers to run on each selected node.
    #[schemars(length(min = 1))]
    pub virtual_routers: Vec<CiliumBGPVirtualRouter>,
}

/// One virtual router: a local AS, what it advertises, and its neighbors.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPVirtualRouter {
    /// The local AS (4-octet ASNs supported).
    #[serde(rename = "localASN")]
    #[schemars(range(min = 0, max = 4294967295_i64))]
    pub local_asn: i64,
    /// Advertise the node's pod CIDRs.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "exportPodCIDR"
    )]
    #[schemars(extend("default" = false))]
    pub export_pod_cidr: Option<bool>,
    /// Multi-pool IPAM pools whose CIDRs to advertise (bgplane has no multi-pool IPAM: the
    /// agent reports the field as unsupported and ignores it).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "podIPPoolSelector"
    )]
    pub pod_ip_pool_selector: Option<LabelSelector>,
    /// Services whose addresses to advertise; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_selector: Option<LabelSelector>,
    /// Which addresses of the selected services to advertise (LoadBalancerIP when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_advertisements: Option<Vec<ServiceAddressType>>,
    /// The neighbors.
    #[schemars(length(min = 1))]
    pub neighbors: Vec<CiliumBGPNeighbor>,
}

impl CiliumBGPVirtualRouter {
    /// `exportPodCIDR` with its default (false).
    pub fn exports_pod_cidr(&self) -> bool {
        self.export_pod_cidr.unwrap_or(false)
    }

    /// `serviceAdvertisements` with its default.
    pub fn service_address_types(&self) -> Vec<ServiceAddressType> {
        self.service_advertisements
            .clone()
            .unwrap_or_else(|| vec![ServiceAddressType::LoadBalancerIP])
    }
}

/// A neighbor of a virtual router.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPNeighbor {
    /// The peer's address in CIDR notation (`10.0.5.1/32`; a longer prefix is accepted and
    /// its address used, as Cilium does).
    pub peer_address: String,
    /// The peer's TCP port (179).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535), extend("default" = 179))]
    pub peer_port: Option<i32>,
    /// The peer's AS.
    #[serde(rename = "peerASN")]
    #[schemars(range(min = 0, max = 4294967295_i64))]
    pub peer_asn: i64,
    /// A Secret (in the BGP secrets namespace) whose `password` key is the TCP MD5 key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_secret_ref: Option<String>,
    /// TTL towards an eBGP neighbor (1: single hop).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "eBGPMultihopTTL"
    )]
    #[schemars(range(min = 1, max = 255), extend("default" = 1))]
    pub ebgp_multihop_ttl: Option<i32>,
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
    /// Graceful restart (RFC 4724); off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_restart: Option<GracefulRestart>,
    /// Families to negotiate (IPv4 and IPv6 unicast when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub families: Option<Vec<Family>>,
    /// Attributes added to selected routes advertised to this neighbor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertised_path_attributes: Option<Vec<CiliumBGPPathAttributes>>,
}

impl CiliumBGPNeighbor {
    /// Port with its default.
    pub fn port(&self) -> i32 {
        self.peer_port
            .filter(|p| *p != 0)
            .unwrap_or(DEFAULT_PEER_PORT)
    }

    /// eBGP multihop TTL with its default.
    pub fn multihop_ttl(&self) -> i32 {
        self.ebgp_multihop_ttl.unwrap_or(DEFAULT_EBGP_MULTIHOP_TTL)
    }

    /// ConnectRetry with its default.
    pub fn connect_retry(&self) -> i32 {
        self.connect_retry_time_seconds
            .filter(|t| *t != 0)
            .unwrap_or(DEFAULT_CONNECT_RETRY)
    }

    /// Hold time with its default.
    pub fn hold_time(&self) -> i32 {
        self.hold_time_seconds
            .filter(|t| *t != 0)
            .unwrap_or(DEFAULT_HOLD_TIME)
    }

    /// Keepalive with its default.
    pub fn keepalive(&self) -> i32 {
        self.keep_alive_time_seconds
            .filter(|t| *t != 0)
            .unwrap_or(DEFAULT_KEEPALIVE)
    }

    /// Families with their default (IPv4 and IPv6 unicast).
    pub fn families(&self) -> Vec<Family> {
        match &self.families {
            Some(f) if !f.is_empty() => f.clone(),
            _ => Family::default_pair(),
        }
    }
}

/// Path attributes for the routes of selected objects.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumBGPPathAttributes {
    /// `PodCIDR`, `CiliumLoadBalancerIPPool` or `CiliumPodIPPool`.
    pub selector_type: PathAttributesSelectorType,
    /// The objects of that type whose routes get the attributes; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Communities to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communities: Option<Communities>,
    /// LOCAL_PREF towards iBGP neighbors (ignored for eBGP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 4294967295_i64))]
    pub local_preference: Option<i64>,
}

/// What an `advertisedPathAttributes` selector selects.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PathAttributesSelectorType {
    /// The node's pod CIDRs (the selector matches nodes).
    #[default]
    PodCIDR,
    /// Load-balancer IP pools.
    CiliumLoadBalancerIPPool,
    /// Multi-pool IPAM pools.
    CiliumPodIPPool,
}
