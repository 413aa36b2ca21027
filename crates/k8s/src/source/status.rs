//! Status write-back: the node's `CiliumBGPNodeConfig` (created by the agent from the
//! `CiliumBGPPeeringPolicy` in force when no other writer made one, as Cilium's operator
//! would) gets the state of every peer — session state, established time, negotiated
//! timers, routes received and advertised per family — and a `cilium.io/BGPReconcileError`
//! condition; problems (two policies selecting the node, a policy that cannot be applied)
//! become Warning Events on the Node.
//!
//! The conversions ([`node_config_spec`], [`peer_states`], [`node_status`]) are pure
//! functions; [`StatusWriter`] does the requests.

use std::net::IpAddr;
use std::path::PathBuf;

use bgp::runtime::api::Request;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client, Resource};
use serde_json::{json, Value};
use tracing::{debug, info, warn};

use super::{Observed, SourceError};
use crate::crd::selects;
use crate::crd::v2::{
    BGPFamilyRouteCount, CiliumBGPNodeConfig, CiliumBGPNodeInstance, CiliumBGPNodeInstanceStatus,
    CiliumBGPNodePeer, CiliumBGPNodePeerStatus, CiliumBGPNodeSpec, CiliumBGPNodeStatus,
    CiliumBGPTimersState, CONDITION_RECONCILE_ERROR,
};
use crate::crd::v2alpha1::CiliumBGPPeeringPolicy;

/// The label that marks the `CiliumBGPNodeConfig`s the agent made (and may change or delete).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value.
pub const MANAGED_BY: &str = "bgplane";
/// The reporting controller of the agent's Events.
pub const REPORTER: &str = "bgplane-agent";

/// The `CiliumBGPNodeConfig` spec that stands for a peering policy: one instance per
/// virtual router (`instance-<localASN>`), one peer per neighbor (named by its address).
/// `None` when the policy has no virtual router.
pub fn node_config_spec(policy: &CiliumBGPPeeringPolicy) -> Option<CiliumBGPNodeSpec> {
    let mut instances: Vec<CiliumBGPNodeInstance> = Vec::new();
    for (i, vr) in policy.spec.virtual_routers.iter().enumerate() {
        let mut name = format!("instance-{}", vr.local_asn);
        if instances.iter().any(|x| x.name == name) {
            name = format!("{name}-{i}");
        }
        let peers = vr
            .neighbors
            .iter()
            .map(|n| {
                let address = n
                    .peer_address
                    .split_once('/')
                    .map_or(n.peer_address.as_str(), |(a, _)| a)
                    .to_string();
                CiliumBGPNodePeer {
                    name: address.clone(),
                    peer_address: Some(address),
                    peer_asn: Some(n.peer_asn),
                    ..Default::default()
                }
            })
            .collect();
        instances.push(CiliumBGPNodeInstance {
            name,
            local_asn: Some(vr.local_asn),
            peers: Some(peers),
            ..Default::default()
        });
    }
    (!instances.is_empty()).then_some(CiliumBGPNodeSpec {
        bgp_instances: instances,
    })
}

/// One neighbor of the embedded router, as its API reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerState {
    /// The neighbor's address.
    pub address: Option<IpAddr>,
    /// Our AS towards it.
    pub local_asn: Option<i64>,
    /// The AS it announced (once Established).
    pub peer_asn: Option<i64>,
    /// FSM state (`Idle`, …, `Established`).
    pub state: String,
    /// Seconds in that state.
    pub state_secs: u64,
    /// Negotiated hold time and keepalive (Established only).
    pub timers: Option<(u16, u16)>,
    /// Negotiated families (`ipv4-unicast`, …).
    pub families: Vec<String>,
    /// Prefixes received, IPv4 and IPv6.
    pub received: [u64; 2],
    /// Prefixes advertised, IPv4 and IPv6.
    pub advertised: [u64; 2],
}

