//! Graceful restart (RFC 4724) with the kernel in the loop: forwarding goes on while
//! bgplane restarts (its kernel routes stay, FRR keeps its routes as stale until
//! bgplane's End-of-RIB), and bgplane as helper keeps a restarting FRR's routes in the
//! kernel, stale, until FRR is back.
//!
//! Topologies: FRR `f1` (AS 65001, lo 10.0.0.11/32) on link 0 and FRR `f2` (AS 65002, lo
//! 10.0.0.12/32) on link 1 of bgplane in `a` (AS 65000, lo 10.0.0.1/32, forwarding, kernel
//! FIB on); each announces its loopback. FRR runs zebra (routes in its kernel) and
//! `bgp graceful-restart`.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::harness::bgplane::Bgplane;
use crate::harness::frr_router::{self, FrrRouter};
use crate::harness::kernel::{self, Ping};
use crate::harness::{holds_for, say, timeouts, wait_for, Lab, Link, Need};

/// A graceful-restart FRR in AS `asn` announcing `lo`, neighbor bgplane at `link.a4`;
/// `extra` lines go under `router bgp`.
fn frr(lab: &Lab, name: &str, asn: u32, lo: &str, link: &Link, extra: &str) -> FrrRouter {
    let n = link.a4.to_string();
    let conf = format!(
        "{} bgp graceful-restart\n{extra}{}!\n address-family ipv4 unicast\n  \
         neighbor {n} activate\n  network {lo}\n exit-address-family\n!\n",
        frr_router::router_bgp(asn, lo.trim_end_matches("/32")),
        frr_router::neighbor(&n, "65000"),
    );
    kernel::add_loopback(&link.b_ns, lo);
    FrrRouter::start(lab, &link.b_ns, name, asn, &conf)
}

/// bgplane (FIB on) with the FRRs of `links` as neighbors, announcing 10.0.0.1/32.
fn bgplane(lab: &Lab, ns: &str, links: &[(&Link, u32)]) -> Bgplane {
    kernel::add_loopback(ns, "10.0.0.1/32");
    kernel::forwarding(ns);
    let mut y = String::from(
        "router:\n  asn: 65000\n  router-id: 10.0.0.1\n  listen: [0.0.0.0]\n\
         networks: [10.0.0.1/32]\nneighbors:\n",
    );
    for (l, asn) in links {
        y += &format!(
            "  - {{ address: {}, remote-as: {asn}, hold-time: 9, connect-retry: 1 }}\n",
            l.b4
        );
    }
    Bgplane::start_yaml(lab, ns, "bgplane", &y, true)
}

/// The path FRR holds for `prefix`, and whether it is stale.
fn frr_stale(f: &FrrRouter, prefix: &str) -> Result<bool, String> {
    f.path(prefix).map(|p| frr_router::is_stale(&p))
}

/// bgplane's path for `prefix` from `from`, and whether it is stale.
fn bgplane_stale(bg: &Bgplane, prefix: &str, from: IpAddr) -> Result<bool, String> {
    let p = bg
        .path_from(prefix, from)?
        .ok_or_else(|| format!("bgplane has no {prefix} from {from}"))?;
    Ok(p["stale"] == true)
}

fn need_ping(test: &str) -> bool {
    match kernel::need_ping() {
        Ok(()) => true,
        Err(why) => {
            say(&format!("SKIPPED {test}: {why}"));
            false
        }
    }
}

