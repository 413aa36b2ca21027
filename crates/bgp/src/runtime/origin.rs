//! What the router originates: its `networks`, and the static and connected routes it
//! redistributes (through their policies), kept in step with the configuration and the
//! kernel's interfaces.

use std::collections::BTreeMap;

use bgp_wire::{Origin, Prefix};

use super::{network_route, Actor};
use crate::config::{RedistributeSource, RouterConfig};
use crate::policy::{NextHopAction, Policies, RouteInfo};
use crate::rib::attrs::Attrs;

/// The routes to originate. A `network` wins over a redistributed static route, which
/// wins over a connected one.
pub(super) fn desired(
    cfg: &RouterConfig,
    connected: &[Prefix],
    policies: &Policies,
) -> BTreeMap<Prefix, Attrs> {
    let mut out = BTreeMap::new();
    let asn = cfg.router.asn;
    if let Some(policy) = RedistributeSource::enabled(&cfg.router.redistribute.connected) {
        for p in connected {
            redistribute(&mut out, *p, policy, policies, asn);
        }
    }
    if let Some(policy) = RedistributeSource::enabled(&cfg.router.redistribute.r#static) {
        for r in &cfg.static_routes {
            redistribute(&mut out, r.prefix, policy, policies, asn);
        }
    }
    for n in &cfg.networks {
        let (p, a) = network_route(n);
        out.insert(p, a);
    }
    out
}

/// A redistributed route as FRR makes it: origin incomplete, MED 0 (the kernel metric),
/// then its policy.
fn redistribute(
    out: &mut BTreeMap<Prefix, Attrs>,
    prefix: Prefix,
    policy: Option<&str>,
    policies: &Policies,
    local_asn: u32,
) {
    let mut a = Attrs::local(Origin::Incomplete);
    a.med = Some(0);
    if let Some(name) = policy {
        // The configuration is validated: the policy exists.
        let Some(p) = policies.get(name) else { return };
        let o = p.evaluate(&RouteInfo {
            prefix,
            attrs: &a,
            local_asn,
        });
        if !o.accept {
            return;
        }
        if let Some(m) = o.attrs {
            a = m;
        }
        if let Some(NextHopAction::Address(x)) = o.next_hop {
            a.next_hop = x.into();
        }
    }
    out.insert(prefix, a);
}

impl Actor {
    /// Originates what should be and withdraws what should no longer be; returns the
    /// number of changes.
    pub(super) fn sync_origination(&mut self) -> usize {
        let connected = self.fib.as_ref().map(|f| f.connected()).unwrap_or_default();
        let want = desired(&self.cfg, &connected, &self.policies);
        let have: BTreeMap<Prefix, Attrs> = self.speaker.networks().cloned().collect();
        let mut n = 0;
        for p in have.keys().filter(|p| !want.contains_key(p)) {
            self.speaker.withdraw_local(*p);
            n += 1;
        }
        for (p, a) in want {
            if have.get(&p) != Some(&a) {
                self.speaker.originate(p, a);
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"
router:
  asn: 65000
  router-id: 10.0.0.1
  redistribute: { connected: { policy: NOT-LAB }, static: true }
networks: [ 10.9.0.0/24 ]
static-routes:
  - { prefix: 10.9.0.0/24, blackhole: true }
  - { prefix: 10.8.0.0/16, blackhole: true }
prefix-lists:
  LAB: [{ prefix: 192.168.0.0/16, le: 32 }]
policies:
  NOT-LAB:
    - { match: { prefix-list: LAB }, action: reject }
    - { set: { community: { add: ["65000:7"] } }, action: accept }
"#;

    #[test]
    fn networks_win_over_statics_and_connected_routes_go_through_their_policy() {
        let cfg = RouterConfig::parse("r.yaml", CFG).unwrap();
        let policies = Policies::compile(&cfg.policy_config()).unwrap();
        let connected: Vec<Prefix> = ["10.0.0.0/24", "192.168.1.0/24", "fd00::/64"]
            .iter()
            .map(|p| p.parse().unwrap())
            .collect();
        let d = desired(&cfg, &connected, &policies);
        let keys: Vec<String> = d.keys().map(|p| p.to_string()).collect();
        assert_eq!(
            keys,
            ["10.0.0.0/24", "10.8.0.0/16", "10.9.0.0/24", "fd00::/64"]
        );
        let net = &d[&"10.9.0.0/24".parse().unwrap()];
        assert_eq!(net.origin, Origin::Igp, "the network statement wins");
        let st = &d[&"10.8.0.0/16".parse().unwrap()];
        assert_eq!((st.origin, st.med), (Origin::Incomplete, Some(0)));
        assert!(st.communities.is_empty());
        let conn = &d[&"10.0.0.0/24".parse().unwrap()];
        assert_eq!(conn.communities.len(), 1, "set by the policy");
    }
}
