//! Neighbors and peer groups: written with every setting optional, resolved by inheritance
//! (neighbor, then its peer group, then the router's defaults).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use bgp_wire::Family;
use serde::{Deserialize, Serialize};

use super::{BfdSetting, BfdTimers};
use super::{FamilyName, MaxPrefix, RemoteAsConfig, RemoteAsKind, RouterConfig, Shutdown};

/// A neighbor or a peer group as written in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NeighborConfig {
    /// The peer's address (neighbors only; or `interface`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// Unnumbered neighbor: the interface it is reached on, over IPv6 link-local
    /// addresses (neighbors only; or `address`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// The peer group whose settings this neighbor inherits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_group: Option<String>,
    /// The peer's AS: a number, `internal` or `external`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_as: Option<RemoteAsConfig>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// AS presented to this peer instead of the router's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_as: Option<u32>,
    /// Source address of our connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_address: Option<IpAddr>,
    /// The peer's TCP port (179).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Only accept the peer's connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive: Option<bool>,
    /// TTL of eBGP packets (1 without multihop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ebgp_multihop: Option<u8>,
    /// GTSM (RFC 5082): send with TTL 255, accept only TTL 255 minus the hops allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_security: Option<u8>,
    /// TCP MD5 signature password (RFC 2385).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Hold time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_time: Option<u16>,
    /// Keepalive interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<u16>,
    /// ConnectRetry time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_retry: Option<u32>,
    /// Families to negotiate (IPv4 and IPv6 unicast).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub families: Option<Vec<FamilyName>>,
    /// Our address as next hop towards iBGP peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_self: Option<bool>,
    /// The peer is a route-reflector client (RFC 4456).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_reflector_client: Option<bool>,
    /// Announce a default route to the peer (FRR's `default-originate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_originate: Option<bool>,
    /// Graceful shutdown of this session only (RFC 8326; see `router.graceful-shutdown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_shutdown: Option<bool>,
    /// Import policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<String>,
    /// Export policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<String>,
    /// Prefix limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_prefix: Option<MaxPrefix>,
    /// Accept paths holding our AS up to this many times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowas_in: Option<u8>,
    /// Administratively down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<Shutdown>,
    /// BFD for this session (`true`, `false`, or timers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bfd: Option<BfdSetting>,
}

impl NeighborConfig {
    /// A neighbor with an address and a remote AS.
    pub fn new(address: IpAddr, remote_as: RemoteAsConfig) -> Self {
        NeighborConfig {
            address: Some(address),
            remote_as: Some(remote_as),
            ..Default::default()
        }
    }

    /// This neighbor's settings, with the group's filling what it left out.
    fn or(&self, group: &NeighborConfig) -> NeighborConfig {
        macro_rules! pick {
            ($($f:ident),*) => {
                NeighborConfig { $($f: self.$f.clone().or_else(|| group.$f.clone()),)* }
            };
        }
        pick!(
            address,
            interface,
            peer_group,
            remote_as,
            description,
            local_as,
            local_address,
            port,
            passive,
            ebgp_multihop,
            ttl_security,
            password,
            hold_time,
            keepalive,
            connect_retry,
            families,
            next_hop_self,
            route_reflector_client,
            default_originate,
            graceful_shutdown,
            import,
            export,
            max_prefix,
            allowas_in,
            shutdown,
            bfd
        )
    }
}

