//! Reloading the configuration of a running router, with SIGHUP and with `bgplane reload`:
//! sessions whose settings did not change stay up, an added neighbor starts, a removed one
//! gets Cease / Peer De-configured (RFC 4486), a changed hold time resets that session
//! only (Cease / Other Configuration Change), and a bad configuration is refused with the
//! key named while the old one stays in force.
//!
//! The router (AS 65000) runs in namespace `dut` and connects to three scripted peers,
//! each in its own namespace: p1 (AS 65001, 10.90.0.2, import policy and a max-prefix
//! limit with action warn), p2 (AS 65002, 10.91.0.2) and p3 (AS 65003, 10.92.0.2, with
//! local-as 65100), which only the reloaded configurations have.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bgp_wire::notification::{cease, codes};

use crate::harness::{holds_for, wait_for, Lab};
use crate::support::{accept_session, connection_within, listen, update, Router};

const P1: Ipv4Addr = Ipv4Addr::new(10, 90, 0, 2);
const P2: Ipv4Addr = Ipv4Addr::new(10, 91, 0, 2);
const P3: Ipv4Addr = Ipv4Addr::new(10, 92, 0, 2);

/// The configuration: p1 always, p2 if `p2`, p3 with hold time `p3` if given, and `bad`
/// YAML appended to p3's entry.
fn config(p2: bool, p3: Option<u16>, bad: &str) -> String {
    let mut y = String::from(
        "router:
  asn: 65000
  router-id: 10.0.0.1
  hold-time: 9
  connect-retry: 1
prefix-lists:
  BOGONS: [{ prefix: 10.66.0.0/16, le: 32 }]
policies:
  P1-IN:
    - match: { prefix-list: BOGONS }
      action: reject
    - action: accept
neighbors:
  - address: 10.90.0.2
    remote-as: 65001
    import: P1-IN
    max-prefix: { limit: 1, action: warn }
",
    );
    if p2 {
        y += "  - { address: 10.91.0.2, remote-as: 65002 }\n";
    }
    if let Some(hold) = p3 {
        y += &format!(
            "  - address: 10.92.0.2\n    remote-as: 65003\n    local-as: 65100\n    hold-time: {hold}\n{bad}"
        );
    }
    y
}

fn ip(a: Ipv4Addr) -> IpAddr {
    IpAddr::V4(a)
}

