//! OPEN messages (RFC 4271 §4.2) with optional parameters, capabilities (RFC 5492) and the
//! extended optional parameters length (RFC 9072).

use std::net::Ipv4Addr;

use crate::capability::Capability;
use crate::context::HEADER_LEN;
use crate::header::{finish_header, start_header, MessageType};
use crate::notification::{codes, Notification};

/// The 2-octet placeholder for 4-octet AS numbers (RFC 6793 §9).
pub const AS_TRANS: u16 = 23456;
/// Optional parameter type of capabilities (RFC 5492 §4).
pub const PARAM_CAPABILITIES: u8 = 2;

/// An optional parameter of an OPEN message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum OptionalParameter {
    /// A Capabilities parameter (type 2) holding one or more capabilities.
    Capabilities(Vec<Capability>),
    /// Any other parameter type (only produced by encoders; decoding rejects them with
    /// Unsupported Optional Parameter, RFC 4271 §6.2).
    Other {
        /// Parameter type.
        ptype: u8,
        /// Parameter value.
        data: Vec<u8>,
    },
}

/// An OPEN message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Open {
    /// Protocol version (4).
    pub version: u8,
    /// The 2-octet "My Autonomous System" field (AS_TRANS for 4-octet ASNs).
    pub my_as: u16,
    /// Proposed hold time in seconds.
    pub hold_time: u16,
    /// BGP identifier.
    pub bgp_id: Ipv4Addr,
    /// Optional parameters, in wire order.
    pub params: Vec<OptionalParameter>,
    /// Whether the parameters use the extended length encoding of RFC 9072.
    pub extended_params: bool,
}

/// Why an OPEN was refused (RFC 4271 §6.2, RFC 9072 §2, RFC 5492 §5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The message is too short or its parameter lengths are inconsistent.
    #[error("OPEN is malformed: {0} (RFC 4271 §6.2)")]
    Malformed(&'static str),
    /// Version other than 4.
    #[error("unsupported BGP version {0}; only 4 is supported (RFC 4271 §6.2)")]
    UnsupportedVersion(u8),
    /// Hold time of 1 or 2 seconds.
    #[error("hold time {0}s is unacceptable: it must be 0 or at least 3 (RFC 4271 §6.2)")]
    UnacceptableHoldTime(u16),
    /// BGP identifier 0.0.0.0.
    #[error("BGP identifier 0.0.0.0 is invalid (RFC 6286 §2.2)")]
    BadBgpIdentifier,
    /// An optional parameter type other than Capabilities.
    #[error("unsupported optional parameter type {0} (RFC 4271 §6.2)")]
    UnsupportedOptionalParameter(u8),
}

impl OpenError {
    /// The NOTIFICATION to send for this error.
    pub fn notification(&self) -> Notification {
        let (sub, data) = match self {
            // No dedicated subcode for a malformed OPEN: RFC 4271 §6.2 uses the
            // unspecific subcode; the parameter length case is RFC 9072 §3's.
            OpenError::Malformed(_) => (0, vec![]),
            OpenError::UnsupportedVersion(_) => (1, 4u16.to_be_bytes().to_vec()),
            OpenError::BadBgpIdentifier => (3, vec![]),
            OpenError::UnsupportedOptionalParameter(_) => (4, vec![]),
            OpenError::UnacceptableHoldTime(_) => (6, vec![]),
        };
        Notification::new(codes::OPEN_MESSAGE, sub, data)
    }
}

impl Open {
    /// An OPEN for `asn` with the given capabilities in one Capabilities parameter.
    /// `my_as` is set to AS_TRANS when `asn` does not fit 2 octets (RFC 6793 §4.1).
    pub fn new(asn: u32, hold_time: u16, bgp_id: Ipv4Addr, capabilities: Vec<Capability>) -> Self {
        let params = if capabilities.is_empty() {
            vec![]
        } else {
            vec![OptionalParameter::Capabilities(capabilities)]
        };
        Open {
            version: 4,
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time,
            bgp_id,
            params,
            extended_params: false,
        }
    }

