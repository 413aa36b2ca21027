//! `CiliumBGPClusterConfig` and friends (cilium.io/v2) → [`Plan`]: the node's BGP
//! instances and peers from the cluster configuration that selects it, each peer's settings
//! from its `CiliumBGPPeerConfig`, what it is sent from the `CiliumBGPAdvertisement`s its
//! families select, and the node's `CiliumBGPNodeConfigOverride`.

use std::net::IpAddr;

use bgp_wire::Prefix;

use super::{
    asn, bfd, family_names, peer_address, range_msg, service_prefixes, Attributes, DesiredError,
    Inputs, Peer, Plan, Target, NO_MULTI_POOL,
};
use crate::crd::selects;
use crate::crd::v2::{
    BGPAdvertisementType, BGPAutoDiscoveryMode, CiliumBGPClusterConfig, CiliumBGPPeerConfigSpec,
};

/// The cluster configuration that selects the node, if any (more than one is an error).
pub(super) fn select<'a>(
    inp: &Inputs<'a>,
) -> Result<Option<&'a CiliumBGPClusterConfig>, DesiredError> {
    let selected: Vec<&CiliumBGPClusterConfig> = inp
        .v2
        .cluster_configs
        .iter()
        .filter(|c| selects(c.spec.node_selector.as_ref(), &inp.node.labels))
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
                kind: "CiliumBGPClusterConfig",
                policies,
            })
        }
    }
}

fn family_of(p: &Prefix) -> &'static str {
    match p {
        Prefix::V4(_) => "ipv4",
        Prefix::V6(_) => "ipv6",
    }
}

