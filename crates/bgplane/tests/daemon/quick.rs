//! The quick command-line form, launched exactly as documented:
//! `bgplane router --asn 65000 --router-id 10.99.0.1 --listen 10.99.0.1
//! --neighbor 10.99.0.2,65001 --neighbor 10.99.0.3,65002 --no-fib`, with its API on the
//! default socket /run/bgplane/router.sock (a tmpfs on /run in a private mount namespace,
//! `unshare -m`, which the CLI joins with `nsenter -m`), re-advertising routes from one
//! scripted peer to the other; then the `show bgp routes` views: a prefix's paths with why
//! the non-best one lost, `--received-from` and `--advertised-to`, in text and JSON.
//!
//! Namespace `dut` holds a bridge with 10.99.0.1/24; the peers p1 (AS 65001, 10.99.0.2)
//! and p2 (AS 65002, 10.99.0.3) hang off it by veth pairs.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::netns::ns_ip;
use crate::harness::process::Proc;
use crate::harness::{bgplane_bin, run, wait_for, which, Lab};
use crate::support::{accept_session, listen, read_routes, update};

/// The router's arguments, exactly as documented.
const ARGS: [&str; 12] = [
    "router",
    "--asn",
    "65000",
    "--router-id",
    "10.99.0.1",
    "--listen",
    "10.99.0.1",
    "--neighbor",
    "10.99.0.2,65001",
    "--neighbor",
    "10.99.0.3,65002",
    "--no-fib",
];

const P1: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
const P2: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 3);

