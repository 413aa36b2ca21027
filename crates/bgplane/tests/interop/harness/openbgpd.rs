//! OpenBGPD 7.7 (portable): `bgpd -d -f CONF` with the control socket in the lab's
//! directory; state through `bgpctl -s SOCK -j`.
//!
//! bgpd chroots into `_openbgpd`'s home `/run/openbgpd`, which only systemd creates; it
//! runs under `unshare -m` with a private tmpfs on `/run` holding that directory instead.
//! OpenBGPD 7.7 picks the IPv6 next hop it announces on an IPv4 session from the first
//! interface with an IPv6 address, which is `lo` (::1): in its namespace `lo` carries the
//! link's address instead of ::1.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::daemon::{Daemon, DaemonSpec, Route, RouteSpec};
use super::netns::ns_ip;
use super::process::Proc;
use super::{run, timeouts, wait_for, write, Lab};

/// OpenBGPD's daemon.
pub(crate) const BGPD: &str = "/usr/sbin/bgpd";
/// OpenBGPD's control program.
pub(crate) const BGPCTL: &str = "/usr/sbin/bgpctl";

/// Whether `/usr/sbin/bgpd` is OpenBGPD (FRR's bgpd lives elsewhere).
pub(crate) fn is_openbgpd() -> bool {
    Command::new(BGPD)
        .arg("-V")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout).contains("OpenBGPD")
                || String::from_utf8_lossy(&o.stderr).contains("OpenBGPD")
        })
        .unwrap_or(false)
}

/// A running OpenBGPD.
pub(crate) struct Openbgpd {
    sock: PathBuf,
    log: PathBuf,
    _proc: Proc,
}

