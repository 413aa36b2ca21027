//! The route reflector's configuration for each daemon: every client a passive iBGP
//! route-reflector-client neighbor, in one peer group (template), IPv4 unicast only, no
//! kernel routes. Written to the run's temporary directory.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use super::swarm::client_addr;
use super::{ASN, CLIENTS_GW, RR_ADDR};
use crate::dut::{Dut, Launch};

/// Writes the configuration of `dut` for `n` clients into `dir`; returns how to start it.
pub fn prepare(dut: Dut, n: u32, dir: &Path, bgplane: &Path) -> Result<Launch, String> {
    let bin = dut.check_installed(bgplane).map_err(|e| e.to_string())?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok::<_, String>(path.display().to_string())
    };
    let s = |p: &Path| p.display().to_string();
    let args: Vec<String> = match dut {
        Dut::Bgplane => {
            let conf = write("router.yaml", bgplane_conf(n))?;
            vec![
                "router".into(),
                "--config".into(),
                conf,
                "--no-fib".into(),
                "--socket".into(),
                s(&dir.join("bgplane.sock")),
            ]
        }
        Dut::Bird => {
            let conf = write("bird.conf", bird_conf(n))?;
            crate::dut::bird_args(dir, Path::new(&conf))
        }
        Dut::Frr => {
            let conf = write("bgpd.conf", frr_conf(n))?;
            let mut args = crate::dut::frr_args(dir, Path::new(&conf));
            // bgpd's descriptor limit is set from ulimit unless given; make room.
            args.push("--limit-fds".into());
            args.push((u64::from(n) * 2 + 1024).to_string());
            args
        }
        other => {
            return Err(format!(
                "{other} is not supported as a route reflector here"
            ))
        }
    };
    Ok(Launch { program: bin, args })
}

/// bgplane: a peer group of passive route-reflector clients.
pub fn bgplane_conf(n: u32) -> String {
    let mut c = format!(
        "router:\n  asn: {ASN}\n  router-id: {RR_ADDR}\n  listen: [{RR_ADDR}]\n  \
         listen-limit: {n}\n\
         peer-groups:\n  CLIENTS: {{ remote-as: internal, passive: true, \
         route-reflector-client: true, families: [ipv4-unicast] }}\nneighbors:\n"
    );
    for i in 0..n {
        let _ = writeln!(
            c,
            "  - {{ address: {}, peer-group: CLIENTS }}",
            client_addr(i)
        );
    }
    c
}

/// BIRD 2: a template of passive `rr client` iBGP protocols; a static route resolves the
/// clients' next hops (iBGP next hops are resolved recursively through the IGP table).
pub fn bird_conf(n: u32) -> String {
    let mut c = format!(
        "router id {RR_ADDR};\nlog stderr {{ warning, error, auth, fatal, bug }};\n\
         protocol device {{ }}\n\
         protocol static {{ ipv4; route 10.100.0.0/16 via {CLIENTS_GW}; }}\n\
         template bgp clients {{\n  local {RR_ADDR} as {ASN};\n  rr client;\n  passive on;\n  \
         ipv4 {{ import all; export all; }};\n}}\n"
    );
    for i in 0..n {
        let _ = writeln!(
            c,
            "protocol bgp c{i} from clients {{ neighbor {} as {ASN}; }}",
            client_addr(i)
        );
    }
    c
}

/// FRR bgpd (run with `-Z -n`: no zebra, no kernel): a peer group of passive
/// route-reflector clients.
pub fn frr_conf(n: u32) -> String {
    let mut c = format!(
        "frr defaults traditional\nhostname bgb-rr\n!\nrouter bgp {ASN}\n \
         bgp router-id {RR_ADDR}\n no bgp ebgp-requires-policy\n no bgp network import-check\n \
         bgp listen limit {}\n neighbor CLIENTS peer-group\n neighbor CLIENTS remote-as {ASN}\n \
         neighbor CLIENTS passive\n",
        n.clamp(1, 65535)
    );
    for i in 0..n {
        let _ = writeln!(c, " neighbor {} peer-group CLIENTS", client_addr(i));
    }
    c + " !\n address-family ipv4 unicast\n  neighbor CLIENTS route-reflector-client\n \
         exit-address-family\n!\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_config_names_every_client_once() {
        for conf in [bgplane_conf(300), bird_conf(300), frr_conf(300)] {
            for i in [0u32, 1, 254, 255, 299] {
                let a = client_addr(i).to_string();
                let hits = conf
                    .lines()
                    .filter(|l| {
                        l.split(|c: char| !(c.is_ascii_digit() || c == '.'))
                            .any(|w| w == a)
                    })
                    .count();
                assert_eq!(hits, 1, "{a} in\n{conf}");
            }
            assert!(!conf.contains(&client_addr(300).to_string()));
        }
    }

    #[test]
    fn the_bgplane_config_parses_as_yaml_with_every_neighbor() {
        let v: serde_json::Value = serde_norway::from_str(&bgplane_conf(3)).unwrap();
        assert_eq!(v["neighbors"].as_array().unwrap().len(), 3);
        assert_eq!(v["peer-groups"]["CLIENTS"]["route-reflector-client"], true);
    }
}
