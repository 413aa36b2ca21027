//! The outcomes of RFC 7606 error handling for UPDATE messages.

use std::fmt;
use std::net::Ipv4Addr;

use super::aspath::AsPathError;
use super::attr::type_name;
use super::mp::MpError;
use crate::nlri::NlriError;
use crate::notification::{codes, Notification};

/// Error-handling approaches of RFC 7606 §2, weakest first, so that `max` picks the
/// strongest one as §3.h requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// The attribute is dropped and the UPDATE processed without it.
    AttributeDiscard,
    /// The UPDATE's routes are handled as if withdrawn.
    TreatAsWithdraw,
    /// The session is reset with a NOTIFICATION.
    SessionReset,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::AttributeDiscard => "attribute discarded",
            Action::TreatAsWithdraw => "treat-as-withdraw",
            Action::SessionReset => "session reset",
        })
    }
}

/// What was wrong with an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueKind {
    /// Fewer octets left than an attribute header needs (RFC 7606 §4).
    TruncatedAttributeHeader,
    /// The attribute's length runs past the path attributes field (RFC 7606 §4).
    AttributeOverrun,
    /// Optional/Transitive bits disagree with the attribute's definition (RFC 7606 §3.c).
    Flags(u8),
    /// Wrong length for the attribute (RFC 7606 §7).
    Length(u16),
    /// ORIGIN value other than 0, 1, 2 (RFC 7606 §7.1).
    InvalidOrigin(u8),
    /// Malformed AS_PATH (RFC 7606 §7.2).
    AsPath(AsPathError),
    /// NEXT_HOP that is not a unicast host address (RFC 4271 §6.3, RFC 7606 §3.e).
    InvalidNextHop(Ipv4Addr),
    /// LOCAL_PREF, ORIGINATOR_ID or CLUSTER_LIST from an external peer
    /// (RFC 7606 §7.5, §7.9, §7.10).
    FromExternalPeer,
    /// A repeated attribute: every occurrence after the first is dropped (RFC 7606 §3.g).
    Duplicate,
    /// A well-known mandatory attribute is missing (RFC 7606 §3.d).
    MissingWellKnown,
    /// AS4_PATH / AS4_AGGREGATOR from a 4-octet-AS speaker (RFC 6793 §6).
    As4FromNewSpeaker,
    /// Malformed AS4_PATH / AS4_AGGREGATOR (RFC 6793 §6).
    MalformedAs4,
    /// Malformed ATTR_SET (RFC 6368 §5, RFC 7606 §7.16): what is wrong inside it.
    MalformedAttrSet(AttrSetError),
}

/// What makes an ATTR_SET malformed (RFC 6368 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrSetError {
    /// Shorter than the 4-octet Origin AS.
    Short,
    /// An inner attribute's header or length runs past the ATTR_SET.
    InnerOverrun,
    /// It carries MP_REACH_NLRI or MP_UNREACH_NLRI (this type code).
    Mp(u8),
    /// An inner attribute of this type code has an invalid value or length.
    Inner(u8),
}

impl fmt::Display for AttrSetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrSetError::Short => write!(f, "shorter than its 4-octet Origin AS"),
            AttrSetError::InnerOverrun => write!(f, "an inner attribute overruns it"),
            AttrSetError::Mp(t) => write!(f, "it carries {} ({t})", type_name(*t)),
            AttrSetError::Inner(t) => {
                write!(f, "its inner {} ({t}) is malformed", type_name(*t))
            }
        }
    }
}

/// One problem found while decoding an UPDATE, with the approach chosen for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issue {
    /// Attribute type code (0 when the problem is the attribute field as a whole).
    pub type_code: u8,
    /// What was wrong.
    pub kind: IssueKind,
    /// The approach RFC 7606 prescribes for it.
    pub action: Action,
    /// Start and end of the whole attribute inside the path attributes field.
    pub(crate) span: (u16, u16),
}

