//! Text renderings of the router API's answers, in the style of vtysh.

use std::fmt::Write as _;

use serde_json::Value;

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(x) => x.to_string(),
    }
}

fn u(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// Seconds as FRR prints uptimes: `hh:mm:ss`, or `NdNNh`.
pub(crate) fn duration(secs: u64) -> String {
    if secs >= 86_400 {
        format!(
            "{}d{:02}h{:02}m",
            secs / 86_400,
            secs % 86_400 / 3600,
            secs % 3600 / 60
        )
    } else {
        format!(
            "{:02}:{:02}:{:02}",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        )
    }
}

/// `show bgp summary`.
pub(crate) fn summary(d: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "BGP router identifier {}, local AS number {}\nRIB entries {} (IPv4), {} (IPv6), {} attribute sets\n",
        s(d, "router_id"),
        u(d, "asn"),
        u(d, "rib_v4"),
        u(d, "rib_v6"),
        u(d, "attribute_sets")
    );
    let _ = writeln!(
        out,
        "{:<40} {:>1} {:>10} {:>8} {:>8} {:>10} {:>13} {:>8} {:>8} Desc",
        "Neighbor", "V", "AS", "UpdRcvd", "UpdSent", "Up/Down", "State/PfxRcd", "PfxAcc", "PfxSnt"
    );
    let empty = vec![];
    for n in d
        .get("neighbors")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
    {
        let state = s(n, "state");
        // RFC 8212 withholding shows as FRR shows it.
        let withheld = |k: &str| n.get(k).and_then(Value::as_bool) == Some(true);
        let st = if state != "Established" {
            state
        } else if withheld("import_withheld") {
            "(Policy)".to_string()
        } else {
            u(n, "received").to_string()
        };
        let sent = if withheld("export_withheld") {
            "(Policy)".to_string()
        } else {
            u(n, "advertised").to_string()
        };
        let mut name = match n.get("interface").and_then(Value::as_str) {
            Some(i) => i.to_string(),
            None => s(n, "neighbor"),
        };
        if n.get("dynamic").and_then(Value::as_bool) == Some(true) {
            name.insert(0, '*');
        }
        let _ = writeln!(
            out,
            "{:<40} {:>1} {:>10} {:>8} {:>8} {:>10} {:>13} {:>8} {:>8} {}",
            name,
            4,
            s(n, "asn"),
            u(n, "msg_received"),
            u(n, "msg_sent"),
            duration(u(n, "uptime_secs")),
            st,
            u(n, "accepted"),
            sent,
            s(n, "description")
        );
    }
    out
}