/// A neighbor with every setting resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbor {
    /// The peer's address (`::` for an unnumbered neighbor until its link-local address is
    /// discovered).
    pub address: IpAddr,
    /// The interface of an unnumbered neighbor.
    pub interface: Option<String>,
    /// Its peer group.
    pub peer_group: Option<String>,
    /// The peer's AS.
    pub remote_as: RemoteAsConfig,
    /// Free text.
    pub description: Option<String>,
    /// AS presented to this peer.
    pub local_as: Option<u32>,
    /// Source address.
    pub local_address: Option<IpAddr>,
    /// The peer's port.
    pub port: u16,
    /// Passive.
    pub passive: bool,
    /// eBGP multihop TTL.
    pub ebgp_multihop: Option<u8>,
    /// GTSM hops (RFC 5082).
    pub ttl_security: Option<u8>,
    /// TCP MD5 password.
    pub password: Option<String>,
    /// Hold time.
    pub hold_time: Option<u16>,
    /// Keepalive.
    pub keepalive: Option<u16>,
    /// ConnectRetry.
    pub connect_retry: Option<u32>,
    /// Families.
    pub families: Option<Vec<FamilyName>>,
    /// next-hop-self.
    pub next_hop_self: bool,
    /// Route-reflector client.
    pub route_reflector_client: bool,
    /// default-originate.
    pub default_originate: bool,
    /// Graceful shutdown of this session (RFC 8326), besides the router-wide one.
    pub graceful_shutdown: bool,
    /// Import policy.
    pub import: Option<String>,
    /// Export policy.
    pub export: Option<String>,
    /// Prefix limit.
    pub max_prefix: Option<MaxPrefix>,
    /// allowas-in.
    pub allowas_in: u8,
    /// Shutdown.
    pub shutdown: Option<Shutdown>,
    /// BFD timers, if BFD runs for this session.
    pub bfd: Option<BfdTimers>,
}

impl Neighbor {
    /// How the neighbor is named in messages: its address or its interface.
    pub fn key(&self) -> String {
        match &self.interface {
            Some(i) => i.clone(),
            None => self.address.to_string(),
        }
    }

    /// The families this neighbor negotiates.
    pub fn families(&self) -> Vec<Family> {
        match &self.families {
            Some(v) => v.iter().map(|f| Family::from(*f)).collect(),
            None => vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
        }
    }

    /// Whether the neighbor is administratively down, and the message if any.
    pub fn shutdown_message(&self) -> Option<&str> {
        match &self.shutdown {
            Some(Shutdown::Flag(true)) => Some(""),
            Some(Shutdown::Message { message }) => Some(message),
            _ => None,
        }
    }

    /// Whether the session is eBGP, given the router's AS.
    pub fn is_external(&self, router_asn: u32) -> bool {
        match self.remote_as {
            RemoteAsConfig::Asn(a) => a != self.local_as.unwrap_or(router_asn),
            RemoteAsConfig::Kind(RemoteAsKind::External) => true,
            RemoteAsConfig::Kind(RemoteAsKind::Internal) => false,
        }
    }

    /// Whether its BFD session is multihop (RFC 5883): as configured, else for an eBGP
    /// neighbor with `ebgp-multihop` above 1 (as FRR). False without BFD.
    pub fn bfd_multihop(&self, router_asn: u32) -> bool {
        self.bfd.as_ref().is_some_and(|t| {
            t.multihop.unwrap_or(
                self.is_external(router_asn) && self.ebgp_multihop.is_some_and(|h| h > 1),
            )
        })
    }

    fn from_config(c: NeighborConfig) -> Option<Neighbor> {
        Some(Neighbor {
            address: c.address.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
            interface: c.interface,
            peer_group: c.peer_group,
            remote_as: c.remote_as?,
            description: c.description,
            local_as: c.local_as,
            local_address: c.local_address,
            port: c.port.unwrap_or(179),
            passive: c.passive.unwrap_or(false),
            ebgp_multihop: c.ebgp_multihop,
            ttl_security: c.ttl_security,
            password: c.password,
            hold_time: c.hold_time,
            keepalive: c.keepalive,
            connect_retry: c.connect_retry,
            families: c.families,
            next_hop_self: c.next_hop_self.unwrap_or(false),
            route_reflector_client: c.route_reflector_client.unwrap_or(false),
            default_originate: c.default_originate.unwrap_or(false),
            graceful_shutdown: c.graceful_shutdown.unwrap_or(false),
            import: c.import,
            export: c.export,
            max_prefix: c.max_prefix,
            allowas_in: c.allowas_in.unwrap_or(0),
            shutdown: c.shutdown,
            bfd: c.bfd.and_then(BfdSetting::timers),
        })
    }
}

impl RouterConfig {
    /// Every neighbor, resolved (the configuration is valid, so each resolves).
    pub fn neighbors(&self) -> Vec<Neighbor> {
        self.neighbors
            .iter()
            .filter_map(|n| self.resolve(n))
            .collect()
    }

