//! `lab save`: writes each router's running configuration into the lab directory
//! (`<lab dir>/<node>/frr.conf`, `bird.conf`, or for a `kind: bgplane` router the
//! `router.conf` it runs from, as `bgplane show running-config` writes it), ready to use
//! as a `startup-config`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::exec::run_capture;
use super::table::Table;
use super::{print_json, Format, LabSel, OpError};
use crate::plan::behaviour::Behaviour;
use crate::rt::RtError;

/// One saved configuration.
#[derive(Clone, Debug, Serialize)]
pub struct Saved {
    /// Node.
    pub node: String,
    /// File written.
    pub file: PathBuf,
    /// Lines in it.
    pub lines: usize,
}

/// `lab save`.
pub fn save_cmd(
    root: &Path,
    sel: &LabSel,
    format: Format,
    exe: &crate::SelfExe,
) -> Result<(), OpError> {
    let st = sel.state(root)?;
    // The binary the lab's routers run (deploy finds it the same way).
    let bgplane = crate::cluster::bgplane_binary(exe);
    let mut saved = Vec::new();
    for (i, n) in st.plan.nodes.iter().enumerate() {
        let Some(sock) = &st.nodes[i].socket else {
            continue;
        };
        let (argv, file): (Vec<String>, &str) = match n.behaviour {
            Behaviour::Frr { .. } => (
                vec!["vtysh".into(), "-c".into(), "show running-config".into()],
                "frr.conf",
            ),
            Behaviour::Bird { .. } => (
                vec!["cat".into(), "/etc/bird/bird.conf".into()],
                "bird.conf",
            ),
            Behaviour::Bgplane => match &bgplane {
                Some(b) => (
                    vec![
                        b.display().to_string(),
                        "show".into(),
                        "running-config".into(),
                    ],
                    "router.conf",
                ),
                None => {
                    eprintln!("{}: not saved: no bgplane binary found", n.name);
                    continue;
                }
            },
            _ => continue,
        };
        let out = run_capture(sock, argv, Duration::from_secs(30))?;
        if out.status != 0 {
            eprintln!(
                "{}: not saved (exit {}): {}",
                n.name,
                out.status,
                out.output.trim()
            );
            continue;
        }
        let path = n.dir.join(file);
        std::fs::write(&path, &out.output)
            .map_err(|e| RtError::io(format!("write {}", path.display()), e))?;
        saved.push(Saved {
            node: n.name.clone(),
            file: path,
            lines: out.output.lines().count(),
        });
    }
    if format == Format::Json {
        return print_json(&saved);
    }
    let mut t = Table::new(["NODE", "SAVED TO", "LINES"]);
    for s in &saved {
        t.row([
            s.node.clone(),
            s.file.display().to_string(),
            s.lines.to_string(),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}
