//! The MinRouteAdvertisementInterval (`router.mrai-ms`, RFC 4271 §9.2.1.1) spaces the
//! changes sent to a peer, but neither the initial table dump nor a burst of changes is
//! cut into one slice per interval.
//!
//! The router (AS 65000, MRAI 5 s) runs in namespace `dut` with passive neighbors; the
//! scripted peers connect to it: p1 (AS 65001, 10.90.0.2) announces, p2 (AS 65002,
//! 10.91.0.2) watches. Each route has its own community, hence its own UPDATE: 20,000
//! routes are over a megabyte, several times the router's 256 KiB per output round.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::harness::peer::{self, ty, RawPeer};
use crate::harness::{wait_for, Lab};
use crate::support::{received, update, Router};

const MRAI: Duration = Duration::from_secs(5);
const ROUTES: u32 = 20_000;
const P1: Ipv4Addr = Ipv4Addr::new(10, 90, 0, 2);
const P2: Ipv4Addr = Ipv4Addr::new(10, 91, 0, 2);

const CONFIG: &str = "router:
  asn: 65000
  router-id: 10.0.0.1
  listen: [10.90.0.1, 10.91.0.1]
  hold-time: 30
  mrai-ms: 5000
neighbors:
  - { address: 10.90.0.2, remote-as: 65001, passive: true }
  - { address: 10.91.0.2, remote-as: 65002, passive: true }
";

fn prefix(i: u32) -> String {
    format!("10.{}.{}.0/24", 100 + i / 256, i % 256)
}

/// `ROUTES` UPDATEs of one prefix each, with AS path `path` and community `tag:i`.
fn table(path: &[u32], tag: u32) -> Vec<u8> {
    (0..ROUTES)
        .flat_map(|i| update(&[&prefix(i)], path, P1, Some((tag << 16) | i)))
        .collect()
}

/// Connects from `ns` to the router at `to` and opens the session.
fn connect(ns: &str, to: Ipv4Addr, label: &str, asn: u32, id: Ipv4Addr) -> RawPeer {
    let to = SocketAddr::new(IpAddr::V4(to), 179);
    let mut p = RawPeer::new(peer::connect(ns, to, Duration::from_secs(15)), label);
    p.establish(asn, 30, id);
    p.keepalives(Duration::from_secs(1));
    p
}

/// Reads UPDATEs until `n` prefixes arrived whose AS path is `path`; returns when the
/// first and the last of them came.
fn arrivals(p: &mut RawPeer, n: usize, path: &str, timeout: Duration) -> (Instant, Instant) {
    let deadline = Instant::now() + timeout;
    let mut seen = std::collections::HashSet::new();
    let mut first = None;
    while seen.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = p.recv_until(&format!("{n} routes via {path}"), left, |m| {
            m.ty == ty::UPDATE
        });
        for (prefix, got, _) in received(&m).routes {
            if got == path {
                first.get_or_insert_with(Instant::now);
                seen.insert(prefix);
            }
        }
    }
    (first.unwrap_or_else(Instant::now), Instant::now())
}

/// Reads UPDATEs until one announces `prefix`; returns when.
fn arrival_of(p: &mut RawPeer, prefix: &str) -> Instant {
    let m = p.recv_until(prefix, Duration::from_secs(30), |m| {
        m.ty == ty::UPDATE && received(m).routes.iter().any(|r| r.0 == prefix)
    });
    drop(m);
    Instant::now()
}

#[test]
fn with_an_mrai_a_peer_gets_the_table_at_once_and_changes_at_most_once_per_interval() {
    let Some(lab) = Lab::new("mrai", &[]) else {
        return;
    };
    let dut = lab.netns("dut");
    let (n1, n2) = (lab.netns("p1"), lab.netns("p2"));
    let (l1, l2) = (lab.link(&dut, &n1), lab.link(&dut, &n2));
    let router = Router::start(&lab, &dut, CONFIG);
    let p1 = connect(&n1, l1.a4, "p1", 65001, P1);
    p1.send(&table(&[65001], 1));
    wait_for("p1's table in the RIB", Duration::from_secs(120), || {
        let n = router.neighbor(IpAddr::V4(P1))?;
        (n["counters"]["accepted"][0] == ROUTES)
            .then_some(())
            .ok_or_else(|| n["counters"].to_string())
    });

    // The initial dump: over a megabyte, well within one interval.
    let mut p2 = connect(&n2, l2.a4, "p2", 65002, P2);
    let start = Instant::now();
    let mut dumped = 0;
    loop {
        let left = Duration::from_secs(60).saturating_sub(start.elapsed());
        let m = p2.recv_until("the End-of-RIB", left, |m| m.ty == ty::UPDATE);
        let r = received(&m);
        dumped += r.routes.len();
        if r.eor {
            break;
        }
    }
    let took = start.elapsed();
    assert_eq!(dumped, ROUTES as usize);
    assert!(
        took < MRAI.mul_f64(0.7),
        "the table took {took:?} with an MRAI of {MRAI:?}: the dump was paced"
    );

    // A burst of changes: the first go at once, the rest one interval later, all of it.
    p1.send(&table(&[65001, 65200], 2));
    let (first, last) = arrivals(
        &mut p2,
        ROUTES as usize,
        "65000 65001 65200",
        Duration::from_secs(90),
    );
    let spread = last - first;
    assert!(
        spread < MRAI + Duration::from_secs(3),
        "the burst took {spread:?} with an MRAI of {MRAI:?}: cut into slices per interval"
    );

    // Two changes in a row: the second waits for the next interval.
    p1.send(&update(&["10.250.0.0/24"], &[65001], P1, None));
    let x = arrival_of(&mut p2, "10.250.0.0/24");
    p1.send(&update(&["10.250.1.0/24"], &[65001], P1, None));
    let y = arrival_of(&mut p2, "10.250.1.0/24");
    let gap = y - x;
    assert!(
        gap >= MRAI.mul_f64(0.75) - Duration::from_millis(300),
        "two changes {gap:?} apart with an MRAI of {MRAI:?}"
    );
    assert!(gap <= MRAI + Duration::from_secs(2), "{gap:?}");
}
