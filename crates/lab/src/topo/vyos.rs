//! VyOS `config.boot` → FRR configuration (+ iptables lines for source NAT), so a VyOS node of
//! a containerlab topology runs here with Debian FRR and the same addresses and BGP setup.
//!
//! The translated subset is what fabric labs use: ethernet/loopback addresses; BGP system AS
//! (`system-as`, or the older `bgp <asn> { … }`), router-id, neighbors (remote-as,
//! description, peer-group, update-source, ebgp-multihop, address-family ipv4-unicast with
//! route-reflector-client, nexthop-self, default-originate), peer groups, `listen range`,
//! networks, redistribution, `bestpath as-path multipath-relax`, maximum-paths; `nat source`
//! rules. Anything else is reported as not translated. VyOS renders BGP for FRR with
//! `no bgp ebgp-requires-policy` and `no bgp default ipv4-unicast`; so does this.

use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;

use super::yaml::Loc;
use super::TopoError;

/// The result of a translation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Translated {
    /// FRR configuration (frr.conf).
    pub frr: String,
    /// Commands to run in the node after FRR starts (iptables NAT rules).
    pub exec: Vec<String>,
    /// Statements that were not translated.
    pub skipped: Vec<String>,
}

/// One statement: words, and a block if it has one.
#[derive(Clone, Debug)]
struct Stmt {
    words: Vec<String>,
    line: usize,
    block: Option<Vec<Stmt>>,
}

impl Stmt {
    fn key(&self) -> &str {
        self.words.first().map(String::as_str).unwrap_or("")
    }
    fn arg(&self, i: usize) -> Option<&str> {
        self.words.get(i).map(String::as_str)
    }
    fn children(&self) -> &[Stmt] {
        self.block.as_deref().unwrap_or(&[])
    }
    fn child(&self, key: &str) -> Option<&Stmt> {
        self.children().iter().find(|c| c.key() == key)
    }
    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Stmt> + 'a {
        self.children().iter().filter(move |c| c.key() == key)
    }
    fn value(&self, key: &str) -> Option<&str> {
        self.child(key).and_then(|c| c.arg(1))
    }
}

/// Reads and translates a config.boot file.
pub fn translate_file(file: &Path, hostname: &str) -> Result<Translated, TopoError> {
    let text = std::fs::read_to_string(file).map_err(|source| TopoError::Read {
        file: file.display().to_string(),
        source,
    })?;
    translate(&text, file, hostname)
}

/// Translates config.boot text.
pub fn translate(text: &str, file: &Path, hostname: &str) -> Result<Translated, TopoError> {
    let file = Arc::new(file.to_path_buf());
    let err = |line: usize, msg: String| TopoError::Invalid {
        loc: Loc {
            file: file.clone(),
            line,
            col: 1,
        },
        key: "config.boot".into(),
        msg,
    };
    let root = parse(text).map_err(|(line, msg)| err(line, msg))?;
    let mut t = Translated::default();
    let mut frr = String::new();
    let _ = writeln!(frr, "! Translated by bgplane from {} (VyOS config.boot)\nfrr defaults traditional\nhostname {hostname}\n!", file.display());
    for top in &root {
        match top.key() {
            "interfaces" => interfaces(top, &mut frr, &mut t),
            "protocols" => {
                for p in top.children() {
                    match p.key() {
                        "bgp" => bgp(p, &mut frr, &mut t).map_err(|(l, m)| err(l, m))?,
                        "static" => statics(p, &mut frr, &mut t),
                        other => t
                            .skipped
                            .push(format!("line {}: protocols {other}", p.line)),
                    }
                }
            }
            "nat" => nat(top, &mut t),
            "system" | "service" => {}
            other => t.skipped.push(format!("line {}: {other}", top.line)),
        }
    }
    t.frr = frr;
    Ok(t)
}

fn interfaces(top: &Stmt, frr: &mut String, t: &mut Translated) {
    for i in top.children() {
        let (kind, name) = (i.key(), i.arg(1).unwrap_or(""));
        if !matches!(kind, "ethernet" | "loopback" | "dummy") {
            t.skipped
                .push(format!("line {}: interfaces {kind}", i.line));
            continue;
        }
        // No dummy module here: dummy addresses go on the loopback.
        let ifname = if kind == "ethernet" { name } else { "lo" };
        let addrs: Vec<&str> = i
            .all("address")
            .filter_map(|a| a.arg(1))
            .filter(|a| *a != "dhcp" && *a != "dhcpv6")
            .collect();
        if addrs.is_empty() {
            continue;
        }
        let _ = writeln!(frr, "interface {ifname}");
        for a in addrs {
            let fam = if a.contains(':') { "ipv6" } else { "ip" };
            let _ = writeln!(frr, " {fam} address {a}");
        }
        let _ = writeln!(frr, "exit\n!");
    }
}