    /// All capabilities, across every Capabilities parameter, in wire order.
    pub fn capabilities(&self) -> impl Iterator<Item = &Capability> {
        self.params.iter().flat_map(|p| match p {
            OptionalParameter::Capabilities(c) => c.as_slice(),
            OptionalParameter::Other { .. } => &[],
        })
    }

    /// The speaker's AS: the 4-octet AS capability if present, else `my_as`.
    pub fn asn(&self) -> u32 {
        self.capabilities()
            .find_map(|c| match c {
                Capability::FourOctetAs(a) => Some(*a),
                _ => None,
            })
            .unwrap_or(u32::from(self.my_as))
    }

    /// Decodes a complete OPEN message (header included) and applies the checks of
    /// RFC 4271 §6.2 that need no local knowledge (peer AS and identifier collisions are
    /// the speaker's to check).
    pub fn decode(msg: &[u8]) -> Result<Self, OpenError> {
        let body = msg
            .get(HEADER_LEN..)
            .ok_or(OpenError::Malformed("shorter than a header"))?;
        if body.len() < 10 {
            return Err(OpenError::Malformed("shorter than 29 octets"));
        }
        let version = body[0];
        if version != 4 {
            return Err(OpenError::UnsupportedVersion(version));
        }
        let my_as = u16::from_be_bytes([body[1], body[2]]);
        let hold_time = u16::from_be_bytes([body[3], body[4]]);
        if hold_time == 1 || hold_time == 2 {
            return Err(OpenError::UnacceptableHoldTime(hold_time));
        }
        let bgp_id = Ipv4Addr::new(body[5], body[6], body[7], body[8]);
        if bgp_id.is_unspecified() {
            return Err(OpenError::BadBgpIdentifier);
        }
        let opt_len = body[9];
        let rest = &body[10..];
        // RFC 9072 §2: Non-Ext OP Len 255 followed by Non-Ext OP Type 255.
        let (extended_params, params_bytes) = if opt_len == 255 && rest.first() == Some(&255) {
            let l = rest
                .get(1..3)
                .ok_or(OpenError::Malformed("extended parameters length"))?;
            let l = usize::from(u16::from_be_bytes([l[0], l[1]]));
            let p = rest
                .get(3..)
                .ok_or(OpenError::Malformed("extended parameters length"))?;
            if p.len() != l {
                return Err(OpenError::Malformed("extended parameters length disagrees"));
            }
            (true, p)
        } else {
            if rest.len() != usize::from(opt_len) {
                return Err(OpenError::Malformed("optional parameters length disagrees"));
            }
            (false, rest)
        };
        let hdr = if extended_params { 3 } else { 2 };
        let mut params = Vec::new();
        let mut p = params_bytes;
        while !p.is_empty() {
            if p.len() < hdr {
                return Err(OpenError::Malformed("truncated optional parameter header"));
            }
            let ptype = p[0];
            let plen = if extended_params {
                usize::from(u16::from_be_bytes([p[1], p[2]]))
            } else {
                usize::from(p[1])
            };
            let value = p
                .get(hdr..hdr + plen)
                .ok_or(OpenError::Malformed("optional parameter overrun"))?;
            p = &p[hdr + plen..];
            if ptype != PARAM_CAPABILITIES {
                return Err(OpenError::UnsupportedOptionalParameter(ptype));
            }
            params.push(OptionalParameter::Capabilities(decode_capabilities(value)?));
        }
        Ok(Open {
            version,
            my_as,
            hold_time,
            bgp_id,
            params,
            extended_params,
        })
    }

