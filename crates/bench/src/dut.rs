//! The devices under test: how to find them, ask their version, configure them (in a
//! temporary directory, never `/etc`) and start them inside their namespace, without any
//! FIB installation.

use std::fmt;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::netns::addr;

/// The DUT's AS.
pub const DUT_AS: u32 = 65000;
/// The injector's AS.
pub const INJ_AS: u32 = 65001;
/// The monitor's AS.
pub const MON_AS: u32 = 65002;

const FRR_BGPD: &str = "/usr/lib/frr/bgpd";
const OPENBGPD: &str = "/usr/sbin/bgpd";

/// A device under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dut {
    /// `bgplane router`.
    Bgplane,
    /// BIRD 2.
    Bird,
    /// FRR's bgpd, without zebra.
    Frr,
    /// OpenBGPD (portable).
    Openbgpd,
    /// GoBGP's gobgpd.
    Gobgp,
}

impl fmt::Display for Dut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dut::Bgplane => "bgplane",
            Dut::Bird => "bird",
            Dut::Frr => "frr",
            Dut::Openbgpd => "openbgpd",
            Dut::Gobgp => "gobgp",
        })
    }
}

/// Errors of the DUT layer.
#[derive(Debug, thiserror::Error)]
pub enum DutError {
    /// The daemon is not installed.
    #[error("{dut}: {path} not found (install the Debian package {package})")]
    Missing {
        /// DUT.
        dut: Dut,
        /// Binary looked for.
        path: String,
        /// Package that provides it.
        package: &'static str,
    },
    /// The version could not be asked.
    #[error("{dut}: asking the version with `{cmd}`: {reason}")]
    Version {
        /// DUT.
        dut: Dut,
        /// Command.
        cmd: String,
        /// Why.
        reason: String,
    },
    /// A configuration file could not be written.
    #[error("{dut}: writing {path}: {source}")]
    Write {
        /// DUT.
        dut: Dut,
        /// File.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration was rejected by the daemon's own checker.
    #[error("{dut}: the generated configuration {path} does not parse: {output}")]
    Config {
        /// DUT.
        dut: Dut,
        /// File.
        path: PathBuf,
        /// What the checker said.
        output: String,
    },
}

/// How to start a DUT: program and arguments, to run under `ip netns exec`.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Program.
    pub program: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
}

impl Dut {
    /// Every DUT, in the order the benchmark runs them.
    pub const ALL: [Dut; 5] = [Dut::Bgplane, Dut::Bird, Dut::Frr, Dut::Openbgpd, Dut::Gobgp];

    /// The binary to run (`bgplane` is the harness's own executable unless overridden).
    pub fn binary(&self, bgplane: &Path) -> PathBuf {
        match self {
            Dut::Bgplane => bgplane.into(),
            Dut::Bird => which("bird").unwrap_or_else(|| "/usr/sbin/bird".into()),
            Dut::Frr => FRR_BGPD.into(),
            Dut::Openbgpd => OPENBGPD.into(),
            Dut::Gobgp => which("gobgpd").unwrap_or_else(|| "/usr/bin/gobgpd".into()),
        }
    }

