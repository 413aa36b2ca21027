//! NOTIFICATION messages (RFC 4271 §4.5) with every registered code and subcode, the
//! shutdown communication of RFC 8203/9003 and the hard reset of RFC 8538.

use std::fmt;

use crate::context::HEADER_LEN;
use crate::header::{finish_header, start_header, MessageType};

/// Error codes (IANA "BGP Error (Notification) Codes").
pub mod codes {
    /// Message Header Error (RFC 4271).
    pub const MESSAGE_HEADER: u8 = 1;
    /// OPEN Message Error (RFC 4271).
    pub const OPEN_MESSAGE: u8 = 2;
    /// UPDATE Message Error (RFC 4271).
    pub const UPDATE_MESSAGE: u8 = 3;
    /// Hold Timer Expired (RFC 4271).
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    /// Finite State Machine Error (RFC 4271, subcodes RFC 6608).
    pub const FSM: u8 = 5;
    /// Cease (RFC 4271, subcodes RFC 4486, 8538, 9384).
    pub const CEASE: u8 = 6;
    /// ROUTE-REFRESH Message Error (RFC 7313).
    pub const ROUTE_REFRESH: u8 = 7;
    /// Send Hold Timer Expired (RFC 9687).
    pub const SEND_HOLD_TIMER_EXPIRED: u8 = 8;
}

/// Cease subcodes (RFC 4486, RFC 8538, RFC 9384).
pub mod cease {
    /// Maximum Number of Prefixes Reached.
    pub const MAX_PREFIXES: u8 = 1;
    /// Administrative Shutdown (may carry a shutdown communication, RFC 9003).
    pub const ADMIN_SHUTDOWN: u8 = 2;
    /// Peer De-configured.
    pub const PEER_DECONFIGURED: u8 = 3;
    /// Administrative Reset (may carry a shutdown communication, RFC 9003).
    pub const ADMIN_RESET: u8 = 4;
    /// Connection Rejected.
    pub const CONNECTION_REJECTED: u8 = 5;
    /// Other Configuration Change.
    pub const OTHER_CONFIG_CHANGE: u8 = 6;
    /// Connection Collision Resolution.
    pub const CONNECTION_COLLISION: u8 = 7;
    /// Out of Resources.
    pub const OUT_OF_RESOURCES: u8 = 8;
    /// Hard Reset (RFC 8538).
    pub const HARD_RESET: u8 = 9;
    /// BFD Down (RFC 9384).
    pub const BFD_DOWN: u8 = 10;
}

/// Longest shutdown communication in octets (RFC 9003 §2).
pub const MAX_SHUTDOWN_COMMUNICATION: usize = 255;

/// A NOTIFICATION message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Notification {
    /// Error code.
    pub code: u8,
    /// Error subcode.
    pub subcode: u8,
    /// Data, whose meaning depends on code and subcode.
    pub data: Vec<u8>,
}

/// A NOTIFICATION that could not be decoded (shorter than 21 octets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("NOTIFICATION of {len} octets is shorter than the 21 RFC 4271 §4.5 requires")]
pub struct NotificationError {
    /// Total message length.
    pub len: usize,
}

impl Notification {
    /// A NOTIFICATION with the given code, subcode and data.
    pub fn new(code: u8, subcode: u8, data: Vec<u8>) -> Self {
        Notification {
            code,
            subcode,
            data,
        }
    }

    /// Cease / Administrative Shutdown or Reset with a shutdown communication
    /// (RFC 9003 §2), truncated at a character boundary to 255 octets.
    pub fn shutdown(subcode: u8, message: &str) -> Self {
        let mut end = message.len().min(MAX_SHUTDOWN_COMMUNICATION);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let mut data = Vec::with_capacity(end + 1);
        data.push(end as u8);
        data.extend_from_slice(&message.as_bytes()[..end]);
        Notification::new(codes::CEASE, subcode, data)
    }

    /// Cease / Hard Reset (RFC 8538 §3) wrapping the code, subcode and data of the
    /// underlying reason.
    pub fn hard_reset(inner: &Notification) -> Self {
        let mut data = vec![inner.code, inner.subcode];
        data.extend_from_slice(&inner.data);
        Notification::new(codes::CEASE, cease::HARD_RESET, data)
    }

    /// Decodes a complete NOTIFICATION message (header included).
    pub fn decode(msg: &[u8]) -> Result<Self, NotificationError> {
        if msg.len() < HEADER_LEN + 2 {
            return Err(NotificationError { len: msg.len() });
        }
        let body = &msg[HEADER_LEN..];
        Ok(Notification::new(body[0], body[1], body[2..].to_vec()))
    }

