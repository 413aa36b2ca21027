//! Route reflection (RFC 4456), as seed 000's leafs do it for their Kubernetes nodes:
//! bgplane reflecting between FRR clients, FRR reflecting between bgplane clients, and
//! the loop checks on ORIGINATOR_ID and CLUSTER_LIST.
//!
//! Topologies: a reflector in namespace `rr`, each client or non-client in its own
//! namespace on its own link (link N: 10.9N.0.1 on the reflector's side, 10.9N.0.2 on
//! the other), everyone in AS 65000.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::Value;

use crate::harness::bgplane::Bgplane;
use crate::harness::frr_router::{self, FrrRouter};
use crate::harness::peer::wire::{self, flags};
use crate::harness::scripted::{established_peer, secs};
use crate::harness::{holds_for, timeouts, wait_for, Lab, Link, Need};

/// Everyone's AS.
const AS: u32 = 65000;
/// The reflector's cluster id.
const CLUSTER: &str = "10.0.0.100";

/// An FRR iBGP speaker with the reflector at `rr` as its only neighbor, announcing
/// `network`.
fn frr_ibgp(lab: &Lab, ns: &str, name: &str, id: &str, rr: Ipv4Addr, network: &str) -> FrrRouter {
    let n = rr.to_string();
    let conf = format!(
        "{}{}!\n address-family ipv4 unicast\n  neighbor {n} activate\n  network {network}\n \
         exit-address-family\n!\n",
        frr_router::router_bgp(AS, id),
        frr_router::neighbor(&n, "internal"),
    );
    FrrRouter::start(lab, ns, name, AS, &conf)
}

/// The reflector's view of reflected path `p`: ORIGINATOR_ID, CLUSTER_LIST and next hop
/// as expected.
fn check_reflected(
    who: &str,
    p: &Value,
    originator: &str,
    clusters: &[&str],
    next_hop: Ipv4Addr,
) -> Result<(), String> {
    let got = (
        frr_router::originator_id(p),
        frr_router::cluster_list(p),
        frr_router::next_hop(p),
    );
    let want = (
        Some(originator.to_string()),
        clusters.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        next_hop.to_string(),
    );
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{who}: want (originator, cluster list, next hop) {want:?}, got {got:?}: {p}"
        ))
    }
}

/// bgplane as reflector of three FRR clients and one FRR non-client; client i announces
/// 10.4.i.0/24 (router id 10.0.0.1i), the non-client 10.4.9.0/24 (10.0.0.19).
struct RrLab {
    clients: Vec<(FrrRouter, Link)>,
    non_client: (FrrRouter, Link),
    bgplane: Bgplane,
    _lab: Lab,
}

impl RrLab {
    fn start(test: &str, client_to_client: bool) -> Option<RrLab> {
        let lab = Lab::new(test, &[Need::Frr])?;
        let rr = lab.netns("rr");
        let mut links = Vec::new();
        for role in ["c1", "c2", "c3", "n"] {
            let ns = lab.netns(role);
            links.push((role, lab.link(&rr, &ns)));
        }
        let mut y = format!(
            "router:\n  asn: {AS}\n  router-id: 10.0.0.1\n  cluster-id: {CLUSTER}\n  \
             client-to-client-reflection: {client_to_client}\n  listen: [0.0.0.0]\n\
             neighbors:\n"
        );
        for (role, l) in &links {
            let client = *role != "n";
            y += &format!(
                "  - {{ address: {}, remote-as: internal, route-reflector-client: {client}, \
                 passive: true, hold-time: 9 }}\n",
                l.b4
            );
        }
        let bgplane = Bgplane::start_yaml(&lab, &rr, "bgplane", &y, false);
        let mut clients = Vec::new();
        let mut non_client = None;
        for (i, (role, l)) in links.into_iter().enumerate() {
            let ns = l.b_ns.clone();
            let (id, net) = if role == "n" {
                ("10.0.0.19".to_string(), "10.4.9.0/24".to_string())
            } else {
                (format!("10.0.0.1{}", i + 1), format!("10.4.{}.0/24", i + 1))
            };
            let f = frr_ibgp(&lab, &ns, role, &id, l.a4, &net);
            if role == "n" {
                non_client = Some((f, l));
            } else {
                clients.push((f, l));
            }
        }
        let non_client = non_client.expect("the non-client");
        let s = RrLab {
            clients,
            non_client,
            bgplane,
            _lab: lab,
        };
        for (f, l) in s.clients.iter().chain([&s.non_client]) {
            f.wait_established(&l.a4.to_string());
            s.bgplane.wait_established(IpAddr::V4(l.b4));
        }
        Some(s)
    }
}

