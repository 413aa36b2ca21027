//! `bgplane bgp peers` and `bgplane bgp routes`: the agent's BGP state in the formats of
//! `cilium bgp peers` and `cilium bgp routes`, over the embedded router's API.

use std::path::PathBuf;

use anyhow::Context as _;
use bgp::runtime::api::Request;
use serde_json::{json, Value};

use super::show::Output;

/// The agent's router API socket.
pub(crate) const AGENT_SOCKET: &str = "/run/bgplane/agent.sock";

/// Arguments of `bgplane bgp`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    what: What,
    /// The agent's router API socket.
    #[arg(long, global = true, default_value = AGENT_SOCKET)]
    socket: PathBuf,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// The node's BGP peers: Local AS, Peer AS, Peer Address, Session, Uptime, Family,
    /// Received, Advertised (as `cilium bgp peers`).
    Peers,
    /// The node's routes (as `cilium bgp routes`).
    Routes {
        /// `available` (the node's table) or `advertised` (sent to each peer).
        #[arg(value_enum, default_value_t = Table::Available)]
        table: Table,
        /// `ipv4` or `ipv6`.
        #[arg(default_value = "ipv4")]
        afi: String,
        /// `unicast`.
        #[arg(default_value = "unicast")]
        safi: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Table {
    Available,
    Advertised,
}

fn call(socket: &std::path::Path, req: &Request) -> anyhow::Result<Value> {
    super::show::call(socket, req)
        .with_context(|| format!("is the agent running? (API socket {})", socket.display()))
}

/// Runs `bgplane bgp`.
pub(crate) fn run(a: Args) -> anyhow::Result<()> {
    let out = match a.what {
        What::Peers => peers(&call(&a.socket, &Request::Neighbors { address: None })?),
        What::Routes { table, afi, safi } => {
            if safi != "unicast" || !matches!(afi.as_str(), "ipv4" | "ipv6") {
                anyhow::bail!("only ipv4 unicast and ipv6 unicast are carried");
            }
            routes(&a.socket, table, &afi)?
        }
    };
    match a.output {
        Output::Json => super::outln!("{}", serde_json::to_string_pretty(&out)?),
        Output::Text => super::outp!("{}", render(&out)),
    }
    Ok(())
}

/// Go's duration format as Cilium prints uptimes: `11m34s`, `2h3m4s`, `5s`.
fn uptime(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

fn peers(neighbors: &Value) -> Value {
    let mut rows = Vec::new();
    for n in neighbors.as_array().into_iter().flatten() {
        let state = n.get("state").and_then(Value::as_str).unwrap_or("");
        let established = state == "Established";
        let session = n.get("session").filter(|s| !s.is_null());
        let addr = n.get("address").and_then(Value::as_str).unwrap_or("");
        let peer = session
            .and_then(|s| s.get("remote").and_then(Value::as_str))
            .map(str::to_string)
            .unwrap_or_else(|| format!("{addr}:179"));
        let families: Vec<String> = session
            .and_then(|s| s.get("families").and_then(Value::as_array))
            .map(|f| {
                f.iter()
                    .filter_map(Value::as_str)
                    .map(|x| x.replace('-', "/"))
                    .collect()
            })
            .unwrap_or_else(|| vec!["ipv4/unicast".into(), "ipv6/unicast".into()]);
        let received = n.pointer("/counters/received");
        let advertised = n.get("advertised");
        let count = |v: Option<&Value>, fam: &str| -> u64 {
            let i = usize::from(fam.starts_with("ipv6"));
            v.and_then(|v| v.get(i))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        rows.push(json!({
            "local_as": n.get("local_asn"),
            "peer_as": n.get("peer_asn").filter(|v| !v.is_null()).or(n.get("remote_as")),
            "peer_address": peer,
            "session": state.to_lowercase(),
            "uptime": if established { uptime(n.get("state_secs").and_then(Value::as_u64).unwrap_or(0)) } else { "0s".into() },
            "families": families.iter().map(|f| json!({
                "family": f,
                "received": count(received, f),
                "advertised": count(advertised, f),
            })).collect::<Vec<_>>(),
        }));
    }
    json!({ "peers": rows })
}

fn routes(socket: &std::path::Path, table: Table, afi: &str) -> anyhow::Result<Value> {
    let summary = call(socket, &Request::Summary)?;
    let asn = summary.get("asn").cloned().unwrap_or(Value::Null);
    match table {
        Table::Available => {
            let r = call(
                socket,
                &Request::Routes {
                    prefix: None,
                    longer: false,
                    family: Some(afi.into()),
                    received_from: None,
                    advertised_to: None,
                },
            )?;
            let mut rows = Vec::new();
            for route in r.as_array().into_iter().flatten() {
                for (i, p) in route
                    .get("paths")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    rows.push(json!({
                        "vrouter": asn,
                        "prefix": if i == 0 { route.get("prefix").cloned().unwrap_or(Value::Null) } else { json!("") },
                        "best": p.get("best"),
                        "next_hop": p.get("next_hop"),
                        "attrs": attrs(p),
                    }));
                }
            }
            Ok(json!({ "routes": rows }))
        }
        Table::Advertised => {
            let n = call(socket, &Request::Neighbors { address: None })?;
            let mut rows = Vec::new();
            for peer in n.as_array().into_iter().flatten() {
                let Some(addr) = peer.get("address").and_then(Value::as_str) else {
                    continue;
                };
                let Ok(ip) = addr.parse() else { continue };
                let adv = call(
                    socket,
                    &Request::Routes {
                        prefix: None,
                        longer: false,
                        family: Some(afi.into()),
                        received_from: None,
                        advertised_to: Some(ip),
                    },
                )?;
                for r in adv.as_array().into_iter().flatten() {
                    rows.push(json!({
                        "vrouter": asn,
                        "peer": addr,
                        "prefix": r.get("prefix"),
                        "next_hop": r.get("next_hop"),
                        "attrs": r.get("as_path"),
                    }));
                }
            }
            Ok(json!({ "advertised": rows }))
        }
    }
}

/// Attributes as Cilium lists them: `[{Origin: i} {AsPath: 65005} {Nexthop: …} …]`.
fn attrs(p: &Value) -> String {
    let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let origin = match s("origin").as_str() {
        "igp" | "IGP" => "i".to_string(),
        "egp" | "EGP" => "e".to_string(),
        "incomplete" | "INCOMPLETE" => "?".to_string(),
        o => o.to_string(),
    };
    let mut parts = vec![format!("{{Origin: {origin}}}")];
    if !s("as_path").is_empty() {
        parts.push(format!("{{AsPath: {}}}", s("as_path")));
    }
    parts.push(format!("{{Nexthop: {}}}", s("next_hop")));
    if let Some(m) = p.get("med").and_then(Value::as_u64) {
        parts.push(format!("{{Med: {m}}}"));
    }
    if let Some(lp) = p.get("local_pref").and_then(Value::as_u64) {
        parts.push(format!("{{LocalPref: {lp}}}"));
    }
    if let Some(o) = p.get("originator_id").and_then(Value::as_str) {
        parts.push(format!("{{Originator: {o}}}"));
    }
    let list = |k: &str| -> Vec<String> {
        p.get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let cl = list("cluster_list");
    if !cl.is_empty() {
        parts.push(format!("{{ClusterList: [{}]}}", cl.join(", ")));
    }
    let c = list("communities");
    if !c.is_empty() {
        parts.push(format!("{{Communities: {}}}", c.join(", ")));
    }
    let lc = list("large_communities");
    if !lc.is_empty() {
        parts.push(format!("{{LargeCommunity: {}}}", lc.join(", ")));
    }
    format!("[{}]", parts.join(" "))
}

fn render(v: &Value) -> String {
    let mut out = String::new();
    let str_of = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(x) => x.to_string(),
    };
    if let Some(peers) = v.get("peers").and_then(Value::as_array) {
        out.push_str(&format!(
            "{:<10} {:<9} {:<22} {:<13} {:<8} {:<14} {:<10} {}\n",
            "Local AS",
            "Peer AS",
            "Peer Address",
            "Session",
            "Uptime",
            "Family",
            "Received",
            "Advertised"
        ));
        for p in peers {
            for (i, f) in p
                .get("families")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let first = i == 0;
                let pick = |k: &str| {
                    if first {
                        str_of(p.get(k))
                    } else {
                        String::new()
                    }
                };
                out.push_str(&format!(
                    "{:<10} {:<9} {:<22} {:<13} {:<8} {:<14} {:<10} {}\n",
                    pick("local_as"),
                    pick("peer_as"),
                    pick("peer_address"),
                    pick("session"),
                    pick("uptime"),
                    str_of(f.get("family")),
                    str_of(f.get("received")),
                    str_of(f.get("advertised")),
                ));
            }
        }
    }
    if let Some(routes) = v.get("routes").and_then(Value::as_array) {
        out.push_str(&format!(
            "{:<9} {:<20} {:<18} {}\n",
            "VRouter", "Prefix", "NextHop", "Attrs"
        ));
        for r in routes {
            let best = if r.get("best").and_then(Value::as_bool) == Some(true) {
                "*>"
            } else {
                "* "
            };
            out.push_str(&format!(
                "{:<9} {best}{:<18} {:<18} {}\n",
                str_of(r.get("vrouter")),
                str_of(r.get("prefix")),
                str_of(r.get("next_hop")),
                str_of(r.get("attrs")),
            ));
        }
    }
    if let Some(adv) = v.get("advertised").and_then(Value::as_array) {
        out.push_str(&format!(
            "{:<9} {:<16} {:<20} {:<18} {}\n",
            "VRouter", "Peer", "Prefix", "NextHop", "Attrs"
        ));
        for r in adv {
            out.push_str(&format!(
                "{:<9} {:<16} {:<20} {:<18} {}\n",
                str_of(r.get("vrouter")),
                str_of(r.get("peer")),
                str_of(r.get("prefix")),
                str_of(r.get("next_hop")),
                str_of(r.get("attrs")),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptimes_are_printed_as_go_durations() {
        assert_eq!(uptime(5), "5s");
        assert_eq!(uptime(694), "11m34s");
        assert_eq!(uptime(7384), "2h3m4s");
    }

    #[test]
    fn a_peer_prints_one_row_per_family_as_cilium_does() {
        let n = json!([{
            "address": "10.0.5.1", "local_asn": 65005, "peer_asn": 65005, "remote_as": "65005",
            "state": "Established", "state_secs": 694,
            "session": { "remote": "10.0.5.1:179", "families": ["ipv4-unicast", "ipv6-unicast"] },
            "counters": { "received": [6, 0] }, "advertised": [1, 0]
        }]);
        let text = render(&peers(&n));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Local AS   Peer AS"));
        let cols: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            cols,
            [
                "65005",
                "65005",
                "10.0.5.1:179",
                "established",
                "11m34s",
                "ipv4/unicast",
                "6",
                "1"
            ]
        );
        let cols: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(cols, ["ipv6/unicast", "0", "0"]);
    }
}
