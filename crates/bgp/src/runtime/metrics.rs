//! Prometheus metrics (names follow Cilium's BGP control plane where they overlap, under a
//! `bgplane_` prefix) and the HTTP endpoint that serves them.

use std::net::{IpAddr, SocketAddr};

use bgp_wire::Family;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family as MetricFamily;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::api::{Request, Response};
use super::Actor;
use crate::config::{RemoteAsConfig, RemoteAsKind};
use crate::fsm::State;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabels {
    neighbor: String,
    neighbor_asn: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    neighbor: String,
    afi: String,
    safi: String,
    direction: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RibLabels {
    afi: String,
}

/// Cilium's `cilium_bgp_control_plane_session_state` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControlPlanePeerLabels {
    vrouter: String,
    neighbor: String,
    neighbor_asn: String,
}

/// Cilium's `cilium_bgp_control_plane_{advertised,received}_routes` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControlPlaneRouteLabels {
    vrouter: String,
    neighbor: String,
    neighbor_asn: String,
    afi: String,
    safi: String,
}

/// One neighbor, as the metrics see it.
#[derive(Clone, Debug)]
struct PeerSample {
    address: IpAddr,
    port: u16,
    /// Our AS towards it (Cilium's `vrouter`).
    local_asn: u32,
    /// Its configured AS (`internal`: ours), else the AS it announced, else 0.
    neighbor_asn: String,
    /// The announced AS, else the configured `remote-as` (the router's own metrics).
    remote_as: String,
    state: State,
    /// Families configured, as `[ipv4, ipv6]` flags.
    families: [bool; 2],
    received: [u64; 2],
    accepted: [u64; 2],
    advertised: [u64; 2],
    updates_received: u64,
    updates_sent: u64,
    /// Whether its BFD session is Up, if BFD runs for it.
    bfd_up: Option<bool>,
}

/// What the metrics show of the Loc-RIB.
#[derive(Clone, Copy, Debug, Default)]
struct RibSample {
    v4: usize,
    v6: usize,
    attr_sets: usize,
    /// The kernel FIB, when routes are written.
    fib: Option<FibSample>,
}

/// What the metrics show of the kernel FIB.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct FibSample {
    /// Routes of ours in the kernel.
    pub(super) routes: u64,
    /// Changes waiting for the writer.
    pub(super) pending: u64,
    /// Routes installed or replaced since the start.
    pub(super) installed: u64,
    /// Routes removed since the start.
    pub(super) removed: u64,
    /// Changes the kernel refused since the start.
    pub(super) refused: u64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FibLabels {
    result: String,
}

/// Renders the current metrics in the Prometheus text format.
pub(super) fn render(a: &Actor) -> String {
    let mut peers = Vec::new();
    for v in a.speaker.neighbor_views() {
        let Some(rt) = a.peers.get(&v.id) else {
            continue;
        };
        let configured = match &rt.cfg.remote_as {
            RemoteAsConfig::Asn(n) => Some(*n),
            RemoteAsConfig::Kind(RemoteAsKind::Internal) => Some(v.local_asn),
            RemoteAsConfig::Kind(RemoteAsKind::External) => None,
        };
        let fams = rt.cfg.families();
        peers.push(PeerSample {
            address: v.address,
            port: rt.cfg.port,
            local_asn: v.local_asn,
            neighbor_asn: configured.or(v.peer_asn).unwrap_or(0).to_string(),
            remote_as: v.peer_asn.map_or(v.remote_as.clone(), |x| x.to_string()),
            state: rt.state,
            families: [
                fams.contains(&Family::IPV4_UNICAST),
                fams.contains(&Family::IPV6_UNICAST),
            ],
            received: v.counters.received,
            accepted: v.counters.accepted,
            advertised: v.advertised,
            updates_received: v.counters.updates_received,
            updates_sent: v.counters.updates_sent,
            bfd_up: a.bfd_brief(v.address).map(|b| b.state == "up"),
        });
    }
    let r = a.speaker.rib();
    encode_samples(
        &peers,
        RibSample {
            v4: r.v4.len(),
            v6: r.v6.len(),
            attr_sets: r.attrs.len(),
            fib: a.fib_sample(),
        },
    )
}

