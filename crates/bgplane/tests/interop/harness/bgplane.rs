//! bgplane under test: its YAML configuration, the `bgplane router` process, and its state
//! through the CLI (`bgplane show ... -o json`, `clear`, `reload`).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use super::daemon::{Route, RouteSpec};
use super::process::Proc;
use super::{bgplane_bin, run, timeouts, wait_for, write, Lab};

/// One neighbor of bgplane's configuration.
#[derive(Debug, Clone)]
pub(crate) struct NeighborConf {
    /// Its address.
    pub(crate) address: IpAddr,
    /// Unnumbered: the interface it is reached on (then `address` is not written).
    pub(crate) interface: Option<String>,
    /// `remote-as`: a number, `internal` or `external`.
    pub(crate) remote_as: String,
    /// Wait for the neighbor to connect.
    pub(crate) passive: bool,
    /// Hold time.
    pub(crate) hold_time: u16,
    /// ConnectRetry time.
    pub(crate) connect_retry: u32,
    /// Administrative shutdown with this message.
    pub(crate) shutdown: Option<String>,
    /// Extra YAML keys, e.g. `families: [ipv4-unicast]`.
    pub(crate) extra: Vec<String>,
}

impl NeighborConf {
    /// An active neighbor with hold time 9 and ConnectRetry 1.
    pub(crate) fn new(address: impl Into<IpAddr>, remote_as: u32) -> Self {
        NeighborConf {
            address: address.into(),
            interface: None,
            remote_as: remote_as.to_string(),
            passive: false,
            hold_time: 9,
            connect_retry: 1,
            shutdown: None,
            extra: Vec::new(),
        }
    }
}

/// bgplane's configuration.
#[derive(Debug, Clone)]
pub(crate) struct BgplaneConf {
    /// Local AS.
    pub(crate) asn: u32,
    /// BGP identifier.
    pub(crate) router_id: std::net::Ipv4Addr,
    /// Addresses to listen on.
    pub(crate) listen: Vec<IpAddr>,
    /// Networks to originate.
    pub(crate) networks: Vec<RouteSpec>,
    /// Neighbors.
    pub(crate) neighbors: Vec<NeighborConf>,
}

fn quoted(v: &[&str]) -> String {
    let items: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", items.join(", "))
}

impl BgplaneConf {
    /// The YAML text, with the API socket `socket`.
    pub(crate) fn yaml(&self, socket: &std::path::Path) -> String {
        let listen: Vec<String> = self.listen.iter().map(|a| a.to_string()).collect();
        let mut y = format!(
            "router:\n  asn: {}\n  router-id: {}\n  listen: [{}]\n  api: {{ socket: {:?} }}\n",
            self.asn,
            self.router_id,
            listen.join(", "),
            socket.display().to_string()
        );
        y += "networks:\n";
        if self.networks.is_empty() {
            y.truncate(y.len() - 1);
            y += " []\n";
        }
        for n in &self.networks {
            let _ = writeln!(
                y,
                "  - prefix: {}\n    communities: {}\n    large-communities: {}",
                n.prefix,
                quoted(n.communities),
                quoted(n.large)
            );
        }
        y += "neighbors:\n";
        for n in &self.neighbors {
            let name = match &n.interface {
                Some(i) => format!("interface: {i}"),
                None => format!("address: {}", n.address),
            };
            let _ = writeln!(
                y,
                "  - {name}\n    remote-as: {}\n    passive: {}\n    hold-time: {}\n    connect-retry: {}",
                n.remote_as, n.passive, n.hold_time, n.connect_retry
            );
            if let Some(m) = &n.shutdown {
                let _ = writeln!(y, "    shutdown: {{ message: {m:?} }}");
            }
            for e in &n.extra {
                let _ = writeln!(y, "    {e}");
            }
        }
        y
    }
}

