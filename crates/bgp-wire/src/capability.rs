//! Capabilities advertisement (RFC 5492) and the capabilities a production speaker meets.

use crate::family::{Afi, Family, Safi};

/// Capability codes (IANA "Capability Codes").
pub mod code {
    /// Multiprotocol Extensions (RFC 4760).
    pub const MULTIPROTOCOL: u8 = 1;
    /// Route Refresh (RFC 2918).
    pub const ROUTE_REFRESH: u8 = 2;
    /// Extended Next Hop Encoding (RFC 8950).
    pub const EXTENDED_NEXT_HOP: u8 = 5;
    /// BGP Extended Message (RFC 8654).
    pub const EXTENDED_MESSAGE: u8 = 6;
    /// BGP Role (RFC 9234).
    pub const ROLE: u8 = 9;
    /// Graceful Restart (RFC 4724).
    pub const GRACEFUL_RESTART: u8 = 64;
    /// Support for 4-octet AS number (RFC 6793).
    pub const FOUR_OCTET_AS: u8 = 65;
    /// ADD-PATH (RFC 7911).
    pub const ADD_PATH: u8 = 69;
    /// Enhanced Route Refresh (RFC 7313).
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
    /// Long-Lived Graceful Restart (RFC 9494).
    pub const LONG_LIVED_GRACEFUL_RESTART: u8 = 71;
    /// FQDN (draft-walton-bgp-hostname-capability).
    pub const FQDN: u8 = 73;
    /// BFD Strict-Mode (draft-ietf-idr-bgp-bfd-strict-mode §5).
    pub const BFD_STRICT_MODE: u8 = 74;
}

/// One entry of the Extended Next Hop capability (RFC 8950 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ExtendedNextHop {
    /// NLRI address family.
    pub nlri_afi: Afi,
    /// NLRI SAFI (encoded on 2 octets here).
    pub nlri_safi: u16,
    /// Address family of the next hop.
    pub nexthop_afi: Afi,
}

/// Per-family entry of the Graceful Restart capability (RFC 4724 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GracefulRestartFamily {
    /// The family.
    pub family: Family,
    /// Flags for the family; bit 0x80 is F (forwarding state preserved).
    pub flags: u8,
}

impl GracefulRestartFamily {
    /// Whether the forwarding state was preserved (F bit).
    pub fn forwarding_preserved(&self) -> bool {
        self.flags & 0x80 != 0
    }
}

/// ADD-PATH send/receive mode (RFC 7911 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AddPathMode(pub u8);

impl AddPathMode {
    /// Able to receive multiple paths.
    pub const RECEIVE: AddPathMode = AddPathMode(1);
    /// Able to send multiple paths.
    pub const SEND: AddPathMode = AddPathMode(2);
    /// Both.
    pub const BOTH: AddPathMode = AddPathMode(3);

    /// Whether the mode includes receiving.
    pub fn can_receive(self) -> bool {
        self.0 & 1 != 0
    }

    /// Whether the mode includes sending.
    pub fn can_send(self) -> bool {
        self.0 & 2 != 0
    }
}

/// Per-family entry of the ADD-PATH capability (RFC 7911 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AddPathFamily {
    /// The family.
    pub family: Family,
    /// Send/receive mode.
    pub mode: AddPathMode,
}

/// Per-family entry of the Long-Lived Graceful Restart capability (RFC 9494 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LlgrFamily {
    /// The family.
    pub family: Family,
    /// Flags; bit 0x80 is F (forwarding state preserved).
    pub flags: u8,
    /// Long-lived stale time in seconds (24 bits).
    pub stale_time: u32,
}

