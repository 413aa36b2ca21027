//! The router configuration: the YAML file of `bgplane router --config`, its validation, and
//! the quick command-line form. Every problem is reported with the key path it concerns.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use bgp_wire::{Family, Prefix};
use serde::{Deserialize, Serialize};

use crate::negotiate::RemoteAs;
use scalar_or_map::{scalar_or_map_de, Scalar};

mod bfd;
mod neighbor;
mod origination;
mod scalar_or_map;

pub use bfd::{BfdAuth, BfdSetting, BfdTimers};
pub use neighbor::{Neighbor, NeighborConfig};
pub use origination::{
    GracefulRestartConfig, ListenRange, Redistribute, RedistributeSource, StaticRoute,
};

/// A configuration problem, naming the key it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {key}: {problem}")]
pub struct ConfigError {
    /// The file (or "command line").
    pub source_name: String,
    /// Key path, e.g. `neighbors[1].remote-as`.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

/// The whole router configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RouterConfig {
    /// Global settings.
    pub router: Global,
    /// Prefixes originated with `network` semantics (announced as configured).
    #[serde(default)]
    pub networks: Vec<Network>,
    /// Neighbors (settings left out are inherited from their peer group, then defaulted).
    #[serde(default)]
    pub neighbors: Vec<NeighborConfig>,
    /// Peer groups: settings shared by neighbors that name them (`peer-group: NAME`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub peer_groups: BTreeMap<String, NeighborConfig>,
    /// Routes this router originates from configuration: blackholes and routes to
    /// gateways, installed in the kernel and announced with `redistribute: static`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_routes: Vec<StaticRoute>,
    /// Prefix lists (see [`crate::policy::PolicyConfig`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prefix_lists: BTreeMap<String, Vec<crate::policy::PrefixListEntry>>,
    /// AS-path lists.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub as_path_lists: BTreeMap<String, Vec<String>>,
    /// Community lists.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub community_lists: BTreeMap<String, Vec<String>>,
    /// Large community lists.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub large_community_lists: BTreeMap<String, Vec<String>>,
    /// Extended community lists.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ext_community_lists: BTreeMap<String, Vec<String>>,
    /// Policies (route maps).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, Vec<crate::policy::TermConfig>>,
}

/// Global settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Global {
    /// Local AS number.
    pub asn: u32,
    /// BGP identifier.
    pub router_id: Ipv4Addr,
    /// Addresses to listen on (port `port`); empty: do not listen.
    #[serde(default)]
    pub listen: Vec<IpAddr>,
    /// TCP port to listen on.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Default hold time in seconds (0, or at least 3).
    #[serde(default = "default_hold")]
    pub hold_time: u16,
    /// Default keepalive interval; a third of the hold time if unset.
    #[serde(default)]
    pub keepalive: Option<u16>,
    /// Default ConnectRetry time in seconds.
    #[serde(default = "default_connect_retry")]
    pub connect_retry: u32,
    /// MinRouteAdvertisementInterval in milliseconds (0: send as soon as possible).
    #[serde(default)]
    pub mrai_ms: u64,
    /// RFC 8212 (FRR's `bgp ebgp-requires-policy`): an eBGP session without import policy
    /// has its routes kept but not accepted, one without export policy is sent none; the
    /// session itself comes up. Off by default, as `no bgp ebgp-requires-policy` in the
    /// seeds.
    #[serde(default)]
    pub ebgp_requires_policy: bool,
    /// Decision process options.
    #[serde(default)]
    pub bestpath: Bestpath,
    /// Multipath (`maximum-paths`).
    #[serde(default)]
    pub maximum_paths: MaximumPaths,
    /// Local API and metrics endpoints.
    #[serde(default)]
    pub api: Api,
    /// Kernel routing table, route protocol id and metric of installed routes.
    #[serde(default)]
    pub fib: fib::FibConfig,
    /// Cluster id for route reflection (RFC 4456); the router id if unset.
    #[serde(default)]
    pub cluster_id: Option<Ipv4Addr>,
    /// Reflect routes between route-reflector clients (RFC 4456 §5).
    #[serde(default = "yes")]
    pub client_to_client_reflection: bool,
    /// Graceful shutdown of every session (RFC 8326, FRR's `bgp graceful-shutdown`): the
    /// routes sent carry the GRACEFUL_SHUTDOWN community (with LOCAL_PREF 0 to iBGP), and
    /// those from eBGP peers are lowered to LOCAL_PREF 0 here, so that traffic moves to
    /// other paths before the sessions are taken down.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub graceful_shutdown: bool,
    /// Announce connected subnets and static routes (`redistribute connected|static`).
    #[serde(default)]
    pub redistribute: Redistribute,
    /// Accept BGP connections from any address of these ranges, as neighbors of a peer
    /// group (dynamic neighbors, FRR's `bgp listen range`).
    #[serde(default)]
    pub listen_ranges: Vec<ListenRange>,
    /// At most this many dynamic neighbors at once (FRR's `bgp listen limit`, 100).
    #[serde(default = "default_listen_limit")]
    pub listen_limit: usize,
    /// Graceful restart (RFC 4724).
    #[serde(default)]
    pub graceful_restart: GracefulRestartConfig,
}