/// `dut` with bridge br0 (10.99.0.1/24) and a veth from it to each peer namespace.
fn bridged(dut: &str, peers: &[(&str, Ipv4Addr)]) {
    ns_ip(dut, &["link", "add", "br0", "type", "bridge"]);
    ns_ip(dut, &["addr", "add", "10.99.0.1/24", "dev", "br0"]);
    ns_ip(dut, &["link", "set", "br0", "up"]);
    for (i, (ns, addr)) in peers.iter().enumerate() {
        let port = format!("port{i}");
        ns_ip(
            dut,
            &[
                "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ],
        );
        ns_ip(dut, &["link", "set", &port, "master", "br0", "up"]);
        ns_ip(ns, &["addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
        ns_ip(ns, &["link", "set", "eth0", "up"]);
    }
}

/// The CLI in the router's mount namespace, with no `--socket`: the default path.
struct Cli {
    pid: u32,
}

impl Cli {
    fn run(&self, args: &[&str]) -> Result<String, String> {
        run(Command::new("nsenter")
            .args(["-t", &self.pid.to_string(), "-m", "--"])
            .arg(bgplane_bin())
            .args(args))
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self
            .run(&[args, &["-o", "json"]].concat())
            .unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}): {out}"))
    }
}

fn paths_from(routes: &Value) -> Vec<String> {
    routes
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["paths"].as_array().cloned().unwrap_or_default())
        .map(|p| p["from"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn prefixes(rows: &Value) -> Vec<String> {
    rows.as_array()
        .into_iter()
        .flatten()
        .map(|r| r["prefix"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn the_documented_quick_command_line_readvertises_routes_between_its_two_neighbors() {
    let Some(lab) = Lab::new("quick", &[]) else {
        return;
    };
    if which("nsenter").is_none() {
        crate::harness::say("SKIPPED quick: nsenter is not installed (util-linux)");
        return;
    }
    let dut = lab.netns("dut");
    let (n1, n2) = (lab.netns("p1"), lab.netns("p2"));
    bridged(&dut, &[(&n1, P1), (&n2, P2)]);
    let (l1, l2) = (listen(&n1, P1), listen(&n2, P2));
    // `ip netns exec dut unshare -m sh -c 'mount tmpfs on /run; exec bgplane router ...'`.
    let unshare = which("unshare").expect("unshare (util-linux)");
    let mut args: Vec<String> = [
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        "mount -t tmpfs -o mode=0755 bgplane-run /run && exec \"$0\" \"$@\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(bgplane_bin().display().to_string());
    args.extend(ARGS.iter().map(|s| s.to_string()));
    let mut router = Proc::spawn(
        &lab,
        &dut,
        "router",
        &unshare,
        &args,
        &[("BGPLANE_LOG", "info".into()), ("NO_COLOR", "1".into())],
    );
    let cli = Cli { pid: router.pid() };
    // The process is `bgplane` with exactly the documented arguments.
    let argv = wait_for("the router to start", Duration::from_secs(10), || {
        let raw = std::fs::read(format!("/proc/{}/cmdline", cli.pid)).map_err(|e| e.to_string())?;
        let argv: Vec<String> = raw
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        (argv.get(1).map(String::as_str) == Some("router"))
            .then_some(argv.clone())
            .ok_or_else(|| format!("{argv:?}"))
    });
    assert!(Path::new(&argv[0]).ends_with("bgplane"), "{argv:?}");
    assert_eq!(argv[1..], ARGS);
    wait_for(
        "the API on the default socket",
        Duration::from_secs(20),
        || {
            router.assert_running();
            cli.run(&["show", "bgp", "summary"]).map(|_| ())
        },
    );
    cli.run(&[
        "show",
        "bgp",
        "summary",
        "--socket",
        "/run/bgplane/router.sock",
    ])
    .expect("the socket is at the default path");

    let (mut p1, o1) = accept_session(&l1, "p1", 65001, P1);
    let (mut p2, o2) = accept_session(&l2, "p2", 65002, P2);
    assert_eq!((o1.asn(), o1.bgp_id), (65000, Ipv4Addr::new(10, 99, 0, 1)));
    assert_eq!(o2.asn(), 65000);
    wait_for("both sessions Established", Duration::from_secs(20), || {
        let s = cli.json(&["show", "bgp", "summary"]);
        let states: Vec<&str> = s["neighbors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["state"].as_str())
            .collect();
        (states == ["Established", "Established"])
            .then_some(())
            .ok_or_else(|| s.to_string())
    });

    // p1's routes first (so that p1's path of 10.5.0.0/24 is the best when p2's comes).
    p1.send(&update(&["10.1.0.0/24", "10.5.0.0/24"], &[65001], P1, None));
    wait_for("p1's routes in the RIB", Duration::from_secs(20), || {
        let v = cli.json(&["show", "bgp", "routes", "--received-from", "10.99.0.2"]);
        (prefixes(&v).len() == 2)
            .then_some(())
            .ok_or_else(|| v.to_string())
    });
    p2.send(&update(
        &["10.5.0.0/24", "10.7.0.0/24"],
        &[65002, 65100],
        P2,
        None,
    ));
    let at_p2 = read_routes(&mut p2, Duration::from_secs(20), |r| {
        r.contains_key("10.1.0.0/24") && r.contains_key("10.5.0.0/24")
    });
    for p in ["10.1.0.0/24", "10.5.0.0/24"] {
        assert_eq!(
            at_p2[p],
            ("65000 65001".to_string(), "10.99.0.1".to_string()),
            "{p} at p2"
        );
    }
    assert!(
        !at_p2.contains_key("10.7.0.0/24"),
        "p2's own route not sent back"
    );
    let at_p1 = read_routes(&mut p1, Duration::from_secs(20), |r| {
        r.contains_key("10.7.0.0/24")
    });
    assert_eq!(
        at_p1["10.7.0.0/24"],
        ("65000 65002 65100".to_string(), "10.99.0.1".to_string())
    );
    assert!(
        !at_p1.contains_key("10.5.0.0/24"),
        "its own best path not sent back"
    );

    // A prefix with two paths: the non-best one says why it lost.
    let text = cli.run(&["show", "bgp", "routes", "10.5.0.0/24"]).unwrap();
    assert!(
        text.contains("BGP routing table entry for 10.5.0.0/24, 2 paths"),
        "{text}"
    );
    let (best, other) = text
        .split_once("  65002 65100")
        .unwrap_or_else(|| panic!("p2's path not shown:\n{text}"));
    assert!(
        best.contains("from 10.99.0.2") && best.contains(", best"),
        "{text}"
    );
    assert!(other.contains("Not best: longer AS path"), "{text}");
    assert!(!best.contains("Not best"), "{text}");
    let v = cli.json(&["show", "bgp", "routes", "10.5.0.0/24"]);
    let paths = v[0]["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 2);
    assert_eq!(
        (&paths[0]["from"], &paths[0]["best"]),
        (&"10.99.0.2".into(), &true.into())
    );
    assert_eq!(paths[0]["reason"], Value::Null);
    assert_eq!(paths[1]["from"], "10.99.0.3");
    assert_eq!(paths[1]["reason"], "longer AS path");

    // --received-from: only p2's paths, the non-best one included.
    let text = cli
        .run(&["show", "bgp", "routes", "--received-from", "10.99.0.3"])
        .unwrap();
    assert!(text.contains("Displayed 2 routes"), "{text}");
    assert!(
        text.contains("10.5.0.0/24") && text.contains("10.7.0.0/24"),
        "{text}"
    );
    assert!(
        !text.contains("10.1.0.0/24") && !text.contains(" 65001 "),
        "{text}"
    );
    let v = cli.json(&["show", "bgp", "routes", "--received-from", "10.99.0.3"]);
    assert_eq!(prefixes(&v), ["10.5.0.0/24", "10.7.0.0/24"]);
    assert!(paths_from(&v).iter().all(|f| f == "10.99.0.3"), "{v}");

    // --advertised-to: what each peer was sent, as sent.
    let text = cli
        .run(&["show", "bgp", "routes", "--advertised-to", "10.99.0.3"])
        .unwrap();
    assert!(text.contains("Total number of prefixes 2"), "{text}");
    for p in ["10.1.0.0/24", "10.5.0.0/24"] {
        let line = text
            .lines()
            .find(|l| l.contains(p))
            .unwrap_or_else(|| panic!("{p} missing:\n{text}"));
        assert!(
            line.contains("10.99.0.1") && line.ends_with("65000 65001"),
            "{line}"
        );
    }
    let v = cli.json(&["show", "bgp", "routes", "--advertised-to", "10.99.0.2"]);
    assert_eq!(prefixes(&v), ["10.7.0.0/24"]);
    assert_eq!(v[0]["as_path"], "65000 65002 65100");
    assert_eq!(v[0]["next_hop"], "10.99.0.1");
    router.assert_running();
}
