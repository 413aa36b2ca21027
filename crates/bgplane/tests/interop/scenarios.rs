//! The scenarios every daemon goes through, written once against [`Daemon`]: for each
//! session (eBGP, iBGP, either side connecting) one pair of daemons brought up once carries
//! routes with communities both ways, withdrawals both ways, route refresh both ways and
//! shutdown communications from either side; secure sessions (TCP MD5, GTSM) come up and
//! carry routes; hard resets from either side.
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
    p.check_session_and_routes(s);
    p.bgplane.assert_running();
}

/// Everything issue 3 asks of one session, on one pair of daemons brought up once: the
/// session of the given kind comes up, initiated by the expected side; IPv4 and IPv6
/// routes with communities and large communities flow both ways; withdrawals arrive both
/// ways; route refresh works both ways (where the daemon can); a shutdown NOTIFICATION with
/// its message is understood by the other side, from bgplane and then from the daemon.
pub(crate) fn session_carries_routes_withdrawals_refreshes_and_notifications(
    test: &str,
    kind: Kind,
    s: Session,
) {
    let Some(mut p) = Pair::start(test, kind, s) else {
        return;
    };
    p.check_session_and_routes(s);
    p.withdrawals_arrive_both_ways();
    p.route_refresh_works_both_ways(test);
    p.shutdown_messages_show_on_both_sides(s);
    p.bgplane.assert_running();
}

impl Pair {
    /// The session is Established on both sides, initiated by the side `s` says, with the
    /// expected kind and hold time; every route of both sides arrives with its communities;
    /// iBGP paths carry LOCAL_PREF.
    fn check_session_and_routes(&mut self, s: Session) {
        self.wait_established();
        let n = self.assert_initiator(s);
        let session = &n["session"];
        let kind_shown = if s.internal { "iBGP" } else { "eBGP" };
        assert_eq!(session["kind"], kind_shown, "session kind in {session}");
        assert_eq!(session["hold_time"], 9, "negotiated hold time in {session}");
        self.bgplane_gets(&routes::DAEMON);
        self.daemon_gets(&routes::BGPLANE);
        if s.internal {
            // iBGP paths carry LOCAL_PREF (RFC 4271 §5.1.5).
            let path = self
                .bgplane
                .path_from(routes::D4.prefix, self.daemon_addr())
                .expect("bgplane routes")
                .expect("the daemon's path");
            assert!(
                path["local_pref"].is_u64(),
                "no LOCAL_PREF on an iBGP path: {path}"
            );
        }
    }

    /// Checks that the side `s` says opened the Established session (the side whose local
    /// port is not 179); returns bgplane's neighbor JSON.
    fn assert_initiator(&self, s: Session) -> serde_json::Value {
        let n = self
            .bgplane
            .neighbor(self.daemon_addr())
            .expect("bgplane neighbor");
        let session = &n["session"];
        let remote = session["remote"].as_str().unwrap_or_default();
        let local = session["local"].as_str().unwrap_or_default();
        if s.bgplane_connects {
            assert!(
                remote.ends_with(":179") && !local.ends_with(":179"),
                "bgplane should have connected to the passive {}: local {local}, remote {remote}",
                self.daemon.name()
            );
        } else {
            assert!(
                local.ends_with(":179"),
                "{} should have connected to the passive bgplane: local {local}, remote {remote}",
                self.daemon.name()
            );
        }
        n
    }

    /// Withdrawals arrive both ways: bgplane's networks removed from its file + reload, the
    /// daemon's routes removed by its own reconfiguration; the other routes stay.
    fn withdrawals_arrive_both_ways(&mut self) {
        self.bgplane.reconfigure(|c| {
            c.networks
                .retain(|n| *n != routes::B4W && *n != routes::B6W);
        });
        for r in [routes::B4W, routes::B6W] {
            let name = self.daemon.name();
            wait_for(
                &format!("{name} to drop bgplane's withdrawn {}", r.prefix),
                timeouts::ROUTES,
                || daemon::lacks_route(self.daemon.as_mut(), r.prefix),
            );
        }
        self.daemon_gets(&[routes::B4, routes::B6]);

        self.daemon.withdraw(&routes::D4W);
        self.daemon.withdraw(&routes::D6W);
        let from = self.daemon_addr();
        for r in [routes::D4W, routes::D6W] {
            wait_for(
                &format!(
                    "bgplane to drop {}'s withdrawn {}",
                    self.daemon.name(),
                    r.prefix
                ),
                timeouts::ROUTES,
                || self.bgplane.lacks_route(r.prefix, from),
            );
        }
        self.bgplane_gets(&[routes::D4, routes::D6]);
        self.bgplane.established(from).expect("session still up");
    }

    /// bgplane's UPDATE counters for the daemon: (received, sent). Unlike the summary's
    /// message counters they do not move with KEEPALIVEs.
    fn update_counters(&self) -> Result<(u64, u64), String> {
        let n = self.bgplane.neighbor(self.daemon_addr())?;
        let c = &n["counters"];
        match (c["updates_received"].as_u64(), c["updates_sent"].as_u64()) {
            (Some(r), Some(s)) => Ok((r, s)),
            _ => Err(format!("no UPDATE counters in {c}")),
        }
    }

