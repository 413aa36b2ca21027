//! What a session proposes in its OPEN, and what it agrees with the peer on
//! (RFC 4271 §6.2, RFC 5492, RFC 4760 §8, RFC 6793, RFC 7911, RFC 8654, RFC 8950).

use std::net::Ipv4Addr;

use bgp_wire::capability::{AddPathFamily, ExtendedNextHop, GracefulRestartFamily};
use bgp_wire::notification::codes;
use bgp_wire::open::AS_TRANS;
use bgp_wire::{Afi, Capability, Family, Notification, Open, SessionContext};

/// The AS a neighbor must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemoteAs {
    /// Exactly this AS.
    Asn(u32),
    /// The local AS (`remote-as internal`).
    Internal,
    /// Any AS but the local one (`remote-as external`).
    External,
}

impl RemoteAs {
    /// Whether a session with a peer so configured, whose local AS is `local`, is eBGP.
    pub fn is_external(self, local: u32) -> bool {
        match self {
            RemoteAs::Asn(a) => a != local,
            RemoteAs::External => true,
            RemoteAs::Internal => false,
        }
    }

    /// Whether `asn` is acceptable for a session whose local AS is `local`.
    pub fn accepts(self, asn: u32, local: u32) -> bool {
        match self {
            RemoteAs::Asn(a) => a == asn,
            RemoteAs::Internal => asn == local,
            RemoteAs::External => asn != local,
        }
    }
}

/// Graceful restart parameters announced in the OPEN (RFC 4724 §3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GracefulRestart {
    /// Restart time in seconds (12 bits).
    pub restart_time: u16,
    /// Whether this speaker is restarting (R bit).
    pub restarting: bool,
    /// Whether forwarding state is preserved across a restart (F bit per family).
    pub forwarding_preserved: bool,
}

/// What one side of a session proposes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionParams {
    /// AS presented to the peer (after any local-as override).
    pub local_asn: u32,
    /// BGP identifier.
    pub local_id: Ipv4Addr,
    /// Which peer AS is acceptable.
    pub remote_as: RemoteAs,
    /// Proposed hold time in seconds (0 or at least 3).
    pub hold_time: u16,
    /// Keepalive interval; by default a third of the negotiated hold time.
    pub keepalive: Option<u16>,
    /// Families announced with the multiprotocol capability.
    pub families: Vec<Family>,
    /// Announce route refresh (RFC 2918) and enhanced route refresh (RFC 7313).
    pub route_refresh: bool,
    /// Announce extended messages (RFC 8654).
    pub extended_message: bool,
    /// ADD-PATH modes per family (RFC 7911).
    pub add_path: Vec<AddPathFamily>,
    /// Announce IPv6 next hops for IPv4 unicast (RFC 8950).
    pub extended_nexthop: bool,
    /// Graceful restart (RFC 4724), if enabled.
    pub graceful_restart: Option<GracefulRestart>,
    /// Host name for the FQDN capability.
    pub hostname: Option<String>,
    /// BFD strict mode (draft-ietf-idr-bgp-bfd-strict-mode: BfdEnabled and
    /// BfdStrictEnabled): announce the capability and, when the peer does too, wait for
    /// BFD Up before Established.
    pub bfd_strict: bool,
}

impl SessionParams {
    /// Parameters with the defaults of a modern speaker: IPv4 and IPv6 unicast, route
    /// refresh, hold time 90 s.
    pub fn new(local_asn: u32, local_id: Ipv4Addr, remote_as: RemoteAs) -> Self {
        SessionParams {
            local_asn,
            local_id,
            remote_as,
            hold_time: 90,
            keepalive: None,
            families: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
            route_refresh: true,
            extended_message: false,
            add_path: Vec::new(),
            extended_nexthop: false,
            graceful_restart: None,
            hostname: None,
            bfd_strict: false,
        }
    }

    /// The OPEN this side sends.
    pub fn open(&self) -> Open {
        let mut caps: Vec<Capability> = self
            .families
            .iter()
            .map(|f| Capability::Multiprotocol(*f))
            .collect();
        if self.route_refresh {
            caps.push(Capability::RouteRefresh);
            caps.push(Capability::EnhancedRouteRefresh);
        }
        caps.push(Capability::FourOctetAs(self.local_asn));
        if self.extended_message {
            caps.push(Capability::ExtendedMessage);
        }
        if !self.add_path.is_empty() {
            caps.push(Capability::AddPath(self.add_path.clone()));
        }
        if self.extended_nexthop && self.families.contains(&Family::IPV4_UNICAST) {
            caps.push(Capability::ExtendedNextHop(vec![ExtendedNextHop {
                nlri_afi: Afi::IPV4,
                nlri_safi: 1,
                nexthop_afi: Afi::IPV6,
            }]));
        }
        if let Some(gr) = &self.graceful_restart {
            caps.push(Capability::GracefulRestart {
                // R bit when restarting, N bit: we understand RFC 8538 notifications.
                flags: if gr.restarting { 0x8 | 0x4 } else { 0x4 },
                time: gr.restart_time & 0x0fff,
                families: self
                    .families
                    .iter()
                    .map(|f| GracefulRestartFamily {
                        family: *f,
                        flags: if gr.forwarding_preserved { 0x80 } else { 0 },
                    })
                    .collect(),
            });
        }
        if let Some(h) = &self.hostname {
            caps.push(Capability::Fqdn {
                hostname: h.clone(),
                domain: String::new(),
            });
        }
        if self.bfd_strict {
            caps.push(Capability::BfdStrictMode);
        }
        Open::new(self.local_asn, self.hold_time, self.local_id, caps)
    }
}

