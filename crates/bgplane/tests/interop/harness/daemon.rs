//! What the tests ask of every third-party daemon, whatever its CLI: its configuration
//! ([`DaemonSpec`]), its session and routes, and the operations the scenarios drive.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Lab;

/// A route to originate: prefix, standard and large communities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RouteSpec {
    /// The prefix, e.g. `10.1.1.0/24`.
    pub(crate) prefix: &'static str,
    /// Communities as `ASN:VALUE`.
    pub(crate) communities: &'static [&'static str],
    /// Large communities as `GLOBAL:DATA1:DATA2`.
    pub(crate) large: &'static [&'static str],
}

impl RouteSpec {
    /// Whether the prefix is IPv6.
    pub(crate) fn is_v6(&self) -> bool {
        self.prefix.contains(':')
    }

    /// Checks that a route seen somewhere carries this route's communities.
    pub(crate) fn matches(&self, seen: &Route) -> Result<(), String> {
        for c in self.communities {
            if !seen.communities.iter().any(|s| s == c) {
                return Err(format!(
                    "{}: community {c} missing in {seen:?}",
                    self.prefix
                ));
            }
        }
        for c in self.large {
            if !seen.large.iter().any(|s| s == c) {
                return Err(format!(
                    "{}: large community {c} missing in {seen:?}",
                    self.prefix
                ));
            }
        }
        Ok(())
    }
}

/// A route as a daemon shows it, communities normalised to `A:B` and `A:B:C`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Route {
    /// The prefix.
    pub(crate) prefix: String,
    /// Standard communities.
    pub(crate) communities: Vec<String>,
    /// Large communities.
    pub(crate) large: Vec<String>,
    /// AS path, ASNs separated by spaces.
    pub(crate) as_path: String,
    /// Next hop (the global one for IPv6).
    pub(crate) next_hop: String,
}

/// The routes every daemon originates: IPv4 and IPv6 with communities, and a pair that
/// the withdrawal test takes away.
pub(crate) mod routes {
    use super::RouteSpec;

    /// The daemon's IPv4 route.
    pub(crate) const D4: RouteSpec = RouteSpec {
        prefix: "10.1.1.0/24",
        communities: &["65001:100"],
        large: &["65001:1:2"],
    };
    /// The daemon's IPv6 route.
    pub(crate) const D6: RouteSpec = RouteSpec {
        prefix: "fd01:1::/48",
        communities: &["65001:600"],
        large: &["65001:6:6"],
    };
    /// The daemon's IPv4 route withdrawn later.
    pub(crate) const D4W: RouteSpec = RouteSpec {
        prefix: "10.1.2.0/24",
        communities: &["65001:200"],
        large: &[],
    };
    /// The daemon's IPv6 route withdrawn later.
    pub(crate) const D6W: RouteSpec = RouteSpec {
        prefix: "fd01:2::/48",
        communities: &[],
        large: &["65001:2:2"],
    };
    /// Every route the daemon originates.
    pub(crate) const DAEMON: [RouteSpec; 4] = [D4, D6, D4W, D6W];

    /// bgplane's IPv4 network.
    pub(crate) const B4: RouteSpec = RouteSpec {
        prefix: "10.2.1.0/24",
        communities: &["65000:7"],
        large: &["65000:7:7"],
    };
    /// bgplane's IPv6 network.
    pub(crate) const B6: RouteSpec = RouteSpec {
        prefix: "fd02:1::/48",
        communities: &["65000:8"],
        large: &["65000:8:8"],
    };
    /// bgplane's IPv4 network removed later.
    pub(crate) const B4W: RouteSpec = RouteSpec {
        prefix: "10.2.2.0/24",
        communities: &["65000:9"],
        large: &[],
    };
    /// bgplane's IPv6 network removed later.
    pub(crate) const B6W: RouteSpec = RouteSpec {
        prefix: "fd02:2::/48",
        communities: &[],
        large: &["65000:9:9"],
    };
    /// Every network bgplane originates.
    pub(crate) const BGPLANE: [RouteSpec; 4] = [B4, B6, B4W, B6W];

    /// A second daemon's IPv4 route (transit tests).
    pub(crate) const E4: RouteSpec = RouteSpec {
        prefix: "10.3.1.0/24",
        communities: &["65002:100"],
        large: &["65002:1:2"],
    };
    /// A second daemon's IPv6 route (transit tests).
    pub(crate) const E6: RouteSpec = RouteSpec {
        prefix: "fd03:1::/48",
        communities: &["65002:600"],
        large: &["65002:6:6"],
    };
}

