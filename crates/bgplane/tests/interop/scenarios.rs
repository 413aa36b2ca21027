//! The scenarios every daemon goes through, written once against [`Daemon`]: sessions
//! (eBGP, iBGP, either side connecting), routes with communities both ways, withdrawals,
//! route refresh, shutdown communications.
//!
//! Topology: bgplane in namespace `a` (AS 65000, 10.90.0.1, fd90::1), the daemon in `b`
//! (AS 65001 for eBGP or 65000 for iBGP, 10.90.0.2, fd90::2), one veth between them.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::harness::bgplane::{Bgplane, BgplaneConf, NeighborConf};
use crate::harness::daemon::{self, routes, Daemon, DaemonSpec, Kind};
use crate::harness::{holds_for, say, timeouts, wait_for, Lab, Link};

/// bgplane's AS.
pub(crate) const BGPLANE_AS: u32 = 65000;
/// The daemon's AS on eBGP sessions.
pub(crate) const DAEMON_AS: u32 = 65001;

/// Which session to build.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Session {
    /// iBGP (both in AS 65000) rather than eBGP.
    pub(crate) internal: bool,
    /// bgplane connects and the daemon is passive; otherwise the other way round.
    pub(crate) bgplane_connects: bool,
    /// TCP MD5 signatures (RFC 2385) with [`PASSWORD`] on both sides.
    pub(crate) md5: bool,
    /// GTSM (RFC 5082), one hop, on both sides.
    pub(crate) gtsm: bool,
}

/// eBGP, bgplane connecting: what most scenarios use.
pub(crate) const EBGP: Session = Session {
    internal: false,
    bgplane_connects: true,
    md5: false,
    gtsm: false,
};

/// The TCP MD5 password of secure sessions.
pub(crate) const PASSWORD: &str = "bgi-md5-Secret";

/// bgplane and one daemon, joined by one link. Fields drop in order: bgplane, then the
/// daemon, then the lab (namespaces, directory).
pub(crate) struct Pair {
    pub(crate) bgplane: Bgplane,
    _capture: Option<crate::harness::process::Proc>,
    pub(crate) daemon: Box<dyn Daemon>,
    pub(crate) link: Link,
    _lab: Lab,
}

impl Pair {
    /// bgplane's address (the daemon's neighbor).
    pub(crate) fn bgplane_addr(&self) -> IpAddr {
        IpAddr::V4(self.link.a4)
    }

    /// The daemon's address (bgplane's neighbor).
    pub(crate) fn daemon_addr(&self) -> IpAddr {
        IpAddr::V4(self.link.b4)
    }

    /// Starts both sides (the listening side first) with the standard routes; `None` when
    /// the test is skipped.
    pub(crate) fn start(test: &str, kind: Kind, s: Session) -> Option<Pair> {
        let lab = Lab::new(test, &[kind.need()])?;
        let a = lab.netns("a");
        let b = lab.netns("b");
        let link = lab.link(&a, &b);
        let capture = lab.capture(&b, &link.b_if, "tcpdump");
        let peer_as = if s.internal { BGPLANE_AS } else { DAEMON_AS };
        let spec = DaemonSpec {
            asn: peer_as,
            router_id: Ipv4Addr::new(10, 0, 0, 2),
            v4: link.b4,
            v6: link.b6,
            peer: link.a4,
            peer_as: BGPLANE_AS,
            passive: s.bgplane_connects,
            hold_time: 9,
            routes: routes::DAEMON.to_vec(),
            password: s.md5.then(|| PASSWORD.to_string()),
            gtsm: s.gtsm,
            unnumbered: None,
        };
        let mut nb = NeighborConf::new(link.b4, peer_as);
        nb.passive = !s.bgplane_connects;
        if s.md5 {
            nb.extra.push(format!("password: {PASSWORD:?}"));
        }
        if s.gtsm {
            nb.extra.push("ttl-security: 1".into());
        }
        let conf = BgplaneConf {
            asn: BGPLANE_AS,
            router_id: Ipv4Addr::new(10, 0, 0, 1),
            listen: vec![IpAddr::V4(link.a4)],
            networks: routes::BGPLANE.to_vec(),
            neighbors: vec![nb],
        };
        let (bgplane, daemon) = if s.bgplane_connects {
            let d = kind.start(&lab, &b, &spec);
            (Bgplane::start(&lab, &a, "bgplane", conf), d)
        } else {
            let bg = Bgplane::start(&lab, &a, "bgplane", conf);
            (bg, kind.start(&lab, &b, &spec))
        };
        Some(Pair {
            bgplane,
            _capture: capture,
            daemon,
            link,
            _lab: lab,
        })
    }

