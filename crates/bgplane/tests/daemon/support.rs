//! The router under test started from a configuration file (so that it can be signalled),
//! and the scripted peers' usual steps.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bgp_wire::Open;
use serde_json::Value;

use crate::harness::bgplane::{cli_at, json_at, neighbor_of};
use crate::harness::peer::{self, ty, wire, Msg, RawPeer};
use crate::harness::process::Proc;
use crate::harness::{bgplane_bin, wait_for, write, Lab};

/// `bgplane router --config FILE --no-fib` in a namespace; stopped on drop.
pub(crate) struct Router {
    proc: Proc,
    /// The API socket.
    pub(crate) socket: PathBuf,
    /// The configuration file.
    pub(crate) conf: PathBuf,
    log: PathBuf,
}

impl Router {
    /// Writes `yaml` (which starts with `router:` and has no `api` key) with the API
    /// socket in the lab's directory, starts the router in `ns` and waits for its API.
    pub(crate) fn start(lab: &Lab, ns: &str, yaml: &str) -> Router {
        let socket = lab.path("router.sock");
        let conf = lab.path("router.yaml");
        // The file must exist before the router starts: it reads it once at start-up
        // and exits if it is missing.
        write_config(&conf, &socket, yaml);
        let r = Router {
            proc: Proc::spawn(
                lab,
                ns,
                "router",
                &bgplane_bin(),
                &[
                    "router".into(),
                    "--config".into(),
                    conf.display().to_string(),
                    "--no-fib".into(),
                ],
                &[("BGPLANE_LOG", "info".into()), ("NO_COLOR", "1".into())],
            ),
            socket,
            conf,
            log: lab.path("router.log"),
        };
        r.wait_api();
        r
    }

    fn wait_api(&self) {
        wait_for("the router's API", Duration::from_secs(20), || {
            self.json(&["show", "bgp", "summary"]).map(|_| ())
        });
    }

    /// Replaces the configuration file (the API socket added).
    pub(crate) fn write(&self, yaml: &str) {
        write_config(&self.conf, &self.socket, yaml);
    }

    /// Sends SIGHUP (re-read the configuration file).
    pub(crate) fn sighup(&mut self) {
        self.proc.assert_running();
        self.proc.signal("HUP");
    }

    /// Runs `bgplane ARGS --socket S`.
    pub(crate) fn cli(&self, args: &[&str]) -> Result<String, String> {
        cli_at(&self.socket, args)
    }

    /// Runs `bgplane ARGS --socket S -o json` and parses the output.
    pub(crate) fn json(&self, args: &[&str]) -> Result<Value, String> {
        json_at(&self.socket, args)
    }

    /// `show bgp neighbors ADDR`: the neighbor's object.
    pub(crate) fn neighbor(&self, addr: IpAddr) -> Result<Value, String> {
        neighbor_of(
            self.json(&["show", "bgp", "neighbors", &addr.to_string()])?,
            addr,
        )
    }

    /// Waits until the session with `addr` is Established.
    pub(crate) fn wait_established(&self, addr: IpAddr) -> Value {
        wait_for(
            &format!("the session with {addr} to be Established"),
            Duration::from_secs(30),
            || {
                let n = self.neighbor(addr)?;
                (n["state"] == "Established")
                    .then_some(n.clone())
                    .ok_or_else(|| n.to_string())
            },
        )
    }

