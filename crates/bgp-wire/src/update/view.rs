//! Decoding an UPDATE (RFC 4271 §4.3) into a borrowed, validated view, applying the error
//! handling of RFC 7606.
//!
//! Decoding walks the message once: it checks the lengths, the NLRI syntax and every path
//! attribute, and records where each known attribute lies. Nothing is allocated, so
//! iterating the prefixes of a full table costs a few nanoseconds per prefix.

use std::net::Ipv4Addr;

use super::aspath::{validate_as_path, AsPathView};
use super::attr::{code, expected_flags, flags, Aggregator, Community, ExtendedCommunity};
use super::attr::{LargeCommunity, Origin};
use super::error::{Action, Issue, IssueKind, IssueLog, ResetReason, UpdateError};
use super::mp::{MpReachView, MpUnreachView};
use crate::context::{SessionContext, HEADER_LEN};
use crate::family::{Family, PrefixKind};
use crate::notification::{codes, Notification};
use crate::prefix::{validate_nlri, Nlri, NlriIter};

/// What RFC 7606 says to do with the routes of a decoded UPDATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Process normally (possibly without some discarded attributes).
    Normal,
    /// Treat every announced route as withdrawn (RFC 7606 §2).
    TreatAsWithdraw,
}

const SLOTS: usize = 17;

/// Slot index of each known attribute type, or `NONE`.
const NONE: u8 = u8::MAX;
fn slot_of(type_code: u8) -> u8 {
    match type_code {
        code::ORIGIN => 0,
        code::AS_PATH => 1,
        code::NEXT_HOP => 2,
        code::MULTI_EXIT_DISC => 3,
        code::LOCAL_PREF => 4,
        code::ATOMIC_AGGREGATE => 5,
        code::AGGREGATOR => 6,
        code::COMMUNITIES => 7,
        code::ORIGINATOR_ID => 8,
        code::CLUSTER_LIST => 9,
        code::MP_REACH_NLRI => 10,
        code::MP_UNREACH_NLRI => 11,
        code::EXTENDED_COMMUNITIES => 12,
        code::AS4_PATH => 13,
        code::AS4_AGGREGATOR => 14,
        code::LARGE_COMMUNITIES => 15,
        code::IPV6_EXTENDED_COMMUNITIES => 16,
        _ => NONE,
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    start: u16,
    len: u16,
}

/// A 256-bit set of attribute type codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TypeSet([u64; 4]);

impl TypeSet {
    #[inline]
    pub(crate) fn insert(&mut self, t: u8) -> bool {
        let (w, b) = (usize::from(t >> 6), t & 63);
        let new = self.0[w] & (1 << b) == 0;
        self.0[w] |= 1 << b;
        new
    }

    #[inline]
    pub(crate) fn contains(&self, t: u8) -> bool {
        self.0[usize::from(t >> 6)] & (1 << (t & 63)) != 0
    }
}

/// A decoded, validated UPDATE message, borrowing the message bytes.
#[derive(Debug, Clone)]
pub struct Update<'a> {
    withdrawn: &'a [u8],
    attrs: &'a [u8],
    nlri: &'a [u8],
    ctx: SessionContext,
    slots: [Slot; SLOTS],
    present: u32,
    discarded: TypeSet,
    has_other_attributes: bool,
    /// Attributes on the wire (duplicates and discarded ones included).
    n_attrs: u16,
    /// Whether any attribute other than MP_UNREACH_NLRI is on the wire (RFC 7606 §5.2).
    beyond_unreach: bool,
    mp_reach: Option<MpReachView<'a>>,
    mp_unreach: Option<MpUnreachView<'a>>,
    disposition: Disposition,
    issues: IssueLog,
}

