//! What a peer was sent, decoded with the session's context (LOCAL_PREF and the route
//! reflection attributes survive only an iBGP decoding, RFC 7606 §7).

use bgp_wire::{Message, SessionContext};

use super::super::{Fill, PeerId, Speaker};
use crate::rib::attrs::Attrs;

/// The output of one drain.
#[derive(Debug, Default)]
pub(super) struct Sent {
    /// UPDATE messages (End-of-RIB markers included).
    pub(super) updates: usize,
    /// Announced prefixes with the attributes they came with.
    pub(super) routes: Vec<(String, Attrs)>,
    /// Withdrawn prefixes.
    pub(super) withdrawn: Vec<String>,
    /// End-of-RIB markers.
    pub(super) eor: usize,
    /// The bytes, as written to the socket.
    pub(super) bytes: Vec<u8>,
}

impl Sent {
    /// The announced prefixes, in order.
    pub(super) fn prefixes(&self) -> Vec<&str> {
        self.routes.iter().map(|(p, _)| p.as_str()).collect()
    }

    /// The attributes `prefix` was announced with.
    pub(super) fn attrs(&self, prefix: &str) -> &Attrs {
        self.routes
            .iter()
            .find(|(p, _)| p == prefix)
            .map(|(_, a)| a)
            .unwrap_or_else(|| panic!("{prefix} was not announced: {:?}", self.prefixes()))
    }
}

/// Drains everything the peer may be sent now, with fills of `budget` octets.
pub(super) fn drain_with(s: &mut Speaker, id: PeerId, ctx: SessionContext, budget: usize) -> Sent {
    let mut bytes = Vec::new();
    while s.fill(id, budget, &mut bytes) == Fill::More {}
    decode(bytes, ctx)
}

/// The messages of `bytes`, as sent to a peer with receive context `ctx`.
pub(super) fn decode(bytes: Vec<u8>, ctx: SessionContext) -> Sent {
    let mut out = Sent::default();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let (m, len) = Message::decode(rest, &ctx).expect("the speaker sent a valid message");
        if let Message::Update(u) = m {
            out.updates += 1;
            if u.end_of_rib().is_some() {
                out.eor += 1;
            }
            let a = Attrs::from_update(&u);
            for (_, n) in u.announced() {
                out.routes.push((n.prefix.to_string(), a.clone()));
            }
            out.withdrawn
                .extend(u.withdrawals().map(|(_, n)| n.prefix.to_string()));
        }
        rest = &rest[len..];
    }
    out.bytes = bytes;
    out
}

/// [`drain_with`] with 64 KiB fills.
pub(super) fn sent(s: &mut Speaker, id: PeerId, ctx: SessionContext) -> Sent {
    drain_with(s, id, ctx, 1 << 16)
}