/// Reads the answer of the router API's `neighbors` request (the whole response, or its
/// `data`).
pub fn peer_states(neighbors: &Value) -> Vec<PeerState> {
    let neighbors = neighbors.get("data").unwrap_or(neighbors);
    let pair = |v: Option<&Value>| -> [u64; 2] {
        let at = |i: usize| {
            v.and_then(|v| v.get(i))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        [at(0), at(1)]
    };
    neighbors
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            let session = n.get("session").filter(|s| !s.is_null());
            let u16_of = |s: &Value, k: &str| {
                s.get(k)
                    .and_then(Value::as_u64)
                    .and_then(|v| u16::try_from(v).ok())
            };
            PeerState {
                address: n
                    .get("address")
                    .and_then(Value::as_str)
                    .and_then(|a| a.parse().ok()),
                local_asn: n.get("local_asn").and_then(Value::as_i64),
                peer_asn: n.get("peer_asn").and_then(Value::as_i64),
                state: n.get("state").and_then(Value::as_str).unwrap_or("").into(),
                state_secs: n.get("state_secs").and_then(Value::as_u64).unwrap_or(0),
                timers: session
                    .and_then(|s| Some((u16_of(s, "hold_time")?, u16_of(s, "keepalive")?))),
                families: session
                    .and_then(|s| s.get("families"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                received: pair(n.pointer("/counters/received")),
                advertised: pair(n.get("advertised")),
            }
        })
        .collect()
}

/// The status of a node's BGP instances from the router's peers. `error` is the agent's
/// last problem; `previous` keeps established times and condition transition times
/// stable across writes.
pub fn node_status(
    spec: &CiliumBGPNodeSpec,
    peers: &[PeerState],
    now: Timestamp,
    error: Option<&str>,
    previous: Option<&CiliumBGPNodeStatus>,
) -> CiliumBGPNodeStatus {
    let mut instances = Vec::new();
    for inst in &spec.bgp_instances {
        let mut statuses = Vec::new();
        for p in inst.peers.iter().flatten() {
            let address = p.peer_address.clone().unwrap_or_default();
            let ip: Option<IpAddr> = address
                .trim()
                .split('%')
                .next()
                .and_then(|a| a.parse().ok());
            // The router's neighbor at that address, preferring one of the instance's AS.
            let found = peers
                .iter()
                .filter(|s| ip.is_some() && s.address == ip)
                .max_by_key(|s| s.local_asn == inst.local_asn);
            let mut st = CiliumBGPNodePeerStatus {
                name: p.name.clone(),
                peer_address: address,
                peer_asn: p.peer_asn.filter(|a| *a != 0),
                ..Default::default()
            };
            if let Some(s) = found {
                st.peer_asn = st.peer_asn.or(s.peer_asn);
                st.peering_state = Some(s.state.to_lowercase());
                if s.state == "Established" {
                    st.established_time = Some(established_time(
                        now,
                        s.state_secs,
                        previous_peer(previous, &inst.name, &p.name)
                            .and_then(|x| x.established_time.as_deref()),
                    ));
                    st.timers = s.timers.map(|(hold, keepalive)| CiliumBGPTimersState {
                        applied_hold_time_seconds: Some(hold.into()),
                        applied_keepalive_seconds: Some(keepalive.into()),
                    });
                    st.route_count = route_counts(s);
                }
            }
            statuses.push(st);
        }
        instances.push(CiliumBGPNodeInstanceStatus {
            name: inst.name.clone(),
            local_asn: inst.local_asn,
            peer_statuses: statuses,
        });
    }
    let cond_status = if error.is_some() { "True" } else { "False" };
    let last_transition = previous
        .and_then(|p| {
            p.conditions
                .iter()
                .find(|c| c.type_ == CONDITION_RECONCILE_ERROR)
        })
        .filter(|c| c.status == cond_status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(Timestamp::from_second(now.as_second()).unwrap_or(now)));
    let condition = Condition {
        type_: CONDITION_RECONCILE_ERROR.into(),
        status: cond_status.into(),
        reason: if error.is_some() {
            "ReconcileFailed"
        } else {
            "Reconciled"
        }
        .into(),
        message: error.map(|e| truncate(e, 1024)).unwrap_or_default(),
        last_transition_time: last_transition,
        observed_generation: None,
    };
    CiliumBGPNodeStatus {
        bgp_instances: instances,
        conditions: vec![condition],
    }
}

fn previous_peer<'a>(
    previous: Option<&'a CiliumBGPNodeStatus>,
    instance: &str,
    peer: &str,
) -> Option<&'a CiliumBGPNodePeerStatus> {
    previous?
        .bgp_instances
        .iter()
        .find(|i| i.name == instance)?
        .peer_statuses
        .iter()
        .find(|p| p.name == peer)
}

