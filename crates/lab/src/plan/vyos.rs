//! VyOS nodes: there are no VyOS images here, so a VyOS node runs Debian FRR with its
//! `config.boot` (the bind to /opt/vyatta/etc/config/config.boot, or its startup-config)
//! translated by [`crate::topo::vyos`], and its source-NAT rules as iptables exec lines.

use std::path::{Path, PathBuf};

use super::NodePlan;
use crate::topo::vyos::{translate, translate_file};
use crate::topo::{NodeDef, StartupConfig, TopoError};

/// Where VyOS keeps its boot configuration.
pub(super) const CONFIG_BOOT: &str = "/opt/vyatta/etc/config/config.boot";

/// Turns a planned VyOS node into an FRR node with the translated configuration.
pub(super) fn map(
    node: &mut NodePlan,
    def: &NodeDef,
    image: &str,
    topo_file: &Path,
    notes: &mut Vec<String>,
) -> Result<(), TopoError> {
    let bind = node
        .binds
        .iter()
        .find(|b| b.dst == Path::new(CONFIG_BOOT))
        .map(|b| b.src.clone());
    let translated = match (&bind, &def.startup_config) {
        (Some(src), _) => {
            if !src.exists() {
                return Err(TopoError::Invalid {
                    loc: def.loc_of("binds"),
                    key: format!("topology.nodes.{}.binds", def.name),
                    msg: format!(
                        "image `{image}` is VyOS, which runs here as FRR with its config.boot translated, \
                         but {} does not exist",
                        src.display()
                    ),
                });
            }
            node.vyos_config = Some(src.clone());
            translate_file(src, &node.name)?
        }
        (None, Some(StartupConfig::File(_) | StartupConfig::Inline(_))) => {
            let text = node.startup_config.clone().unwrap_or_default();
            node.vyos_config = Some(PathBuf::from(format!("{} (startup-config)", topo_file.display())));
            translate(&text, topo_file, &node.name)?
        }
        (None, None) => {
            return Err(TopoError::Invalid {
                loc: def.loc_of("image"),
                key: format!("topology.nodes.{}.image", def.name),
                msg: format!(
                    "image `{image}` is VyOS, which cannot run here (no Docker, no VyOS image); bgplane runs \
                     it as FRR when its configuration is given (a bind to {CONFIG_BOOT} or a startup-config), \
                     or run FRR in its place as examples/cilium-bgp-cross-as/topo-frr.yaml does"
                ),
            })
        }
    };
    node.startup_config = Some(translated.frr);
    let mut exec = translated.exec;
    exec.append(&mut node.exec);
    node.exec = exec;
    let dropped: Vec<String> = node
        .binds
        .iter()
        .filter(|b| b.dst == Path::new(CONFIG_BOOT) || b.dst == Path::new("/lib/modules"))
        .map(|b| b.dst.display().to_string())
        .collect();
    node.binds
        .retain(|b| b.dst != Path::new(CONFIG_BOOT) && b.dst != Path::new("/lib/modules"));
    // The image's init is not needed either: say it once, in the VyOS note.
    notes.retain(|n| !n.starts_with(&format!("{}: `cmd:", node.name)));
    if !dropped.is_empty() {
        notes.push(format!(
            "{}: binds of {} are not needed",
            node.name,
            dropped.join(", ")
        ));
    }
    for s in translated.skipped {
        notes.push(format!("{}: VyOS config not translated: {s}", node.name));
    }
    Ok(())
}