    /// Waits until both sides see the session Established.
    pub(crate) fn wait_established(&mut self) {
        let (b, d) = (self.bgplane_addr(), self.daemon_addr());
        self.bgplane.wait_established(d);
        let name = self.daemon.name();
        wait_for(
            &format!("{name}'s session with bgplane to be Established"),
            timeouts::SESSION,
            || self.daemon.established(b),
        );
    }

    /// Waits until the daemon holds each of `want` with its communities.
    pub(crate) fn daemon_gets(&mut self, want: &[daemon::RouteSpec]) {
        for r in want {
            let name = self.daemon.name();
            wait_for(
                &format!("{name} to hold bgplane's {} with its communities", r.prefix),
                timeouts::ROUTES,
                || daemon::has_route(self.daemon.as_mut(), r),
            );
        }
    }

    /// Waits until bgplane holds each of `want` from the daemon with its communities.
    pub(crate) fn bgplane_gets(&self, want: &[daemon::RouteSpec]) {
        let from = self.daemon_addr();
        for r in want {
            wait_for(
                &format!(
                    "bgplane to hold {}'s {} with its communities",
                    self.daemon.name(),
                    r.prefix
                ),
                timeouts::ROUTES,
                || self.bgplane.has_route(r, from),
            );
        }
    }
}

/// A session of the given kind comes up on both sides, the expected side initiated it,
/// and IPv4 and IPv6 routes with standard and large communities flow both ways.
pub(crate) fn session_comes_up_and_carries_routes(test: &str, kind: Kind, s: Session) {
    let Some(mut p) = Pair::start(test, kind, s) else {
        return;
    };
    p.wait_established();
    // Who connected: the side whose local port is not 179.
    let n = p
        .bgplane
        .neighbor(p.daemon_addr())
        .expect("bgplane neighbor");
    let session = &n["session"];
    let remote = session["remote"].as_str().unwrap_or_default();
    let local = session["local"].as_str().unwrap_or_default();
    if s.bgplane_connects {
        assert!(
            remote.ends_with(":179") && !local.ends_with(":179"),
            "bgplane should have connected to the passive {}: local {local}, remote {remote}",
            p.daemon.name()
        );
    } else {
        assert!(
            local.ends_with(":179"),
            "{} should have connected to the passive bgplane: local {local}, remote {remote}",
            p.daemon.name()
        );
    }
    let kind_shown = if s.internal { "iBGP" } else { "eBGP" };
    assert_eq!(session["kind"], kind_shown, "session kind in {session}");
    assert_eq!(session["hold_time"], 9, "negotiated hold time in {session}");
    p.bgplane_gets(&[routes::D4, routes::D6]);
    p.daemon_gets(&[routes::B4, routes::B6]);
    if s.internal {
        // iBGP paths carry LOCAL_PREF (RFC 4271 §5.1.5).
        let path = p
            .bgplane
            .path_from(routes::D4.prefix, p.daemon_addr())
            .expect("bgplane routes")
            .expect("the daemon's path");
        assert!(
            path["local_pref"].is_u64(),
            "no LOCAL_PREF on an iBGP path: {path}"
        );
    }
    p.bgplane.assert_running();
}

/// Withdrawals arrive both ways: bgplane's networks removed from its file + reload, the
/// daemon's routes removed by its own reconfiguration; the other routes stay.
pub(crate) fn withdrawals_arrive_both_ways(test: &str, kind: Kind) {
    let Some(mut p) = Pair::start(test, kind, EBGP) else {
        return;
    };
    p.wait_established();
    p.bgplane_gets(&routes::DAEMON);
    p.daemon_gets(&routes::BGPLANE);

    p.bgplane.reconfigure(|c| {
        c.networks
            .retain(|n| *n != routes::B4W && *n != routes::B6W);
    });
    for r in [routes::B4W, routes::B6W] {
        let name = p.daemon.name();
        wait_for(
            &format!("{name} to drop bgplane's withdrawn {}", r.prefix),
            timeouts::ROUTES,
            || daemon::lacks_route(p.daemon.as_mut(), r.prefix),
        );
    }
    p.daemon_gets(&[routes::B4, routes::B6]);

    p.daemon.withdraw(&routes::D4W);
    p.daemon.withdraw(&routes::D6W);
    let from = p.daemon_addr();
    for r in [routes::D4W, routes::D6W] {
        wait_for(
            &format!(
                "bgplane to drop {}'s withdrawn {}",
                p.daemon.name(),
                r.prefix
            ),
            timeouts::ROUTES,
            || p.bgplane.lacks_route(r.prefix, from),
        );
    }
    p.bgplane_gets(&[routes::D4, routes::D6]);
    p.bgplane.established(from).expect("session still up");
    p.bgplane.assert_running();
}