fn encode_samples(peers: &[PeerSample], rib_sample: RibSample) -> String {
    let mut reg = Registry::with_prefix("bgplane");
    let cp_session_state = MetricFamily::<ControlPlanePeerLabels, Gauge>::default();
    let cp_advertised = MetricFamily::<ControlPlaneRouteLabels, Gauge>::default();
    let cp_received = MetricFamily::<ControlPlaneRouteLabels, Gauge>::default();
    let session_state = MetricFamily::<PeerLabels, Gauge>::default();
    let fsm_state = MetricFamily::<PeerLabels, Gauge>::default();
    let routes = MetricFamily::<RouteLabels, Gauge>::default();
    let updates = MetricFamily::<RouteLabels, Gauge>::default();
    let rib = MetricFamily::<RibLabels, Gauge>::default();
    let attr_sets = Gauge::<i64>::default();
    // Cilium's BGP control plane metrics, with Cilium's names, labels and values.
    reg.register(
        "bgp_control_plane_session_state",
        "Current state of the BGP session with the peer, Up = 1 or Down = 0 (cilium_bgp_control_plane_session_state)",
        cp_session_state.clone(),
    );
    reg.register(
        "bgp_control_plane_advertised_routes",
        "Number of routes advertised to the peer (cilium_bgp_control_plane_advertised_routes)",
        cp_advertised.clone(),
    );
    reg.register(
        "bgp_control_plane_received_routes",
        "Number of routes received from the peer (cilium_bgp_control_plane_received_routes)",
        cp_received.clone(),
    );
    // The router's own.
    reg.register(
        "bgp_session_state",
        "1 if the BGP session is Established, else 0",
        session_state.clone(),
    );
    reg.register(
        "bgp_session_fsm_state",
        "RFC 4271 FSM state: 1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, 6 Established",
        fsm_state.clone(),
    );
    reg.register(
        "bgp_routes",
        "Prefixes per neighbor, family and direction (received, accepted, advertised)",
        routes.clone(),
    );
    reg.register(
        "bgp_updates",
        "UPDATE messages per neighbor and direction",
        updates.clone(),
    );
    reg.register("bgp_rib_prefixes", "Prefixes in the Loc-RIB", rib.clone());
    reg.register(
        "bgp_attribute_sets",
        "Distinct interned attribute sets",
        attr_sets.clone(),
    );
    for p in peers {
        let up = i64::from(p.state == State::Established);
        // As Cilium: the neighbor with its port, the vrouter by its AS.
        let neighbor = SocketAddr::new(p.address, p.port).to_string();
        let vrouter = p.local_asn.to_string();
        cp_session_state
            .get_or_create(&ControlPlanePeerLabels {
                vrouter: vrouter.clone(),
                neighbor: neighbor.clone(),
                neighbor_asn: p.neighbor_asn.clone(),
            })
            .set(up);
        for (i, afi) in ["ipv4", "ipv6"].into_iter().enumerate() {
            if !p.families[i] {
                continue;
            }
            let l = ControlPlaneRouteLabels {
                vrouter: vrouter.clone(),
                neighbor: neighbor.clone(),
                neighbor_asn: p.neighbor_asn.clone(),
                afi: afi.into(),
                safi: "unicast".into(),
            };
            cp_advertised.get_or_create(&l).set(p.advertised[i] as i64);
            cp_received.get_or_create(&l).set(p.received[i] as i64);
        }
        let l = PeerLabels {
            neighbor: p.address.to_string(),
            neighbor_asn: p.remote_as.clone(),
        };
        session_state.get_or_create(&l).set(up);
        fsm_state.get_or_create(&l).set(match p.state {
            State::Idle => 1,
            State::Connect => 2,
            State::Active => 3,
            State::OpenSent => 4,
            State::OpenConfirm => 5,
            State::Established => 6,
        });
        for (i, afi) in ["ipv4", "ipv6"].into_iter().enumerate() {
            for (dir, n) in [
                ("received", p.received[i]),
                ("accepted", p.accepted[i]),
                ("advertised", p.advertised[i]),
            ] {
                let rl = RouteLabels {
                    neighbor: p.address.to_string(),
                    afi: afi.into(),
                    safi: "unicast".into(),
                    direction: dir.into(),
                };
                routes.get_or_create(&rl).set(n as i64);
            }
        }
        for (dir, n) in [("received", p.updates_received), ("sent", p.updates_sent)] {
            let rl = RouteLabels {
                neighbor: p.address.to_string(),
                afi: "all".into(),
                safi: "all".into(),
                direction: dir.into(),
            };
            updates.get_or_create(&rl).set(n as i64);
        }
    }
    if peers.iter().any(|p| p.bfd_up.is_some()) {
        let bfd = MetricFamily::<PeerLabels, Gauge>::default();
        reg.register(
            "bfd_session_state",
            "1 if the neighbor's BFD session is Up, else 0 (neighbors with BFD only)",
            bfd.clone(),
        );
        for p in peers {
            if let Some(up) = p.bfd_up {
                let l = PeerLabels {
                    neighbor: p.address.to_string(),
                    neighbor_asn: p.remote_as.clone(),
                };
                bfd.get_or_create(&l).set(i64::from(up));
            }
        }
    }
    if let Some(f) = rib_sample.fib {
        let routes = Gauge::<i64>::default();
        let pending = Gauge::<i64>::default();
        let changes = MetricFamily::<FibLabels, Counter>::default();
        reg.register(
            "fib_routes",
            "Routes of the router in the kernel (BGP and static)",
            routes.clone(),
        );
        reg.register(
            "fib_pending_changes",
            "Route changes waiting to be written to the kernel",
            pending.clone(),
        );
        reg.register(
            "fib_route_changes",
            "Route changes written to the kernel since the start, by result",
            changes.clone(),
        );
        routes.set(f.routes as i64);
        pending.set(f.pending as i64);
        for (result, n) in [
            ("installed", f.installed),
            ("removed", f.removed),
            ("refused", f.refused),
        ] {
            changes
                .get_or_create(&FibLabels {
                    result: result.into(),
                })
                .inc_by(n);
        }
    }
    rib.get_or_create(&RibLabels { afi: "ipv4".into() })
        .set(rib_sample.v4 as i64);
    rib.get_or_create(&RibLabels { afi: "ipv6".into() })
        .set(rib_sample.v6 as i64);
    attr_sets.set(rib_sample.attr_sets as i64);
    let mut out = String::new();
    if let Err(e) = encode(&mut out, &reg) {
        warn!(%e, "metrics encoding failed");
    }
    out
}

