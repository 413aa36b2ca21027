//! FRR as one router of a fabric: zebra (which installs its routes in the namespace's
//! kernel and sends router advertisements) and bgpd with a configuration the test writes
//! in full, several instances per lab, each by name. Read through vtysh's JSON.

use serde_json::Value;

use super::frr::Launched;
use super::{timeouts, wait_for, Lab};

/// The lines every configuration starts with: logging, and the 8.4 defaults the tests do
/// not want (policy required on eBGP, `network` only for routes in the RIB, IPv4 unicast
/// activated on every neighbor). Follow with `router bgp ASN` and the rest.
pub(crate) const PREAMBLE: &str = "frr defaults traditional\nlog stdout debugging\n\
     debug bgp neighbor-events\ndebug bgp graceful-restart\n!\n";

/// `router bgp ASN` with the router id and the settings every test wants; add neighbors
/// and address families after it.
pub(crate) fn router_bgp(asn: u32, router_id: &str) -> String {
    format!(
        "{PREAMBLE}router bgp {asn}\n bgp router-id {router_id}\n no bgp ebgp-requires-policy\n \
         no bgp network import-check\n no bgp default ipv4-unicast\n"
    )
}

/// The usual lines of one neighbor: fast timers and no advertisement delay.
pub(crate) fn neighbor(n: &str, remote_as: &str) -> String {
    format!(
        " neighbor {n} remote-as {remote_as}\n neighbor {n} timers 3 9\n \
         neighbor {n} timers connect 1\n neighbor {n} advertisement-interval 0\n"
    )
}

/// A running FRR router; zebra and bgpd stop on drop.
pub(crate) struct FrrRouter {
    /// Its name in the lab (directory, logs).
    pub(crate) name: String,
    asn: u32,
    frr: Launched,
}

impl FrrRouter {
    /// Starts zebra and bgpd named `name` in namespace `ns` with `bgpd_conf`.
    pub(crate) fn start(lab: &Lab, ns: &str, name: &str, asn: u32, bgpd_conf: &str) -> Self {
        FrrRouter {
            name: name.into(),
            asn,
            frr: Launched::start(lab, ns, name, bgpd_conf),
        }
    }

    /// Runs vtysh commands.
    pub(crate) fn vtysh(&self, commands: &[&str]) -> Result<String, String> {
        self.frr.vtysh(commands)
    }

    /// Runs one `... json` command and parses its output.
    pub(crate) fn json(&self, command: &str) -> Result<Value, String> {
        let out = self.vtysh(&[command])?;
        serde_json::from_str(&out)
            .map_err(|e| format!("{}: vtysh {command:?}: bad JSON ({e}): {out}", self.name))
    }

    /// Configuration commands under `router bgp ASN`.
    pub(crate) fn configure(&self, lines: &[&str]) {
        let router = format!("router bgp {}", self.asn);
        let mut cmds = vec!["configure terminal", router.as_str()];
        cmds.extend_from_slice(lines);
        self.vtysh(&cmds).unwrap_or_else(|e| panic!("{e}"));
    }

    /// `show bgp neighbors N json` for the neighbor named `n` (address or interface).
    pub(crate) fn neighbor(&self, n: &str) -> Result<Value, String> {
        let v = self.json(&format!("show bgp neighbors {n} json"))?;
        Ok(v[n].clone())
    }

    /// Whether the session with `n` is Established.
    pub(crate) fn established(&self, n: &str) -> Result<(), String> {
        let v = self.neighbor(n)?;
        if v["bgpState"] == "Established" {
            Ok(())
        } else {
            Err(format!(
                "{}: session with {n}: bgpState {}, last reset {}",
                self.name, v["bgpState"], v["lastResetDueTo"]
            ))
        }
    }

    /// Waits until the session with `n` is Established.
    pub(crate) fn wait_established(&self, n: &str) {
        wait_for(
            &format!("{}'s session with {n} to be Established", self.name),
            timeouts::SESSION,
            || self.established(n),
        );
    }

    /// Every path FRR holds for `prefix` (`show bgp ipv4|ipv6 unicast PREFIX json`).
    pub(crate) fn paths(&self, prefix: &str) -> Result<Vec<Value>, String> {
        let afi = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        let v = self.json(&format!("show bgp {afi} unicast {prefix} json"))?;
        Ok(v["paths"].as_array().cloned().unwrap_or_default())
    }

    /// The only path FRR holds for `prefix`; `Err` when it has none or several.
    pub(crate) fn path(&self, prefix: &str) -> Result<Value, String> {
        let paths = self.paths(prefix)?;
        match paths.as_slice() {
            [p] => Ok(p.clone()),
            [] => Err(format!("{} has no path for {prefix}", self.name)),
            _ => Err(format!(
                "{} has {} paths for {prefix}: {paths:?}",
                self.name,
                paths.len()
            )),
        }
    }

    /// Checks that FRR holds no path for `prefix`.
    pub(crate) fn lacks(&self, prefix: &str) -> Result<(), String> {
        let paths = self.paths(prefix)?;
        if paths.is_empty() {
            Ok(())
        } else {
            Err(format!("{} has {prefix}: {paths:?}", self.name))
        }
    }

    /// The prefixes FRR has advertised to neighbor `n` (IPv4 unicast).
    pub(crate) fn advertised_to(&self, n: &str) -> Result<Vec<String>, String> {
        let v = self.json(&format!(
            "show bgp ipv4 unicast neighbors {n} advertised-routes json"
        ))?;
        Ok(v["advertisedRoutes"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default())
    }

    /// Starts bfdd with `bfdd_conf` (see [`Launched::start_bfdd`]).
    pub(crate) fn start_bfdd(&mut self, lab: &Lab, bfdd_conf: &str) {
        self.frr.start_bfdd(lab, bfdd_conf);
    }

    /// Sends a signal to bfdd (`STOP` freezes it: its peers stop hearing it, as when the
    /// path fails; `CONT` thaws it).
    pub(crate) fn signal_bfdd(&mut self, sig: &str) {
        if let Some(b) = &mut self.frr.bfdd {
            b.signal(sig);
        }
    }

    /// Kills bgpd with SIGKILL, as a crash (zebra keeps running).
    pub(crate) fn kill_bgpd(&mut self) {
        self.frr.kill_bgpd();
    }

    /// Starts bgpd again with its configuration file.
    pub(crate) fn restart_bgpd(&mut self, lab: &Lab) {
        self.frr.restart_bgpd(lab);
    }
}

/// The ORIGINATOR_ID of an FRR path, if any.
pub(crate) fn originator_id(path: &Value) -> Option<String> {
    path["originatorId"].as_str().map(str::to_string)
}

/// The CLUSTER_LIST of an FRR path (empty without one).
pub(crate) fn cluster_list(path: &Value) -> Vec<String> {
    path["clusterList"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect()
}

/// The first next hop of an FRR path.
pub(crate) fn next_hop(path: &Value) -> String {
    path["nexthops"][0]["ip"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Whether FRR marks the path stale (graceful restart).
pub(crate) fn is_stale(path: &Value) -> bool {
    path["stale"] == true
}
