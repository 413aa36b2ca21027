//! The input files: containerlab topologies and kind `Cluster` configs, parsed into plain
//! data with the location of every value kept for error messages.

pub mod cluster;
pub mod env;
mod parse;
pub mod vyos;
pub mod yaml;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use ipnet::{Ipv4Net, Ipv6Net};

pub use parse::{parse_topology, parse_topology_str, valid_ifname};
pub use yaml::Loc;

/// Errors of the file layer: every one names the file, line, column and key.
#[derive(Debug, thiserror::Error)]
pub enum TopoError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not YAML.
    #[error("{loc}: YAML syntax error: {msg}")]
    Syntax {
        /// Where.
        loc: Loc,
        /// The parser's message.
        msg: String,
    },
    /// A key the schema does not know (usually a typo).
    #[error("{loc}: unknown key `{key}`{hint}")]
    UnknownKey {
        /// Where.
        loc: Loc,
        /// Dotted key path.
        key: String,
        /// " (did you mean …)" or empty.
        hint: String,
    },
    /// A value of the wrong YAML type.
    #[error("{loc}: `{key}` must be {expected}, found {found}")]
    Type {
        /// Where.
        loc: Loc,
        /// Dotted key path.
        key: String,
        /// What the schema wants.
        expected: String,
        /// What the file has.
        found: &'static str,
    },
    /// A required key is absent.
    #[error("{loc}: missing required key `{key}`")]
    Missing {
        /// Where the enclosing mapping starts.
        loc: Loc,
        /// Dotted key path of the missing key.
        key: String,
    },
    /// A value that is well-typed but wrong.
    #[error("{loc}: `{key}`: {msg}")]
    Invalid {
        /// Where.
        loc: Loc,
        /// Dotted key path.
        key: String,
        /// What is wrong.
        msg: String,
    },
}

/// A containerlab topology file, with `defaults`, `kinds` and `groups` already folded into
/// each node.
#[derive(Clone, Debug)]
pub struct Topology {
    /// The topology file.
    pub file: PathBuf,
    /// Lab name (`name:`).
    pub name: String,
    /// Name prefix (`prefix:`); containerlab's default is `clab`.
    pub prefix: Option<String>,
    /// The management network.
    pub mgmt: Mgmt,
    /// Nodes in file order.
    pub nodes: Vec<NodeDef>,
    /// Links in file order.
    pub links: Vec<LinkDef>,
    /// The `cluster:` key (bgplane extension): a kind config file or an inline one.
    pub cluster: Option<ClusterRef>,
    /// Things the user should know (ignored keys, …).
    pub notes: Vec<String>,
}

/// Where the kind cluster config comes from.
#[derive(Clone, Debug)]
pub enum ClusterRef {
    /// A file path, relative to the topology file.
    File(PathBuf, Loc),
    /// The `Cluster` document inline.
    Inline(yaml::Node),
}

/// containerlab's `mgmt:` section.
#[derive(Clone, Debug, Default)]
pub struct Mgmt {
    /// Network name (`network:`), only informative here.
    pub network: Option<String>,
    /// Bridge name inside the lab namespace.
    pub bridge: Option<String>,
    /// IPv4 subnet (default 172.20.20.0/24).
    pub ipv4_subnet: Option<Ipv4Net>,
    /// IPv4 gateway (default: first host address).
    pub ipv4_gw: Option<Ipv4Addr>,
    /// Range to allocate node addresses from.
    pub ipv4_range: Option<Ipv4Net>,
    /// IPv6 subnet (default 3fff:172:20:20::/64).
    pub ipv6_subnet: Option<Ipv6Net>,
    /// IPv6 gateway.
    pub ipv6_gw: Option<Ipv6Addr>,
    /// MTU of the management veths.
    pub mtu: Option<u32>,
    /// Where each key's value was written, with its dotted key path (`mgmt.ipv4-subnet`).
    pub key_locs: Vec<(String, Loc)>,
}

