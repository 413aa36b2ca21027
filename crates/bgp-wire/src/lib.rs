//! `bgp-wire`: a pure BGP-4 message codec.
//!
//! No I/O, no async, no allocation on the hot path. It decodes and encodes every message a
//! production speaker meets (RFC 4271 with RFC 2918, 4360, 4456, 4724, 4760, 5492, 6793,
//! 7313, 7606, 7911, 8092, 8203/9003, 8538, 8654, 8950, 9072 and friends):
//!
//! - [`frame`] tells how many bytes the next message of a stream needs and checks its
//!   header;
//! - [`Message::decode`] decodes any message; UPDATEs come back as a validated, borrowed
//!   [`Update`] whose prefixes iterate without allocating, together with what RFC 7606
//!   asks to do with them ([`Disposition`], [`Issue`]) or the session reset to perform
//!   ([`UpdateError`] with its NOTIFICATION);
//! - owned types ([`OwnedMessage`], [`UpdateMessage`], [`Open`], …) encode byte for byte;
//! - [`UpdatePacker`] packs many prefixes per UPDATE for a speaker's Adj-RIB-Out.
//!
//! Every decoding function takes the [`SessionContext`] negotiated for the direction it
//! reads (4-octet AS, ADD-PATH families, extended messages, eBGP or iBGP).

pub mod capability;
pub mod context;
pub mod family;
pub mod header;
pub mod message;
pub mod nlri;
pub mod notification;
pub mod open;
pub mod prefix;
pub mod route_refresh;
pub mod update;

pub use capability::Capability;
pub use context::SessionContext;
pub use family::{Afi, Family, FamilySet, Safi};
pub use header::{frame, Frame, HeaderError, MessageType};
pub use message::{encode_keepalive, DecodeError, Message, OwnedMessage};
pub use nlri::{Nlri, NlriIter, PathId};
pub use notification::Notification;
pub use open::Open;
pub use prefix::{Ipv4Prefix, Ipv6Prefix, Prefix};
pub use route_refresh::RouteRefresh;
pub use update::aspath::{AsPath, AsPathView, AsSegment, SegmentType};
pub use update::attr::{Aggregator, Community, ExtendedCommunity, LargeCommunity, Origin};
pub use update::error::{Action, AttrSetError, Issue, IssueKind, UpdateError};
pub use update::mp::{MpNextHop, MpReach, MpUnreach};
pub use update::owned::{AttributeValue, EncodeError, PathAttribute, UpdateMessage};
pub use update::pack::UpdatePacker;
pub use update::view::{Disposition, Update};
