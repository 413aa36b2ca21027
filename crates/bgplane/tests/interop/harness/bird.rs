//! BIRD 2.0: `bird -f -c CONF -s CTL -P PID`, one static protocol per originated route (so
//! that `birdc disable` withdraws it), state through `birdc -s CTL`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

use super::daemon::{Daemon, DaemonSpec, Route, RouteSpec};
use super::process::Proc;
use super::{run, timeouts, wait_for, which, write, Lab};

/// Name of the BGP protocol towards bgplane.
const PROTO: &str = "bgplane";

/// A running BIRD.
pub(crate) struct Bird {
    ctl: PathBuf,
    routes: Vec<RouteSpec>,
    proc: Proc,
}

fn static_name(i: usize) -> String {
    format!("st{i}")
}

fn config(spec: &DaemonSpec) -> String {
    let mut c = format!(
        "router id {};\nlog stderr all;\nprotocol device {{ }}\n",
        spec.router_id
    );
    for (i, r) in spec.routes.iter().enumerate() {
        let mut attrs = String::new();
        for comm in r.communities {
            let (a, b) = comm.split_once(':').expect("community A:B");
            attrs += &format!(" bgp_community.add(({a},{b}));");
        }
        for l in r.large {
            let p: Vec<&str> = l.split(':').collect();
            attrs += &format!(" bgp_large_community.add(({},{},{}));", p[0], p[1], p[2]);
        }
        c += &format!(
            "protocol static {} {{\n  {};\n  route {} blackhole {{{attrs} }};\n}}\n",
            static_name(i),
            if r.is_v6() { "ipv6" } else { "ipv4" },
            r.prefix
        );
    }
    // iBGP is multihop with recursive next hops by default, which needs an IGP route to
    // the link: `direct` makes it a directly connected session.
    // Unnumbered: the neighbor is bgplane's link-local address on the interface, and
    // IPv4 routes travel with IPv6 next hops (RFC 8950).
    let (local, neighbor, enh) = match &spec.unnumbered {
        Some(u) => (
            String::new(),
            format!("{}%{}", u.peer_ll, u.ifname),
            " extended next hop on;",
        ),
        None => (format!("{} ", spec.v4), spec.peer.to_string(), ""),
    };
    let mut direct = if spec.internal() { "  direct;\n" } else { "" }.to_string();
    if let Some(pw) = &spec.password {
        direct += &format!("  password \"{pw}\";\n");
    }
    if spec.gtsm {
        direct += "  ttl security on;\n";
    }
    c += &format!(
        "protocol bgp {PROTO} {{\n  local {}as {};\n  neighbor {} as {};\n  \
         hold time {};\n  connect delay time 1;\n  connect retry time 1;\n  \
         error wait time 1, 5;\n{}{direct}  \
         ipv4 {{ import all; export where source = RTS_STATIC;{enh} }};\n  \
         ipv6 {{ import all; export where source = RTS_STATIC; }};\n}}\n",
        local,
        spec.asn,
        neighbor,
        spec.peer_as,
        spec.hold_time,
        if spec.passive { "  passive on;\n" } else { "" },
    );
    c
}

impl Bird {
    /// Starts BIRD in `ns` with the configuration of `spec`.
    pub(crate) fn start(lab: &Lab, ns: &str, spec: &DaemonSpec) -> Bird {
        let mut b = Bird::start_conf(lab, ns, &config(spec));
        b.routes = spec.routes.clone();
        b
    }

    /// Starts BIRD in `ns` with the configuration `text` as written.
    pub(crate) fn start_conf(lab: &Lab, ns: &str, text: &str) -> Bird {
        let conf = lab.path("bird.conf");
        write(&conf, text);
        let bird = which("bird").expect("bird is installed");
        run(Command::new(&bird).arg("-p").arg("-c").arg(&conf))
            .unwrap_or_else(|e| panic!("BIRD rejects its configuration: {e}"));
        let ctl = lab.path("bird.ctl");
        let mut proc = Proc::spawn(
            lab,
            ns,
            "bird",
            &bird,
            &[
                "-f".into(),
                "-c".into(),
                conf.display().to_string(),
                "-s".into(),
                ctl.display().to_string(),
                "-P".into(),
                lab.path("bird.pid").display().to_string(),
            ],
            &[],
        );
        wait_for("BIRD's control socket", timeouts::START, || {
            proc.assert_running();
            birdc(&ctl, &["show", "status"]).map(|_| ())
        });
        Bird {
            ctl,
            routes: Vec::new(),
            proc,
        }
    }