fn set_clause(r: &RouteSpec) -> String {
    let mut parts = Vec::new();
    for c in r.communities {
        parts.push(format!("community {c}"));
    }
    for l in r.large {
        parts.push(format!("large-community {l}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" set {{ {} }}", parts.join(" "))
    }
}

fn config(spec: &DaemonSpec, sock: &Path) -> String {
    let mut c = format!(
        "AS {}\nrouter-id {}\nfib-update no\nconnect-retry 1\nsocket \"{}\"\nlisten on {}\n",
        spec.asn,
        spec.router_id,
        sock.display(),
        spec.v4
    );
    for r in &spec.routes {
        c += &format!("network {}{}\n", r.prefix, set_clause(r));
    }
    c += &format!(
        "neighbor {} {{\n  remote-as {}\n  holdtime {}\n{}  announce IPv4 unicast\n  \
         announce IPv6 unicast\n}}\nallow from any\nallow to any\n",
        spec.peer,
        spec.peer_as,
        spec.hold_time,
        if spec.passive { "  passive\n" } else { "" }
    );
    let mut extra = String::new();
    if let Some(pw) = &spec.password {
        extra += &format!("  tcp md5sig password {pw}\n");
    }
    if spec.gtsm {
        extra += "  ttl-security yes\n";
    }
    let c = c.replacen(
        "  announce IPv4 unicast",
        &format!("{extra}  announce IPv4 unicast"),
        1,
    );
    c
}

impl Openbgpd {
    /// Starts OpenBGPD in `ns` with the configuration of `spec`.
    pub(crate) fn start(lab: &Lab, ns: &str, spec: &DaemonSpec) -> Openbgpd {
        ns_ip(ns, &["-6", "addr", "del", "::1/128", "dev", "lo"]);
        ns_ip(
            ns,
            &[
                "-6",
                "addr",
                "add",
                &format!("{}/128", spec.v6),
                "dev",
                "lo",
                "nodad",
            ],
        );
        let sock = lab.path("bgpd.sock");
        let conf = lab.path("bgpd.conf");
        write(&conf, &config(spec, &sock));
        run(Command::new(BGPD).arg("-n").arg("-f").arg(&conf))
            .unwrap_or_else(|e| panic!("OpenBGPD rejects its configuration: {e}"));
        let script = "mount -t tmpfs -o mode=0755,size=1m bgi-run /run \
                      && mkdir -m 0755 /run/openbgpd && exec \"$@\"";
        let mut proc = Proc::spawn(
            lab,
            ns,
            "openbgpd",
            "unshare".as_ref(),
            &[
                "-m".into(),
                "--propagation".into(),
                "private".into(),
                "sh".into(),
                "-c".into(),
                script.into(),
                "sh".into(),
                BGPD.into(),
                "-d".into(),
                "-f".into(),
                conf.display().to_string(),
            ],
            &[],
        );
        wait_for("OpenBGPD's control socket", timeouts::START, || {
            proc.assert_running();
            bgpctl(&sock, &["show", "summary"]).map(|_| ())
        });
        Openbgpd {
            sock,
            log: lab.path("openbgpd.log"),
            _proc: proc,
        }
    }

    /// Runs `bgpctl ARGS`.
    pub(crate) fn bgpctl(&self, args: &[&str]) -> Result<String, String> {
        bgpctl(&self.sock, args)
    }

    fn json(&self, args: &[&str]) -> Result<Value, String> {
        let out = self.bgpctl(&[&["-j"], args].concat())?;
        serde_json::from_str(&out).map_err(|e| format!("bgpctl {args:?}: bad JSON ({e}): {out}"))
    }

    fn neighbor(&self, peer: IpAddr) -> Result<Value, String> {
        let v = self.json(&["show", "neighbor", &peer.to_string()])?;
        Ok(v["neighbors"][0].clone())
    }
}

fn bgpctl(sock: &Path, args: &[&str]) -> Result<String, String> {
    run(Command::new(BGPCTL).arg("-s").arg(sock).args(args))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect()
}

impl Daemon for Openbgpd {
    fn name(&self) -> &'static str {
        "OpenBGPD"
    }

    fn established(&mut self, peer: IpAddr) -> Result<(), String> {
        let n = self.neighbor(peer)?;
        if n["state"] == "Established" {
            Ok(())
        } else {
            Err(format!("OpenBGPD: state {}", n["state"]))
        }
    }

    fn route(&mut self, prefix: &str) -> Result<Option<Route>, String> {
        let v = self.json(&["show", "rib", "detail", prefix])?;
        let rib = v["rib"].as_array().cloned().unwrap_or_default();
        let best = rib
            .iter()
            .filter(|r| r["prefix"] == prefix)
            .find(|r| r["best"] == true)
            .or_else(|| rib.iter().find(|r| r["prefix"] == prefix));
        Ok(best.map(|r| Route {
            prefix: prefix.into(),
            communities: strings(&r["communities"]),
            large: strings(&r["large_communities"]),
            as_path: r["aspath"].as_str().unwrap_or_default().to_string(),
            next_hop: r["exit_nexthop"].as_str().unwrap_or_default().to_string(),
        }))
    }

    fn withdraw(&mut self, route: &RouteSpec) {
        self.bgpctl(&["network", "delete", route.prefix])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn refresh_requests_received(&mut self, peer: IpAddr) -> Option<u64> {
        let n = self.neighbor(peer).ok()?;
        n["stats"]["route-refresh"]["received"]["request"].as_u64()
    }

    fn refresh_ignored(&mut self, peer: IpAddr) -> Option<String> {
        // OpenBGPD 7.7's RDE drops every ROUTE-REFRESH request, from any peer (FRR and
        // BIRD too, see docs/GOLDEN.md; another OpenBGPD 7.7 as well), logging "route
        // refresh: AID IPv4 unicast not negotiated" while `bgpctl show neighbor` lists
        // IPv4 and IPv6 unicast as negotiated and counts the request; the configuration
        // makes no difference (with or without `announce IPv4/IPv6 unicast` or
        // `announce restart no`). Its own `bgpctl neighbor ADDR refresh` does work.
        let log = std::fs::read_to_string(&self.log).ok()?;
        let needle = format!("neighbor {peer}");
        log.lines()
            .find(|l| {
                l.contains(&needle) && l.contains("route refresh") && l.contains("not negotiated")
            })
            .map(|l| format!("OpenBGPD 7.7 logged: {}", l.trim()))
    }

    fn soft_in(&mut self, peer: IpAddr) -> bool {
        self.bgpctl(&["neighbor", &peer.to_string(), "refresh"])
            .unwrap_or_else(|e| panic!("{e}"));
        true
    }

    fn reconnect(&mut self, peer: IpAddr) {
        // After a NOTIFICATION OpenBGPD 7.7 stays Idle for its initial idle hold of 30 s
        // before connecting again; `neighbor up` starts the session at once.
        self.bgpctl(&["neighbor", &peer.to_string(), "up"])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn hard_reset(&mut self, peer: IpAddr) {
        self.bgpctl(&["neighbor", &peer.to_string(), "clear"])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn shutdown(&mut self, peer: IpAddr, message: &str) {
        self.bgpctl(&["neighbor", &peer.to_string(), "down", message])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn received_shutdown_message(&mut self, peer: IpAddr) -> Result<Option<String>, String> {
        let n = self.neighbor(peer)?;
        Ok(n["last_shutdown_reason"].as_str().map(str::to_string))
    }
}