/// Starts `bgplane router --config FILE` (with `--no-fib` unless `fib`) in `ns`, its
/// output in `<log>.log`.
fn spawn(lab: &Lab, ns: &str, log: &str, conf_path: &std::path::Path, fib: bool) -> Proc {
    let level = std::env::var("BGI_BGPLANE_LOG").unwrap_or_else(|_| "debug".into());
    let mut args = vec![
        "router".to_string(),
        "--config".into(),
        conf_path.display().to_string(),
    ];
    if !fib {
        args.push("--no-fib".into());
    }
    Proc::spawn(
        lab,
        ns,
        log,
        &bgplane_bin(),
        &args,
        &[("BGPLANE_LOG", level), ("NO_COLOR", "1".into())],
    )
}

/// A running `bgplane router`; stopped on drop.
pub(crate) struct Bgplane {
    /// The configuration last written, when built from a [`BgplaneConf`] (not when
    /// started from YAML text with [`Bgplane::start_yaml`]).
    pub(crate) conf: Option<BgplaneConf>,
    conf_path: PathBuf,
    socket: PathBuf,
    name: String,
    ns: String,
    fib: bool,
    starts: u32,
    proc: Proc,
}

/// Puts the API socket into YAML text whose first line is `router:`.
fn with_socket(yaml: &str, socket: &std::path::Path) -> String {
    let rest = yaml
        .trim_start()
        .strip_prefix("router:\n")
        .unwrap_or_else(|| panic!("bgplane YAML must start with `router:`: {yaml}"));
    format!(
        "router:\n  api: {{ socket: {:?} }}\n{rest}",
        socket.display().to_string()
    )
}

impl Bgplane {
    /// Writes the configuration and starts `bgplane router --config FILE --no-fib` in
    /// namespace `ns`; returns once its API answers. The log level is
    /// `BGI_BGPLANE_LOG` (default `debug`).
    pub(crate) fn start(lab: &Lab, ns: &str, name: &str, conf: BgplaneConf) -> Bgplane {
        let socket = lab.path(&format!("{name}.sock"));
        let text = conf.yaml(&socket);
        let mut b = Self::launch(lab, ns, name, &text, false);
        b.conf = Some(conf);
        b
    }

    /// Starts `bgplane router` in `ns` with the configuration `yaml` (which starts with
    /// `router:` and has no `api` key: the harness adds the socket), with the kernel FIB
    /// when `fib` (without `--no-fib`); returns once its API answers.
    pub(crate) fn start_yaml(lab: &Lab, ns: &str, name: &str, yaml: &str, fib: bool) -> Bgplane {
        let socket = lab.path(&format!("{name}.sock"));
        Self::launch(lab, ns, name, &with_socket(yaml, &socket), fib)
    }

    fn launch(lab: &Lab, ns: &str, name: &str, text: &str, fib: bool) -> Bgplane {
        let conf_path = lab.path(&format!("{name}.yaml"));
        let socket = lab.path(&format!("{name}.sock"));
        write(&conf_path, text);
        let mut b = Bgplane {
            conf: None,
            proc: spawn(lab, ns, name, &conf_path, fib),
            conf_path,
            socket,
            name: name.into(),
            ns: ns.into(),
            fib,
            starts: 1,
        };
        b.wait_api();
        b
    }

    fn wait_api(&mut self) {
        wait_for("bgplane's API", timeouts::START, || {
            if !self.proc.running() {
                panic!("bgplane router ({}) exited at start", self.name);
            }
            self.json(&["show", "bgp", "summary"]).map(|_| ())
        });
    }

    /// Stops the router with SIGTERM (a graceful shutdown) and waits for it to exit.
    pub(crate) fn stop(&mut self) {
        self.proc.signal("TERM");
        assert!(
            self.proc.wait_exit(std::time::Duration::from_secs(10)),
            "bgplane router ({}) did not exit within 10 s of SIGTERM",
            self.name
        );
        self.proc.stop();
    }

    /// Kills the router with SIGKILL (a crash: no NOTIFICATION, its kernel routes stay).
    pub(crate) fn kill(&mut self) {
        self.proc.kill();
    }

