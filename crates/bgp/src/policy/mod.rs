//! Routing policy: prefix lists, AS-path and community lists, and policies made of terms,
//! for operators used to FRR route-maps and prefix-lists or BIRD filters.
//!
//! ```yaml
//! prefix-lists:
//!   PODS:
//!     - { prefix: 10.1.0.0/16, ge: 24, le: 24 }        # action defaults to permit
//!     - { prefix: 0.0.0.0/0, le: 32, action: deny }
//! as-path-lists:
//!   FROM-65001: [ "^65001_" ]                         # FRR regexes, `_` is a boundary
//! community-lists:
//!   BLUE: [ "65000:100", "65000:*", "no-export" ]     # any of
//! policies:
//!   IMPORT-SPINE:
//!     - match: { prefix-list: PODS, as-path-list: FROM-65001 }
//!       set: { local-pref: 200, med: "+10", community: { add: [ "65000:7" ] } }
//!       action: accept                                # accept | reject | next
//!     - action: reject
//! ```
//!
//! Semantics, as an FRR route-map:
//! - terms are tried in order; the first whose `match` holds (all its conditions; a term
//!   without `match` matches every route) applies its `set` and then its `action`: `accept`,
//!   `reject`, or `next`, which keeps the modifications and goes on with the following terms
//!   (whose conditions see the modified attributes);
//! - a route no term accepts or rejects is rejected (implicit deny);
//! - a prefix list's first matching entry decides, and a prefix no entry matches is denied.
//!   An entry without `ge`/`le` matches its prefix exactly; with them, the prefixes inside it
//!   with a length from `ge` (default: the entry's length) to `le` (default: 32 or 128).
//! - community edits apply `replace`, then `delete` and `delete-list`, then `add` (values
//!   already present are not added twice);
//! - `set: { next-hop }` is not applied to the attributes but reported in
//!   [`Outcome::next_hop`]: only the caller knows its own and the peer's address.
//!
//! [`Policies::compile`] validates everything and resolves names once; [`Policy::evaluate`]
//! then runs per route without allocating unless it modifies the attributes.

mod aspath;
mod compile;
mod config;
mod error;
mod eval;
mod lists;

#[cfg(test)]
mod tests;

use std::net::IpAddr;

use bgp_wire::Prefix;

use crate::rib::attrs::Attrs;

pub use aspath::{render as render_as_path, AsPathList};
pub use compile::{Policies, MAX_PREPEND};
pub use config::{
    CommunityEdit, FamilyMatch, LengthRange, MatchConfig, MedConfig, PolicyConfig, PrefixAction,
    PrefixListEntry, PrependConfig, SetConfig, TermAction, TermConfig,
};
pub use error::{ErrorKind, PolicyError};
pub use eval::Policy;
pub use lists::PrefixList;

/// A route to run a policy on.
#[derive(Debug, Clone, Copy)]
pub struct RouteInfo<'a> {
    /// The prefix.
    pub prefix: Prefix,
    /// Its attributes (as received for import, as to be sent for export).
    pub attrs: &'a Attrs,
    /// The local AS: `as-path-prepend: { last-as }` repeats it when the path does not start
    /// with an AS_SEQUENCE (e.g. a local route on export: the AS the receiver sees first).
    pub local_asn: u32,
}

/// What to do with the next hop, as a policy's `set: { next-hop }` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextHopAction {
    /// `unchanged`: keep the route's next hop, even where it would be rewritten (eBGP).
    Unchanged,
    /// `self`: our address on the session.
    SelfAddress,
    /// `peer-address`: the address of the peer the route was received from (import) or is
    /// sent to (export), as FRR's `set ip next-hop peer-address`.
    PeerAddress,
    /// This address.
    Address(IpAddr),
}

/// The result of a policy on a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the route is accepted.
    pub accept: bool,
    /// The modified attributes, if an accepted route's attributes were changed (`None` when
    /// they are unchanged, and for rejected routes).
    pub attrs: Option<Attrs>,
    /// The next-hop instruction of the last `set: { next-hop }` applied, if any (`None` for
    /// rejected routes): the caller's own rules apply when there is none.
    pub next_hop: Option<NextHopAction>,
}

impl Outcome {
    /// A rejection.
    pub fn rejected() -> Self {
        Outcome {
            accept: false,
            attrs: None,
            next_hop: None,
        }
    }

    /// The attributes to use for an accepted route: the modified ones or the original.
    pub fn attrs_or<'a>(&'a self, original: &'a Attrs) -> &'a Attrs {
        self.attrs.as_ref().unwrap_or(original)
    }
}