/// `now - state_secs` in RFC 3339 (UTC, seconds); the previous value when it is within
/// two seconds of that (the uptime is whole seconds), so that an unchanged session does
/// not change the status.
fn established_time(now: Timestamp, state_secs: u64, previous: Option<&str>) -> String {
    let secs = i64::try_from(state_secs).unwrap_or(i64::MAX);
    let at = now
        .checked_sub(SignedDuration::from_secs(secs))
        .unwrap_or(now)
        .as_second();
    if let Some(p) = previous {
        if let Ok(t) = p.parse::<Timestamp>() {
            if (t.as_second() - at).abs() <= 2 {
                return p.to_string();
            }
        }
    }
    Timestamp::from_second(at).unwrap_or(now).to_string()
}

fn route_counts(s: &PeerState) -> Vec<BGPFamilyRouteCount> {
    let clamp = |v: u64| i32::try_from(v).unwrap_or(i32::MAX);
    s.families
        .iter()
        .filter_map(|f| {
            let (afi, safi) = f.split_once(['-', '/'])?;
            let i = match afi {
                "ipv4" => 0,
                "ipv6" => 1,
                _ => return None,
            };
            Some(BGPFamilyRouteCount {
                afi: afi.into(),
                safi: safi.into(),
                received: Some(clamp(s.received[i])),
                advertised: Some(clamp(s.advertised[i])),
            })
        })
        .collect()
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The merge patch that sets a status whole (empty lists included, so nothing of the
/// previous status survives).
pub fn status_patch(status: &CiliumBGPNodeStatus) -> Value {
    json!({ "status": {
        "bgpInstances": status.bgp_instances,
        "conditions": status.conditions,
    }})
}

fn is_ours(c: &CiliumBGPNodeConfig) -> bool {
    c.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .is_some_and(|v| v == MANAGED_BY)
}

/// Writes the node's BGP status and Events to the API server.
pub struct StatusWriter {
    client: Client,
    node: String,
    socket: PathBuf,
    recorder: Recorder,
    last_problem: Option<String>,
}

impl StatusWriter {
    /// A writer for `node`, asking the embedded router at `socket` for its peers.
    pub fn new(client: Client, node: String, socket: PathBuf) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: REPORTER.into(),
                instance: Some(node.clone()),
            },
        );
        StatusWriter {
            client,
            node,
            socket,
            recorder,
            last_problem: None,
        }
    }

    /// Writes what the agent did with `observed`: a Warning Event on the Node when its
    /// problem changed, and the `CiliumBGPNodeConfig` (created, updated or deleted with the
    /// policy in force when the agent manages it) with its status.
    pub async fn write(
        &mut self,
        observed: &Observed,
        agent: &crate::agent::Status,
    ) -> Result<(), SourceError> {
        let node = observed.snapshot.nodes.get(&self.node);
        self.report(observed, node, agent.error.as_deref()).await;
        let peers = if agent.running {
            match bgp::runtime::api::call(&self.socket, &Request::Neighbors { address: None }).await
            {
                Ok(v) => peer_states(&v),
                Err(e) => {
                    debug!(%e, "router API not answering: peers reported without state");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let policy = agent
            .policy
            .as_ref()
            .and_then(|p| observed.snapshot.policies.get(p));
        let want = policy.and_then(node_config_spec);
        let api: Api<CiliumBGPNodeConfig> = Api::all(self.client.clone());
        let err = |source| SourceError::Api {
            kind: "CiliumBGPNodeConfig",
            name: self.node.clone(),
            source,
        };
        let existing = api.get_opt(&self.node).await.map_err(err)?;
        let current = match (existing, want) {
            (None, None) => return Ok(()),
            (Some(c), None) if is_ours(&c) => {
                api.delete(&self.node, &DeleteParams::default())
                    .await
                    .map_err(err)?;
                info!(node = %self.node, "no policy in force: CiliumBGPNodeConfig deleted");
                return Ok(());
            }
            (Some(c), None) => c,
            (None, Some(spec)) => {
                let obj = self.new_config(node, spec);
                let c = api
                    .create(&PostParams::default(), &obj)
                    .await
                    .map_err(err)?;
                info!(node = %self.node, "CiliumBGPNodeConfig created");
                c
            }
            (Some(c), Some(spec)) if is_ours(&c) && c.spec != spec => {
                let patch = Patch::Merge(json!({ "spec": spec }));
                api.patch(&self.node, &PatchParams::default(), &patch)
                    .await
                    .map_err(err)?
            }
            (Some(c), Some(_)) => c,
        };
        let status = node_status(
            &current.spec,
            &peers,
            Timestamp::now(),
            agent.error.as_deref(),
            current.status.as_ref(),
        );
        if current.status.as_ref() != Some(&status) {
            api.patch_status(
                &self.node,
                &PatchParams::default(),
                &Patch::Merge(status_patch(&status)),
            )
            .await
            .map_err(err)?;
            debug!(node = %self.node, "CiliumBGPNodeConfig status written");
        }
        Ok(())
    }

    fn new_config(&self, node: Option<&Node>, spec: CiliumBGPNodeSpec) -> CiliumBGPNodeConfig {
        // Owned by the Node: deleted with it.
        let owner = node.and_then(|n| {
            Some(OwnerReference {
                api_version: "v1".into(),
                kind: "Node".into(),
                name: self.node.clone(),
                uid: n.metadata.uid.clone()?,
                ..Default::default()
            })
        });
        CiliumBGPNodeConfig {
            metadata: ObjectMeta {
                name: Some(self.node.clone()),
                labels: Some([(MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string())].into()),
                owner_references: owner.map(|o| vec![o]),
                ..Default::default()
            },
            spec,
            status: None,
        }
    }

    /// A Warning Event on the Node for a new problem (once per change of problem).
    async fn report(&mut self, observed: &Observed, node: Option<&Node>, problem: Option<&str>) {
        if problem == self.last_problem.as_deref() {
            return;
        }
        if let (Some(msg), Some(node)) = (problem, node) {
            let labels = node.metadata.labels.clone().unwrap_or_default();
            let selecting = observed
                .snapshot
                .policies
                .values()
                .filter(|p| selects(p.spec.node_selector.as_ref(), &labels))
                .count();
            let reason = if selecting > 1 {
                "ConflictingPolicies"
            } else {
                "BGPReconcileError"
            };
            let ev = Event {
                type_: EventType::Warning,
                reason: reason.into(),
                note: Some(truncate(msg, 1000)),
                action: "Reconcile".into(),
                secondary: None,
            };
            if let Err(e) = self.recorder.publish(&ev, &node.object_ref(&())).await {
                warn!(%e, node = %self.node, "cannot publish an Event on the Node");
                return; // tried again next time
            }
            info!(node = %self.node, reason, "Event published on the Node");
        }
        self.last_problem = problem.map(str::to_string);
    }
}

#[cfg(test)]
mod tests;
