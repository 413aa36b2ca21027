//! containerlab's topology schema → [`Topology`].

use std::path::Path;

use super::env::expand_env;
use super::yaml::{parse_str, Loc, Node, Value};
use super::{
    Bind, ClusterRef, EndpointDef, LinkDef, LinkKind, Mgmt, NodeDef, StartupConfig, TopoError,
    Topology,
};

/// Node keys bgplane implements.
const NODE_KEYS: &[&str] = &[
    "kind",
    "image",
    "cmd",
    "entrypoint",
    "exec",
    "binds",
    "env",
    "env-files",
    "labels",
    "group",
    "network-mode",
    "startup-config",
    "mgmt-ipv4",
    "mgmt-ipv6",
    "sysctls",
    "wait-for",
    "startup-delay",
];

/// containerlab node keys that do not apply to namespace nodes; accepted with a note.
const IGNORED_NODE_KEYS: &[&str] = &[
    "type",
    "license",
    "ports",
    "publish",
    "cpu",
    "cpu-set",
    "memory",
    "dns",
    "cap-add",
    "devices",
    "shm-size",
    "restart-policy",
    "auto-remove",
    "healthcheck",
    "runtime",
    "image-pull-policy",
    "enforce-startup-config",
    "suppress-startup-config",
    "certificate",
    "stages",
    "aliases",
    "extras",
    "components",
    "config",
    "user",
    "kernel",
    "sandbox",
];

/// Reads and parses a topology file, expanding `${VAR}` from the process environment.
pub fn parse_topology(file: &Path) -> Result<Topology, TopoError> {
    let text = std::fs::read_to_string(file).map_err(|source| TopoError::Read {
        file: file.display().to_string(),
        source,
    })?;
    parse_topology_str(&text, file, &|k| std::env::var(k).ok())
}

/// Parses topology text; `file` is used for messages and to resolve relative paths.
pub fn parse_topology_str(
    text: &str,
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Topology, TopoError> {
    let text = expand_env(text, env);
    let root = parse_str(&text, file, 0, "")?;
    if root.is_null() {
        return Err(root.invalid("the topology file is empty"));
    }
    let mut notes = Vec::new();
    root.check_keys(&[
        "name", "prefix", "mgmt", "topology", "settings", "debug", "cluster",
    ])?;
    for k in ["settings", "debug"] {
        if root.get(k).is_some() {
            notes.push(format!(
                "`{k}:` does not apply to namespace labs and is ignored"
            ));
        }
    }
    let name_node = root.require("name")?;
    let name = name_node.as_str()?.to_string();
    check_name(name_node, &name, "lab name")?;
    let prefix = match root.get("prefix") {
        Some(p) => p.opt_string()?,
        None => None,
    };
    let mgmt = match root.get("mgmt") {
        Some(m) => parse_mgmt(m)?,
        None => Mgmt::default(),
    };
    let cluster = match root.get("cluster") {
        None => None,
        Some(n) => match &n.value {
            Value::Scalar(s) => Some(ClusterRef::File(s.into(), n.loc.clone())),
            Value::Map(_) => Some(ClusterRef::Inline(n.clone())),
            _ => return Err(n.type_error("a file path or a kind Cluster mapping")),
        },
    };
    let topo = root.require("topology")?;
    topo.check_keys(&["defaults", "kinds", "groups", "nodes", "links"])?;

    let defaults = match topo.get("defaults") {
        Some(d) => Partial::parse(d, &mut notes)?,
        None => Partial::default(),
    };
    let kinds = named_partials(topo.get("kinds"), &mut notes)?;
    let groups = named_partials(topo.get("groups"), &mut notes)?;

    let mut nodes: Vec<NodeDef> = Vec::new();
    if let Some(ns) = topo.get("nodes") {
        for (k, v) in ns.as_map()? {
            let node_name = k.as_str()?.to_string();
            check_name(k, &node_name, "node name")?;
            if nodes.iter().any(|n| n.name == node_name) {
                return Err(k.invalid(format!("node `{node_name}` is defined twice")));
            }
            let own = Partial::parse(v, &mut notes)?;
            let group = own.group.clone().or_else(|| defaults.group.clone());
            let group_p = match &group {
                Some(g) => Some(
                    groups
                        .iter()
                        .find(|(n, _)| n == g)
                        .map(|(_, p)| p)
                        .ok_or_else(|| {
                            v.invalid(format!("group `{g}` is not defined in topology.groups"))
                        })?,
                ),
                None => None,
            };
            let kind = own
                .kind
                .clone()
                .or_else(|| group_p.and_then(|g| g.kind.clone()))
                .or_else(|| defaults.kind.clone())
                .unwrap_or_else(|| "linux".to_string());
            let kind_p = kinds.iter().find(|(n, _)| *n == kind).map(|(_, p)| p);
            let mut merged = defaults.clone();
            if let Some(kp) = kind_p {
                merged.overlay(kp);
            }
            if let Some(gp) = group_p {
                merged.overlay(gp);
            }
            merged.overlay(&own);
            nodes.push(merged.into_node(node_name, v.loc.clone(), kind, group));
        }
    }

    let mut links = Vec::new();
    if let Some(ls) = topo.get("links") {
        for l in ls.as_seq()? {
            links.push(parse_link(l)?);
        }
    }

    Ok(Topology {
        file: file.to_path_buf(),
        name,
        prefix,
        mgmt,
        nodes,
        links,
        cluster,
        notes,
    })
}

/// Names become namespace and file names: keep them to a safe alphabet.
fn check_name(node: &Node, name: &str, what: &str) -> Result<(), TopoError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(node.invalid(format!(
            "{what} `{name}` must be 1-64 characters of letters, digits, `-`, `_` or `.`"
        )))
    }
}

