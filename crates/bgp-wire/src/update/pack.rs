//! Packing many prefixes into as few UPDATE messages as the session allows: the encoding
//! hot path of a speaker. Path attributes are encoded once per attribute set by the
//! caller, then every prefix costs a few octet copies.

use super::attr::{code, flags};
use super::mp::MpNextHop;
use super::owned::EncodeError;
use crate::context::{SessionContext, HEADER_LEN};
use crate::family::Family;
use crate::header::{finish_header, start_header, MessageType};
use crate::nlri::{encode_nlri, Nlri};

/// Packs announcements and withdrawals into UPDATE messages for one session direction.
#[derive(Debug, Clone, Copy)]
pub struct UpdatePacker {
    ctx: SessionContext,
    max: usize,
}

impl UpdatePacker {
    /// A packer for the session's send context.
    pub fn new(ctx: SessionContext) -> Self {
        UpdatePacker {
            ctx,
            max: ctx.max_message_len(),
        }
    }

    /// A packer with a smaller maximum message size (for tests and MTU-conscious peers).
    pub fn with_max_len(ctx: SessionContext, max: usize) -> Self {
        UpdatePacker {
            ctx,
            max: max.clamp(HEADER_LEN + 4 + 64, ctx.max_message_len()),
        }
    }

    /// Appends UPDATEs announcing IPv4 unicast `prefixes` in the NLRI field with the
    /// encoded path attributes field `attributes` (which must hold NEXT_HOP). Returns the
    /// number of messages written.
    pub fn announce_ipv4(
        &self,
        attributes: &[u8],
        prefixes: impl IntoIterator<Item = Nlri>,
        out: &mut Vec<u8>,
    ) -> Result<usize, EncodeError> {
        let fixed = HEADER_LEN + 4 + attributes.len();
        if fixed + 6 > self.max {
            return Err(EncodeError {
                len: fixed,
                max: self.max,
            });
        }
        let add_path = self.ctx.add_path.contains(Family::IPV4_UNICAST);
        let mut count = 0;
        let mut start = usize::MAX;
        for n in prefixes {
            if start == usize::MAX {
                start = self.begin_ipv4(attributes, out);
            }
            let before = out.len();
            encode_nlri(&n, add_path, out);
            if out.len() - start > self.max {
                out.truncate(before);
                finish_header(out, start);
                count += 1;
                start = self.begin_ipv4(attributes, out);
                encode_nlri(&n, add_path, out);
            }
        }
        if start != usize::MAX {
            finish_header(out, start);
            count += 1;
        }
        Ok(count)
    }

    fn begin_ipv4(&self, attributes: &[u8], out: &mut Vec<u8>) -> usize {
        let start = start_header(out, MessageType::Update);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
        out.extend_from_slice(attributes);
        start
    }

    /// Appends UPDATEs announcing `prefixes` of `family` in MP_REACH_NLRI (placed first,
    /// RFC 7606 §5.1) with `next_hop` and the other path attributes `attributes`.
    pub fn announce_mp(
        &self,
        family: Family,
        next_hop: &MpNextHop,
        attributes: &[u8],
        prefixes: impl IntoIterator<Item = Nlri>,
        out: &mut Vec<u8>,
    ) -> Result<usize, EncodeError> {
        let mut head = Vec::with_capacity(40);
        head.extend_from_slice(&family.afi.0.to_be_bytes());
        head.push(family.safi.0);
        head.push(next_hop.wire_len() as u8);
        match next_hop {
            MpNextHop::V4(a) => head.extend_from_slice(&a.octets()),
            MpNextHop::V6 { global, link_local } => {
                head.extend_from_slice(&global.octets());
                if let Some(ll) = link_local {
                    head.extend_from_slice(&ll.octets());
                }
            }
        }
        head.push(0);
        let fixed = HEADER_LEN + 4 + 4 + head.len() + attributes.len();
        if fixed + 17 > self.max {
            return Err(EncodeError {
                len: fixed,
                max: self.max,
            });
        }
        let add_path = self.ctx.add_path.contains(family);
        let mut count = 0;
        let mut open: Option<(usize, usize)> = None; // (message start, MP value start)
        for n in prefixes {
            let (start, mp) = match open {
                Some(o) => o,
                None => *open.insert(self.begin_mp(code::MP_REACH_NLRI, &head, attributes, out)),
            };
            let before = out.len();
            encode_nlri(&n, add_path, out);
            if out.len() - start > self.max {
                out.truncate(before);
                self.end_mp(out, start, mp, attributes.len());
                count += 1;
                let o = self.begin_mp(code::MP_REACH_NLRI, &head, attributes, out);
                open = Some(o);
                encode_nlri(&n, add_path, out);
            }
        }
        if let Some((start, mp)) = open {
            self.end_mp(out, start, mp, attributes.len());
            count += 1;
        }
        Ok(count)
    }

