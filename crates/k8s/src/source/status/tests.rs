use super::*;
use crate::manifests::{parse, Object};

fn seed_policy(name: &str) -> CiliumBGPPeeringPolicy {
    let text =
        include_str!("../../../../../examples/cilium-bgp-cross-as/bgp-peering-policies.yaml");
    parse("policies.yaml", text)
        .unwrap()
        .into_iter()
        .find_map(|o| match o {
            Object::PeeringPolicy(p) if p.metadata.name.as_deref() == Some(name) => Some(*p),
            _ => None,
        })
        .unwrap()
}

fn neighbors() -> Value {
    json!([
        {
            "address": "10.0.5.1", "local_asn": 65005, "peer_asn": 65005, "remote_as": "65005",
            "state": "Established", "state_secs": 694,
            "session": { "hold_time": 90, "keepalive": 30, "families": ["ipv4-unicast", "ipv6-unicast"] },
            "counters": { "received": [6, 0] }, "advertised": [1, 0]
        },
        {
            "address": "10.0.9.9", "local_asn": 65005, "peer_asn": null, "remote_as": "65009",
            "state": "Active", "state_secs": 3, "session": null,
            "counters": { "received": [0, 0] }, "advertised": [0, 0]
        }
    ])
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn a_policy_becomes_one_instance_per_virtual_router_and_one_peer_per_neighbor() {
    let spec = node_config_spec(&seed_policy("rack0-65005")).unwrap();
    assert_eq!(spec.bgp_instances.len(), 1);
    let i = &spec.bgp_instances[0];
    assert_eq!(i.name, "instance-65005");
    assert_eq!(i.local_asn, Some(65005));
    let p = &i.peers.as_ref().unwrap()[0];
    assert_eq!(p.name, "10.0.5.1");
    assert_eq!(p.peer_address.as_deref(), Some("10.0.5.1"));
    assert_eq!(p.peer_asn, Some(65005));
}

#[test]
fn router_neighbors_are_read_with_state_timers_and_counts() {
    let p = peer_states(&neighbors());
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].address, Some("10.0.5.1".parse().unwrap()));
    assert_eq!(p[0].timers, Some((90, 30)));
    assert_eq!(p[0].received, [6, 0]);
    assert_eq!(p[0].advertised, [1, 0]);
    assert_eq!(p[1].state, "Active");
    assert_eq!(p[1].timers, None);
    assert_eq!(p[1].peer_asn, None);
}

#[test]
fn an_established_peer_gets_its_state_time_timers_and_route_counts() {
    let mut spec = node_config_spec(&seed_policy("rack0-65005")).unwrap();
    spec.bgp_instances[0]
        .peers
        .as_mut()
        .unwrap()
        .push(CiliumBGPNodePeer {
            name: "gone".into(),
            peer_address: Some("10.0.7.7".into()),
            ..Default::default()
        });
    let now = at("2025-03-01T12:11:34Z");
    let st = node_status(&spec, &peer_states(&neighbors()), now, None, None);
    let peers = &st.bgp_instances[0].peer_statuses;
    let p = &peers[0];
    assert_eq!(p.peering_state.as_deref(), Some("established"));
    assert_eq!(p.established_time.as_deref(), Some("2025-03-01T12:00:00Z"));
    assert_eq!(
        p.timers,
        Some(CiliumBGPTimersState {
            applied_hold_time_seconds: Some(90),
            applied_keepalive_seconds: Some(30)
        })
    );
    assert_eq!(p.route_count.len(), 2);
    assert_eq!(
        (
            p.route_count[0].afi.as_str(),
            p.route_count[0].received,
            p.route_count[0].advertised
        ),
        ("ipv4", Some(6), Some(1))
    );
    // A peer the router does not have: no state.
    assert_eq!(peers[1].peering_state, None);
    assert!(peers[1].route_count.is_empty());
    let c = &st.conditions[0];
    assert_eq!(
        (c.type_.as_str(), c.status.as_str()),
        (CONDITION_RECONCILE_ERROR, "False")
    );
}

#[test]
fn rewriting_an_unchanged_session_a_second_later_changes_nothing() {
    let spec = node_config_spec(&seed_policy("rack0-65005")).unwrap();
    let peers = peer_states(&neighbors());
    let first = node_status(&spec, &peers, at("2025-03-01T12:11:34Z"), None, None);
    let mut later = peers.clone();
    later[0].state_secs += 1;
    // A second later, and the uptime read rounded down a second.
    let second = node_status(
        &spec,
        &peers,
        at("2025-03-01T12:11:36Z"),
        None,
        Some(&first),
    );
    assert_eq!(second, first);
    let third = node_status(
        &spec,
        &later,
        at("2025-03-01T12:11:35Z"),
        None,
        Some(&first),
    );
    assert_eq!(third, first);
}

#[test]
fn an_error_sets_the_reconcile_condition_and_its_transition_time_only_when_it_flips() {
    let spec = node_config_spec(&seed_policy("rack0-65005")).unwrap();
    let ok = node_status(&spec, &[], at("2025-03-01T12:00:00Z"), None, None);
    let bad = node_status(
        &spec,
        &[],
        at("2025-03-01T12:05:00Z"),
        Some("two policies"),
        Some(&ok),
    );
    let c = &bad.conditions[0];
    assert_eq!(
        (c.status.as_str(), c.message.as_str()),
        ("True", "two policies")
    );
    assert_eq!(c.last_transition_time.0, at("2025-03-01T12:05:00Z"));
    let still = node_status(
        &spec,
        &[],
        at("2025-03-01T12:09:00Z"),
        Some("two policies"),
        Some(&bad),
    );
    assert_eq!(
        still.conditions[0].last_transition_time.0,
        at("2025-03-01T12:05:00Z")
    );
}

#[test]
fn the_status_patch_names_every_field_so_stale_ones_are_replaced() {
    let p = status_patch(&CiliumBGPNodeStatus::default());
    assert_eq!(p, json!({"status": {"bgpInstances": [], "conditions": []}}));
}