#[test]
fn pings_through_bgplane_keep_answering_while_it_restarts_gracefully() {
    let test = "gr-restart";
    let Some(lab) = Lab::new(test, &[Need::Frr]) else {
        return;
    };
    if !need_ping(test) {
        return;
    }
    let a = lab.netns("a");
    let (n1, n2) = (lab.netns("f1"), lab.netns("f2"));
    let (l1, l2) = (lab.link(&a, &n1), lab.link(&a, &n2));
    let f1 = frr(&lab, "f1", 65001, "10.0.0.11/32", &l1, "");
    let f2 = frr(&lab, "f2", 65002, "10.0.0.12/32", &l2, "");
    let mut bg = bgplane(&lab, &a, &[(&l1, 65001), (&l2, 65002)]);
    for (f, l) in [(&f1, &l1), (&f2, &l2)] {
        bg.wait_established(IpAddr::V4(l.b4));
        f.wait_established(&l.a4.to_string());
    }
    let (nh1, nh2) = (l1.b4.to_string(), l2.b4.to_string());
    let bgplane_routes = || -> Result<(), String> {
        kernel::bgp_route_via(&a, "10.0.0.11/32", &[&nh1])?;
        kernel::bgp_route_via(&a, "10.0.0.12/32", &[&nh2])?;
        Ok(())
    };
    wait_for("bgplane's kernel routes", timeouts::ROUTES, &bgplane_routes);
    kernel::wait_ping(&n1, "10.0.0.11", "10.0.0.12");
    kernel::wait_ping(&n1, "10.0.0.11", "10.0.0.1");
    let through = Ping::start(&lab, &n1, "ping-through", "10.0.0.11", "10.0.0.12", ms(100));
    let to_bgplane = Ping::start(&lab, &n1, "ping-bgplane", "10.0.0.11", "10.0.0.1", ms(100));
    std::thread::sleep(ms(500));

    let down = Instant::now();
    bg.stop();
    for (f, p) in [
        (&f1, "10.0.0.12/32"),
        (&f1, "10.0.0.1/32"),
        (&f2, "10.0.0.11/32"),
    ] {
        wait_for(
            &format!("{} to keep bgplane's {p} as stale", f.name),
            timeouts::ROUTES,
            || match frr_stale(f, p)? {
                true => Ok(()),
                false => Err(format!("{p} not stale at {}", f.name)),
            },
        );
    }
    holds_for(
        "bgplane's kernel routes staying while it is down",
        ms(2000).saturating_sub(down.elapsed()),
        &bgplane_routes,
    );
    bg.start_again(&lab);
    // Until every peer's End-of-RIB, nothing may go: the kernel routes stay and FRR's
    // stale paths stay until bgplane's End-of-RIB refreshes them.
    wait_for(
        "FRR to hold bgplane's routes fresh again",
        timeouts::SESSION,
        || {
            if let Err(e) = bgplane_routes() {
                panic!("bgplane's kernel routes went away: {e}");
            }
            for (f, p) in [
                (&f1, "10.0.0.12/32"),
                (&f1, "10.0.0.1/32"),
                (&f2, "10.0.0.11/32"),
            ] {
                if frr_stale(f, p)? {
                    return Err(format!("{p} still stale at {}", f.name));
                }
            }
            Ok(())
        },
    );
    for (l, p) in [(&l1, "10.0.0.11/32"), (&l2, "10.0.0.12/32")] {
        wait_for(
            &format!("bgplane to hold {p} fresh"),
            timeouts::ROUTES,
            || match bgplane_stale(&bg, p, IpAddr::V4(l.b4))? {
                false => Ok(()),
                true => Err(format!("{p} stale at bgplane")),
            },
        );
    }
    std::thread::sleep(ms(500));
    bgplane_routes().expect("bgplane's kernel routes after the restart");
    for (name, ping) in [("through bgplane", through), ("to bgplane", to_bgplane)] {
        let st = ping.stop();
        say(&format!(
            "gr-restart: ping {name}: {} sent, {} lost",
            st.sent,
            st.lost()
        ));
        assert!(
            st.sent >= 20 && st.lost() <= 1,
            "ping {name}: {} of {} lost during the restart: {:?}",
            st.lost(),
            st.sent,
            st.losses
        );
    }
}

/// bgplane and one FRR (`f1`, with `frr_extra` under `router bgp`), routes in. Fields
/// drop in order: FRR, bgplane, then the lab.
struct HelperLab {
    f1: FrrRouter,
    bg: Bgplane,
    l1: Link,
    a: String,
    lab: Lab,
}