fn parse_mgmt(m: &Node) -> Result<Mgmt, TopoError> {
    m.check_keys(&[
        "network",
        "bridge",
        "ipv4-subnet",
        "ipv4-gw",
        "ipv4-range",
        "ipv6-subnet",
        "ipv6-gw",
        "ipv6-range",
        "mtu",
        "external-access",
        "driver",
    ])?;
    let parse =
        |key: &str| -> Result<Option<&Node>, TopoError> { Ok(m.get(key).filter(|n| !n.is_null())) };
    let mut out = Mgmt {
        network: m
            .get("network")
            .map(Node::opt_string)
            .transpose()?
            .flatten(),
        bridge: m.get("bridge").map(Node::opt_string).transpose()?.flatten(),
        key_locs: m
            .as_map()?
            .iter()
            .map(|(k, v)| Ok((k.as_str()?.to_string(), v.loc.clone())))
            .collect::<Result<_, TopoError>>()?,
        ..Mgmt::default()
    };
    if let Some(n) = parse("ipv4-subnet")? {
        out.ipv4_subnet = Some(parse_from(n, "an IPv4 subnet like 172.20.20.0/24")?);
    }
    if let Some(n) = parse("ipv4-gw")? {
        out.ipv4_gw = Some(parse_from(n, "an IPv4 address")?);
    }
    if let Some(n) = parse("ipv4-range")? {
        out.ipv4_range = Some(parse_from(n, "an IPv4 subnet")?);
    }
    if let Some(n) = parse("ipv6-subnet")? {
        out.ipv6_subnet = Some(parse_from(n, "an IPv6 subnet like 3fff:172:20:20::/64")?);
    }
    if let Some(n) = parse("ipv6-gw")? {
        out.ipv6_gw = Some(parse_from(n, "an IPv6 address")?);
    }
    if let Some(n) = parse("mtu")? {
        out.mtu = Some(mtu(n)?);
    }
    if let Some(b) = &out.bridge {
        if !valid_ifname(b) {
            return Err(m.require("bridge")?.invalid(format!(
                "`{b}` is not a valid interface name (1-15 characters, no `/`, `:` or spaces)"
            )));
        }
    }
    Ok(out)
}

/// Parses a scalar with `FromStr`, with an error that says what was expected.
pub(crate) fn parse_from<T: std::str::FromStr>(n: &Node, what: &str) -> Result<T, TopoError> {
    let s = n.as_str()?;
    s.trim()
        .parse()
        .map_err(|_| n.invalid(format!("`{s}` is not {what}")))
}