impl Mgmt {
    /// Where `key` (`ipv4-subnet`, …) was written, and its dotted key path.
    pub fn loc_of(&self, key: &str) -> Option<(Loc, String)> {
        self.key_locs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(k, l)| (l.clone(), format!("mgmt.{k}")))
    }
}

/// A bind mount `src:dst[:ro]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    /// Source path as written (may hold magic variables, may be relative).
    pub src: String,
    /// Target path inside the node.
    pub dst: String,
    /// `:ro`.
    pub ro: bool,
    /// Where it was written.
    pub loc: Loc,
    /// Dotted key path (`topology.nodes.a.binds[0]`).
    pub key: String,
}

/// `startup-config:`: a file, or the config itself when the value spans several lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartupConfig {
    /// Path as written (may be relative, may hold magic variables).
    File(String),
    /// Inline configuration text.
    Inline(String),
}

/// One node, with inherited settings applied.
#[derive(Clone, Debug)]
pub struct NodeDef {
    /// Node name.
    pub name: String,
    /// Where the node is defined.
    pub loc: Loc,
    /// `kind:` (after inheritance).
    pub kind: String,
    /// `image:`.
    pub image: Option<String>,
    /// `cmd:`.
    pub cmd: Option<String>,
    /// `entrypoint:`.
    pub entrypoint: Option<String>,
    /// `exec:` lines.
    pub exec: Vec<String>,
    /// `binds:`.
    pub binds: Vec<Bind>,
    /// `env:` (and `env-files:`), later entries win.
    pub env: Vec<(String, String)>,
    /// `labels:`.
    pub labels: Vec<(String, String)>,
    /// `group:`.
    pub group: Option<String>,
    /// `network-mode:` and where it was written.
    pub network_mode: Option<(String, Loc)>,
    /// `startup-config:`.
    pub startup_config: Option<StartupConfig>,
    /// `mgmt-ipv4:`.
    pub mgmt_ipv4: Option<Ipv4Addr>,
    /// `mgmt-ipv6:`.
    pub mgmt_ipv6: Option<Ipv6Addr>,
    /// `sysctls:`.
    pub sysctls: Vec<(String, String)>,
    /// `wait-for:`: nodes whose exec must finish first.
    pub wait_for: Vec<String>,
    /// `startup-delay:` in seconds.
    pub startup_delay: u64,
    /// Where each key's value was written (after inheritance).
    pub key_locs: Vec<(String, Loc)>,
}

impl NodeDef {
    /// Where `key`'s value was written, else where the node is defined.
    pub fn loc_of(&self, key: &str) -> Loc {
        self.key_locs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, l)| l.clone())
            .unwrap_or_else(|| self.loc.clone())
    }

    /// The value of a label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What a link connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// A veth pair between two endpoints.
    Veth,
    /// A node's interface attached to the management bridge (`mgmt-net:IF`).
    MgmtNet,
    /// A node's interface paired with an interface of the "host" (placed in the lab
    /// namespace: bgplane never creates anything in the host's namespace).
    Host,
}

/// One end of a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointDef {
    /// Node name (`host` and `mgmt-net` are the special ends).
    pub node: String,
    /// Interface name.
    pub iface: String,
    /// `mac:` if given.
    pub mac: Option<[u8; 6]>,
    /// Where it was written.
    pub loc: Loc,
    /// Dotted key path.
    pub key: String,
}

/// One link.
#[derive(Clone, Debug)]
pub struct LinkDef {
    /// Where it was written.
    pub loc: Loc,
    /// Dotted key path (`topology.links[3]`).
    pub key: String,
    /// Link type.
    pub kind: LinkKind,
    /// The two ends.
    pub a: EndpointDef,
    /// The other end.
    pub b: EndpointDef,
    /// `mtu:` (containerlab's default is 9500).
    pub mtu: Option<u32>,
}