    /// Appends UPDATEs withdrawing `prefixes` of `family`: in the withdrawn routes field
    /// for IPv4 unicast, in MP_UNREACH_NLRI otherwise.
    pub fn withdraw(
        &self,
        family: Family,
        prefixes: impl IntoIterator<Item = Nlri>,
        out: &mut Vec<u8>,
    ) -> usize {
        let add_path = self.ctx.add_path.contains(family);
        let mut count = 0;
        if family == Family::IPV4_UNICAST {
            let mut start = usize::MAX;
            let begin = |out: &mut Vec<u8>| {
                let s = start_header(out, MessageType::Update);
                out.extend_from_slice(&[0, 0]);
                s
            };
            let end = |out: &mut Vec<u8>, s: usize| {
                let wlen = (out.len() - s - HEADER_LEN - 2) as u16;
                out[s + HEADER_LEN..s + HEADER_LEN + 2].copy_from_slice(&wlen.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                finish_header(out, s);
            };
            for n in prefixes {
                if start == usize::MAX {
                    start = begin(out);
                }
                let before = out.len();
                encode_nlri(&n, add_path, out);
                if out.len() + 2 - start > self.max {
                    out.truncate(before);
                    end(out, start);
                    count += 1;
                    start = begin(out);
                    encode_nlri(&n, add_path, out);
                }
            }
            if start != usize::MAX {
                end(out, start);
                count += 1;
            }
            return count;
        }
        let mut head = family.afi.0.to_be_bytes().to_vec();
        head.push(family.safi.0);
        let mut open: Option<(usize, usize)> = None;
        for n in prefixes {
            let (start, mp) = match open {
                Some(o) => o,
                None => *open.insert(self.begin_mp(code::MP_UNREACH_NLRI, &head, &[], out)),
            };
            let before = out.len();
            encode_nlri(&n, add_path, out);
            if out.len() - start > self.max {
                out.truncate(before);
                self.end_mp(out, start, mp, 0);
                count += 1;
                open = Some(self.begin_mp(code::MP_UNREACH_NLRI, &head, &[], out));
                encode_nlri(&n, add_path, out);
            }
        }
        if let Some((start, mp)) = open {
            self.end_mp(out, start, mp, 0);
            count += 1;
        }
        count
    }

    /// Appends the End-of-RIB marker of `family` (RFC 4724 §2).
    pub fn end_of_rib(&self, family: Family, out: &mut Vec<u8>) {
        let start = start_header(out, MessageType::Update);
        if family == Family::IPV4_UNICAST {
            out.extend_from_slice(&[0, 0, 0, 0]);
        } else {
            out.extend_from_slice(&[0, 0, 0, 6, flags::OPTIONAL, code::MP_UNREACH_NLRI, 3]);
            out.extend_from_slice(&family.afi.0.to_be_bytes());
            out.push(family.safi.0);
        }
        finish_header(out, start);
    }

    /// Starts a message whose first attribute is an MP attribute with the fixed part
    /// `head`; the NLRI are appended at the end of the message, inside the MP attribute,
    /// after the other attributes have been written *before* it. To keep the MP attribute
    /// first and its NLRI contiguous, the other attributes follow the NLRI: they are
    /// moved into place by [`end_mp`](Self::end_mp).
    fn begin_mp(&self, t: u8, head: &[u8], attributes: &[u8], out: &mut Vec<u8>) -> (usize, usize) {
        let start = start_header(out, MessageType::Update);
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&[flags::OPTIONAL | flags::EXTENDED_LENGTH, t, 0, 0]);
        let mp = out.len();
        out.extend_from_slice(head);
        // Reserve room for the other attributes right after the MP header: they are
        // written now and the NLRI appended after them, then rotated into place.
        out.extend_from_slice(attributes);
        (start, mp)
    }

    fn end_mp(&self, out: &mut [u8], start: usize, mp: usize, attrs_len: usize) {
        // Layout now: [hdr][wlen=0][alen][MP hdr][head][attributes][nlri]
        // Wanted:     [hdr][wlen=0][alen][MP hdr][head][nlri][attributes]
        let head_end = self.find_head_end(out, mp);
        let tail = &mut out[head_end..];
        tail.rotate_left(attrs_len);
        let mp_len = out.len() - mp - attrs_len;
        out[mp - 2..mp].copy_from_slice(&(mp_len as u16).to_be_bytes());
        let alen = out.len() - start - HEADER_LEN - 4;
        out[start + HEADER_LEN + 2..start + HEADER_LEN + 4]
            .copy_from_slice(&(alen as u16).to_be_bytes());
        finish_header(out, start);
    }

    fn find_head_end(&self, out: &[u8], mp: usize) -> usize {
        // The fixed part: AFI(2) SAFI(1) [NH len(1) NH Reserved(1)] for MP_REACH.
        if out[mp - 3] == code::MP_REACH_NLRI {
            mp + 3 + 1 + usize::from(out[mp + 3]) + 1
        } else {
            mp + 3
        }
    }
}
