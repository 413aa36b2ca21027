//! The BFD Control packet (RFC 5880 §4.1), with the checks §6.8.6 makes before a packet
//! reaches a session.
//!
//! ```text
//!  0                   1                   2                   3
//! |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
//! |                       My Discriminator                        |
//! |                      Your Discriminator                       |
//! |                    Desired Min TX Interval                    |
//! |                   Required Min RX Interval                    |
//! |                 Required Min Echo RX Interval                 |
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The protocol version this codec speaks (RFC 5880 §4.1).
pub const VERSION: u8 = 1;
/// Length of a Control packet without authentication (RFC 5880 §4.1).
pub const LEN: usize = 24;
/// UDP destination port of single-hop Control packets (RFC 5881 §4).
pub const CONTROL_PORT: u16 = 3784;

/// The UDP destination port of multihop Control packets (RFC 5883 §5).
pub const MULTIHOP_PORT: u16 = 4784;

/// bfd.SessionState and the State field (RFC 5880 §4.1, §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionState {
    /// AdminDown (0).
    AdminDown,
    /// Down (1).
    Down,
    /// Init (2).
    Init,
    /// Up (3).
    Up,
}

impl SessionState {
    fn from_bits(b: u8) -> SessionState {
        match b & 3 {
            0 => SessionState::AdminDown,
            1 => SessionState::Down,
            2 => SessionState::Init,
            _ => SessionState::Up,
        }
    }

    fn bits(self) -> u8 {
        match self {
            SessionState::AdminDown => 0,
            SessionState::Down => 1,
            SessionState::Init => 2,
            SessionState::Up => 3,
        }
    }

    /// The name FRR and the RFC use: `admin-down`, `down`, `init`, `up`.
    pub fn name(self) -> &'static str {
        match self {
            SessionState::AdminDown => "admin-down",
            SessionState::Down => "down",
            SessionState::Init => "init",
            SessionState::Up => "up",
        }
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The Diagnostic field: why the session last left Up (RFC 5880 §4.1). Values 9–31 are
/// kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Diag(pub u8);

impl Diag {
    /// 0: No Diagnostic.
    pub const NONE: Diag = Diag(0);
    /// 1: Control Detection Time Expired.
    pub const DETECTION_TIME_EXPIRED: Diag = Diag(1);
    /// 2: Echo Function Failed.
    pub const ECHO_FAILED: Diag = Diag(2);
    /// 3: Neighbor Signaled Session Down.
    pub const NEIGHBOR_DOWN: Diag = Diag(3);
    /// 4: Forwarding Plane Reset.
    pub const FORWARDING_RESET: Diag = Diag(4);
    /// 5: Path Down.
    pub const PATH_DOWN: Diag = Diag(5);
    /// 6: Concatenated Path Down.
    pub const CONCATENATED_PATH_DOWN: Diag = Diag(6);
    /// 7: Administratively Down.
    pub const ADMIN_DOWN: Diag = Diag(7);
    /// 8: Reverse Concatenated Path Down.
    pub const REVERSE_CONCATENATED_PATH_DOWN: Diag = Diag(8);

    /// The RFC's name of the code.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "no diagnostic",
            1 => "control detection time expired",
            2 => "echo function failed",
            3 => "neighbor signaled session down",
            4 => "forwarding plane reset",
            5 => "path down",
            6 => "concatenated path down",
            7 => "administratively down",
            8 => "reverse concatenated path down",
            _ => "unknown diagnostic",
        }
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// A BFD Control packet without authentication section. Intervals are in microseconds,
/// as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlPacket {
    /// Diagnostic.
    pub diag: Diag,
    /// The sender's session state.
    pub state: SessionState,
    /// Poll (P): the sender asks for a packet with Final.
    pub poll: bool,
    /// Final (F): the answer to a Poll.
    pub final_: bool,
    /// Control Plane Independent (C).
    pub cpi: bool,
    /// Demand (D).
    pub demand: bool,
    /// Detect Mult.
    pub detect_mult: u8,
    /// My Discriminator.
    pub my_disc: u32,
    /// Your Discriminator (0 if the sender does not know it yet).
    pub your_disc: u32,
    /// Desired Min TX Interval (µs).
    pub desired_min_tx: u32,
    /// Required Min RX Interval (µs).
    pub required_min_rx: u32,
    /// Required Min Echo RX Interval (µs).
    pub required_min_echo_rx: u32,
}