impl<'a> Update<'a> {
    /// Decodes a complete UPDATE message (header included; framed with
    /// [`crate::frame`]) under the session's receive context.
    ///
    /// Returns the view, whose [`disposition`](Self::disposition) and
    /// [`issues`](Self::issues) tell what RFC 7606 asks for, or the session reset to perform.
    pub fn decode(msg: &'a [u8], ctx: &SessionContext) -> Result<Self, UpdateError> {
        let body = msg.get(HEADER_LEN..).unwrap_or_default();
        let reset = |reason: ResetReason, sub: u8| UpdateError {
            reason,
            notification: Notification::new(codes::UPDATE_MESSAGE, sub, Vec::new()),
        };
        let lengths_err = || reset(ResetReason::LengthsExceedMessage, 1);
        let wlen = usize::from(u16::from_be_bytes(
            *body.first_chunk::<2>().ok_or_else(lengths_err)?,
        ));
        let rest = body.get(2 + wlen..).ok_or_else(lengths_err)?;
        let alen = usize::from(u16::from_be_bytes(
            *rest.first_chunk::<2>().ok_or_else(lengths_err)?,
        ));
        let withdrawn = &body[2..2 + wlen];
        let attrs = rest.get(2..2 + alen).ok_or_else(lengths_err)?;
        let nlri = &rest[2 + alen..];

        let v4_add_path = ctx.add_path.contains(Family::IPV4_UNICAST);
        validate_nlri(withdrawn, PrefixKind::V4, v4_add_path)
            .map_err(|e| reset(ResetReason::WithdrawnRoutes(e), 10))?;
        validate_nlri(nlri, PrefixKind::V4, v4_add_path)
            .map_err(|e| reset(ResetReason::Nlri(e), 10))?;

        let mut u = Update {
            withdrawn,
            attrs,
            nlri,
            ctx: *ctx,
            slots: [Slot::default(); SLOTS],
            present: 0,
            discarded: TypeSet::default(),
            has_other_attributes: false,
            n_attrs: 0,
            beyond_unreach: false,
            mp_reach: None,
            mp_unreach: None,
            disposition: Disposition::Normal,
            issues: IssueLog::default(),
        };
        let seen = u.walk_attributes()?;
        u.finish(&seen)?;
        Ok(u)
    }

    /// Walks the path attributes field, validating and recording each attribute.
    fn walk_attributes(&mut self) -> Result<TypeSet, UpdateError> {
        let attrs = self.attrs;
        let mut seen = TypeSet::default();
        let mut pos = 0usize;
        while pos < attrs.len() {
            let rem = &attrs[pos..];
            let ext = rem[0] & flags::EXTENDED_LENGTH != 0;
            let hdr = if ext { 4 } else { 3 };
            self.n_attrs = self.n_attrs.saturating_add(1);
            if rem.get(1) != Some(&code::MP_UNREACH_NLRI) || rem.len() < hdr {
                self.beyond_unreach = true;
            }
            if rem.len() < hdr {
                let t = rem.get(1).copied().unwrap_or(0);
                self.issue(
                    t,
                    IssueKind::TruncatedAttributeHeader,
                    Action::TreatAsWithdraw,
                    pos,
                    attrs.len(),
                );
                break;
            }
            let (fl, t) = (rem[0], rem[1]);
            let len = if ext {
                usize::from(u16::from_be_bytes([rem[2], rem[3]]))
            } else {
                usize::from(rem[2])
            };
            if hdr + len > rem.len() {
                self.issue(
                    t,
                    IssueKind::AttributeOverrun,
                    Action::TreatAsWithdraw,
                    pos,
                    attrs.len(),
                );
                break;
            }
            let start = pos;
            let value = &rem[hdr..hdr + len];
            pos += hdr + len;
            if !seen.insert(t) {
                if t == code::MP_REACH_NLRI || t == code::MP_UNREACH_NLRI {
                    return Err(UpdateError {
                        reason: ResetReason::DuplicateMp(t),
                        notification: Notification::new(codes::UPDATE_MESSAGE, 1, vec![]),
                    });
                }
                self.issue(
                    t,
                    IssueKind::Duplicate,
                    Action::AttributeDiscard,
                    start,
                    pos,
                );
                continue;
            }
            self.check(fl, t, value, start, pos, hdr)?;
        }
        Ok(seen)
    }

    fn issue(&mut self, t: u8, kind: IssueKind, action: Action, start: usize, end: usize) {
        let span = (
            start.min(u16::MAX.into()) as u16,
            end.min(u16::MAX.into()) as u16,
        );
        self.issues.push(Issue {
            type_code: t,
            kind,
            action,
            span,
        });
        if action == Action::AttributeDiscard && kind != IssueKind::Duplicate {
            self.discarded.insert(t);
        }
    }