/// A third-party daemon's configuration: one neighbor (bgplane) on one link.
#[derive(Debug, Clone)]
pub(crate) struct DaemonSpec {
    /// Its AS.
    pub(crate) asn: u32,
    /// Its BGP identifier.
    pub(crate) router_id: Ipv4Addr,
    /// Its IPv4 address on the link (the session runs over IPv4).
    pub(crate) v4: Ipv4Addr,
    /// Its IPv6 address on the link (next hop of its IPv6 routes).
    pub(crate) v6: Ipv6Addr,
    /// bgplane's address.
    pub(crate) peer: Ipv4Addr,
    /// bgplane's AS.
    pub(crate) peer_as: u32,
    /// Wait for bgplane to connect.
    pub(crate) passive: bool,
    /// Hold time to offer.
    pub(crate) hold_time: u16,
    /// Routes to originate.
    pub(crate) routes: Vec<RouteSpec>,
    /// TCP MD5 password (RFC 2385).
    pub(crate) password: Option<String>,
    /// GTSM (RFC 5082), directly connected: TTL 255 out, only 255 accepted.
    pub(crate) gtsm: bool,
    /// Peer with bgplane over the link's IPv6 link-local addresses instead of `peer`.
    pub(crate) unnumbered: Option<Unnumbered>,
}

/// An unnumbered session: the daemon's interface and bgplane's link-local address.
#[derive(Debug, Clone)]
pub(crate) struct Unnumbered {
    /// The daemon's interface towards bgplane.
    pub(crate) ifname: String,
    /// bgplane's link-local address on that link.
    pub(crate) peer_ll: Ipv6Addr,
}

impl DaemonSpec {
    /// iBGP?
    pub(crate) fn internal(&self) -> bool {
        self.asn == self.peer_as
    }
}

/// Which daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// FRR 8.4 (zebra + bgpd).
    Frr,
    /// BIRD 2.0.
    Bird,
    /// GoBGP 3.
    Gobgp,
    /// OpenBGPD 7.
    Openbgpd,
}

impl Kind {
    /// What the daemon needs installed.
    pub(crate) fn need(self) -> super::Need {
        match self {
            Kind::Frr => super::Need::Frr,
            Kind::Bird => super::Need::Bird,
            Kind::Gobgp => super::Need::Gobgp,
            Kind::Openbgpd => super::Need::Openbgpd,
        }
    }

    /// Starts the daemon in namespace `ns`.
    pub(crate) fn start(self, lab: &Lab, ns: &str, spec: &DaemonSpec) -> Box<dyn Daemon> {
        match self {
            Kind::Frr => Box::new(super::frr::Frr::start(lab, ns, spec)),
            Kind::Bird => Box::new(super::bird::Bird::start(lab, ns, spec)),
            Kind::Gobgp => Box::new(super::gobgp::Gobgp::start(lab, ns, spec)),
            Kind::Openbgpd => Box::new(super::openbgpd::Openbgpd::start(lab, ns, spec)),
        }
    }
}

/// A running daemon with one neighbor, as the scenarios drive it.
pub(crate) trait Daemon {
    /// Its name, for messages.
    fn name(&self) -> &'static str;

    /// Whether the session with `peer` is Established; `Err` says what state it is in.
    fn established(&mut self, peer: IpAddr) -> Result<(), String>;

    /// The best route the daemon holds for `prefix` (from any source), if any.
    fn route(&mut self, prefix: &str) -> Result<Option<Route>, String>;

    /// Stops originating `route` (the daemon's own reconfiguration).
    fn withdraw(&mut self, route: &RouteSpec);

    /// ROUTE-REFRESH requests the daemon has received from `peer`, where it counts them.
    fn refresh_requests_received(&mut self, peer: IpAddr) -> Option<u64>;

    /// Why the daemon ignored a ROUTE-REFRESH from `peer`, when its log says so for a
    /// known daemon-side reason (see the implementations).
    fn refresh_ignored(&mut self, _peer: IpAddr) -> Option<String> {
        None
    }

    /// Asks `peer` to resend its routes (soft reset in, ROUTE-REFRESH). `false` when the
    /// daemon sent no ROUTE-REFRESH for it (GoBGP 3.10).
    fn soft_in(&mut self, peer: IpAddr) -> bool;

    /// Has the daemon connect to `peer` again now, after `peer` ended the session with a
    /// NOTIFICATION, where it would otherwise first wait out a long idle hold (OpenBGPD
    /// 7.7: 30 s); what an operator does when the peer's maintenance is over. Most daemons
    /// reconnect on their own within seconds and need nothing.
    fn reconnect(&mut self, _peer: IpAddr) {}

    /// Resets the session with `peer` (a hard reset: NOTIFICATION Cease, reconnect).
    fn hard_reset(&mut self, peer: IpAddr);

    /// Shuts the session with `peer` down, sending `message` as shutdown communication.
    fn shutdown(&mut self, peer: IpAddr, message: &str);

    /// The shutdown communication last received from `peer`, as the daemon shows it.
    fn received_shutdown_message(&mut self, peer: IpAddr) -> Result<Option<String>, String>;
}

/// Checks that the daemon holds `want` with its communities.
pub(crate) fn has_route(d: &mut dyn Daemon, want: &RouteSpec) -> Result<(), String> {
    match d.route(want.prefix)? {
        Some(r) => want.matches(&r),
        None => Err(format!("{} has no route for {}", d.name(), want.prefix)),
    }
}

/// Checks that the daemon holds no route for `prefix`.
pub(crate) fn lacks_route(d: &mut dyn Daemon, prefix: &str) -> Result<(), String> {
    match d.route(prefix)? {
        None => Ok(()),
        Some(r) => Err(format!("{} still has {r:?}", d.name())),
    }
}