/// Serves `GET /metrics` over plain HTTP/1.1 on `addr`.
pub(super) async fn serve<F>(addr: SocketAddr, ask: F)
where
    F: Fn(Request) -> oneshot::Receiver<Response> + Send + Sync + 'static,
{
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => return warn!(%addr, %e, "metrics endpoint not available"),
    };
    info!(%addr, "metrics on /metrics");
    let ask = std::sync::Arc::new(ask);
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            continue;
        };
        let ask = ask.clone();
        tokio::spawn(async move {
            let mut req = [0u8; 1024];
            let n = s.read(&mut req).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&req[..n]);
            let (status, body) = if head.starts_with("GET /metrics") {
                match ask(Request::Metrics).await {
                    Ok(Response::Metrics(text)) => ("200 OK", text),
                    _ => ("503 Service Unavailable", "router busy\n".to_string()),
                }
            } else {
                ("404 Not Found", "try /metrics\n".to_string())
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(address: &str, state: State, families: [bool; 2]) -> PeerSample {
        PeerSample {
            address: address.parse().unwrap(),
            port: 179,
            local_asn: 65005,
            neighbor_asn: "65000".into(),
            remote_as: "65000".into(),
            state,
            families,
            received: [6, 2],
            accepted: [5, 2],
            advertised: [1, 3],
            updates_received: 7,
            updates_sent: 4,
            bfd_up: None,
        }
    }

    #[test]
    fn bfd_state_is_shown_for_the_neighbors_that_run_it() {
        let mut up = peer("10.0.5.1", State::Established, [true, false]);
        up.bfd_up = Some(true);
        let mut down = peer("10.0.5.2", State::Active, [true, false]);
        down.bfd_up = Some(false);
        let none = peer("10.0.5.3", State::Established, [true, false]);
        let text = encode_samples(&[up, down, none.clone()], RibSample::default());
        assert_eq!(
            sample_lines(&text, "bgplane_bfd_session_state"),
            [
                r#"bgplane_bfd_session_state{neighbor="10.0.5.1",neighbor_asn="65000"} 1"#,
                r#"bgplane_bfd_session_state{neighbor="10.0.5.2",neighbor_asn="65000"} 0"#,
            ]
        );
        let text = encode_samples(&[none], RibSample::default());
        assert!(!text.contains("bfd"), "{text}");
    }

    /// The samples of one family, sorted (a family's series come out in hash order).
    fn sample_lines(text: &str, family: &str) -> Vec<String> {
        let mut v: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{family}{{")))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_session_state_has_ciliums_name_labels_and_values_under_the_bgplane_prefix() {
        let text = encode_samples(
            &[
                peer("10.0.5.1", State::Established, [true, true]),
                peer("fd00:10::1", State::Active, [false, true]),
            ],
            RibSample::default(),
        );
        assert!(
            text.contains("# TYPE bgplane_bgp_control_plane_session_state gauge"),
            "{text}"
        );
        assert_eq!(
            sample_lines(&text, "bgplane_bgp_control_plane_session_state"),
            [
                r#"bgplane_bgp_control_plane_session_state{vrouter="65005",neighbor="10.0.5.1:179",neighbor_asn="65000"} 1"#,
                r#"bgplane_bgp_control_plane_session_state{vrouter="65005",neighbor="[fd00:10::1]:179",neighbor_asn="65000"} 0"#,
            ]
        );
    }

    #[test]
    fn route_counts_have_ciliums_names_and_labels_for_each_configured_family() {
        let text = encode_samples(
            &[
                peer("10.0.5.1", State::Established, [true, false]),
                peer("fd00:10::1", State::Active, [false, true]),
            ],
            RibSample::default(),
        );
        let advertised = sample_lines(&text, "bgplane_bgp_control_plane_advertised_routes");
        assert_eq!(
            advertised,
            [
                r#"bgplane_bgp_control_plane_advertised_routes{vrouter="65005",neighbor="10.0.5.1:179",neighbor_asn="65000",afi="ipv4",safi="unicast"} 1"#,
                r#"bgplane_bgp_control_plane_advertised_routes{vrouter="65005",neighbor="[fd00:10::1]:179",neighbor_asn="65000",afi="ipv6",safi="unicast"} 3"#,
            ]
        );
        let received = sample_lines(&text, "bgplane_bgp_control_plane_received_routes");
        assert_eq!(
            received,
            [
                r#"bgplane_bgp_control_plane_received_routes{vrouter="65005",neighbor="10.0.5.1:179",neighbor_asn="65000",afi="ipv4",safi="unicast"} 6"#,
                r#"bgplane_bgp_control_plane_received_routes{vrouter="65005",neighbor="[fd00:10::1]:179",neighbor_asn="65000",afi="ipv6",safi="unicast"} 2"#,
            ]
        );
    }

    #[test]
    fn the_fib_is_counted_when_routes_are_written_and_absent_otherwise() {
        let fib = FibSample {
            routes: 1000,
            pending: 24,
            installed: 1010,
            removed: 10,
            refused: 2,
        };
        let text = encode_samples(
            &[],
            RibSample {
                fib: Some(fib),
                ..RibSample::default()
            },
        );
        assert!(
            text.contains("# TYPE bgplane_fib_route_changes counter"),
            "{text}"
        );
        for line in [
            "bgplane_fib_routes 1000",
            "bgplane_fib_pending_changes 24",
            r#"bgplane_fib_route_changes_total{result="installed"} 1010"#,
            r#"bgplane_fib_route_changes_total{result="removed"} 10"#,
            r#"bgplane_fib_route_changes_total{result="refused"} 2"#,
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
        let none = encode_samples(&[], RibSample::default());
        assert!(!none.contains("bgplane_fib"), "{none}");
    }

    #[test]
    fn the_routers_own_metrics_stay_beside_ciliums() {
        let text = encode_samples(
            &[peer("10.0.5.1", State::OpenSent, [true, true])],
            RibSample {
                v4: 9,
                v6: 1,
                attr_sets: 3,
                fib: None,
            },
        );
        for line in [
            r#"bgplane_bgp_session_state{neighbor="10.0.5.1",neighbor_asn="65000"} 0"#,
            r#"bgplane_bgp_session_fsm_state{neighbor="10.0.5.1",neighbor_asn="65000"} 4"#,
            r#"bgplane_bgp_routes{neighbor="10.0.5.1",afi="ipv4",safi="unicast",direction="accepted"} 5"#,
            r#"bgplane_bgp_updates{neighbor="10.0.5.1",afi="all",safi="all",direction="sent"} 4"#,
            r#"bgplane_bgp_rib_prefixes{afi="ipv4"} 9"#,
            "bgplane_bgp_attribute_sets 3",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
    }
}
