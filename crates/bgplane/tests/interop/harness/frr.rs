//! FRR 8.4: zebra and bgpd per instance, each with its own files and sockets (`-N` path
//! space, `-z`, `--vty_socket`, `-i`), running as user frr; state through
//! `vtysh --vty_socket DIR -c "... json"`.
//!
//! bgpd needs zebra: without it (`-Z`) it withdraws IPv6 routes whose next hop has a
//! link-local part, as bgplane's have.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::daemon::{Daemon, DaemonSpec, Route, RouteSpec};
use super::process::Proc;
use super::{run, timeouts, wait_for, write, Lab};

const ZEBRA: &str = "/usr/lib/frr/zebra";
const BGPD: &str = "/usr/lib/frr/bgpd";
const BFDD: &str = "/usr/lib/frr/bfdd";
const PATHSPACES: &str = "/var/run/frr";

fn vtysh(dir: &Path, commands: &[&str]) -> Result<String, String> {
    let mut c = Command::new("vtysh");
    c.arg("--vty_socket").arg(dir);
    for cmd in commands {
        c.args(["-c", cmd]);
    }
    run(&mut c)
}

/// A running FRR instance.
pub(crate) struct Frr {
    dir: PathBuf,
    /// The neighbor's interface, for an unnumbered session.
    unnumbered: Option<String>,
    log: PathBuf,
    asn: u32,
    _frr: Launched,
}

