//! Running commands in nodes (`lab exec`, and the exec lines of deploy).

use std::io::Read;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use nix::fcntl::OFlag;
use serde::Serialize;

use super::{print_json, Format, LabSel, OpError};
use crate::rt::proto::{self, ExecReply, ExecRequest};
use crate::rt::state::LabState;
use crate::rt::RtError;

/// The result of a command whose output was captured.
#[derive(Clone, Debug, Serialize)]
pub struct Captured {
    /// Shell-style exit status (127: could not start).
    pub status: i32,
    /// stdout and stderr, interleaved as written.
    pub output: String,
    /// Why it could not start, if so.
    pub error: Option<String>,
}

/// Runs `argv` in the node behind `socket`, capturing stdout and stderr together.
pub fn run_capture(
    socket: &Path,
    argv: Vec<String>,
    timeout: Duration,
) -> Result<Captured, RtError> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| RtError::sys("pipe", e))?;
    let devnull = std::fs::File::open("/dev/null").map_err(|e| RtError::io("open /dev/null", e))?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(r);
        let mut buf = [0u8; 8192];
        loop {
            match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let req = ExecRequest {
        argv,
        env: Vec::new(),
        cwd: None,
    };
    let reply = proto::exec(
        socket,
        &req,
        [devnull.as_fd(), w.as_fd(), w.as_fd()],
        Some(timeout),
    );
    drop(w);
    let reply = reply?;
    // Daemons started by the command may keep the pipe open: wait briefly for the rest.
    let mut out = Vec::new();
    while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(150)) {
        out.extend(chunk);
    }
    let error = match &reply {
        ExecReply::Failed { msg } => Some(msg.clone()),
        _ => None,
    };
    Ok(Captured {
        status: reply.status(),
        output: String::from_utf8_lossy(&out).into_owned(),
        error,
    })
}

/// Runs `argv` in a node with this process's stdin, stdout and stderr; returns its status.
pub fn run_attached(
    socket: &Path,
    argv: Vec<String>,
    env: Vec<(String, String)>,
) -> Result<i32, RtError> {
    let req = ExecRequest {
        argv,
        env,
        cwd: None,
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let reply = proto::exec(
        socket,
        &req,
        [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()],
        None,
    )?;
    if let ExecReply::Failed { msg } = &reply {
        eprintln!("bgplane lab exec: {msg}");
    }
    Ok(reply.status())
}

/// Splits a command line like containerlab's `exec` does (shell quoting, no shell).
pub fn split_command(line: &str) -> Result<Vec<String>, String> {
    match shlex::split(line) {
        Some(v) if !v.is_empty() => Ok(v),
        Some(_) => Err("empty command".into()),
        None => Err(format!("unbalanced quotes in `{line}`")),
    }
}

/// Node indexes matching a name (a kind node also by its short name, `worker2`) or, with
/// labels, every node carrying all the `key=value` labels.
pub fn select_nodes(
    st: &LabState,
    name: Option<&str>,
    labels: &[String],
) -> Result<Vec<usize>, OpError> {
    let plan = &st.plan;
    let mut out = Vec::new();
    if let Some(name) = name {
        let short = plan.cluster_name.as_ref().map(|c| format!("{c}-{name}"));
        match plan
            .nodes
            .iter()
            .position(|n| n.name == name)
            .or_else(|| short.and_then(|s| plan.nodes.iter().position(|n| n.name == s)))
        {
            Some(i) => out.push(i),
            None => {
                return Err(OpError::NotFound(format!(
                    "lab {} has no node {name} (nodes: {})",
                    plan.name,
                    plan.nodes
                        .iter()
                        .map(|n| n.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }
    }
    if !labels.is_empty() {
        let wanted: Vec<(&str, &str)> = labels
            .iter()
            .map(|l| {
                l.split_once('=')
                    .ok_or_else(|| OpError::Usage(format!("--label {l}: expected key=value")))
            })
            .collect::<Result<_, _>>()?;
        for (i, n) in plan.nodes.iter().enumerate() {
            let ok = wanted
                .iter()
                .all(|(k, v)| n.labels.iter().any(|(nk, nv)| nk == k && nv == v));
            if ok && !out.contains(&i) {
                out.push(i);
            }
        }
        if out.is_empty() {
            return Err(OpError::NotFound(format!(
                "no node of lab {} has the labels {}",
                plan.name,
                labels.join(", ")
            )));
        }
    }
    let out: Vec<usize> = out
        .into_iter()
        .filter(|i| st.nodes[*i].socket.is_some())
        .collect();
    if out.is_empty() {
        return Err(OpError::Usage(
            "no node to run on (bridges run no commands)".into(),
        ));
    }
    Ok(out)
}

/// `lab exec`.
pub fn exec_cmd(
    root: &Path,
    sel: &LabSel,
    node: Option<&str>,
    labels: &[String],
    cmd: &[String],
    format: Format,
) -> Result<i32, OpError> {
    let st = sel.state(root)?;
    let argv = match cmd {
        [] => {
            return Err(OpError::Usage(
                "no command given (bgplane lab exec NODE -- CMD …)".into(),
            ))
        }
        [one] if one.contains(char::is_whitespace) => split_command(one).map_err(OpError::Usage)?,
        many => many.to_vec(),
    };
    // A pod of the lab's cluster, by name (or namespace/name), where no node has the name.
    if let (Some(name), true) = (node, labels.is_empty()) {
        let short = st.plan.cluster_name.as_ref().map(|c| format!("{c}-{name}"));
        let is_node = st
            .plan
            .nodes
            .iter()
            .any(|n| n.name == name || Some(&n.name) == short.as_ref());
        if let (false, Some((pod, sock))) =
            (is_node, crate::cluster::kubectl::pod_socket(&st, name))
        {
            if format == Format::Table {
                return crate::cluster::kubectl::attach_in_pod(&sock, argv);
            }
            #[derive(Serialize)]
            struct PodRow {
                pod: String,
                #[serde(flatten)]
                result: Captured,
            }
            let r = crate::cluster::kubectl::capture_in_pod(&sock, argv)?;
            let status = r.status;
            print_json(&[PodRow { pod, result: r }])?;
            return Ok(status);
        }
    }
    let nodes = select_nodes(&st, node, labels)?;
    if nodes.len() == 1 && labels.is_empty() && format == Format::Table {
        let sock = st.nodes[nodes[0]].socket.clone().unwrap_or_default();
        let term: Vec<(String, String)> = std::env::var("TERM")
            .map(|t| vec![("TERM".to_string(), t)])
            .unwrap_or_default();
        return Ok(run_attached(&sock, argv, term)?);
    }
    let results = super::par_map(&nodes, 8, |_, i| {
        let sock = st.nodes[*i].socket.clone().unwrap_or_default();
        run_capture(&sock, argv.clone(), Duration::from_secs(600))
    });
    #[derive(Serialize)]
    struct Row<'a> {
        node: &'a str,
        #[serde(flatten)]
        result: Captured,
    }
    let mut worst = 0;
    let mut rows = Vec::new();
    for (i, r) in nodes.iter().zip(results) {
        let r = r?;
        worst = worst.max(r.status);
        rows.push(Row {
            node: &st.plan.nodes[*i].name,
            result: r,
        });
    }
    if format == Format::Json {
        print_json(&rows)?;
    } else {
        for r in &rows {
            println!("── {} (exit {}) ──", r.node, r.result.status);
            print!("{}", r.result.output);
            if let Some(e) = &r.result.error {
                println!("{e}");
            }
        }
    }
    Ok(worst)
}
