//! `bgplane cni`: a CNI plugin (specification 1.1.0, also 1.0.0 and 0.3.x/0.4.0) for
//! natively routed pods.
//!
//! Each pod gets a veth pair: the pod end, named `CNI_IFNAME`, holds the pod's /32 (and
//! /128) and a default route via an on-link gateway (`169.254.1.1` / `fe80::1` by
//! default) that resolves, through a permanent neighbour entry, to the host end; the host
//! end has no address and the host routes each pod address to it. No bridge, no overlay:
//! the node routes pod traffic like any other, and `bgplane agent` announces the node's
//! pod CIDR to the fabric.
//!
//! Addresses come from the node's pod CIDR, kept in crash-safe files (see [`ipam`]).
//!
//! The entry point is [`execute`]: environment and stdin in, stdout text and exit code
//! out, as container runtimes run a plugin.

mod config;
mod datapath;
mod error;
pub mod ipam;
mod netlink;
mod netns;
mod plugin;
mod types;

use std::io::Read;

pub use config::{
    CidrSource, Command, Env, NetConf, DEFAULT_DATA_DIR, DEFAULT_GATEWAY4, DEFAULT_GATEWAY6,
    DEFAULT_HOST_PREFIX, DEFAULT_MTU,
};
pub use error::{code, CniError, ErrorResult};
pub use types::{
    CniResult, Dns, Interface, IpConfig, Route, ValidAttachment, VersionResult, LATEST_VERSION,
    SCOPE_LINK, SUPPORTED_VERSIONS,
};

/// What the plugin prints on stdout and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// JSON for stdout (empty when the operation prints nothing).
    pub stdout: String,
    /// 0 on success, 1 on error (the error result is in `stdout`).
    pub exit_code: i32,
}

/// Runs one invocation: reads the `CNI_*` variables through `var` and the network
/// configuration from `stdin`, performs the operation, and returns what to print and how
/// to exit. Errors become the specification's error result.
pub fn execute(var: &dyn Fn(&str) -> Option<String>, stdin: &mut dyn Read) -> Reply {
    let mut version = LATEST_VERSION.to_string();
    match run(var, stdin, &mut version) {
        Ok(stdout) => Reply {
            stdout,
            exit_code: 0,
        },
        Err(e) => {
            tracing::error!(code = e.code(), "{e}");
            let json = serde_json::to_string(&e.to_result(&version))
                .unwrap_or_else(|_| String::from("{}"));
            Reply {
                stdout: json,
                exit_code: 1,
            }
        }
    }
}

