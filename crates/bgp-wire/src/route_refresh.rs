//! ROUTE-REFRESH messages (RFC 2918 §3) with the subtypes of RFC 7313 §3.

use crate::context::HEADER_LEN;
use crate::family::{Afi, Family, Safi};
use crate::header::{finish_header, start_header, MessageType};
use crate::notification::{codes, Notification};

/// ROUTE-REFRESH subtypes (RFC 7313 §3).
pub mod subtype {
    /// Normal route refresh request (RFC 2918).
    pub const NORMAL: u8 = 0;
    /// Demarcation of the beginning of a route refresh (BoRR).
    pub const BORR: u8 = 1;
    /// Demarcation of the ending of a route refresh (EoRR).
    pub const EORR: u8 = 2;
}

/// A ROUTE-REFRESH message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RouteRefresh {
    /// The family to refresh.
    pub family: Family,
    /// The subtype (the "Reserved" octet of RFC 2918). RFC 7313 §5: a subtype other than
    /// 0, 1 or 2 must be ignored by the receiver, so it is kept rather than refused.
    pub subtype: u8,
}

/// A ROUTE-REFRESH whose length is not 23 octets (RFC 7313 §5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ROUTE-REFRESH of {} octets, expected 23 (RFC 7313 §5: Invalid Message Length)", .message.len())]
pub struct RouteRefreshError {
    /// The whole offending message: it is the NOTIFICATION's data.
    pub message: Vec<u8>,
}

impl RouteRefreshError {
    /// The NOTIFICATION to send: ROUTE-REFRESH Message Error / Invalid Message Length, the
    /// data being the complete message (RFC 7313 §5).
    pub fn notification(&self) -> Notification {
        Notification::new(codes::ROUTE_REFRESH, 1, self.message.clone())
    }
}

impl RouteRefresh {
    /// A normal refresh request for `family`.
    pub fn new(family: Family) -> Self {
        RouteRefresh {
            family,
            subtype: subtype::NORMAL,
        }
    }

    /// Decodes a complete ROUTE-REFRESH message (header included).
    pub fn decode(msg: &[u8]) -> Result<Self, RouteRefreshError> {
        match msg.get(HEADER_LEN..) {
            Some(&[a0, a1, st, safi]) => Ok(RouteRefresh {
                family: Family::new(Afi(u16::from_be_bytes([a0, a1])), Safi(safi)),
                subtype: st,
            }),
            _ => Err(RouteRefreshError {
                message: msg.to_vec(),
            }),
        }
    }

    /// Appends the message.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = start_header(out, MessageType::RouteRefresh);
        out.extend_from_slice(&self.family.afi.0.to_be_bytes());
        out.push(self.subtype);
        out.push(self.family.safi.0);
        finish_header(out, start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_refresh_round_trips_with_borr_and_eorr() {
        for st in [subtype::NORMAL, subtype::BORR, subtype::EORR, 7] {
            let rr = RouteRefresh {
                family: Family::IPV6_UNICAST,
                subtype: st,
            };
            let mut buf = Vec::new();
            rr.encode(&mut buf);
            assert_eq!(buf.len(), 23);
            assert_eq!(RouteRefresh::decode(&buf), Ok(rr));
        }
    }

    #[test]
    fn a_long_route_refresh_is_invalid_message_length_with_the_message_as_data() {
        let mut buf = Vec::new();
        RouteRefresh::new(Family::IPV4_UNICAST).encode(&mut buf);
        buf.push(0);
        buf[17] = 24;
        let e = RouteRefresh::decode(&buf).unwrap_err();
        let n = e.notification();
        assert_eq!((n.code, n.subcode), (7, 1));
        assert_eq!(n.data, buf);
    }
}
