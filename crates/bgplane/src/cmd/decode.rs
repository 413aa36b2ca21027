//! `bgplane decode`: print BGP messages given as hex (the golden capture format, or one
//! message per line) or as raw bytes, the way a speaker would read them.
//!
//! The OPENs seen in each direction set the context of the messages that follow (4-octet
//! AS, ADD-PATH, extended messages, eBGP/iBGP), exactly as a session negotiates it.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context as _;
use bgp_wire::{Message, Open, OwnedMessage, SessionContext};

/// Arguments of `bgplane decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Files to decode (`-` or none: standard input). Text files hold one message per line
    /// in hex, optionally prefixed by the sending side (`a` or `b`) as in the golden
    /// captures; `#` starts a comment. Other files are read as raw concatenated messages.
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    output: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// One message of the input, with where it came from.
struct Item {
    origin: String,
    side: Side,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Side {
    A,
    B,
}

/// Runs the subcommand.
pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let files = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files
    };
    let mut failures = 0usize;
    let mut json = Vec::new();
    for path in &files {
        let items = read_items(path)?;
        let mut session = Session::default();
        for item in items {
            let ctx = session.context_for(item.side);
            match Message::decode(&item.bytes, &ctx) {
                Ok((msg, len)) => {
                    if let Message::Open(o) = &msg {
                        session.opened(item.side, o.clone());
                    }
                    let issues: Vec<String> = match &msg {
                        Message::Update(u) => u.issues().iter().map(|i| i.to_string()).collect(),
                        _ => vec![],
                    };
                    let owned = msg.to_owned();
                    match args.output {
                        Format::Text => {
                            super::outln!("{} {}", item.origin, describe(&owned));
                            for i in &issues {
                                super::outln!("    issue: {i}");
                            }
                            if len != item.bytes.len() {
                                super::outln!(
                                    "    note: {} trailing octets",
                                    item.bytes.len() - len
                                );
                            }
                        }
                        Format::Json => json.push(serde_json::json!({
                            "source": item.origin,
                            "side": item.side,
                            "message": owned,
                            "issues": issues,
                        })),
                    }
                }
                Err(e) => {
                    failures += 1;
                    let notif = e.notification().map(|n| n.to_string());
                    match args.output {
                        Format::Text => {
                            super::outln!("{} ERROR {e}", item.origin);
                        }
                        Format::Json => json.push(serde_json::json!({
                            "source": item.origin,
                            "side": item.side,
                            "error": e.to_string(),
                            "notification": notif,
                        })),
                    }
                }
            }
        }
    }
    if args.output == Format::Json {
        super::outln!("{}", serde_json::to_string_pretty(&json)?);
    }
    anyhow::ensure!(failures == 0, "{failures} message(s) failed to decode");
    Ok(())
}

/// The OPENs of both sides, to derive each direction's decoding context.
#[derive(Default)]
struct Session {
    a: Option<Open>,
    b: Option<Open>,
}

impl Session {
    fn opened(&mut self, side: Side, open: Open) {
        match side {
            Side::A => self.a = Some(open),
            Side::B => self.b = Some(open),
        }
    }

    /// The receive context of the side that gets a message sent by `from`.
    fn context_for(&self, from: Side) -> SessionContext {
        let (sender, receiver) = match from {
            Side::A => (&self.a, &self.b),
            Side::B => (&self.b, &self.a),
        };
        match (sender, receiver) {
            (Some(s), Some(r)) => SessionContext::negotiate(r, s, s.asn() != r.asn()).0,
            // Before both OPENs are known, assume a modern eBGP session.
            _ => SessionContext::ebgp(),
        }
    }
}

fn read_items(path: &PathBuf) -> anyhow::Result<Vec<Item>> {
    let name = path.display().to_string();
    let mut data = Vec::new();
    if name == "-" {
        std::io::stdin()
            .read_to_end(&mut data)
            .context("reading standard input")?;
    } else {
        data = std::fs::read(path).with_context(|| format!("reading {name}"))?;
    }
    if let Ok(text) = std::str::from_utf8(&data) {
        if text.lines().all(|l| is_hex_line(l.trim())) {
            return parse_text(&name, text);
        }
    }
    // Raw concatenated messages: split by the length field.
    let mut items = Vec::new();
    let mut rest = &data[..];
    let mut n = 0;
    while !rest.is_empty() {
        let len = rest
            .get(16..18)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
            .filter(|&l| l >= 19 && l <= rest.len())
            .with_context(|| {
                format!(
                    "{name}: message {} at offset {}: bad length field",
                    n + 1,
                    data.len() - rest.len()
                )
            })?;
        n += 1;
        items.push(Item {
            origin: format!("{name}#{n}"),
            side: Side::A,
            bytes: rest[..len].to_vec(),
        });
        rest = &rest[len..];
    }
    Ok(items)
}

