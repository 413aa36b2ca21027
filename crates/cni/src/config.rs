//! The plugin's inputs: the `CNI_*` environment variables and the network configuration
//! JSON read from stdin.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

use crate::error::CniError;
use crate::types::{self, Dns, ValidAttachment};

/// Where IPAM state is kept when the configuration does not say (`dataDir`).
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/bgplane";
/// The pod's IPv4 gateway when the configuration does not say (`gateway`).
pub const DEFAULT_GATEWAY4: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);
/// The pod's IPv6 gateway when the configuration does not say (`gateway6`).
pub const DEFAULT_GATEWAY6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
/// Default MTU of both ends of the veth.
pub const DEFAULT_MTU: u32 = 1500;
/// Default prefix of host-side interface names.
pub const DEFAULT_HOST_PREFIX: &str = "bgpl";

/// The operation asked for in `CNI_COMMAND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Attach a container.
    Add,
    /// Detach a container (idempotent).
    Del,
    /// Verify an attachment.
    Check,
    /// Report readiness for `ADD`.
    Status,
    /// Report supported versions.
    Version,
    /// Release state of attachments that are no longer valid.
    Gc,
}

impl Command {
    fn parse(s: &str) -> Option<Command> {
        Some(match s {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "STATUS" => Command::Status,
            "VERSION" => Command::Version,
            "GC" => Command::Gc,
            _ => return None,
        })
    }
}

/// The `CNI_*` environment of one invocation, validated for its command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// `CNI_COMMAND`.
    pub command: Command,
    /// `CNI_CONTAINERID` (empty for commands without an attachment).
    pub container_id: String,
    /// `CNI_NETNS`, when given.
    pub netns: Option<PathBuf>,
    /// `CNI_IFNAME` (empty for commands without an attachment).
    pub ifname: String,
    /// `CNI_ARGS`, as key-value pairs.
    pub args: Vec<(String, String)>,
    /// `CNI_PATH`, split.
    pub path: Vec<PathBuf>,
}

impl Env {
    /// Reads and validates the variables through `var` (the process environment, or a
    /// map in tests).
    pub fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<Env, CniError> {
        let get = |k: &str| var(k).filter(|v| !v.is_empty());
        let command_s = get("CNI_COMMAND").ok_or(CniError::Env {
            var: "CNI_COMMAND",
            why: "not set (this is a CNI plugin: container runtimes run it with CNI_COMMAND=ADD, DEL, CHECK, STATUS, VERSION or GC)".into(),
        })?;
        let command = Command::parse(&command_s).ok_or_else(|| CniError::Env {
            var: "CNI_COMMAND",
            why: format!(
                "unknown command {command_s:?} (expected ADD, DEL, CHECK, STATUS, VERSION or GC)"
            ),
        })?;
        let attachment = matches!(command, Command::Add | Command::Del | Command::Check);
        let mut env = Env {
            command,
            container_id: String::new(),
            netns: get("CNI_NETNS").map(PathBuf::from),
            ifname: String::new(),
            args: Vec::new(),
            path: get("CNI_PATH")
                .map(|p| {
                    p.split(':')
                        .filter(|s| !s.is_empty())
                        .map(PathBuf::from)
                        .collect()
                })
                .unwrap_or_default(),
        };
        if !attachment {
            return Ok(env);
        }
        env.container_id = get("CNI_CONTAINERID").ok_or(CniError::Env {
            var: "CNI_CONTAINERID",
            why: "not set".into(),
        })?;
        validate_container_id(&env.container_id)?;
        env.ifname = get("CNI_IFNAME").ok_or(CniError::Env {
            var: "CNI_IFNAME",
            why: "not set".into(),
        })?;
        validate_ifname(&env.ifname)?;
        if command != Command::Del && env.netns.is_none() {
            return Err(CniError::Env {
                var: "CNI_NETNS",
                why: "not set".into(),
            });
        }
        if let Some(a) = get("CNI_ARGS") {
            env.args = parse_args(&a)?;
        }
        Ok(env)
    }

    /// A `CNI_ARGS` value.
    pub fn arg(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `namespace/name` of the Kubernetes pod, when the runtime passed them in `CNI_ARGS`.
    pub fn pod(&self) -> Option<String> {
        match (self.arg("K8S_POD_NAMESPACE"), self.arg("K8S_POD_NAME")) {
            (Some(ns), Some(n)) => Some(format!("{ns}/{n}")),
            (None, Some(n)) => Some(n.to_string()),
            _ => None,
        }
    }
}

fn validate_container_id(id: &str) -> Result<(), CniError> {
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(CniError::Env {
            var: "CNI_CONTAINERID",
            why: format!("{id:?} must start with a letter or digit, followed by letters, digits, '_', '.' or '-'"),
        })
    }
}

