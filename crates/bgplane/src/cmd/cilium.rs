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
    super::outp!("{}", format_output(&out, a.output)?);
    Ok(())
}

/// The command's output: Cilium's tables, or the rows as JSON (`-o json`).
fn format_output(out: &Value, format: Output) -> anyhow::Result<String> {
    Ok(match format {
        Output::Json => format!("{}\n", serde_json::to_string_pretty(out)?),
        Output::Text => render(out),
    })
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
    // Every route of the family, or what was sent to one neighbor.
    let request = |advertised_to| Request::Routes {
        prefix: None,
        longer: false,
        family: Some(afi.into()),
        received_from: None,
        advertised_to,
    };
    let local = call(socket, &request(None))?;
    match table {
        Table::Available => Ok(available(&asn, afi, &local)),
        Table::Advertised => {
            let n = call(socket, &Request::Neighbors { address: None })?;
            let mut sent = Vec::new();
            for peer in n.as_array().into_iter().flatten() {
                let Some(addr) = peer.get("address").and_then(Value::as_str) else {
                    continue;
                };
                let Ok(ip) = addr.parse() else { continue };
                let adv = call(socket, &request(Some(ip)))?;
                sent.push((addr.to_string(), adv));
            }
            Ok(advertised(&asn, afi, &sent, &local))
        }
    }
}

/// `bgp routes available`: every path of the node's table, one row each, as Cilium lists
/// them. `age` is the time since the prefix's selection changed, for the selected paths
/// (null, `-` in the table, for the others).
fn available(asn: &Value, afi: &str, routes: &Value) -> Value {
    let mut rows = Vec::new();
    for route in routes.as_array().into_iter().flatten() {
        let prefix = route.get("prefix").and_then(Value::as_str).unwrap_or("");
        for p in route
            .get("paths")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            rows.push(json!({
                "vrouter": asn,
                "prefix": prefix,
                "best": p.get("best"),
                "next_hop": p.get("next_hop"),
                "age": p.get("age_secs").cloned().unwrap_or(Value::Null),
                "attrs": attrs(p, afi, prefix),
            }));
        }
    }
    json!({ "routes": rows })
}

/// `bgp routes advertised`: what each peer is sent, with the origin and age of the node's
/// best path and the AS path and next hop as sent. (Attributes that an export policy adds are
/// not in the router's view of what it sent, so they are not listed.)
fn advertised(asn: &Value, afi: &str, sent: &[(String, Value)], local: &Value) -> Value {
    let best = |prefix: &str, key: &str| -> Option<Value> {
        local
            .as_array()?
            .iter()
            .find(|r| r.get("prefix").and_then(Value::as_str) == Some(prefix))?
            .get("paths")?
            .as_array()?
            .iter()
            .find(|p| p.get("best").and_then(Value::as_bool) == Some(true))?
            .get(key)
            .cloned()
    };
    let mut rows = Vec::new();
    for (peer, adv) in sent {
        for r in adv.as_array().into_iter().flatten() {
            let prefix = r.get("prefix").and_then(Value::as_str).unwrap_or("");
            let path = json!({
                "origin": best(prefix, "origin"),
                "as_path": r.get("as_path"),
                "next_hop": r.get("next_hop"),
            });
            rows.push(json!({
                "vrouter": asn,
                "peer": peer,
                "prefix": prefix,
                "next_hop": r.get("next_hop"),
                "age": best(prefix, "age_secs").unwrap_or(Value::Null),
                "attrs": attrs(&path, afi, prefix),
            }));
        }
    }
    json!({ "advertised": rows })
}

