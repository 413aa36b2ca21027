//! The kernel side of a namespace: addresses on `lo`, forwarding, the routes daemons
//! installed (`ip -j route`), and pings between namespaces.

use std::time::Duration;

use serde_json::Value;

use super::netns::ns_ip;
use super::process::Proc;
use super::{in_ns, run, wait_for, which, Lab};

/// Adds `addr` (e.g. `10.0.0.1/32`) to `lo` in namespace `ns`.
pub(crate) fn add_loopback(ns: &str, addr: &str) {
    ns_ip(ns, &["addr", "add", addr, "dev", "lo"]);
}

/// Turns IPv4 and IPv6 forwarding on in namespace `ns` (a router).
pub(crate) fn forwarding(ns: &str) {
    run(in_ns(ns, "sysctl").args([
        "-qw",
        "net.ipv4.ip_forward=1",
        "net.ipv6.conf.all.forwarding=1",
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
}

/// A kernel route as `ip -j route` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KernelRoute {
    /// `unicast`, `blackhole`, ...
    pub(crate) kind: String,
    /// The protocol that installed it (`bgp`, `kernel`, a number, ...).
    pub(crate) protocol: String,
    /// Its next hops' gateways (IPv4, or IPv6 for `via inet6`), one per multipath leg.
    pub(crate) gateways: Vec<String>,
    /// The device of each next hop.
    pub(crate) devices: Vec<String>,
    /// The whole JSON object, for messages.
    pub(crate) raw: Value,
}

fn gateway(nh: &Value) -> Option<String> {
    nh["gateway"]
        .as_str()
        .or_else(|| nh["via"]["host"].as_str())
        .map(str::to_string)
}

impl KernelRoute {
    fn parse(v: &Value) -> KernelRoute {
        let legs: Vec<&Value> = match v["nexthops"].as_array() {
            Some(a) => a.iter().collect(),
            None => vec![v],
        };
        KernelRoute {
            kind: v["type"].as_str().unwrap_or("unicast").to_string(),
            protocol: match &v["protocol"] {
                Value::String(s) => s.clone(),
                Value::Null => "boot".into(),
                other => other.to_string(),
            },
            gateways: legs.iter().filter_map(|l| gateway(l)).collect(),
            devices: legs
                .iter()
                .filter_map(|l| l["dev"].as_str().map(str::to_string))
                .collect(),
            raw: v.clone(),
        }
    }
}

/// The routes of exactly `prefix` in the main table of namespace `ns` (`default` for
/// the default route).
pub(crate) fn routes(ns: &str, prefix: &str) -> Vec<KernelRoute> {
    let family = if prefix.contains(':') { "-6" } else { "-4" };
    let out = ns_ip(ns, &["-j", family, "route", "show", "exact", prefix]);
    let v: Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("ip -j route show in {ns}: bad JSON ({e}): {out}"));
    v.as_array()
        .into_iter()
        .flatten()
        .map(KernelRoute::parse)
        .collect()
}

/// The only route of `prefix` in `ns`; `Err` with what is there otherwise.
pub(crate) fn route(ns: &str, prefix: &str) -> Result<KernelRoute, String> {
    let mut r = routes(ns, prefix);
    match r.len() {
        1 => Ok(r.remove(0)),
        0 => Err(format!("no kernel route for {prefix}")),
        _ => Err(format!("{} kernel routes for {prefix}: {r:?}", r.len())),
    }
}

/// Checks that `ns` has one route for `prefix`, installed by BGP (protocol `bgp`),
/// through exactly the gateways `want` (in any order).
pub(crate) fn bgp_route_via(ns: &str, prefix: &str, want: &[&str]) -> Result<KernelRoute, String> {
    let r = route(ns, prefix)?;
    let mut got = r.gateways.clone();
    got.sort();
    let mut w: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    w.sort();
    if r.protocol != "bgp" || got != w {
        return Err(format!(
            "{prefix}: want a bgp route via {w:?}, got protocol {} via {got:?}: {}",
            r.protocol, r.raw
        ));
    }
    Ok(r)
}

/// Checks that `ns` has no route for `prefix`.
pub(crate) fn no_route(ns: &str, prefix: &str) -> Result<(), String> {
    let r = routes(ns, prefix);
    if r.is_empty() {
        Ok(())
    } else {
        Err(format!("{prefix} still in the kernel: {r:?}"))
    }
}

/// One ping from `ns`, source `src`, to `dst`, waiting at most a second.
pub(crate) fn ping_once(ns: &str, src: &str, dst: &str) -> Result<(), String> {
    run(in_ns(ns, "ping").args(["-n", "-q", "-c", "1", "-W", "1", "-I", src, dst])).map(|_| ())
}

/// Waits until a ping from `ns` (source `src`) to `dst` is answered.
pub(crate) fn wait_ping(ns: &str, src: &str, dst: &str) {
    wait_for(
        &format!("a ping from {src} to {dst} to be answered"),
        Duration::from_secs(20),
        || ping_once(ns, src, dst),
    );
}

/// Whether `ping` is installed; `Err` is the reason to skip a test.
pub(crate) fn need_ping() -> Result<(), String> {
    which("ping")
        .map(|_| ())
        .ok_or_else(|| "ping is not installed (Debian package iputils-ping)".into())
}

/// A ping running in the background, one echo request every `interval`.
pub(crate) struct Ping {
    proc: Proc,
    log: std::path::PathBuf,
    what: String,
}

/// What a [`Ping`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PingStats {
    /// Echo requests sent.
    pub(crate) sent: u64,
    /// Echo replies received.
    pub(crate) received: u64,
    /// The lines of its output that report a missing reply or an error.
    pub(crate) losses: Vec<String>,
}

impl PingStats {
    /// Requests without a reply.
    pub(crate) fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }
}

impl Ping {
    /// Starts `ping -i INTERVAL -I src dst` in `ns` (with `-O`: a line for every request
    /// left unanswered), its output in `<name>.log`.
    pub(crate) fn start(
        lab: &Lab,
        ns: &str,
        name: &str,
        src: &str,
        dst: &str,
        interval: Duration,
    ) -> Ping {
        let ping = which("ping").expect("ping is installed");
        let interval = format!("{:.2}", interval.as_secs_f64());
        let args: Vec<String> = ["-n", "-D", "-O", "-W", "1", "-i", &interval, "-I", src, dst]
            .iter()
            .map(|s| s.to_string())
            .collect();
        Ping {
            proc: Proc::spawn(lab, ns, name, &ping, &args, &[]),
            log: lab.path(&format!("{name}.log")),
            what: format!("ping {src} -> {dst}"),
        }
    }

    /// Stops the ping (SIGINT, so that it prints its statistics) and returns them.
    pub(crate) fn stop(mut self) -> PingStats {
        self.proc.signal("INT");
        assert!(
            self.proc.wait_exit(Duration::from_secs(5)),
            "{} did not stop on SIGINT",
            self.what
        );
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let line = text
            .lines()
            .find(|l| l.contains("packets transmitted"))
            .unwrap_or_else(|| panic!("{}: no statistics in its output: {text}", self.what));
        let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        let num = |key: &str| -> u64 {
            words
                .iter()
                .position(|w| *w == key)
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| words[i].parse().ok())
                .unwrap_or_else(|| panic!("{}: cannot read {key} in {line:?}", self.what))
        };
        let losses = text
            .lines()
            .filter(|l| {
                l.contains("no answer")
                    || l.to_lowercase().contains("unreachable")
                    || l.contains("rror")
            })
            .map(str::to_string)
            .collect();
        PingStats {
            sent: num("packets"),
            received: num("received"),
            losses,
        }
    }
}