fn yes() -> bool {
    true
}

fn default_port() -> u16 {
    179
}
fn default_hold() -> u16 {
    90
}
fn default_connect_retry() -> u32 {
    10
}

/// Decision process options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Bestpath {
    /// Compare MED between paths from different neighbor ASes.
    #[serde(default)]
    pub always_compare_med: bool,
    /// A missing MED is the worst value rather than 0.
    #[serde(default)]
    pub med_missing_as_worst: bool,
    /// Multipath across different AS paths of equal length.
    #[serde(default)]
    pub as_path_multipath_relax: bool,
}

/// `maximum-paths`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MaximumPaths {
    /// For eBGP-learned routes.
    #[serde(default = "one")]
    pub ebgp: u8,
    /// For iBGP-learned routes.
    #[serde(default = "one")]
    pub ibgp: u8,
}

fn one() -> u8 {
    1
}

impl Default for MaximumPaths {
    fn default() -> Self {
        MaximumPaths { ebgp: 1, ibgp: 1 }
    }
}

/// The local API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Api {
    /// Unix socket of the API (`bgplane show ...`).
    #[serde(default = "default_socket")]
    pub socket: String,
    /// Prometheus metrics listener, e.g. `127.0.0.1:9179`; none if unset.
    #[serde(default)]
    pub metrics: Option<SocketAddr>,
}

/// Default API socket path.
pub const DEFAULT_SOCKET: &str = "/run/bgplane/router.sock";

fn default_socket() -> String {
    DEFAULT_SOCKET.to_string()
}

impl Default for Api {
    fn default() -> Self {
        Api {
            socket: default_socket(),
            metrics: None,
        }
    }
}

/// A prefix to originate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Network {
    /// Just the prefix.
    Prefix(Prefix),
    /// The prefix with attributes.
    Detailed(NetworkDetail),
}

/// A prefix to originate, with attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NetworkDetail {
    /// The prefix.
    pub prefix: Prefix,
    /// Communities to attach.
    #[serde(default)]
    pub communities: Vec<bgp_wire::Community>,
    /// Large communities to attach.
    #[serde(default)]
    pub large_communities: Vec<bgp_wire::LargeCommunity>,
    /// MED to attach.
    #[serde(default)]
    pub med: Option<u32>,
}

scalar_or_map_de!(
    Network,
    NetworkDetail,
    "a prefix, or a map with prefix, communities, large-communities and med",
    |s| match s {
        Scalar::Str(p) => Some(p.parse().map(Network::Prefix).map_err(|e| format!("{e}"))),
        _ => None,
    },
    Network::Detailed
);

impl Network {
    /// The originated prefix.
    pub fn prefix(&self) -> Prefix {
        match self {
            Network::Prefix(p) => *p,
            Network::Detailed(d) => d.prefix,
        }
    }
}

/// `remote-as` as written: a number, `internal` or `external`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RemoteAsConfig {
    /// A number.
    Asn(u32),
    /// `internal` or `external`.
    Kind(RemoteAsKind),
}

scalar_or_map_de!(
    RemoteAsConfig,
    "an AS number, `internal` or `external`",
    |s| match s {
        Scalar::Int(n) => Some(
            u32::try_from(n)
                .map(RemoteAsConfig::Asn)
                .map_err(|_| format!("AS {n} is above 4294967295")),
        ),
        Scalar::Str("internal") => Some(Ok(RemoteAsConfig::Kind(RemoteAsKind::Internal))),
        Scalar::Str("external") => Some(Ok(RemoteAsConfig::Kind(RemoteAsKind::External))),
        Scalar::Str(w) => Some(Err(format!(
            "`{w}`: expected an AS number, `internal` or `external`"
        ))),
        Scalar::Bool(_) => None,
    }
);

