//! Applying a new configuration to a running router (SIGHUP, `bgplane router reload`):
//! sessions whose settings did not change stay up; a bad configuration is refused and the
//! old one kept.

use bgp_wire::notification::{cease, codes};
use bgp_wire::Notification;
use tracing::warn;

use super::session::ToSession;
use super::{peer_spec, speaker_config, Actor};
use crate::config::{BfdTimers, Neighbor, RouterConfig};
use crate::fsm::State;
use crate::policy::Policies;
use crate::rib::table::PeerId;

/// The timers a neighbor's session runs with: its own, else the router's.
fn timers(cfg: &RouterConfig, n: &Neighbor) -> (u16, Option<u16>, u32) {
    (
        n.hold_time.unwrap_or(cfg.router.hold_time),
        n.keepalive.or(cfg.router.keepalive),
        n.connect_retry.unwrap_or(cfg.router.connect_retry),
    )
}

/// Settings whose change needs a new session (`a` under the configuration `old`, `b`
/// under `new`: a neighbor without timers of its own follows the router's).
fn session_affecting(old: &RouterConfig, a: &Neighbor, new: &RouterConfig, b: &Neighbor) -> bool {
    a.remote_as != b.remote_as
        || a.local_as != b.local_as
        || a.local_address != b.local_address
        || a.port != b.port
        || a.passive != b.passive
        || a.ebgp_multihop != b.ebgp_multihop
        || timers(old, a) != timers(new, b)
        || a.families != b.families
        || a.password != b.password
        || a.ttl_security != b.ttl_security
        || a.interface != b.interface
}

