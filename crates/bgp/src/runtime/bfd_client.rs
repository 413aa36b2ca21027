//! BFD for BGP sessions (RFC 5882): the actor runs a BFD session towards every neighbor
//! with `bfd` set, and resets the BGP session when its BFD session goes down.
//!
//! As FRR does by default, BGP does not wait for BFD to come up: BFD only takes a session
//! down faster than the hold timer would. In strict mode (draft-ietf-idr-bgp-bfd-strict-mode)
//! the session tasks hear of every change (BfdUp / BfdDown), and their FSM holds a session
//! in OpenSent until BFD is Up. A peer that signals AdminDown is not a failure (RFC 5882
//! §3.2): the BGP session stays.

use std::net::IpAddr;
use std::time::Instant;

use bfd::runtime::{Bfd, Event, Hops, PeerSpec};
use bfd::{Diag, SessionState};
use bgp_wire::notification::{cease, codes};
use bgp_wire::Notification;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use super::api::{BfdBrief, Response};
use super::session::ToSession;
use super::{Actor, Control};
use crate::fsm::State;

/// A BFD session's last change, as the actor heard of it.
#[derive(Debug, Clone, Copy)]
pub(super) struct BfdState {
    state: SessionState,
    diag: Diag,
    since: Instant,
}

impl Actor {
    /// The BFD sessions the neighbors ask for, by peer address (neighbors whose address
    /// is not known yet, such as unnumbered ones before discovery, have none; nor has a
    /// multihop one before its source address is known: configured, or that of its first
    /// session).
    fn bfd_specs(&self) -> Vec<PeerSpec> {
        let asn = self.cfg.router.asn;
        let mut v: Vec<PeerSpec> = self
            .peers
            .values()
            .filter(|p| !p.cfg.address.is_unspecified())
            .filter_map(|p| {
                let t = p.cfg.bfd.as_ref()?;
                let (hops, local) = if p.cfg.bfd_multihop(asn) {
                    let local = p.cfg.local_address.or(p.session_local)?;
                    let hops = Hops::Multi {
                        minimum_ttl: t.minimum_ttl,
                    };
                    (hops, Some(local))
                } else {
                    (Hops::Single, p.cfg.local_address)
                };
                Some(PeerSpec {
                    peer: p.cfg.address,
                    local,
                    interface: p.cfg.interface.clone(),
                    hops,
                    // Checked with the configuration.
                    auth: t.authentication.as_ref().and_then(|a| a.key().ok()),
                    config: t.session_config(),
                })
            })
            .collect();
        v.sort_by_key(|s| s.peer);
        v.dedup_by_key(|s| s.peer);
        v
    }

    /// Starts, changes or ends BFD sessions to match the neighbors. The BFD task starts
    /// with the first neighbor that asks for it.
    pub(super) fn bfd_sync(&mut self) {
        let specs = self.bfd_specs();
        if specs == self.bfd_specs_sent {
            return;
        }
        if self.bfd.is_none() {
            let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
            let notify: bfd::runtime::Notify = Box::new(move |e| {
                let _ = tx.send(e);
            });
            let spawned = {
                let _g = self.handle.enter();
                Bfd::spawn(notify)
            };
            match spawned {
                Ok(b) => {
                    let ctl = self.ctl.clone();
                    // In order, and without loss: one forwarder.
                    self.handle.spawn(async move {
                        while let Some(e) = rx.recv().await {
                            if ctl.send(Control::Bfd(e)).await.is_err() {
                                break;
                            }
                        }
                    });
                    self.bfd = Some(b);
                }
                Err(e) => {
                    error!(%e, "BFD cannot start; BGP sessions run without it");
                    self.bfd_specs_sent = specs;
                    return;
                }
            }
        }
        if let Some(b) = &self.bfd {
            if let Err(e) = b.set_peers(specs.clone()) {
                warn!(%e, "BFD sessions not updated");
                return;
            }
        }
        self.bfd_states
            .retain(|p, _| specs.iter().any(|s| s.peer == *p));
        // BfdDisabled (draft-ietf-idr-bgp-bfd-strict-mode §4): nothing to wait for.
        let gone: Vec<IpAddr> = self
            .bfd_specs_sent
            .iter()
            .map(|s| s.peer)
            .filter(|p| !specs.iter().any(|s| s.peer == *p))
            .collect();
        self.bfd_specs_sent = specs;
        for peer in gone {
            self.tell_sessions(peer, true);
        }
    }

