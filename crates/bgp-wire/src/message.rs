//! Whole messages: decode any framed message, encode any owned one.

use crate::context::SessionContext;
use crate::header::{frame, Frame, HeaderError, MessageType};
use crate::notification::{Notification, NotificationError};
use crate::open::{Open, OpenError};
use crate::route_refresh::{RouteRefresh, RouteRefreshError};
use crate::update::error::UpdateError;
use crate::update::owned::{EncodeError, UpdateMessage};
use crate::update::view::Update;

/// A decoded message; UPDATEs borrow the input.
///
/// The UPDATE variant is large (its attribute index lives inline): boxing it would
/// allocate once per UPDATE on the receive hot path, which is what this codec avoids.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Message<'a> {
    /// OPEN.
    Open(Open),
    /// UPDATE (a validated view).
    Update(Update<'a>),
    /// NOTIFICATION.
    Notification(Notification),
    /// KEEPALIVE.
    Keepalive,
    /// ROUTE-REFRESH.
    RouteRefresh(RouteRefresh),
}

/// An owned message, for encoding and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "type", content = "message", rename_all = "snake_case")
)]
pub enum OwnedMessage {
    /// OPEN.
    Open(Open),
    /// UPDATE.
    Update(UpdateMessage),
    /// NOTIFICATION.
    Notification(Notification),
    /// KEEPALIVE.
    Keepalive,
    /// ROUTE-REFRESH.
    RouteRefresh(RouteRefresh),
}

/// Any decoding error, each able to say which NOTIFICATION (if any) to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Header error (RFC 4271 §6.1).
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The buffer does not hold a complete message.
    #[error("incomplete message: {needed} octets needed, {have} available")]
    Incomplete {
        /// Octets the message needs.
        needed: usize,
        /// Octets available.
        have: usize,
    },
    /// OPEN error (RFC 4271 §6.2).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// UPDATE error requiring a session reset (RFC 7606).
    #[error(transparent)]
    Update(#[from] UpdateError),
    /// NOTIFICATION too short: no NOTIFICATION is sent in reply (RFC 4271 §6.4).
    #[error(transparent)]
    Notification(#[from] NotificationError),
    /// ROUTE-REFRESH error (RFC 7313 §5).
    #[error(transparent)]
    RouteRefresh(#[from] RouteRefreshError),
}

impl DecodeError {
    /// The NOTIFICATION to send before closing, if any.
    pub fn notification(&self) -> Option<Notification> {
        match self {
            DecodeError::Header(e) => Some(e.notification()),
            DecodeError::Open(e) => Some(e.notification()),
            DecodeError::Update(e) => Some(e.notification.clone()),
            DecodeError::RouteRefresh(e) => Some(e.notification()),
            DecodeError::Incomplete { .. } | DecodeError::Notification(_) => None,
        }
    }
}

impl<'a> Message<'a> {
    /// Decodes the message at the start of `buf` and returns it with its length.
    pub fn decode(
        buf: &'a [u8],
        ctx: &SessionContext,
    ) -> Result<(Message<'a>, usize), DecodeError> {
        let (len, ty) = match frame(buf, ctx)? {
            Frame::Ready(len, ty) => (len, ty),
            Frame::Need(n) => {
                return Err(DecodeError::Incomplete {
                    needed: n,
                    have: buf.len(),
                })
            }
        };
        let msg = &buf[..len];
        let m = match ty {
            MessageType::Open => Message::Open(Open::decode(msg)?),
            MessageType::Update => Message::Update(Update::decode(msg, ctx)?),
            MessageType::Notification => Message::Notification(Notification::decode(msg)?),
            MessageType::Keepalive => Message::Keepalive,
            MessageType::RouteRefresh => Message::RouteRefresh(RouteRefresh::decode(msg)?),
        };
        Ok((m, len))
    }

    /// An owned copy.
    pub fn to_owned(&self) -> OwnedMessage {
        match self {
            Message::Open(o) => OwnedMessage::Open(o.clone()),
            Message::Update(u) => OwnedMessage::Update(UpdateMessage::from_view(u)),
            Message::Notification(n) => OwnedMessage::Notification(n.clone()),
            Message::Keepalive => OwnedMessage::Keepalive,
            Message::RouteRefresh(r) => OwnedMessage::RouteRefresh(*r),
        }
    }
}

impl OwnedMessage {
    /// Appends the encoded message.
    pub fn encode(&self, ctx: &SessionContext, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            OwnedMessage::Open(o) => o.encode(out),
            OwnedMessage::Update(u) => {
                u.encode(ctx, out)?;
            }
            OwnedMessage::Notification(n) => n.encode(out),
            OwnedMessage::Keepalive => encode_keepalive(out),
            OwnedMessage::RouteRefresh(r) => r.encode(out),
        }
        Ok(())
    }
}

/// Appends a KEEPALIVE (RFC 4271 §4.4).
pub fn encode_keepalive(out: &mut Vec<u8>) {
    let start = crate::header::start_header(out, MessageType::Keepalive);
    crate::header::finish_header(out, start);
}