fn run(
    var: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
    version: &mut String,
) -> Result<String, CniError> {
    let env = Env::from_vars(var)?;
    let mut input = Vec::new();
    stdin
        .read_to_end(&mut input)
        .map_err(|e| CniError::io("read the network configuration from stdin", e))?;
    let input_version = config::input_version(&input);
    if let Some(v) = &input_version {
        if types::version_tuple(v).is_some() {
            version.clone_from(v);
        }
    }
    if env.command == Command::Version {
        return to_json(&plugin::version(input_version));
    }
    let conf = NetConf::parse(&input)?;
    let span = tracing::info_span!(
        "cni",
        command = ?env.command,
        network = %conf.name,
        container = %env.container_id,
        ifname = %env.ifname,
    );
    let _enter = span.enter();
    match env.command {
        Command::Add => to_json(&plugin::add(&env, &conf)?),
        Command::Del => plugin::del(&env, &conf).map(|()| String::new()),
        Command::Check => plugin::check(&env, &conf).map(|()| String::new()),
        Command::Status => plugin::status(&conf).map(|()| String::new()),
        Command::Gc => plugin::gc(&conf).map(|()| String::new()),
        Command::Version => unreachable!("answered above"),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, CniError> {
    serde_json::to_string(v).map_err(|e| CniError::Decode {
        what: "the result".into(),
        why: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn exec(vars: &[(&str, &str)], stdin: &str) -> Reply {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        execute(&move |k| map.get(k).cloned(), &mut stdin.as_bytes())
    }

    #[test]
    fn version_answers_with_the_input_version_and_every_supported_one() {
        let r = exec(&[("CNI_COMMAND", "VERSION")], r#"{"cniVersion":"1.0.0"}"#);
        assert_eq!(r.exit_code, 0);
        let v: VersionResult = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v.cni_version, "1.0.0");
        assert!(v.supported_versions.contains(&"1.1.0".to_string()));
        let r = exec(&[("CNI_COMMAND", "VERSION")], "");
        let v: VersionResult = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v.cni_version, LATEST_VERSION);
    }

    #[test]
    fn errors_are_printed_as_the_specification_error_result() {
        let r = exec(&[], "");
        assert_eq!(r.exit_code, 1);
        let e: ErrorResult = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(e.code, 4);
        assert_eq!(e.cni_version, LATEST_VERSION);
        assert!(e.details.contains("CNI_COMMAND"), "{}", e.details);

        let r = exec(
            &[("CNI_COMMAND", "STATUS")],
            r#"{"cniVersion":"1.0.0","name":"pods","type":"bgplane","mtu":-1}"#,
        );
        let e: ErrorResult = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!((e.code, e.cni_version.as_str()), (6, "1.0.0"));
        assert!(e.details.contains("mtu"), "{}", e.details);
        assert!(!e.msg.is_empty());
    }

    #[test]
    fn status_reports_a_missing_pod_cidr_and_an_exhausted_pool_as_not_available() {
        let d = tempfile::tempdir().unwrap();
        let conf = |cidr: &str| {
            format!(
                r#"{{"cniVersion":"1.1.0","name":"pods","type":"bgplane","dataDir":"{}",{cidr}}}"#,
                d.path().display()
            )
        };
        let missing = conf(&format!(r#""podCIDRFile":"{}/nope""#, d.path().display()));
        let r = exec(&[("CNI_COMMAND", "STATUS")], &missing);
        let e: ErrorResult = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(e.code, 50, "{}", e.details);

        let ok = conf(r#""podCIDR":"10.9.0.0/30""#);
        let r = exec(&[("CNI_COMMAND", "STATUS")], &ok);
        assert_eq!((r.exit_code, r.stdout.as_str()), (0, ""));

        let store = ipam::Store::open(d.path(), "pods", std::time::Duration::from_secs(1)).unwrap();
        let pool = ipam::Pool::new("10.9.0.0/30".parse().unwrap(), DEFAULT_GATEWAY4.into());
        for i in 0..2 {
            let rec = ipam::Record {
                container_id: format!("c{i}"),
                ifname: "eth0".into(),
                host_interface: None,
                pod: None,
            };
            store.allocate(&pool, &rec).unwrap();
        }
        drop(store);
        let r = exec(&[("CNI_COMMAND", "STATUS")], &ok);
        let e: ErrorResult = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(e.code, 50);
        assert!(e.details.contains("10.9.0.0/30"), "{}", e.details);
    }

    #[test]
    fn gc_releases_only_attachments_that_are_no_longer_valid() {
        let d = tempfile::tempdir().unwrap();
        let store = ipam::Store::open(d.path(), "pods", std::time::Duration::from_secs(1)).unwrap();
        let pool = ipam::Pool::new("10.9.0.0/24".parse().unwrap(), DEFAULT_GATEWAY4.into());
        for id in ["keep", "stale"] {
            let rec = ipam::Record {
                container_id: id.into(),
                ifname: "eth0".into(),
                host_interface: None,
                pod: None,
            };
            store.allocate(&pool, &rec).unwrap();
        }
        std::fs::write(store.dir().join("10.9.0.77"), "damaged").unwrap();
        drop(store);
        let conf = format!(
            r#"{{"cniVersion":"1.1.0","name":"pods","type":"bgplane","dataDir":"{}",
                "cni.dev/valid-attachments":[{{"containerID":"keep","ifname":"eth0"}}]}}"#,
            d.path().display()
        );
        let r = exec(
            &[("CNI_COMMAND", "GC"), ("CNI_PATH", "/opt/cni/bin")],
            &conf,
        );
        assert_eq!((r.exit_code, r.stdout.as_str()), (0, ""), "{}", r.stdout);
        let store = ipam::Store::open(d.path(), "pods", std::time::Duration::from_secs(1)).unwrap();
        let left = store.allocations().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].record.as_ref().unwrap().container_id, "keep");

        let no_list = format!(
            r#"{{"cniVersion":"1.1.0","name":"pods","type":"bgplane","dataDir":"{}"}}"#,
            d.path().display()
        );
        let r = exec(&[("CNI_COMMAND", "GC")], &no_list);
        let e: ErrorResult = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(e.code, 7);
    }

    #[test]
    fn results_follow_the_version_in_use() {
        let r = CniResult {
            cni_version: String::new(),
            interfaces: vec![Interface {
                name: "eth0".into(),
                mac: None,
                mtu: Some(1500),
                sandbox: Some("/run/netns/x".into()),
            }],
            ips: vec![IpConfig {
                version: None,
                address: "10.1.0.2/32".parse().unwrap(),
                gateway: Some("169.254.1.1".parse().unwrap()),
                interface: Some(0),
            }],
            routes: vec![
                Route {
                    dst: "169.254.1.1/32".parse().unwrap(),
                    gw: None,
                    mtu: None,
                    advmss: None,
                    priority: None,
                    table: None,
                    scope: Some(types::SCOPE_LINK),
                },
                Route {
                    dst: "0.0.0.0/0".parse().unwrap(),
                    gw: Some("169.254.1.1".parse().unwrap()),
                    mtu: None,
                    advmss: None,
                    priority: None,
                    table: None,
                    scope: None,
                },
            ],
            dns: Dns::default(),
        };
        let v11 = serde_json::to_value(r.clone().for_version("1.1.0")).unwrap();
        assert_eq!(v11["interfaces"][0]["mtu"], 1500);
        assert_eq!(v11["routes"][0]["scope"], 253);
        assert!(v11["ips"][0].get("version").is_none());
        assert!(v11.get("dns").is_none());
        let v10 = serde_json::to_value(r.clone().for_version("1.0.0")).unwrap();
        assert!(v10["interfaces"][0].get("mtu").is_none());
        assert_eq!(v10["routes"].as_array().unwrap().len(), 1);
        let v04 = serde_json::to_value(r.for_version("0.4.0")).unwrap();
        assert_eq!(v04["ips"][0]["version"], "4");
        assert_eq!(v04["cniVersion"], "0.4.0");
    }
}