    /// Appends the message to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = start_header(out, MessageType::Notification);
        out.push(self.code);
        out.push(self.subcode);
        // A NOTIFICATION must fit a 4096-octet message: cut overlong data.
        let room = crate::context::MAX_MESSAGE_LEN - HEADER_LEN - 2;
        out.extend_from_slice(&self.data[..self.data.len().min(room)]);
        finish_header(out, start);
    }

    /// The RFC 8203/9003 shutdown communication, if this is an Administrative Shutdown or
    /// Reset carrying a well-formed one (length octet then that many octets of UTF-8).
    pub fn shutdown_communication(&self) -> Option<&str> {
        if self.code != codes::CEASE
            || !(self.subcode == cease::ADMIN_SHUTDOWN || self.subcode == cease::ADMIN_RESET)
        {
            return None;
        }
        let (&len, rest) = self.data.split_first()?;
        let text = rest.get(..usize::from(len))?;
        std::str::from_utf8(text).ok()
    }

    /// The wrapped reason of a Hard Reset (RFC 8538 §3).
    pub fn hard_reset_reason(&self) -> Option<Notification> {
        if self.code != codes::CEASE || self.subcode != cease::HARD_RESET || self.data.len() < 2 {
            return None;
        }
        Some(Notification::new(
            self.data[0],
            self.data[1],
            self.data[2..].to_vec(),
        ))
    }

    /// Name of the error code.
    pub fn code_name(&self) -> &'static str {
        code_name(self.code)
    }

    /// Name of the subcode within its code.
    pub fn subcode_name(&self) -> &'static str {
        subcode_name(self.code, self.subcode)
    }
}

/// Name of an error code.
pub fn code_name(code: u8) -> &'static str {
    match code {
        codes::MESSAGE_HEADER => "Message Header Error",
        codes::OPEN_MESSAGE => "OPEN Message Error",
        codes::UPDATE_MESSAGE => "UPDATE Message Error",
        codes::HOLD_TIMER_EXPIRED => "Hold Timer Expired",
        codes::FSM => "Finite State Machine Error",
        codes::CEASE => "Cease",
        codes::ROUTE_REFRESH => "ROUTE-REFRESH Message Error",
        codes::SEND_HOLD_TIMER_EXPIRED => "Send Hold Timer Expired",
        _ => "Unknown error code",
    }
}

