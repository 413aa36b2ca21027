//! Installs, replaces and removes routes in a network namespace of its own, and reads them
//! back with `ip route`. Needs root; skips with a message otherwise (a failure under
//! `BGPLANE_TEST_REQUIRE_ALL=1`).

use std::net::IpAddr;
use std::process::Command;

use fib::{Fib, FibConfig, FibNextHop, FibRoute, Op};

#[path = "../../../tests/support/skip.rs"]
mod skip;
use skip::skipped;

struct Ns(String);

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("ip");
    assert!(st.success(), "ip {args:?}");
}

fn routes(ns: &str, v6: bool) -> String {
    let fam = if v6 { "-6" } else { "-4" };
    let out = Command::new("ip")
        .args(["-n", ns, fam, "route", "show", "proto", "bgp"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Runs `f` on a thread that entered the namespace, with a tokio runtime.
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap();
        nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        f()
    })
    .join()
    .unwrap()
}

/// A namespace `<tag>-<pid>` with a veth pair a0/b0 up, and `addr` on a0.
fn one_link(tag: &str, addr: &str) -> Ns {
    let ns = Ns(format!("{tag}-{}", std::process::id()));
    ip(&["netns", "add", &ns.0]);
    ip(&[
        "-n", &ns.0, "link", "add", "a0", "type", "veth", "peer", "name", "b0",
    ]);
    for l in ["a0", "b0", "lo"] {
        ip(&["-n", &ns.0, "link", "set", l, "up"]);
    }
    ip(&["-n", &ns.0, "addr", "add", addr, "dev", "a0"]);
    ns
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn hop(g: &str, ifindex: Option<u32>) -> FibNextHop {
    FibNextHop {
        gateway: g.parse::<IpAddr>().unwrap(),
        ifindex,
    }
}

#[test]
fn routes_are_installed_replaced_with_ecmp_and_removed() {
    if !root() {
        skipped("skipped: needs root (network namespaces)");
        return;
    }
    let name = format!("fibt-{}", std::process::id());
    ip(&["netns", "add", &name]);
    let ns = Ns(name.clone());
    ip(&[
        "-n", &ns.0, "link", "add", "a0", "type", "veth", "peer", "name", "b0",
    ]);
    ip(&[
        "-n", &ns.0, "link", "add", "a1", "type", "veth", "peer", "name", "b1",
    ]);
    for l in ["a0", "b0", "a1", "b1", "lo"] {
        ip(&["-n", &ns.0, "link", "set", l, "up"]);
    }
    ip(&["-n", &ns.0, "addr", "add", "10.77.0.1/24", "dev", "a0"]);
    ip(&["-n", &ns.0, "addr", "add", "10.77.1.1/24", "dev", "a1"]);
    ip(&[
        "-n",
        &ns.0,
        "addr",
        "add",
        "fd77::1/64",
        "dev",
        "a0",
        "nodad",
    ]);

    let ns_name = ns.0.clone();
    let (kernel_ok, a0) = in_ns(&ns_name, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let fib = Fib::connect(FibConfig::default()).unwrap();
            let k = fib.kernel().await.unwrap();
            let a0 = k.link_index("a0").unwrap();
            let r = k.resolve("10.77.0.9".parse().unwrap(), None).unwrap();
            (r.ifindex == Some(a0) && r.metric == 0, a0)
        })
    });
    assert!(kernel_ok, "the connected subnet resolves the next hop");

    let ns_name = ns.0.clone();
    let stats = in_ns(&ns_name, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let fib = Fib::connect(FibConfig::default()).unwrap();
            let mut ops = vec![
                Op::Replace(FibRoute {
                    prefix: "10.1.0.0/24".parse().unwrap(),
                    nexthops: vec![hop("10.77.0.2", None)],
                }),
                Op::Replace(FibRoute {
                    prefix: "10.2.0.0/24".parse().unwrap(),
                    nexthops: vec![hop("10.77.0.2", None), hop("10.77.1.2", None)],
                }),
                Op::Replace(FibRoute {
                    prefix: "fd01::/48".parse().unwrap(),
                    nexthops: vec![hop("fd77::2", None)],
                }),
                // RFC 8950: an IPv4 route through an IPv6 link-local next hop.
                Op::Replace(FibRoute {
                    prefix: "10.3.0.0/24".parse().unwrap(),
                    nexthops: vec![hop("fe80::2", Some(a0))],
                }),
                // No next hop: a blackhole route.
                Op::Replace(FibRoute {
                    prefix: "10.4.0.0/16".parse().unwrap(),
                    nexthops: vec![],
                }),
            ];
            // Many routes at once.
            for i in 0..2000u32 {
                let p = format!("10.100.{}.{}/32", i / 256, i % 256);
                ops.push(Op::Replace(FibRoute {
                    prefix: p.parse().unwrap(),
                    nexthops: vec![hop("10.77.1.2", None)],
                }));
            }
            fib.apply(ops).await
        })
    });
    assert_eq!(stats.failed, 0, "{stats:?}");
    assert_eq!(stats.installed, 2005);
    let v4 = routes(&ns.0, false);
    assert!(v4.contains("10.1.0.0/24 via 10.77.0.2 dev a0"), "{v4}");
    assert!(
        v4.contains("10.2.0.0/24 metric 20") && v4.contains("nexthop via 10.77.1.2 dev a1"),
        "{v4}"
    );
    assert!(v4.contains("10.3.0.0/24 via inet6 fe80::2 dev a0"), "{v4}");
    assert!(v4.contains("blackhole 10.4.0.0/16 metric 20"), "{v4}");
    assert_eq!(
        v4.lines().filter(|l| l.starts_with("10.100.")).count(),
        2000
    );
    assert!(routes(&ns.0, true).contains("fd01::/48 via fd77::2 dev a0"));

    // Replace, list ours, remove everything.
    let ns_name = ns.0.clone();
    let (own, removed) = in_ns(&ns_name, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let fib = Fib::connect(FibConfig::default()).unwrap();
            fib.apply(vec![Op::Replace(FibRoute {
                prefix: "10.1.0.0/24".parse().unwrap(),
                nexthops: vec![hop("10.77.1.2", None)],
            })])
            .await;
            let own = fib.own_routes().await.unwrap();
            let n = own.len();
            let s = fib.apply(own.into_iter().map(Op::Delete).collect()).await;
            (n, s.removed)
        })
    });
    assert_eq!(own, 2005, "the replacement did not add a route");
    assert_eq!(removed, 2005);
    assert!(routes(&ns.0, false).trim().is_empty());
}