fn helper_lab(test: &str, frr_extra: &str) -> Option<HelperLab> {
    let lab = Lab::new(test, &[Need::Frr])?;
    let a = lab.netns("a");
    let n1 = lab.netns("f1");
    let l1 = lab.link(&a, &n1);
    let f1 = frr(&lab, "f1", 65001, "10.0.0.11/32", &l1, frr_extra);
    let bg = bgplane(&lab, &a, &[(&l1, 65001)]);
    bg.wait_established(IpAddr::V4(l1.b4));
    f1.wait_established(&l1.a4.to_string());
    let nh = l1.b4.to_string();
    wait_for(
        "bgplane's kernel route to FRR's loopback",
        timeouts::ROUTES,
        || kernel::bgp_route_via(&a, "10.0.0.11/32", &[&nh]),
    );
    Some(HelperLab { f1, bg, l1, a, lab })
}

#[test]
fn bgplane_keeps_a_restarting_frrs_routes_in_the_kernel_as_stale_until_it_is_back() {
    // preserve-fw-state: FRR sets the F bit, so its routes may stay (RFC 4724 §4.2).
    let Some(mut h) = helper_lab("gr-helper", " bgp graceful-restart preserve-fw-state\n") else {
        return;
    };
    let (l1, a) = (h.l1.clone(), h.a.clone());
    let from = IpAddr::V4(l1.b4);
    let nh = l1.b4.to_string();
    let route = || kernel::bgp_route_via(&a, "10.0.0.11/32", &[&nh]).map(|_| ());
    h.f1.kill_bgpd();
    wait_for(
        "bgplane to mark FRR's route stale",
        timeouts::SESSION,
        || {
            if let Err(e) = route() {
                panic!("the kernel route went away: {e}");
            }
            match bgplane_stale(&h.bg, "10.0.0.11/32", from)? {
                true => Ok(()),
                false => Err("not stale yet".to_string()),
            }
        },
    );
    holds_for(
        "FRR's route kept, stale, in the kernel while FRR is down",
        Duration::from_secs(2),
        || {
            route()?;
            match bgplane_stale(&h.bg, "10.0.0.11/32", from)? {
                true => Ok(()),
                false => Err("no longer stale while FRR is down".into()),
            }
        },
    );
    h.f1.restart_bgpd(&h.lab);
    wait_for(
        "bgplane to hold FRR's route fresh again",
        timeouts::SESSION,
        || {
            if let Err(e) = route() {
                panic!("the kernel route went away: {e}");
            }
            match bgplane_stale(&h.bg, "10.0.0.11/32", from)? {
                false => Ok(()),
                true => Err("still stale".to_string()),
            }
        },
    );
    h.f1.wait_established(&l1.a4.to_string());
    holds_for("the kernel route staying", ms(500), route);
}

#[test]
fn bgplane_drops_a_restarting_frrs_routes_when_it_stays_away_past_its_restart_time() {
    let Some(mut h) = helper_lab(
        "gr-expire",
        " bgp graceful-restart preserve-fw-state\n bgp graceful-restart restart-time 3\n",
    ) else {
        return;
    };
    let (l1, a) = (h.l1.clone(), h.a.clone());
    let from = IpAddr::V4(l1.b4);
    h.f1.kill_bgpd();
    let killed = Instant::now();
    wait_for(
        "bgplane to mark FRR's route stale",
        timeouts::SESSION,
        || match bgplane_stale(&h.bg, "10.0.0.11/32", from)? {
            true => Ok(()),
            false => Err("not stale yet".to_string()),
        },
    );
    wait_for(
        "bgplane to drop FRR's route after its restart time (3 s)",
        timeouts::ROUTES,
        || {
            h.bg.lacks_route("10.0.0.11/32", from)?;
            kernel::no_route(&a, "10.0.0.11/32")
        },
    );
    let gone = killed.elapsed();
    assert!(
        gone >= Duration::from_millis(2500),
        "routes kept for the restart time, not dropped at once: gone after {gone:?}"
    );
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