    /// Whether the BFD session to `peer` is Up (or AdminDown): a new session task need
    /// not wait for it in strict mode.
    pub(super) fn bfd_is_up(&self, peer: IpAddr) -> bool {
        self.bfd_states
            .get(&peer)
            .is_some_and(|b| matches!(b.state, SessionState::Up | SessionState::AdminDown))
    }

    /// Passes a BFD change to the session tasks of the neighbors at `peer`.
    fn tell_sessions(&self, peer: IpAddr, up: bool) {
        for p in self.peers.values().filter(|p| p.cfg.address == peer) {
            let _ = p.tx.try_send(ToSession::Bfd(up));
        }
    }

    /// The BFD session of a neighbor at `peer`, if BFD runs for it (Down until its first
    /// change is heard).
    pub(super) fn bfd_brief(&self, peer: IpAddr) -> Option<BfdBrief> {
        let spec = self.bfd_specs_sent.iter().find(|s| s.peer == peer)?;
        let (state, diag, secs) = match self.bfd_states.get(&peer) {
            Some(b) => (b.state, b.diag, Some(b.since.elapsed().as_secs())),
            None => (SessionState::Down, Diag::NONE, None),
        };
        Some(BfdBrief {
            multihop: spec.hops != Hops::Single,
            state: state.name().into(),
            diagnostic: diag.name().into(),
            since_secs: secs,
            strict: false,
            bgp_waiting: None,
        })
    }

    /// A BFD session changed state: a failure takes the BGP sessions to that peer down
    /// at once with a Cease, "BFD Down" (RFC 9384), and they start over.
    pub(super) fn on_bfd(&mut self, e: Event) {
        self.bfd_states.insert(
            e.peer,
            BfdState {
                state: e.to,
                diag: e.diag,
                since: Instant::now(),
            },
        );
        // BfdUp, BfdAdminDown (ours, or the peer's: RFC 5882 §3.2) or BfdDown; Init is
        // none of them.
        match (e.to, e.remote) {
            (SessionState::Up | SessionState::AdminDown, _)
            | (SessionState::Down, SessionState::AdminDown) => self.tell_sessions(e.peer, true),
            (SessionState::Down, _) => self.tell_sessions(e.peer, false),
            (SessionState::Init, _) => {}
        }
        if e.to != SessionState::Down || e.from != SessionState::Up {
            return;
        }
        if e.remote == SessionState::AdminDown {
            info!(peer = %e.peer, "BFD: the peer took the session administratively down; BGP stays up (RFC 5882 §3.2)");
            return;
        }
        for (id, p) in self.peers.iter_mut() {
            if p.cfg.address != e.peer
                || !matches!(
                    p.state,
                    State::OpenSent | State::OpenConfirm | State::Established
                )
            {
                continue;
            }
            warn!(peer = %e.peer, diag = %e.diag, "BFD down: resetting the BGP session");
            p.last_error = Some(format!("BFD down ({})", e.diag.name()));
            let n = Notification::new(codes::CEASE, cease::BFD_DOWN, vec![]);
            let _ = p.tx.try_send(ToSession::Stop(Some(n)));
            let _ = p.tx.try_send(ToSession::Start);
            tracing::debug!(peer = id, "BGP session reset by BFD");
        }
    }

    /// Answers `show bfd peers` from the BFD task, without blocking the actor.
    pub(super) fn bfd_peers(&self, reply: oneshot::Sender<Response>) {
        let Some(b) = self.bfd.clone() else {
            let _ = reply.send(Response::BfdPeers(Vec::new()));
            return;
        };
        self.handle.spawn(async move {
            let r = match b.status().await {
                Ok(v) => Response::BfdPeers(v),
                Err(e) => Response::Error(e.to_string()),
            };
            let _ = reply.send(r);
        });
    }
}
