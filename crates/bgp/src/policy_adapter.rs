//! Connects the compiled policies to the speaker's [`RoutePolicy`] hook.

use std::collections::HashMap;

use bgp_wire::Prefix;

use crate::export::rules::{NextHopAction, PolicyResult, RoutePolicy};
use crate::policy::{self, Policies, RouteInfo};
use crate::rib::attrs::Attrs;

/// One compiled policy, evaluated for a speaker of a given AS.
pub struct NamedPolicy {
    policy: policy::Policy,
    local_asn: u32,
}

impl NamedPolicy {
    /// Wraps a compiled policy (cheap to clone).
    pub fn new(policy: policy::Policy, local_asn: u32) -> Self {
        NamedPolicy { policy, local_asn }
    }
}

impl RoutePolicy for NamedPolicy {
    fn evaluate(&self, prefix: Prefix, attrs: &Attrs) -> PolicyResult {
        let o = self.policy.evaluate(&RouteInfo {
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

    fn reads_prefix(&self) -> bool {
        self.policy.reads_prefix()
    }
}

/// Every policy of a compiled set, by name, for [`crate::speaker::Speaker::set_policies`].
pub fn all(set: &Policies, local_asn: u32) -> HashMap<String, Box<dyn RoutePolicy>> {
    set.names()
        .filter_map(|n| {
            let p: Box<dyn RoutePolicy> =
                Box::new(NamedPolicy::new(set.get(n)?.clone(), local_asn));
            Some((n.to_string(), p))
        })
        .collect()
}