/// What both sides agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The peer's AS.
    pub peer_asn: u32,
    /// The peer's BGP identifier.
    pub peer_id: Ipv4Addr,
    /// Negotiated hold time (the smaller of both; 0 disables keepalives).
    pub hold_time: u16,
    /// Keepalive interval in seconds (0 if none).
    pub keepalive: u16,
    /// Families both sides announced.
    pub families: Vec<Family>,
    /// Route refresh is usable (RFC 2918).
    pub route_refresh: bool,
    /// Enhanced route refresh is usable (RFC 7313).
    pub enhanced_route_refresh: bool,
    /// IPv6 next hops may be sent for IPv4 unicast (RFC 8950).
    pub extended_nexthop: bool,
    /// Context for decoding what the peer sends.
    pub rx: SessionContext,
    /// Context for encoding what we send.
    pub tx: SessionContext,
    /// The peer's graceful restart capability, if any: (flags, restart time, families
    /// whose forwarding state it preserved).
    pub peer_graceful_restart: Option<(u8, u16, Vec<GracefulRestartFamily>)>,
    /// The peer's host name (FQDN capability).
    pub peer_hostname: Option<String>,
    /// Every capability the peer announced.
    pub peer_capabilities: Vec<Capability>,
    /// Both sides announced BFD strict mode (BfdStrictNegotiated,
    /// draft-ietf-idr-bgp-bfd-strict-mode §6).
    pub bfd_strict: bool,
}

impl Negotiated {
    /// Whether the session is eBGP.
    pub fn is_external(&self) -> bool {
        self.rx.external
    }
}

fn open_error(subcode: u8, data: Vec<u8>) -> Notification {
    Notification::new(codes::OPEN_MESSAGE, subcode, data)
}