#[test]
fn a_reload_keeps_unchanged_sessions_starts_added_neighbors_and_refuses_a_bad_file() {
    let Some(lab) = Lab::new("reload", &[]) else {
        return;
    };
    let dut = lab.netns("dut");
    let ns: Vec<String> = ["p1", "p2", "p3"].iter().map(|r| lab.netns(r)).collect();
    for n in &ns {
        lab.link(&dut, n);
    }
    let (l1, l2, l3) = (listen(&ns[0], P1), listen(&ns[1], P2), listen(&ns[2], P3));
    let mut router = Router::start(&lab, &dut, &config(true, None, ""));
    let (mut p1, open1) = accept_session(&l1, "p1", 65001, P1);
    let (mut p2, _) = accept_session(&l2, "p2", 65002, P2);
    assert_eq!((open1.asn(), open1.hold_time), (65000, 9));
    router.wait_established(ip(P2));

    // p1's routes: one rejected by its import policy, two accepted (over its limit of 1).
    let prefixes = ["10.66.1.0/24", "10.1.0.0/24", "10.2.0.0/24"];
    p1.send(&update(&prefixes, &[65001], P1, None));
    let n1 = wait_for("p1's routes", Duration::from_secs(20), || {
        let n = router.neighbor(ip(P1))?;
        (n["counters"]["received"][0] == 3 && n["counters"]["accepted"][0] == 2)
            .then_some(n.clone())
            .ok_or_else(|| n["counters"].to_string())
    });
    assert_eq!(n1["counters"]["prefix_limit_exceeded"], 1);
    assert_eq!(
        n1["state"], "Established",
        "max-prefix warn keeps the session"
    );
    assert!(router.log().contains("prefix limit exceeded"));
    // --received-from lists the rejected path, marked `r`.
    let text = router
        .cli(&["show", "bgp", "routes", "--received-from", "10.90.0.2"])
        .unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("10.66.1.0/24"))
        .unwrap_or_else(|| panic!("no rejected path listed:\n{text}"));
    assert!(line.starts_with("r "), "{line}");
    assert_eq!(text.matches(" 65001 i").count(), 3, "{text}");

    let uptime = n1["state_secs"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(1100));

    // 1. SIGHUP: p2 removed, p3 added.
    router.write(&config(false, Some(9), ""));
    router.sighup();
    let n = p2.recv_notification(Duration::from_secs(10));
    assert_eq!(
        (n.code, n.subcode),
        (codes::CEASE, cease::PEER_DECONFIGURED)
    );
    let (mut p3, open3) = accept_session(&l3, "p3", 65003, P3);
    assert_eq!(open3.asn(), 65100, "the local-as is in the OPEN");
    assert_eq!(open3.hold_time, 9);
    router.wait_established(ip(P3));
    let unchanged = |router: &Router, p1: &mut crate::harness::peer::RawPeer| {
        p1.stays_up(Duration::from_millis(500)).unwrap();
        assert!(
            !connection_within(&l1, Duration::from_millis(100)),
            "no new connection to p1"
        );
        let n = router.neighbor(ip(P1)).unwrap();
        assert_eq!(n["state"], "Established");
        assert_eq!(n["counters"]["established"], 1, "the same session");
        assert!(
            n["state_secs"].as_u64().unwrap() > uptime,
            "uptime kept: {n}"
        );
    };
    unchanged(&router, &mut p1);
    let summary = router.json(&["show", "bgp", "summary"]).unwrap();
    let listed: Vec<&str> = summary["neighbors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["neighbor"].as_str())
        .collect();
    assert_eq!(listed, ["10.90.0.2", "10.92.0.2"]);

    // 2. `bgplane reload`: p3's hold time changed; only p3's session is reset.
    router.write(&config(false, Some(12), ""));
    let msg = router.cli(&["reload"]).unwrap();
    assert!(msg.contains("10.92.0.2: session reset"), "{msg}");
    let n = p3.recv_notification(Duration::from_secs(10));
    assert_eq!(
        (n.code, n.subcode),
        (codes::CEASE, cease::OTHER_CONFIG_CHANGE)
    );
    drop(p3);
    let (mut p3, open3) = accept_session(&l3, "p3 again", 65003, P3);
    assert_eq!(open3.hold_time, 12, "the new hold time");
    let n3 = router.wait_established(ip(P3));
    assert_eq!(n3["timers"]["hold_time"], 12);
    unchanged(&router, &mut p1);

    // 3. A bad file, through the API then SIGHUP: refused, the key named, nothing changes.
    router.write(&config(false, Some(15), "    export: NOPE\n"));
    let err = router.cli(&["reload"]).unwrap_err();
    assert!(err.contains("refused"), "{err}");
    assert!(err.contains("neighbors[1].export"), "{err}");
    assert!(err.contains("unknown policy \"NOPE\""), "{err}");
    router.sighup();
    wait_for(
        "the SIGHUP reload to be refused",
        Duration::from_secs(10),
        || {
            let log = router.log();
            let refused = log
                .lines()
                .filter(|l| l.contains("reload refused") && l.contains("neighbors[1].export"))
                .count();
            (refused >= 1)
                .then_some(())
                .ok_or_else(|| "not in the log yet".to_string())
        },
    );
    holds_for("the old configuration", Duration::from_secs(2), || {
        let n = router.neighbor(ip(P3))?;
        if n["state"] != "Established" || n["timers"]["hold_time"] != 12 {
            return Err(n.to_string());
        }
        Ok(())
    });
    p3.stays_up(Duration::from_millis(500)).unwrap();
    assert!(!connection_within(&l3, Duration::from_millis(100)));
    unchanged(&router, &mut p1);
    let text = router
        .cli(&["show", "bgp", "neighbors", "10.92.0.2"])
        .unwrap();
    assert!(text.contains("Configured hold time 12s"), "{text}");
}