    fn package(&self) -> &'static str {
        match self {
            Dut::Bgplane => "bgplane (cargo build --release -p bgplane)",
            Dut::Bird => "bird2",
            Dut::Frr => "frr",
            Dut::Openbgpd => "openbgpd",
            Dut::Gobgp => "gobgpd",
        }
    }

    /// Checks the binary exists.
    pub fn check_installed(&self, bgplane: &Path) -> Result<PathBuf, DutError> {
        let b = self.binary(bgplane);
        if b.is_file() {
            Ok(b)
        } else {
            Err(DutError::Missing {
                dut: *self,
                path: b.display().to_string(),
                package: self.package(),
            })
        }
    }

    /// The version the daemon reports.
    pub fn version(&self, bgplane: &Path) -> Result<String, DutError> {
        let bin = self.check_installed(bgplane)?;
        let (flag, marker) = match self {
            Dut::Bgplane => ("--version", "bgplane "),
            Dut::Bird => ("--version", "BIRD version "),
            Dut::Frr => ("-v", "bgpd version "),
            Dut::Openbgpd => ("-V", "OpenBGPD "),
            Dut::Gobgp => ("--version", "gobgpd version "),
        };
        let cmd = format!("{} {flag}", bin.display());
        let out = Command::new(&bin)
            .arg(flag)
            .output()
            .map_err(|e| DutError::Version {
                dut: *self,
                cmd: cmd.clone(),
                reason: e.to_string(),
            })?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        text.lines()
            .find_map(|l| l.trim().strip_prefix(marker))
            .and_then(|v| v.split_whitespace().next())
            .map(str::to_string)
            .ok_or_else(|| DutError::Version {
                dut: *self,
                cmd,
                reason: format!("no line starting with {marker:?} in {:?}", text.trim()),
            })
    }

    /// Writes the configuration into `dir` and returns how to start the daemon.
    pub fn prepare(&self, dir: &Path, bgplane: &Path) -> Result<Launch, DutError> {
        let bin = self.check_installed(bgplane)?;
        let s = |p: &Path| p.display().to_string();
        let write = |name: &str, text: String| -> Result<PathBuf, DutError> {
            let path = dir.join(name);
            fs::write(&path, text).map_err(|source| DutError::Write {
                dut: *self,
                path: path.clone(),
                source,
            })?;
            Ok(path)
        };
        let args = match self {
            Dut::Bgplane => bgplane_args(
                &[addr::DUT_INJ, addr::DUT_MON],
                &[(addr::INJ, INJ_AS), (addr::MON, MON_AS)],
                false,
                dir,
            ),
            Dut::Bird => {
                let conf = write("bird.conf", bird_conf())?;
                self.check(&bin, &["-p", "-c", &s(&conf)], &conf)?;
                bird_args(dir, &conf)
            }
            Dut::Frr => {
                let conf = write("bgpd.conf", frr_conf())?;
                frr_args(dir, &conf)
            }
            Dut::Openbgpd => {
                let sock = dir.join("bgpd.sock");
                let conf = write("bgpd.conf", openbgpd_conf(&sock))?;
                self.check(&bin, &["-n", "-f", &s(&conf)], &conf)?;
                // bgpd chroots into _openbgpd's home, /run/openbgpd, which only systemd's
                // RuntimeDirectory= creates. Instead of creating it on the host, bgpd runs
                // in a private mount namespace with a small tmpfs on /run holding it.
                let script = "mount -t tmpfs -o mode=0755,size=1m bgb-run /run \
                              && mkdir -m 0755 /run/openbgpd && exec \"$@\"";
                return Ok(Launch {
                    program: "unshare".into(),
                    args: vec![
                        "-m".into(),
                        "--propagation".into(),
                        "private".into(),
                        "sh".into(),
                        "-c".into(),
                        script.into(),
                        "sh".into(),
                        s(&bin),
                        "-d".into(),
                        "-f".into(),
                        s(&conf),
                    ],
                });
            }
            Dut::Gobgp => {
                let conf = write("gobgpd.toml", gobgp_conf())?;
                vec![
                    "-f".into(),
                    s(&conf),
                    "-t".into(),
                    "toml".into(),
                    "-l".into(),
                    "warn".into(),
                    "-p".into(),
                    "--api-hosts".into(),
                    "127.0.0.1:50051".into(),
                    "--pprof-disable".into(),
                ]
            }
        };
        Ok(Launch { program: bin, args })
    }

    /// Runs the daemon's configuration checker.
    fn check(&self, bin: &Path, args: &[&str], conf: &Path) -> Result<(), DutError> {
        let out = Command::new(bin)
            .args(args)
            .output()
            .map_err(|e| DutError::Config {
                dut: *self,
                path: conf.into(),
                output: e.to_string(),
            })?;
        if out.status.success() {
            return Ok(());
        }
        Err(DutError::Config {
            dut: *self,
            path: conf.into(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .trim()
            .to_string(),
        })
    }
}

