//! `lab check`: every addressed host pings every other (or a `--from`/`--to` subset), as a
//! matrix; failures are explained by walking the FIBs; an expectations file turns the
//! matrix into a test (`expect: reach` / `expect: no-reach`). `lab trace A B` prints a path.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::explain::{Fabric, Walk};
use super::table::Table;
use super::{par_map, print_json, Format, LabSel, OpError};
use crate::rt::icmp;
use crate::topo::yaml::{parse_str, Node};
use crate::topo::TopoError;

/// Expected outcome of a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// Must reach.
    Reach,
    /// Must not reach.
    NoReach,
}

/// One tested pair.
#[derive(Clone, Debug, Serialize)]
pub struct Pair {
    /// Source host.
    pub from: String,
    /// Destination host.
    pub to: String,
    /// Address pinged.
    pub address: IpAddr,
    /// Echo reply received.
    pub reached: bool,
    /// Round trip, milliseconds.
    pub rtt_ms: Option<f64>,
    /// Expectation.
    pub expect: Expect,
    /// Outcome met the expectation.
    pub ok: bool,
    /// Why it did not reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// Options of `lab check`.
#[derive(Clone, Debug, Default)]
pub struct CheckOpts {
    /// Source selectors.
    pub from: Vec<String>,
    /// Destination selectors.
    pub to: Vec<String>,
    /// Expectations file.
    pub expect: Option<std::path::PathBuf>,
    /// Ping timeout per pair.
    pub timeout: Duration,
}

/// Sources, destinations, expectation, and the file they come from.
type Rule<'a> = (Vec<String>, Vec<String>, Expect, Option<&'a Path>);

/// Runs the checks; returns the pairs.
pub fn check(fab: &Fabric<'_>, opts: &CheckOpts) -> Result<Vec<Pair>, OpError> {
    // (source host, destination host, address) -> expectation; later entries win.
    let mut wanted: BTreeMap<(usize, usize, IpAddr), Expect> = BTreeMap::new();
    let all = |_: ()| -> Vec<String> { vec!["*".to_string()] };
    let lists: Vec<Rule<'_>> = match &opts.expect {
        Some(file) => read_expectations(file)?
            .into_iter()
            .map(|(f, t, e)| (f, t, e, Some(file.as_path())))
            .collect(),
        None => {
            let f = if opts.from.is_empty() {
                all(())
            } else {
                opts.from.clone()
            };
            let t = if opts.to.is_empty() {
                all(())
            } else {
                opts.to.clone()
            };
            vec![(f, t, Expect::Reach, None)]
        }
    };
    for (from, to, e, file) in lists {
        let srcs = sources(fab, &from, file)?;
        let dsts = destinations(fab, &to, file)?;
        for f in &srcs {
            for (t, addr) in &dsts {
                if f != t {
                    wanted.insert((*f, *t, *addr), e);
                }
            }
        }
    }
    // Ping, one thread per source host.
    let mut by_src: BTreeMap<usize, Vec<(usize, IpAddr)>> = BTreeMap::new();
    for (f, t, a) in wanted.keys() {
        by_src.entry(*f).or_default().push((*t, *a));
    }
    let srcs: Vec<(usize, Vec<(usize, IpAddr)>)> = by_src.into_iter().collect();
    let timeout = if opts.timeout.is_zero() {
        Duration::from_millis(1500)
    } else {
        opts.timeout
    };
    let results = par_map(&srcs, 16, |_, (f, ts)| {
        let targets: Vec<IpAddr> = ts.iter().map(|(_, a)| *a).collect();
        let fd = fab
            .fd(fab.hosts[*f].ns)
            .ok_or_else(|| OpError::NotFound("namespace gone".into()))?;
        icmp::ping_all(fd.as_fd(), &targets, timeout).map_err(OpError::from)
    });
    let mut pairs = Vec::new();
    for ((f, ts), r) in srcs.iter().zip(results) {
        let pings = r?;
        for ((t, address), p) in ts.iter().zip(pings) {
            let expect = wanted[&(*f, *t, *address)];
            let ok = p.reached == (expect == Expect::Reach);
            let explanation = if p.reached {
                None
            } else {
                Some(explain(fab, *f, *t, *address, p.error.as_deref()))
            };
            pairs.push(Pair {
                from: fab.hosts[*f].label.clone(),
                to: if *t == NO_HOST {
                    address.to_string()
                } else {
                    fab.hosts[*t].label.clone()
                },
                address: *address,
                reached: p.reached,
                rtt_ms: p.rtt.map(|d| d.as_secs_f64() * 1000.0),
                expect,
                ok,
                explanation,
            });
        }
    }
    Ok(pairs)
}