    /// Under RFC 8212 (`router.ebgp-requires-policy`), a line for each eBGP neighbor whose
    /// routes are withheld for want of an import or export policy, for the log at start.
    pub fn rfc8212_withheld(&self) -> Vec<String> {
        if !self.router.ebgp_requires_policy {
            return Vec::new();
        }
        self.neighbors()
            .iter()
            .filter(|n| n.is_external(self.router.asn))
            .filter_map(|n| {
                let what = match (n.import.is_none(), n.export.is_none()) {
                    (false, false) => return None,
                    (true, false) => "no import policy, so its routes are not accepted",
                    (false, true) => "no export policy, so it is sent none",
                    (true, true) => "no import policy, so its routes are not accepted, and no export policy, so it is sent none",
                };
                let name = n.key();
                let asn = match n.remote_as {
                    RemoteAsConfig::Asn(a) => format!("AS {a}"),
                    RemoteAsConfig::Kind(_) => "external".into(),
                };
                Some(format!(
                    "neighbor {name} ({asn}): {what} (RFC 8212, router.ebgp-requires-policy)"
                ))
            })
            .collect()
    }

    /// A neighbor's settings after inheritance from its peer group.
    pub fn resolve(&self, n: &NeighborConfig) -> Option<Neighbor> {
        let merged = match n.peer_group.as_ref().and_then(|g| self.peer_groups.get(g)) {
            Some(g) => n.or(g),
            None => n.clone(),
        };
        Neighbor::from_config(merged)
    }

    /// A dynamic neighbor accepted from a listen range, with its group's settings.
    pub fn dynamic_neighbor(&self, address: IpAddr) -> Option<Neighbor> {
        let range = self
            .router
            .listen_ranges
            .iter()
            .find(|r| r.prefix.contains_addr(address))?;
        let n = NeighborConfig {
            address: Some(address),
            peer_group: Some(range.peer_group.clone()),
            passive: Some(true),
            ..Default::default()
        };
        self.resolve(&n)
    }

    pub(super) fn validate_neighbors(
        &self,
        policies: &crate::policy::Policies,
    ) -> Result<(), (String, String)> {
        // Strict mode needs BFD before BGP is up: a multihop session must know its source
        // without waiting for the BGP session's. Dynamic neighbors are checked through a
        // neighbor of each listen range.
        let configured = self.neighbors().into_iter().map(|n| {
            let key = format!("neighbor {}: bfd.strict", n.key());
            (key, n)
        });
        let dynamic = self
            .router
            .listen_ranges
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let n = self.dynamic_neighbor(r.prefix.addr())?;
                let key = format!(
                    "router.listen-ranges[{i}] (peer group {}): bfd.strict",
                    r.peer_group
                );
                Some((key, n))
            });
        for (key, n) in configured.chain(dynamic) {
            let strict = n.bfd.as_ref().is_some_and(|t| t.strict);
            if strict && n.bfd_multihop(self.router.asn) && n.local_address.is_none() {
                return Err((
                    key,
                    "multihop BFD in strict mode needs the neighbor's local-address: the \
                     BFD session must come up before the BGP session gives its source"
                        .into(),
                ));
            }
        }
        for (name, g) in &self.peer_groups {
            let k = |f: &str| format!("peer-groups.{name}.{f}");
            for (f, set) in [
                ("address", g.address.is_some()),
                ("interface", g.interface.is_some()),
                ("peer-group", g.peer_group.is_some()),
            ] {
                if set {
                    return Err((k(f), "belongs to a neighbor, not to a peer group".into()));
                }
            }
            check_settings(g, &k, policies, self, None)?;
        }
        for (i, r) in self.router.listen_ranges.iter().enumerate() {
            let k = format!("router.listen-ranges[{i}].peer-group");
            let Some(g) = self.peer_groups.get(&r.peer_group) else {
                return Err((k, format!("unknown peer group {:?}", r.peer_group)));
            };
            if g.remote_as.is_none() {
                return Err((
                    k,
                    format!(
                        "peer group {:?} needs a remote-as for dynamic neighbors",
                        r.peer_group
                    ),
                ));
            }
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, n) in self.neighbors.iter().enumerate() {
            let k = |f: &str| format!("neighbors[{i}].{f}");
            let key = match (&n.address, &n.interface) {
                (Some(a), None) => a.to_string(),
                (None, Some(ifname)) => ifname.clone(),
                (Some(_), Some(_)) => {
                    return Err((
                        k("interface"),
                        "give an address or an interface, not both".into(),
                    ))
                }
                (None, None) => {
                    return Err((
                        k("address"),
                        "a neighbor needs an address or an interface".into(),
                    ))
                }
            };
            if let Some(prev) = seen.insert(key.clone(), i) {
                return Err((
                    k(if n.address.is_some() {
                        "address"
                    } else {
                        "interface"
                    }),
                    format!("{key} is already neighbors[{prev}]"),
                ));
            }
            if let Some(g) = &n.peer_group {
                if !self.peer_groups.contains_key(g) {
                    let known: Vec<&str> = self.peer_groups.keys().map(String::as_str).collect();
                    return Err((
                        k("peer-group"),
                        format!("unknown peer group {g:?} (known: {})", known.join(", ")),
                    ));
                }
            }
            let resolved = match n.peer_group.as_ref().and_then(|g| self.peer_groups.get(g)) {
                Some(g) => n.or(g),
                None => n.clone(),
            };
            if resolved.remote_as.is_none() {
                return Err((
                    k("remote-as"),
                    "missing (set it here or in the peer group)".into(),
                ));
            }
            check_settings(&resolved, &k, policies, self, n.address)?;
        }
        Ok(())
    }
}