fn mtu(n: &Node) -> Result<u32, TopoError> {
    let v = n.as_u64()?;
    if (68..=65535).contains(&v) {
        Ok(v as u32)
    } else {
        Err(n.invalid(format!("MTU {v} is outside 68..=65535")))
    }
}

/// A Linux interface name: 1-15 bytes, no `/`, `:`, whitespace, not `.`/`..`.
pub fn valid_ifname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s != "."
        && s != ".."
        && !s
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
}

fn named_partials(
    n: Option<&Node>,
    notes: &mut Vec<String>,
) -> Result<Vec<(String, Partial)>, TopoError> {
    let mut out = Vec::new();
    if let Some(n) = n {
        for (k, v) in n.as_map()? {
            out.push((k.as_str()?.to_string(), Partial::parse(v, notes)?));
        }
    }
    Ok(out)
}

/// Node settings at one level (defaults, kind, group or node) before inheritance.
#[derive(Clone, Debug, Default)]
struct Partial {
    kind: Option<String>,
    image: Option<String>,
    cmd: Option<String>,
    entrypoint: Option<String>,
    exec: Option<Vec<String>>,
    binds: Vec<Bind>,
    env: Vec<(String, String)>,
    labels: Vec<(String, String)>,
    group: Option<String>,
    network_mode: Option<(String, Loc)>,
    startup_config: Option<StartupConfig>,
    mgmt_ipv4: Option<std::net::Ipv4Addr>,
    mgmt_ipv6: Option<std::net::Ipv6Addr>,
    sysctls: Vec<(String, String)>,
    wait_for: Option<Vec<String>>,
    startup_delay: Option<u64>,
    key_locs: Vec<(String, Loc)>,
}

impl Partial {
    fn parse(n: &Node, notes: &mut Vec<String>) -> Result<Self, TopoError> {
        let mut all: Vec<&str> = NODE_KEYS.to_vec();
        all.extend_from_slice(IGNORED_NODE_KEYS);
        n.check_keys(&all)?;
        let mut p = Partial::default();
        for (k, v) in n.as_map()? {
            let key = k.as_str()?;
            p.key_locs.push((key.to_string(), v.loc.clone()));
            match key {
                "kind" => p.kind = v.opt_string()?,
                "image" => p.image = v.opt_string()?,
                "cmd" => p.cmd = v.opt_string()?,
                "entrypoint" => p.entrypoint = v.opt_string()?,
                "exec" => p.exec = Some(v.string_list()?),
                "binds" => {
                    for b in v.as_seq()? {
                        p.binds.push(parse_bind(b)?);
                    }
                }
                "env" => p.env = v.string_map()?,
                "env-files" => {
                    for f in v.as_seq()? {
                        p.env.extend(read_env_file(f)?);
                    }
                }
                "labels" => p.labels = v.string_map()?,
                "group" => p.group = v.opt_string()?,
                "network-mode" => {
                    p.network_mode = v.opt_string()?.map(|s| (s, v.loc.clone()));
                }
                "startup-config" => {
                    p.startup_config = v.opt_string()?.map(|s| {
                        if s.contains('\n') {
                            StartupConfig::Inline(s)
                        } else {
                            StartupConfig::File(s)
                        }
                    })
                }
                "mgmt-ipv4" => {
                    p.mgmt_ipv4 = if v.is_null() {
                        None
                    } else {
                        Some(parse_from(v, "an IPv4 address")?)
                    }
                }
                "mgmt-ipv6" => {
                    p.mgmt_ipv6 = if v.is_null() {
                        None
                    } else {
                        Some(parse_from(v, "an IPv6 address")?)
                    }
                }
                "sysctls" => p.sysctls = v.string_map()?,
                "wait-for" => p.wait_for = Some(v.string_list()?),
                "startup-delay" => p.startup_delay = Some(v.as_u64()?),
                ignored => {
                    let note = format!(
                        "{}: `{}` does not apply to namespace nodes and is ignored",
                        k.loc, ignored
                    );
                    if !notes.contains(&note) {
                        notes.push(note);
                    }
                }
            }
        }
        Ok(p)
    }