#[test]
fn bgplane_reflects_routes_between_frr_clients_with_originator_id_and_cluster_list() {
    let Some(s) = RrLab::start("rr-c2c", true) else {
        return;
    };
    let everyone: Vec<&(FrrRouter, Link)> = s.clients.iter().chain([&s.non_client]).collect();
    for (i, (from, from_link)) in s.clients.iter().enumerate() {
        let prefix = format!("10.4.{}.0/24", i + 1);
        let originator = format!("10.0.0.1{}", i + 1);
        for (to, _) in everyone.iter().filter(|(f, _)| f.name != from.name) {
            let what = format!("{} to hold {}'s {prefix} as reflected", to.name, from.name);
            wait_for(&what, timeouts::ROUTES, || {
                let p = to.path(&prefix)?;
                check_reflected(&to.name, &p, &originator, &[CLUSTER], from_link.b4)
            });
        }
    }
    // The non-client's route reaches every client, reflected with the same attributes.
    let (n, n_link) = &s.non_client;
    for (c, _) in &s.clients {
        wait_for(
            &format!("{} to hold {}'s 10.4.9.0/24", c.name, n.name),
            timeouts::ROUTES,
            || {
                let p = c.path("10.4.9.0/24")?;
                check_reflected(&c.name, &p, "10.0.0.19", &[CLUSTER], n_link.b4)
            },
        );
    }
}

#[test]
fn without_client_to_client_reflection_client_routes_reach_only_non_clients() {
    let Some(s) = RrLab::start("rr-noc2c", false) else {
        return;
    };
    let (n, _) = &s.non_client;
    let (c1, c1_link) = &s.clients[0];
    // Each client's route reaches the non-client, reflected.
    for (i, (c, l)) in s.clients.iter().enumerate() {
        let prefix = format!("10.4.{}.0/24", i + 1);
        let originator = format!("10.0.0.1{}", i + 1);
        wait_for(
            &format!("{} to hold {}'s {prefix}", n.name, c.name),
            timeouts::ROUTES,
            || {
                let p = n.path(&prefix)?;
                check_reflected(&n.name, &p, &originator, &[CLUSTER], l.b4)
            },
        );
    }
    // The non-client's route still reaches the clients (their sessions carry routes).
    for (c, _) in &s.clients {
        wait_for(
            &format!("{} to hold the non-client's 10.4.9.0/24", c.name),
            timeouts::ROUTES,
            || c.path("10.4.9.0/24").map(|_| ()),
        );
    }
    assert!(
        s.bgplane
            .path_from("10.4.1.0/24", IpAddr::V4(c1_link.b4))
            .expect("bgplane's routes")
            .is_some(),
        "bgplane itself holds {}'s route",
        c1.name
    );
    holds_for(
        "no client holding another client's route",
        Duration::from_secs(3),
        || {
            for (i, (c, _)) in s.clients.iter().enumerate() {
                for j in (1..=3).filter(|&j| j != i + 1) {
                    c.lacks(&format!("10.4.{j}.0/24"))?;
                }
            }
            Ok(())
        },
    );
}