/// Checks the peer's OPEN against our parameters and agrees on the session
/// (RFC 4271 §6.2; RFC 5492 §5 for missing capabilities). On refusal, returns the
/// NOTIFICATION to send.
pub fn negotiate(local: &SessionParams, peer: &Open) -> Result<Negotiated, Notification> {
    let peer_asn = peer.asn();
    let four = peer
        .capabilities()
        .any(|c| matches!(c, Capability::FourOctetAs(_)));
    // A 2-octet speaker's my_as must be our configured AS; a 4-octet one announces AS_TRANS
    // in my_as when its AS does not fit (RFC 6793 §4.1).
    let my_as_ok = !four || u32::from(peer.my_as) == peer_asn || peer.my_as == AS_TRANS;
    if !local.remote_as.accepts(peer_asn, local.local_asn) || !my_as_ok {
        return Err(open_error(
            2,
            peer_asn.min(0xffff).to_be_bytes()[2..].to_vec(),
        ));
    }
    let external = peer_asn != local.local_asn;
    // RFC 6286 §2.2: within an AS the identifiers must differ.
    if !external && peer.bgp_id == local.local_id {
        return Err(open_error(3, vec![]));
    }
    let hold_time = local.hold_time.min(peer.hold_time);
    let keepalive = if hold_time == 0 {
        0
    } else {
        local
            .keepalive
            .map_or(hold_time / 3, |k| k.min(hold_time / 3).max(1))
    };
    let peer_mp: Vec<Family> = peer
        .capabilities()
        .filter_map(|c| match c {
            Capability::Multiprotocol(f) => Some(*f),
            _ => None,
        })
        .collect();
    // RFC 4760 §8: a speaker without the capability supports IPv4 unicast only.
    let peer_families = if peer_mp.is_empty() {
        vec![Family::IPV4_UNICAST]
    } else {
        peer_mp
    };
    let families: Vec<Family> = local
        .families
        .iter()
        .copied()
        .filter(|f| peer_families.contains(f))
        .collect();
    if families.is_empty() {
        // RFC 5492 §5: Unsupported Capability, data = the capabilities we need.
        let mut data = Vec::new();
        for f in &local.families {
            Capability::Multiprotocol(*f).encode(&mut data);
        }
        return Err(open_error(7, data));
    }
    let has = |f: fn(&Capability) -> bool| peer.capabilities().any(f);
    let route_refresh = local.route_refresh
        && has(|c| {
            matches!(
                c,
                Capability::RouteRefresh | Capability::Unknown { code: 128, .. }
            )
        });
    let enhanced_route_refresh =
        local.route_refresh && has(|c| matches!(c, Capability::EnhancedRouteRefresh));
    let extended_nexthop = local.extended_nexthop
        && peer.capabilities().any(|c| match c {
            Capability::ExtendedNextHop(v) => v
                .iter()
                .any(|e| e.nlri_afi == Afi::IPV4 && e.nexthop_afi == Afi::IPV6),
            _ => false,
        });
    let (mut rx, mut tx) = SessionContext::negotiate(&local.open(), peer, external);
    for ctx in [&mut rx, &mut tx] {
        ctx.four_octet_as = four;
    }
    let peer_graceful_restart = peer.capabilities().find_map(|c| match c {
        Capability::GracefulRestart {
            flags,
            time,
            families,
        } => Some((*flags, *time, families.clone())),
        _ => None,
    });
    let peer_hostname = peer.capabilities().find_map(|c| match c {
        Capability::Fqdn { hostname, .. } => Some(hostname.clone()),
        _ => None,
    });
    Ok(Negotiated {
        peer_asn,
        peer_id: peer.bgp_id,
        hold_time,
        keepalive,
        families,
        route_refresh,
        enhanced_route_refresh,
        extended_nexthop,
        rx,
        tx,
        peer_graceful_restart,
        peer_hostname,
        peer_capabilities: peer.capabilities().cloned().collect(),
        bfd_strict: local.bfd_strict && has(|c| matches!(c, Capability::BfdStrictMode)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(asn: u32, remote: RemoteAs) -> SessionParams {
        SessionParams::new(asn, Ipv4Addr::new(10, 0, 0, 1), remote)
    }

    fn peer_open(asn: u32, caps: Vec<Capability>) -> Open {
        Open::new(asn, 30, Ipv4Addr::new(10, 0, 0, 2), caps)
    }

    #[test]
    fn a_modern_peer_negotiates_families_hold_time_and_four_octet_as() {
        let local = params(65000, RemoteAs::External);
        let peer = peer_open(
            4_200_000_001,
            vec![
                Capability::Multiprotocol(Family::IPV4_UNICAST),
                Capability::RouteRefresh,
                Capability::FourOctetAs(4_200_000_001),
            ],
        );
        let n = negotiate(&local, &peer).unwrap();
        assert_eq!(n.peer_asn, 4_200_000_001);
        assert_eq!(n.families, vec![Family::IPV4_UNICAST]);
        assert_eq!((n.hold_time, n.keepalive), (30, 10));
        assert!(n.rx.four_octet_as && n.tx.four_octet_as && n.is_external());
        assert!(n.route_refresh && !n.enhanced_route_refresh);
    }

    #[test]
    fn the_wrong_peer_as_is_refused_with_bad_peer_as() {
        let local = params(65000, RemoteAs::Asn(65001));
        let e = negotiate(
            &local,
            &peer_open(65002, vec![Capability::FourOctetAs(65002)]),
        )
        .unwrap_err();
        assert_eq!((e.code, e.subcode), (2, 2));
        let internal = params(65000, RemoteAs::Internal);
        assert!(negotiate(&internal, &peer_open(65001, vec![])).is_err());
        assert!(negotiate(&internal, &peer_open(65000, vec![])).is_ok());
    }

    #[test]
    fn no_common_family_is_refused_with_unsupported_capability() {
        let mut local = params(65000, RemoteAs::External);
        local.families = vec![Family::IPV6_UNICAST];
        // The peer has no MP capability at all: IPv4 unicast only (RFC 4760 §8).
        let e = negotiate(&local, &peer_open(65001, vec![])).unwrap_err();
        assert_eq!((e.code, e.subcode), (2, 7));
        assert_eq!(e.data, vec![1, 4, 0, 2, 0, 1]);
    }

    #[test]
    fn an_ibgp_peer_with_our_identifier_is_refused() {
        let local = params(65000, RemoteAs::Internal);
        let mut o = peer_open(65000, vec![]);
        o.bgp_id = local.local_id;
        assert_eq!(negotiate(&local, &o).unwrap_err().subcode, 3);
    }

    #[test]
    fn zero_hold_time_disables_keepalives() {
        let local = params(65000, RemoteAs::External);
        let mut o = peer_open(65001, vec![]);
        o.hold_time = 0;
        let n = negotiate(&local, &o).unwrap();
        assert_eq!((n.hold_time, n.keepalive), (0, 0));
    }
}
