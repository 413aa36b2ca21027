//! Per-neighbor import and export policies, end to end through the speaker.

use super::out::sent;
use super::*;
use crate::config::RouterConfig;

/// Compiles the policies of a configuration fragment and installs them.
pub(super) fn install(s: &mut Speaker, yaml: &str) {
    let text = format!("router: {{ asn: {LOCAL_AS}, router-id: 10.0.0.1 }}\n{yaml}");
    let cfg = RouterConfig::parse("test.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    let set = crate::policy::Policies::compile(&cfg.policy_config()).unwrap();
    s.set_policies(crate::policy_adapter::all(&set, LOCAL_AS));
}

const IMPORT: &str = r#"
prefix-lists:
  BOGONS: [{ prefix: 10.66.0.0/16, le: 32 }]
policies:
  IN:
    - match: { prefix-list: BOGONS }
      action: reject
    - set: { local-pref: 200 }
      action: accept
"#;

const EXPORT: &str = r#"
prefix-lists:
  PODS: [{ prefix: 10.1.0.0/16, le: 24 }]
policies:
  OUT:
    - match: { prefix-list: PODS }
      set:
        med: 50
        as-path-prepend: { asn: 65000, count: 2 }
        community: { add: ["65000:7"] }
      action: accept
"#;

#[test]
fn a_route_rejected_by_import_policy_is_kept_as_received_but_stays_out_of_the_loc_rib() {
    let (mut s, a, b) = setup();
    install(&mut s, IMPORT);
    let mut spec = s.peer(a).unwrap().spec.clone();
    spec.import = Some("IN".into());
    s.update_peer(a, spec);
    sent(&mut s, b, SessionContext::ebgp());
    s.receive(
        a,
        &announce(
            &[65001],
            [192, 0, 2, 1],
            &["10.66.1.0/24", "10.1.0.0/24"],
            None,
        ),
    )
    .unwrap();
    let bogon: bgp_wire::Prefix = "10.66.1.0/24".parse().unwrap();
    assert!(s.rib().dest(&bogon).and_then(|d| d.best()).is_none());
    let out = sent(&mut s, b, SessionContext::ebgp());
    assert_eq!(out.prefixes(), ["10.1.0.0/24"]);
    // Shown as received from the peer, marked rejected, with why it is not used.
    let from_a = s.routes(&show::RouteFilter {
        received_from: Some(a),
        ..Default::default()
    });
    let rejected = from_a.iter().find(|r| r.prefix == "10.66.1.0/24").unwrap();
    let p = &rejected.paths[0];
    assert!(p.rejected && !p.best);
    assert_eq!(p.reason.as_deref(), Some("rejected by import policy"));
    let accepted = from_a.iter().find(|r| r.prefix == "10.1.0.0/24").unwrap();
    assert!(accepted.paths[0].best);
    assert_eq!(accepted.paths[0].local_pref, Some(200), "set by the policy");
    let c = s.neighbor_view(a).unwrap().counters;
    assert_eq!((c.received[0], c.accepted[0]), (2, 1));
}

#[test]
fn an_export_policy_sets_and_prepends_on_the_wire_what_it_says_and_rejects_the_rest() {
    let (mut s, a, b) = setup();
    install(&mut s, EXPORT);
    let mut spec = s.peer(b).unwrap().spec.clone();
    spec.export = Some("OUT".into());
    s.update_peer(b, spec);
    s.resend(b, None);
    sent(&mut s, b, SessionContext::ebgp());
    s.receive(
        a,
        &announce(
            &[65001],
            [192, 0, 2, 1],
            &["10.1.0.0/24", "10.9.0.0/24"],
            Some(Community::new(65001, 1)),
        ),
    )
    .unwrap();
    let out = sent(&mut s, b, SessionContext::ebgp());
    assert_eq!(out.prefixes(), ["10.1.0.0/24"], "the rest is rejected");
    let got = out.attrs("10.1.0.0/24");
    assert_eq!(got.as_path.to_string(), "65000 65000 65000 65001");
    assert_eq!(got.med, Some(50));
    let communities: Vec<String> = got.communities.iter().map(|c| c.to_string()).collect();
    assert_eq!(communities, ["65001:1", "65000:7"]);
    // `show bgp routes --advertised-to` shows the path as sent.
    let adv = s.advertised_to(b, None);
    assert_eq!(adv.len(), 1);
    assert_eq!(
        (adv[0].prefix.as_str(), adv[0].as_path.as_str()),
        ("10.1.0.0/24", "65000 65000 65000 65001")
    );
    assert_eq!(adv[0].next_hop, "192.0.2.100");
}

#[test]
fn under_rfc8212_an_ebgp_peer_without_policies_has_its_routes_kept_unaccepted_and_is_sent_none() {
    let mut cfg = SpeakerConfig::new(LOCAL_AS, Ipv4Addr::new(10, 0, 0, 1));
    cfg.ebgp_requires_policy = true;
    let mut s = Speaker::new(cfg);
    install(&mut s, "policies:\n  ALL: [{ action: accept }]\n");
    let bare = s.add_peer(PeerSpec::new(addr(1), RemoteAs::Asn(65001), LOCAL_AS));
    let mut spec = PeerSpec::new(addr(2), RemoteAs::Asn(65002), LOCAL_AS);
    spec.import = Some("ALL".into());
    spec.export = Some("ALL".into());
    let with = s.add_peer(spec);
    let internal = s.add_peer(PeerSpec::new(addr(3), RemoteAs::Internal, LOCAL_AS));
    let ibgp = SessionContext {
        external: false,
        ..SessionContext::ebgp()
    };
    for (id, asn, last) in [(bare, 65001, 1), (with, 65002, 2), (internal, LOCAL_AS, 3)] {
        up(&mut s, id, asn, last);
    }
    for id in [bare, with] {
        sent(&mut s, id, SessionContext::ebgp());
    }
    sent(&mut s, internal, ibgp);

    // The routes of the peer without import policy are received, shown, not accepted.
    s.receive(
        bare,
        &announce(&[65001], [192, 0, 2, 1], &["10.1.0.0/24"], None),
    )
    .unwrap();
    let p: bgp_wire::Prefix = "10.1.0.0/24".parse().unwrap();
    assert!(s.rib().dest(&p).and_then(|d| d.best()).is_none());
    let c = s.neighbor_view(bare).unwrap().counters;
    assert_eq!((c.received[0], c.accepted[0]), (1, 0));
    assert!(sent(&mut s, internal, ibgp).prefixes().is_empty());

    // A peer with both policies is served as usual, except to the peer without export
    // policy; iBGP is not concerned.
    s.receive(
        with,
        &announce(&[65002], [192, 0, 2, 2], &["10.2.0.0/24"], None),
    )
    .unwrap();
    assert_eq!(sent(&mut s, internal, ibgp).prefixes(), ["10.2.0.0/24"]);
    assert!(sent(&mut s, bare, SessionContext::ebgp())
        .prefixes()
        .is_empty());
    let c = s.neighbor_view(with).unwrap().counters;
    assert_eq!((c.received[0], c.accepted[0]), (1, 1));

    let flags = |id| {
        let v = s.neighbor_view(id).unwrap();
        (v.import_withheld, v.export_withheld)
    };
    assert_eq!(flags(bare), (true, true));
    assert_eq!(flags(with), (false, false));
    assert_eq!(flags(internal), (false, false));
}
