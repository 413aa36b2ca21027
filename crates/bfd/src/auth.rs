//! The Authentication Section of BFD Control packets (RFC 5880 §4.2–§4.4, §6.7): Simple
//! Password, Keyed MD5 and Keyed SHA1, each also Meticulous, with the sequence number
//! state of §6.8.1.
//!
//! ```text
//! Simple Password:   | Type=1 | Len | Key ID | Password (1-16 octets)          |
//! Keyed MD5 / SHA1:  | Type   | Len | Key ID | Reserved | Sequence Number (4) |
//!                    | Auth Key/Digest (16, MD5) or Auth Key/Hash (20, SHA1)   |
//! ```
//!
//! A keyed digest is computed over the whole packet with the key (padded with zeros) in
//! the digest field, and then written in its place (§6.7.3, §6.7.4).

use std::fmt;
use std::time::{Duration, Instant};

use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use thiserror::Error;

use crate::packet::LEN;

/// Auth Type (RFC 5880 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthType {
    /// 1: Simple Password (§6.7.2).
    SimplePassword,
    /// 2: Keyed MD5 (§6.7.3).
    KeyedMd5,
    /// 3: Meticulous Keyed MD5: the sequence number grows with every packet.
    MeticulousKeyedMd5,
    /// 4: Keyed SHA1 (§6.7.4).
    KeyedSha1,
    /// 5: Meticulous Keyed SHA1.
    MeticulousKeyedSha1,
}

impl AuthType {
    /// The Auth Type code.
    pub fn code(self) -> u8 {
        match self {
            AuthType::SimplePassword => 1,
            AuthType::KeyedMd5 => 2,
            AuthType::MeticulousKeyedMd5 => 3,
            AuthType::KeyedSha1 => 4,
            AuthType::MeticulousKeyedSha1 => 5,
        }
    }

    fn meticulous(self) -> bool {
        matches!(
            self,
            AuthType::MeticulousKeyedMd5 | AuthType::MeticulousKeyedSha1
        )
    }

    /// The longest key or password (16, or 20 for SHA1).
    pub fn max_key(self) -> usize {
        match self {
            AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => 20,
            _ => 16,
        }
    }

    /// Auth Len for a password or key of `key_len` octets.
    fn section_len(self, key_len: usize) -> usize {
        match self {
            AuthType::SimplePassword => 3 + key_len,
            AuthType::KeyedMd5 | AuthType::MeticulousKeyedMd5 => 24,
            AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => 28,
        }
    }
}

/// A session's key: its type, Key ID and secret (the password, or the key of a digest).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey {
    kind: AuthType,
    key_id: u8,
    secret: Vec<u8>,
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthKey")
            .field("kind", &self.kind)
            .field("key_id", &self.key_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl AuthKey {
    /// A key; the secret must have 1 to 16 octets (20 for SHA1).
    pub fn new(kind: AuthType, key_id: u8, secret: &[u8]) -> Result<AuthKey, AuthError> {
        if secret.is_empty() || secret.len() > kind.max_key() {
            return Err(AuthError::KeyLength {
                kind,
                len: secret.len(),
            });
        }
        Ok(AuthKey {
            kind,
            key_id,
            secret: secret.to_vec(),
        })
    }

    /// Its Auth Type.
    pub fn kind(&self) -> AuthType {
        self.kind
    }
}

/// Why a received packet's authentication fails (RFC 5880 §6.7); the packet is dropped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// A configured secret of the wrong length.
    #[error(
        "BFD {kind:?} key of {len} octets: it must have 1 to 16 (20 for SHA1) (RFC 5880 §4.2-4.4)"
    )]
    KeyLength {
        /// The type.
        kind: AuthType,
        /// The length given.
        len: usize,
    },
    /// No Authentication Section, or one cut short.
    #[error("BFD packet without a complete Authentication Section, and the session requires one (RFC 5880 §6.7)")]
    Missing,
    /// Auth Type other than the session's.
    #[error("BFD Auth Type {got}, the session uses {want} (RFC 5880 §6.7)")]
    Type {
        /// Received.
        got: u8,
        /// Configured.
        want: u8,
    },
    /// Auth Len wrong for the type.
    #[error("BFD Auth Len {got}, {want} expected (RFC 5880 §6.7)")]
    Len {
        /// Received.
        got: u8,
        /// Expected.
        want: usize,
    },
    /// Unknown Key ID.
    #[error("BFD Auth Key ID {got}, the session's key is {want} (RFC 5880 §6.7)")]
    KeyId {
        /// Received.
        got: u8,
        /// Configured.
        want: u8,
    },
    /// Wrong password or digest.
    #[error("BFD password or digest does not match (RFC 5880 §6.7)")]
    Mismatch,
    /// Sequence number outside the window (a replay, or too far ahead).
    #[error("BFD sequence number {got} outside {from}..={to} (RFC 5880 §6.7.3)")]
    Sequence {
        /// Received.
        got: u32,
        /// Lowest accepted.
        from: u32,
        /// Highest accepted.
        to: u32,
    },
}

