//! GoBGP 3: `gobgpd -f CONF` with its gRPC API on the namespace's own loopback, routes
//! originated with `gobgp global rib add`, state through `gobgp -j`. gobgpd logs JSON
//! lines; the shutdown communication it receives is only in its log.

use std::net::IpAddr;
use std::path::PathBuf;

use serde_json::Value;

use super::daemon::{Daemon, DaemonSpec, Route, RouteSpec};
use super::process::Proc;
use super::{in_ns, run, timeouts, wait_for, which, write, Lab};

/// A running gobgpd.
pub(crate) struct Gobgp {
    ns: String,
    log: PathBuf,
    v6: std::net::Ipv6Addr,
    _proc: Proc,
}

fn config(spec: &DaemonSpec) -> String {
    let mut c = base_config(spec);
    if let Some(pw) = &spec.password {
        c = c.replacen(
            "    peer-as",
            &format!("    auth-password = {pw:?}\n    peer-as"),
            1,
        );
    }
    if spec.gtsm {
        c += "  [neighbors.ttl-security.config]\n    enabled = true\n    ttl-min = 255\n";
    }
    c
}

fn base_config(spec: &DaemonSpec) -> String {
    format!(
        "[global.config]\n  as = {}\n  router-id = \"{}\"\n  local-address-list = [\"{}\"]\n\
         [global.apply-policy.config]\n  default-import-policy = \"accept-route\"\n  \
         default-export-policy = \"accept-route\"\n\
         [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{}\"\n    peer-as = {}\n  \
         [neighbors.timers.config]\n    connect-retry = 1\n    hold-time = {}\n    \
         keepalive-interval = {}\n    idle-hold-time-after-reset = 1\n  \
         [neighbors.transport.config]\n    passive-mode = {}\n  \
         [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv4-unicast\"\n  \
         [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv6-unicast\"\n",
        spec.asn,
        spec.router_id,
        spec.v4,
        spec.peer,
        spec.peer_as,
        spec.hold_time,
        (spec.hold_time / 3).max(1),
        spec.passive
    )
}

impl Gobgp {
    /// Starts gobgpd in `ns` and originates the routes of `spec`.
    pub(crate) fn start(lab: &Lab, ns: &str, spec: &DaemonSpec) -> Gobgp {
        let conf = lab.path("gobgpd.toml");
        write(&conf, &config(spec));
        let mut proc = Proc::spawn(
            lab,
            ns,
            "gobgpd",
            &which("gobgpd").expect("gobgpd is installed"),
            &[
                "-t".into(),
                "toml".into(),
                "-f".into(),
                conf.display().to_string(),
                "--api-hosts".into(),
                "127.0.0.1:50051".into(),
                "--pprof-disable".into(),
                "-l".into(),
                "info".into(),
            ],
            &[],
        );
        wait_for("gobgpd's API", timeouts::START, || {
            proc.assert_running();
            gobgp(ns, &["global"]).map(|_| ())
        });
        let mut g = Gobgp {
            ns: ns.into(),
            log: lab.path("gobgpd.log"),
            v6: spec.v6,
            _proc: proc,
        };
        for r in &spec.routes {
            g.rib("add", r);
        }
        g
    }

    /// Runs `gobgp ARGS` against this gobgpd.
    pub(crate) fn gobgp(&self, args: &[&str]) -> Result<String, String> {
        gobgp(&self.ns, args)
    }