    /// The router's log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The address of a listening scripted peer: `addr` port 179 in namespace `ns`.
pub(crate) fn listen(ns: &str, addr: Ipv4Addr) -> TcpListener {
    peer::listen(ns, SocketAddr::new(IpAddr::V4(addr), 179))
}

/// Accepts the router's connection on `l` and opens the session as AS `asn` (hold time
/// 30, identifier `id`), then sends KEEPALIVEs every second. Returns the peer and the
/// router's OPEN.
pub(crate) fn accept_session(
    l: &TcpListener,
    label: &str,
    asn: u32,
    id: Ipv4Addr,
) -> (RawPeer, Open) {
    let mut p = RawPeer::new(peer::accept(l, Duration::from_secs(30)), label);
    let open = p.establish(asn, 30, id);
    p.keepalives(Duration::from_secs(1));
    (p, open)
}

/// Whether a connection is waiting on `l` (one arrives within `during`).
pub(crate) fn connection_within(l: &TcpListener, during: Duration) -> bool {
    l.set_nonblocking(true).expect("non-blocking listener");
    let deadline = Instant::now() + during;
    loop {
        if l.accept().is_ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An UPDATE announcing `prefixes` with AS path `path`, next hop `nh` and, if given, one
/// community.
pub(crate) fn update(
    prefixes: &[&str],
    path: &[u32],
    nh: Ipv4Addr,
    community: Option<u32>,
) -> Vec<u8> {
    let mut attrs = vec![wire::origin(0), wire::as_path(path), wire::next_hop(nh)];
    if let Some(c) = community {
        let flags = wire::flags::OPTIONAL | wire::flags::TRANSITIVE;
        attrs.push(wire::attr(flags, 8, &c.to_be_bytes()));
    }
    let nlri: Vec<u8> = prefixes.iter().flat_map(|p| wire::nlri4(p)).collect();
    wire::update(&[], &attrs, &nlri)
}

/// An IPv4 UPDATE as received: announced prefixes with AS path and next hop, withdrawn
/// prefixes, and whether it is the End-of-RIB.
#[derive(Debug, Clone, Default)]
pub(crate) struct Received {
    /// (prefix, AS path, next hop) of each announced prefix.
    pub(crate) routes: Vec<(String, String, String)>,
    /// Withdrawn prefixes.
    pub(crate) withdrawn: Vec<String>,
    /// An empty UPDATE: IPv4 End-of-RIB.
    pub(crate) eor: bool,
}

/// Decodes an UPDATE sent by the router (4-octet AS paths).
pub(crate) fn received(m: &Msg) -> Received {
    let u = wire::parse_update(&m.bytes);
    let path = u
        .attr(2)
        .map(|a| {
            let mut asns = Vec::new();
            let mut v = &a.value[..];
            while v.len() >= 2 {
                let n = usize::from(v[1]);
                for c in v[2..2 + 4 * n].chunks(4) {
                    asns.push(u32::from_be_bytes([c[0], c[1], c[2], c[3]]).to_string());
                }
                v = &v[2 + 4 * n..];
            }
            asns.join(" ")
        })
        .unwrap_or_default();
    let nh = u
        .attr(3)
        .map(|a| Ipv4Addr::new(a.value[0], a.value[1], a.value[2], a.value[3]).to_string())
        .unwrap_or_default();
    Received {
        routes: u
            .nlri
            .iter()
            .map(|p| (p.clone(), path.clone(), nh.clone()))
            .collect(),
        eor: u.nlri.is_empty() && u.withdrawn.is_empty() && u.attrs.is_empty(),
        withdrawn: u.withdrawn,
    }
}

/// Reads UPDATEs until `done` holds for the routes gathered (prefix → AS path and next
/// hop, withdrawals removing), within `timeout`; returns them.
pub(crate) fn read_routes(
    p: &mut RawPeer,
    timeout: Duration,
    mut done: impl FnMut(&std::collections::BTreeMap<String, (String, String)>) -> bool,
) -> std::collections::BTreeMap<String, (String, String)> {
    let mut routes = std::collections::BTreeMap::new();
    let deadline = Instant::now() + timeout;
    while !done(&routes) {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = p.recv_until("an UPDATE", left, |m| m.ty == ty::UPDATE);
        let r = received(&m);
        for w in r.withdrawn {
            routes.remove(&w);
        }
        for (prefix, path, nh) in r.routes {
            routes.insert(prefix, (path, nh));
        }
    }
    routes
}

/// Writes `yaml` (which starts with `router:`) to `conf` with the API socket added.
fn write_config(conf: &Path, socket: &Path, yaml: &str) {
    let rest = yaml
        .trim_start()
        .strip_prefix("router:\n")
        .expect("configuration starting with `router:`");
    let text = format!(
        "router:\n  api: {{ socket: {:?} }}\n{rest}",
        socket.display().to_string()
    );
    write(conf, &text);
}
