//! `lab link down|up NODE:IF`: sets one end of a link administratively down or up (the
//! peer then sees the carrier drop, as with a pulled cable).

use std::os::fd::AsFd;
use std::path::Path;

use super::exec::select_nodes;
use super::{LabSel, OpError};
use crate::plan::Ns;
use crate::rt::netlink::Nl;
use crate::rt::netns;

/// Sets `NODE:IF` up or down.
pub fn link_cmd(root: &Path, sel: &LabSel, endpoint: &str, up: bool) -> Result<(), OpError> {
    let st = sel.state(root)?;
    let (node, iface) = endpoint
        .split_once(':')
        .ok_or_else(|| OpError::Usage(format!("`{endpoint}` is not NODE:INTERFACE")))?;
    let ns = match st.plan.nodes.iter().find(|n| n.name == node) {
        Some(n) if n.ns == Ns::Lab => Ns::Lab,
        _ => {
            let i = select_nodes(&st, Some(node), &[]).or_else(|_| {
                st.plan
                    .node_index(node)
                    .map(|i| vec![i])
                    .ok_or_else(|| OpError::NotFound(format!("no node {node}")))
            })?[0];
            st.plan.nodes[i].ns
        }
    };
    let name = st.plan.ns_name(ns);
    let fd = netns::open(&name)?;
    let mut nl = Nl::open_in(fd.as_fd(), &name)?;
    if nl.link_index(iface)?.is_none() {
        return Err(OpError::NotFound(format!(
            "{node} has no interface {iface}"
        )));
    }
    nl.set_up(iface, up)?;
    println!("{node}:{iface} is {}", if up { "up" } else { "down" });
    Ok(())
}