#[test]
fn refused_routes_are_counted_by_name_and_the_rest_of_their_datagram_is_installed() {
    if !root() {
        skipped("skipped: needs root (network namespaces)");
        return;
    }
    let ns = one_link("fibr", "10.78.0.1/24");
    let (add, del) = in_ns(&ns.0, || {
        runtime().block_on(async {
            let fib = Fib::connect(FibConfig::default()).unwrap();
            // 600 routes span three datagrams; the kernel refuses the first, one in the
            // middle and the last (their gateway is on no connected network).
            let ops = (0..600u32)
                .map(|i| {
                    let gw = if matches!(i, 0 | 300 | 599) {
                        "10.250.0.1"
                    } else {
                        "10.78.0.2"
                    };
                    Op::Replace(FibRoute {
                        prefix: format!("10.101.{}.{}/32", i / 256, i % 256)
                            .parse()
                            .unwrap(),
                        nexthops: vec![hop(gw, None)],
                    })
                })
                .collect();
            let add = fib.apply(ops).await;
            // Removing everything, and two routes that are not there.
            let mut ops: Vec<Op> = fib
                .own_routes()
                .await
                .unwrap()
                .into_iter()
                .map(Op::Delete)
                .collect();
            ops.insert(10, Op::Delete("10.102.0.0/24".parse().unwrap()));
            ops.push(Op::Delete("10.102.1.0/24".parse().unwrap()));
            (add, fib.apply(ops).await)
        })
    });
    assert_eq!((add.installed, add.failed), (597, 3), "{add:?}");
    assert_eq!((del.removed, del.failed), (597, 2), "{del:?}");
    assert!(routes(&ns.0, false).trim().is_empty());
}

#[test]
fn the_monitor_filter_drops_notifications_of_our_routes_only() {
    use futures_util::StreamExt;
    use rtnetlink::packet_core::NetlinkPayload;
    use rtnetlink::packet_route::RouteNetlinkMessage;
    use rtnetlink::sys::AsyncSocket;

    if !root() {
        skipped("skipped: needs root (network namespaces)");
        return;
    }
    let ns = one_link("fibm", "10.79.0.1/24");
    let ns_name = ns.0.clone();
    let seen = in_ns(&ns.0, move || {
        runtime().block_on(async move {
            let groups = [rtnetlink::MulticastGroup::Ipv4Route];
            let (mut conn, _h, mut events) =
                rtnetlink::new_multicast_connection(&groups).unwrap();
            let cfg = FibConfig::default();
            fib::ignore_own_routes(conn.socket_mut().socket_ref(), &cfg).unwrap();
            tokio::spawn(conn);
            let fib = Fib::connect(cfg).unwrap();
            let ours = (0..50u32)
                .map(|i| {
                    Op::Replace(FibRoute {
                        prefix: format!("10.103.0.{i}/32").parse().unwrap(),
                        nexthops: vec![hop("10.79.0.2", None)],
                    })
                })
                .collect();
            assert_eq!(fib.apply(ours).await.installed, 50);
            ip(&[
                "-n", &ns_name, "route", "add", "10.104.0.0/24", "via", "10.79.0.2", "proto",
                "static",
            ]);
            let mut seen = Vec::new();
            let deadline = tokio::time::sleep(std::time::Duration::from_millis(500));
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    _ = &mut deadline => break,
                    Some((m, _)) = events.next() => {
                        if let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(r)) =
                            m.payload
                        {
                            seen.push((r.header.destination_prefix_length, u8::from(r.header.protocol)));
                        }
                    }
                }
            }
            seen
        })
    });
    assert!(
        seen.contains(&(24, 4)),
        "the static route is announced: {seen:?}"
    );
    assert!(
        seen.iter().all(|&(_, proto)| proto != 186),
        "none of our 50 routes is: {seen:?}"
    );
}
