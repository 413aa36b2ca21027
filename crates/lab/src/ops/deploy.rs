//! `lab deploy`: namespaces, bridges, veths, supervisors, then daemons and exec lines.
//!
//! The state file is written before anything is created; if a step fails, everything made
//! so far is removed again (the same teardown as `destroy`). Exec lines that fail do not roll
//! back: they are reported per node and deploy exits non-zero with the lab up.

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::exec::{run_capture, split_command, Captured};
use super::{destroy, inspect, load_plan, par_map, Format, OpError};
use crate::cli::SelfExe;
use crate::plan::behaviour::Behaviour;
use crate::plan::{LabPlan, Ns};
use crate::rt::netlink::{Nl, VethEnd};
use crate::rt::state::{LabLock, LabState, Phase};
use crate::rt::supervisor::NodeSpec;
use crate::rt::{fsprep, netns, require_root, spawn, RtError};

/// Options of `lab deploy`.
pub struct DeployOpts {
    /// Topology file.
    pub topo: PathBuf,
    /// kind cluster file.
    pub cluster: Option<PathBuf>,
    /// `--cluster-name`.
    pub cluster_name: Option<String>,
    /// Destroy a deployed lab of the same name first.
    pub reconfigure: bool,
    /// Routes between cluster nodes' pod CIDRs over shared links (Cilium's
    /// `autoDirectNodeRoutes`).
    pub auto_direct_node_routes: bool,
    /// Labs root directory.
    pub root: PathBuf,
    /// How to re-invoke this binary for node supervisors.
    pub exe: SelfExe,
    /// Output format of the final table.
    pub format: Format,
}

/// Sysctls of every node namespace (containerlab sets the same for linux nodes), then the
/// node's own `sysctls:`.
const NODE_SYSCTLS: &[(&str, &str)] = &[
    ("net.ipv4.ip_forward", "1"),
    ("net.ipv6.conf.all.forwarding", "1"),
    ("net.ipv6.conf.default.forwarding", "1"),
    ("net.ipv6.conf.all.accept_dad", "0"),
    ("net.ipv6.conf.default.accept_dad", "0"),
    ("net.ipv6.conf.all.autoconf", "0"),
    ("net.ipv6.conf.default.autoconf", "0"),
];

struct Progress(Instant);

impl Progress {
    fn step(&self, msg: impl AsRef<str>) {
        eprintln!("[{:6.2}s] {}", self.0.elapsed().as_secs_f64(), msg.as_ref());
    }
}

/// Deploys a lab and prints its inspect table. Returns the state.
pub fn deploy(opts: &DeployOpts) -> Result<LabState, OpError> {
    require_root("bgplane lab deploy")?;
    let progress = Progress(Instant::now());
    let (plan, cluster_file) = load_plan(
        &opts.topo,
        opts.cluster.as_deref(),
        opts.cluster_name.as_deref(),
        &opts.root,
    )?;
    let n_links = plan.links.iter().filter(|l| !l.mgmt).count();
    progress.step(format!(
        "lab {}: {} nodes{}, {} links from {}",
        plan.name,
        plan.nodes.len(),
        plan.cluster_name
            .as_ref()
            .map(|c| format!(
                " ({} of kind cluster {c})",
                plan.nodes
                    .iter()
                    .filter(|n| n.behaviour == Behaviour::ClusterNode)
                    .count()
            ))
            .unwrap_or_default(),
        n_links,
        opts.topo.display()
    ));
    for n in &plan.notes {
        eprintln!("          note: {n}");
    }
    let _lock = LabLock::take(&plan.lab_dir, &plan.name)?;
    if let Some(old) = LabState::load(&plan.lab_dir)? {
        let alive = old.phase == Phase::Running && destroy::any_alive(&old);
        if alive && !opts.reconfigure {
            return Err(OpError::Usage(format!(
                "lab {} is already deployed; use --reconfigure to redeploy it, or `bgplane lab destroy`",
                plan.name
            )));
        }
        destroy::teardown(&old, false)?;
        progress.step(format!(
            "removed the previous deployment of lab {}",
            plan.name
        ));
    }
    // Before anything is made (and so before anything could be rolled back): the rollback
    // removes the lab's namespaces by name, which must never be another lab's.
    if let Some(ns) = plan.all_netns().into_iter().find(|ns| netns::exists(ns)) {
        return Err(RtError::Lab {
            lab: plan.name.clone(),
            msg: format!("network namespace {ns} already exists (another lab of the same name, or a leftover: `ip netns del {ns}`)"),
        }
        .into());
    }
    let mut st = LabState::new(plan, cluster_file);
    st.save()?;
    let prepared = crate::cluster::prepare(&st.plan, &opts.exe).map_err(OpError::from);
    if let Ok(Some(note)) = &prepared {
        eprintln!("          note: {note}");
    }
    if let Err(e) = prepared.and_then(|_| build(&mut st, opts, &progress)) {
        progress.step(format!("deploy failed: {e}; rolling back"));
        st.phase = Phase::Destroying;
        let _ = st.save();
        destroy::teardown(&st, false)?;
        progress.step("rolled back: nothing of the lab remains");
        return Err(e);
    }
    st.phase = Phase::Running;
    st.save()?;
    let mut failures = run_exec_phase(&st, &progress);
    if crate::cluster::has_cluster(&st.plan) {
        let failed = crate::cluster::node_routes(&st, opts.auto_direct_node_routes);
        for f in &failed {
            eprintln!("          {f}  → FAILED");
        }
        failures += failed.len();
        progress.step("cluster nodes: Node objects, pod CIDR blackhole routes, agents");
    }
    progress.step("deployed");
    inspect::print(&st, opts.format)?;
    if failures > 0 {
        return Err(OpError::ExecFailed { count: failures });
    }
    Ok(st)
}

