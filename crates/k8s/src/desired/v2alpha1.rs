//! `CiliumBGPPeeringPolicy` (cilium.io/v2alpha1) → [`Plan`]: each virtual router's
//! neighbors are sent what the virtual router exports (pod CIDRs, Service addresses), with
//! the `advertisedPathAttributes` that select them.

use bgp_wire::Prefix;

use super::{
    asn, bfd, family_names, peer_address, range_msg, service_prefixes, Attributes, DesiredError,
    Inputs, Peer, Plan, Target, NO_MULTI_POOL,
};
use crate::crd::selects;
use crate::crd::v2alpha1::{CiliumBGPPeeringPolicy, PathAttributesSelectorType};

/// The policy that selects the node, if any (more than one is an error, as in Cilium).
pub(super) fn select<'a>(
    inp: &Inputs<'a>,
) -> Result<Option<&'a CiliumBGPPeeringPolicy>, DesiredError> {
    let selected: Vec<&CiliumBGPPeeringPolicy> = inp
        .policies
        .iter()
        .filter(|p| selects(p.spec.node_selector.as_ref(), &inp.node.labels))
        .collect();
    match selected.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => {
            let mut policies: Vec<String> = many
                .iter()
                .map(|p| p.metadata.name.clone().unwrap_or_default())
                .collect();
            policies.sort();
            Err(DesiredError::ConflictingPolicies {
                node: inp.node.name.clone(),
                kind: "CiliumBGPPeeringPolicy",
                policies,
            })
        }
    }
}

pub(super) fn plan(
    inp: &Inputs<'_>,
    policy: &CiliumBGPPeeringPolicy,
) -> Result<Plan, DesiredError> {
    let node = inp.node;
    let name = policy.metadata.name.clone().unwrap_or_default();
    let object = format!("CiliumBGPPeeringPolicy {name}");
    let invalid = |field: String, problem: String| DesiredError::Invalid {
        object: object.clone(),
        field,
        problem,
    };
    let router_id = node
        .router_id()
        .ok_or_else(|| DesiredError::NoRouterId(node.name.clone()))?;
    let bfd = bfd::from_annotations(policy.metadata.annotations.as_ref(), inp.secret)
        .map_err(|(field, problem)| invalid(field, problem))?;
    let vrs = &policy.spec.virtual_routers;
    let Some(first) = vrs.first() else {
        return Err(invalid(
            "spec.virtualRouters".into(),
            "at least one virtual router is required".into(),
        ));
    };
    let router_asn = asn(first.local_asn)
        .ok_or_else(|| invalid("spec.virtualRouters[0].localASN".into(), range_msg()))?;
    let mut peers = Vec::new();
    let mut unsupported = std::collections::BTreeSet::new();
    for (i, vr) in vrs.iter().enumerate() {
        let f = |rest: &str| format!("spec.virtualRouters[{i}].{rest}");
        let local_asn = asn(vr.local_asn).ok_or_else(|| invalid(f("localASN"), range_msg()))?;
        if vr.pod_ip_pool_selector.is_some() {
            unsupported.insert(format!(
                "{object}: {} {NO_MULTI_POOL}",
                f("podIPPoolSelector")
            ));
        }
        let pods: Vec<Prefix> = if vr.exports_pod_cidr() {
            node.pod_cidrs.clone()
        } else {
            Vec::new()
        };
        let services = service_prefixes(
            vr.service_selector.as_ref(),
            &vr.service_address_types(),
            inp.services,
        );
        let advertise: Vec<Prefix> = pods.iter().chain(services.iter()).copied().collect();
        for (j, n) in vr.neighbors.iter().enumerate() {
            let field = f(&format!("neighbors[{j}]"));
            let nf = |rest: &str| format!("{field}.{rest}");
            let address = peer_address(&n.peer_address).ok_or_else(|| {
                invalid(
                    nf("peerAddress"),
                    format!("{:?} is not an IP address in CIDR notation", n.peer_address),
                )
            })?;
            let peer_asn = asn(n.peer_asn).ok_or_else(|| invalid(nf("peerASN"), range_msg()))?;
            if n.keepalive() > n.hold_time() {
                return Err(invalid(
                    nf("keepAliveTimeSeconds"),
                    format!(
                        "{} is larger than holdTimeSeconds {}",
                        n.keepalive(),
                        n.hold_time()
                    ),
                ));
            }
            let fams = n.families();
            let families = family_names(fams.iter().map(|x| (x.afi.as_str(), x.safi.as_str())));
            if families.is_empty() {
                return Err(invalid(
                    nf("families"),
                    "only ipv4/unicast and ipv6/unicast are supported".into(),
                ));
            }
            let password = match &n.auth_secret_ref {
                None => None,
                Some(secret) => Some((inp.secret)(secret, "password").ok_or_else(|| {
                    invalid(
                        nf("authSecretRef"),
                        format!("Secret {secret:?} not found or without a `password` key"),
                    )
                })?),
            };
            let attributes = n
                .advertised_path_attributes
                .iter()
                .flatten()
                .enumerate()
                .filter_map(|(k, pa)| {
                    let prefixes = match pa.selector_type {
                        // The selector matches the node (CiliumNode labels are the Node's).
                        PathAttributesSelectorType::PodCIDR
                            if selects(pa.selector.as_ref(), &node.labels) =>
                        {
                            pods.clone()
                        }
                        // Services' load-balancer addresses stand for their pools.
                        PathAttributesSelectorType::CiliumLoadBalancerIPPool => services.clone(),
                        PathAttributesSelectorType::CiliumPodIPPool => {
                            unsupported.insert(format!(
                                "{object}: {}.selectorType CiliumPodIPPool {NO_MULTI_POOL}",
                                nf(&format!("advertisedPathAttributes[{k}]"))
                            ));
                            return None;
                        }
                        PathAttributesSelectorType::PodCIDR => return None,
                    };
                    let c = pa.communities.clone().unwrap_or_default();
                    Some(Attributes {
                        prefixes,
                        standard: c.standard,
                        well_known: c.well_known,
                        large: c.large,
                        local_preference: pa.local_preference,
                    })
                })
                .collect();
            peers.push(Peer {
                field,
                target: Target::Address(address),
                asn: Some(peer_asn),
                local_asn,
                local_address: None,
                port: n.port(),
                multihop: n.multihop_ttl(),
                connect_retry: n.connect_retry(),
                hold: n.hold_time(),
                keepalive: n.keepalive(),
                graceful_restart: n
                    .graceful_restart
                    .as_ref()
                    .filter(|g| g.enabled)
                    .map(|g| g.restart_time()),
                families,
                password,
                advertise: advertise.clone(),
                attributes,
                bfd: bfd.clone(),
            });
        }
    }
    Ok(Plan {
        object,
        name,
        router_asn,
        router_id,
        peers,
        unsupported,
    })
}
