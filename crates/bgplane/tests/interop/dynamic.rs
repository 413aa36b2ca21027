//! Dynamic neighbors (seed 000's `listen-range` extension): bgplane accepts sessions from
//! any address of a listen range with its peer group's settings, refuses other
//! addresses, and with a peer-group password (TCP MD5, RFC 2385) only peers that sign
//! with it.
//!
//! Topology: bgplane in `a` (AS 65000, listening on 0.0.0.0, announcing 10.2.1.0/24),
//! FRRs in their own namespaces on links 0, 1, 2 (10.90.0.2, 10.91.0.2, 10.92.0.2), in
//! AS 65001, 65002, 65003, each connecting to bgplane and announcing 10.3.N.0/24.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::harness::bgplane::Bgplane;
use crate::harness::frr_router::{self, FrrRouter};
use crate::harness::{holds_for, timeouts, wait_for, Lab, Link, Need};

const PASSWORD: &str = "bgi-md5-Secret";

/// The FRR on link `i` (AS 6500(i+1)), with `password` if any.
fn frr(lab: &Lab, i: usize, link: &Link, password: Option<&str>) -> FrrRouter {
    let n = link.a4.to_string();
    let asn = 65001 + i as u32;
    let mut conf = frr_router::router_bgp(asn, &format!("10.0.0.{}", 11 + i));
    conf += &frr_router::neighbor(&n, "65000");
    if let Some(pw) = password {
        conf += &format!(" neighbor {n} password {pw}\n");
    }
    conf += &format!(
        "!\n address-family ipv4 unicast\n  neighbor {n} activate\n  network 10.3.{}.0/24\n \
         exit-address-family\n!\n",
        i + 1
    );
    FrrRouter::start(lab, &link.b_ns, &format!("frr{}", i + 1), asn, &conf)
}

/// bgplane's configuration with `ranges` bound to peer group FABRIC.
fn yaml(ranges: &[&str], password: Option<&str>) -> String {
    let mut y = String::from(
        "router:\n  asn: 65000\n  router-id: 10.0.0.1\n  listen: [0.0.0.0]\n  listen-ranges:\n",
    );
    for r in ranges {
        y += &format!("    - {{ prefix: {r}, peer-group: FABRIC }}\n");
    }
    y += "peer-groups:\n  FABRIC:\n    remote-as: external\n    hold-time: 9\n";
    if let Some(pw) = password {
        y += &format!("    password: {pw:?}\n");
    }
    y + "networks: [10.2.1.0/24]\n"
}

struct DynLab {
    frrs: Vec<FrrRouter>,
    bgplane: Bgplane,
    links: Vec<Link>,
    _lab: Lab,
}

fn start(
    test: &str,
    ranges: &[&str],
    password: Option<&str>,
    frr_passwords: &[Option<&str>],
) -> Option<DynLab> {
    let lab = Lab::new(test, &[Need::Frr])?;
    let a = lab.netns("a");
    let links: Vec<Link> = (0..frr_passwords.len())
        .map(|i| {
            let ns = lab.netns(&format!("f{}", i + 1));
            lab.link(&a, &ns)
        })
        .collect();
    let bgplane = Bgplane::start_yaml(&lab, &a, "bgplane", &yaml(ranges, password), false);
    let frrs = links
        .iter()
        .zip(frr_passwords)
        .enumerate()
        .map(|(i, (l, pw))| frr(&lab, i, l, *pw))
        .collect();
    Some(DynLab {
        frrs,
        bgplane,
        links,
        _lab: lab,
    })
}

impl DynLab {
    /// Waits until FRR `i` and bgplane are Established, bgplane shows the neighbor as
    /// dynamic and routes went both ways.
    fn comes_up(&self, i: usize) {
        let (f, l) = (&self.frrs[i], &self.links[i]);
        f.wait_established(&l.a4.to_string());
        let addr = IpAddr::V4(l.b4);
        let row = wait_for(
            &format!("bgplane's summary to show {addr} Established"),
            timeouts::SESSION,
            || {
                let r = self.bgplane.summary_row(addr)?;
                if r["state"] == "Established" {
                    Ok(r)
                } else {
                    Err(format!("{r}"))
                }
            },
        );
        assert_eq!(row["dynamic"], true, "marked dynamic in the summary: {row}");
        let n = self.bgplane.neighbor(addr).expect("the neighbor");
        assert_eq!(n["dynamic"], true, "marked dynamic: {n}");
        assert_eq!(n["peer_group"], "FABRIC", "in its range's peer group: {n}");
        let prefix = format!("10.3.{}.0/24", i + 1);
        wait_for(
            &format!("bgplane to hold {prefix}"),
            timeouts::ROUTES,
            || {
                self.bgplane
                    .path_from(&prefix, addr)?
                    .map(|_| ())
                    .ok_or_else(|| "not yet".into())
            },
        );
        wait_for(
            &format!("{} to hold 10.2.1.0/24", f.name),
            timeouts::ROUTES,
            || f.path("10.2.1.0/24").map(|_| ()),
        );
    }

    /// Checks for a few seconds that FRR `i` gets no session and bgplane lists no
    /// neighbor for it (FRR retries its connection every second).
    fn stays_out(&self, i: usize) {
        let (f, l) = (&self.frrs[i], &self.links[i]);
        let addr = IpAddr::V4(l.b4);
        holds_for(
            &format!("{} kept out", f.name),
            Duration::from_secs(5),
            || {
                if f.established(&l.a4.to_string()).is_ok() {
                    return Err(format!("{} is Established", f.name));
                }
                match self.bgplane.summary_row(addr) {
                    Ok(r) if r["state"] == "Established" => Err(format!("bgplane: {r}")),
                    _ => Ok(()),
                }
            },
        );
    }
}

#[test]
fn dynamic_neighbors_from_a_listen_range_come_up_and_others_are_refused() {
    let Some(s) = start("dyn", &["10.90.0.0/15"], None, &[None, None, None]) else {
        return;
    };
    s.comes_up(0);
    s.comes_up(1);
    s.stays_out(2);
    let outside = IpAddr::V4(Ipv4Addr::new(10, 92, 0, 2));
    assert!(
        s.bgplane.summary_row(outside).is_err(),
        "no neighbor for an address outside every range: {:?}",
        s.bgplane.summary_row(outside)
    );
    // Once a range holds it, the third FRR comes up as well.
    let mut s = s;
    s.bgplane
        .reconfigure_yaml(&yaml(&["10.90.0.0/15", "10.92.0.0/24"], None));
    s.comes_up(2);
    s.comes_up(0);
}

#[test]
fn dynamic_neighbors_with_a_peer_group_password_need_the_right_md5_key() {
    let wrong = "bgi-md5-Wrong";
    let Some(s) = start(
        "dyn-md5",
        &["10.90.0.0/15"],
        Some(PASSWORD),
        &[Some(PASSWORD), Some(wrong)],
    ) else {
        return;
    };
    s.comes_up(0);
    s.stays_out(1);
    // With the right key the second FRR comes up too.
    s.frrs[1].configure(&[&format!("neighbor {} password {PASSWORD}", s.links[1].a4)]);
    s.comes_up(1);
}