impl Issue {
    /// The RFC rule behind the decision.
    pub fn rule(&self) -> &'static str {
        use super::attr::code;
        match (self.kind, self.type_code) {
            (IssueKind::TruncatedAttributeHeader | IssueKind::AttributeOverrun, _) => "RFC 7606 §4",
            (IssueKind::Flags(_), _) => "RFC 7606 §3.c",
            (IssueKind::Duplicate, _) => "RFC 7606 §3.g",
            (IssueKind::MissingWellKnown, _) => "RFC 7606 §3.d",
            (IssueKind::As4FromNewSpeaker | IssueKind::MalformedAs4, _) => "RFC 6793 §6",
            (IssueKind::InvalidNextHop(_), _) => "RFC 4271 §6.3, RFC 7606 §3.e",
            (_, code::ORIGIN) => "RFC 7606 §7.1",
            (_, code::AS_PATH) => "RFC 7606 §7.2",
            (_, code::NEXT_HOP) => "RFC 7606 §7.3",
            (_, code::MULTI_EXIT_DISC) => "RFC 7606 §7.4",
            (_, code::LOCAL_PREF) => "RFC 7606 §7.5",
            (_, code::ATOMIC_AGGREGATE) => "RFC 7606 §7.6",
            (_, code::AGGREGATOR) => "RFC 7606 §7.7",
            (_, code::COMMUNITIES) => "RFC 7606 §7.8",
            (_, code::ORIGINATOR_ID) => "RFC 7606 §7.9",
            (_, code::CLUSTER_LIST) => "RFC 7606 §7.10",
            (_, code::EXTENDED_COMMUNITIES) => "RFC 7606 §7.14",
            (_, code::IPV6_EXTENDED_COMMUNITIES) => "RFC 7606 §7.15",
            (_, code::LARGE_COMMUNITIES) => "RFC 8092 §6",
            (_, code::TRAFFIC_ENGINEERING) => "RFC 7606 §7.13",
            (_, code::ATTR_SET) => "RFC 7606 §7.16, RFC 6368 §5",
            _ => "RFC 7606",
        }
    }

    /// The NOTIFICATION this problem maps to under RFC 4271 §6.3, used when RFC 7606 §5.2
    /// escalates it to a session reset. `attrs` is the path attributes field.
    pub fn notification(&self, attrs: &[u8]) -> Notification {
        let attr = || {
            let (s, e) = (usize::from(self.span.0), usize::from(self.span.1));
            attrs
                .get(s..e.min(attrs.len()))
                .unwrap_or_default()
                .to_vec()
        };
        let (sub, data) = match self.kind {
            IssueKind::TruncatedAttributeHeader
            | IssueKind::AttributeOverrun
            | IssueKind::Duplicate => (1, vec![]),
            IssueKind::Flags(_) => (4, attr()),
            IssueKind::Length(_) => (5, attr()),
            IssueKind::InvalidOrigin(_) => (6, attr()),
            IssueKind::InvalidNextHop(_) => (8, attr()),
            IssueKind::MissingWellKnown => (3, vec![self.type_code]),
            IssueKind::AsPath(_) => (11, vec![]),
            IssueKind::FromExternalPeer | IssueKind::As4FromNewSpeaker => (9, attr()),
            IssueKind::MalformedAs4 | IssueKind::MalformedAttrSet(_) => (9, attr()),
        };
        Notification::new(codes::UPDATE_MESSAGE, sub, data)
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = type_name(self.type_code);
        match self.kind {
            IssueKind::TruncatedAttributeHeader => {
                write!(f, "path attributes field ends inside an attribute header")?
            }
            IssueKind::AttributeOverrun => write!(
                f,
                "{name} ({}) overruns the path attributes field",
                self.type_code
            )?,
            IssueKind::Flags(fl) => write!(
                f,
                "{name} ({}) has flags {fl:#04x} with the wrong optional/transitive bits",
                self.type_code
            )?,
            IssueKind::Length(l) => {
                write!(f, "{name} ({}) has invalid length {l}", self.type_code)?
            }
            IssueKind::InvalidOrigin(v) => write!(f, "ORIGIN has undefined value {v}")?,
            IssueKind::AsPath(e) => write!(f, "{name} is malformed: {e}")?,
            IssueKind::InvalidNextHop(a) => {
                write!(f, "NEXT_HOP {a} is not a valid unicast host address")?
            }
            IssueKind::FromExternalPeer => write!(f, "{name} received from an external peer")?,
            IssueKind::Duplicate => {
                write!(f, "{name} ({}) appears more than once", self.type_code)?
            }
            IssueKind::MissingWellKnown => write!(f, "well-known mandatory {name} is missing")?,
            IssueKind::As4FromNewSpeaker => write!(f, "{name} received on a 4-octet AS session")?,
            IssueKind::MalformedAs4 => write!(f, "{name} is malformed")?,
            IssueKind::MalformedAttrSet(e) => write!(f, "ATTR_SET is malformed: {e}")?,
        }
        write!(f, "; {} ({})", self.action, self.rule())
    }
}