/// Checks an interface name as Linux and the specification want it.
pub(crate) fn validate_ifname(name: &str) -> Result<(), CniError> {
    let bad = name.is_empty()
        || name.len() > 15
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if bad {
        Err(CniError::Env {
            var: "CNI_IFNAME",
            why: format!("{name:?} is not a valid interface name (1-15 characters, no '/', ':' or whitespace, not '.' or '..')"),
        })
    } else {
        Ok(())
    }
}

fn parse_args(s: &str) -> Result<Vec<(String, String)>, CniError> {
    s.split(';')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(CniError::Env {
                var: "CNI_ARGS",
                why: format!("{p:?} is not KEY=VALUE (pairs are separated by ';')"),
            }),
        })
        .collect()
}

/// The network configuration as given on stdin (keys of the specification and ours).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConf {
    cni_version: Option<String>,
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "podCIDR")]
    pod_cidr: Option<String>,
    #[serde(rename = "podCIDRs", default)]
    pod_cidrs: Vec<String>,
    #[serde(rename = "podCIDRFile")]
    pod_cidr_file: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    mtu: Option<u32>,
    gateway: Option<Ipv4Addr>,
    gateway6: Option<Ipv6Addr>,
    host_interface_prefix: Option<String>,
    ip_forward: Option<bool>,
    #[serde(default)]
    dns: Dns,
    ip_masq: Option<bool>,
    ipam: Option<serde_json::Value>,
    prev_result: Option<serde_json::Value>,
    #[serde(rename = "cni.dev/valid-attachments")]
    valid_attachments: Option<Vec<ValidAttachment>>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

/// Where the node's pod CIDRs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrSource {
    /// Given in the configuration (`podCIDR` / `podCIDRs`).
    Inline(Vec<IpNet>),
    /// Read from a file the node agent writes (`podCIDRFile`).
    File(PathBuf),
}

/// The validated network configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NetConf {
    /// `cniVersion`: the protocol version in use.
    pub cni_version: String,
    /// `name`: the network's name (IPAM state is kept per network).
    pub name: String,
    /// `type`: the plugin's executable name.
    pub kind: String,
    /// The node's pod CIDRs, or where to read them.
    pub cidrs: Option<CidrSource>,
    /// `dataDir`: the root of IPAM state.
    pub data_dir: PathBuf,
    /// `mtu` of both veth ends.
    pub mtu: u32,
    /// `gateway`: the pod's IPv4 gateway.
    pub gateway4: Ipv4Addr,
    /// `gateway6`: the pod's IPv6 gateway.
    pub gateway6: Ipv6Addr,
    /// `hostInterfacePrefix`: prefix of host-side veth names.
    pub host_prefix: String,
    /// `ipForward`: turn on IP forwarding in the host's namespace on `ADD`.
    pub ip_forward: bool,
    /// `dns`, passed through to the result.
    pub dns: Dns,
    /// `prevResult`, as given.
    pub prev_result: Option<serde_json::Value>,
    /// `cni.dev/valid-attachments` (`GC`).
    pub valid_attachments: Option<Vec<ValidAttachment>>,
}

/// Keys the specification reserves or defines that this plugin accepts and ignores.
const KNOWN_IGNORED: &[&str] = &[
    "cniVersions",
    "args",
    "runtimeConfig",
    "capabilities",
    "disableCheck",
    "disableGC",
];