/// `internal` / `external`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoteAsKind {
    /// Same AS as ours.
    Internal,
    /// Any other AS.
    External,
}

impl From<RemoteAsConfig> for RemoteAs {
    fn from(r: RemoteAsConfig) -> Self {
        match r {
            RemoteAsConfig::Asn(a) => RemoteAs::Asn(a),
            RemoteAsConfig::Kind(RemoteAsKind::Internal) => RemoteAs::Internal,
            RemoteAsConfig::Kind(RemoteAsKind::External) => RemoteAs::External,
        }
    }
}

/// What to do when a neighbor sends more prefixes than allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaxPrefixAction {
    /// Log a warning and keep the session.
    Warn,
    /// Send Cease / Maximum Number of Prefixes Reached and close (RFC 4486).
    Shutdown,
}

/// `max-prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MaxPrefix {
    /// Accepted prefixes allowed per family.
    pub limit: u32,
    /// What happens above the limit.
    #[serde(default = "default_max_prefix_action")]
    pub action: MaxPrefixAction,
}

fn default_max_prefix_action() -> MaxPrefixAction {
    MaxPrefixAction::Shutdown
}

/// Address families as written in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FamilyName {
    /// IPv4 unicast.
    Ipv4Unicast,
    /// IPv6 unicast.
    Ipv6Unicast,
}

impl From<FamilyName> for Family {
    fn from(f: FamilyName) -> Self {
        match f {
            FamilyName::Ipv4Unicast => Family::IPV4_UNICAST,
            FamilyName::Ipv6Unicast => Family::IPV6_UNICAST,
        }
    }
}

/// Administrative shutdown of a neighbor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Shutdown {
    /// `shutdown: true`.
    Flag(bool),
    /// `shutdown: { message: "..." }` (RFC 8203/9003 shutdown communication).
    Message {
        /// The communication.
        message: String,
    },
}

/// `{ message: "..." }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageOnly {
    message: String,
}

scalar_or_map_de!(
    Shutdown,
    MessageOnly,
    "true, false or { message: TEXT }",
    |s| match s {
        Scalar::Bool(b) => Some(Ok(Shutdown::Flag(b))),
        _ => None,
    },
    |m: MessageOnly| Shutdown::Message { message: m.message }
);

/// The YAML parser's message without the parts the error already has: its own (shorter)
/// path in front and "at line L column C" behind; the location is added back once.
fn yaml_problem(key: &str, e: &serde_norway::Error) -> String {
    let text = e.to_string();
    let Some(l) = e.location() else {
        return text;
    };
    let mut msg = text.as_str();
    if let Some(m) = msg.strip_suffix(&format!(" at line {} column {}", l.line(), l.column())) {
        msg = m;
    }
    if let Some((path, rest)) = msg.split_once(": ") {
        if !path.contains(' ') && key.starts_with(path) {
            msg = rest;
        }
    }
    format!("{msg} (line {}, column {})", l.line(), l.column())
}

impl RouterConfig {
    /// The policy section as the policy compiler takes it.
    pub fn policy_config(&self) -> crate::policy::PolicyConfig {
        crate::policy::PolicyConfig {
            prefix_lists: self.prefix_lists.clone(),
            as_path_lists: self.as_path_lists.clone(),
            community_lists: self.community_lists.clone(),
            large_community_lists: self.large_community_lists.clone(),
            ext_community_lists: self.ext_community_lists.clone(),
            policies: self.policies.clone(),
        }
    }