/// Why a received packet is discarded (RFC 5880 §6.8.6). The packet is dropped; the
/// session is not touched.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PacketError {
    /// Fewer octets than the fixed part.
    #[error("BFD packet of {0} octets, shorter than the 24 of a Control packet (RFC 5880 §4.1)")]
    Truncated(usize),
    /// Version other than 1.
    #[error("BFD version {0}, not 1 (RFC 5880 §6.8.6)")]
    Version(u8),
    /// Length field below the minimum or beyond the datagram.
    #[error("BFD Length field {field} with {datagram} octets received (RFC 5880 §6.8.6: at least 24, 26 with authentication, and no more than the datagram)")]
    Length {
        /// The Length field.
        field: u8,
        /// The UDP payload length.
        datagram: usize,
    },
    /// Detect Mult of zero.
    #[error("BFD Detect Mult is zero (RFC 5880 §6.8.6)")]
    ZeroDetectMult,
    /// Multipoint bit set.
    #[error("BFD Multipoint (M) bit set (RFC 5880 §6.8.6)")]
    Multipoint,
    /// My Discriminator of zero.
    #[error("BFD My Discriminator is zero (RFC 5880 §6.8.6)")]
    ZeroMyDiscriminator,
    /// Your Discriminator of zero in a state that must know it.
    #[error("BFD Your Discriminator is zero in state {0} (RFC 5880 §6.8.6: allowed only in Down and AdminDown)")]
    ZeroYourDiscriminator(SessionState),
    /// Authentication present: no session here uses it.
    #[error("BFD Authentication Present (A) bit set, and no authentication is configured (RFC 5880 §6.8.6)")]
    Authentication,
}

impl ControlPacket {
    /// Decodes a UDP payload and applies the checks of RFC 5880 §6.8.6 that need no
    /// session. Octets beyond the Length field are ignored.
    pub fn decode(data: &[u8]) -> Result<ControlPacket, PacketError> {
        match Self::decode_authenticated(data)? {
            (_, true) => Err(PacketError::Authentication),
            (p, false) => Ok(p),
        }
    }

    /// [`decode`](Self::decode) for a session that may use authentication: also takes a
    /// packet with the A bit, and says whether it has it. The Authentication Section (at
    /// least its two first octets, the Length field says) is for [`crate::auth::verify`].
    pub fn decode_authenticated(data: &[u8]) -> Result<(ControlPacket, bool), PacketError> {
        let Some(b) = data.first_chunk::<LEN>() else {
            return Err(PacketError::Truncated(data.len()));
        };
        let version = b[0] >> 5;
        if version != VERSION {
            return Err(PacketError::Version(version));
        }
        let flags = b[1];
        let auth = flags & 0x04 != 0;
        let length = b[3];
        let min = if auth { LEN + 2 } else { LEN };
        if usize::from(length) < min || usize::from(length) > data.len() {
            return Err(PacketError::Length {
                field: length,
                datagram: data.len(),
            });
        }
        if b[2] == 0 {
            return Err(PacketError::ZeroDetectMult);
        }
        if flags & 0x01 != 0 {
            return Err(PacketError::Multipoint);
        }
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let state = SessionState::from_bits(flags >> 6);
        let p = ControlPacket {
            diag: Diag(b[0] & 0x1f),
            state,
            poll: flags & 0x20 != 0,
            final_: flags & 0x10 != 0,
            cpi: flags & 0x08 != 0,
            demand: flags & 0x02 != 0,
            detect_mult: b[2],
            my_disc: word(4),
            your_disc: word(8),
            desired_min_tx: word(12),
            required_min_rx: word(16),
            required_min_echo_rx: word(20),
        };
        if p.my_disc == 0 {
            return Err(PacketError::ZeroMyDiscriminator);
        }
        if p.your_disc == 0 && !matches!(state, SessionState::Down | SessionState::AdminDown) {
            return Err(PacketError::ZeroYourDiscriminator(state));
        }
        Ok((p, auth))
    }