impl NetConf {
    /// Decodes and validates the configuration.
    pub fn parse(input: &[u8]) -> Result<NetConf, CniError> {
        let de = &mut serde_json::Deserializer::from_slice(input);
        let raw: RawConf = serde_path_to_error::deserialize(de).map_err(|e| CniError::Decode {
            what: "the network configuration from stdin".into(),
            why: match e.path().to_string().as_str() {
                "." => e.inner().to_string(),
                p => format!("field {p}: {}", e.inner()),
            },
        })?;
        let cni_version = raw
            .cni_version
            .ok_or_else(|| CniError::config("cniVersion", "missing"))?;
        check_version(&cni_version)?;
        let name = raw
            .name
            .ok_or_else(|| CniError::config("name", "missing"))?;
        validate_network_name(&name)?;
        let kind = raw
            .kind
            .ok_or_else(|| CniError::config("type", "missing"))?;
        if raw.ip_masq == Some(true) {
            return Err(CniError::UnsupportedField {
                key: "ipMasq".into(),
                value: "true".into(),
                why: "pods are routed natively, without NAT".into(),
            });
        }
        if let Some(ipam) = &raw.ipam {
            if ipam.as_object().is_some_and(|o| !o.is_empty()) {
                return Err(CniError::UnsupportedField {
                    key: "ipam".into(),
                    value: ipam.to_string(),
                    why: "the plugin allocates addresses itself, from the node's pod CIDR (podCIDR, podCIDRs or podCIDRFile)".into(),
                });
            }
        }
        for key in raw.other.keys() {
            if !KNOWN_IGNORED.contains(&key.as_str()) && !key.starts_with("cni.dev/") {
                tracing::warn!(key, "ignoring unknown key of the network configuration");
            }
        }
        let mut inline = Vec::new();
        for (i, s) in raw.pod_cidr.iter().chain(raw.pod_cidrs.iter()).enumerate() {
            let field = if raw.pod_cidr.is_some() && i == 0 {
                "podCIDR".to_string()
            } else {
                format!("podCIDRs[{}]", i - usize::from(raw.pod_cidr.is_some()))
            };
            inline.push(parse_cidr(&field, s)?);
        }
        let cidrs = match (inline.is_empty(), raw.pod_cidr_file) {
            (true, None) => None,
            (false, None) => {
                check_families("podCIDR/podCIDRs", &inline)?;
                Some(CidrSource::Inline(inline))
            }
            (true, Some(f)) => Some(CidrSource::File(f)),
            (false, Some(_)) => {
                return Err(CniError::config(
                    "podCIDRFile",
                    "give either podCIDR/podCIDRs or podCIDRFile, not both",
                ))
            }
        };
        let mtu = raw.mtu.unwrap_or(DEFAULT_MTU);
        if !(576..=65535).contains(&mtu) {
            return Err(CniError::config(
                "mtu",
                format!("{mtu} is out of range (576-65535)"),
            ));
        }
        let host_prefix = raw
            .host_interface_prefix
            .unwrap_or_else(|| DEFAULT_HOST_PREFIX.to_string());
        if host_prefix.is_empty()
            || host_prefix.len() > 6
            || !host_prefix.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(CniError::config(
                "hostInterfacePrefix",
                format!("{host_prefix:?} must be 1-6 letters or digits"),
            ));
        }
        let gateway4 = raw.gateway.unwrap_or(DEFAULT_GATEWAY4);
        if gateway4.is_unspecified() || gateway4.is_multicast() || gateway4.is_broadcast() {
            return Err(CniError::config(
                "gateway",
                format!("{gateway4} cannot be a gateway"),
            ));
        }
        let gateway6 = raw.gateway6.unwrap_or(DEFAULT_GATEWAY6);
        if gateway6.is_unspecified() || gateway6.is_multicast() {
            return Err(CniError::config(
                "gateway6",
                format!("{gateway6} cannot be a gateway"),
            ));
        }
        Ok(NetConf {
            cni_version,
            name,
            kind,
            cidrs,
            data_dir: raw
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            mtu,
            gateway4,
            gateway6,
            host_prefix,
            ip_forward: raw.ip_forward.unwrap_or(true),
            dns: raw.dns,
            prev_result: raw.prev_result,
            valid_attachments: raw.valid_attachments,
        })
    }

    /// The node's pod CIDRs: from the configuration, or read from `podCIDRFile`. A
    /// missing or empty file is a transient condition (the node agent has not written it
    /// yet).
    pub fn pod_cidrs(&self) -> Result<Vec<IpNet>, CniError> {
        match &self.cidrs {
            None => Err(CniError::config(
                "podCIDR",
                "no pod CIDR configured: set podCIDR, podCIDRs or podCIDRFile",
            )),
            Some(CidrSource::Inline(v)) => Ok(v.clone()),
            Some(CidrSource::File(path)) => read_cidr_file(path),
        }
    }

    /// The pod's gateway for the family of `ip`.
    pub fn gateway_for(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(_) => IpAddr::V4(self.gateway4),
            IpAddr::V6(_) => IpAddr::V6(self.gateway6),
        }
    }
}

/// Reads the `cniVersion` of any input, for `VERSION` and for error results.
pub(crate) fn input_version(input: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct V {
        #[serde(rename = "cniVersion")]
        cni_version: Option<String>,
    }
    serde_json::from_slice::<V>(input)
        .ok()
        .and_then(|v| v.cni_version)
        .filter(|v| !v.is_empty())
}

fn check_version(v: &str) -> Result<(), CniError> {
    if types::SUPPORTED_VERSIONS.contains(&v) {
        Ok(())
    } else {
        Err(CniError::IncompatibleVersion {
            version: v.to_string(),
            supported: types::SUPPORTED_VERSIONS.join(", "),
        })
    }
}