    /// Validates one attribute (RFC 7606 §3.c, §7; RFC 6793 §6) and records it.
    fn check(
        &mut self,
        fl: u8,
        t: u8,
        v: &'a [u8],
        start: usize,
        end: usize,
        hdr: usize,
    ) -> Result<(), UpdateError> {
        let attrs = self.attrs;
        let whole = || attrs[start..end].to_vec();
        let Some(expected) = expected_flags(t) else {
            if fl & flags::OPTIONAL == 0 {
                return Err(UpdateError {
                    reason: ResetReason::UnrecognizedWellKnown(t),
                    notification: Notification::new(codes::UPDATE_MESSAGE, 2, whole()),
                });
            }
            self.has_other_attributes = true;
            return Ok(());
        };
        let (taw, discard) = (Action::TreatAsWithdraw, Action::AttributeDiscard);
        // Attributes that only inform may be discarded; the others decide routing.
        let informational = matches!(
            t,
            code::ATOMIC_AGGREGATE | code::AGGREGATOR | code::AS4_PATH | code::AS4_AGGREGATOR
        );
        if fl & (flags::OPTIONAL | flags::TRANSITIVE) != expected {
            if t == code::MP_REACH_NLRI || t == code::MP_UNREACH_NLRI {
                return Err(UpdateError {
                    reason: ResetReason::MpFlags(t, fl),
                    notification: Notification::new(codes::UPDATE_MESSAGE, 4, whole()),
                });
            }
            let action = if informational { discard } else { taw };
            self.issue(t, IssueKind::Flags(fl), action, start, end);
            return Ok(());
        }
        let len = v.len();
        let bad_len = |u: &mut Self, action| {
            u.issue(t, IssueKind::Length(len), action, start, end);
            Ok(())
        };
        let external = self.ctx.external;
        match t {
            code::ORIGIN => {
                if len != 1 {
                    return bad_len(self, taw);
                }
                if v[0] > 2 {
                    self.issue(t, IssueKind::InvalidOrigin(v[0]), taw, start, end);
                    return Ok(());
                }
            }
            code::AS_PATH => {
                let width = if self.ctx.four_octet_as { 4 } else { 2 };
                if let Err(e) = validate_as_path(v, width) {
                    self.issue(t, IssueKind::AsPath(e), taw, start, end);
                    return Ok(());
                }
            }
            code::NEXT_HOP => {
                if len != 4 {
                    return bad_len(self, taw);
                }
                let a = Ipv4Addr::new(v[0], v[1], v[2], v[3]);
                if v[0] == 0 || v[0] >= 224 {
                    self.issue(t, IssueKind::InvalidNextHop(a), taw, start, end);
                    return Ok(());
                }
            }
            code::LOCAL_PREF | code::ORIGINATOR_ID | code::CLUSTER_LIST if external => {
                self.issue(t, IssueKind::FromExternalPeer, discard, start, end);
                return Ok(());
            }
            code::MULTI_EXIT_DISC | code::LOCAL_PREF | code::ORIGINATOR_ID if len != 4 => {
                return bad_len(self, taw);
            }
            code::ATOMIC_AGGREGATE if len != 0 => return bad_len(self, discard),
            code::AGGREGATOR if len != if self.ctx.four_octet_as { 8 } else { 6 } => {
                return bad_len(self, discard);
            }
            code::COMMUNITIES | code::CLUSTER_LIST if len == 0 || len % 4 != 0 => {
                return bad_len(self, taw);
            }
            code::EXTENDED_COMMUNITIES if len == 0 || len % 8 != 0 => return bad_len(self, taw),
            code::IPV6_EXTENDED_COMMUNITIES if len == 0 || len % 20 != 0 => {
                return bad_len(self, taw);
            }
            code::LARGE_COMMUNITIES if len == 0 || len % 12 != 0 => return bad_len(self, taw),
            code::AS4_PATH | code::AS4_AGGREGATOR if self.ctx.four_octet_as => {
                self.issue(t, IssueKind::As4FromNewSpeaker, discard, start, end);
                return Ok(());
            }
            code::AS4_PATH if len < 6 || len % 2 != 0 || validate_as_path(v, 4).is_err() => {
                self.issue(t, IssueKind::MalformedAs4, discard, start, end);
                return Ok(());
            }
            code::AS4_AGGREGATOR if len != 8 => {
                self.issue(t, IssueKind::MalformedAs4, discard, start, end);
                return Ok(());
            }
            code::MP_REACH_NLRI => match MpReachView::parse(v, &self.ctx) {
                Ok(m) => self.mp_reach = Some(m),
                Err(e) => {
                    return Err(UpdateError {
                        reason: ResetReason::Mp(t, e),
                        notification: Notification::new(codes::UPDATE_MESSAGE, 9, whole()),
                    })
                }
            },
            code::MP_UNREACH_NLRI => match MpUnreachView::parse(v, &self.ctx) {
                Ok(m) => self.mp_unreach = Some(m),
                Err(e) => {
                    return Err(UpdateError {
                        reason: ResetReason::Mp(t, e),
                        notification: Notification::new(codes::UPDATE_MESSAGE, 9, whole()),
                    })
                }
            },
            _ => {}
        }
        let slot = slot_of(t);
        if slot != NONE {
            self.slots[usize::from(slot)] = Slot {
                start: (start + hdr) as u16,
                len: len as u16,
            };
            self.present |= 1 << slot;
        }
        if t == code::IPV6_EXTENDED_COMMUNITIES {
            self.has_other_attributes = true;
        }
        Ok(())
    }