/// `bgplane clear bgp ADDR --soft in` makes the daemon resend its routes (it counts the
/// request, bgplane counts the UPDATEs) and the routes survive the refresh; the daemon's
/// soft reset in gets bgplane's routes again.
/// A daemon that logs why it ignored the request for a known daemon-side reason
/// ([`Daemon::refresh_ignored`]) passes that half with a note.
pub(crate) fn route_refresh_works_both_ways(test: &str, kind: Kind) {
    let Some(mut p) = Pair::start(test, kind, EBGP) else {
        return;
    };
    p.wait_established();
    let (b, d) = (p.bgplane_addr(), p.daemon_addr());
    p.bgplane_gets(&[routes::D4, routes::D6]);
    p.daemon_gets(&[routes::B4, routes::B6]);
    // Let the initial exchange (End-of-RIB included) settle before taking counters.
    wait_for(
        "bgplane's UPDATE counter to settle",
        timeouts::ROUTES,
        || {
            let a = p.bgplane.summary_counter(d, "msg_received")?;
            std::thread::sleep(Duration::from_millis(500));
            let b2 = p.bgplane.summary_counter(d, "msg_received")?;
            if a == b2 {
                Ok(())
            } else {
                Err(format!("{a} -> {b2}"))
            }
        },
    );

    // bgplane asks.
    let received = p
        .bgplane
        .summary_counter(d, "msg_received")
        .expect("counter");
    let requests = p.daemon.refresh_requests_received(b);
    p.bgplane.soft_in(d);
    if let Some(before) = requests {
        let name = p.daemon.name();
        wait_for(
            &format!("{name} to count bgplane's ROUTE-REFRESH"),
            timeouts::ROUTES,
            || match p.daemon.refresh_requests_received(b) {
                Some(n) if n > before => Ok(()),
                other => Err(format!("{other:?}, was {before}")),
            },
        );
    }
    let answer = wait_for(
        &format!("{} to resend its routes to bgplane", p.daemon.name()),
        timeouts::ROUTES,
        || {
            if let Some(why) = p.daemon.refresh_ignored(b) {
                return Ok(Some(why));
            }
            let n = p.bgplane.summary_counter(d, "msg_received")?;
            if n > received {
                return Ok(None);
            }
            Err(format!("UPDATEs received {n}, was {received}"))
        },
    );
    if let Some(why) = answer {
        say(&format!(
            "NOTE {test}: {} ignored bgplane's ROUTE-REFRESH: {why}",
            p.daemon.name()
        ));
    }
    // The refreshed routes are there and not stale (enhanced route refresh, RFC 7313).
    p.bgplane_gets(&[routes::D4, routes::D6]);
    holds_for(
        "the daemon's routes at bgplane after the refresh",
        Duration::from_secs(2),
        || {
            p.bgplane.has_route(&routes::D4, d)?;
            p.bgplane.has_route(&routes::D6, d)
        },
    );

    // The daemon asks.
    let sent = p.bgplane.summary_counter(d, "msg_sent").expect("counter");
    if p.daemon.soft_in(b) {
        wait_for(
            &format!("bgplane to resend its routes to {}", p.daemon.name()),
            timeouts::ROUTES,
            || {
                let n = p.bgplane.summary_counter(d, "msg_sent")?;
                if n > sent {
                    Ok(())
                } else {
                    Err(format!("UPDATEs sent {n}, was {sent}"))
                }
            },
        );
        p.daemon_gets(&[routes::B4, routes::B6]);
    } else {
        say(&format!(
            "NOTE {test}: {} cannot send a ROUTE-REFRESH on demand; its half is not tested",
            p.daemon.name()
        ));
    }
    p.bgplane.established(d).expect("session still up");
    p.bgplane.assert_running();
}

