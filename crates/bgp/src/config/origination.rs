//! Origination and session-wide features: static routes, redistribution, dynamic neighbor
//! ranges, graceful restart.

use std::net::IpAddr;

use bgp_wire::Prefix;
use serde::{Deserialize, Serialize};

use super::scalar_or_map::{scalar_or_map_de, Scalar};
use super::RouterConfig;

/// A static route: a blackhole or a route to a gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StaticRoute {
    /// Destination.
    pub prefix: Prefix,
    /// Gateway (none: a blackhole route).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<IpAddr>,
    /// Install as a blackhole (traffic dropped), like `ip route add blackhole`.
    #[serde(default)]
    pub blackhole: bool,
}

/// Which routes to announce besides `networks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Redistribute {
    /// Subnets of the router's interfaces (`redistribute connected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected: Option<RedistributeSource>,
    /// The configured static routes (`redistribute static`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#static: Option<RedistributeSource>,
}

/// A redistribution source: on, optionally through a policy (FRR's `route-map`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RedistributeSource {
    /// `connected: true`.
    On(bool),
    /// `connected: { policy: NAME }`.
    Policy {
        /// The policy filtering and setting attributes of the redistributed routes.
        policy: String,
    },
}

/// `{ policy: NAME }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyOnly {
    policy: String,
}

scalar_or_map_de!(
    RedistributeSource,
    PolicyOnly,
    "true, false or { policy: NAME }",
    |s| match s {
        Scalar::Bool(b) => Some(Ok(RedistributeSource::On(b))),
        _ => None,
    },
    |p: PolicyOnly| RedistributeSource::Policy { policy: p.policy }
);

impl RedistributeSource {
    /// Whether it is enabled, and its policy.
    pub fn enabled(src: &Option<RedistributeSource>) -> Option<Option<&str>> {
        match src {
            Some(RedistributeSource::On(true)) => Some(None),
            Some(RedistributeSource::Policy { policy }) => Some(Some(policy)),
            _ => None,
        }
    }
}

/// A range of dynamic neighbors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ListenRange {
    /// Addresses accepted.
    pub prefix: Prefix,
    /// The peer group giving their settings.
    pub peer_group: String,
}

/// Graceful restart (RFC 4724).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GracefulRestartConfig {
    /// Announce the capability: peers keep our routes while we restart, and we keep
    /// theirs (helper mode).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Seconds a peer keeps our routes while we restart (12 bits).
    #[serde(default = "default_restart_time")]
    pub restart_time: u16,
    /// Seconds we keep a restarting peer's routes after its session is back, waiting for
    /// its End-of-RIB.
    #[serde(default = "default_stale_time")]
    pub stale_time: u16,
}

fn yes() -> bool {
    true
}
fn default_restart_time() -> u16 {
    120
}
fn default_stale_time() -> u16 {
    360
}

impl Default for GracefulRestartConfig {
    fn default() -> Self {
        GracefulRestartConfig {
            enabled: true,
            restart_time: 120,
            stale_time: 360,
        }
    }
}

impl RouterConfig {
    pub(super) fn validate_origination(&self) -> Result<(), (String, String)> {
        for (i, r) in self.static_routes.iter().enumerate() {
            let k = format!("static-routes[{i}]");
            match (r.via, r.blackhole) {
                (None, false) => {
                    return Err((k, "needs `via: ADDRESS` or `blackhole: true`".into()))
                }
                (Some(_), true) => {
                    return Err((
                        format!("{k}.blackhole"),
                        "a blackhole has no gateway".into(),
                    ))
                }
                (Some(v), false) if v.is_ipv4() != matches!(r.prefix, Prefix::V4(_)) => {
                    return Err((
                        format!("{k}.via"),
                        format!("{v} is not of the family of {}", r.prefix),
                    ))
                }
                _ => {}
            }
        }
        if self.router.graceful_restart.restart_time > 4095 {
            return Err((
                "router.graceful-restart.restart-time".into(),
                "at most 4095 seconds (12 bits, RFC 4724 §3)".into(),
            ));
        }
        for (key, src) in [
            ("connected", &self.router.redistribute.connected),
            ("static", &self.router.redistribute.r#static),
        ] {
            if let Some(RedistributeSource::Policy { policy }) = src {
                if !self.policies.contains_key(policy) {
                    return Err((
                        format!("router.redistribute.{key}.policy"),
                        format!("unknown policy {policy:?}"),
                    ));
                }
            }
        }
        Ok(())
    }
}
