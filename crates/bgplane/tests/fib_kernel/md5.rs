//! Per-neighbor TCP MD5 (RFC 2385) against FRR: with keys that differ the session stays
//! down, whichever side has the wrong one; once they match it comes up and carries routes.
//!
//! Topology: bgplane in `a` (AS 65000, 10.90.0.1, announcing 10.2.1.0/24), FRR in `b`
//! (AS 65001, 10.90.0.2, announcing 10.3.1.0/24); both connect.

use std::net::IpAddr;
use std::time::Duration;

use crate::harness::bgplane::Bgplane;
use crate::harness::frr_router::{self, FrrRouter};
use crate::harness::{holds_for, timeouts, wait_for, Lab, Link, Need};

const KEY: &str = "bgi-md5-Secret";
const WRONG: &str = "bgi-md5-Wrong";

fn frr(lab: &Lab, link: &Link, key: &str) -> FrrRouter {
    let n = link.a4.to_string();
    let conf = format!(
        "{}{} neighbor {n} password {key}\n!\n address-family ipv4 unicast\n  \
         neighbor {n} activate\n  network 10.3.1.0/24\n exit-address-family\n!\n",
        frr_router::router_bgp(65001, "10.0.0.2"),
        frr_router::neighbor(&n, "65000"),
    );
    FrrRouter::start(lab, &link.b_ns, "frr", 65001, &conf)
}

fn yaml(link: &Link, key: &str) -> String {
    format!(
        "router:\n  asn: 65000\n  router-id: 10.0.0.1\n  listen: [{}]\nnetworks: [10.2.1.0/24]\n\
         neighbors:\n  - {{ address: {}, remote-as: 65001, hold-time: 9, connect-retry: 1, \
         password: {key:?} }}\n",
        link.a4, link.b4
    )
}

/// Checks for a few seconds that neither side gets to Established (both retry every
/// second).
fn stays_down(bg: &Bgplane, f: &FrrRouter, link: &Link, why: &str) {
    let (from_frr, from_bgplane) = (IpAddr::V4(link.b4), link.a4.to_string());
    holds_for(
        &format!("the session down ({why})"),
        Duration::from_secs(5),
        || {
            if f.established(&from_bgplane).is_ok() {
                return Err("FRR is Established".into());
            }
            match bg.state(from_frr)?.as_str() {
                "Established" => Err("bgplane is Established".into()),
                _ => Ok(()),
            }
        },
    );
}

/// Waits for the session and the routes both ways.
fn comes_up(bg: &Bgplane, f: &FrrRouter, link: &Link) {
    bg.wait_established(IpAddr::V4(link.b4));
    f.wait_established(&link.a4.to_string());
    let from = IpAddr::V4(link.b4);
    wait_for("bgplane to hold 10.3.1.0/24", timeouts::ROUTES, || {
        bg.path_from("10.3.1.0/24", from)?
            .map(|_| ())
            .ok_or_else(|| "not yet".to_string())
    });
    wait_for("FRR to hold 10.2.1.0/24", timeouts::ROUTES, || {
        f.path("10.2.1.0/24").map(|_| ())
    });
}

#[test]
fn a_neighbor_md5_key_that_differs_from_frrs_keeps_the_session_down_until_it_matches() {
    let Some(lab) = Lab::new("fk-md5", &[Need::Frr]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link(&a, &b);
    let f = frr(&lab, &link, WRONG);
    let mut bg = Bgplane::start_yaml(&lab, &a, "bgplane", &yaml(&link, KEY), false);
    stays_down(&bg, &f, &link, "FRR has the wrong key");
    f.configure(&[&format!("neighbor {} password {KEY}", link.a4)]);
    comes_up(&bg, &f, &link);

    // Now bgplane takes a wrong key (a reload resets the session): down again, then up.
    bg.reconfigure_yaml(&yaml(&link, WRONG));
    wait_for(
        "the session to go down after bgplane's key changed",
        timeouts::SESSION,
        || match bg.state(IpAddr::V4(link.b4))?.as_str() {
            "Established" => Err("still Established".into()),
            _ => Ok(()),
        },
    );
    stays_down(&bg, &f, &link, "bgplane has the wrong key");
    bg.reconfigure_yaml(&yaml(&link, KEY));
    comes_up(&bg, &f, &link);
}