/// Creates namespaces, bridges, veths and supervisors.
fn build(st: &mut LabState, opts: &DeployOpts, progress: &Progress) -> Result<(), OpError> {
    let plan = st.plan.clone();
    netns::ensure_dir()?;
    for ns in plan.all_netns() {
        if netns::exists(&ns) {
            return Err(RtError::Lab {
                lab: plan.name.clone(),
                msg: format!("network namespace {ns} already exists (another lab, or a leftover: `ip netns del {ns}`)"),
            }
            .into());
        }
    }
    let lab_sysctls: Vec<(String, String)> = NODE_SYSCTLS[3..5]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lab_fd = netns::create(&plan.lab_netns, &lab_sysctls)?;
    let mut lab_nl = Nl::open_in(lab_fd.as_fd(), &plan.lab_netns)?;
    let mut bridge_idx: HashMap<String, u32> = HashMap::new();
    for net in std::iter::once(&plan.mgmt).chain(plan.kind_net.as_ref()) {
        let idx = lab_nl.add_bridge(&net.bridge, net.mtu)?;
        lab_nl.add_addr(
            &net.bridge,
            ipnet::IpNet::new(net.gw4.into(), net.v4.prefix_len()).expect("prefix"),
        )?;
        if let (Some(gw6), Some(v6)) = (net.gw6, net.v6) {
            lab_nl.add_addr(
                &net.bridge,
                ipnet::IpNet::new(gw6.into(), v6.prefix_len()).expect("prefix"),
            )?;
        }
        bridge_idx.insert(net.bridge.clone(), idx);
    }
    for b in &plan.bridges {
        let mtu = plan
            .links
            .iter()
            .filter(|l| {
                l.a.master.as_deref() == Some(b.as_str())
                    || l.b.master.as_deref() == Some(b.as_str())
            })
            .map(|l| l.mtu)
            .max()
            .unwrap_or(1500);
        bridge_idx.insert(b.clone(), lab_nl.add_bridge(b, mtu)?);
    }
    progress.step(format!(
        "lab namespace {} with bridges {}",
        plan.lab_netns,
        bridge_idx.keys().cloned().collect::<Vec<_>>().join(", ")
    ));

    // Node namespaces, in parallel. Nodes sharing a namespace contribute their sysctls.
    let owners: Vec<usize> = (0..plan.nodes.len())
        .filter(|i| plan.nodes[*i].netns.is_some())
        .collect();
    let created = par_map(&owners, 4, |_, &i| {
        let mut sysctls: Vec<(String, String)> = NODE_SYSCTLS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for n in plan.nodes.iter().filter(|n| n.ns == Ns::Node(i)) {
            sysctls.extend(n.sysctls.iter().cloned());
        }
        let name = plan.nodes[i].netns.clone().unwrap_or_default();
        let fd = netns::create(&name, &sysctls)?;
        let nl = Nl::open_in(fd.as_fd(), &name)?;
        Ok::<_, RtError>((fd, nl))
    });
    let mut fds: HashMap<usize, OwnedFd> = HashMap::new();
    let mut nls: HashMap<usize, Nl> = HashMap::new();
    for (i, r) in owners.iter().zip(created) {
        let (fd, nl) = r?;
        fds.insert(*i, fd);
        nls.insert(*i, nl);
    }
    progress.step(format!("{} node namespaces", owners.len()));

    // Veths: each pair is created directly in its two namespaces by one request.
    for l in &plan.links {
        let (a, b) = if l.b.ns == Ns::Lab && l.b.master.is_some() {
            (&l.b, &l.a)
        } else {
            (&l.a, &l.b)
        };
        let fd_of = |ns: Ns| -> &OwnedFd {
            match ns {
                Ns::Lab => &lab_fd,
                Ns::Node(i) => &fds[&i],
            }
        };
        let master = a.master.as_ref().and_then(|m| bridge_idx.get(m).copied());
        lab_nl.add_veth(
            &VethEnd {
                name: &a.iface,
                ns: fd_of(a.ns).as_fd(),
                mac: a.mac,
            },
            &VethEnd {
                name: &b.iface,
                ns: fd_of(b.ns).as_fd(),
                mac: b.mac,
            },
            l.mtu,
            master,
        )?;
        if let (Some(m), Ns::Lab) = (&b.master, b.ns) {
            if let Some(idx) = bridge_idx.get(m) {
                lab_nl.set_master(&b.iface, *idx)?;
            }
        }
        match b.ns {
            Ns::Lab => lab_nl.set_up(&b.iface, true)?,
            Ns::Node(i) => nls
                .get_mut(&i)
                .ok_or_else(|| RtError::node(&b.node, "no namespace"))?
                .set_up(&b.iface, true)?,
        }
    }
    // Management addresses and default routes.
    for (i, n) in plan.nodes.iter().enumerate() {
        let (Some(a4), Some(net_name)) = (n.mgmt4, &n.mgmt_net) else {
            continue;
        };
        let net = if net_name == "kind" {
            plan.kind_net.as_ref().unwrap_or(&plan.mgmt)
        } else {
            &plan.mgmt
        };
        let nl = nls
            .get_mut(&i)
            .ok_or_else(|| RtError::node(&n.name, "no namespace"))?;
        nl.add_addr("eth0", a4.into())?;
        nl.add_default_route(net.gw4.into())?;
        if let (Some(a6), Some(gw6)) = (n.mgmt6, net.gw6) {
            nl.add_addr("eth0", a6.into())?;
            nl.add_default_route(gw6.into())?;
        }
    }
    progress.step(format!(
        "{} veth pairs ({} management)",
        plan.links.len(),
        plan.links.iter().filter(|l| l.mgmt).count()
    ));

    // Node directories and supervisors.
    let run_dir = plan.lab_dir.join("run");
    std::fs::create_dir_all(&run_dir)
        .map_err(|e| RtError::io(format!("create {}", run_dir.display()), e))?;
    let procs: Vec<usize> = (0..plan.nodes.len())
        .filter(|i| plan.nodes[*i].behaviour.has_processes())
        .collect();
    let results = par_map(&procs, 12, |_, &i| {
        start_one(&plan, i, &run_dir, &fds, &lab_fd, &opts.exe)
    });
    let mut first_err = None;
    for (i, r) in procs.iter().zip(results) {
        match r {
            Ok((started, sock)) => {
                st.nodes[*i].pid = Some(started.pid);
                st.nodes[*i].start = started.start;
                st.nodes[*i].socket = Some(sock);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    st.save()?;
    if let Some(e) = first_err {
        return Err(e.into());
    }
    progress.step(format!("{} node supervisors started", procs.len()));
    Ok(())
}

fn start_one(
    plan: &LabPlan,
    i: usize,
    run_dir: &Path,
    fds: &HashMap<usize, OwnedFd>,
    lab_fd: &OwnedFd,
    exe: &SelfExe,
) -> Result<(spawn::Started, PathBuf), RtError> {
    let n = &plan.nodes[i];
    std::fs::create_dir_all(&n.dir)
        .map_err(|e| RtError::io(format!("create {}", n.dir.display()), e))?;
    let mut mounts = fsprep::prepare(plan, i)?;
    // The bgplane binary of `kind: bgplane` and cluster nodes (and of `lab exec … bgplane`)
    // must exist inside the node too, also when it was built below /tmp.
    let bgplane = bgplane_binary(exe);
    mounts.extend(fsprep::binary_bind(&bgplane));
    let sock = run_dir.join(format!("{i}.sock"));
    if sock.as_os_str().len() > 100 {
        return Err(RtError::node(
            &n.name,
            format!(
                "socket path {} is too long; use a shorter BGPLANE_LAB_DIR",
                sock.display()
            ),
        ));
    }
    let agent = crate::cluster::agent_command(plan, n);
    let cmd = match (&n.behaviour, &n.cmd) {
        (Behaviour::ClusterNode, _) if agent.is_some() => agent,
        (Behaviour::Bgplane, _) => Some(vec![
            bgplane.to_string_lossy().into_owned(),
            "router".into(),
            "--config".into(),
            n.dir.join("router.conf").to_string_lossy().into_owned(),
        ]),
        (_, Some(c)) => {
            Some(split_command(c).map_err(|e| RtError::node(&n.name, format!("cmd: {e}")))?)
        }
        _ => None,
    };
    let spec = NodeSpec {
        lab: plan.name.clone(),
        node: n.name.clone(),
        socket: sock.clone(),
        mounts,
        cmd,
        cmd_log: if n.behaviour == Behaviour::ClusterNode {
            crate::cluster::agent_log(n)
        } else {
            n.dir.join("cmd.log")
        },
    };
    let spec_path = run_dir.join(format!("{i}.json"));
    let text =
        serde_json::to_vec_pretty(&spec).map_err(|e| RtError::io("encode node spec", e.into()))?;
    std::fs::write(&spec_path, text)
        .map_err(|e| RtError::io(format!("write {}", spec_path.display()), e))?;
    let fd = match n.ns {
        Ns::Node(o) => &fds[&o],
        Ns::Lab => lab_fd,
    };
    let data_ifs = plan
        .links
        .iter()
        .filter(|l| !l.mgmt && (l.a.node == n.name || l.b.node == n.name))
        .count();
    let mut env: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ),
        ("HOME".into(), "/root".into()),
        ("HOSTNAME".into(), n.name.clone()),
        ("CLAB_LABEL_CLAB_NODE_NAME".into(), n.name.clone()),
        ("CLAB_LABEL_CLAB_NODE_KIND".into(), n.kind.clone()),
        ("CLAB_LABEL_CONTAINERLAB".into(), plan.name.clone()),
        ("CLAB_INTFS".into(), data_ifs.to_string()),
    ];
    if n.role.is_some() || n.behaviour == Behaviour::Bgplane {
        // The lab's bin directory (`bgplane`) first: `lab exec NODE -- bgplane bgp peers`.
        env[0].1 = crate::cluster::node_path(plan);
    }
    if n.role.is_some() {
        // What the Kubernetes node would know about itself (for the agent and CNI).
        let join = |v: Vec<String>| v.join(",");
        env.push(("BGPLANE_NODE_NAME".into(), n.name.clone()));
        env.push((
            "BGPLANE_NODE_IP".into(),
            join(n.node_ips.iter().map(|i| i.to_string()).collect()),
        ));
        env.push((
            "BGPLANE_POD_CIDR".into(),
            join(n.pod_cidrs.iter().map(|c| c.to_string()).collect()),
        ));
        env.push((
            "BGPLANE_NODE_LABELS".into(),
            join(n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        ));
    }
    env.extend(n.env.iter().cloned());
    let started = spawn::start_node(
        exe,
        &n.name,
        &spec_path,
        fd,
        &env,
        &n.dir.join("supervisor.log"),
    )?;
    Ok((started, sock))
}

/// The `bgplane` binary for `kind: bgplane` nodes: the one the cluster agents use
/// ([`crate::cluster::bgplane_binary`]), else `bgplane` for the node's PATH to find.
fn bgplane_binary(exe: &SelfExe) -> PathBuf {
    crate::cluster::bgplane_binary(exe).unwrap_or_else(|| PathBuf::from("bgplane"))
}

/// Per node: start daemons, then the exec lines in order, honouring `wait-for` and
/// `startup-delay`. Prints one block per node; returns the number of failed lines.
fn run_exec_phase(st: &LabState, progress: &Progress) -> usize {
    let plan = &st.plan;
    let work: Vec<usize> = (0..plan.nodes.len())
        .filter(|i| st.nodes[*i].socket.is_some())
        .filter(|i| !steps(plan, *i).is_empty())
        .collect();
    if work.is_empty() {
        return 0;
    }
    let done: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    let cv = Condvar::new();
    let print_lock = Mutex::new(());
    let failures = par_map(&work, work.len().min(32), |_, &i| {
        let n = &plan.nodes[i];
        let mut waited = done.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = Instant::now() + Duration::from_secs(600);
        while !n.wait_for.iter().all(|w| waited.contains(w)) && Instant::now() < deadline {
            waited = cv
                .wait_timeout(waited, Duration::from_millis(200))
                .map(|r| r.0)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        drop(waited);
        if n.startup_delay > 0 {
            std::thread::sleep(Duration::from_secs(n.startup_delay));
        }
        let sock = st.nodes[i].socket.clone().unwrap_or_default();
        let started = Instant::now();
        let mut lines: Vec<(String, Result<Captured, String>)> = Vec::new();
        for line in steps(plan, i) {
            let r = split_command(&line).and_then(|argv| {
                run_capture(&sock, argv, Duration::from_secs(120)).map_err(|e| e.to_string())
            });
            lines.push((line, r));
        }
        let failed = lines
            .iter()
            .filter(|(_, r)| !matches!(r, Ok(c) if c.status == 0))
            .count();
        {
            let _g = print_lock.lock();
            report_node(&n.name, &lines, failed, started.elapsed());
        }
        done.lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(n.name.clone());
        cv.notify_all();
        failed
    });
    let total: usize = failures.iter().sum();
    progress.step(format!(
        "exec: {} nodes, {} failed command(s)",
        work.len(),
        total
    ));
    total
}

/// The commands deploy runs in node `i`: daemon start, then the exec lines.
fn steps(plan: &LabPlan, i: usize) -> Vec<String> {
    let n = &plan.nodes[i];
    let mut v = Vec::new();
    match n.behaviour {
        Behaviour::Frr { autostart: true } => v.push("/usr/lib/frr/frrinit.sh start".to_string()),
        Behaviour::Bird { autostart: true } => v.push(
            "sh -c 'install -d -o bird -g bird -m 0775 /run/bird && bird -u bird -g bird -c /etc/bird/bird.conf'".to_string(),
        ),
        _ => {}
    }
    v.extend(n.exec.iter().cloned());
    v
}

fn report_node(
    node: &str,
    lines: &[(String, Result<Captured, String>)],
    failed: usize,
    took: Duration,
) {
    let ok = lines.len() - failed;
    eprintln!(
        "          {node}: {ok}/{} commands ok ({:.2}s)",
        lines.len(),
        took.as_secs_f64()
    );
    for (line, r) in lines {
        let short: String = line.chars().take(100).collect();
        let short = if line.chars().count() > 100 {
            format!("{short}…")
        } else {
            short
        };
        match r {
            Ok(c) if c.status == 0 => {
                if !c.output.trim().is_empty() {
                    eprintln!("            $ {short}");
                    for l in c.output.trim_end().lines() {
                        eprintln!("              {l}");
                    }
                }
            }
            Ok(c) => {
                eprintln!("            $ {short}  → FAILED (exit {})", c.status);
                if let Some(e) = &c.error {
                    eprintln!("              {e}");
                }
                for l in c.output.trim_end().lines() {
                    eprintln!("              {l}");
                }
            }
            Err(e) => eprintln!("            $ {short}  → FAILED: {e}"),
        }
    }
}