/// FRR as reflector (cluster id 10.0.0.100) of bgplane clients a (10.0.0.11), b
/// (10.0.0.12) and c (10.0.0.13, configured with the reflector's cluster id); each
/// announces 10.2.1N.0/24.
#[test]
fn frr_reflects_routes_between_bgplane_clients_and_a_client_of_the_same_cluster_refuses_them() {
    let Some(lab) = Lab::new("rr-frr", &[Need::Frr]) else {
        return;
    };
    let rr = lab.netns("rr");
    let mut conf = frr_router::router_bgp(AS, "10.0.0.1");
    conf += &format!(" bgp cluster-id {CLUSTER}\n");
    let mut links = Vec::new();
    for role in ["a", "b", "c"] {
        let ns = lab.netns(role);
        let l = lab.link(&rr, &ns);
        conf += &frr_router::neighbor(&l.b4.to_string(), "internal");
        links.push(l);
    }
    conf += "!\n address-family ipv4 unicast\n";
    for l in &links {
        conf += &format!(
            "  neighbor {0} activate\n  neighbor {0} route-reflector-client\n",
            l.b4
        );
    }
    conf += " exit-address-family\n!\n";
    let frr = FrrRouter::start(&lab, &rr, "frr", AS, &conf);
    let mut clients = Vec::new();
    for (i, l) in links.iter().enumerate() {
        let n = i + 1;
        let cluster = if n == 3 {
            format!("  cluster-id: {CLUSTER}\n")
        } else {
            String::new()
        };
        let y = format!(
            "router:\n  asn: {AS}\n  router-id: 10.0.0.1{n}\n{cluster}  listen: [{}]\n\
             networks: [10.2.1{n}.0/24]\n\
             neighbors:\n  - {{ address: {}, remote-as: internal, hold-time: 9, connect-retry: 1 }}\n",
            l.b4, l.a4
        );
        let name = ["a", "b", "c"][i];
        clients.push(Bgplane::start_yaml(&lab, &l.b_ns, name, &y, false));
    }
    for (bg, l) in clients.iter().zip(&links) {
        bg.wait_established(IpAddr::V4(l.a4));
        frr.wait_established(&l.b4.to_string());
    }
    let path_at = |i: usize, prefix: &str| -> Result<Value, String> {
        let from = IpAddr::V4(links[i].a4);
        clients[i]
            .path_from(prefix, from)?
            .ok_or_else(|| format!("client {} has no {prefix} from the reflector", i + 1))
    };
    // a and b receive each other's routes (and c's), reflected by FRR.
    for (at, from) in [(0, 1), (1, 0), (0, 2), (1, 2)] {
        let prefix = format!("10.2.1{}.0/24", from + 1);
        let originator = format!("10.0.0.1{}", from + 1);
        wait_for(
            &format!("client {} to hold client {}'s {prefix}", at + 1, from + 1),
            timeouts::ROUTES,
            || {
                let p = path_at(at, &prefix)?;
                let clusters: Vec<&str> = p["cluster_list"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let ok = p["originator_id"] == originator.as_str()
                    && clusters == [CLUSTER]
                    && p["next_hop"] == links[from].b4.to_string()
                    && p["rejected"] != true;
                if ok {
                    Ok(())
                } else {
                    Err(format!(
                        "want originator {originator}, cluster list [{CLUSTER}], next hop {}: {p}",
                        links[from].b4
                    ))
                }
            },
        );
    }
    // c shares the reflector's cluster id: FRR sends it a's and b's routes with that id
    // in their CLUSTER_LIST, and c drops them (RFC 4456 §8).
    wait_for(
        "FRR to advertise a's and b's routes to c",
        timeouts::ROUTES,
        || {
            let adv = frr.advertised_to(&links[2].b4.to_string())?;
            for p in ["10.2.11.0/24", "10.2.12.0/24"] {
                if !adv.iter().any(|a| a == p) {
                    return Err(format!("FRR advertised to c: {adv:?}"));
                }
            }
            Ok(())
        },
    );
    holds_for(
        "c refusing the routes whose CLUSTER_LIST holds its cluster id",
        Duration::from_secs(3),
        || {
            for p in ["10.2.11.0/24", "10.2.12.0/24"] {
                if let Some(path) = clients[2].path_from(p, IpAddr::V4(links[2].a4))? {
                    if path["rejected"] != true {
                        return Err(format!("c accepted {p}: {path}"));
                    }
                }
            }
            clients[2].established(IpAddr::V4(links[2].a4))
        },
    );
}

/// ORIGINATOR_ID (type 9, optional non-transitive) with `id`.
fn originator_attr(id: Ipv4Addr) -> Vec<u8> {
    wire::attr(flags::OPTIONAL, 9, &id.octets())
}

/// CLUSTER_LIST (type 10, optional non-transitive) with `ids`.
fn cluster_list_attr(ids: &[Ipv4Addr]) -> Vec<u8> {
    let v: Vec<u8> = ids.iter().flat_map(|i| i.octets()).collect();
    wire::attr(flags::OPTIONAL, 10, &v)
}

#[test]
fn bgplane_refuses_reflected_routes_with_its_own_router_id_or_cluster_id() {
    let Some(lab) = Lab::new("rr-loop", &[]) else {
        return;
    };
    let a = lab.netns("a");
    let b = lab.netns("b");
    let link = lab.link(&a, &b);
    let y = format!(
        "router:\n  asn: {AS}\n  router-id: 10.0.0.1\n  cluster-id: {CLUSTER}\n  listen: [{}]\n\
         neighbors:\n  - {{ address: {}, remote-as: internal, passive: true, hold-time: 9 }}\n",
        link.a4, link.b4
    );
    let bg = Bgplane::start_yaml(&lab, &a, "bgplane", &y, false);
    let mut peer = established_peer(&link, AS, "scripted iBGP peer");
    bg.wait_established(IpAddr::V4(link.b4));
    let own_id = Ipv4Addr::new(10, 0, 0, 1);
    let own_cluster: Ipv4Addr = CLUSTER.parse().expect("cluster id");
    let other = Ipv4Addr::new(10, 0, 0, 99);
    let other_cluster = Ipv4Addr::new(10, 0, 0, 200);
    let update = |prefix: &str, originator: Ipv4Addr, clusters: &[Ipv4Addr]| {
        wire::update(
            &[],
            &[
                wire::origin(0),
                wire::as_path(&[65010]),
                wire::next_hop(link.b4),
                wire::attr(flags::TRANSITIVE, 5, &100u32.to_be_bytes()),
                originator_attr(originator),
                cluster_list_attr(clusters),
            ],
            &wire::nlri4(prefix),
        )
    };
    let cases = [
        ("10.7.2.0/24", own_id, vec![other_cluster]),
        ("10.7.3.0/24", other, vec![other_cluster, own_cluster]),
        ("10.7.1.0/24", other, vec![other_cluster]),
    ];
    for (prefix, originator, clusters) in &cases {
        peer.send(&update(prefix, *originator, clusters));
    }
    let from = IpAddr::V4(link.b4);
    // The acceptable one, sent last, shows the others were processed.
    let p = wait_for(
        "bgplane to hold 10.7.1.0/24 with its ORIGINATOR_ID and CLUSTER_LIST",
        timeouts::ROUTES,
        || {
            bg.path_from("10.7.1.0/24", from)?
                .ok_or_else(|| "not yet".to_string())
        },
    );
    assert_eq!(p["originator_id"], other.to_string(), "{p}");
    assert_eq!(p["cluster_list"][0], other_cluster.to_string(), "{p}");
    for (prefix, why) in [
        ("10.7.2.0/24", "ORIGINATOR_ID is bgplane's router id"),
        ("10.7.3.0/24", "CLUSTER_LIST holds bgplane's cluster id"),
    ] {
        if let Some(p) = bg.path_from(prefix, from).expect("bgplane's routes") {
            assert_eq!(
                p["rejected"], true,
                "bgplane accepted {prefix} although its {why}: {p}"
            );
        }
    }
    peer.stays_up(secs(1))
        .unwrap_or_else(|e| panic!("looped routes are dropped, not a session error: {e}"));
    bg.established(from).expect("session still up");
}