/// Hosts matching source selectors.
fn sources(fab: &Fabric<'_>, sel: &[String], file: Option<&Path>) -> Result<Vec<usize>, OpError> {
    let mut v = Vec::new();
    for s in sel {
        let found = fab.select(s);
        if found.is_empty() {
            return Err(no_match(s, file));
        }
        v.extend(found);
    }
    Ok(v)
}

/// The destination "host" of an address that no host of the lab has.
const NO_HOST: usize = usize::MAX;

/// (host, address) for destination selectors: an address is pinged as given, a host at
/// its target address (hosts without one are skipped).
fn destinations(
    fab: &Fabric<'_>,
    sel: &[String],
    file: Option<&Path>,
) -> Result<Vec<(usize, IpAddr)>, OpError> {
    let mut v = Vec::new();
    for s in sel {
        let found = fab.select(s);
        match s.parse::<IpAddr>() {
            // An address nobody in the lab has (a pod IP before the agent runs): no host.
            Ok(ip) if found.is_empty() => v.push((NO_HOST, ip)),
            Ok(ip) => v.extend(found.into_iter().map(|h| (h, ip))),
            Err(_) if found.is_empty() => return Err(no_match(s, file)),
            Err(_) => v.extend(
                found
                    .into_iter()
                    .filter_map(|h| fab.hosts[h].target.map(|a| (h, a))),
            ),
        }
    }
    Ok(v)
}

fn no_match(s: &str, file: Option<&Path>) -> OpError {
    let at = file
        .map(|f| format!("{}: ", f.display()))
        .unwrap_or_default();
    OpError::NotFound(format!("{at}`{s}` matches no host of the lab"))
}

/// Why `f` does not reach `t`: the forward walk, then the way back.
fn explain(fab: &Fabric<'_>, f: usize, t: usize, dst: IpAddr, icmp_err: Option<&str>) -> String {
    let fwd = fab.walk(fab.hosts[f].ns, dst);
    if let Some(why) = &fwd.failure {
        return format!("{why} (path: {})", path_text(&fwd));
    }
    let src = fwd
        .hops
        .first()
        .and_then(|h| h.src)
        .or_else(|| fab.hosts[f].target);
    if let Some(src) = src {
        let back = fab.walk(fab.hosts[t].ns, src);
        if let Some(why) = &back.failure {
            return format!(
                "no way back to {src}: {why} (return path: {})",
                path_text(&back)
            );
        }
    }
    match icmp_err {
        Some(e) => format!("routes exist both ways now, but the probe got {e}"),
        None => "routes exist both ways now (they may have just converged), but no echo reply came back (dropped: firewall, neighbour resolution, link down?)".into(),
    }
}

/// `a → b → c`.
pub fn path_text(w: &Walk) -> String {
    w.hops
        .iter()
        .map(|h| h.host.as_str())
        .collect::<Vec<_>>()
        .join(" → ")
}

type Expectation = (Vec<String>, Vec<String>, Expect);

/// Reads `expect:` entries (`from`, `to`: a selector or a list; `expect: reach|no-reach`).
pub fn read_expectations(file: &Path) -> Result<Vec<Expectation>, TopoError> {
    let text = std::fs::read_to_string(file).map_err(|source| TopoError::Read {
        file: file.display().to_string(),
        source,
    })?;
    let root = parse_str(&text, file, 0, "")?;
    let list: &Node = match root.get("expect") {
        Some(l) => {
            root.check_keys(&["expect"])?;
            l
        }
        None => &root,
    };
    let mut out = Vec::new();
    for e in list.as_seq()? {
        e.check_keys(&["from", "to", "expect"])?;
        let from = e.require("from")?.string_list()?;
        let to = e.require("to")?.string_list()?;
        let x = e.require("expect")?;
        let expect = match x.as_str()? {
            "reach" => Expect::Reach,
            "no-reach" => Expect::NoReach,
            other => return Err(x.invalid(format!("`{other}` is not `reach` or `no-reach`"))),
        };
        out.push((from, to, expect));
    }
    Ok(out)
}