    /// Applies the checks that need the whole message: missing mandatory attributes
    /// (RFC 7606 §3.d) and errors without reachable NLRI (§5.2).
    fn finish(&mut self, seen: &TypeSet) -> Result<(), UpdateError> {
        let reachable =
            !self.nlri.is_empty() || self.mp_reach.is_some_and(|m| !m.nlri_bytes().is_empty());
        if reachable {
            let mut mandatory = [code::ORIGIN, code::AS_PATH, 0];
            if !self.nlri.is_empty() {
                mandatory[2] = code::NEXT_HOP;
            }
            for t in mandatory.into_iter().filter(|&t| t != 0) {
                if !seen.contains(t) {
                    self.issue(
                        t,
                        IssueKind::MissingWellKnown,
                        Action::TreatAsWithdraw,
                        0,
                        0,
                    );
                }
            }
        } else {
            if self.beyond_unreach {
                if let Some(issue) = self.issues.first_withdraw() {
                    return Err(UpdateError {
                        reason: ResetReason::NoReachableNlri(issue),
                        notification: issue.notification(self.attrs),
                    });
                }
            }
        }
        if self.issues.strongest() == Some(Action::TreatAsWithdraw) {
            self.disposition = Disposition::TreatAsWithdraw;
        }
        Ok(())
    }

