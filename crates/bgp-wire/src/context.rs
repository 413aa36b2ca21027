//! What a session negotiated, as far as the byte format is concerned.

use crate::family::FamilySet;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