/// `bgplane router` in its quick form (AS 65000, router id 10.99.0.1): `listen` addresses,
/// `(address, AS)` neighbors, the kernel FIB on only with `fib`. The API socket defaults
/// to /run/bgplane/router.sock, a host path shared by every namespace: it is kept in `dir`.
pub fn bgplane_args(
    listen: &[Ipv4Addr],
    neighbors: &[(Ipv4Addr, u32)],
    fib: bool,
    dir: &Path,
) -> Vec<String> {
    let mut a = vec![
        "router".to_string(),
        "--asn".into(),
        DUT_AS.to_string(),
        "--router-id".into(),
        addr::DUT_ID.to_string(),
    ];
    for l in listen {
        a.extend(["--listen".into(), l.to_string()]);
    }
    for (n, asn) in neighbors {
        a.extend(["--neighbor".into(), format!("{n},{asn}")]);
    }
    if !fib {
        a.push("--no-fib".into());
    }
    a.extend([
        "--socket".into(),
        dir.join("bgplane.sock").display().to_string(),
    ]);
    a
}

/// BIRD's arguments: foreground, the configuration, control socket and pid file in `dir`.
pub fn bird_args(dir: &Path, conf: &Path) -> Vec<String> {
    let s = |p: &Path| p.display().to_string();
    vec![
        "-f".into(),
        "-c".into(),
        s(conf),
        "-s".into(),
        s(&dir.join("bird.ctl")),
        "-P".into(),
        s(&dir.join("bird.pid")),
    ]
}