    /// Appends the message. The extended parameter encoding is used when `extended_params`
    /// is set or when the parameters do not fit 255 octets (RFC 9072 §2).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = start_header(out, MessageType::Open);
        out.push(self.version);
        out.extend_from_slice(&self.my_as.to_be_bytes());
        out.extend_from_slice(&self.hold_time.to_be_bytes());
        out.extend_from_slice(&self.bgp_id.octets());
        let mut params = Vec::new();
        let mut values = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let mut v = Vec::new();
            let ptype = match p {
                OptionalParameter::Capabilities(caps) => {
                    for c in caps {
                        c.encode(&mut v);
                    }
                    PARAM_CAPABILITIES
                }
                OptionalParameter::Other { ptype, data } => {
                    v.extend_from_slice(data);
                    *ptype
                }
            };
            values.push((ptype, v));
        }
        let extended = self.extended_params
            || values.iter().any(|(_, v)| v.len() > 255)
            || values.iter().map(|(_, v)| v.len() + 2).sum::<usize>() > 255;
        for (ptype, v) in &values {
            params.push(*ptype);
            if extended {
                params.extend_from_slice(&(v.len() as u16).to_be_bytes());
            } else {
                params.push(v.len() as u8);
            }
            params.extend_from_slice(v);
        }
        if extended {
            out.extend_from_slice(&[255, 255]);
            out.extend_from_slice(&(params.len() as u16).to_be_bytes());
        } else {
            out.push(params.len() as u8);
        }
        out.extend_from_slice(&params);
        finish_header(out, start);
    }
}

fn decode_capabilities(mut v: &[u8]) -> Result<Vec<Capability>, OpenError> {
    let mut caps = Vec::new();
    while !v.is_empty() {
        if v.len() < 2 {
            return Err(OpenError::Malformed("truncated capability header"));
        }
        let code = v[0];
        let len = usize::from(v[1]);
        let value = v
            .get(2..2 + len)
            .ok_or(OpenError::Malformed("capability overrun"))?;
        caps.push(Capability::decode(code, value));
        v = &v[2 + len..];
    }
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::Family;

    fn sample() -> Open {
        Open::new(
            4_200_000_001,
            90,
            Ipv4Addr::new(10, 0, 0, 1),
            vec![
                Capability::Multiprotocol(Family::IPV4_UNICAST),
                Capability::Multiprotocol(Family::IPV6_UNICAST),
                Capability::RouteRefresh,
                Capability::FourOctetAs(4_200_000_001),
            ],
        )
    }

    #[test]
    fn open_round_trips_and_uses_as_trans_for_large_asns() {
        let o = sample();
        assert_eq!(o.my_as, AS_TRANS);
        assert_eq!(o.asn(), 4_200_000_001);
        let mut buf = Vec::new();
        o.encode(&mut buf);
        assert_eq!(Open::decode(&buf).unwrap(), o);
    }

    #[test]
    fn parameters_longer_than_255_octets_use_rfc9072_encoding() {
        let mut o = sample();
        o.params.push(OptionalParameter::Capabilities(
            (0..60)
                .map(|i| Capability::Unknown {
                    code: 200,
                    data: vec![i; 3],
                })
                .collect(),
        ));
        let mut buf = Vec::new();
        o.encode(&mut buf);
        assert_eq!(&buf[28..30], &[255, 255]);
        let back = Open::decode(&buf).unwrap();
        assert!(back.extended_params);
        assert_eq!(back.params, o.params);
    }

    #[test]
    fn open_errors_map_to_the_rfc_4271_subcodes() {
        let mut buf = Vec::new();
        sample().encode(&mut buf);
        let mut v = buf.clone();
        v[19] = 3;
        let e = Open::decode(&v).unwrap_err();
        assert_eq!(e, OpenError::UnsupportedVersion(3));
        assert_eq!(e.notification().subcode, 1);
        assert_eq!(e.notification().data, vec![0, 4]);
        let mut v = buf.clone();
        v[22..24].copy_from_slice(&2u16.to_be_bytes());
        assert_eq!(Open::decode(&v).unwrap_err().notification().subcode, 6);
        let mut v = buf.clone();
        v[24..28].fill(0);
        assert_eq!(Open::decode(&v).unwrap_err().notification().subcode, 3);
        let mut v = buf.clone();
        v[29] = 1; // parameter type 1 (deprecated authentication)
        assert_eq!(Open::decode(&v).unwrap_err().notification().subcode, 4);
        let mut v = buf.clone();
        v[28] += 1; // parameter length disagrees with the message
        assert!(matches!(Open::decode(&v), Err(OpenError::Malformed(_))));
    }
}