/// Name of a subcode within its error code.
pub fn subcode_name(code: u8, subcode: u8) -> &'static str {
    match (code, subcode) {
        (_, 0) => "Unspecific",
        (codes::MESSAGE_HEADER, 1) => "Connection Not Synchronized",
        (codes::MESSAGE_HEADER, 2) => "Bad Message Length",
        (codes::MESSAGE_HEADER, 3) => "Bad Message Type",
        (codes::OPEN_MESSAGE, 1) => "Unsupported Version Number",
        (codes::OPEN_MESSAGE, 2) => "Bad Peer AS",
        (codes::OPEN_MESSAGE, 3) => "Bad BGP Identifier",
        (codes::OPEN_MESSAGE, 4) => "Unsupported Optional Parameter",
        (codes::OPEN_MESSAGE, 5) => "Authentication Failure (deprecated)",
        (codes::OPEN_MESSAGE, 6) => "Unacceptable Hold Time",
        (codes::OPEN_MESSAGE, 7) => "Unsupported Capability",
        (codes::OPEN_MESSAGE, 8) => "Deprecated",
        (codes::OPEN_MESSAGE, 9) => "Deprecated",
        (codes::OPEN_MESSAGE, 10) => "Deprecated",
        (codes::OPEN_MESSAGE, 11) => "Role Mismatch",
        (codes::UPDATE_MESSAGE, 1) => "Malformed Attribute List",
        (codes::UPDATE_MESSAGE, 2) => "Unrecognized Well-known Attribute",
        (codes::UPDATE_MESSAGE, 3) => "Missing Well-known Attribute",
        (codes::UPDATE_MESSAGE, 4) => "Attribute Flags Error",
        (codes::UPDATE_MESSAGE, 5) => "Attribute Length Error",
        (codes::UPDATE_MESSAGE, 6) => "Invalid ORIGIN Attribute",
        (codes::UPDATE_MESSAGE, 7) => "AS Routing Loop (deprecated)",
        (codes::UPDATE_MESSAGE, 8) => "Invalid NEXT_HOP Attribute",
        (codes::UPDATE_MESSAGE, 9) => "Optional Attribute Error",
        (codes::UPDATE_MESSAGE, 10) => "Invalid Network Field",
        (codes::UPDATE_MESSAGE, 11) => "Malformed AS_PATH",
        (codes::FSM, 1) => "Receive Unexpected Message in OpenSent State",
        (codes::FSM, 2) => "Receive Unexpected Message in OpenConfirm State",
        (codes::FSM, 3) => "Receive Unexpected Message in Established State",
        (codes::CEASE, cease::MAX_PREFIXES) => "Maximum Number of Prefixes Reached",
        (codes::CEASE, cease::ADMIN_SHUTDOWN) => "Administrative Shutdown",
        (codes::CEASE, cease::PEER_DECONFIGURED) => "Peer De-configured",
        (codes::CEASE, cease::ADMIN_RESET) => "Administrative Reset",
        (codes::CEASE, cease::CONNECTION_REJECTED) => "Connection Rejected",
        (codes::CEASE, cease::OTHER_CONFIG_CHANGE) => "Other Configuration Change",
        (codes::CEASE, cease::CONNECTION_COLLISION) => "Connection Collision Resolution",
        (codes::CEASE, cease::OUT_OF_RESOURCES) => "Out of Resources",
        (codes::CEASE, cease::HARD_RESET) => "Hard Reset",
        (codes::CEASE, cease::BFD_DOWN) => "BFD Down",
        (codes::ROUTE_REFRESH, 1) => "Invalid Message Length",
        _ => "Unknown subcode",
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} ({}/{})",
            self.code_name(),
            self.subcode_name(),
            self.code,
            self.subcode
        )?;
        if let Some(text) = self.shutdown_communication() {
            write!(f, " \"{}\"", text.escape_default())?;
        } else if let Some(inner) = self.hard_reset_reason() {
            write!(f, " wrapping {inner}")?;
        } else if !self.data.is_empty() {
            write!(f, " data ")?;
            for b in self.data.iter().take(64) {
                write!(f, "{b:02x}")?;
            }
            if self.data.len() > 64 {
                write!(f, "…")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_communication_round_trips_and_is_truncated_on_a_char_boundary() {
        let n = Notification::shutdown(cease::ADMIN_SHUTDOWN, "maintenance window 42");
        let mut buf = Vec::new();
        n.encode(&mut buf);
        let back = Notification::decode(&buf).unwrap();
        assert_eq!(back, n);
        assert_eq!(back.shutdown_communication(), Some("maintenance window 42"));
        assert!(back.to_string().contains("Administrative Shutdown"));

        let long = "é".repeat(200); // 400 octets
        let n = Notification::shutdown(cease::ADMIN_RESET, &long);
        assert_eq!(n.data[0], 254);
        assert_eq!(n.shutdown_communication().unwrap().chars().count(), 127);
    }

    #[test]
    fn a_malformed_shutdown_communication_is_not_interpreted() {
        let n = Notification::new(codes::CEASE, cease::ADMIN_SHUTDOWN, vec![10, b'a']);
        assert_eq!(n.shutdown_communication(), None);
        let n = Notification::new(codes::CEASE, cease::ADMIN_SHUTDOWN, vec![2, 0xff, 0xfe]);
        assert_eq!(n.shutdown_communication(), None);
    }

    #[test]
    fn hard_reset_wraps_its_reason() {
        let inner = Notification::new(codes::HOLD_TIMER_EXPIRED, 0, vec![]);
        let hr = Notification::hard_reset(&inner);
        assert_eq!(hr.hard_reset_reason(), Some(inner));
        assert_eq!(hr.subcode_name(), "Hard Reset");
    }

    #[test]
    fn every_registered_subcode_has_a_name() {
        let registered: &[(u8, std::ops::RangeInclusive<u8>)] = &[
            (1, 1..=3),
            (2, 1..=11),
            (3, 1..=11),
            (5, 1..=3),
            (6, 1..=10),
            (7, 1..=1),
        ];
        for (code, subs) in registered {
            assert_ne!(code_name(*code), "Unknown error code");
            for s in subs.clone() {
                assert_ne!(subcode_name(*code, s), "Unknown subcode", "{code}/{s}");
            }
        }
    }

    #[test]
    fn short_notifications_are_rejected() {
        let mut buf = vec![0xff; 16];
        buf.extend_from_slice(&[0, 20, 3, 6]);
        assert!(Notification::decode(&buf).is_err());
    }
}