pub(super) fn plan(inp: &Inputs<'_>, cc: &CiliumBGPClusterConfig) -> Result<Plan, DesiredError> {
    let node = inp.node;
    let name = cc.metadata.name.clone().unwrap_or_default();
    let object = format!("CiliumBGPClusterConfig {name}");
    let invalid = |field: String, problem: String| DesiredError::Invalid {
        object: object.clone(),
        field,
        problem,
    };
    // The override is named after the node.
    let over = inp
        .v2
        .node_override
        .filter(|o| o.metadata.name.as_deref() == Some(node.name.as_str()));
    let over_of =
        |inst: &str| over.and_then(|o| o.spec.bgp_instances.iter().find(|x| x.name == inst));
    let mut router_asn = None;
    let mut router_id = None;
    let mut peers = Vec::new();
    let mut unsupported = std::collections::BTreeSet::new();
    for (i, inst) in cc.spec.bgp_instances.iter().enumerate() {
        let f = |rest: &str| format!("spec.bgpInstances[{i}].{rest}");
        let o = over_of(&inst.name);
        let local = o.and_then(|o| o.local_asn).or(inst.local_asn);
        let local_asn = local
            .and_then(asn)
            .ok_or_else(|| invalid(f("localASN"), range_msg()))?;
        router_asn.get_or_insert(local_asn);
        if router_id.is_none() {
            if let Some(id) = o.and_then(|o| o.router_id.as_deref()) {
                let id = id.parse().map_err(|_| DesiredError::Invalid {
                    object: format!("CiliumBGPNodeConfigOverride {}", node.name),
                    field: format!("spec.bgpInstances[{}].routerID", inst.name),
                    problem: format!("{id:?} is not an IPv4 address"),
                })?;
                router_id = Some(id);
            }
        }
        for (j, p) in inst.peers.iter().flatten().enumerate() {
            let field = f(&format!("peers[{j}]"));
            let pf = |rest: &str| format!("{field}.{rest}");
            let (spec, bfd) = match &p.peer_config_ref {
                None => (CiliumBGPPeerConfigSpec::default().with_defaults(), None),
                Some(r) => {
                    let pc = inp
                        .v2
                        .peer_configs
                        .and_then(|m| m.get(&r.name))
                        .ok_or_else(|| {
                            invalid(
                                pf("peerConfigRef.name"),
                                format!("CiliumBGPPeerConfig {:?} not found", r.name),
                            )
                        })?;
                    let bfd = bfd::from_annotations(pc.metadata.annotations.as_ref(), inp.secret)
                        .map_err(|(field, problem)| DesiredError::Invalid {
                        object: format!("CiliumBGPPeerConfig {}", r.name),
                        field,
                        problem,
                    })?;
                    (pc.spec.with_defaults(), bfd)
                }
            };
            let target = match (&p.peer_address, &p.auto_discovery) {
                (Some(a), _) => Target::Address(peer_address(a).ok_or_else(|| {
                    invalid(pf("peerAddress"), format!("{a:?} is not an IP address"))
                })?),
                (None, Some(d)) => match d.mode {
                    BGPAutoDiscoveryMode::Unnumbered => {
                        let i = d.unnumbered.as_ref().map(|u| u.interface.clone());
                        Target::Interface(i.ok_or_else(|| {
                            invalid(pf("autoDiscovery.unnumbered"), "missing".into())
                        })?)
                    }
                    BGPAutoDiscoveryMode::DefaultGateway => {
                        let fam = d
                            .default_gateway
                            .as_ref()
                            .map(|g| g.address_family.as_str())
                            .unwrap_or("ipv4");
                        let gw = node
                            .default_gateways
                            .iter()
                            .find(|g| (fam == "ipv4") == g.is_ipv4())
                            .ok_or_else(|| {
                                invalid(
                                    pf("autoDiscovery.defaultGateway"),
                                    format!("node {} has no {fam} default route", node.name),
                                )
                            })?;
                        Target::Address(*gw)
                    }
                },
                (None, None) => {
                    return Err(invalid(
                        pf("peerAddress"),
                        "a peer needs peerAddress or autoDiscovery".into(),
                    ))
                }
            };
            let timers = spec.timers.clone().unwrap_or_default();
            let (connect_retry, hold, keepalive) = (
                timers.connect_retry_time_seconds.unwrap_or(120),
                timers.hold_time_seconds.unwrap_or(90),
                timers.keep_alive_time_seconds.unwrap_or(30),
            );
            if keepalive > hold {
                return Err(invalid(
                    pf("peerConfigRef"),
                    format!(
                        "keepAliveTimeSeconds {keepalive} is larger than holdTimeSeconds {hold}"
                    ),
                ));
            }
            let fams = spec.families.clone().unwrap_or_default();
            let families = family_names(fams.iter().map(|x| (x.afi.as_str(), x.safi.as_str())));
            if families.is_empty() {
                return Err(invalid(
                    pf("peerConfigRef"),
                    "only ipv4/unicast and ipv6/unicast are supported".into(),
                ));
            }
            // What each family's advertisements select.
            let mut advertise: Vec<Prefix> = Vec::new();
            let mut attributes = Vec::new();
            for fam in &fams {
                let Some(sel) = &fam.advertisements else {
                    continue;
                };
                for adv in
                    inp.v2.advertisements.iter().filter(|a| {
                        selects(Some(sel), &a.metadata.labels.clone().unwrap_or_default())
                    })
                {
                    for (k, a) in adv.spec.advertisements.iter().enumerate() {
                        let prefixes: Vec<Prefix> = match a.advertisement_type {
                            BGPAdvertisementType::PodCIDR => node.pod_cidrs.clone(),
                            BGPAdvertisementType::Service => service_prefixes(
                                a.selector.as_ref(),
                                &a.service
                                    .as_ref()
                                    .map(|s| s.addresses.clone())
                                    .unwrap_or_default(),
                                inp.services,
                            ),
                            // Multi-pool IPAM is not part of bgplane's CNI.
                            BGPAdvertisementType::CiliumPodIPPool => {
                                unsupported.insert(format!(
                                    "CiliumBGPAdvertisement {}: spec.advertisements[{k}].advertisementType CiliumPodIPPool {NO_MULTI_POOL}",
                                    adv.metadata.name.as_deref().unwrap_or_default()
                                ));
                                Vec::new()
                            }
                        }
                        .into_iter()
                        .filter(|x| family_of(x) == fam.afi)
                        .collect();
                        for x in &prefixes {
                            if !advertise.contains(x) {
                                advertise.push(*x);
                            }
                        }
                        if let Some(at) = &a.attributes {
                            let c = at.communities.clone().unwrap_or_default();
                            attributes.push(Attributes {
                                prefixes,
                                standard: c.standard,
                                well_known: c.well_known,
                                large: c.large,
                                local_preference: at.local_preference,
                            });
                        }
                    }
                }
            }
            advertise.sort();
            let password = match &spec.auth_secret_ref {
                None => None,
                Some(secret) => Some((inp.secret)(secret, "password").ok_or_else(|| {
                    invalid(
                        pf("peerConfigRef"),
                        format!("authSecretRef: Secret {secret:?} not found or without a `password` key"),
                    )
                })?),
            };
            let local_address: Option<IpAddr> = match o
                .and_then(|o| o.peers.as_ref())
                .and_then(|ps| ps.iter().find(|x| x.name == p.name))
                .and_then(|x| x.local_address.as_deref())
            {
                None => None,
                Some(a) => Some(a.parse().map_err(|_| DesiredError::Invalid {
                    object: format!("CiliumBGPNodeConfigOverride {}", node.name),
                    field: format!("peers[{}].localAddress", p.name),
                    problem: format!("{a:?} is not an IP address"),
                })?),
            };
            peers.push(Peer {
                field: format!("{}/{}", inst.name, p.name),
                target,
                asn: p.peer_asn.and_then(asn),
                local_asn,
                local_address,
                port: spec
                    .transport
                    .as_ref()
                    .and_then(|t| t.peer_port)
                    .unwrap_or(179),
                multihop: spec.ebgp_multihop.unwrap_or(1),
                connect_retry,
                hold,
                keepalive,
                graceful_restart: spec
                    .graceful_restart
                    .as_ref()
                    .filter(|g| g.enabled)
                    .map(|g| g.restart_time_seconds.unwrap_or(120)),
                families,
                password,
                advertise,
                attributes,
                bfd,
            });
        }
    }
    let router_asn = router_asn.ok_or_else(|| {
        invalid(
            "spec.bgpInstances".into(),
            "at least one BGP instance is required".into(),
        )
    })?;
    let router_id = match router_id {
        Some(id) => id,
        None => node
            .router_id()
            .ok_or_else(|| DesiredError::NoRouterId(node.name.clone()))?,
    };
    Ok(Plan {
        object,
        name,
        router_asn,
        router_id,
        peers,
        unsupported,
    })
}