/// The sequence number state of one session (RFC 5880 §6.8.1: bfd.RcvAuthSeq,
/// bfd.XmitAuthSeq, bfd.AuthSeqKnown).
#[derive(Debug, Clone)]
pub struct AuthState {
    xmit_seq: u32,
    rcv_seq: u32,
    seq_known: bool,
    last_rx: Option<Instant>,
}

impl AuthState {
    /// A new session's state: bfd.XmitAuthSeq random, bfd.AuthSeqKnown 0.
    pub fn new() -> AuthState {
        AuthState {
            xmit_seq: fastrand::u32(..),
            rcv_seq: 0,
            seq_known: false,
            last_rx: None,
        }
    }
}

impl Default for AuthState {
    fn default() -> Self {
        AuthState::new()
    }
}

/// Signs a 24-octet Control packet: sets the A bit and the Length, appends the
/// Authentication Section and computes its digest. The sequence number grows with every
/// packet (which §6.7.3 allows for the non-meticulous types too).
pub fn sign(key: &AuthKey, st: &mut AuthState, packet: &[u8; LEN]) -> Vec<u8> {
    let section = key.kind.section_len(key.secret.len());
    let total = LEN + section;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(packet);
    out[1] |= 0x04;
    out[3] = total as u8;
    out.extend_from_slice(&[key.kind.code(), section as u8, key.key_id]);
    if key.kind == AuthType::SimplePassword {
        out.extend_from_slice(&key.secret);
        return out;
    }
    st.xmit_seq = st.xmit_seq.wrapping_add(1);
    out.push(0);
    out.extend_from_slice(&st.xmit_seq.to_be_bytes());
    let digest_at = out.len();
    out.resize(total, 0);
    out[digest_at..digest_at + key.secret.len()].copy_from_slice(&key.secret);
    let digest = digest(key.kind, &out);
    out[digest_at..].copy_from_slice(&digest);
    out
}

/// Equality in a time that does not depend on where the octets differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn digest(kind: AuthType, packet: &[u8]) -> Vec<u8> {
    match kind {
        AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => Sha1::digest(packet).to_vec(),
        _ => Md5::digest(packet).to_vec(),
    }
}

/// Checks the Authentication Section of a received datagram whose fixed part decoded,
/// and on success takes its sequence number (RFC 5880 §6.7.2–§6.7.4). `detection_time`
/// is the session's: after twice that without a packet, any sequence number is taken
/// again (§6.8.1).
pub fn verify(
    key: &AuthKey,
    st: &mut AuthState,
    datagram: &[u8],
    now: Instant,
    detection_time: Option<Duration>,
) -> Result<(), AuthError> {
    let length = usize::from(*datagram.get(3).ok_or(AuthError::Missing)?);
    let packet = datagram.get(..length).ok_or(AuthError::Missing)?;
    if packet.len() < LEN + 3 || packet[1] & 0x04 == 0 {
        return Err(AuthError::Missing);
    }
    let Some(&[kind, len, key_id]) = packet.get(LEN..LEN + 3).and_then(|s| s.first_chunk()) else {
        return Err(AuthError::Missing);
    };
    if kind != key.kind.code() {
        return Err(AuthError::Type {
            got: kind,
            want: key.kind.code(),
        });
    }
    let want = key.kind.section_len(key.secret.len());
    if usize::from(len) != want || packet.len() != LEN + want {
        return Err(AuthError::Len { got: len, want });
    }
    if key_id != key.key_id {
        return Err(AuthError::KeyId {
            got: key_id,
            want: key.key_id,
        });
    }
    if key.kind == AuthType::SimplePassword {
        return if same(&packet[LEN + 3..], &key.secret) {
            Ok(())
        } else {
            Err(AuthError::Mismatch)
        };
    }
    // Twice the Detection Time in silence: the peer may have restarted its numbers.
    if let (Some(last), Some(dt)) = (st.last_rx, detection_time) {
        if now.saturating_duration_since(last) >= 2 * dt {
            st.seq_known = false;
        }
    }
    let seq = u32::from_be_bytes([
        packet[LEN + 4],
        packet[LEN + 5],
        packet[LEN + 6],
        packet[LEN + 7],
    ]);
    if st.seq_known {
        let window = 3 * u32::from(packet[2]);
        let from = st.rcv_seq.wrapping_add(u32::from(key.kind.meticulous()));
        let to = st.rcv_seq.wrapping_add(window);
        if seq.wrapping_sub(from) > to.wrapping_sub(from) {
            return Err(AuthError::Sequence { got: seq, from, to });
        }
    }
    let mut copy = packet.to_vec();
    let at = LEN + 8;
    copy[at..].fill(0);
    copy[at..at + key.secret.len()].copy_from_slice(&key.secret);
    if !same(&digest(key.kind, &copy), &packet[at..]) {
        return Err(AuthError::Mismatch);
    }
    st.rcv_seq = seq;
    st.seq_known = true;
    st.last_rx = Some(now);
    Ok(())
}

#[cfg(test)]
mod tests;