    /// `bgplane clear bgp ADDR --soft in` makes the daemon resend its routes (it counts the
    /// request where it can, bgplane counts the UPDATEs) and the routes survive the refresh;
    /// the daemon's soft reset in makes bgplane send its routes again.
    /// A daemon that logs why it ignored the request for a known daemon-side reason
    /// ([`Daemon::refresh_ignored`]), or that sends no ROUTE-REFRESH on its soft reset in
    /// ([`Daemon::soft_in`]), passes that half with a note.
    fn route_refresh_works_both_ways(&mut self, test: &str) {
        let (b, d) = (self.bgplane_addr(), self.daemon_addr());
        let name = self.daemon.name();
        // Let earlier changes (End-of-RIB, withdrawals) settle before taking counters.
        let (received, _) = wait_for(
            "bgplane's UPDATE counters to settle",
            timeouts::ROUTES,
            || {
                let before = self.update_counters()?;
                std::thread::sleep(Duration::from_millis(300));
                let after = self.update_counters()?;
                if before == after {
                    Ok(after)
                } else {
                    Err(format!("{before:?} -> {after:?}"))
                }
            },
        );

        // bgplane asks.
        let requests = self.daemon.refresh_requests_received(b);
        self.bgplane.soft_in(d);
        if let Some(before) = requests {
            wait_for(
                &format!("{name} to count bgplane's ROUTE-REFRESH"),
                timeouts::ROUTES,
                || match self.daemon.refresh_requests_received(b) {
                    Some(n) if n > before => Ok(()),
                    other => Err(format!("{other:?}, was {before}")),
                },
            );
        }
        let answer = wait_for(
            &format!("{name} to resend its routes to bgplane"),
            timeouts::ROUTES,
            || {
                if let Some(why) = self.daemon.refresh_ignored(b) {
                    return Ok(Some(why));
                }
                let (n, _) = self.update_counters()?;
                if n > received {
                    return Ok(None);
                }
                Err(format!("UPDATEs received {n}, was {received}"))
            },
        );
        if let Some(why) = answer {
            say(&format!(
                "NOTE {test}: {name} ignored bgplane's ROUTE-REFRESH: {why}"
            ));
        }
        // The refreshed routes are there and not stale (enhanced route refresh, RFC 7313).
        self.bgplane_gets(&[routes::D4, routes::D6]);
        holds_for(
            "the daemon's routes at bgplane after the refresh",
            Duration::from_secs(1),
            || {
                self.bgplane.has_route(&routes::D4, d)?;
                self.bgplane.has_route(&routes::D6, d)
            },
        );

        // The daemon asks.
        let (_, sent) = self.update_counters().expect("counters");
        if self.daemon.soft_in(b) {
            wait_for(
                &format!("bgplane to resend its routes to {name}"),
                timeouts::ROUTES,
                || {
                    let (_, n) = self.update_counters()?;
                    if n > sent {
                        Ok(())
                    } else {
                        Err(format!("UPDATEs sent {n}, was {sent}"))
                    }
                },
            );
            self.daemon_gets(&[routes::B4, routes::B6]);
        } else {
            say(&format!(
                "NOTE {test}: {name} sent no ROUTE-REFRESH on its soft reset in; \
                 that half is not tested"
            ));
        }
        self.bgplane.established(d).expect("session still up");
    }

    /// NOTIFICATIONs both ways: bgplane's neighbor shut down with a message (YAML + reload)
    /// shows on the daemon with the text; after the shutdown is lifted the session comes
    /// back, opened by the same side as before (a daemon that would first wait out a long
    /// idle hold is told to connect, [`Daemon::reconnect`]), with the daemon's routes; the
    /// daemon's shutdown with a message then shows in bgplane's `last_error`.
    fn shutdown_messages_show_on_both_sides(&mut self, s: Session) {
        let (b, d) = (self.bgplane_addr(), self.daemon_addr());
        let name = self.daemon.name();

        let ours = "bgplane maintenance window";
        self.bgplane
            .reconfigure(|c| c.neighbors[0].shutdown = Some(ours.into()));
        wait_for(
            &format!("{name} to show bgplane's shutdown communication"),
            timeouts::ROUTES,
            || match self.daemon.received_shutdown_message(b)? {
                Some(m) if m.contains(ours) => Ok(()),
                other => Err(format!("{other:?}")),
            },
        );
        wait_for("bgplane to stay down", timeouts::ROUTES, || {
            let st = self.bgplane.state(d)?;
            let err = self.bgplane.last_error(d)?.unwrap_or_default();
            if st == "Idle" && err.contains("sent") && err.contains(ours) {
                Ok(())
            } else {
                Err(format!("state {st}, last error {err:?}"))
            }
        });
        let _ = self
            .daemon
            .established(b)
            .expect_err("the daemon's session is down");

        self.bgplane.reconfigure(|c| c.neighbors[0].shutdown = None);
        if !s.bgplane_connects {
            self.daemon.reconnect(b);
        }
        self.wait_established();
        self.assert_initiator(s);
        self.bgplane_gets(&[routes::D4, routes::D6]);

        let theirs = format!("{} going down", name.to_lowercase());
        self.daemon.shutdown(b, &theirs);
        wait_for(
            &format!("bgplane to show {name}'s shutdown communication"),
            timeouts::ROUTES,
            || match self.bgplane.last_error(d)? {
                Some(e) if e.contains("received") && e.contains(&theirs) => Ok(()),
                other => Err(format!("last_error {other:?}")),
            },
        );
        assert_ne!(self.bgplane.state(d).expect("state"), "Established");
    }
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