/// Removes the `/var/run/frr/<name>` directories FRR creates for `-N <name>`, for
/// every path space of the lab `lab_id`.
pub(crate) fn remove_pathspaces(lab_id: &str) {
    let Ok(rd) = std::fs::read_dir(PATHSPACES) else {
        return;
    };
    for e in rd.flatten() {
        if e.file_name().to_string_lossy().starts_with(lab_id) {
            // bfdd leaves its control socket behind.
            let _ = std::fs::remove_file(e.path().join("bfdd.sock"));
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

fn config(spec: &DaemonSpec) -> String {
    let n = match &spec.unnumbered {
        Some(u) => u.ifname.clone(),
        None => spec.peer.to_string(),
    };
    let remote_as = match &spec.unnumbered {
        Some(_) => format!("interface remote-as {}", spec.peer_as),
        None => format!("remote-as {}", spec.peer_as),
    };
    let mut c = String::from(
        "frr defaults traditional\nhostname frr\nlog stdout debugging\ndebug bgp neighbor-events\n!\n",
    );
    for (i, r) in spec.routes.iter().enumerate() {
        c += &format!("route-map R{i} permit 10\n");
        if !r.communities.is_empty() {
            c += &format!(" set community {}\n", r.communities.join(" "));
        }
        if !r.large.is_empty() {
            c += &format!(" set large-community {}\n", r.large.join(" "));
        }
        c += "!\n";
    }
    c += &format!(
        "router bgp {}\n bgp router-id {}\n no bgp ebgp-requires-policy\n no bgp network import-check\n \
         no bgp default ipv4-unicast\n neighbor {n} {remote_as}\n neighbor {n} timers {} {}\n \
         neighbor {n} timers connect 1\n neighbor {n} advertisement-interval 0\n",
        spec.asn,
        spec.router_id,
        (spec.hold_time / 3).max(1),
        spec.hold_time
    );
    if let Some(pw) = &spec.password {
        c += &format!(" neighbor {n} password {pw}\n");
    }
    if spec.gtsm {
        c += &format!(" neighbor {n} ttl-security hops 1\n");
    }
    if spec.passive {
        c += &format!(" neighbor {n} passive\n");
    }
    for (afi, v6) in [("ipv4", false), ("ipv6", true)] {
        c += &format!(" address-family {afi} unicast\n  neighbor {n} activate\n");
        if spec.internal() {
            // FRR sends communities to iBGP peers by default; next-hop-self keeps the
            // IPv6 next hop the link's address.
            c += &format!("  neighbor {n} next-hop-self\n");
        }
        for (i, r) in spec.routes.iter().enumerate() {
            if r.is_v6() == v6 {
                c += &format!("  network {} route-map R{i}\n", r.prefix);
            }
        }
        c += " exit-address-family\n";
    }
    c + "!\n"
}

/// One FRR instance's zebra and bgpd, with its files in `<lab dir>/<name>`, path space
/// `<lab id>-<name>` and logs `<name>-zebra.log` and `<name>-bgpd.log`.
pub(crate) struct Launched {
    /// The instance's directory (configurations, sockets, pid files).
    pub(crate) dir: PathBuf,
    /// bgpd.
    pub(crate) bgpd: Proc,
    /// zebra.
    pub(crate) zebra: Proc,
    /// bgpd's command line, to start it again.
    bgpd_args: Vec<String>,
    ns: String,
    name: String,
    bgpd_starts: u32,
    /// bfdd, if started.
    pub(crate) bfdd: Option<Proc>,
    /// bfdd's command line, to start it on demand.
    bfdd_args: Vec<String>,
}

impl Launched {
    /// Starts zebra, then bgpd with the configuration `bgpd_conf`, in namespace `ns`;
    /// returns once bgpd's vty answers.
    pub(crate) fn start(lab: &Lab, ns: &str, name: &str, bgpd_conf: &str) -> Launched {
        let dir = lab.path(name);
        std::fs::create_dir_all(&dir).expect("creating FRR's directory");
        write(&dir.join("zebra.conf"), "");
        write(&dir.join("bgpd.conf"), bgpd_conf);
        run(Command::new("chown").args(["-R", "frr:frr"]).arg(&dir))
            .unwrap_or_else(|e| panic!("{e}"));
        let pathspace = format!("{}-{name}", lab.id);
        let s = |p: &str| dir.join(p).display().to_string();
        let common = |conf: &str, pid: &str| -> Vec<String> {
            vec![
                "-N".into(),
                pathspace.clone(),
                "-f".into(),
                s(conf),
                "-i".into(),
                s(pid),
                "-z".into(),
                s("zserv.api"),
                "--vty_socket".into(),
                dir.display().to_string(),
                "-u".into(),
                "frr".into(),
                "-g".into(),
                "frr".into(),
                "--log".into(),
                "stdout".into(),
            ]
        };
        let mut zargs = common("zebra.conf", "zebra.pid");
        zargs.extend(["--log-level".into(), "notifications".into()]);
        let zlog = format!("{name}-zebra");
        let mut zebra = Proc::spawn(lab, ns, &zlog, ZEBRA.as_ref(), &zargs, &[]);
        wait_for("zebra's API socket", timeouts::START, || {
            zebra.assert_running();
            dir.join("zserv.api")
                .exists()
                .then_some(())
                .ok_or_else(|| "not yet".into())
        });
        let mut bfdd_args = common("bfdd.conf", "bfdd.pid");
        bfdd_args.extend(["--log-level".into(), "debugging".into()]);
        let mut bgpd_args = common("bgpd.conf", "bgpd.pid");
        bgpd_args.extend(["--log-level".into(), "debugging".into()]);
        let blog = format!("{name}-bgpd");
        let bgpd = Proc::spawn(lab, ns, &blog, BGPD.as_ref(), &bgpd_args, &[]);
        let mut l = Launched {
            dir,
            bgpd,
            zebra,
            bgpd_args,
            ns: ns.into(),
            name: name.into(),
            bgpd_starts: 1,
            bfdd: None,
            bfdd_args,
        };
        l.wait_vty();
        l
    }

    fn wait_vty(&mut self) {
        wait_for("bgpd's vty", timeouts::START, || {
            self.bgpd.assert_running();
            vtysh(&self.dir, &["show bgp summary json"]).map(|_| ())
        });
    }

    /// Starts bfdd (`<name>-bfdd.log`) with `bfdd_conf`, attached to this instance's zebra
    /// (through which bgpd registers its BFD peers); returns once its vty answers.
    pub(crate) fn start_bfdd(&mut self, lab: &Lab, bfdd_conf: &str) {
        write(&self.dir.join("bfdd.conf"), bfdd_conf);
        run(Command::new("chown").args(["-R", "frr:frr"]).arg(&self.dir))
            .unwrap_or_else(|e| panic!("{e}"));
        let log = format!("{}-bfdd", self.name);
        let mut bfdd = Proc::spawn(lab, &self.ns, &log, BFDD.as_ref(), &self.bfdd_args, &[]);
        wait_for("bfdd's vty", timeouts::START, || {
            bfdd.assert_running();
            vtysh(&self.dir, &["show bfd peers json"]).map(|_| ())
        });
        self.bfdd = Some(bfdd);
    }

    /// Kills bgpd with SIGKILL (a crash; zebra keeps running).
    pub(crate) fn kill_bgpd(&mut self) {
        self.bgpd.kill();
    }

    /// Starts bgpd again (after [`Launched::kill_bgpd`]) with the same configuration
    /// file; its log is `<name>-bgpd-<n>.log`. Returns once its vty answers.
    pub(crate) fn restart_bgpd(&mut self, lab: &Lab) {
        self.bgpd.kill();
        self.bgpd_starts += 1;
        let blog = format!("{}-bgpd-{}", self.name, self.bgpd_starts);
        self.bgpd = Proc::spawn(lab, &self.ns, &blog, BGPD.as_ref(), &self.bgpd_args, &[]);
        self.wait_vty();
    }

    /// Runs vtysh commands (each one `-c`) and returns the output.
    pub(crate) fn vtysh(&self, commands: &[&str]) -> Result<String, String> {
        vtysh(&self.dir, commands)
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        // bgpd and bfdd stop before zebra.
        self.bgpd.stop();
        if let Some(b) = &mut self.bfdd {
            b.stop();
        }
        self.zebra.stop();
    }
}

impl Frr {
    /// Starts zebra and bgpd in `ns`, with the configuration of `spec`.
    pub(crate) fn start(lab: &Lab, ns: &str, spec: &DaemonSpec) -> Frr {
        let l = Launched::start(lab, ns, "frr", &config(spec));
        Frr {
            dir: l.dir.clone(),
            unnumbered: spec.unnumbered.as_ref().map(|u| u.ifname.clone()),
            log: lab.path("frr-bgpd.log"),
            asn: spec.asn,
            _frr: l,
        }
    }

    /// Runs vtysh commands (each one `-c`) and returns the output.
    pub(crate) fn vtysh(&self, commands: &[&str]) -> Result<String, String> {
        vtysh(&self.dir, commands)
    }

    fn json(&self, command: &str) -> Result<Value, String> {
        let out = self.vtysh(&[command])?;
        serde_json::from_str(&out).map_err(|e| format!("vtysh {command:?}: bad JSON ({e}): {out}"))
    }

    /// How FRR names the neighbor: its address, or its interface when unnumbered.
    fn nbr(&self, peer: IpAddr) -> String {
        self.unnumbered.clone().unwrap_or_else(|| peer.to_string())
    }

    fn neighbor(&self, peer: IpAddr) -> Result<Value, String> {
        let n = self.nbr(peer);
        let v = self.json(&format!("show bgp neighbors {n} json"))?;
        Ok(v[&n].clone())
    }

    /// Configuration commands under `router bgp`.
    fn configure(&self, lines: &[&str]) {
        let router = format!("router bgp {}", self.asn);
        let mut cmds = vec!["configure terminal", router.as_str()];
        cmds.extend_from_slice(lines);
        self.vtysh(&cmds).unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Daemon for Frr {
    fn name(&self) -> &'static str {
        "FRR"
    }

    fn established(&mut self, peer: IpAddr) -> Result<(), String> {
        let n = self.neighbor(peer)?;
        if n["bgpState"] == "Established" {
            Ok(())
        } else {
            Err(format!("FRR: bgpState {}", n["bgpState"]))
        }
    }

    fn route(&mut self, prefix: &str) -> Result<Option<Route>, String> {
        let afi = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        let v = self.json(&format!("show bgp {afi} unicast {prefix} json"))?;
        let Some(paths) = v["paths"].as_array() else {
            return Ok(None);
        };
        let best = paths
            .iter()
            .find(|p| p["bestpath"]["overall"] == true)
            .or_else(|| paths.first());
        Ok(best.map(|p| {
            let list = |k: &str| -> Vec<String> {
                p[k]["list"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect()
            };
            Route {
                prefix: prefix.into(),
                communities: list("community"),
                large: list("largeCommunity"),
                as_path: p["aspath"]["string"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                next_hop: p["nexthops"][0]["ip"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            }
        }))
    }

    fn withdraw(&mut self, route: &RouteSpec) {
        let afi = if route.is_v6() {
            "address-family ipv6 unicast"
        } else {
            "address-family ipv4 unicast"
        };
        let no = format!("no network {}", route.prefix);
        self.configure(&[afi, &no]);
    }

    fn refresh_requests_received(&mut self, peer: IpAddr) -> Option<u64> {
        // With enhanced route refresh FRR also counts BoRR and EoRR here.
        self.neighbor(peer).ok()?["messageStats"]["routeRefreshRecv"].as_u64()
    }

    fn refresh_ignored(&mut self, peer: IpAddr) -> Option<String> {
        // FRR 8.4 drops a ROUTE-REFRESH from a peer with the enhanced route refresh
        // capability until it has sent that peer an End-of-RIB, and it sends End-of-RIB
        // only to peers that announced the graceful restart capability
        // (bgp_route_refresh_receive: "rcvd route-refresh (REQUEST) ... before EoR").
        // bgplane builds that announce enhanced route refresh without graceful restart
        // never get an answer from FRR 8.4.
        let log = std::fs::read_to_string(&self.log).ok()?;
        let needle = format!("{peer}(");
        log.lines()
            .find(|l| {
                l.contains("route-refresh (REQUEST)")
                    && l.contains("before EoR")
                    && l.contains(&needle)
            })
            .map(|l| format!("FRR 8.4 logged: {}", l.trim()))
    }

    fn soft_in(&mut self, peer: IpAddr) -> bool {
        for afi in ["ipv4", "ipv6"] {
            let n = self.nbr(peer);
            self.vtysh(&[&format!("clear bgp {afi} unicast {n} soft in")])
                .unwrap_or_else(|e| panic!("{e}"));
        }
        true
    }

    fn hard_reset(&mut self, peer: IpAddr) {
        self.vtysh(&[&format!("clear bgp {}", self.nbr(peer))])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn shutdown(&mut self, peer: IpAddr, message: &str) {
        let n = self.nbr(peer);
        self.configure(&[&format!("neighbor {n} shutdown message {message}")]);
    }

    fn received_shutdown_message(&mut self, peer: IpAddr) -> Result<Option<String>, String> {
        let n = self.neighbor(peer)?;
        Ok(n["lastShutdownDescription"].as_str().map(str::to_string))
    }
}