    #[inline]
    fn slot(&self, t: u8) -> Option<&'a [u8]> {
        let s = slot_of(t);
        if self.present & (1 << s) == 0 {
            return None;
        }
        let Slot { start, len } = self.slots[usize::from(s)];
        self.attrs
            .get(usize::from(start)..usize::from(start) + usize::from(len))
    }

    /// What RFC 7606 says to do with this UPDATE's routes.
    pub fn disposition(&self) -> Disposition {
        self.disposition
    }

    /// Problems found while decoding (empty for a well-formed UPDATE). RFC 7606 §6 asks
    /// that they be logged together with the NLRI and the whole message.
    pub fn issues(&self) -> &IssueLog {
        &self.issues
    }

    /// The context the message was decoded with.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The IPv4 unicast withdrawn routes field.
    pub fn withdrawn_routes(&self) -> NlriIter<'a> {
        NlriIter::new(
            self.withdrawn,
            PrefixKind::V4,
            self.ctx.add_path.contains(Family::IPV4_UNICAST),
        )
    }

    /// The IPv4 unicast NLRI field.
    pub fn nlri(&self) -> NlriIter<'a> {
        NlriIter::new(
            self.nlri,
            PrefixKind::V4,
            self.ctx.add_path.contains(Family::IPV4_UNICAST),
        )
    }

    /// MP_REACH_NLRI, if present.
    pub fn mp_reach(&self) -> Option<MpReachView<'a>> {
        self.mp_reach
    }

    /// MP_UNREACH_NLRI, if present.
    pub fn mp_unreach(&self) -> Option<MpUnreachView<'a>> {
        self.mp_unreach
    }

    /// Every route this UPDATE announces, with its family — none if the UPDATE is to be
    /// treated as withdraw.
    pub fn announced(&self) -> Routes<'a> {
        let mut r = Routes::default();
        if self.disposition == Disposition::Normal {
            r.push(Family::IPV4_UNICAST, self.nlri());
            if let Some(m) = self.mp_reach {
                r.push(m.family(), m.nlri());
            }
        }
        r
    }

    /// Every route this UPDATE withdraws, with its family — including the announced ones
    /// if the UPDATE is to be treated as withdraw (RFC 7606 §2).
    pub fn withdrawals(&self) -> Routes<'a> {
        let mut r = Routes::default();
        r.push(Family::IPV4_UNICAST, self.withdrawn_routes());
        if let Some(m) = self.mp_unreach {
            r.push(m.family(), m.withdrawn());
        }
        if self.disposition == Disposition::TreatAsWithdraw {
            r.push(Family::IPV4_UNICAST, self.nlri());
            if let Some(m) = self.mp_reach {
                r.push(m.family(), m.nlri());
            }
        }
        r
    }

    /// The family whose End-of-RIB this is, if it is one (RFC 4724 §2).
    pub fn end_of_rib(&self) -> Option<Family> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        if self.attrs.is_empty() {
            return Some(Family::IPV4_UNICAST);
        }
        let m = self.mp_unreach?;
        (self.n_attrs == 1 && m.nlri_bytes().is_empty()).then(|| m.family())
    }

    /// ORIGIN.
    pub fn origin(&self) -> Option<Origin> {
        self.slot(code::ORIGIN).and_then(|v| Origin::from_u8(v[0]))
    }

    /// AS_PATH, with the AS width of the session.
    pub fn as_path(&self) -> Option<AsPathView<'a>> {
        self.slot(code::AS_PATH)
            .map(|v| AsPathView::new(v, self.ctx.four_octet_as))
    }

    /// AS4_PATH (only ever present on 2-octet AS sessions, RFC 6793 §6).
    pub fn as4_path(&self) -> Option<AsPathView<'a>> {
        self.slot(code::AS4_PATH).map(|v| AsPathView::new(v, true))
    }

    /// NEXT_HOP.
    pub fn next_hop(&self) -> Option<Ipv4Addr> {
        self.slot(code::NEXT_HOP)
            .map(|v| Ipv4Addr::new(v[0], v[1], v[2], v[3]))
    }

    /// MULTI_EXIT_DISC.
    pub fn med(&self) -> Option<u32> {
        self.slot(code::MULTI_EXIT_DISC).map(be32)
    }

    /// LOCAL_PREF.
    pub fn local_pref(&self) -> Option<u32> {
        self.slot(code::LOCAL_PREF).map(be32)
    }

    /// Whether ATOMIC_AGGREGATE is present.
    pub fn atomic_aggregate(&self) -> bool {
        self.slot(code::ATOMIC_AGGREGATE).is_some()
    }

    /// AGGREGATOR, with the AS width of the session.
    pub fn aggregator(&self) -> Option<Aggregator> {
        self.slot(code::AGGREGATOR)
            .map(|v| aggregator(v, self.ctx.four_octet_as))
    }

    /// AS4_AGGREGATOR (only on 2-octet AS sessions).
    pub fn as4_aggregator(&self) -> Option<Aggregator> {
        self.slot(code::AS4_AGGREGATOR).map(|v| aggregator(v, true))
    }

    /// COMMUNITIES.
    pub fn communities(&self) -> impl Iterator<Item = Community> + 'a {
        self.slot(code::COMMUNITIES)
            .unwrap_or_default()
            .chunks_exact(4)
            .map(|c| Community(be32(c)))
    }

    /// ORIGINATOR_ID.
    pub fn originator_id(&self) -> Option<Ipv4Addr> {
        self.slot(code::ORIGINATOR_ID)
            .map(|v| Ipv4Addr::new(v[0], v[1], v[2], v[3]))
    }

    /// CLUSTER_LIST.
    pub fn cluster_list(&self) -> impl Iterator<Item = Ipv4Addr> + 'a {
        self.slot(code::CLUSTER_LIST)
            .unwrap_or_default()
            .chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
    }

    /// EXTENDED_COMMUNITIES.
    pub fn extended_communities(&self) -> impl Iterator<Item = ExtendedCommunity> + 'a {
        self.slot(code::EXTENDED_COMMUNITIES)
            .unwrap_or_default()
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                ExtendedCommunity(b)
            })
    }

    /// LARGE_COMMUNITY.
    pub fn large_communities(&self) -> impl Iterator<Item = LargeCommunity> + 'a {
        self.slot(code::LARGE_COMMUNITIES)
            .unwrap_or_default()
            .chunks_exact(12)
            .map(|c| LargeCommunity {
                global: be32(&c[..4]),
                local1: be32(&c[4..8]),
                local2: be32(&c[8..]),
            })
    }

    /// Whether attributes this codec does not interpret are present (they are reachable
    /// through [`attributes`](Self::attributes); optional transitive ones are to be passed
    /// on with the Partial bit set, RFC 4271 §5).
    pub fn has_other_attributes(&self) -> bool {
        self.has_other_attributes
    }

    /// The raw path attributes field.
    pub fn attributes_bytes(&self) -> &'a [u8] {
        self.attrs
    }

    /// Every path attribute kept after RFC 7606 handling, in wire order: repeated ones
    /// (after the first) and discarded ones are skipped.
    pub fn attributes(&self) -> RawAttributes<'a> {
        RawAttributes {
            data: self.attrs,
            seen: TypeSet::default(),
            discarded: self.discarded,
        }
    }
}