fn statics(p: &Stmt, frr: &mut String, t: &mut Translated) {
    for r in p.all("route") {
        let Some(prefix) = r.arg(1) else { continue };
        let mut any = false;
        for nh in r.all("next-hop") {
            if let Some(gw) = nh.arg(1) {
                let _ = writeln!(frr, "ip route {prefix} {gw}");
                any = true;
            }
        }
        if r.child("blackhole").is_some() {
            let _ = writeln!(frr, "ip route {prefix} blackhole");
            any = true;
        }
        if !any {
            t.skipped
                .push(format!("line {}: static route {prefix}", r.line));
        }
    }
}

type Fail = (usize, String);

fn bgp(p: &Stmt, frr: &mut String, t: &mut Translated) -> Result<(), Fail> {
    // VyOS ≥ 1.4: `bgp { system-as N … }`; older: `bgp N { … }`.
    let (asn, body) = match (p.arg(1), p.value("system-as")) {
        (Some(a), _) => (a.to_string(), p),
        (None, Some(a)) => (a.to_string(), p),
        (None, None) => return Err((p.line, "protocols bgp has no system-as".into())),
    };
    let _ = writeln!(frr, "router bgp {asn}");
    let params = body.child("parameters");
    if let Some(id) = params.and_then(|x| x.value("router-id")) {
        let _ = writeln!(frr, " bgp router-id {id}");
    }
    let _ = writeln!(
        frr,
        " no bgp ebgp-requires-policy\n no bgp default ipv4-unicast"
    );
    if params
        .and_then(|x| x.child("bestpath"))
        .and_then(|b| b.child("as-path"))
        .and_then(|a| a.child("multipath-relax"))
        .is_some()
    {
        let _ = writeln!(frr, " bgp bestpath as-path multipath-relax");
    }
    let mut af = String::new();
    for g in body.all("peer-group") {
        let Some(name) = g.arg(1) else { continue };
        let _ = writeln!(frr, " neighbor {name} peer-group");
        peer(name, g, frr, &mut af, t);
    }
    for n in body.all("neighbor") {
        let Some(addr) = n.arg(1) else { continue };
        if let Some(g) = n.value("peer-group") {
            let _ = writeln!(frr, " neighbor {addr} peer-group {g}");
        }
        peer(addr, n, frr, &mut af, t);
    }
    if let Some(l) = body.child("listen") {
        for r in l.all("range") {
            if let (Some(range), Some(g)) = (r.arg(1), r.value("peer-group")) {
                let _ = writeln!(frr, " bgp listen range {range} peer-group {g}");
            }
        }
    }
    if let Some(v4) = body
        .child("address-family")
        .and_then(|a| a.child("ipv4-unicast"))
    {
        for n in v4.all("network") {
            if let Some(p) = n.arg(1) {
                let _ = writeln!(af, "  network {p}");
            }
        }
        for r in v4.all("redistribute") {
            if let Some(what) = r.arg(1) {
                let _ = writeln!(af, "  redistribute {what}");
            }
        }
        if let Some(m) = v4.child("maximum-paths") {
            for kind in ["ebgp", "ibgp"] {
                if let Some(n) = m.value(kind) {
                    let suffix = if kind == "ibgp" { "-ibgp" } else { "" };
                    let _ = writeln!(af, "  maximum-paths{suffix} {n}");
                }
            }
        }
    }
    for c in body.children() {
        if !matches!(
            c.key(),
            "system-as" | "parameters" | "neighbor" | "peer-group" | "listen" | "address-family"
        ) {
            t.skipped
                .push(format!("line {}: protocols bgp {}", c.line, c.key()));
        }
    }
    let _ = writeln!(
        frr,
        " address-family ipv4 unicast\n{af} exit-address-family\nexit\n!"
    );
    Ok(())
}