/// Why an UPDATE forces a session reset (RFC 7606 §3, §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetReason {
    /// Withdrawn Routes Length + Total Attribute Length + 23 exceed the message (§3.b).
    LengthsExceedMessage,
    /// The withdrawn routes field is syntactically incorrect (§3.i, §5.3).
    WithdrawnRoutes(NlriError),
    /// The NLRI field is syntactically incorrect (§5.3).
    Nlri(NlriError),
    /// MP_REACH_NLRI or MP_UNREACH_NLRI appears more than once (§3.g).
    DuplicateMp(u8),
    /// MP_REACH_NLRI or MP_UNREACH_NLRI is malformed (§5.3, §7.11).
    Mp(u8, MpError),
    /// MP_REACH_NLRI or MP_UNREACH_NLRI has the wrong flags (§5.3).
    MpFlags(u8, u8),
    /// An attribute flagged well-known that this speaker does not know (RFC 4271 §6.3).
    UnrecognizedWellKnown(u8),
    /// An error in an UPDATE that carries no reachable NLRI (§5.2).
    NoReachableNlri(Issue),
}

/// An UPDATE that must end the session, with the NOTIFICATION to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed UPDATE, session reset: {reason}; sending {notification}")]
pub struct UpdateError {
    /// What was wrong.
    pub reason: ResetReason,
    /// The NOTIFICATION to send.
    pub notification: Notification,
}

impl fmt::Display for ResetReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResetReason::LengthsExceedMessage => write!(
                f,
                "withdrawn routes and path attribute lengths exceed the message (RFC 7606 §3.b)"
            ),
            ResetReason::WithdrawnRoutes(e) => write!(f, "withdrawn routes field: {e}"),
            ResetReason::Nlri(e) => write!(f, "NLRI field: {e}"),
            ResetReason::DuplicateMp(t) => {
                write!(
                    f,
                    "{} appears more than once (RFC 7606 §3.g)",
                    type_name(*t)
                )
            }
            ResetReason::Mp(t, e) => write!(f, "{}: {e} (RFC 7606 §5.3)", type_name(*t)),
            ResetReason::MpFlags(t, fl) => write!(
                f,
                "{} has flags {fl:#04x}, not optional non-transitive (RFC 7606 §5.3)",
                type_name(*t)
            ),
            ResetReason::UnrecognizedWellKnown(t) => write!(
                f,
                "unrecognized well-known attribute type {t} (RFC 4271 §6.3)"
            ),
            ResetReason::NoReachableNlri(issue) => write!(
                f,
                "{issue}, in an UPDATE without reachable NLRI (RFC 7606 §5.2)"
            ),
        }
    }
}

/// Up to four issues of one UPDATE, kept without allocating; further ones are counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct IssueLog {
    items: [Option<Issue>; 4],
    len: u8,
    more: u16,
    strongest: Option<Action>,
    first_withdraw: Option<Issue>,
}

impl IssueLog {
    pub(crate) fn push(&mut self, issue: Issue) {
        self.strongest = self.strongest.max(Some(issue.action));
        if issue.action >= Action::TreatAsWithdraw && self.first_withdraw.is_none() {
            self.first_withdraw = Some(issue);
        }
        if usize::from(self.len) < self.items.len() {
            self.items[usize::from(self.len)] = Some(issue);
            self.len += 1;
        } else {
            self.more = self.more.saturating_add(1);
        }
    }

    /// The recorded issues, in the order they were found.
    pub fn iter(&self) -> impl Iterator<Item = &Issue> {
        self.items.iter().take(usize::from(self.len)).flatten()
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many issues were found beyond the four recorded.
    pub fn more(&self) -> u16 {
        self.more
    }

    /// The strongest approach among all issues (recorded or only counted).
    pub fn strongest(&self) -> Option<Action> {
        self.strongest
    }

    /// The first issue that called for treat-as-withdraw or stronger.
    pub fn first_withdraw(&self) -> Option<Issue> {
        self.first_withdraw
    }
}
