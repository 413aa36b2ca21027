//! The six operations of the protocol.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use crate::config::{Env, NetConf};
use crate::datapath::{self, Expected, Plan};
use crate::error::CniError;
use crate::ipam::{Pool, Record, Store};
use crate::netlink::mac_string;
use crate::types::{self, CniResult, Interface, IpConfig, Route, ValidAttachment, VersionResult};

/// How long an invocation waits for another one holding the IPAM lock.
const LOCK_WAIT: Duration = Duration::from_secs(60);

/// `VERSION`: the versions this plugin speaks.
pub(crate) fn version(input_version: Option<String>) -> VersionResult {
    VersionResult {
        cni_version: input_version.unwrap_or_else(|| types::LATEST_VERSION.to_string()),
        supported_versions: types::SUPPORTED_VERSIONS
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

fn pools(conf: &NetConf) -> Result<Vec<Pool>, CniError> {
    Ok(conf
        .pod_cidrs()?
        .into_iter()
        .map(|net| Pool::new(net, conf.gateway_for(net.addr())))
        .collect())
}

fn full_prefix(ip: IpAddr) -> IpNet {
    IpNet::new(ip, if ip.is_ipv4() { 32 } else { 128 }).expect("full-length prefix")
}

/// `ADD`: allocates the pod's addresses and builds its datapath.
pub(crate) fn add(env: &Env, conf: &NetConf) -> Result<CniResult, CniError> {
    let netns = env.netns.as_deref().expect("ADD has CNI_NETNS");
    let pools = pools(conf)?;
    let store = Store::open(&conf.data_dir, &conf.name, LOCK_WAIT)?;
    let host_if = datapath::host_interface_name(&conf.host_prefix, &env.container_id, &env.ifname);
    let record = Record {
        container_id: env.container_id.clone(),
        ifname: env.ifname.clone(),
        host_interface: Some(host_if.clone()),
        pod: env.pod(),
    };
    let mut ips = Vec::new();
    for pool in &pools {
        match store.allocate(pool, &record) {
            Ok(ip) => ips.push(ip),
            Err(e) => {
                release_all(&store, &ips);
                return Err(e);
            }
        }
    }
    let gateways: Vec<IpAddr> = ips.iter().map(|ip| conf.gateway_for(*ip)).collect();
    let plan = Plan {
        netns,
        ifname: &env.ifname,
        host_if: &host_if,
        host_mac: datapath::host_mac(&env.container_id, &env.ifname),
        mtu: conf.mtu,
        ips: &ips,
        gateways: &gateways,
        ip_forward: conf.ip_forward,
    };
    let built = match datapath::build(&plan) {
        Ok(b) => b,
        Err(e) => {
            release_all(&store, &ips);
            return Err(e);
        }
    };
    tracing::info!(
        container = %env.container_id,
        pod = env.pod().as_deref().unwrap_or("-"),
        ips = ?ips,
        host_if = %host_if,
        "attached"
    );
    let mut result = CniResult {
        cni_version: conf.cni_version.clone(),
        interfaces: vec![
            Interface {
                name: host_if,
                mac: Some(mac_string(&built.host.mac)),
                mtu: Some(built.host.mtu),
                sandbox: None,
            },
            Interface {
                name: env.ifname.clone(),
                mac: Some(mac_string(&built.pod.mac)),
                mtu: Some(built.pod.mtu),
                sandbox: Some(netns.display().to_string()),
            },
        ],
        ips: ips
            .iter()
            .zip(&gateways)
            .map(|(ip, gw)| IpConfig {
                version: None,
                address: full_prefix(*ip),
                gateway: Some(*gw),
                interface: Some(1),
            })
            .collect(),
        routes: Vec::new(),
        dns: conf.dns.clone(),
    };
    for gw in &gateways {
        if gw.is_ipv4() {
            result.routes.push(Route {
                dst: full_prefix(*gw),
                gw: None,
                mtu: None,
                advmss: None,
                priority: None,
                table: None,
                scope: Some(types::SCOPE_LINK),
            });
        }
        let default = if gw.is_ipv4() { "0.0.0.0/0" } else { "::/0" };
        result.routes.push(Route {
            dst: default.parse().expect("default route"),
            gw: Some(*gw),
            mtu: None,
            advmss: None,
            priority: None,
            table: None,
            scope: None,
        });
    }
    if let Some(prev) = &conf.prev_result {
        result = merge_after(parse_prev(prev)?, result);
    }
    Ok(result.for_version(&conf.cni_version))
}

fn release_all(store: &Store, ips: &[IpAddr]) {
    for ip in ips {
        if let Err(e) = store.release(*ip) {
            tracing::warn!(%ip, error = %e, "cannot release the address of a failed ADD");
        }
    }
}

/// Appends our result to the result of the plugins before us in a chain.
fn merge_after(mut prev: CniResult, ours: CniResult) -> CniResult {
    let offset = prev.interfaces.len();
    prev.interfaces.extend(ours.interfaces);
    prev.ips.extend(ours.ips.into_iter().map(|mut ip| {
        ip.interface = ip.interface.map(|i| i + offset);
        ip
    }));
    prev.routes.extend(ours.routes);
    if prev.dns.is_empty() {
        prev.dns = ours.dns;
    }
    prev
}

fn parse_prev(prev: &serde_json::Value) -> Result<CniResult, CniError> {
    serde_json::from_value(prev.clone()).map_err(|e| CniError::Decode {
        what: "prevResult".into(),
        why: e.to_string(),
    })
}

/// `DEL`: removes the datapath and releases the addresses; succeeds when they are gone
/// already.
pub(crate) fn del(env: &Env, conf: &NetConf) -> Result<(), CniError> {
    let store = Store::open(&conf.data_dir, &conf.name, LOCK_WAIT)?;
    let all = store.allocations()?;
    let mine: Vec<_> = all
        .iter()
        .filter(|a| {
            a.record
                .as_ref()
                .is_some_and(|r| r.is(&env.container_id, &env.ifname))
        })
        .collect();
    let mut host_ifs: Vec<String> = mine
        .iter()
        .filter_map(|a| a.record.as_ref()?.host_interface.clone())
        .collect();
    let derived = datapath::host_interface_name(&conf.host_prefix, &env.container_id, &env.ifname);
    // The derived name could, in theory, be another attachment's (a hash collision that
    // made our ADD fail): never touch an interface another record claims.
    let claimed_by_other = all.iter().any(|a| {
        a.record.as_ref().is_some_and(|r| {
            !r.is(&env.container_id, &env.ifname)
                && r.host_interface.as_deref() == Some(derived.as_str())
        })
    });
    if !claimed_by_other && !host_ifs.contains(&derived) {
        host_ifs.push(derived);
    }
    for h in &host_ifs {
        if datapath::remove(h)? {
            tracing::info!(host_if = %h, "removed the pod's veth");
        }
    }
    for a in &mine {
        store.release(a.ip)?;
    }
    tracing::info!(
        container = %env.container_id,
        released = ?mine.iter().map(|a| a.ip).collect::<Vec<_>>(),
        "detached"
    );
    Ok(())
}

/// `CHECK`: verifies the attachment against `prevResult` and the IPAM records.
pub(crate) fn check(env: &Env, conf: &NetConf) -> Result<(), CniError> {
    let netns = env.netns.as_deref().expect("CHECK has CNI_NETNS");
    let prev = conf
        .prev_result
        .as_ref()
        .ok_or_else(|| CniError::config("prevResult", "CHECK needs the result of the ADD"))?;
    let prev = parse_prev(prev)?;
    let ours = datapath::host_interface_name(&conf.host_prefix, &env.container_id, &env.ifname);
    let pod_index = prev
        .interfaces
        .iter()
        .position(|i| i.name == env.ifname && i.sandbox.is_some());
    let mut expected = Expected {
        host_if: prev
            .interfaces
            .iter()
            .find(|i| i.name == ours && i.sandbox.is_none())
            .map(|i| i.name.clone()),
        pod_mac: pod_index.and_then(|i| prev.interfaces[i].mac.clone()),
        ..Expected::default()
    };
    for ip in &prev.ips {
        if ip.interface.is_some() && ip.interface != pod_index {
            continue;
        }
        expected.addresses.push(ip.address);
        if let Some(gw) = ip.gateway {
            expected.gateways.push(gw);
        }
    }
    if expected.addresses.is_empty() {
        return Err(CniError::Check {
            what: format!("prevResult has no address on {}", env.ifname),
        });
    }
    for r in &prev.routes {
        expected
            .routes
            .push((r.dst, r.gw, r.scope == Some(types::SCOPE_LINK)));
    }
    let store = Store::open(&conf.data_dir, &conf.name, LOCK_WAIT)?;
    let held: HashSet<IpAddr> = store
        .owned_by(&env.container_id, &env.ifname)?
        .iter()
        .map(|a| a.ip)
        .collect();
    for a in &expected.addresses {
        if !held.contains(&a.addr()) {
            return Err(CniError::Check {
                what: format!(
                    "address {} is not reserved for {}/{} in {}",
                    a.addr(),
                    env.container_id,
                    env.ifname,
                    store.dir().display()
                ),
            });
        }
    }
    datapath::check(netns, &env.ifname, &expected)
}

/// `STATUS`: ready when the pod CIDR is known, the state directory usable, and an address
/// is left in every pool.
pub(crate) fn status(conf: &NetConf) -> Result<(), CniError> {
    let not_available = |why: String| CniError::NotAvailable { why };
    let pools = pools(conf).map_err(|e| not_available(e.to_string()))?;
    let store = Store::open(&conf.data_dir, &conf.name, LOCK_WAIT)
        .map_err(|e| not_available(e.to_string()))?;
    for p in &pools {
        if store.free(p)? == 0 {
            return Err(not_available(format!(
                "no free address left in pod CIDR {}",
                p.net
            )));
        }
    }
    Ok(())
}

/// `GC`: releases the addresses (and removes the host interfaces, if any are left) of
/// attachments that are not in `cni.dev/valid-attachments`. Goes on past errors and
/// reports them all.
pub(crate) fn gc(conf: &NetConf) -> Result<(), CniError> {
    let valid: HashSet<&ValidAttachment> = conf
        .valid_attachments
        .as_ref()
        .ok_or_else(|| {
            CniError::config(
                "cni.dev/valid-attachments",
                "missing: GC needs the list of attachments to keep",
            )
        })?
        .iter()
        .collect();
    let store = Store::open(&conf.data_dir, &conf.name, LOCK_WAIT)?;
    let mut errors = Vec::new();
    let mut released = Vec::new();
    let claimed: HashSet<String> = store
        .allocations()?
        .iter()
        .filter_map(|a| {
            let r = a.record.as_ref()?;
            let key = ValidAttachment {
                container_id: r.container_id.clone(),
                ifname: r.ifname.clone(),
            };
            if valid.contains(&key) {
                r.host_interface.clone()
            } else {
                None
            }
        })
        .collect();
    for a in store.allocations()? {
        let keep = a.record.as_ref().is_some_and(|r| {
            valid.contains(&ValidAttachment {
                container_id: r.container_id.clone(),
                ifname: r.ifname.clone(),
            })
        });
        if keep {
            continue;
        }
        if let Some(h) = a.record.as_ref().and_then(|r| r.host_interface.as_ref()) {
            if !claimed.contains(h) {
                match datapath::remove(h) {
                    Ok(true) => tracing::info!(host_if = %h, "GC removed a stale veth"),
                    Ok(false) => {}
                    Err(e) => errors.push(e),
                }
            }
        }
        match store.release(a.ip) {
            Ok(_) => released.push(a.ip),
            Err(e) => errors.push(e),
        }
    }
    if !released.is_empty() {
        tracing::info!(released = ?released, "GC released addresses of stale attachments");
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(CniError::Many(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_before_ours_in_a_chain_is_kept_and_our_indexes_shift() {
        let prev: CniResult = serde_json::from_str(
            r#"{"cniVersion":"1.1.0","interfaces":[{"name":"other0"}],
                "ips":[{"address":"192.0.2.5/24","interface":0}],
                "dns":{"nameservers":["192.0.2.53"]}}"#,
        )
        .unwrap();
        let ours = CniResult {
            cni_version: "1.1.0".into(),
            interfaces: vec![
                Interface {
                    name: "bgplx".into(),
                    ..Interface::default()
                },
                Interface {
                    name: "eth0".into(),
                    sandbox: Some("/run/netns/p".into()),
                    ..Interface::default()
                },
            ],
            ips: vec![IpConfig {
                version: None,
                address: "10.1.0.1/32".parse().unwrap(),
                gateway: None,
                interface: Some(1),
            }],
            ..CniResult::default()
        };
        let merged = merge_after(prev, ours);
        assert_eq!(merged.interfaces.len(), 3);
        assert_eq!(merged.ips[0].interface, Some(0));
        assert_eq!(merged.ips[1].interface, Some(2));
        assert_eq!(merged.dns.nameservers, vec!["192.0.2.53"]);
    }

    #[test]
    fn a_malformed_prev_result_is_a_decoding_error() {
        let e = parse_prev(&serde_json::json!({"ips": "nope"})).unwrap_err();
        assert_eq!(e.code(), 6);
        assert!(e.to_string().contains("prevResult"), "{e}");
    }
}