/// A neighbor or peer group: session settings, and its ipv4-unicast settings into `af`.
fn peer(name: &str, n: &Stmt, frr: &mut String, af: &mut String, t: &mut Translated) {
    if let Some(r) = n.value("remote-as") {
        let _ = writeln!(frr, " neighbor {name} remote-as {r}");
    }
    if let Some(d) = n.value("description") {
        let _ = writeln!(frr, " neighbor {name} description {d}");
    }
    if let Some(u) = n.value("update-source") {
        let _ = writeln!(frr, " neighbor {name} update-source {u}");
    }
    if let Some(h) = n.value("ebgp-multihop") {
        let _ = writeln!(frr, " neighbor {name} ebgp-multihop {h}");
    }
    if let Some(v4) = n
        .child("address-family")
        .and_then(|a| a.child("ipv4-unicast"))
    {
        let _ = writeln!(af, "  neighbor {name} activate");
        for c in v4.children() {
            match c.key() {
                "route-reflector-client" | "nexthop-self" | "default-originate" => {
                    let _ = writeln!(af, "  neighbor {name} {}", c.key());
                }
                "soft-reconfiguration" => {
                    let _ = writeln!(af, "  neighbor {name} soft-reconfiguration inbound");
                }
                other => t.skipped.push(format!(
                    "line {}: neighbor {name} address-family ipv4-unicast {other}",
                    c.line
                )),
            }
        }
    }
    for c in n.children() {
        if !matches!(
            c.key(),
            "remote-as"
                | "description"
                | "update-source"
                | "ebgp-multihop"
                | "address-family"
                | "peer-group"
        ) {
            t.skipped
                .push(format!("line {}: neighbor {name} {}", c.line, c.key()));
        }
    }
}

/// `nat source rule N` → `iptables -t nat -A POSTROUTING …`, in rule order.
fn nat(top: &Stmt, t: &mut Translated) {
    let Some(src) = top.child("source") else {
        if !top.children().is_empty() {
            t.skipped.push(format!(
                "line {}: nat (only source rules are translated)",
                top.line
            ));
        }
        return;
    };
    let mut rules: Vec<(u32, &Stmt)> = src
        .all("rule")
        .filter_map(|r| r.arg(1).and_then(|n| n.parse().ok()).map(|n| (n, r)))
        .collect();
    rules.sort_by_key(|(n, _)| *n);
    for (_, r) in rules {
        let mut cmd = String::from("iptables -t nat -A POSTROUTING");
        if let Some(a) = r.child("source").and_then(|s| s.value("address")) {
            let _ = write!(cmd, " -s {a}");
        }
        if let Some(a) = r.child("destination").and_then(|s| s.value("address")) {
            let _ = write!(cmd, " -d {a}");
        }
        if let Some(o) = r.child("outbound-interface") {
            // 1.3/1.4: `outbound-interface eth0`; 1.5: `outbound-interface { name eth0 }`.
            if let Some(i) = o.arg(1).or_else(|| o.value("name")) {
                let _ = write!(cmd, " -o {i}");
            }
        }
        if let Some(p) = r.value("protocol") {
            let _ = write!(cmd, " -p {p}");
        }
        let target = if r.child("exclude").is_some() {
            Some("-j RETURN".to_string())
        } else {
            match r.child("translation").and_then(|x| x.value("address")) {
                Some("masquerade") => Some("-j MASQUERADE".to_string()),
                Some(a) => Some(format!("-j SNAT --to-source {a}")),
                None => None,
            }
        };
        match target {
            Some(j) => t.exec.push(format!("{cmd} {j}")),
            None => t.skipped.push(format!(
                "line {}: nat source rule without translation",
                r.line
            )),
        }
    }
}

/// Parses the curly-brace format into statements; errors carry the line.
fn parse(text: &str) -> Result<Vec<Stmt>, Fail> {
    let toks = tokenize(text)?;
    let mut pos = 0;
    let out = block(&toks, &mut pos, 0)?;
    Ok(out)
}

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    Open,
    Close,
    End,
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, Fail> {
    let mut out = Vec::new();
    let mut in_comment = false;
    for (n, line) in text.lines().enumerate() {
        let ln = n + 1;
        let mut chars = line.chars().peekable();
        while let Some(&c) = chars.peek() {
            if in_comment {
                chars.next();
                if c == '*' && chars.peek() == Some(&'/') {
                    chars.next();
                    in_comment = false;
                }
                continue;
            }
            match c {
                ' ' | '\t' | '\r' => {
                    chars.next();
                }
                '{' => {
                    chars.next();
                    out.push((Tok::Open, ln));
                }
                '}' => {
                    chars.next();
                    out.push((Tok::Close, ln));
                }
                '/' => {
                    chars.next();
                    match chars.peek() {
                        Some('/') => break,
                        Some('*') => {
                            chars.next();
                            in_comment = true;
                        }
                        _ => return Err((ln, "stray `/`".into())),
                    }
                }
                '"' | '\'' => {
                    chars.next();
                    let mut s = String::new();
                    loop {
                        match chars.next() {
                            Some(q) if q == c => break,
                            Some('\\') => s.extend(chars.next()),
                            Some(x) => s.push(x),
                            None => return Err((ln, "unterminated quote".into())),
                        }
                    }
                    out.push((Tok::Word(s), ln));
                }
                _ => {
                    let mut s = String::new();
                    while let Some(&x) = chars.peek() {
                        if x.is_whitespace() || x == '{' || x == '}' {
                            break;
                        }
                        s.push(x);
                        chars.next();
                    }
                    out.push((Tok::Word(s), ln));
                }
            }
        }
        out.push((Tok::End, ln));
    }
    Ok(out)
}