#[inline]
fn be32(v: &[u8]) -> u32 {
    u32::from_be_bytes([v[0], v[1], v[2], v[3]])
}

fn aggregator(v: &[u8], four: bool) -> Aggregator {
    if four {
        Aggregator {
            asn: be32(v),
            address: Ipv4Addr::new(v[4], v[5], v[6], v[7]),
        }
    } else {
        Aggregator {
            asn: u32::from(u16::from_be_bytes([v[0], v[1]])),
            address: Ipv4Addr::new(v[2], v[3], v[4], v[5]),
        }
    }
}

/// One path attribute as it is on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAttribute<'a> {
    /// Flags octet.
    pub flags: u8,
    /// Type code.
    pub type_code: u8,
    /// Value.
    pub value: &'a [u8],
}

/// Iterator over the kept path attributes of an UPDATE.
#[derive(Debug, Clone)]
pub struct RawAttributes<'a> {
    data: &'a [u8],
    seen: TypeSet,
    discarded: TypeSet,
}

impl<'a> Iterator for RawAttributes<'a> {
    type Item = RawAttribute<'a>;

    fn next(&mut self) -> Option<RawAttribute<'a>> {
        loop {
            let d = self.data;
            if d.len() < 3 {
                return None;
            }
            let ext = d[0] & flags::EXTENDED_LENGTH != 0;
            let (hdr, len) = if ext {
                (4, usize::from(u16::from_be_bytes([d[2], *d.get(3)?])))
            } else {
                (3, usize::from(d[2]))
            };
            let value = d.get(hdr..hdr + len)?;
            self.data = &d[hdr + len..];
            let (fl, t) = (d[0], d[1]);
            if self.seen.insert(t) && !self.discarded.contains(t) {
                return Some(RawAttribute {
                    flags: fl,
                    type_code: t,
                    value,
                });
            }
        }
    }
}

/// Iterator over the routes of an UPDATE across its NLRI fields, with their families.
#[derive(Debug, Clone, Default)]
pub struct Routes<'a> {
    parts: [Option<(Family, NlriIter<'a>)>; 4],
    idx: usize,
}

impl<'a> Routes<'a> {
    fn push(&mut self, family: Family, it: NlriIter<'a>) {
        if it.is_empty() {
            return;
        }
        if let Some(slot) = self.parts.iter_mut().find(|p| p.is_none()) {
            *slot = Some((family, it));
        }
    }
}

impl Iterator for Routes<'_> {
    type Item = (Family, Nlri);

    #[inline]
    fn next(&mut self) -> Option<(Family, Nlri)> {
        while self.idx < self.parts.len() {
            if let Some((fam, it)) = &mut self.parts[self.idx] {
                if let Some(n) = it.next() {
                    return Some((*fam, n));
                }
            } else {
                return None;
            }
            self.idx += 1;
        }
        None
    }
}