/// A capability from an OPEN message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Capability {
    /// Multiprotocol extensions for one family (RFC 4760 §8).
    Multiprotocol(Family),
    /// Route refresh (RFC 2918 §2).
    RouteRefresh,
    /// Extended next hop encoding (RFC 8950 §3).
    ExtendedNextHop(Vec<ExtendedNextHop>),
    /// Extended messages up to 65535 octets (RFC 8654 §3).
    ExtendedMessage,
    /// BGP role (RFC 9234 §4.1).
    Role(u8),
    /// Graceful restart (RFC 4724 §3; N bit from RFC 8538).
    GracefulRestart {
        /// The 4 flag bits: 0x8 = R (restarting), 0x4 = N (notification support).
        flags: u8,
        /// Restart time in seconds (12 bits).
        time: u16,
        /// Families whose forwarding state the speaker can preserve.
        families: Vec<GracefulRestartFamily>,
    },
    /// 4-octet AS number support, carrying the speaker's AS (RFC 6793 §3).
    FourOctetAs(u32),
    /// ADD-PATH (RFC 7911 §4).
    AddPath(Vec<AddPathFamily>),
    /// Enhanced route refresh (RFC 7313 §3).
    EnhancedRouteRefresh,
    /// Long-lived graceful restart (RFC 9494 §3).
    LongLivedGracefulRestart(Vec<LlgrFamily>),
    /// Host and domain name (draft-walton-bgp-hostname-capability).
    Fqdn {
        /// Host name.
        hostname: String,
        /// Domain name.
        domain: String,
    },
    /// BFD strict mode: no Established before the BFD session is Up
    /// (draft-ietf-idr-bgp-bfd-strict-mode §5; no value).
    BfdStrictMode,
    /// Any other capability, or a known one whose value did not parse, kept as bytes.
    Unknown {
        /// Capability code.
        code: u8,
        /// Capability value.
        data: Vec<u8>,
    },
}

impl Capability {
    /// The capability code.
    pub fn code(&self) -> u8 {
        match self {
            Capability::Multiprotocol(_) => code::MULTIPROTOCOL,
            Capability::RouteRefresh => code::ROUTE_REFRESH,
            Capability::ExtendedNextHop(_) => code::EXTENDED_NEXT_HOP,
            Capability::ExtendedMessage => code::EXTENDED_MESSAGE,
            Capability::Role(_) => code::ROLE,
            Capability::GracefulRestart { .. } => code::GRACEFUL_RESTART,
            Capability::FourOctetAs(_) => code::FOUR_OCTET_AS,
            Capability::AddPath(_) => code::ADD_PATH,
            Capability::EnhancedRouteRefresh => code::ENHANCED_ROUTE_REFRESH,
            Capability::LongLivedGracefulRestart(_) => code::LONG_LIVED_GRACEFUL_RESTART,
            Capability::Fqdn { .. } => code::FQDN,
            Capability::BfdStrictMode => code::BFD_STRICT_MODE,
            Capability::Unknown { code, .. } => *code,
        }
    }

    /// Decodes one capability value. A known code whose value does not have the shape
    /// its RFC defines is kept as [`Capability::Unknown`], so it still round-trips and the
    /// speaker can decide what to do with it.
    pub fn decode(code: u8, v: &[u8]) -> Capability {
        Self::decode_known(code, v).unwrap_or_else(|| Capability::Unknown {
            code,
            data: v.to_vec(),
        })
    }