    /// Applies a more specific level on top of this one: scalars and `exec` are replaced,
    /// `binds` are merged by target path, `env`, `labels` and `sysctls` by key.
    fn overlay(&mut self, o: &Partial) {
        fn pick<T: Clone>(a: &mut Option<T>, b: &Option<T>) {
            if b.is_some() {
                a.clone_from(b);
            }
        }
        pick(&mut self.kind, &o.kind);
        pick(&mut self.image, &o.image);
        pick(&mut self.cmd, &o.cmd);
        pick(&mut self.entrypoint, &o.entrypoint);
        pick(&mut self.exec, &o.exec);
        pick(&mut self.group, &o.group);
        pick(&mut self.network_mode, &o.network_mode);
        pick(&mut self.startup_config, &o.startup_config);
        pick(&mut self.mgmt_ipv4, &o.mgmt_ipv4);
        pick(&mut self.mgmt_ipv6, &o.mgmt_ipv6);
        pick(&mut self.wait_for, &o.wait_for);
        pick(&mut self.startup_delay, &o.startup_delay);
        for (k, l) in &o.key_locs {
            self.key_locs.retain(|(x, _)| x != k);
            self.key_locs.push((k.clone(), l.clone()));
        }
        for b in &o.binds {
            self.binds.retain(|x| x.dst != b.dst);
            self.binds.push(b.clone());
        }
        for (dst, src) in [
            (&mut self.env, &o.env),
            (&mut self.labels, &o.labels),
            (&mut self.sysctls, &o.sysctls),
        ] {
            for (k, v) in src {
                dst.retain(|(x, _)| x != k);
                dst.push((k.clone(), v.clone()));
            }
        }
    }

    fn into_node(self, name: String, loc: Loc, kind: String, group: Option<String>) -> NodeDef {
        NodeDef {
            name,
            loc,
            kind,
            image: self.image,
            cmd: self.cmd,
            entrypoint: self.entrypoint,
            exec: self.exec.unwrap_or_default(),
            binds: self.binds,
            env: self.env,
            labels: self.labels,
            group,
            network_mode: self.network_mode,
            startup_config: self.startup_config,
            mgmt_ipv4: self.mgmt_ipv4,
            mgmt_ipv6: self.mgmt_ipv6,
            sysctls: self.sysctls,
            wait_for: self.wait_for.unwrap_or_default(),
            startup_delay: self.startup_delay.unwrap_or(0),
            key_locs: self.key_locs,
        }
    }
}

fn parse_bind(b: &Node) -> Result<Bind, TopoError> {
    let s = b.as_str()?;
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, ro) = match parts.as_slice() {
        [src, dst] => (*src, *dst, false),
        [src, dst, opts] => {
            let mut ro = false;
            for o in opts.split(',') {
                match o {
                    "ro" => ro = true,
                    "rw" | "z" | "Z" | "rprivate" | "private" | "rslave" | "slave" | "rshared"
                    | "shared" => {}
                    other => {
                        return Err(
                            b.invalid(format!("unknown bind option `{other}` (use ro or rw)"))
                        )
                    }
                }
            }
            (*src, *dst, ro)
        }
        _ => return Err(b.invalid(format!("`{s}` is not `source:target[:ro]`"))),
    };
    if src.is_empty() || !dst.starts_with('/') {
        return Err(b.invalid(format!("`{s}`: the target must be an absolute path")));
    }
    Ok(Bind {
        src: src.to_string(),
        dst: dst.to_string(),
        ro,
        loc: b.loc.clone(),
        key: b.path.clone(),
    })
}

fn read_env_file(f: &Node) -> Result<Vec<(String, String)>, TopoError> {
    let path = f.as_str()?;
    let base = f.loc.file.parent().unwrap_or(Path::new("."));
    let full = base.join(path);
    let text = std::fs::read_to_string(&full)
        .map_err(|e| f.invalid(format!("cannot read env file {}: {e}", full.display())))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect())
}