fn block(toks: &[(Tok, usize)], pos: &mut usize, depth: usize) -> Result<Vec<Stmt>, Fail> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut line = 0;
    while *pos < toks.len() {
        let (tok, ln) = &toks[*pos];
        *pos += 1;
        match tok {
            Tok::Word(w) => {
                if words.is_empty() {
                    line = *ln;
                }
                words.push(w.clone());
            }
            Tok::End => {
                if !words.is_empty() {
                    out.push(Stmt {
                        words: std::mem::take(&mut words),
                        line,
                        block: None,
                    });
                }
            }
            Tok::Open => {
                if words.is_empty() {
                    return Err((*ln, "`{` without a name".into()));
                }
                let children = block(toks, pos, depth + 1)?;
                out.push(Stmt {
                    words: std::mem::take(&mut words),
                    line,
                    block: Some(children),
                });
            }
            Tok::Close => {
                if depth == 0 {
                    return Err((*ln, "unbalanced `}`".into()));
                }
                if !words.is_empty() {
                    out.push(Stmt {
                        words: std::mem::take(&mut words),
                        line,
                        block: None,
                    });
                }
                return Ok(out);
            }
        }
    }
    if depth > 0 {
        return Err((
            toks.last().map(|t| t.1).unwrap_or(0),
            "missing `}` at the end of the file".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEAF: &str = r#"/* a comment
 * over lines */ interfaces {
    ethernet eth1 {
        address 10.0.5.1/24
    }
    ethernet eth2 {
        address 10.0.101.2/24
    }
    loopback lo {
    }
}
nat {
    source {
        rule 100 {
            outbound-interface {
                name eth0
            }
            source {
                address 10.0.5.0/24
            }
            translation {
                address masquerade
            }
        }
        rule 10 {
            description "Do NOT NAT traffic to private networks"
            destination {
                address 10.0.0.0/8
            }
            exclude
        }
    }
}
protocols {
    bgp {
        address-family {
            ipv4-unicast {
                network 10.0.5.0/24 {
                }
            }
        }
        neighbor 10.0.101.1 {
            address-family {
                ipv4-unicast {
                }
            }
            remote-as 500
        }
        neighbor 10.0.5.11 {
            address-family {
                ipv4-unicast {
                    route-reflector-client
                }
            }
            remote-as 65005
        }
        parameters {
            router-id 10.0.5.1
        }
        system-as 65005
    }
}
system {
    host-name leaf01
}
// Warning: Do not remove the following line.
// vyos-config-version: "bgp@5:nat@5"
"#;

    #[test]
    fn translates_a_leaf() {
        let t = translate(LEAF, Path::new("leaf01.boot"), "leaf01").unwrap();
        for want in [
            "interface eth1\n ip address 10.0.5.1/24\nexit",
            "router bgp 65005\n bgp router-id 10.0.5.1\n no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n",
            " neighbor 10.0.101.1 remote-as 500\n",
            "  neighbor 10.0.5.11 activate\n  neighbor 10.0.5.11 route-reflector-client\n",
            "  network 10.0.5.0/24\n",
        ] {
            assert!(t.frr.contains(want), "missing {want:?} in\n{}", t.frr);
        }
        assert_eq!(
            t.exec,
            [
                "iptables -t nat -A POSTROUTING -d 10.0.0.0/8 -j RETURN",
                "iptables -t nat -A POSTROUTING -s 10.0.5.0/24 -o eth0 -j MASQUERADE",
            ]
        );
        assert!(t.skipped.is_empty(), "{:?}", t.skipped);
    }

    #[test]
    fn old_syntax_and_errors() {
        let old = "protocols {\n bgp 65010 {\n  neighbor 10.0.0.1 {\n   remote-as external\n  }\n  timers {\n   keepalive 3\n  }\n }\n}\n";
        let t = translate(old, Path::new("x.boot"), "x").unwrap();
        assert!(
            t.frr.contains("router bgp 65010")
                && t.frr.contains("neighbor 10.0.0.1 remote-as external")
        );
        assert_eq!(t.skipped, ["line 6: protocols bgp timers"]);
        let e = translate("interfaces {\n ethernet eth1 {\n", Path::new("b.boot"), "b")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("b.boot:2:1: `config.boot`: missing `}`"),
            "{e}"
        );
        let e = translate("protocols {\n bgp {\n }\n}\n", Path::new("b.boot"), "b")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("b.boot:2:1:") && e.contains("no system-as"),
            "{e}"
        );
    }
}