fn validate_network_name(name: &str) -> Result<(), CniError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(CniError::config(
            "name",
            format!("{name:?} must start with a letter or digit, followed by letters, digits, '_', '.' or '-'"),
        ))
    }
}

fn parse_cidr(field: &str, s: &str) -> Result<IpNet, CniError> {
    let net: IpNet = s
        .trim()
        .parse()
        .map_err(|_| CniError::config(field, format!("{s:?} is not a CIDR (like 10.1.0.0/24)")))?;
    if net.trunc() != net {
        return Err(CniError::config(
            field,
            format!("{net} has host bits set (the network is {})", net.trunc()),
        ));
    }
    if net.prefix_len() == net.max_prefix_len() {
        return Err(CniError::config(
            field,
            format!("{net} has no room for pods"),
        ));
    }
    Ok(net)
}

/// At most one range per family (as Kubernetes gives a node: one IPv4 and/or one IPv6).
fn check_families(field: &str, nets: &[IpNet]) -> Result<(), CniError> {
    let v4 = nets.iter().filter(|n| matches!(n, IpNet::V4(_))).count();
    let v6 = nets.len() - v4;
    if v4 > 1 || v6 > 1 {
        return Err(CniError::config(
            field,
            format!(
                "at most one IPv4 and one IPv6 pod CIDR (got {})",
                nets.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(())
}

/// Reads a pod CIDR file: CIDRs separated by whitespace or commas, `#` starts a comment.
pub(crate) fn read_cidr_file(path: &Path) -> Result<Vec<IpNet>, CniError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CniError::TryAgain {
                what: format!(
                    "the node's pod CIDR file {} does not exist yet",
                    path.display()
                ),
            })
        }
        Err(e) => return Err(CniError::io(format!("read {}", path.display()), e)),
    };
    let field = format!("podCIDRFile ({})", path.display());
    let mut nets = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        for word in line.split([',', ' ', '\t']).filter(|w| !w.is_empty()) {
            nets.push(parse_cidr(&field, word)?);
        }
    }
    if nets.is_empty() {
        return Err(CniError::TryAgain {
            what: format!("the node's pod CIDR file {} is empty", path.display()),
        });
    }
    check_families(&field, &nets)?;
    Ok(nets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Result<Env, CniError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::from_vars(&move |k| map.get(k).cloned())
    }

    fn conf(json: &str) -> Result<NetConf, CniError> {
        NetConf::parse(json.as_bytes())
    }

    #[test]
    fn a_minimal_configuration_gets_the_documented_defaults() {
        let c = conf(
            r#"{"cniVersion":"1.0.0","name":"pods","type":"bgplane","podCIDR":"10.1.0.0/24"}"#,
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(c.mtu, 1500);
        assert_eq!(c.gateway4, Ipv4Addr::new(169, 254, 1, 1));
        assert_eq!(c.gateway6, "fe80::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(c.host_prefix, "bgpl");
        assert!(c.ip_forward);
        assert_eq!(
            c.pod_cidrs().unwrap(),
            vec!["10.1.0.0/24".parse::<IpNet>().unwrap()]
        );
    }

    #[test]
    fn dual_stack_pod_cidrs_and_our_keys_are_read() {
        let c = conf(
            r#"{"cniVersion":"1.1.0","name":"pods","type":"bgplane",
                "podCIDRs":["10.1.2.0/24","fd00:10:1:2::/64"],"mtu":9000,
                "dataDir":"/tmp/x","gateway":"10.0.5.11","gateway6":"fe80::2",
                "hostInterfacePrefix":"pod","ipForward":false,
                "dns":{"nameservers":["10.96.0.10"],"search":["svc.cluster.local"]},
                "runtimeConfig":{},"args":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(c.pod_cidrs().unwrap().len(), 2);
        assert_eq!(c.mtu, 9000);
        assert_eq!(c.gateway4, Ipv4Addr::new(10, 0, 5, 11));
        assert_eq!(c.host_prefix, "pod");
        assert!(!c.ip_forward);
        assert_eq!(c.dns.nameservers, vec!["10.96.0.10"]);
    }

    #[test]
    fn errors_name_the_field_and_carry_the_specification_code() {
        let e = conf(r#"{"cniVersion":"1.0.0","name":"pods","type":"bgplane","mtu":"big"}"#)
            .unwrap_err();
        assert_eq!(e.code(), 6);
        assert!(e.to_string().contains("mtu"), "{e}");

        let e = conf(r#"{"cniVersion":"9.9.9","name":"pods","type":"bgplane"}"#).unwrap_err();
        assert_eq!(e.code(), 1);

        let e = conf(r#"{"cniVersion":"1.0.0","type":"bgplane"}"#).unwrap_err();
        assert_eq!(e.code(), 7);
        assert!(e.to_string().contains("name"), "{e}");

        let e = conf(r#"{"cniVersion":"1.0.0","name":"p","type":"b","podCIDR":"10.1.0.5/24"}"#)
            .unwrap_err();
        assert_eq!(e.code(), 7);
        assert!(e.to_string().contains("10.1.0.0/24"), "{e}");

        let e = conf(r#"{"cniVersion":"1.0.0","name":"p","type":"b","podCIDRs":["10.1.0.0/24","10.2.0.0/24"]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("podCIDR"), "{e}");

        let e = conf(r#"{"cniVersion":"1.0.0","name":"p","type":"b","ipMasq":true}"#).unwrap_err();
        assert_eq!(e.code(), 2);
        assert!(e.to_string().contains("ipMasq=true"), "{e}");

        let e =
            conf(r#"{"cniVersion":"1.0.0","name":"p","type":"b","ipam":{"type":"host-local"}}"#)
                .unwrap_err();
        assert_eq!(e.code(), 2);

        let e = conf(r#"{"cniVersion":"1.0.0","name":"p","type":"b","podCIDR":"10.1.0.0/24","podCIDRFile":"/x"}"#)
            .unwrap_err();
        assert!(e.to_string().contains("podCIDRFile"), "{e}");

        let e = conf("not json").unwrap_err();
        assert_eq!(e.code(), 6);
    }

    #[test]
    fn a_missing_pod_cidr_file_means_try_again_later() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("podcidr");
        let c = conf(&format!(
            r#"{{"cniVersion":"1.0.0","name":"p","type":"b","podCIDRFile":"{}"}}"#,
            f.display()
        ))
        .unwrap();
        assert_eq!(c.pod_cidrs().unwrap_err().code(), 11);
        std::fs::write(&f, "# written by bgplane agent\n").unwrap();
        assert_eq!(c.pod_cidrs().unwrap_err().code(), 11);
        std::fs::write(&f, "10.1.3.0/24, fd00::/64 # node worker2\n").unwrap();
        assert_eq!(c.pod_cidrs().unwrap().len(), 2);
        std::fs::write(&f, "10.1.3.7/24\n").unwrap();
        assert_eq!(c.pod_cidrs().unwrap_err().code(), 7);
    }

    #[test]
    fn the_environment_is_validated_per_command() {
        let e = env(&[]).unwrap_err();
        assert_eq!(e.code(), 4);
        assert!(e.to_string().contains("CNI_COMMAND"));
        assert!(env(&[("CNI_COMMAND", "VERSION")]).is_ok());
        assert!(env(&[("CNI_COMMAND", "STATUS")]).is_ok());
        let e = env(&[("CNI_COMMAND", "ADD"), ("CNI_CONTAINERID", "abc")]).unwrap_err();
        assert!(e.to_string().contains("CNI_IFNAME"), "{e}");
        let e = env(&[
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "abc"),
            ("CNI_IFNAME", "eth0"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("CNI_NETNS"), "{e}");
        let ok = env(&[
            ("CNI_COMMAND", "DEL"),
            ("CNI_CONTAINERID", "abc"),
            ("CNI_IFNAME", "eth0"),
            (
                "CNI_ARGS",
                "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;IgnoreUnknown=1",
            ),
            ("CNI_PATH", "/opt/cni/bin:/usr/lib/cni"),
        ])
        .unwrap();
        assert_eq!(ok.pod().as_deref(), Some("default/web-0"));
        assert_eq!(ok.path.len(), 2);
        for (var, val) in [
            ("CNI_CONTAINERID", "-abc"),
            ("CNI_CONTAINERID", "a b"),
            ("CNI_IFNAME", "a-very-long-interface"),
            ("CNI_IFNAME", "eth/0"),
            ("CNI_ARGS", "novalue"),
        ] {
            let mut vars = vec![
                ("CNI_COMMAND", "DEL"),
                ("CNI_CONTAINERID", "abc"),
                ("CNI_IFNAME", "eth0"),
            ];
            vars.retain(|(k, _)| *k != var);
            vars.push((var, val));
            let e = env(&vars).unwrap_err();
            assert!(e.to_string().contains(var), "{var}={val}: {e}");
            assert_eq!(e.code(), 4);
        }
        let e = env(&[("CNI_COMMAND", "FROB")]).unwrap_err();
        assert!(e.to_string().contains("FROB"));
    }
}