impl Actor {
    pub(super) fn reload(&mut self, new: Option<Box<RouterConfig>>) -> Result<String, String> {
        let new = match new {
            Some(c) => *c,
            None => match &self.options.config_path {
                Some(p) => RouterConfig::load(p).map_err(|e| e.to_string())?,
                None => {
                    return Err(
                        "started with command-line flags: there is no file to re-read".into(),
                    )
                }
            },
        };
        let old = self.cfg.clone();
        for (key, changed) in [
            ("router.asn", old.router.asn != new.router.asn),
            (
                "router.router-id",
                old.router.router_id != new.router.router_id,
            ),
            ("router.listen", old.router.listen != new.router.listen),
            ("router.port", old.router.port != new.router.port),
            ("router.api", old.router.api != new.router.api),
        ] {
            if changed {
                return Err(format!(
                    "{key} changed: restart `bgplane router` to apply it"
                ));
            }
        }
        let policies = Policies::compile(&new.policy_config()).map_err(|e| e.to_string())?;
        let mut notes = Vec::new();
        let policies_changed = old.policy_config() != new.policy_config();
        if policies_changed {
            self.speaker
                .set_policies(crate::policy_adapter::all(&policies, new.router.asn));
            notes.push("policies replaced".to_string());
        }
        let decision_changed = old.router.bestpath != new.router.bestpath
            || old.router.maximum_paths != new.router.maximum_paths;
        let reflection_changed = old.router.cluster_id != new.router.cluster_id
            || old.router.client_to_client_reflection != new.router.client_to_client_reflection;
        let rfc8212_changed = old.router.ebgp_requires_policy != new.router.ebgp_requires_policy;
        self.cfg = new.clone();
        self.bfd_dirty = true;
        if rfc8212_changed {
            notes.push(format!(
                "ebgp-requires-policy {} (RFC 8212)",
                if new.router.ebgp_requires_policy {
                    "on"
                } else {
                    "off"
                }
            ));
            for line in new.rfc8212_withheld() {
                warn!("{line}");
            }
        }
        if decision_changed || reflection_changed || rfc8212_changed {
            self.speaker.set_config(speaker_config(&new));
        }
        if decision_changed {
            self.speaker.redecide_all();
            notes.push("decision process re-run".into());
        }
        if old.router.mrai_ms != new.router.mrai_ms {
            self.repace_sessions();
            notes.push(format!("MRAI now {} ms", new.router.mrai_ms));
        }
        if reflection_changed {
            let ids: Vec<PeerId> = self.peers.keys().copied().collect();
            for id in ids {
                self.speaker.resend(id, None);
            }
            notes.push("route reflection settings changed: routes re-sent".into());
        }
        // Origination and static routes.
        self.policies = policies;
        if old.static_routes != new.static_routes {
            self.sync_statics();
            notes.push("static routes updated".into());
        }
        let n = self.sync_origination();
        if n > 0 {
            notes.push(format!("{n} originated routes changed"));
        }
        // Neighbors, matched by address or interface.
        let (old_n, new_n) = (old.neighbors(), new.neighbors());
        let find =
            |list: &[Neighbor], n: &Neighbor| list.iter().find(|x| x.key() == n.key()).cloned();
        for o in &old_n {
            if find(&new_n, o).is_none() {
                if let Some(id) = self.peer_id(o) {
                    let cease = Notification::new(codes::CEASE, cease::PEER_DECONFIGURED, vec![]);
                    self.remove_neighbor(id, cease);
                    notes.push(format!("neighbor {} removed", o.key()));
                }
            }
        }
        self.sync_listeners();
        self.sync_unnumbered();
        self.reload_dynamic(&old, &new_n, &mut notes);
        for n in &new_n {
            let Some(o) = find(&old_n, n) else {
                self.add_neighbor(n.clone());
                notes.push(format!("neighbor {} added", n.key()));
                continue;
            };
            let Some(id) = self.peer_id(n) else { continue };
            // BfdStrictConfigChanged (draft-ietf-idr-bgp-bfd-strict-mode §8.3.4–§8.7.3):
            // a session not yet Established starts over; an Established one keeps going.
            let strict = BfdTimers::strict_hold(n.bfd.as_ref());
            let strict_changed = BfdTimers::strict_hold(o.bfd.as_ref()) != strict;
            let established = self
                .peers
                .get(&id)
                .is_some_and(|p| p.state == State::Established);
            if session_affecting(&old, &o, &new, n) || (strict_changed && !established) {
                let cease = Notification::new(codes::CEASE, cease::OTHER_CONFIG_CHANGE, vec![]);
                self.remove_neighbor(id, cease);
                self.add_neighbor(n.clone());
                notes.push(format!(
                    "neighbor {}: session reset for the new settings",
                    n.key()
                ));
                continue;
            }
            let mut spec = peer_spec(&new, n);
            if let Some(p) = self.speaker.peer(id) {
                spec.address = p.spec.address; // keep a discovered unnumbered address
            }
            self.speaker.update_peer(id, spec);
            if let Some(rt) = self.peers.get_mut(&id) {
                rt.cfg = n.clone();
            }
            self.apply_shutdown_change(id, &o, n, &mut notes);
            if strict_changed {
                if let Some(rt) = self.peers.get(&id) {
                    let _ = rt.tx.try_send(ToSession::BfdStrict(strict));
                }
                notes.push(format!(
                    "neighbor {}: BFD strict mode {} from the next session",
                    n.key(),
                    if strict.is_some() { "on" } else { "off" }
                ));
            }
            // Graceful shutdown (RFC 8326) marks routes both ways.
            let gshut = old.router.graceful_shutdown || o.graceful_shutdown;
            let gshut_changed = gshut != (new.router.graceful_shutdown || n.graceful_shutdown);
            if gshut_changed {
                notes.push(format!(
                    "neighbor {}: graceful shutdown {}",
                    n.key(),
                    if gshut { "ended" } else { "started" }
                ));
            }
            let export = o.export != n.export
                || o.next_hop_self != n.next_hop_self
                || o.route_reflector_client != n.route_reflector_client
                || o.default_originate != n.default_originate
                || rfc8212_changed
                || gshut_changed;
            // Only an eBGP peer's routes are lowered on the way in.
            let import = o.import != n.import
                || o.allowas_in != n.allowas_in
                || rfc8212_changed
                || (gshut_changed && n.is_external(new.router.asn));
            if export || (policies_changed && n.export.is_some()) {
                self.speaker.resend(id, None);
                notes.push(format!("neighbor {}: routes re-sent", n.key()));
            }
            if import || (policies_changed && n.import.is_some()) {
                self.refresh_in(id);
                notes.push(format!("neighbor {}: route refresh requested", n.key()));
            }
        }
        if notes.is_empty() {
            notes.push("no change".into());
        }
        Ok(notes.join("; "))
    }

