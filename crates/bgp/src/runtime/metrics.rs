//! Prometheus metrics (names follow Cilium's BGP control plane where they overlap, under a
//! `bgplane_` prefix) and the HTTP endpoint that serves them.

use std::net::SocketAddr;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family as MetricFamily;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::api::{Request, Response};
use super::Actor;
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

/// Renders the current metrics in the Prometheus text format.
pub(super) fn render(a: &Actor) -> String {
    let mut reg = Registry::with_prefix("bgplane");
    let session_state = MetricFamily::<PeerLabels, Gauge>::default();
    let fsm_state = MetricFamily::<PeerLabels, Gauge>::default();
    let routes = MetricFamily::<RouteLabels, Gauge>::default();
    let updates = MetricFamily::<RouteLabels, Gauge>::default();
    let rib = MetricFamily::<RibLabels, Gauge>::default();
    let attr_sets = Gauge::<i64>::default();
    reg.register(
        "bgp_session_state",
        "1 if the BGP session is Established, else 0 (cilium_bgp_control_plane_session_state)",
        session_state.clone(),
    );
    reg.register(
        "bgp_session_fsm_state",
        "RFC 4271 FSM state: 1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, 6 Established",
        fsm_state.clone(),
    );
    reg.register(
        "bgp_routes",
        "Prefixes per neighbor, family and direction (received, accepted, advertised), as cilium_bgp_control_plane_session_total_routes",
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
    for v in a.speaker.neighbor_views() {
        let Some(rt) = a.peers.get(&v.id) else {
            continue;
        };
        let l = PeerLabels {
            neighbor: v.address.to_string(),
            neighbor_asn: v.peer_asn.map_or(v.remote_as.clone(), |x| x.to_string()),
        };
        session_state
            .get_or_create(&l)
            .set(i64::from(rt.state == State::Established));
        fsm_state.get_or_create(&l).set(match rt.state {
            State::Idle => 1,
            State::Connect => 2,
            State::Active => 3,
            State::OpenSent => 4,
            State::OpenConfirm => 5,
            State::Established => 6,
        });
        for (i, afi) in ["ipv4", "ipv6"].into_iter().enumerate() {
            for (dir, n) in [
                ("received", v.counters.received[i]),
                ("accepted", v.counters.accepted[i]),
                ("advertised", v.advertised[i]),
            ] {
                let rl = RouteLabels {
                    neighbor: v.address.to_string(),
                    afi: afi.into(),
                    safi: "unicast".into(),
                    direction: dir.into(),
                };
                routes.get_or_create(&rl).set(n as i64);
            }
        }
        for (dir, n) in [
            ("received", v.counters.updates_received),
            ("sent", v.counters.updates_sent),
        ] {
            let rl = RouteLabels {
                neighbor: v.address.to_string(),
                afi: "all".into(),
                safi: "all".into(),
                direction: dir.into(),
            };
            updates.get_or_create(&rl).set(n as i64);
        }
    }
    let r = a.speaker.rib();
    rib.get_or_create(&RibLabels { afi: "ipv4".into() })
        .set(r.v4.len() as i64);
    rib.get_or_create(&RibLabels { afi: "ipv6".into() })
        .set(r.v6.len() as i64);
    attr_sets.set(r.attrs.len() as i64);
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