    /// Sends a signal to BIRD (`STOP` freezes it, `CONT` thaws it).
    pub(crate) fn signal(&mut self, sig: &str) {
        self.proc.signal(sig);
    }

    /// Runs a birdc command.
    pub(crate) fn birdc(&self, args: &[&str]) -> Result<String, String> {
        birdc(&self.ctl, args)
    }

    fn protocol(&self) -> Result<String, String> {
        self.birdc(&["show", "protocols", "all", PROTO])
    }
}

/// Runs birdc; BIRD's answer counts even when birdc exits non-zero (it does for
/// "Network not found").
fn birdc(ctl: &std::path::Path, args: &[&str]) -> Result<String, String> {
    let mut c = Command::new("birdc");
    c.arg("-s").arg(ctl).args(args);
    match run(&mut c) {
        Ok(out) => Ok(out),
        Err(e) if e.contains("Network not found") => Ok(String::new()),
        Err(e) => Err(e),
    }
}

/// `(65000,7)` → `65000:7`; `(65000, 7, 7)` → `65000:7:7`.
fn communities(line: &str) -> Vec<String> {
    line.split('(')
        .skip(1)
        .filter_map(|p| p.split(')').next())
        .map(|inner| {
            inner
                .split(',')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(":")
        })
        .collect()
}

impl Daemon for Bird {
    fn name(&self) -> &'static str {
        "BIRD"
    }

    fn established(&mut self, _peer: IpAddr) -> Result<(), String> {
        let out = self.protocol()?;
        let state = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("BGP state:"))
            .map(str::trim)
            .unwrap_or("?");
        if state == "Established" {
            Ok(())
        } else {
            Err(format!("BIRD: BGP state {state}"))
        }
    }

    fn route(&mut self, prefix: &str) -> Result<Option<Route>, String> {
        let out = self.birdc(&["show", "route", "for", prefix, "all"])?;
        // Only an exact match counts; BIRD shows the longest match for `for`.
        let mut lines = out.lines().skip_while(|l| !l.starts_with(prefix));
        if lines.next().is_none() {
            return Ok(None);
        }
        let mut r = Route {
            prefix: prefix.into(),
            ..Route::default()
        };
        for l in lines {
            let l = l.trim();
            if let Some(v) = l.strip_prefix("BGP.community:") {
                r.communities = communities(v);
            } else if let Some(v) = l.strip_prefix("BGP.large_community:") {
                r.large = communities(v);
            } else if let Some(v) = l.strip_prefix("BGP.as_path:") {
                r.as_path = v.trim().to_string();
            } else if let Some(v) = l.strip_prefix("BGP.next_hop:") {
                r.next_hop = v.split_whitespace().next().unwrap_or_default().to_string();
            } else if !l.starts_with("BGP.") && !l.starts_with("via") && !l.starts_with("Type:") {
                break;
            }
        }
        Ok(Some(r))
    }

    fn withdraw(&mut self, route: &RouteSpec) {
        let i = self
            .routes
            .iter()
            .position(|r| r == route)
            .unwrap_or_else(|| panic!("BIRD does not originate {}", route.prefix));
        self.birdc(&["disable", &static_name(i)])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn refresh_requests_received(&mut self, _peer: IpAddr) -> Option<u64> {
        None // birdc shows no ROUTE-REFRESH counters
    }

    fn soft_in(&mut self, _peer: IpAddr) -> bool {
        self.birdc(&["reload", "in", PROTO])
            .unwrap_or_else(|e| panic!("{e}"));
        true
    }

    fn hard_reset(&mut self, _peer: IpAddr) {
        self.birdc(&["restart", PROTO])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn shutdown(&mut self, _peer: IpAddr, message: &str) {
        let quoted = format!("\"{message}\"");
        self.birdc(&["disable", PROTO, &quoted])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn received_shutdown_message(&mut self, _peer: IpAddr) -> Result<Option<String>, String> {
        let out = self.protocol()?;
        Ok(out
            .lines()
            .find_map(|l| l.trim().strip_prefix("Message:"))
            .map(|m| m.trim().to_string()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bird_communities_are_normalised() {
        assert_eq!(
            super::communities(" (65000,7) (65000,8)"),
            ["65000:7", "65000:8"]
        );
        assert_eq!(super::communities(" (65000, 7, 7)"), ["65000:7:7"]);
    }
}
