//! Network namespaces and veth links, made with `ip` (iproute2). Links are created inside
//! our namespaces (`ip -n`), never in the host's.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::time::Duration;

use super::{run, wait_for, PREFIX};

fn ip(args: &[&str]) -> Result<String, String> {
    run(Command::new("ip").args(args))
}

/// A network namespace we created, with `lo` up and IPv6 duplicate address detection
/// off (addresses are usable at once); deleted on drop.
pub(crate) struct Netns {
    name: String,
}

impl Netns {
    /// Creates namespace `name`.
    pub(crate) fn create(name: &str) -> Netns {
        ip(&["netns", "add", name]).unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
        let ns = Netns { name: name.into() };
        ns.ip(&["link", "set", "lo", "up"]);
        run(super::in_ns(name, "sysctl").args([
            "-qw",
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0",
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        ns
    }

    /// The namespace's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn ip(&self, args: &[&str]) -> String {
        ns_ip(&self.name, args)
    }
}

/// `ip -n NS args`, panicking on failure.
pub(crate) fn ns_ip(ns: &str, args: &[&str]) -> String {
    let mut v = vec!["-n", ns];
    v.extend_from_slice(args);
    ip(&v).unwrap_or_else(|e| panic!("{e}"))
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            super::say(&format!("could not delete namespace {}: {e}", self.name));
        }
    }
}

/// A veth pair between two namespaces, with IPv4 and IPv6 addresses on both ends.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    /// Namespace of side b.
    pub(crate) b_ns: String,
    /// Interface name on side a.
    pub(crate) a_if: String,
    /// Interface name on side b.
    pub(crate) b_if: String,
    /// Side a's IPv4 address (.1).
    pub(crate) a4: Ipv4Addr,
    /// Side b's IPv4 address (.2).
    pub(crate) b4: Ipv4Addr,
    /// Side a's IPv6 address (::1).
    pub(crate) a6: Ipv6Addr,
    /// Side b's IPv6 address (::2).
    pub(crate) b6: Ipv6Addr,
    /// Side a's IPv6 link-local address.
    pub(crate) a_ll: Ipv6Addr,
    /// Side b's IPv6 link-local address.
    pub(crate) b_ll: Ipv6Addr,
}

/// Link number `n` of a lab between namespaces `a` and `b`; without IPv4 addresses
/// unless `v4` (the IPv4 fields are then unused).
pub(crate) fn link(a: &str, b: &str, n: u8, v4: bool) -> Link {
    link_with(a, b, n, v4, true)
}

/// [`link`], with global IPv6 addresses only if `v6` (otherwise only the link-local
/// ones: the IPv6 fields but `a_ll` and `b_ll` are then unused).
pub(crate) fn link_with(a: &str, b: &str, n: u8, v4: bool, v6: bool) -> Link {
    let mut l = Link {
        b_ns: b.into(),
        a_if: format!("veth{n}a"),
        b_if: format!("veth{n}b"),
        a4: Ipv4Addr::new(10, 90 + n, 0, 1),
        b4: Ipv4Addr::new(10, 90 + n, 0, 2),
        a6: format!("fd9{n}::1").parse().expect("IPv6 address"),
        b6: format!("fd9{n}::2").parse().expect("IPv6 address"),
        a_ll: Ipv6Addr::UNSPECIFIED,
        b_ll: Ipv6Addr::UNSPECIFIED,
    };
    ns_ip(
        a,
        &[
            "link", "add", &l.a_if, "type", "veth", "peer", "name", &l.b_if, "netns", b,
        ],
    );
    for (ns, ifname, addr4, addr6) in [(a, &l.a_if, l.a4, l.a6), (b, &l.b_if, l.b4, l.b6)] {
        if v4 {
            ns_ip(ns, &["addr", "add", &format!("{addr4}/24"), "dev", ifname]);
        }
        if v6 {
            ns_ip(
                ns,
                &[
                    "-6",
                    "addr",
                    "add",
                    &format!("{addr6}/64"),
                    "dev",
                    ifname,
                    "nodad",
                ],
            );
        }
        ns_ip(ns, &["link", "set", ifname, "up"]);
    }
    let mut lls = Vec::new();
    for (ns, ifname) in [(a, &l.a_if), (b, &l.b_if)] {
        let ll = wait_for(
            &format!("an IPv6 link-local address on {ns}/{ifname}"),
            Duration::from_secs(10),
            || {
                let out = ns_ip(ns, &["-6", "addr", "show", "dev", ifname, "scope", "link"]);
                if out.contains("tentative") {
                    return Err(out);
                }
                out.split_whitespace()
                    .skip_while(|w| *w != "inet6")
                    .nth(1)
                    .and_then(|a| a.split('/').next())
                    .and_then(|a| a.parse::<Ipv6Addr>().ok())
                    .ok_or(out)
            },
        );
        lls.push(ll);
    }
    (l.a_ll, l.b_ll) = (lls[0], lls[1]);
    l
}

/// Runs `f` on a new thread that has entered namespace `ns` and returns its result:
/// sockets `f` creates live in that namespace (and may be used from any thread).
pub(crate) fn within<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let name = ns.to_string();
    std::thread::spawn(move || {
        bench::netns::enter(&name).unwrap_or_else(|e| panic!("{e}"));
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Deletes namespaces `bgi-<pid>-...` left by earlier test runs that were killed (their
/// pid is gone) when nothing runs in them any more, and those runs' empty FRR path space
/// directories.
pub(crate) fn clean_stale() {
    let Ok(list) = ip(&["netns", "list"]) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if ip(&["netns", "pids", name]).is_ok_and(|p| p.trim().is_empty()) {
            super::say(&format!("deleting namespace {name} left by an earlier run"));
            let _ = ip(&["netns", "del", name]);
        } else {
            super::say(&format!(
                "namespace {name} of a dead test run still has processes (`ip netns pids {name}`); left alone"
            ));
        }
    }
    // FRR's `-N` path spaces of dead runs: empty directories /var/run/frr/bgi-<pid>-...
    if let Ok(rd) = std::fs::read_dir("/var/run/frr") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(PREFIX)
                .and_then(|r| r.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir(e.path());
            }
        }
    }
}
