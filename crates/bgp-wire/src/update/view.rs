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
pub use super::iter::{RawAttribute, RawAttributes, Routes};
use super::mp::{MpReachView, MpUnreachView};
use crate::context::{SessionContext, HEADER_LEN};
use crate::family::{Family, PrefixKind};
use crate::nlri::{validate_nlri, NlriIter, V4Walk, LEAD};
use crate::notification::{codes, Notification};

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
pub(super) const NONE: u8 = u8::MAX;
pub(super) const KNOWN: [u8; SLOTS] = [
    code::ORIGIN,
    code::AS_PATH,
    code::NEXT_HOP,
    code::MULTI_EXIT_DISC,
    code::LOCAL_PREF,
    code::ATOMIC_AGGREGATE,
    code::AGGREGATOR,
    code::COMMUNITIES,
    code::ORIGINATOR_ID,
    code::CLUSTER_LIST,
    code::MP_REACH_NLRI,
    code::MP_UNREACH_NLRI,
    code::EXTENDED_COMMUNITIES,
    code::AS4_PATH,
    code::AS4_AGGREGATOR,
    code::LARGE_COMMUNITIES,
    code::IPV6_EXTENDED_COMMUNITIES,
];
pub(super) static SLOT_OF: [u8; 256] = {
    let mut t = [NONE; 256];
    let mut i = 0;
    while i < SLOTS {
        t[KNOWN[i] as usize] = i as u8;
        i += 1;
    }
    t
};
/// The Optional and Transitive bits each slot's attribute must carry (RFC 7606 §3.c).
pub(super) const EXPECTED: [u8; SLOTS] = {
    let mut t = [0u8; SLOTS];
    let mut i = 0;
    while i < SLOTS {
        t[i] = match expected_flags(KNOWN[i]) {
            Some(f) => f,
            None => 0,
        };
        i += 1;
    }
    t
};

/// Slot bits of the attributes IPv4 NLRI needs (RFC 4271 §5: ORIGIN, AS_PATH, NEXT_HOP).
const MANDATORY_V4: u32 = 1 << SLOT_OF[code::ORIGIN as usize]
    | 1 << SLOT_OF[code::AS_PATH as usize]
    | 1 << SLOT_OF[code::NEXT_HOP as usize];

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Slot {
    pub(super) start: u16,
    pub(super) len: u16,
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
}

/// A decoded, validated UPDATE message, borrowing the message bytes.
#[derive(Debug, Clone)]
pub struct Update<'a> {
    withdrawn: &'a [u8],
    pub(super) attrs: &'a [u8],
    nlri: &'a [u8],
    pub(super) ctx: SessionContext,
    pub(super) slots: [Slot; SLOTS],
    pub(super) present: u32,
    /// Slots of known attributes dropped by attribute-discard (RFC 7606 §2).
    discarded: u32,
    has_other_attributes: bool,
    /// Attributes on the wire (duplicates and discarded ones included).
    pub(super) n_attrs: u16,
    /// Whether any attribute other than MP_UNREACH_NLRI is on the wire (RFC 7606 §5.2).
    pub(super) beyond_unreach: bool,
    disposition: Disposition,
    issues: IssueLog,
    /// The NLRI field with the [`LEAD`] octets in front of it.
    nlri_lead: &'a [u8],
    /// Sizes of the first NLRI entries, from validation (see [`NlriIter`]).
    nlri_sizes: u64,
}

impl<'a> Update<'a> {
    /// Decodes a complete UPDATE message (header included; framed with
    /// [`crate::frame`]) under the session's receive context.
    ///
    /// Returns the view, whose [`disposition`](Self::disposition) and
    /// [`issues`](Self::issues) tell what RFC 7606 asks for, or the session reset to perform.
    // Always inlined: the view is then built in the caller's frame instead of being
    // copied out of the returned `Result` (a 200-octet copy per UPDATE otherwise).
    #[inline(always)]
    pub fn decode(msg: &'a [u8], ctx: &SessionContext) -> Result<Self, UpdateError> {
        Self::decode_with(msg, ctx, true)
    }

