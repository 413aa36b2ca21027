//! Message header and stream framing (RFC 4271 §4.1, §6.1; RFC 8654 §4).

use crate::context::{SessionContext, HEADER_LEN, MAX_MESSAGE_LEN};
use crate::notification::{codes, Notification};

/// BGP message types (RFC 4271 §4.1, RFC 2918 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// OPEN (1).
    Open = 1,
    /// UPDATE (2).
    Update = 2,
    /// NOTIFICATION (3).
    Notification = 3,
    /// KEEPALIVE (4).
    Keepalive = 4,
    /// ROUTE-REFRESH (5).
    RouteRefresh = 5,
}

impl MessageType {
    /// Maps the type octet.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => MessageType::Open,
            2 => MessageType::Update,
            3 => MessageType::Notification,
            4 => MessageType::Keepalive,
            5 => MessageType::RouteRefresh,
            _ => return None,
        })
    }

    /// Smallest valid total length for this type (RFC 4271 §6.1, RFC 2918 §3).
    pub fn min_len(self) -> usize {
        match self {
            MessageType::Open => 29,
            MessageType::Update => 23,
            MessageType::Notification => 21,
            MessageType::Keepalive => 19,
            MessageType::RouteRefresh => 23,
        }
    }
}

/// A message header error (RFC 4271 §6.1): always ends the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The 16-octet marker is not all ones.
    #[error("marker is not all ones (RFC 4271 §6.1: Connection Not Synchronized)")]
    ConnectionNotSynchronized,
    /// Length below the minimum, above the maximum, or wrong for the message type.
    #[error("message length {length} is invalid for {what} (RFC 4271 §6.1: Bad Message Length)")]
    BadMessageLength {
        /// The length field.
        length: u16,
        /// What it was checked against.
        what: &'static str,
    },
    /// Unknown message type.
    #[error("unknown message type {0} (RFC 4271 §6.1: Bad Message Type)")]
    BadMessageType(u8),
}

impl HeaderError {
    /// The NOTIFICATION to send for this error, with the data RFC 4271 §6.1 asks for.
    pub fn notification(&self) -> Notification {
        match self {
            HeaderError::ConnectionNotSynchronized => {
                Notification::new(codes::MESSAGE_HEADER, 1, Vec::new())
            }
            HeaderError::BadMessageLength { length, .. } => {
                Notification::new(codes::MESSAGE_HEADER, 2, length.to_be_bytes().to_vec())
            }
            HeaderError::BadMessageType(t) => Notification::new(codes::MESSAGE_HEADER, 3, vec![*t]),
        }
    }
}

/// What the framer knows about the next message in a byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// At least this many bytes (in total, from the start of the buffer) are needed
    /// before the message can be framed.
    Need(usize),
    /// A complete message of this many bytes starts the buffer.
    Ready(usize, MessageType),
}

/// Frames the next message of a stream: checks the marker, the length against the
/// negotiated maximum and the type's bounds, and says how many bytes the message takes.
///
/// `buf` may hold several messages or only part of one. OPEN and KEEPALIVE are bounded by
/// 4096 octets even with extended messages (RFC 8654 §4).
#[inline]
pub fn frame(buf: &[u8], ctx: &SessionContext) -> Result<Frame, HeaderError> {
    let Some(hdr) = buf.first_chunk::<HEADER_LEN>() else {
        // Check the marker bytes we already have, to fail early on garbage.
        if buf.iter().take(16).any(|&b| b != 0xff) {
            return Err(HeaderError::ConnectionNotSynchronized);
        }
        return Ok(Frame::Need(HEADER_LEN));
    };
    // One 16-octet comparison instead of a loop over the marker octets.
    let marker = hdr
        .first_chunk::<16>()
        .map_or(0, |m| u128::from_ne_bytes(*m));
    if marker != u128::MAX {
        return Err(HeaderError::ConnectionNotSynchronized);
    }
    let length = u16::from_be_bytes([hdr[16], hdr[17]]);
    let len = usize::from(length);
    let ty = MessageType::from_u8(hdr[18]).ok_or(HeaderError::BadMessageType(hdr[18]))?;
    let max = match ty {
        MessageType::Open | MessageType::Keepalive => MAX_MESSAGE_LEN,
        _ => ctx.max_message_len(),
    };
    if len < ty.min_len() || len > max || (ty == MessageType::Keepalive && len != HEADER_LEN) {
        return Err(HeaderError::BadMessageLength {
            length,
            what: type_name(ty),
        });
    }
    if buf.len() < len {
        return Ok(Frame::Need(len));
    }
    Ok(Frame::Ready(len, ty))
}

