//! What a session negotiated, as far as the byte format is concerned.

use crate::capability::{AddPathFamily, Capability};
use crate::family::{Family, FamilySet};
use crate::open::Open;

/// Largest BGP message without the extended message capability (RFC 4271 §4.1).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Largest BGP message with the extended message capability (RFC 8654 §3).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;
/// Length of the message header (RFC 4271 §4.1).
pub const HEADER_LEN: usize = 19;

/// The negotiated options that change how messages are laid out in one direction of a
/// session.
///
/// A speaker keeps two: one for what it receives (`add_path` = families for which the peer
/// sends path identifiers) and one for what it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SessionContext {
    /// Both sides announced the 4-octet AS capability (RFC 6793 §3).
    pub four_octet_as: bool,
    /// Both sides announced the extended message capability (RFC 8654).
    pub extended_message: bool,
    /// Families whose NLRI carry ADD-PATH path identifiers in this direction (RFC 7911).
    pub add_path: FamilySet,
    /// The peer is external (eBGP): used by the RFC 7606 rules for LOCAL_PREF,
    /// ORIGINATOR_ID and CLUSTER_LIST (§7.5, §7.9, §7.10).
    pub external: bool,
}

impl SessionContext {
    /// The context of a modern eBGP session: 4-octet AS, no ADD-PATH, no extended messages.
    pub fn ebgp() -> Self {
        SessionContext {
            four_octet_as: true,
            external: true,
            ..Default::default()
        }
    }

    /// The context of a modern iBGP session: 4-octet AS, no ADD-PATH, no extended messages.
    pub fn ibgp() -> Self {
        SessionContext {
            four_octet_as: true,
            external: false,
            ..Default::default()
        }
    }

    /// Largest message allowed on this session.
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }
}

impl SessionContext {
    /// The receive and send contexts that follow from the OPEN a speaker `sent` and the one
    /// it `received` (RFC 6793 §4, RFC 7911 §4, RFC 8654 §3). `external` says whether the
    /// session is eBGP.
    ///
    /// ADD-PATH: we receive path identifiers for a family when we announced Receive and the
    /// peer announced Send; we send them when we announced Send and the peer Receive.
    pub fn negotiate(sent: &Open, received: &Open, external: bool) -> (Self, Self) {
        let has = |o: &Open, f: fn(&Capability) -> bool| o.capabilities().any(f);
        let four = has(sent, |c| matches!(c, Capability::FourOctetAs(_)))
            && has(received, |c| matches!(c, Capability::FourOctetAs(_)));
        let ext = has(sent, |c| matches!(c, Capability::ExtendedMessage))
            && has(received, |c| matches!(c, Capability::ExtendedMessage));
        let add_path = |o: &Open| -> Vec<AddPathFamily> {
            o.capabilities()
                .filter_map(|c| match c {
                    Capability::AddPath(v) => Some(v.clone()),
                    _ => None,
                })
                .flatten()
                .collect()
        };
        let (ours, theirs) = (add_path(sent), add_path(received));
        let mode =
            |list: &[AddPathFamily], f: Family| list.iter().find(|e| e.family == f).map(|e| e.mode);
        let (mut rx, mut tx) = (FamilySet::EMPTY, FamilySet::EMPTY);
        for e in &ours {
            let Some(peer) = mode(&theirs, e.family) else {
                continue;
            };
            if e.mode.can_receive() && peer.can_send() {
                rx.insert(e.family);
            }
            if e.mode.can_send() && peer.can_receive() {
                tx.insert(e.family);
            }
        }
        let base = SessionContext {
            four_octet_as: four,
            extended_message: ext,
            external,
            ..Default::default()
        };
        (
            SessionContext {
                add_path: rx,
                ..base
            },
            SessionContext {
                add_path: tx,
                ..base
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::AddPathMode;
    use std::net::Ipv4Addr;

    fn open(caps: Vec<Capability>) -> Open {
        Open::new(65001, 90, Ipv4Addr::new(10, 0, 0, 1), caps)
    }

    #[test]
    fn negotiation_needs_both_sides_and_add_path_is_directional() {
        let ap = |m| {
            Capability::AddPath(vec![AddPathFamily {
                family: Family::IPV4_UNICAST,
                mode: m,
            }])
        };
        let a = open(vec![
            Capability::FourOctetAs(65001),
            Capability::ExtendedMessage,
            ap(AddPathMode::RECEIVE),
        ]);
        let b = open(vec![Capability::FourOctetAs(65002), ap(AddPathMode::BOTH)]);
        let (rx, tx) = SessionContext::negotiate(&a, &b, true);
        assert!(rx.four_octet_as && tx.four_octet_as);
        assert!(
            !rx.extended_message,
            "only one side announced extended messages"
        );
        assert!(rx.add_path.contains(Family::IPV4_UNICAST));
        assert!(!tx.add_path.contains(Family::IPV4_UNICAST));
        assert!(rx.external);
        let (rx, _) = SessionContext::negotiate(&a, &open(vec![]), false);
        assert!(!rx.four_octet_as && rx.add_path.is_empty());
    }
}
