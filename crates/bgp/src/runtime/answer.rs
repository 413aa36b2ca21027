//! Answers to API requests, from the actor's state.

use bgp_wire::notification::{cease, codes};
use bgp_wire::{Family, Notification};

use super::api::{NeighborDetail, Request, Response, Soft, Summary, SummaryRow, Timers};
use super::session::ToSession;
use super::{parse_family, Actor};
use crate::fsm::State;
use crate::rib::table::PeerId;
use crate::speaker::show::RouteFilter;

pub(super) fn answer(a: &mut Actor, req: Request) -> Response {
    match req {
        Request::Summary => Response::Summary(summary(a)),
        Request::Neighbors { address } => {
            let mut v: Vec<NeighborDetail> = a
                .speaker
                .neighbor_views()
                .into_iter()
                .filter(|n| address.is_none_or(|x| x == n.address))
                .filter_map(|view| {
                    let rt = a.peers.get(&view.id)?;
                    Some(NeighborDetail {
                        state: rt.state.to_string(),
                        state_secs: rt.since.elapsed().as_secs(),
                        timers: Timers {
                            hold_time: rt.cfg.hold_time.unwrap_or(a.cfg.router.hold_time),
                            keepalive: rt.cfg.keepalive.or(a.cfg.router.keepalive).unwrap_or(0),
                            connect_retry: rt
                                .cfg
                                .connect_retry
                                .unwrap_or(a.cfg.router.connect_retry),
                        },
                        last_error: rt.last_error.clone(),
                        interface: rt.cfg.interface.clone(),
                        peer_group: rt.cfg.peer_group.clone(),
                        dynamic: rt.dynamic,
                        bfd: a.bfd_brief(view.address).map(|mut b| {
                            b.strict = rt.cfg.bfd.as_ref().is_some_and(|t| t.strict);
                            b.bgp_waiting = rt.bfd_pending.map(|p| p.name().into());
                            b
                        }),
                        view,
                    })
                })
                .collect();
            v.sort_by_key(|n| n.view.address);
            if let (Some(addr), true) = (address, v.is_empty()) {
                return Response::Error(format!("no neighbor {addr}"));
            }
            Response::Neighbors(v)
        }
        Request::Routes {
            prefix,
            longer,
            family,
            received_from,
            advertised_to,
        } => {
            let family = match family.as_deref().map(|f| (f, parse_family(f))) {
                None => None,
                Some((_, Some(f))) => Some(f),
                Some((f, None)) => {
                    return Response::Error(format!("unknown family {f:?}: use ipv4 or ipv6"))
                }
            };
            if let Some(addr) = advertised_to {
                let Some(id) = a.speaker.peer_by_address(addr) else {
                    return Response::Error(format!("no neighbor {addr}"));
                };
                let mut v = a.speaker.advertised_to(id, family);
                if let Some(p) = prefix {
                    v.retain(|r| {
                        r.prefix.parse().is_ok_and(
                            |x: bgp_wire::Prefix| if longer { p.contains(x) } else { x == p },
                        )
                    });
                }
                return Response::Advertised(v);
            }
            let received_from = match received_from {
                None => None,
                Some(addr) => match a.speaker.peer_by_address(addr) {
                    Some(id) => Some(id),
                    None => return Response::Error(format!("no neighbor {addr}")),
                },
            };
            Response::Routes(a.speaker.routes(&RouteFilter {
                prefix,
                longer,
                family,
                received_from,
            }))
        }
        Request::Reload => match a.reload(None) {
            Ok(m) => Response::Message(m),
            Err(e) => Response::Error(format!("reload refused, old configuration kept: {e}")),
        },
        Request::Clear { address, soft } => clear(a, address, soft),
        Request::Metrics => Response::Metrics(super::metrics::render(a)),
        // The actor hands this one to the BFD task (`Actor::bfd_peers`).
        Request::BfdPeers => Response::Error("BFD peers are answered by the BFD task".into()),
        Request::RunningConfig => match serde_norway::to_string(&a.cfg) {
            Ok(yaml) => Response::RunningConfig(super::api::RunningConfig {
                file: a
                    .options
                    .config_path
                    .as_ref()
                    .map(|p| p.display().to_string()),
                yaml,
            }),
            Err(e) => Response::Error(format!("cannot write the configuration as YAML: {e}")),
        },
    }
}

fn summary(a: &Actor) -> Summary {
    let rib = a.speaker.rib();
    let mut neighbors: Vec<SummaryRow> = a
        .speaker
        .neighbor_views()
        .into_iter()
        .filter_map(|v| {
            let rt = a.peers.get(&v.id)?;
            let state = if rt.cfg.shutdown_message().is_some() && rt.state == State::Idle {
                "Idle (Admin)".to_string()
            } else {
                rt.state.to_string()
            };
            Some(SummaryRow {
                neighbor: v.address,
                interface: rt.cfg.interface.clone(),
                dynamic: rt.dynamic,
                description: v.description.clone(),
                asn: v.peer_asn.map_or(v.remote_as.clone(), |x| x.to_string()),
                state,
                uptime_secs: rt.since.elapsed().as_secs(),
                msg_received: v.counters.updates_received,
                msg_sent: v.counters.updates_sent,
                received: v.counters.received.iter().sum(),
                accepted: v.counters.accepted.iter().sum(),
                advertised: v.advertised.iter().sum(),
                import_withheld: v.import_withheld,
                export_withheld: v.export_withheld,
            })
        })
        .collect();
    neighbors.sort_by_key(|n| n.neighbor);
    Summary {
        router_id: a.cfg.router.router_id.to_string(),
        asn: a.cfg.router.asn,
        rib_v4: rib.v4.len(),
        rib_v6: rib.v6.len(),
        attribute_sets: rib.attrs.len(),
        neighbors,
    }
}

fn clear(a: &mut Actor, address: Option<std::net::IpAddr>, soft: Option<Soft>) -> Response {
    let ids: Vec<PeerId> = match address {
        Some(addr) => match a.speaker.peer_by_address(addr) {
            Some(id) => vec![id],
            None => return Response::Error(format!("no neighbor {addr}")),
        },
        None => a.peers.keys().copied().collect(),
    };
    let mut done = Vec::new();
    for id in ids {
        let Some(rt) = a.peers.get(&id) else { continue };
        match soft {
            None => {
                let n = Notification::new(codes::CEASE, cease::ADMIN_RESET, vec![]);
                let n = a.admin_notification(id, n);
                let _ = rt.tx.try_send(ToSession::Stop(Some(n)));
                if rt.cfg.shutdown_message().is_none() {
                    let _ = rt.tx.try_send(ToSession::Start);
                }
                done.push(format!("{}: reset", rt.cfg.address));
            }
            Some(Soft::In) => {
                let families = a
                    .speaker
                    .peer(id)
                    .and_then(|p| p.session.as_ref())
                    .filter(|s| s.negotiated.route_refresh)
                    .map(|s| s.negotiated.families.clone());
                match families {
                    Some(fs) => {
                        for f in fs {
                            let _ = rt.tx.try_send(ToSession::RouteRefresh(f));
                        }
                        done.push(format!("{}: route refresh requested", rt.cfg.address));
                    }
                    None => done.push(format!(
                        "{}: not Established or no route refresh support: nothing done",
                        rt.cfg.address
                    )),
                }
            }
            Some(Soft::Out) => {
                a.speaker.resend(id, None::<Family>);
                done.push(format!("{}: resending", rt.cfg.address));
            }
        }
    }
    Response::Message(done.join("\n"))
}