    /// Starts the router again in place (same namespace, configuration file and socket)
    /// after [`Bgplane::stop`]; its log is `<name>-<n>.log`. Returns once its API answers.
    pub(crate) fn start_again(&mut self, lab: &Lab) {
        self.proc.stop();
        self.starts += 1;
        let log = format!("{}-{}", self.name, self.starts);
        self.proc = spawn(lab, &self.ns, &log, &self.conf_path, self.fib);
        self.wait_api();
    }

    /// Runs `bgplane ARGS --socket S` and returns its stdout.
    pub(crate) fn cli(&self, args: &[&str]) -> Result<String, String> {
        cli_at(&self.socket, args)
    }

    /// Runs `bgplane ARGS --socket S -o json` and parses the output.
    pub(crate) fn json(&self, args: &[&str]) -> Result<Value, String> {
        json_at(&self.socket, args)
    }

    /// `show bgp neighbors ADDR`: the neighbor's JSON object.
    pub(crate) fn neighbor(&self, addr: IpAddr) -> Result<Value, String> {
        neighbor_of(
            self.json(&["show", "bgp", "neighbors", &addr.to_string()])?,
            addr,
        )
    }

    /// The only neighbor (unnumbered sessions have no configured address to ask for).
    pub(crate) fn only_neighbor(&self) -> Result<Value, String> {
        let v = self.json(&["show", "bgp", "neighbors"])?;
        match v.as_array().map(Vec::as_slice) {
            Some([n]) => Ok(n.clone()),
            _ => Err(format!("not exactly one neighbor: {v}")),
        }
    }

    /// The FSM state of a neighbor.
    pub(crate) fn state(&self, addr: IpAddr) -> Result<String, String> {
        let n = self.neighbor(addr)?;
        Ok(n["state"].as_str().unwrap_or("?").to_string())
    }

    /// Whether the session with `addr` is Established.
    pub(crate) fn established(&self, addr: IpAddr) -> Result<(), String> {
        let n = self.neighbor(addr)?;
        if n["state"] == "Established" && n["established"] == true {
            Ok(())
        } else {
            Err(format!(
                "state {}, last error {}",
                n["state"], n["last_error"]
            ))
        }
    }

    /// Waits until the session with `addr` is Established.
    pub(crate) fn wait_established(&self, addr: IpAddr) {
        wait_for(
            &format!("bgplane's session with {addr} to be Established"),
            timeouts::SESSION,
            || self.established(addr),
        );
    }

    /// The `last_error` of a neighbor.
    pub(crate) fn last_error(&self, addr: IpAddr) -> Result<Option<String>, String> {
        Ok(self.neighbor(addr)?["last_error"]
            .as_str()
            .map(str::to_string))
    }