    fn decode_known(c: u8, v: &[u8]) -> Option<Capability> {
        let fam = |b: &[u8]| Family::new(Afi(u16::from_be_bytes([b[0], b[1]])), Safi(b[3]));
        Some(match c {
            code::MULTIPROTOCOL if v.len() == 4 => Capability::Multiprotocol(fam(v)),
            code::ROUTE_REFRESH if v.is_empty() => Capability::RouteRefresh,
            code::EXTENDED_NEXT_HOP if v.len() % 6 == 0 => Capability::ExtendedNextHop(
                v.chunks_exact(6)
                    .map(|e| ExtendedNextHop {
                        nlri_afi: Afi(u16::from_be_bytes([e[0], e[1]])),
                        nlri_safi: u16::from_be_bytes([e[2], e[3]]),
                        nexthop_afi: Afi(u16::from_be_bytes([e[4], e[5]])),
                    })
                    .collect(),
            ),
            code::EXTENDED_MESSAGE if v.is_empty() => Capability::ExtendedMessage,
            code::ROLE if v.len() == 1 => Capability::Role(v[0]),
            code::GRACEFUL_RESTART if v.len() >= 2 && (v.len() - 2) % 4 == 0 => {
                Capability::GracefulRestart {
                    flags: v[0] >> 4,
                    time: u16::from_be_bytes([v[0] & 0x0f, v[1]]),
                    families: v[2..]
                        .chunks_exact(4)
                        .map(|e| GracefulRestartFamily {
                            family: Family::new(Afi(u16::from_be_bytes([e[0], e[1]])), Safi(e[2])),
                            flags: e[3],
                        })
                        .collect(),
                }
            }
            code::FOUR_OCTET_AS if v.len() == 4 => {
                Capability::FourOctetAs(u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
            }
            code::ADD_PATH if v.len() % 4 == 0 => Capability::AddPath(
                v.chunks_exact(4)
                    .map(|e| AddPathFamily {
                        family: Family::new(Afi(u16::from_be_bytes([e[0], e[1]])), Safi(e[2])),
                        mode: AddPathMode(e[3]),
                    })
                    .collect(),
            ),
            code::ENHANCED_ROUTE_REFRESH if v.is_empty() => Capability::EnhancedRouteRefresh,
            code::BFD_STRICT_MODE if v.is_empty() => Capability::BfdStrictMode,
            code::LONG_LIVED_GRACEFUL_RESTART if v.len() % 7 == 0 => {
                Capability::LongLivedGracefulRestart(
                    v.chunks_exact(7)
                        .map(|e| LlgrFamily {
                            family: Family::new(Afi(u16::from_be_bytes([e[0], e[1]])), Safi(e[2])),
                            flags: e[3],
                            stale_time: u32::from_be_bytes([0, e[4], e[5], e[6]]),
                        })
                        .collect(),
                )
            }
            code::FQDN => {
                let (&hl, rest) = v.split_first()?;
                let host = rest.get(..usize::from(hl))?;
                let rest = &rest[usize::from(hl)..];
                let (&dl, rest) = rest.split_first()?;
                if rest.len() != usize::from(dl) {
                    return None;
                }
                Capability::Fqdn {
                    hostname: String::from_utf8(host.to_vec()).ok()?,
                    domain: String::from_utf8(rest.to_vec()).ok()?,
                }
            }
            _ => return None,
        })
    }

    /// Appends code, length and value (RFC 5492 §4). Values longer than 255 octets are
    /// cut to fit the one-octet length.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.code());
        let len_at = out.len();
        out.push(0);
        match self {
            Capability::Multiprotocol(f) => {
                out.extend_from_slice(&f.afi.0.to_be_bytes());
                out.push(0);
                out.push(f.safi.0);
            }
            Capability::RouteRefresh
            | Capability::ExtendedMessage
            | Capability::EnhancedRouteRefresh
            | Capability::BfdStrictMode => {}
            Capability::ExtendedNextHop(entries) => {
                for e in entries {
                    out.extend_from_slice(&e.nlri_afi.0.to_be_bytes());
                    out.extend_from_slice(&e.nlri_safi.to_be_bytes());
                    out.extend_from_slice(&e.nexthop_afi.0.to_be_bytes());
                }
            }
            Capability::Role(r) => out.push(*r),
            Capability::GracefulRestart {
                flags,
                time,
                families,
            } => {
                let t = (time & 0x0fff).to_be_bytes();
                out.push((flags << 4) | t[0]);
                out.push(t[1]);
                for f in families {
                    out.extend_from_slice(&f.family.afi.0.to_be_bytes());
                    out.push(f.family.safi.0);
                    out.push(f.flags);
                }
            }
            Capability::FourOctetAs(asn) => out.extend_from_slice(&asn.to_be_bytes()),
            Capability::AddPath(entries) => {
                for e in entries {
                    out.extend_from_slice(&e.family.afi.0.to_be_bytes());
                    out.push(e.family.safi.0);
                    out.push(e.mode.0);
                }
            }
            Capability::LongLivedGracefulRestart(entries) => {
                for e in entries {
                    out.extend_from_slice(&e.family.afi.0.to_be_bytes());
                    out.push(e.family.safi.0);
                    out.push(e.flags);
                    out.extend_from_slice(&e.stale_time.to_be_bytes()[1..]);
                }
            }
            Capability::Fqdn { hostname, domain } => {
                let h = &hostname.as_bytes()[..hostname.len().min(255)];
                out.push(h.len() as u8);
                out.extend_from_slice(h);
                let d = &domain.as_bytes()[..domain.len().min(255)];
                out.push(d.len() as u8);
                out.extend_from_slice(d);
            }
            Capability::Unknown { data, .. } => out.extend_from_slice(data),
        }
        let len = (out.len() - len_at - 1).min(255);
        out.truncate(len_at + 1 + len);
        out[len_at] = len as u8;
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fams = |v: &mut dyn Iterator<Item = String>| v.collect::<Vec<_>>().join(",");
        match self {
            Capability::Multiprotocol(fam) => write!(f, "mp {fam}"),
            Capability::RouteRefresh => f.write_str("route-refresh"),
            Capability::EnhancedRouteRefresh => f.write_str("enhanced-route-refresh"),
            Capability::BfdStrictMode => f.write_str("bfd-strict-mode"),
            Capability::ExtendedMessage => f.write_str("extended-message"),
            Capability::Role(r) => write!(f, "role {r}"),
            Capability::FourOctetAs(a) => write!(f, "4-octet-as {a}"),
            Capability::ExtendedNextHop(v) => {
                write!(
                    f,
                    "extended-nexthop {}",
                    fams(&mut v.iter().map(|e| format!(
                        "{}/{}->afi{}",
                        e.nlri_afi.0, e.nlri_safi, e.nexthop_afi.0
                    )))
                )
            }
            Capability::GracefulRestart {
                flags,
                time,
                families,
            } => {
                write!(f, "graceful-restart time {time}")?;
                if flags & 0x8 != 0 {
                    f.write_str(" restarting")?;
                }
                if flags & 0x4 != 0 {
                    f.write_str(" notification")?;
                }
                if !families.is_empty() {
                    let v = fams(&mut families.iter().map(|e| {
                        format!(
                            "{}{}",
                            e.family,
                            if e.forwarding_preserved() { "(F)" } else { "" }
                        )
                    }));
                    write!(f, " {v}")?;
                }
                Ok(())
            }
            Capability::AddPath(v) => write!(
                f,
                "add-path {}",
                fams(&mut v.iter().map(|e| {
                    let m = match (e.mode.can_receive(), e.mode.can_send()) {
                        (true, true) => "both",
                        (true, false) => "receive",
                        (false, true) => "send",
                        _ => "none",
                    };
                    format!("{}:{m}", e.family)
                }))
            ),
            Capability::LongLivedGracefulRestart(v) => write!(
                f,
                "llgr {}",
                fams(&mut v.iter().map(|e| format!("{}:{}s", e.family, e.stale_time)))
            ),
            Capability::Fqdn { hostname, domain } => write!(f, "fqdn {hostname}.{domain}"),
            Capability::Unknown { code, data } => {
                write!(f, "capability-{code}")?;
                if !data.is_empty() {
                    f.write_str("=")?;
                    for b in data {
                        write!(f, "{b:02x}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(c: Capability) {
        let mut buf = Vec::new();
        c.encode(&mut buf);
        assert_eq!(usize::from(buf[1]), buf.len() - 2);
        assert_eq!(Capability::decode(buf[0], &buf[2..]), c);
    }

    #[test]
    fn every_known_capability_round_trips() {
        round_trip(Capability::Multiprotocol(Family::IPV6_UNICAST));
        round_trip(Capability::RouteRefresh);
        round_trip(Capability::EnhancedRouteRefresh);
        round_trip(Capability::ExtendedMessage);
        round_trip(Capability::Role(3));
        round_trip(Capability::FourOctetAs(4_200_000_001));
        round_trip(Capability::ExtendedNextHop(vec![ExtendedNextHop {
            nlri_afi: Afi::IPV4,
            nlri_safi: 1,
            nexthop_afi: Afi::IPV6,
        }]));
        round_trip(Capability::GracefulRestart {
            flags: 0xc,
            time: 120,
            families: vec![GracefulRestartFamily {
                family: Family::IPV4_UNICAST,
                flags: 0x80,
            }],
        });
        round_trip(Capability::AddPath(vec![AddPathFamily {
            family: Family::IPV4_UNICAST,
            mode: AddPathMode::BOTH,
        }]));
        round_trip(Capability::LongLivedGracefulRestart(vec![LlgrFamily {
            family: Family::IPV6_UNICAST,
            flags: 0x80,
            stale_time: 0x00ab_cdef,
        }]));
        round_trip(Capability::Fqdn {
            hostname: "tor0".into(),
            domain: "lab".into(),
        });
        round_trip(Capability::Unknown {
            code: 128,
            data: vec![],
        });
    }

    #[test]
    fn a_known_code_with_a_bad_value_is_kept_as_bytes() {
        assert_eq!(
            Capability::decode(code::FOUR_OCTET_AS, &[1, 2, 3]),
            Capability::Unknown {
                code: 65,
                data: vec![1, 2, 3]
            }
        );
        assert_eq!(Capability::decode(74, &[]), Capability::BfdStrictMode);
        assert_eq!(
            Capability::decode(code::BFD_STRICT_MODE, &[0]),
            Capability::Unknown {
                code: 74,
                data: vec![0]
            }
        );
        assert_eq!(
            Capability::decode(code::FQDN, &[5, b'a']),
            Capability::Unknown {
                code: 73,
                data: vec![5, b'a']
            }
        );
    }
}