    /// The 24 octets of the packet. The diagnostic keeps its low 5 bits.
    pub fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0] = VERSION << 5 | (self.diag.0 & 0x1f);
        b[1] = self.state.bits() << 6
            | u8::from(self.poll) << 5
            | u8::from(self.final_) << 4
            | u8::from(self.cpi) << 3
            | u8::from(self.demand) << 1;
        b[2] = self.detect_mult;
        b[3] = LEN as u8;
        for (i, v) in [
            self.my_disc,
            self.your_disc,
            self.desired_min_tx,
            self.required_min_rx,
            self.required_min_echo_rx,
        ]
        .into_iter()
        .enumerate()
        {
            b[4 + 4 * i..8 + 4 * i].copy_from_slice(&v.to_be_bytes());
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A Down packet of FRR 8.4.4's bfdd, captured with tcpdump on a veth (UDP 49152 ->
    /// 3784, TTL 255): no Your Discriminator yet, detect mult 3, the 1 s slow timers of
    /// RFC 5880 §6.8.3, Required Min Echo RX 50 ms.
    const FRR_DOWN: &str = "20400318f415cf9200000000000f4240000f42400000c350";

    fn frr_down() -> Vec<u8> {
        hex::decode(FRR_DOWN).unwrap()
    }

    #[test]
    fn a_down_packet_from_frr_decodes_and_encodes_back_to_the_same_octets() {
        let raw = frr_down();
        let p = ControlPacket::decode(&raw).unwrap();
        assert_eq!(p.state, SessionState::Down);
        assert_eq!(p.detect_mult, 3);
        assert_eq!(p.my_disc, 0xf415_cf92);
        assert_eq!(p.your_disc, 0);
        assert_eq!(p.desired_min_tx, 1_000_000);
        assert_eq!(p.required_min_rx, 1_000_000);
        assert_eq!(p.required_min_echo_rx, 50_000);
        assert_eq!(p.encode().as_slice(), raw.as_slice());
    }

    #[test]
    fn every_discard_rule_of_rfc5880_section_6_8_6_is_applied() {
        let good = frr_down();
        let with = |i: usize, v: u8| {
            let mut b = good.clone();
            b[i] = v;
            b
        };
        let cases: Vec<(Vec<u8>, PacketError)> = vec![
            (good[..23].to_vec(), PacketError::Truncated(23)),
            (with(0, 0x40), PacketError::Version(2)),
            (
                with(3, 23),
                PacketError::Length {
                    field: 23,
                    datagram: 24,
                },
            ),
            (
                with(3, 25),
                PacketError::Length {
                    field: 25,
                    datagram: 24,
                },
            ),
            (with(2, 0), PacketError::ZeroDetectMult),
            (with(1, 0x41), PacketError::Multipoint),
            (
                {
                    let mut b = good.clone();
                    b[4..8].fill(0);
                    b
                },
                PacketError::ZeroMyDiscriminator,
            ),
            (
                with(1, 0xc0),
                PacketError::ZeroYourDiscriminator(SessionState::Up),
            ),
            (
                with(1, 0x80),
                PacketError::ZeroYourDiscriminator(SessionState::Init),
            ),
            (
                with(1, 0x44),
                PacketError::Length {
                    field: 24,
                    datagram: 24,
                },
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(ControlPacket::decode(&bytes), Err(want.clone()), "{want}");
        }
        // With room for an authentication section, the A bit is refused as such.
        let mut auth = with(1, 0x44);
        auth[3] = 26;
        auth.extend([1, 2]);
        assert_eq!(
            ControlPacket::decode(&auth),
            Err(PacketError::Authentication)
        );
        // AdminDown may also leave Your Discriminator at zero; octets past Length are
        // ignored.
        let mut admin = with(1, 0x00);
        admin.extend([0xff; 4]);
        assert_eq!(
            ControlPacket::decode(&admin).unwrap().state,
            SessionState::AdminDown
        );
    }

    fn packet() -> impl Strategy<Value = ControlPacket> {
        (
            (0u8..32, 0u8..4, any::<bool>(), any::<bool>(), any::<bool>()),
            (any::<bool>(), 1u8..=255, 1u32.., any::<u32>()),
            (any::<u32>(), any::<u32>(), any::<u32>()),
        )
            .prop_map(
                |((diag, st, poll, fin, cpi), (demand, mult, my, your), t)| {
                    let state = SessionState::from_bits(st);
                    let your = if your == 0 && state > SessionState::Down {
                        1
                    } else {
                        your
                    };
                    ControlPacket {
                        diag: Diag(diag),
                        state,
                        poll,
                        final_: fin,
                        cpi,
                        demand,
                        detect_mult: mult,
                        my_disc: my,
                        your_disc: your,
                        desired_min_tx: t.0,
                        required_min_rx: t.1,
                        required_min_echo_rx: t.2,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn any_encodable_packet_decodes_to_itself(p in packet()) {
            prop_assert_eq!(ControlPacket::decode(&p.encode()), Ok(p));
        }

        #[test]
        fn any_octets_decode_or_are_refused_without_panicking(
            data in proptest::collection::vec(any::<u8>(), 0..40)
        ) {
            if let Ok(p) = ControlPacket::decode(&data) {
                prop_assert_eq!(ControlPacket::decode(&p.encode()), Ok(p));
            }
        }
    }
}