    /// Reads and validates a YAML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source_name: name.clone(),
            key: "(file)".into(),
            problem: e.to_string(),
        })?;
        Self::parse(&name, &text)
    }

    /// Parses and validates YAML text; `source_name` names it in errors.
    pub fn parse(source_name: &str, text: &str) -> Result<Self, ConfigError> {
        let de = serde_norway::Deserializer::from_str(text);
        let cfg: RouterConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let problem = yaml_problem(&key, &inner);
            ConfigError {
                source_name: source_name.to_string(),
                key: if key == "." {
                    "(top level)".into()
                } else {
                    key
                },
                problem,
            }
        })?;
        cfg.validate().map_err(|(key, problem)| ConfigError {
            source_name: source_name.to_string(),
            key,
            problem,
        })?;
        Ok(cfg)
    }

    /// The semantic checks that deserialization cannot express.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let g = &self.router;
        let err = |k: &str, p: String| Err((k.to_string(), p));
        if g.asn == 0 || g.asn == u32::from(bgp_wire::open::AS_TRANS) {
            return err(
                "router.asn",
                format!("AS {} cannot be used (RFC 7607, RFC 6793)", g.asn),
            );
        }
        if g.router_id.is_unspecified() {
            return err(
                "router.router-id",
                "0.0.0.0 is not a valid BGP identifier".into(),
            );
        }
        if g.hold_time == 1 || g.hold_time == 2 {
            return err("router.hold-time", "must be 0 or at least 3 seconds".into());
        }
        if g.maximum_paths.ebgp == 0 || g.maximum_paths.ibgp == 0 {
            return err("router.maximum-paths", "must be at least 1".into());
        }
        let policies = crate::policy::Policies::compile(&self.policy_config())
            .map_err(|e| (e.key().to_string(), e.problem()))?;
        self.validate_origination()?;
        self.validate_neighbors(&policies)?;
        Ok(())
    }

    /// The configuration of the quick command-line form:
    /// `--asn A --router-id ID --listen ADDR --neighbor ADDR,ASN ...`.
    pub fn quick(
        asn: u32,
        router_id: Ipv4Addr,
        listen: Vec<IpAddr>,
        neighbors: &[String],
    ) -> Result<Self, ConfigError> {
        let mut out = Vec::new();
        for (i, spec) in neighbors.iter().enumerate() {
            let bad = |p: String| ConfigError {
                source_name: "command line".into(),
                key: format!("--neighbor[{i}]"),
                problem: p,
            };
            let (addr, remote) = spec.split_once(',').ok_or_else(|| {
                bad(format!(
                    "{spec:?}: expected ADDRESS,ASN (or ADDRESS,internal|external)"
                ))
            })?;
            let address: IpAddr = addr
                .trim()
                .parse()
                .map_err(|_| bad(format!("{addr:?} is not an IP address")))?;
            let remote_as = match remote.trim() {
                "internal" => RemoteAsConfig::Kind(RemoteAsKind::Internal),
                "external" => RemoteAsConfig::Kind(RemoteAsKind::External),
                n => RemoteAsConfig::Asn(
                    n.parse()
                        .map_err(|_| bad(format!("{n:?} is not an AS number")))?,
                ),
            };
            out.push(NeighborConfig::new(address, remote_as));
        }
        let cfg = RouterConfig {
            router: Global::new(asn, router_id, listen),
            networks: Vec::new(),
            neighbors: out,
            peer_groups: BTreeMap::new(),
            static_routes: Vec::new(),
            prefix_lists: BTreeMap::new(),
            as_path_lists: BTreeMap::new(),
            community_lists: BTreeMap::new(),
            large_community_lists: BTreeMap::new(),
            ext_community_lists: BTreeMap::new(),
            policies: BTreeMap::new(),
        };
        cfg.validate().map_err(|(key, problem)| ConfigError {
            source_name: "command line".into(),
            key,
            problem,
        })?;
        Ok(cfg)
    }
}

impl Global {
    /// Defaults for an AS and identifier.
    pub fn new(asn: u32, router_id: Ipv4Addr, listen: Vec<IpAddr>) -> Self {
        Global {
            asn,
            router_id,
            listen,
            port: default_port(),
            hold_time: default_hold(),
            keepalive: None,
            connect_retry: default_connect_retry(),
            mrai_ms: 0,
            ebgp_requires_policy: false,
            bestpath: Bestpath::default(),
            maximum_paths: MaximumPaths::default(),
            api: Api::default(),
            fib: fib::FibConfig::default(),
            cluster_id: None,
            client_to_client_reflection: true,
            graceful_shutdown: false,
            redistribute: Redistribute::default(),
            listen_ranges: Vec::new(),
            listen_limit: default_listen_limit(),
            graceful_restart: GracefulRestartConfig::default(),
        }
    }
}

fn default_listen_limit() -> usize {
    100
}

#[cfg(test)]
mod tests;