/// `lab check`.
pub fn check_cmd(
    root: &Path,
    sel: &LabSel,
    opts: &CheckOpts,
    format: Format,
) -> Result<(), OpError> {
    let st = sel.state(root)?;
    let fab = Fabric::new(&st)?;
    let pairs = check(&fab, opts)?;
    let failed = pairs.iter().filter(|p| !p.ok).count();
    if format == Format::Json {
        #[derive(Serialize)]
        struct Out<'a> {
            lab: &'a str,
            total: usize,
            failed: usize,
            pairs: &'a [Pair],
        }
        print_json(&Out {
            lab: &st.plan.name,
            total: pairs.len(),
            failed,
            pairs: &pairs,
        })?;
    } else {
        print_matrix(&fab, &pairs);
    }
    if failed > 0 {
        return Err(OpError::CheckFailed {
            failed,
            total: pairs.len(),
        });
    }
    Ok(())
}

fn print_matrix(fab: &Fabric<'_>, pairs: &[Pair]) {
    let mut rows: Vec<&str> = Vec::new();
    let mut cols: Vec<&str> = Vec::new();
    for h in &fab.hosts {
        if pairs.iter().any(|p| p.from == h.label) {
            rows.push(&h.label);
        }
        if pairs.iter().any(|p| p.to == h.label) {
            cols.push(&h.label);
        }
    }
    let mut header = vec!["FROM \\ TO".to_string()];
    header.extend(cols.iter().map(|c| c.to_string()));
    let mut t = Table::new(header);
    for r in &rows {
        let mut cells = vec![r.to_string()];
        for c in &cols {
            let cell = match pairs.iter().find(|p| p.from == *r && p.to == *c) {
                None if r == c => "-".to_string(),
                None => String::new(),
                Some(p) => {
                    let base = if p.reached { "ok" } else { "x" };
                    if p.ok {
                        base.to_string()
                    } else {
                        format!("{base} !")
                    }
                }
            };
            cells.push(cell);
        }
        t.row(cells);
    }
    print!("{}", t.render());
    println!("ok: echo reply   x: no reply   !: not what was expected");
    for h in &fab.hosts {
        if let Some(a) = h.target {
            if rows.contains(&h.label.as_str()) || cols.contains(&h.label.as_str()) {
                let also = if h.members.len() > 1 {
                    format!(" ({})", h.members.join(", "))
                } else {
                    String::new()
                };
                println!("  {} = {a}{also}", h.label);
            }
        }
    }
    for p in pairs.iter().filter(|p| !p.ok || !p.reached) {
        let verdict = if p.ok { "expected" } else { "FAILED" };
        let what = if p.reached {
            "reached (expected no-reach)".to_string()
        } else {
            p.explanation.clone().unwrap_or_default()
        };
        println!("{verdict}: {} → {} ({}): {what}", p.from, p.to, p.address);
    }
    let ok = pairs.iter().filter(|p| p.ok).count();
    println!("{ok}/{} pairs as expected", pairs.len());
}

/// `lab trace A B`: the hop path from A to B's address (or any address given as B).
pub fn trace_cmd(
    root: &Path,
    sel: &LabSel,
    from: &str,
    to: &str,
    format: Format,
) -> Result<(), OpError> {
    let st = sel.state(root)?;
    let fab = Fabric::new(&st)?;
    let f = *fab
        .select(from)
        .first()
        .ok_or_else(|| OpError::NotFound(format!("`{from}` matches no host")))?;
    let dst: IpAddr = match to.parse() {
        Ok(ip) => ip,
        Err(_) => {
            let t = *fab
                .select(to)
                .first()
                .ok_or_else(|| OpError::NotFound(format!("`{to}` matches no host")))?;
            fab.hosts[t]
                .target
                .ok_or_else(|| OpError::NotFound(format!("{to} has no address")))?
        }
    };
    let w = fab.walk(fab.hosts[f].ns, dst);
    if format == Format::Json {
        return print_json(&w);
    }
    println!("trace {} → {dst}", fab.hosts[f].label);
    for (i, h) in w.hops.iter().enumerate() {
        let out = match (&h.out_if, h.via) {
            (Some(i), Some(v)) => format!("out {i} via {v}"),
            (Some(i), None) => format!("out {i} (connected)"),
            _ => String::new(),
        };
        println!("{:>3}  {:<20} {out}", i + 1, h.host);
    }
    match &w.failure {
        None => println!(
            "delivered at {}",
            w.hops.last().map(|h| h.host.as_str()).unwrap_or("?")
        ),
        Some(why) => {
            println!("not delivered: {why}");
            return Err(OpError::NotFound(format!("no path from {from} to {dst}")));
        }
    }
    Ok(())
}