/// `show bgp neighbors`.
pub(crate) fn neighbors(d: &Value) -> String {
    let mut out = String::new();
    let empty = vec![];
    for n in d.as_array().unwrap_or(&empty) {
        let _ = writeln!(
            out,
            "BGP neighbor is {}, remote AS {}, local AS {}{}",
            s(n, "address"),
            n.get("peer_asn")
                .filter(|x| !x.is_null())
                .map_or(s(n, "remote_as"), |x| x.to_string()),
            u(n, "local_asn"),
            n.get("description")
                .and_then(Value::as_str)
                .map(|d| format!(", {d}"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "  BGP state = {}, for {}",
            s(n, "state"),
            duration(u(n, "state_secs"))
        );
        // RFC 8212, worded as FRR words it.
        for (key, way) in [
            ("import_withheld", "Inbound"),
            ("export_withheld", "Outbound"),
        ] {
            if n.get(key).and_then(Value::as_bool) == Some(true) {
                let _ = writeln!(
                    out,
                    "  {way} updates discarded due to missing policy (RFC 8212)"
                );
            }
        }
        if let Some(t) = n.get("timers") {
            let _ = writeln!(
                out,
                "  Configured hold time {}s, keepalive {}, connect retry {}s",
                u(t, "hold_time"),
                match u(t, "keepalive") {
                    0 => "hold/3".to_string(),
                    k => format!("{k}s"),
                },
                u(t, "connect_retry")
            );
        }
        if let Some(sess) = n.get("session").filter(|x| !x.is_null()) {
            let _ = writeln!(
                out,
                "  {} session, peer router id {}, local {} remote {}",
                s(sess, "kind"),
                s(sess, "peer_id"),
                s(sess, "local"),
                s(sess, "remote")
            );
            let _ = writeln!(
                out,
                "  Negotiated hold time {}s, keepalive {}s",
                u(sess, "hold_time"),
                u(sess, "keepalive")
            );
            let fams: Vec<String> = sess
                .get("families")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let _ = writeln!(out, "  Families: {}", fams.join(", "));
            let flag = |k: &str| {
                if sess.get(k).and_then(Value::as_bool).unwrap_or(false) {
                    "yes"
                } else {
                    "no"
                }
            };
            let _ = writeln!(
                out,
                "  4-octet AS: {}, route refresh: {}, enhanced route refresh: {}, extended message: {}, extended next hop: {}",
                flag("four_octet_as"),
                flag("route_refresh"),
                flag("enhanced_route_refresh"),
                flag("extended_message"),
                flag("extended_nexthop")
            );
            let caps: Vec<String> = sess
                .get("peer_capabilities")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let _ = writeln!(out, "  Peer capabilities: {}", caps.join(", "));
            let _ = writeln!(
                out,
                "  Changes queued to send: {}",
                u(sess, "pending_changes")
            );
        }
        if let Some(c) = n.get("counters") {
            let pair = |k: &str| {
                c.get(k)
                    .and_then(Value::as_array)
                    .map(|a| {
                        format!(
                            "{} IPv4, {} IPv6",
                            a[0],
                            a.get(1).cloned().unwrap_or(Value::from(0))
                        )
                    })
                    .unwrap_or_default()
            };
            let _ = writeln!(
                out,
                "  Prefixes received {}; accepted {}; advertised {}",
                pair("received"),
                pair("accepted"),
                n.get("advertised")
                    .and_then(Value::as_array)
                    .map(|a| format!("{} IPv4, {} IPv6", a[0], a[1]))
                    .unwrap_or_default()
            );
            let _ = writeln!(
                out,
                "  UPDATEs received {}, sent {}, malformed {}; sessions established {} times",
                u(c, "updates_received"),
                u(c, "updates_sent"),
                u(c, "malformed_updates"),
                u(c, "established")
            );
            if c.get("prefix_limit_exceeded").and_then(Value::as_u64) > Some(0) {
                let _ = writeln!(
                    out,
                    "  Maximum-prefix limit exceeded {} times (action warn)",
                    u(c, "prefix_limit_exceeded")
                );
            }
        }
        if let Some(b) = n.get("bfd").filter(|b| b.is_object()) {
            // As FRR's "BFD: Type: single hop ... Status: Up".
            let mut kind = if b.get("multihop").and_then(Value::as_bool) == Some(true) {
                "multi hop"
            } else {
                "single hop"
            }
            .to_string();
            if b.get("strict").and_then(Value::as_bool) == Some(true) {
                kind.push_str(", strict");
            }
            let since = match b.get("since_secs").and_then(Value::as_u64) {
                Some(t) => format!(", last change {} ago", duration(t)),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "  BFD: {kind}, status {}{since}, diagnostic: {}",
                s(b, "state"),
                s(b, "diagnostic")
            );
            if let Some(w) = b.get("bgp_waiting").and_then(Value::as_str) {
                let _ = writeln!(out, "  BGP waits for BFD to come up (strict mode, {w})");
            }
        }
        if n.get("graceful_shutdown").and_then(Value::as_bool) == Some(true) {
            let _ = writeln!(
                out,
                "  Graceful shutdown (RFC 8326): routes sent with graceful-shutdown"
            );
        }
        if let Some(e) = n.get("last_error").and_then(Value::as_str) {
            let _ = writeln!(out, "  Last reset: {e}");
        }
        out.push('\n');
    }
    out
}

fn origin_code(o: &str) -> &'static str {
    match o {
        "igp" => "i",
        "egp" => "e",
        _ => "?",
    }
}

/// `show bgp routes`.
pub(crate) fn routes(d: &Value) -> String {
    let mut out = String::from(
        "Status codes: * valid, > best, = multipath, r rejected, S stale\nOrigin codes: i IGP, e EGP, ? incomplete\n\n",
    );
    let _ = writeln!(
        out,
        "   {:<24} {:<26} {:>10} {:>6} Path",
        "Network", "Next Hop", "Metric", "LocPrf"
    );
    let empty = vec![];
    let mut n = 0;
    for r in d.as_array().unwrap_or(&empty) {
        let prefix = s(r, "prefix");
        for (i, p) in r
            .get("paths")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
            .iter()
            .enumerate()
        {
            let b = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
            let code = if b("rejected") {
                "r "
            } else if b("best") {
                "*>"
            } else if b("multipath") {
                "*="
            } else {
                "* "
            };
            let stale = if b("stale") { "S" } else { " " };
            let _ = writeln!(
                out,
                "{code}{stale}{:<24} {:<26} {:>10} {:>6} {} {}",
                if i == 0 { prefix.as_str() } else { "" },
                s(p, "next_hop"),
                s(p, "med"),
                s(p, "local_pref"),
                s(p, "as_path"),
                origin_code(&s(p, "origin"))
            );
        }
        n += 1;
    }
    let _ = writeln!(out, "\nDisplayed {n} routes");
    out
}

/// `show bgp routes PREFIX`: every path in detail, with why it is not the best.
pub(crate) fn route_detail(d: &Value) -> String {
    let mut out = String::new();
    let empty = vec![];
    let routes = d.as_array().unwrap_or(&empty);
    if routes.is_empty() {
        return "Network not in table\n".into();
    }
    for r in routes {
        let paths = r.get("paths").and_then(Value::as_array).unwrap_or(&empty);
        let _ = writeln!(
            out,
            "BGP routing table entry for {}, {} paths",
            s(r, "prefix"),
            paths.len()
        );
        for p in paths {
            let as_path = s(p, "as_path");
            let _ = writeln!(
                out,
                "  {}",
                if as_path.is_empty() {
                    "Local".into()
                } else {
                    as_path
                }
            );
            let _ = writeln!(
                out,
                "    {} from {}{}",
                s(p, "next_hop"),
                s(p, "from"),
                match u(p, "path_id") {
                    0 => String::new(),
                    id => format!(" (path id {id})"),
                }
            );
            let mut line = format!("      Origin {}", s(p, "origin"));
            if let Some(m) = p.get("med").and_then(Value::as_u64) {
                let _ = write!(line, ", metric {m}");
            }
            if let Some(l) = p.get("local_pref").and_then(Value::as_u64) {
                let _ = write!(line, ", localpref {l}");
            }
            let b = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
            if b("best") {
                line.push_str(", best");
            }
            if b("multipath") {
                line.push_str(", multipath");
            }
            if b("rejected") {
                line.push_str(", rejected by import policy");
            }
            if b("stale") {
                line.push_str(", stale");
            }
            let _ = writeln!(out, "{line}");
            for (k, label) in [
                ("communities", "Community"),
                ("large_communities", "Large Community"),
                ("ext_communities", "Extended Community"),
                ("cluster_list", "Cluster list"),
            ] {
                let v: Vec<String> = p
                    .get(k)
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                if !v.is_empty() {
                    let _ = writeln!(out, "      {label}: {}", v.join(" "));
                }
            }
            if let Some(o) = p.get("originator_id").and_then(Value::as_str) {
                let _ = writeln!(out, "      Originator: {o}");
            }
            if let Some(r) = p.get("reason").and_then(Value::as_str) {
                let _ = writeln!(out, "      Not best: {r}");
            }
            if let Some(a) = p.get("age_secs").and_then(Value::as_u64) {
                let _ = writeln!(out, "      Last update: {} ago", duration(a));
            }
        }
    }
    out
}

/// `show bgp routes --advertised-to`.
pub(crate) fn advertised(d: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "   {:<24} {:<26} Path", "Network", "Next Hop");
    let empty = vec![];
    let rows = d.as_array().unwrap_or(&empty);
    for r in rows {
        let _ = writeln!(
            out,
            "*> {:<24} {:<26} {}",
            s(r, "prefix"),
            s(r, "next_hop"),
            s(r, "as_path")
        );
    }
    let _ = writeln!(out, "\nTotal number of prefixes {}", rows.len());
    out
}