/// NOTIFICATIONs both ways: bgplane's neighbor shut down with a message (YAML + reload)
/// shows on the daemon with the text; after the shutdown is lifted the session comes back;
/// the daemon's shutdown with a message shows in bgplane's `last_error`.
pub(crate) fn shutdown_messages_show_on_both_sides(test: &str, kind: Kind) {
    let Some(mut p) = Pair::start(test, kind, EBGP) else {
        return;
    };
    p.wait_established();
    let (b, d) = (p.bgplane_addr(), p.daemon_addr());

    let ours = "bgplane maintenance window";
    p.bgplane
        .reconfigure(|c| c.neighbors[0].shutdown = Some(ours.into()));
    let name = p.daemon.name();
    wait_for(
        &format!("{name} to show bgplane's shutdown communication"),
        timeouts::ROUTES,
        || match p.daemon.received_shutdown_message(b)? {
            Some(m) if m.contains(ours) => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    wait_for("bgplane to stay down", timeouts::ROUTES, || {
        let st = p.bgplane.state(d)?;
        let err = p.bgplane.last_error(d)?.unwrap_or_default();
        if st == "Idle" && err.contains("sent") && err.contains(ours) {
            Ok(())
        } else {
            Err(format!("state {st}, last error {err:?}"))
        }
    });
    let _ = p
        .daemon
        .established(b)
        .expect_err("the daemon's session is down");

    p.bgplane.reconfigure(|c| c.neighbors[0].shutdown = None);
    p.wait_established();

    let theirs = format!("{} going down", name.to_lowercase());
    p.daemon.shutdown(b, &theirs);
    wait_for(
        &format!("bgplane to show {name}'s shutdown communication"),
        timeouts::ROUTES,
        || match p.bgplane.last_error(d)? {
            Some(e) if e.contains("received") && e.contains(&theirs) => Ok(()),
            other => Err(format!("last_error {other:?}")),
        },
    );
    assert_ne!(p.bgplane.state(d).expect("state"), "Established");
    p.bgplane.assert_running();
}

/// Hard resets from either side: `bgplane clear bgp ADDR` and the daemon's own reset
/// (FRR `clear bgp`, BIRD `restart`, GoBGP `neighbor reset`, OpenBGPD `neighbor clear`)
/// each end the session with a Cease, and the session and the routes come back.
pub(crate) fn hard_resets_bring_the_session_and_routes_back(test: &str, kind: Kind) {
    let Some(mut p) = Pair::start(test, kind, EBGP) else {
        return;
    };
    p.wait_established();
    let (b, d) = (p.bgplane_addr(), p.daemon_addr());
    p.bgplane_gets(&[routes::D4, routes::D6]);
    p.daemon_gets(&[routes::B4, routes::B6]);
    let established = |p: &Pair| -> Result<u64, String> {
        p.bgplane.neighbor(d)?["counters"]["established"]
            .as_u64()
            .ok_or_else(|| "no counter".to_string())
    };
    assert_eq!(established(&p), Ok(1));

    p.bgplane
        .cli(&["clear", "bgp", &d.to_string()])
        .unwrap_or_else(|e| panic!("{e}"));
    wait_for(
        "bgplane's session to come back",
        timeouts::SESSION,
        || match established(&p)? {
            2 => p.bgplane.established(d),
            n => Err(format!("established {n} times")),
        },
    );
    let err = p
        .bgplane
        .last_error(d)
        .expect("neighbor")
        .unwrap_or_default();
    // Usually "sent Cease/Administrative Reset (6/4)"; but bgplane reconnects within
    // milliseconds, and FRR, still clearing the old session, may refuse that first new
    // connection with Cease/Connection Collision Resolution (6/7), which then is the last
    // error (bgplane connects again after its 1 s idle hold).
    assert!(
        err.contains("Cease"),
        "bgplane's hard reset sends a Cease: last_error {err:?}"
    );
    p.wait_established();
    p.bgplane_gets(&[routes::D4, routes::D6]);
    p.daemon_gets(&[routes::B4, routes::B6]);

    p.daemon.hard_reset(b);
    let name = p.daemon.name();
    wait_for(
        &format!("the session to come back after {name}'s reset"),
        timeouts::SESSION,
        || match established(&p)? {
            3 => p.bgplane.established(d),
            n => Err(format!("established {n} times")),
        },
    );
    let err = p
        .bgplane
        .last_error(d)
        .expect("neighbor")
        .unwrap_or_default();
    assert!(
        err.contains("received") && err.contains("Cease"),
        "{name}'s reset shows as a received Cease: last_error {err:?}"
    );
    p.wait_established();
    p.bgplane_gets(&[routes::D4, routes::D6]);
    p.daemon_gets(&[routes::B4, routes::B6]);
    p.bgplane.assert_running();
}
