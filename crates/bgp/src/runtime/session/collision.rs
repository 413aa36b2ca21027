//! Connection collisions (RFC 4271 §6.8, RFC 6286 §2.3): which of two connections to the
//! same peer stays.

use std::net::Ipv4Addr;

use tokio::sync::mpsc;
use tracing::debug;

use super::{Conn, FromSession, SessionSpec};
use crate::fsm::{Event, State};
use crate::negotiate::Negotiated;

/// Whether the connection we initiated wins a collision: RFC 4271 §6.8 keeps the one opened
/// by the speaker with the higher BGP identifier; RFC 6286 §2.3, for equal identifiers
/// (possible between ASes), the one opened by the speaker with the larger AS number.
pub(crate) fn local_wins_collision(
    local_id: Ipv4Addr,
    local_asn: u32,
    peer_id: Ipv4Addr,
    peer_asn: u32,
) -> bool {
    (u32::from(local_id), local_asn) > (u32::from(peer_id), peer_asn)
}

/// RFC 4271 §6.8: with two connections to the same peer, the one initiated by the winner of
/// [`local_wins_collision`] stays.
pub(super) async fn resolve(
    conns: &mut [Conn],
    i: usize,
    n: &Negotiated,
    spec: &SessionSpec,
    to_actor: &mpsc::Sender<FromSession>,
) {
    if conns.len() < 2 {
        return;
    }
    let other = 1 - i;
    if !matches!(
        conns[other].fsm.state(),
        State::OpenSent | State::OpenConfirm
    ) {
        return;
    }
    let local_wins = local_wins_collision(
        spec.params.local_id,
        spec.params.local_asn,
        n.peer_id,
        n.peer_asn,
    );
    // Keep the connection initiated by the winner.
    let keep_outgoing = local_wins;
    let loser = if conns[i].outgoing == keep_outgoing {
        other
    } else {
        i
    };
    debug!(
        local_wins,
        "connection collision: dumping connection {loser}"
    );
    Box::pin(super::step(
        conns,
        loser,
        Event::OpenCollisionDump,
        spec,
        to_actor,
    ))
    .await;
}