/// `show bfd peers`: one line per session, as FRR's `show bfd peers brief` with the
/// timers and counters of the long form.
pub(crate) fn bfd_peers(d: &Value) -> String {
    let mut out = String::new();
    let empty = vec![];
    let peers = d.as_array().unwrap_or(&empty);
    let _ = writeln!(out, "Session count: {}", peers.len());
    let _ = writeln!(
        out,
        "{:<26} {:<6} {:<8} {:<10} {:<10} {:>10} {:>10} {:>10} {:>6} {:>6} {:>4} {:>9} {:>8} {:>8}  Diagnostic",
        "Peer",
        "Hops",
        "Auth",
        "State",
        "Remote",
        "Since",
        "LocalDisc",
        "RemoteDisc",
        "TX ms",
        "RX ms",
        "Mult",
        "Detect ms",
        "Rcvd",
        "Sent"
    );
    for p in peers {
        let c = p.get("counters").cloned().unwrap_or(Value::Null);
        let detect = match p.get("detection-time-ms").and_then(Value::as_u64) {
            Some(v) => v.to_string(),
            None => "-".into(),
        };
        // Short names of the Auth Types (RFC 5880 §4.1).
        let auth = match p.get("authentication").and_then(Value::as_str) {
            None => "-",
            Some("simple-password") => "simple",
            Some("keyed-md5") => "md5",
            Some("meticulous-keyed-md5") => "md5-met",
            Some("keyed-sha1") => "sha1",
            Some("meticulous-keyed-sha1") => "sha1-met",
            Some(other) => other,
        };
        let hops = if p.get("hops").is_some_and(|h| h == "single") {
            "single"
        } else {
            "multi"
        };
        let _ = writeln!(
            out,
            "{:<26} {:<6} {:<8} {:<10} {:<10} {:>10} {:>10} {:>10} {:>6} {:>6} {:>4} {:>9} {:>8} {:>8}  {}",
            s(p, "peer"),
            hops,
            auth,
            s(p, "state"),
            s(p, "remote-state"),
            duration(u(p, "since-secs")),
            u(p, "local-discriminator"),
            u(p, "remote-discriminator"),
            u(p, "tx-interval-ms"),
            u(p, "required-min-rx-ms"),
            u(p, "detect-mult"),
            detect,
            u(&c, "received"),
            u(&c, "sent"),
            s(p, "diagnostic"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn the_summary_shows_rfc8212_withholding_as_frr_does() {
        let row = |addr: &str, import: bool, export: bool| {
            json!({
                "neighbor": addr, "asn": "65001", "state": "Established", "uptime_secs": 61,
                "msg_received": 3, "msg_sent": 2, "received": 5, "accepted": 0,
                "advertised": 0, "import_withheld": import, "export_withheld": export,
            })
        };
        let d = json!({
            "router_id": "10.0.0.1", "asn": 65000, "rib_v4": 5, "rib_v6": 0,
            "attribute_sets": 1,
            "neighbors": [row("10.0.0.2", true, true), row("10.0.0.3", false, false)],
        });
        let text = super::summary(&d);
        let cols = |addr: &str| -> Vec<String> {
            let line = text.lines().find(|l| l.starts_with(addr)).unwrap();
            line.split_whitespace().map(str::to_string).collect()
        };
        // Neighbor V AS UpdRcvd UpdSent Up/Down State/PfxRcd PfxAcc PfxSnt
        assert_eq!(cols("10.0.0.2")[6..9], ["(Policy)", "0", "(Policy)"]);
        assert_eq!(cols("10.0.0.3")[6..9], ["5", "0", "0"]);
    }

    #[test]
    fn the_bfd_table_shows_each_session_from_the_api_json() {
        let up = bfd::runtime::PeerStatus {
            peer: "10.90.0.2".parse().unwrap(),
            local: None,
            hops: bfd::runtime::Hops::Single,
            authentication: None,
            state: bfd::SessionState::Up,
            remote_state: bfd::SessionState::Up,
            since_secs: 75,
            local_discriminator: 7,
            remote_discriminator: 4_093_102_994,
            diagnostic: "no diagnostic".into(),
            desired_min_tx_ms: 300,
            required_min_rx_ms: 300,
            detect_mult: 3,
            tx_interval_ms: 300,
            detection_time_ms: Some(900),
            counters: bfd::session::Counters {
                received: 250,
                sent: 260,
                up: 2,
                down: 1,
            },
        };
        let mut down = up.clone();
        down.peer = "fd00::2".parse().unwrap();
        down.state = bfd::SessionState::Down;
        down.hops = bfd::runtime::Hops::Multi { minimum_ttl: 254 };
        down.authentication = Some(bfd::auth::AuthType::MeticulousKeyedSha1);
        down.detection_time_ms = None;
        down.diagnostic = "control detection time expired".into();
        let json = serde_json::to_value(vec![up, down]).unwrap();
        let text = super::bfd_peers(&json);
        let cols = |peer: &str| -> Vec<String> {
            let line = text.lines().find(|l| l.starts_with(peer)).unwrap();
            line.split_whitespace().map(str::to_string).collect()
        };
        assert!(text.starts_with("Session count: 2\n"), "{text}");
        assert_eq!(
            cols("10.90.0.2")[..14],
            [
                "10.90.0.2",
                "single",
                "-",
                "up",
                "up",
                "00:01:15",
                "7",
                "4093102994",
                "300",
                "300",
                "3",
                "900",
                "250",
                "260"
            ]
        );
        assert_eq!(cols("fd00::2")[1..3], ["multi", "sha1-met"]);
        assert_eq!(cols("fd00::2")[11], "-");
        assert!(text.contains("control detection time expired"), "{text}");
    }
}