fn is_hex_line(l: &str) -> bool {
    l.is_empty()
        || l.starts_with('#')
        || l.split_whitespace()
            .last()
            .is_some_and(|w| w.chars().all(|c| c.is_ascii_hexdigit()))
}

fn parse_text(name: &str, text: &str) -> anyhow::Result<Vec<Item>> {
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (side, hex) = match line.split_once(' ') {
            Some(("a", h)) => (Side::A, h.trim()),
            Some(("b", h)) => (Side::B, h.trim()),
            Some((other, _)) => anyhow::bail!(
                "{name}:{}: unknown side {other:?}: expected `a HEX`, `b HEX` or `HEX`",
                i + 1
            ),
            None => (Side::A, line),
        };
        let bytes = hex::decode(hex).with_context(|| format!("{name}:{}: invalid hex", i + 1))?;
        let side_name = if side == Side::A { "a" } else { "b" };
        items.push(Item {
            origin: format!("{name}:{} {side_name}", i + 1),
            side,
            bytes,
        });
    }
    Ok(items)
}

/// A one-line summary of a message, in the vocabulary of FRR's debug output.
fn describe(m: &OwnedMessage) -> String {
    use bgp_wire::AttributeValue as V;
    match m {
        OwnedMessage::Open(o) => {
            let caps: Vec<String> = o.capabilities().map(|c| c.to_string()).collect();
            format!(
                "OPEN as {} hold {} id {} caps [{}]",
                o.asn(),
                o.hold_time,
                o.bgp_id,
                caps.join(", ")
            )
        }
        OwnedMessage::Keepalive => "KEEPALIVE".to_string(),
        OwnedMessage::Notification(n) => format!("NOTIFICATION {n}"),
        OwnedMessage::RouteRefresh(r) => {
            let st = match r.subtype {
                0 => "normal",
                1 => "BoRR",
                2 => "EoRR",
                _ => "unknown subtype",
            };
            format!("ROUTE-REFRESH {} ({st})", r.family)
        }
        OwnedMessage::Update(u) => {
            let mut parts = Vec::new();
            if !u.withdrawn.is_empty() {
                parts.push(format!("withdraw {}", join(&u.withdrawn)));
            }
            if !u.nlri.is_empty() {
                parts.push(format!("announce {}", join(&u.nlri)));
            }
            let mut attrs = Vec::new();
            for a in &u.attributes {
                match &a.value {
                    V::MpReach(r) => parts.push(format!(
                        "announce {} {} via {}",
                        r.family,
                        join(&r.nlri),
                        r.next_hop
                    )),
                    V::MpUnreach(r) if r.withdrawn.is_empty() => {
                        parts.push(format!("end-of-rib {}", r.family))
                    }
                    V::MpUnreach(r) => {
                        parts.push(format!("withdraw {} {}", r.family, join(&r.withdrawn)))
                    }
                    V::Origin(o) => attrs.push(format!("origin {o}")),
                    V::AsPath(p) => attrs.push(format!("as-path [{p}]")),
                    V::As4Path(p) => attrs.push(format!("as4-path [{p}]")),
                    V::NextHop(n) => attrs.push(format!("next-hop {n}")),
                    V::MultiExitDisc(v) => attrs.push(format!("med {v}")),
                    V::LocalPref(v) => attrs.push(format!("local-pref {v}")),
                    V::AtomicAggregate => attrs.push("atomic-aggregate".into()),
                    V::Aggregator(g) => attrs.push(format!("aggregator {} {}", g.asn, g.address)),
                    V::As4Aggregator(g) => {
                        attrs.push(format!("as4-aggregator {} {}", g.asn, g.address))
                    }
                    V::Communities(c) => attrs.push(format!("communities {}", join(c))),
                    V::ExtendedCommunities(c) => attrs.push(format!("ext-communities {}", join(c))),
                    V::LargeCommunities(c) => attrs.push(format!("large-communities {}", join(c))),
                    V::OriginatorId(o) => attrs.push(format!("originator-id {o}")),
                    V::ClusterList(c) => attrs.push(format!("cluster-list {}", join(c))),
                    V::Raw { type_code, data } => {
                        attrs.push(format!("attr{type_code}={}", hex::encode(data)))
                    }
                }
            }
            if parts.is_empty() && attrs.is_empty() {
                return "UPDATE end-of-rib ipv4/unicast".to_string();
            }
            let mut s = format!("UPDATE {}", parts.join("; "));
            if !attrs.is_empty() {
                s.push_str(" | ");
                s.push_str(&attrs.join(", "));
            }
            s
        }
    }
}

fn join<T: std::fmt::Display>(v: &[T]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}