    fn rib(&mut self, op: &str, r: &RouteSpec) {
        let mut args: Vec<String> = vec!["global".into(), "rib".into(), "-a".into()];
        args.push(if r.is_v6() { "ipv6" } else { "ipv4" }.into());
        args.push(op.into());
        args.push(r.prefix.into());
        if op == "add" {
            if r.is_v6() {
                args.extend(["nexthop".into(), self.v6.to_string()]);
            }
            if !r.communities.is_empty() {
                args.extend(["community".into(), r.communities.join(",")]);
            }
            if !r.large.is_empty() {
                args.extend(["large-community".into(), r.large.join(",")]);
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.gobgp(&args).unwrap_or_else(|e| panic!("{e}"));
    }

    fn neighbor(&self, peer: IpAddr) -> Result<Value, String> {
        let out = self.gobgp(&["-j", "neighbor", &peer.to_string()])?;
        serde_json::from_str(&out).map_err(|e| format!("gobgp neighbor: bad JSON ({e}): {out}"))
    }
}

fn gobgp(ns: &str, args: &[&str]) -> Result<String, String> {
    run(in_ns(ns, "gobgp")
        .args(["-u", "127.0.0.1", "-p", "50051"])
        .args(args))
}

/// GoBGP's JSON attributes of a path: communities (type 8, as u32) and large communities
/// (type 32).
fn attrs_route(prefix: &str, path: &Value) -> Route {
    let mut r = Route {
        prefix: prefix.into(),
        ..Route::default()
    };
    for a in path["attrs"].as_array().into_iter().flatten() {
        match a["type"].as_u64() {
            Some(2) => {
                let asns: Vec<String> = a["as_paths"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|seg| seg["asns"].as_array().cloned().unwrap_or_default())
                    .map(|n| n.to_string())
                    .collect();
                r.as_path = asns.join(" ");
            }
            Some(3) | Some(14) => {
                r.next_hop = a["nexthop"].as_str().unwrap_or_default().to_string();
            }
            Some(8) => {
                r.communities = a["communities"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_u64)
                    .map(|c| format!("{}:{}", c >> 16, c & 0xffff))
                    .collect();
            }
            Some(32) => {
                r.large = a["value"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|l| format!("{}:{}:{}", l["ASN"], l["LocalData1"], l["LocalData2"]))
                    .collect();
            }
            _ => {}
        }
    }
    r
}

impl Daemon for Gobgp {
    fn name(&self) -> &'static str {
        "GoBGP"
    }

    fn established(&mut self, peer: IpAddr) -> Result<(), String> {
        let n = self.neighbor(peer)?;
        // apipb.PeerState.SessionState: 6 = ESTABLISHED.
        if n["state"]["session_state"] == 6 {
            Ok(())
        } else {
            Err(format!(
                "GoBGP: session_state {}",
                n["state"]["session_state"]
            ))
        }
    }

    fn route(&mut self, prefix: &str) -> Result<Option<Route>, String> {
        let afi = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        let out = self.gobgp(&["-j", "global", "rib", "-a", afi, prefix])?;
        if out.trim().is_empty() || out.trim() == "null" {
            return Ok(None);
        }
        let v: Value =
            serde_json::from_str(&out).map_err(|e| format!("gobgp rib: bad JSON ({e}): {out}"))?;
        let paths = v[prefix].as_array().cloned().unwrap_or_default();
        let best = paths
            .iter()
            .find(|p| p["best"] == true)
            .or_else(|| paths.first());
        Ok(best.map(|p| attrs_route(prefix, p)))
    }

    fn withdraw(&mut self, route: &RouteSpec) {
        self.rib("del", route);
    }

    fn refresh_requests_received(&mut self, peer: IpAddr) -> Option<u64> {
        let n = self.neighbor(peer).ok()?;
        Some(
            n["state"]["messages"]["received"]["refresh"]
                .as_u64()
                .unwrap_or(0),
        )
    }

    fn soft_in(&mut self, peer: IpAddr) -> bool {
        // GoBGP 3.10's `neighbor ADDR softresetin` (like `softreset`) re-runs the import
        // policy over the Adj-RIB-In it always keeps (server.go softResetIn) and sends no
        // ROUTE-REFRESH: a capture shows none and its own sent-refresh counter stays 0; no
        // other gobgp command sends one. Run it anyway and report what GoBGP counted, so a
        // GoBGP that does send one gets its half tested.
        let sent = |g: &Gobgp| -> u64 {
            g.neighbor(peer).map_or(0, |n| {
                n["state"]["messages"]["sent"]["refresh"]
                    .as_u64()
                    .unwrap_or(0)
            })
        };
        let before = sent(self);
        self.gobgp(&["neighbor", &peer.to_string(), "softresetin"])
            .unwrap_or_else(|e| panic!("{e}"));
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(500) {
            if sent(self) > before {
                return true;
            }
            std::thread::sleep(super::POLL);
        }
        false
    }

    fn hard_reset(&mut self, peer: IpAddr) {
        // `neighbor ADDR reset` (Cease/Administrative Reset) keeps GoBGP 3.10 in Idle
        // for 30 s, refusing bgplane's connections, whatever idle-hold-time-after-reset
        // says; disable + enable (Cease/Administrative Shutdown) is back in a second.
        let addr = peer.to_string();
        self.gobgp(&["neighbor", &addr, "disable"])
            .unwrap_or_else(|e| panic!("{e}"));
        self.gobgp(&["neighbor", &addr, "enable"])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn shutdown(&mut self, peer: IpAddr, message: &str) {
        // `disable --reason` sends no communication in 3.10; the deprecated `shutdown` does.
        self.gobgp(&[
            "neighbor",
            &peer.to_string(),
            "shutdown",
            "--reason",
            message,
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    }

    fn received_shutdown_message(&mut self, peer: IpAddr) -> Result<Option<String>, String> {
        let text = std::fs::read_to_string(&self.log).map_err(|e| e.to_string())?;
        Ok(text
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["msg"] == "received notification" && v["Key"] == peer.to_string())
            .find_map(|v| v["Communicated-Reason"].as_str().map(str::to_string)))
    }
}