    /// [`decode`](Self::decode), with the fast attribute walk or only the complete one
    /// (tests check that both give the same view).
    #[inline(always)]
    pub(super) fn decode_with(
        msg: &'a [u8],
        ctx: &SessionContext,
        fast: bool,
    ) -> Result<Self, UpdateError> {
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
        // The header and both length fields precede the NLRI field (23 > LEAD).
        let nlri_lead = &msg[HEADER_LEN + 4 + wlen + alen - LEAD..];

        let mut u = Update {
            withdrawn,
            attrs,
            nlri,
            ctx: *ctx,
            slots: [Slot::default(); SLOTS],
            present: 0,
            discarded: 0,
            has_other_attributes: false,
            n_attrs: 0,
            beyond_unreach: false,
            disposition: Disposition::Normal,
            issues: IssueLog::default(),
            nlri_lead,
            nlri_sizes: 0,
        };
        // The fast attribute walk also walks the NLRI field (see `walk_fast_with`); its
        // verdict on the NLRI comes first, as the complete walk only runs after it.
        let (fast_seen, walk) = if fast && !v4_add_path {
            u.walk_fast_with(nlri)
        } else if fast {
            (u.walk_fast(), V4Walk::default())
        } else {
            (None, V4Walk::default())
        };
        u.nlri_sizes = if v4_add_path {
            validate_nlri(nlri, PrefixKind::V4, true).map(|_| 0)
        } else {
            walk.finish(nlri).map(|(_, sizes)| sizes)
        }
        .map_err(|e| reset(ResetReason::Nlri(e), 10))?;
        let seen = match fast_seen {
            // IPv4 routes with every mandatory attribute and no issue: nothing is left
            // for `finish` to find.
            Some(seen) if !nlri.is_empty() && seen & MANDATORY_V4 == MANDATORY_V4 => {
                return Ok(u);
            }
            Some(seen) => seen,
            None => u.walk_attributes()?,
        };
        u.finish(seen)?;
        Ok(u)
    }

    /// Walks the path attributes field, validating and recording each attribute.
    ///
    /// Returns the set of attribute types seen, known ones as slot bits.
    #[inline]
    fn walk_attributes(&mut self) -> Result<u32, UpdateError> {
        let attrs = self.attrs;
        let mut seen: u32 = 0;
        let mut seen_other = TypeSet::default();
        let mut pos = 0usize;
        while pos < attrs.len() {
            let rem = &attrs[pos..];
            let ext = rem[0] & flags::EXTENDED_LENGTH != 0;
            let hdr = if ext { 4 } else { 3 };
            self.n_attrs = self.n_attrs.saturating_add(1);
            if rem.len() < hdr {
                self.beyond_unreach = true;
                let t = rem.get(1).copied().unwrap_or(0);
                let kind = IssueKind::TruncatedAttributeHeader;
                self.issue(t, kind, Action::TreatAsWithdraw, pos, attrs.len());
                break;
            }
            let (fl, t) = (rem[0], rem[1]);
            if t != code::MP_UNREACH_NLRI {
                self.beyond_unreach = true;
            }
            let len = if ext {
                usize::from(u16::from_be_bytes([rem[2], rem[3]]))
            } else {
                usize::from(rem[2])
            };
            let Some(value) = rem.get(hdr..hdr + len) else {
                let kind = IssueKind::AttributeOverrun;
                self.issue(t, kind, Action::TreatAsWithdraw, pos, attrs.len());
                break;
            };
            let start = pos;
            pos += hdr + len;
            let slot = SLOT_OF[usize::from(t)];
            if slot == NONE {
                self.other_attribute(fl, t, value, start, pos, &mut seen_other)?;
                continue;
            }
            let bit = 1u32 << slot;
            if seen & bit != 0 {
                self.duplicate(t, start, pos)?;
                continue;
            }
            seen |= bit;
            if fl & (flags::OPTIONAL | flags::TRANSITIVE) != EXPECTED[usize::from(slot)] {
                self.bad_flags(fl, t, start, pos)?;
                continue;
            }
            if self.check(t, value, start, pos)? {
                self.slots[usize::from(slot)] = Slot {
                    start: (start + hdr) as u16,
                    len: len as u16,
                };
                self.present |= bit;
            }
        }
        Ok(seen)
    }

    /// An attribute this codec does not interpret (RFC 4271 §5, §6.3).
    #[cold]
    fn other_attribute(
        &mut self,
        fl: u8,
        t: u8,
        value: &[u8],
        start: usize,
        end: usize,
        seen: &mut TypeSet,
    ) -> Result<(), UpdateError> {
        if fl & flags::OPTIONAL == 0 {
            return Err(UpdateError {
                reason: ResetReason::UnrecognizedWellKnown(t),
                notification: Notification::new(
                    codes::UPDATE_MESSAGE,
                    2,
                    self.attrs[start..end].to_vec(),
                ),
            });
        }
        if !seen.insert(t) {
            return self.duplicate(t, start, end);
        }
        self.has_other_attributes = true;
        if let Some(want) = expected_flags(t) {
            if fl & (flags::OPTIONAL | flags::TRANSITIVE) != want {
                return self.bad_flags(fl, t, start, end);
            }
        }
        let problem = super::attrset::other_attribute_issue(t, value);
        if let Some(kind) = problem {
            self.issue(t, kind, Action::TreatAsWithdraw, start, end);
        }
        Ok(())
    }