fn check_settings(
    n: &NeighborConfig,
    k: &dyn Fn(&str) -> String,
    policies: &crate::policy::Policies,
    cfg: &RouterConfig,
    address: Option<IpAddr>,
) -> Result<(), (String, String)> {
    if let Some(RemoteAsConfig::Asn(0)) = n.remote_as {
        return Err((k("remote-as"), "AS 0 cannot be used (RFC 7607)".into()));
    }
    if let Some(h) = n.hold_time {
        if h == 1 || h == 2 {
            return Err((k("hold-time"), "must be 0 or at least 3 seconds".into()));
        }
    }
    if n.families.as_ref().is_some_and(|f| f.is_empty()) {
        return Err((k("families"), "at least one family is needed".into()));
    }
    if let (Some(la), Some(a)) = (n.local_address, address) {
        if la.is_ipv4() != a.is_ipv4() {
            return Err((
                k("local-address"),
                format!("{la} is not of the family of {a}"),
            ));
        }
    }
    if n.ebgp_multihop == Some(0) {
        return Err((k("ebgp-multihop"), "TTL must be at least 1".into()));
    }
    if n.ebgp_multihop.is_some() && n.ttl_security.is_some() {
        return Err((
            k("ttl-security"),
            "cannot be combined with ebgp-multihop (RFC 5082 uses TTL 255)".into(),
        ));
    }
    if let Some(Err(e)) = n.bfd.as_ref().map(BfdSetting::check) {
        return Err((k("bfd"), e));
    }
    if n.ttl_security.is_some_and(|h| h == 0 || h > 254) {
        return Err((k("ttl-security"), "hops must be between 1 and 254".into()));
    }
    if n.password
        .as_ref()
        .is_some_and(|p| p.is_empty() || p.len() > 80)
    {
        return Err((
            k("password"),
            "must be 1 to 80 characters (TCP_MD5SIG_MAXKEYLEN)".into(),
        ));
    }
    for (key, name) in [("import", &n.import), ("export", &n.export)] {
        if let Some(name) = name {
            if policies.get(name).is_none() {
                return Err((k(key), format!("unknown policy {name:?}")));
            }
        }
    }
    let external = match n.remote_as {
        Some(RemoteAsConfig::Asn(a)) => a != n.local_as.unwrap_or(cfg.router.asn),
        Some(RemoteAsConfig::Kind(RemoteAsKind::External)) => true,
        _ => false,
    };
    if external && n.route_reflector_client == Some(true) {
        return Err((
            k("route-reflector-client"),
            "only iBGP neighbors can be route-reflector clients (RFC 4456)".into(),
        ));
    }
    Ok(())
}