fn parse_link(l: &Node) -> Result<LinkDef, TopoError> {
    l.check_keys(&[
        "endpoints",
        "endpoint",
        "type",
        "mtu",
        "labels",
        "vars",
        "host-interface",
        "mode",
        "remote",
        "vni",
        "udp-port",
    ])?;
    let mtu_v = match l.get("mtu") {
        Some(n) if !n.is_null() => Some(mtu(n)?),
        _ => None,
    };
    let typ = match l.get("type") {
        Some(t) => t.as_str()?.to_string(),
        None => String::new(),
    };
    match typ.as_str() {
        "" | "veth" => {
            let eps = l.require("endpoints")?;
            let items = eps.as_seq()?;
            if items.len() != 2 {
                return Err(eps.invalid(format!(
                    "a link has exactly 2 endpoints, found {}",
                    items.len()
                )));
            }
            let a = parse_endpoint(&items[0], typ.is_empty())?;
            let b = parse_endpoint(&items[1], typ.is_empty())?;
            let kind = if a.node == "host" || b.node == "host" {
                LinkKind::Host
            } else if a.node == "mgmt-net" || b.node == "mgmt-net" {
                LinkKind::MgmtNet
            } else {
                LinkKind::Veth
            };
            for e in [&a, &b] {
                if e.node == "macvlan" {
                    return Err(TopoError::Invalid {
                        loc: e.loc.clone(),
                        key: e.key.clone(),
                        msg: "macvlan endpoints attach to host interfaces, which bgplane lab never touches".into(),
                    });
                }
            }
            Ok(LinkDef {
                loc: l.loc.clone(),
                key: l.path.clone(),
                kind,
                a,
                b,
                mtu: mtu_v,
            })
        }
        "mgmt-net" | "host" => {
            let ep = parse_endpoint(l.require("endpoint")?, false)?;
            let hi = l.require("host-interface")?;
            let host_if = hi.as_str()?.to_string();
            if !valid_ifname(&host_if) {
                return Err(hi.invalid(format!("`{host_if}` is not a valid interface name")));
            }
            let (kind, special) = if typ == "host" {
                (LinkKind::Host, "host")
            } else {
                (LinkKind::MgmtNet, "mgmt-net")
            };
            let other = EndpointDef {
                node: special.to_string(),
                iface: host_if,
                mac: None,
                loc: hi.loc.clone(),
                key: hi.path.clone(),
            };
            Ok(LinkDef {
                loc: l.loc.clone(),
                key: l.path.clone(),
                kind,
                a: ep,
                b: other,
                mtu: mtu_v,
            })
        }
        other => Err(l.require("type")?.invalid(format!(
            "link type `{other}` is not supported by bgplane lab (supported: veth, mgmt-net, host)"
        ))),
    }
}

fn parse_endpoint(n: &Node, brief: bool) -> Result<EndpointDef, TopoError> {
    let (node, iface, mac) = match &n.value {
        Value::Scalar(s) => {
            let Some((node, iface)) = s.split_once(':') else {
                return Err(n.invalid(format!("endpoint `{s}` is not `node:interface`")));
            };
            (node.to_string(), iface.to_string(), None)
        }
        Value::Map(_) if !brief => {
            n.check_keys(&["node", "interface", "mac", "vars"])?;
            let node = n.require("node")?.as_str()?.to_string();
            let iface = n.require("interface")?.as_str()?.to_string();
            let mac = match n.get("mac") {
                Some(m) if !m.is_null() => Some(parse_mac(m)?),
                _ => None,
            };
            (node, iface, mac)
        }
        _ => {
            return Err(n.type_error(if brief {
                "a `node:interface` string (use `type: veth` for the extended form)"
            } else {
                "a `node:interface` string or a mapping with node, interface, mac"
            }))
        }
    };
    if node.is_empty() {
        return Err(n.invalid("the endpoint has no node name"));
    }
    if !valid_ifname(&iface) {
        return Err(n.invalid(format!(
            "`{iface}` is not a valid Linux interface name (1-15 characters, no `/`, `:` or spaces)"
        )));
    }
    Ok(EndpointDef {
        node,
        iface,
        mac,
        loc: n.loc.clone(),
        key: n.path.clone(),
    })
}

fn parse_mac(n: &Node) -> Result<[u8; 6], TopoError> {
    let s = n.as_str()?;
    let parts: Vec<&str> = s.split(':').collect();
    let bad = || n.invalid(format!("`{s}` is not a MAC address like aa:c1:ab:00:00:01"));
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        mac[i] = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if mac[0] & 1 == 1 {
        return Err(n.invalid(format!("`{s}` is a multicast MAC address")));
    }
    Ok(mac)
}