    /// Dynamic neighbors follow their listen range and peer group: dropped when no range
    /// takes their address any more, when a configured neighbor takes it, or when a
    /// session setting changed (they come back by reconnecting).
    fn reload_dynamic(
        &mut self,
        old_cfg: &RouterConfig,
        configured: &[Neighbor],
        notes: &mut Vec<String>,
    ) {
        let dynamic: Vec<(PeerId, Neighbor)> = self
            .peers
            .iter()
            .filter(|(_, p)| p.dynamic)
            .map(|(id, p)| (*id, p.cfg.clone()))
            .collect();
        for (id, old) in dynamic {
            let new = self.cfg.dynamic_neighbor(old.address);
            let taken = configured.iter().any(|c| c.key() == old.key());
            match new {
                Some(n) if !taken && !session_affecting(old_cfg, &old, &self.cfg, &n) => {
                    let changed = n != old;
                    self.speaker.update_peer(id, peer_spec(&self.cfg, &n));
                    if let Some(rt) = self.peers.get_mut(&id) {
                        rt.cfg = n;
                    }
                    if changed {
                        self.speaker.resend(id, None);
                    }
                }
                _ => {
                    let n = Notification::new(codes::CEASE, cease::PEER_DECONFIGURED, vec![]);
                    self.remove_neighbor(id, n);
                    notes.push(format!("dynamic neighbor {} removed", old.key()));
                }
            }
        }
    }

    fn apply_shutdown_change(
        &mut self,
        id: PeerId,
        o: &Neighbor,
        n: &Neighbor,
        notes: &mut Vec<String>,
    ) {
        let Some(rt) = self.peers.get(&id) else {
            return;
        };
        match (o.shutdown_message(), n.shutdown_message()) {
            (None, Some(msg)) => {
                let note = if msg.is_empty() {
                    Notification::new(codes::CEASE, cease::ADMIN_SHUTDOWN, vec![])
                } else {
                    Notification::shutdown(cease::ADMIN_SHUTDOWN, msg)
                };
                let note = self.admin_notification(id, note);
                let _ = rt.tx.try_send(ToSession::Stop(Some(note)));
                notes.push(format!("neighbor {}: shut down", n.key()));
            }
            (Some(_), None) => {
                let _ = rt.tx.try_send(ToSession::Start);
                notes.push(format!("neighbor {}: started", n.key()));
            }
            _ => {}
        }
    }

    /// Asks the peer to resend its routes (RFC 2918), or resets the session if it cannot.
    fn refresh_in(&mut self, id: PeerId) {
        let Some(rt) = self.peers.get(&id) else {
            return;
        };
        let families = self
            .speaker
            .peer(id)
            .and_then(|p| p.session.as_ref())
            .map(|s| (s.negotiated.route_refresh, s.negotiated.families.clone()));
        match families {
            Some((true, fs)) => {
                for f in fs {
                    let _ = rt.tx.try_send(ToSession::RouteRefresh(f));
                }
            }
            Some((false, _)) => {
                let n = Notification::new(codes::CEASE, cease::OTHER_CONFIG_CHANGE, vec![]);
                let _ = rt.tx.try_send(ToSession::Stop(Some(n)));
                let _ = rt.tx.try_send(ToSession::Start);
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(router_extra: &str, neighbor_extra: &str) -> RouterConfig {
        let text = format!(
            "router:\n  asn: 65000\n  router-id: 10.0.0.1\n{router_extra}neighbors:\n  - address: 10.0.0.2\n    remote-as: 65001\n{neighbor_extra}"
        );
        RouterConfig::parse("test.yaml", &text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn affected(old: &RouterConfig, new: &RouterConfig) -> bool {
        session_affecting(old, &old.neighbors()[0], new, &new.neighbors()[0])
    }

    #[test]
    fn a_router_timer_change_resets_the_sessions_of_neighbors_that_inherit_it() {
        let old = config("", "");
        assert!(!affected(&old, &old.clone()));
        for router in [
            "  hold-time: 30\n",
            "  keepalive: 5\n",
            "  connect-retry: 3\n",
        ] {
            assert!(affected(&old, &config(router, "")), "{router}");
        }
    }

    #[test]
    fn a_router_timer_change_leaves_neighbors_with_their_own_timers_alone() {
        let own = "    hold-time: 30\n";
        let old = config("", own);
        assert!(!affected(&old, &config("  hold-time: 60\n", own)));
        // The same effective value, written on the neighbor instead: no reset either.
        assert!(!affected(&config("  hold-time: 30\n", ""), &old));
        assert!(affected(&old, &config("", "    hold-time: 12\n")));
    }
}