/// Attributes as Cilium lists them (GoBGP's notation, in attribute type code order):
/// `[{Origin: i} {AsPath: 65005} {Nexthop: 10.0.0.1} …]`; an IPv6 route's next hop is in
/// `{MpReach(ipv6-unicast): {Nexthop: …, NLRIs: [prefix]}}`.
fn attrs(p: &Value, afi: &str, prefix: &str) -> String {
    let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let list = |k: &str| -> Vec<String> {
        p.get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let origin = match s("origin").as_str() {
        "igp" | "IGP" => "i".to_string(),
        "egp" | "EGP" => "e".to_string(),
        "incomplete" | "INCOMPLETE" => "?".to_string(),
        o => o.to_string(),
    };
    // `global(link-local)` as the router shows an IPv6 next hop; GoBGP: `global, link-local`.
    let next_hop = s("next_hop").replace('(', ", ").replace(')', "");
    let mp_reach = afi == "ipv6" || next_hop.contains(':');
    let mut parts = Vec::new();
    if !origin.is_empty() {
        parts.push(format!("{{Origin: {origin}}}"));
    }
    if !s("as_path").is_empty() {
        parts.push(format!("{{AsPath: {}}}", s("as_path")));
    }
    if !mp_reach {
        parts.push(format!("{{Nexthop: {next_hop}}}"));
    }
    if let Some(m) = p.get("med").and_then(Value::as_u64) {
        parts.push(format!("{{Med: {m}}}"));
    }
    if let Some(lp) = p.get("local_pref").and_then(Value::as_u64) {
        parts.push(format!("{{LocalPref: {lp}}}"));
    }
    let c = list("communities");
    if !c.is_empty() {
        parts.push(format!("{{Communities: {}}}", c.join(", ")));
    }
    if let Some(o) = p.get("originator_id").and_then(Value::as_str) {
        parts.push(format!("{{Originator: {o}}}"));
    }
    let cl = list("cluster_list");
    if !cl.is_empty() {
        parts.push(format!("{{ClusterList: [{}]}}", cl.join(", ")));
    }
    if mp_reach {
        parts.push(format!(
            "{{MpReach({afi}-unicast): {{Nexthop: {next_hop}, NLRIs: [{prefix}]}}}}"
        ));
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
    let age = |r: &Value| match r.get("age").and_then(Value::as_u64) {
        Some(secs) => uptime(secs),
        None => "-".to_string(),
    };
    if let Some(routes) = v.get("routes").and_then(Value::as_array) {
        out.push_str(&format!(
            "{:<9} {:<20} {:<18} {:<8} {}\n",
            "VRouter", "Prefix", "NextHop", "Age", "Attrs"
        ));
        for r in routes {
            out.push_str(&format!(
                "{:<9} {:<20} {:<18} {:<8} {}\n",
                str_of(r.get("vrouter")),
                str_of(r.get("prefix")),
                str_of(r.get("next_hop")),
                age(r),
                str_of(r.get("attrs")),
            ));
        }
    }
    if let Some(adv) = v.get("advertised").and_then(Value::as_array) {
        out.push_str(&format!(
            "{:<9} {:<16} {:<20} {:<18} {:<8} {}\n",
            "VRouter", "Peer", "Prefix", "NextHop", "Age", "Attrs"
        ));
        for r in adv {
            out.push_str(&format!(
                "{:<9} {:<16} {:<20} {:<18} {:<8} {}\n",
                str_of(r.get("vrouter")),
                str_of(r.get("peer")),
                str_of(r.get("prefix")),
                str_of(r.get("next_hop")),
                age(r),
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

    /// The router's answer to `routes --family ipv4`: the node's pod CIDR, and a route
    /// learned from the leaf over two paths.
    fn local_v4() -> Value {
        json!([
            { "prefix": "10.1.1.0/24", "paths": [
                { "from": "local", "next_hop": "0.0.0.0", "as_path": "", "origin": "igp",
                  "communities": [], "large_communities": [], "cluster_list": [], "best": true }
            ]},
            { "prefix": "10.1.2.0/24", "paths": [
                { "from": "10.0.5.1", "next_hop": "10.0.5.1", "as_path": "65010", "origin": "igp",
                  "local_pref": 100, "communities": ["65010:7"], "large_communities": [],
                  "originator_id": "10.0.6.12", "cluster_list": ["10.0.5.1"], "best": true,
                  "age_secs": 694 },
                { "from": "10.0.5.2", "next_hop": "10.0.5.2", "as_path": "500 65010",
                  "origin": "incomplete", "med": 20, "communities": [], "large_communities": [],
                  "cluster_list": [], "best": false }
            ]}
        ])
    }

    /// A table row's first `n` columns, and the rest of the line (the attributes).
    fn columns(line: &str, n: usize) -> (Vec<&str>, &str) {
        let mut cols = Vec::new();
        let mut rest = line;
        for _ in 0..n {
            rest = rest.trim_start();
            let end = rest.find(' ').unwrap_or(rest.len());
            cols.push(&rest[..end]);
            rest = &rest[end..];
        }
        (cols, rest.trim())
    }

    #[test]
    fn available_routes_print_ciliums_columns_and_one_row_per_path() {
        let text = render(&available(&json!(65005), "ipv4", &local_v4()));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["VRouter", "Prefix", "NextHop", "Age", "Attrs"]
        );
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(
            columns(lines[1], 4),
            (
                vec!["65005", "10.1.1.0/24", "0.0.0.0", "-"],
                "[{Origin: i} {Nexthop: 0.0.0.0}]"
            )
        );
        assert_eq!(
            columns(lines[2], 4),
            (
                vec!["65005", "10.1.2.0/24", "10.0.5.1", "11m34s"],
                "[{Origin: i} {AsPath: 65010} {Nexthop: 10.0.5.1} {LocalPref: 100} {Communities: 65010:7} {Originator: 10.0.6.12} {ClusterList: [10.0.5.1]}]"
            )
        );
        assert_eq!(
            columns(lines[3], 4),
            (
                vec!["65005", "10.1.2.0/24", "10.0.5.2", "-"],
                "[{Origin: ?} {AsPath: 500 65010} {Nexthop: 10.0.5.2} {Med: 20}]"
            ),
            "every path is listed, with its prefix"
        );
    }

    #[test]
    fn ipv6_routes_carry_their_next_hop_in_mp_reach_as_cilium_prints_it() {
        let routes = json!([{ "prefix": "fd00:10:1::/64", "paths": [
            { "next_hop": "fd00:10::1(fe80::1)", "as_path": "65000", "origin": "igp", "best": true }
        ]}]);
        let text = render(&available(&json!(65001), "ipv6", &routes));
        let (cols, attrs) = columns(text.lines().nth(1).unwrap(), 4);
        assert_eq!(cols[1], "fd00:10:1::/64");
        assert_eq!(
            attrs,
            "[{Origin: i} {AsPath: 65000} {MpReach(ipv6-unicast): {Nexthop: fd00:10::1, fe80::1, NLRIs: [fd00:10:1::/64]}}]"
        );
    }

    #[test]
    fn advertised_routes_print_the_peer_and_the_attributes_as_sent() {
        let sent = vec![(
            "10.0.5.1".to_string(),
            json!([{ "prefix": "10.1.1.0/24", "next_hop": "10.0.5.12", "as_path": "65005" }]),
        )];
        let text = render(&advertised(&json!(65005), "ipv4", &sent, &local_v4()));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["VRouter", "Peer", "Prefix", "NextHop", "Age", "Attrs"]
        );
        assert_eq!(
            columns(lines[1], 5),
            (
                vec!["65005", "10.0.5.1", "10.1.1.0/24", "10.0.5.12", "-"],
                "[{Origin: i} {AsPath: 65005} {Nexthop: 10.0.5.12}]"
            )
        );
        assert_eq!(lines.len(), 2);
    }

    #[test]
    fn peers_as_json_are_the_rows_of_the_table() {
        let n = json!([{
            "address": "10.0.5.1", "local_asn": 65005, "peer_asn": null, "remote_as": "65005",
            "state": "Active", "state_secs": 12,
            "session": null, "counters": { "received": [0, 0] }, "advertised": [0, 0]
        }]);
        let out = format_output(&peers(&n), Output::Json).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v,
            json!({ "peers": [{
                "local_as": 65005, "peer_as": "65005", "peer_address": "10.0.5.1:179",
                "session": "active", "uptime": "0s",
                "families": [
                    { "family": "ipv4/unicast", "received": 0, "advertised": 0 },
                    { "family": "ipv6/unicast", "received": 0, "advertised": 0 }
                ]
            }]})
        );
        assert!(out.ends_with("}\n"), "one JSON document and a newline");
    }

    #[test]
    fn routes_as_json_keep_every_column_of_the_tables() {
        let out =
            format_output(&available(&json!(65005), "ipv4", &local_v4()), Output::Json).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["routes"][0],
            json!({
                "vrouter": 65005, "prefix": "10.1.1.0/24", "best": true, "next_hop": "0.0.0.0",
                "age": null, "attrs": "[{Origin: i} {Nexthop: 0.0.0.0}]"
            })
        );
        assert_eq!(v["routes"][2]["best"], false);
        let sent = vec![(
            "10.0.5.1".to_string(),
            json!([{ "prefix": "10.1.1.0/24", "next_hop": "10.0.5.12", "as_path": "65005" }]),
        )];
        let out = format_output(
            &advertised(&json!(65005), "ipv4", &sent, &local_v4()),
            Output::Json,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["advertised"][0],
            json!({
                "vrouter": 65005, "peer": "10.0.5.1", "prefix": "10.1.1.0/24",
                "next_hop": "10.0.5.12", "age": null,
                "attrs": "[{Origin: i} {AsPath: 65005} {Nexthop: 10.0.5.12}]"
            })
        );
    }
}
