//! Connects the compiled policies to the speaker's [`RoutePolicy`] hook.

use std::sync::Arc;

use bgp_wire::Prefix;

use crate::export::rules::{NextHopAction, PolicyResult, RoutePolicy};
use crate::policy::{self, Policies, RouteInfo};
use crate::rib::attrs::Attrs;

/// One named policy of a compiled set.
pub struct NamedPolicy {
    set: Arc<Policies>,
    name: String,
    local_asn: u32,
}

impl NamedPolicy {
    /// The policy `name` of `set`, evaluated for a speaker of AS `local_asn`.
    pub fn new(set: Arc<Policies>, name: String, local_asn: u32) -> Self {
        NamedPolicy {
            set,
            name,
            local_asn,
        }
    }
}

impl RoutePolicy for NamedPolicy {
    fn evaluate(&self, prefix: Prefix, attrs: &Attrs) -> PolicyResult {
        let Some(p) = self.set.get(&self.name) else {
            return PolicyResult::Reject;
        };
        let o = p.evaluate(&RouteInfo {
            prefix,
            attrs,
            local_asn: self.local_asn,
        });
        if !o.accept {
            return PolicyResult::Reject;
        }
        PolicyResult::Accept {
            attrs: o.attrs.map(Box::new),
            next_hop: match o.next_hop {
                None => NextHopAction::Unchanged,
                Some(policy::NextHopAction::Unchanged) => NextHopAction::Keep,
                Some(policy::NextHopAction::SelfAddress) => NextHopAction::SelfAddress,
                Some(policy::NextHopAction::PeerAddress) => NextHopAction::PeerAddress,
                Some(policy::NextHopAction::Address(a)) => NextHopAction::Address(a),
            },
        }
    }
}

/// Every policy of a compiled set, by name, for [`crate::speaker::Speaker::set_policies`].
pub fn all(
    set: &Arc<Policies>,
    local_asn: u32,
) -> std::collections::HashMap<String, Box<dyn RoutePolicy>> {
    set.names()
        .map(|n| {
            let p: Box<dyn RoutePolicy> =
                Box::new(NamedPolicy::new(set.clone(), n.to_string(), local_asn));
            (n.to_string(), p)
        })
        .collect()
}