    /// The summary row of the neighbor `addr`.
    pub(crate) fn summary_row(&self, addr: IpAddr) -> Result<Value, String> {
        let s = self.json(&["show", "bgp", "summary"])?;
        s["neighbors"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["neighbor"] == addr.to_string()))
            .cloned()
            .ok_or_else(|| format!("no summary row for {addr}: {s}"))
    }

    /// The paths of `prefix`, as JSON objects.
    pub(crate) fn paths(&self, prefix: &str) -> Result<Vec<Value>, String> {
        let v = self.json(&["show", "bgp", "routes", prefix])?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["prefix"] == prefix)
            .flat_map(|r| r["paths"].as_array().cloned().unwrap_or_default())
            .collect())
    }

    /// The path of `prefix` received from `from`, if any.
    pub(crate) fn path_from(&self, prefix: &str, from: IpAddr) -> Result<Option<Value>, String> {
        Ok(self
            .paths(prefix)?
            .into_iter()
            .find(|p| p["from"] == from.to_string()))
    }

    /// The route of `prefix` received from `from`, communities normalised.
    pub(crate) fn route_from(&self, prefix: &str, from: IpAddr) -> Result<Option<Route>, String> {
        Ok(self.path_from(prefix, from)?.map(|p| {
            let strings = |k: &str| -> Vec<String> {
                p[k].as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect()
            };
            Route {
                prefix: prefix.into(),
                communities: strings("communities"),
                large: strings("large_communities"),
                as_path: p["as_path"].as_str().unwrap_or_default().to_string(),
                next_hop: p["next_hop"].as_str().unwrap_or_default().to_string(),
            }
        }))
    }

    /// Checks that bgplane holds `want` from `from`, with its communities, as an
    /// accepted, non-stale path.
    pub(crate) fn has_route(&self, want: &RouteSpec, from: IpAddr) -> Result<(), String> {
        let p = self
            .path_from(want.prefix, from)?
            .ok_or_else(|| format!("bgplane has no path for {} from {from}", want.prefix))?;
        if p["rejected"] == true || p["stale"] == true {
            return Err(format!("path is rejected or stale: {p}"));
        }
        let r = self
            .route_from(want.prefix, from)?
            .ok_or_else(|| "path vanished".to_string())?;
        want.matches(&r)
    }

    /// Checks that bgplane holds no path for `prefix` from `from`.
    pub(crate) fn lacks_route(&self, prefix: &str, from: IpAddr) -> Result<(), String> {
        match self.path_from(prefix, from)? {
            None => Ok(()),
            Some(p) => Err(format!("bgplane still has {prefix} from {from}: {p}")),
        }
    }

    /// Changes the configuration, rewrites the file and runs `bgplane reload`.
    pub(crate) fn reconfigure(&mut self, change: impl FnOnce(&mut BgplaneConf)) {
        let conf = self
            .conf
            .as_mut()
            .expect("reconfigure needs a router started from a BgplaneConf");
        change(conf);
        let text = conf.yaml(&self.socket);
        self.reload_text(&text);
    }

    /// Replaces the configuration with `yaml` (as for [`Bgplane::start_yaml`]) and runs
    /// `bgplane reload`.
    pub(crate) fn reconfigure_yaml(&mut self, yaml: &str) {
        let text = with_socket(yaml, &self.socket);
        self.reload_text(&text);
    }

    fn reload_text(&mut self, text: &str) {
        write(&self.conf_path, text);
        let out = self
            .cli(&["reload"])
            .unwrap_or_else(|e| panic!("bgplane reload: {e}"));
        assert!(
            !out.to_lowercase().contains("refused"),
            "bgplane reload refused the configuration: {out}"
        );
    }

    /// `bgplane clear bgp ADDR --soft in`.
    pub(crate) fn soft_in(&self, addr: IpAddr) {
        self.cli(&["clear", "bgp", &addr.to_string(), "--soft", "in"])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Panics if the router has exited.
    pub(crate) fn assert_running(&mut self) {
        self.proc.assert_running();
    }
}

/// Runs `bgplane ARGS --socket SOCKET` and returns its stdout.
pub(crate) fn cli_at(socket: &std::path::Path, args: &[&str]) -> Result<String, String> {
    run(Command::new(bgplane_bin())
        .args(args)
        .arg("--socket")
        .arg(socket))
}

/// Runs `bgplane ARGS --socket SOCKET -o json` and parses the output.
pub(crate) fn json_at(socket: &std::path::Path, args: &[&str]) -> Result<Value, String> {
    let out = cli_at(socket, &[args, &["-o", "json"]].concat())?;
    serde_json::from_str(&out).map_err(|e| format!("bgplane {args:?}: bad JSON ({e}): {out}"))
}

/// The neighbor object of `show bgp neighbors ADDR -o json` (an array of one, or the object).
pub(crate) fn neighbor_of(v: Value, addr: IpAddr) -> Result<Value, String> {
    let n = match &v {
        Value::Array(a) => a.first().cloned(),
        o @ Value::Object(_) => Some(o.clone()),
        _ => None,
    };
    n.ok_or_else(|| format!("no neighbor {addr} in {v}"))
}