    /// A repeated attribute (RFC 7606 §3.g).
    #[cold]
    fn duplicate(&mut self, t: u8, start: usize, end: usize) -> Result<(), UpdateError> {
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
            end,
        );
        Ok(())
    }

    /// Optional/Transitive bits that disagree with the attribute (RFC 7606 §3.c, §3.f, §5.3).
    #[cold]
    fn bad_flags(&mut self, fl: u8, t: u8, start: usize, end: usize) -> Result<(), UpdateError> {
        if t == code::MP_REACH_NLRI || t == code::MP_UNREACH_NLRI {
            return Err(UpdateError {
                reason: ResetReason::MpFlags(t, fl),
                notification: Notification::new(
                    codes::UPDATE_MESSAGE,
                    4,
                    self.attrs[start..end].to_vec(),
                ),
            });
        }
        // Attributes that only inform may be discarded; the others decide routing.
        let informational = matches!(
            t,
            code::ATOMIC_AGGREGATE | code::AGGREGATOR | code::AS4_PATH | code::AS4_AGGREGATOR
        );
        let action = if informational {
            Action::AttributeDiscard
        } else {
            Action::TreatAsWithdraw
        };
        self.issue(t, IssueKind::Flags(fl), action, start, end);
        Ok(())
    }

    #[cold]
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
            let slot = SLOT_OF[usize::from(t)];
            if slot != NONE {
                self.discarded |= 1 << slot;
            }
        }
    }

    #[cold]
    fn mp_error(&self, t: u8, e: super::mp::MpError, start: usize, end: usize) -> UpdateError {
        UpdateError {
            reason: ResetReason::Mp(t, e),
            notification: Notification::new(
                codes::UPDATE_MESSAGE,
                9,
                self.attrs[start..end].to_vec(),
            ),
        }
    }

    /// Validates the value of a known attribute (RFC 7606 §7; RFC 6793 §6). Returns whether
    /// the attribute is kept.
    #[inline]
    fn check(&mut self, t: u8, v: &'a [u8], start: usize, end: usize) -> Result<bool, UpdateError> {
        let (taw, discard) = (Action::TreatAsWithdraw, Action::AttributeDiscard);
        let len = v.len();
        let problem = match t {
            code::ORIGIN => match v {
                [0..=2] => None,
                [o] => Some((IssueKind::InvalidOrigin(*o), taw)),
                _ => Some((IssueKind::Length(len as u16), taw)),
            },
            code::AS_PATH => {
                let width = if self.ctx.four_octet_as { 4 } else { 2 };
                validate_as_path(v, width)
                    .err()
                    .map(|e| (IssueKind::AsPath(e), taw))
            }
            code::NEXT_HOP => match v {
                [a, b, c, d] if *a == 0 || *a >= 224 => Some((
                    IssueKind::InvalidNextHop(Ipv4Addr::new(*a, *b, *c, *d)),
                    taw,
                )),
                [_, _, _, _] => None,
                _ => Some((IssueKind::Length(len as u16), taw)),
            },
            code::LOCAL_PREF | code::ORIGINATOR_ID | code::CLUSTER_LIST if self.ctx.external => {
                Some((IssueKind::FromExternalPeer, discard))
            }
            code::MULTI_EXIT_DISC | code::LOCAL_PREF | code::ORIGINATOR_ID => {
                (len != 4).then_some((IssueKind::Length(len as u16), taw))
            }
            code::ATOMIC_AGGREGATE => {
                (len != 0).then_some((IssueKind::Length(len as u16), discard))
            }
            code::AGGREGATOR => {
                let want = if self.ctx.four_octet_as { 8 } else { 6 };
                (len != want).then_some((IssueKind::Length(len as u16), discard))
            }
            code::COMMUNITIES | code::CLUSTER_LIST => {
                (len == 0 || len % 4 != 0).then_some((IssueKind::Length(len as u16), taw))
            }
            code::EXTENDED_COMMUNITIES => {
                (len == 0 || len % 8 != 0).then_some((IssueKind::Length(len as u16), taw))
            }
            code::IPV6_EXTENDED_COMMUNITIES => {
                self.has_other_attributes = true;
                (len == 0 || len % 20 != 0).then_some((IssueKind::Length(len as u16), taw))
            }
            code::LARGE_COMMUNITIES => {
                (len == 0 || len % 12 != 0).then_some((IssueKind::Length(len as u16), taw))
            }
            code::AS4_PATH | code::AS4_AGGREGATOR if self.ctx.four_octet_as => {
                Some((IssueKind::As4FromNewSpeaker, discard))
            }
            code::AS4_PATH => (len < 6 || len % 2 != 0 || validate_as_path(v, 4).is_err())
                .then_some((IssueKind::MalformedAs4, discard)),
            code::AS4_AGGREGATOR => (len != 8).then_some((IssueKind::MalformedAs4, discard)),
            code::MP_REACH_NLRI => {
                MpReachView::parse(v, &self.ctx).map_err(|e| self.mp_error(t, e, start, end))?;
                None
            }
            code::MP_UNREACH_NLRI => {
                MpUnreachView::parse(v, &self.ctx).map_err(|e| self.mp_error(t, e, start, end))?;
                None
            }
            _ => None,
        };
        match problem {
            None => Ok(true),
            Some((kind, action)) => {
                self.issue(t, kind, action, start, end);
                Ok(false)
            }
        }
    }

    /// Applies the checks that need the whole message: missing mandatory attributes
    /// (RFC 7606 §3.d) and errors without reachable NLRI (§5.2).
    fn finish(&mut self, seen: u32) -> Result<(), UpdateError> {
        let reachable =
            !self.nlri.is_empty() || self.mp_reach().is_some_and(|m| !m.nlri_bytes().is_empty());
        if reachable {
            let mut mandatory = [code::ORIGIN, code::AS_PATH, 0];
            if !self.nlri.is_empty() {
                mandatory[2] = code::NEXT_HOP;
            }
            for t in mandatory.into_iter().filter(|&t| t != 0) {
                if seen & (1 << SLOT_OF[usize::from(t)]) == 0 {
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
        let s = SLOT_OF[usize::from(t)];
        if self.present & (1 << s) == 0 {
            return None;
        }
        let Slot { start, len } = self.slots[usize::from(s)];
        self.attrs
            .get(usize::from(start)..usize::from(start) + usize::from(len))
    }

    /// What RFC 7606 says to do with this UPDATE's routes.
    #[inline]
    pub fn disposition(&self) -> Disposition {
        self.disposition
    }

    /// Problems found while decoding (empty for a well-formed UPDATE). RFC 7606 §6 asks
    /// that they be logged together with the NLRI and the whole message.
    #[inline]
    pub fn issues(&self) -> &IssueLog {
        &self.issues
    }

    /// The context the message was decoded with.
    #[inline]
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The IPv4 unicast withdrawn routes field.
    #[inline]
    pub fn withdrawn_routes(&self) -> NlriIter<'a> {
        NlriIter::new(
            self.withdrawn,
            PrefixKind::V4,
            self.ctx.add_path.contains(Family::IPV4_UNICAST),
        )
    }

    /// The IPv4 unicast NLRI field.
    #[inline]
    pub fn nlri(&self) -> NlriIter<'a> {
        if self.ctx.add_path.contains(Family::IPV4_UNICAST) {
            NlriIter::new(self.nlri, PrefixKind::V4, true)
        } else {
            NlriIter::sized(self.nlri_lead, self.nlri_sizes)
        }
    }

    /// MP_REACH_NLRI, if present.
    #[inline]
    pub fn mp_reach(&self) -> Option<MpReachView<'a>> {
        self.slot(code::MP_REACH_NLRI)
            .map(|v| MpReachView::validated(v, &self.ctx))
    }

    /// MP_UNREACH_NLRI, if present.
    #[inline]
    pub fn mp_unreach(&self) -> Option<MpUnreachView<'a>> {
        self.slot(code::MP_UNREACH_NLRI)
            .map(|v| MpUnreachView::validated(v, &self.ctx))
    }

    /// Every route this UPDATE announces, with its family — none if the UPDATE is to be
    /// treated as withdraw.
    #[inline]
    pub fn announced(&self) -> Routes<'a> {
        let mut r = Routes::default();
        if self.disposition == Disposition::Normal {
            r.push(Family::IPV4_UNICAST, self.nlri());
            if let Some(m) = self.mp_reach() {
                r.push(m.family(), m.nlri());
            }
        }
        r
    }

    /// Every route this UPDATE withdraws, with its family — including the announced ones
    /// if the UPDATE is to be treated as withdraw (RFC 7606 §2).
    #[inline]
    pub fn withdrawals(&self) -> Routes<'a> {
        let mut r = Routes::default();
        r.push(Family::IPV4_UNICAST, self.withdrawn_routes());
        if let Some(m) = self.mp_unreach() {
            r.push(m.family(), m.withdrawn());
        }
        if self.disposition == Disposition::TreatAsWithdraw {
            r.push(Family::IPV4_UNICAST, self.nlri());
            if let Some(m) = self.mp_reach() {
                r.push(m.family(), m.nlri());
            }
        }
        r
    }

    /// The family whose End-of-RIB this is, if it is one (RFC 4724 §2).
    #[inline]
    pub fn end_of_rib(&self) -> Option<Family> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        if self.attrs.is_empty() {
            return Some(Family::IPV4_UNICAST);
        }
        let m = self.mp_unreach()?;
        (self.n_attrs == 1 && m.nlri_bytes().is_empty()).then(|| m.family())
    }

    /// ORIGIN.
    #[inline]
    pub fn origin(&self) -> Option<Origin> {
        self.slot(code::ORIGIN).and_then(|v| Origin::from_u8(v[0]))
    }

    /// AS_PATH, with the AS width of the session.
    #[inline]
    pub fn as_path(&self) -> Option<AsPathView<'a>> {
        self.slot(code::AS_PATH)
            .map(|v| AsPathView::new(v, self.ctx.four_octet_as))
    }

    /// AS4_PATH (only ever present on 2-octet AS sessions, RFC 6793 §6).
    #[inline]
    pub fn as4_path(&self) -> Option<AsPathView<'a>> {
        self.slot(code::AS4_PATH).map(|v| AsPathView::new(v, true))
    }

    /// NEXT_HOP.
    #[inline]
    pub fn next_hop(&self) -> Option<Ipv4Addr> {
        self.slot(code::NEXT_HOP)
            .map(|v| Ipv4Addr::new(v[0], v[1], v[2], v[3]))
    }

    /// MULTI_EXIT_DISC.
    #[inline]
    pub fn med(&self) -> Option<u32> {
        self.slot(code::MULTI_EXIT_DISC).map(be32)
    }

    /// LOCAL_PREF.
    #[inline]
    pub fn local_pref(&self) -> Option<u32> {
        self.slot(code::LOCAL_PREF).map(be32)
    }

    /// Whether ATOMIC_AGGREGATE is present.
    #[inline]
    pub fn atomic_aggregate(&self) -> bool {
        self.slot(code::ATOMIC_AGGREGATE).is_some()
    }

    /// AGGREGATOR, with the AS width of the session.
    #[inline]
    pub fn aggregator(&self) -> Option<Aggregator> {
        self.slot(code::AGGREGATOR)
            .map(|v| aggregator(v, self.ctx.four_octet_as))
    }

    /// AS4_AGGREGATOR (only on 2-octet AS sessions).
    #[inline]
    pub fn as4_aggregator(&self) -> Option<Aggregator> {
        self.slot(code::AS4_AGGREGATOR).map(|v| aggregator(v, true))
    }

    /// COMMUNITIES.
    #[inline]
    pub fn communities(&self) -> impl Iterator<Item = Community> + 'a {
        self.slot(code::COMMUNITIES)
            .unwrap_or_default()
            .chunks_exact(4)
            .map(|c| Community(be32(c)))
    }

    /// ORIGINATOR_ID.
    #[inline]
    pub fn originator_id(&self) -> Option<Ipv4Addr> {
        self.slot(code::ORIGINATOR_ID)
            .map(|v| Ipv4Addr::new(v[0], v[1], v[2], v[3]))
    }

    /// CLUSTER_LIST.
    #[inline]
    pub fn cluster_list(&self) -> impl Iterator<Item = Ipv4Addr> + 'a {
        self.slot(code::CLUSTER_LIST)
            .unwrap_or_default()
            .chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
    }

    /// EXTENDED_COMMUNITIES.
    #[inline]
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
    #[inline]
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
    #[inline]
    pub fn has_other_attributes(&self) -> bool {
        self.has_other_attributes
    }

    /// The raw path attributes field.
    #[inline]
    pub fn attributes_bytes(&self) -> &'a [u8] {
        self.attrs
    }

    /// Every path attribute kept after RFC 7606 handling, in wire order: repeated ones
    /// (after the first) and discarded ones are skipped.
    #[inline]
    pub fn attributes(&self) -> RawAttributes<'a> {
        RawAttributes::new(self.attrs, self.discarded)
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