/// FRR bgpd's arguments: the configuration, pid file, zserv and vty sockets in `dir`.
pub fn frr_args(dir: &Path, conf: &Path) -> Vec<String> {
    let s = |p: &Path| p.display().to_string();
    vec![
        "-f".into(),
        s(conf),
        "-i".into(),
        s(&dir.join("bgpd.pid")),
        "-z".into(),
        s(&dir.join("zserv.api")),
        "--vty_socket".into(),
        s(dir),
        // No zebra, no kernel routes; run as root (skip the user switch to frr, which
        // would need the temporary directory to be readable by frr).
        "-Z".into(),
        "-n".into(),
        "-S".into(),
        "--log".into(),
        "stdout".into(),
        // Without zebra, bgpd 8.4 logs "sendmsg_nexthop: zclient_send_message() failed"
        // (an error) once per received path: 1M lines, ~100 MB and seconds of CPU that a
        // real deployment (with zebra) never spends.
        "--log-level".into(),
        "critical".into(),
    ]
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn neighbors() -> [(Ipv4Addr, Ipv4Addr, u32, &'static str); 2] {
    [
        (addr::DUT_INJ, addr::INJ, INJ_AS, "injector"),
        (addr::DUT_MON, addr::MON, MON_AS, "monitor"),
    ]
}

/// BIRD: one eBGP protocol per peer, import and export all; no kernel protocol, so
/// nothing reaches the FIB. `protocol device` lets BIRD see the interfaces (eBGP next
/// hops must be on a connected network).
pub fn bird_conf() -> String {
    let mut c = format!(
        "router id {};\nlog stderr {{ info, remote, warning, error, auth, fatal, bug }};\n\
         protocol device {{ }}\n",
        addr::DUT_ID
    );
    for (local, peer, asn, name) in neighbors() {
        c += &format!(
            "protocol bgp {name} {{\n  local {local} as {DUT_AS};\n  neighbor {peer} as {asn};\n  \
             passive on;\n  ipv4 {{ import all; export all; }};\n}}\n"
        );
    }
    c
}

/// FRR bgpd (run with `-Z -n`: no zebra, no kernel): no RFC 8212 policy requirement, no
/// import check, no advertisement interval.
pub fn frr_conf() -> String {
    let mut c = format!(
        "frr defaults traditional\nhostname bgb-dut\n!\nrouter bgp {DUT_AS}\n bgp router-id {}\n \
         no bgp ebgp-requires-policy\n no bgp network import-check\n",
        addr::DUT_ID
    );
    for (_, peer, asn, name) in neighbors() {
        c += &format!(
            " neighbor {peer} remote-as {asn}\n neighbor {peer} description {name}\n \
             neighbor {peer} passive\n neighbor {peer} advertisement-interval 0\n"
        );
    }
    c += " !\n address-family ipv4 unicast\n";
    for (_, peer, _, _) in neighbors() {
        c += &format!("  neighbor {peer} activate\n");
    }
    c + " exit-address-family\n!\n"
}

/// OpenBGPD: `fib-update no`, passive neighbors, accept everything both ways (OpenBGPD
/// applies RFC 8212's default deny to eBGP otherwise).
pub fn openbgpd_conf(sock: &Path) -> String {
    let mut c = format!(
        "AS {DUT_AS}\nrouter-id {}\nfib-update no\nsocket \"{}\"\nlisten on {}\nlisten on {}\n",
        addr::DUT_ID,
        sock.display(),
        addr::DUT_INJ,
        addr::DUT_MON
    );
    for (_, peer, asn, name) in neighbors() {
        c += &format!(
            "neighbor {peer} {{\n  remote-as {asn}\n  descr \"{name}\"\n  passive\n  \
             announce IPv4 unicast\n}}\n"
        );
    }
    c + "allow from any\nallow to any\n"
}

/// GoBGP: global accept policies both ways, passive neighbors (GoBGP has no FIB).
pub fn gobgp_conf() -> String {
    let mut c = format!(
        "[global.config]\n  as = {DUT_AS}\n  router-id = \"{}\"\n  \
         local-address-list = [\"{}\", \"{}\"]\n\
         [global.apply-policy.config]\n  default-import-policy = \"accept-route\"\n  \
         default-export-policy = \"accept-route\"\n",
        addr::DUT_ID,
        addr::DUT_INJ,
        addr::DUT_MON
    );
    for (_, peer, asn, name) in neighbors() {
        c += &format!(
            "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{peer}\"\n    \
             peer-as = {asn}\n    description = \"{name}\"\n  \
             [neighbors.transport.config]\n    passive-mode = true\n  \
             [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      \
             afi-safi-name = \"ipv4-unicast\"\n"
        );
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bgplane_dut_runs_the_documented_quick_form() {
        let args = bgplane_args(
            &[addr::DUT_INJ, addr::DUT_MON],
            &[(addr::INJ, INJ_AS), (addr::MON, MON_AS)],
            false,
            Path::new("/tmp/x"),
        );
        assert_eq!(
            args.join(" "),
            "router --asn 65000 --router-id 10.99.0.1 --listen 10.99.1.1 --listen 10.99.2.1 \
             --neighbor 10.99.1.2,65001 --neighbor 10.99.2.2,65002 --no-fib \
             --socket /tmp/x/bgplane.sock"
        );
        let fib = bgplane_args(
            &[addr::DUT_INJ],
            &[(addr::INJ, INJ_AS)],
            true,
            Path::new("/d"),
        );
        assert!(!fib.contains(&"--no-fib".to_string()));
    }

    #[test]
    fn configs_name_both_neighbors_and_disable_the_fib() {
        for c in [bird_conf(), frr_conf(), gobgp_conf()] {
            assert!(c.contains("10.99.1.2") && c.contains("10.99.2.2"), "{c}");
        }
        assert!(!bird_conf().contains("protocol kernel"));
        assert!(frr_conf().contains("no bgp ebgp-requires-policy"));
        let o = openbgpd_conf(Path::new("/tmp/x/bgpd.sock"));
        assert!(o.contains("fib-update no") && o.contains("socket \"/tmp/x/bgpd.sock\""));
        assert!(gobgp_conf().contains("default-import-policy = \"accept-route\""));
    }
}