fn type_name(ty: MessageType) -> &'static str {
    match ty {
        MessageType::Open => "OPEN",
        MessageType::Update => "UPDATE",
        MessageType::Notification => "NOTIFICATION",
        MessageType::Keepalive => "KEEPALIVE",
        MessageType::RouteRefresh => "ROUTE-REFRESH",
    }
}

/// Appends a header with a zero length; [`finish_header`] fills the length in.
#[inline]
pub(crate) fn start_header(out: &mut Vec<u8>, ty: MessageType) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0xff; 16]);
    out.extend_from_slice(&[0, 0, ty as u8]);
    start
}

/// Writes the length of the message that starts at `start` and ends at `out.len()`.
#[inline]
pub(crate) fn finish_header(out: &mut [u8], start: usize) -> usize {
    let len = out.len() - start;
    let l = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
    out[start + 16] = l[0];
    out[start + 17] = l[1];
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keepalive() -> Vec<u8> {
        let mut v = vec![0xff; 16];
        v.extend_from_slice(&[0, 19, 4]);
        v
    }

    #[test]
    fn framing_asks_for_more_bytes_until_the_message_is_complete() {
        let k = keepalive();
        let ctx = SessionContext::default();
        assert_eq!(frame(&k[..5], &ctx), Ok(Frame::Need(19)));
        assert_eq!(
            frame(&k, &ctx),
            Ok(Frame::Ready(19, MessageType::Keepalive))
        );
        let mut two = k.clone();
        two.extend_from_slice(&k[..3]);
        assert_eq!(
            frame(&two, &ctx),
            Ok(Frame::Ready(19, MessageType::Keepalive))
        );
    }

    #[test]
    fn a_bad_marker_is_connection_not_synchronized() {
        let mut k = keepalive();
        k[3] = 0;
        let e = frame(&k, &SessionContext::default()).unwrap_err();
        assert_eq!(e, HeaderError::ConnectionNotSynchronized);
        assert_eq!(e.notification().code, 1);
        assert_eq!(e.notification().subcode, 1);
        assert!(frame(&k[..4], &SessionContext::default()).is_err());
    }

    #[test]
    fn bad_lengths_carry_the_length_field_as_data() {
        let mut k = keepalive();
        k[17] = 20;
        let e = frame(&k, &SessionContext::default()).unwrap_err();
        assert_eq!(e.notification().data, vec![0, 20]);
        // UPDATE above 4096 without extended messages, accepted with them.
        let mut u = vec![0xff; 16];
        u.extend_from_slice(&5000u16.to_be_bytes());
        u.push(2);
        assert!(frame(&u, &SessionContext::default()).is_err());
        let ext = SessionContext {
            extended_message: true,
            ..Default::default()
        };
        assert_eq!(frame(&u, &ext), Ok(Frame::Need(5000)));
        // OPEN stays bounded by 4096 even with extended messages (RFC 8654 §4).
        u[18] = 1;
        assert!(frame(&u, &ext).is_err());
    }

    #[test]
    fn unknown_types_are_bad_message_type_with_the_type_as_data() {
        let mut k = keepalive();
        k[18] = 9;
        let e = frame(&k, &SessionContext::default()).unwrap_err();
        assert_eq!(e, HeaderError::BadMessageType(9));
        assert_eq!(e.notification().data, vec![9]);
    }
}
