//! Cilium's BGP custom resources, with Cilium's group, versions, field names, defaults and
//! validation, and the label-selector matching they rely on.

pub mod v2;
pub mod v2alpha1;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An AFI/SAFI pair.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct Family {
    /// `ipv4`, `ipv6`, `l2vpn`, `ls`, `opaque`.
    pub afi: String,
    /// `unicast`, `multicast`, ….
    pub safi: String,
}

impl Family {
    /// IPv4 and IPv6 unicast: what a neighbor negotiates when no family is given.
    pub fn default_pair() -> Vec<Family> {
        vec![
            Family {
                afi: "ipv4".into(),
                safi: "unicast".into(),
            },
            Family {
                afi: "ipv6".into(),
                safi: "unicast".into(),
            },
        ]
    }
}

/// Graceful restart of a neighbor (RFC 4724).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GracefulRestart {
    /// On or off.
    pub enabled: bool,
    /// Restart time in seconds (120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4095))]
    pub restart_time_seconds: Option<i32>,
}

impl GracefulRestart {
    /// Restart time with its default.
    pub fn restart_time(&self) -> i32 {
        self.restart_time_seconds.filter(|t| *t != 0).unwrap_or(120)
    }
}

/// Communities added to advertised routes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Communities {
    /// RFC 1997 communities: `65000:100` or a 32-bit number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub standard: Vec<String>,
    /// Well-known communities by name (`no-export`, `no-advertise`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub well_known: Vec<String>,
    /// RFC 8092 large communities: `65000:1:2`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub large: Vec<String>,
}

/// Which addresses of a Service to advertise.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum ServiceAddressType {
    /// `status.loadBalancer.ingress[].ip` of LoadBalancer Services.
    LoadBalancerIP,
    /// `spec.clusterIP(s)`.
    ClusterIP,
    /// `spec.externalIPs`.
    ExternalIP,
}

/// Whether a label selector matches a set of labels (an absent selector matches all,
/// as Cilium's node and service selectors do; an empty one too).
pub fn selects(selector: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    let Some(s) = selector else { return true };
    let by_labels = s
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let by_expressions = s.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        let value = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            // An unknown operator matches nothing, as the API server's validation would
            // have refused it.
            _ => false,
        }
    });
    by_labels && by_expressions
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn match_labels_and_expressions_must_all_hold() {
        let s = LabelSelector {
            match_labels: Some(labels(&[("rack", "rack0")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "NotIn".into(),
                values: Some(vec!["edge".into()]),
            }]),
        };
        assert!(selects(Some(&s), &labels(&[("rack", "rack0")])));
        assert!(!selects(Some(&s), &labels(&[("rack", "rack1")])));
        assert!(!selects(
            Some(&s),
            &labels(&[("rack", "rack0"), ("tier", "edge")])
        ));
        assert!(selects(None, &labels(&[])));
        assert!(selects(Some(&LabelSelector::default()), &labels(&[])));
    }

    #[test]
    fn exists_and_does_not_exist_look_at_keys_only() {
        let req = |op: &str| LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "bgp".into(),
                operator: op.into(),
                values: None,
            }]),
        };
        assert!(selects(Some(&req("Exists")), &labels(&[("bgp", "")])));
        assert!(!selects(
            Some(&req("DoesNotExist")),
            &labels(&[("bgp", "x")])
        ));
        assert!(!selects(Some(&req("Bogus")), &labels(&[("bgp", "x")])));
    }
}
