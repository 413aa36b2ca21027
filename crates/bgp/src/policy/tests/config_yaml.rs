//! The YAML form: the documented example, round trips, and the MED forms.

use bgp_wire::{AsPath, ExtendedCommunity, LargeCommunity};

use super::{attrs, run};
use crate::policy::{MedConfig, NextHopAction, Policies, PolicyConfig};

/// The example of the module documentation, with every key used.
const EXAMPLE: &str = r#"
prefix-lists:
  PODS:
    - { prefix: 10.1.0.0/16, ge: 24, le: 24 }          # action defaults to permit
    - { prefix: 0.0.0.0/0, le: 32, action: deny }
as-path-lists:
  FROM-65001: [ "^65001_", "_65002$" ]
community-lists:
  BLUE: [ "65000:100", "65000:*", "no-export" ]
large-community-lists:
  RED: [ "65000:1:*" ]
ext-community-lists:
  RT: [ "rt:65000:7" ]
policies:
  IMPORT-SPINE:
    - match:
        prefix-list: PODS
        as-path-list: FROM-65001
        as-path-length: { le: 5 }
        as-path-contains: 65002
        neighbor-as: 65001
        origin: igp
        community-list: BLUE
        large-community-list: RED
        ext-community-list: RT
        next-hop: 10.0.0.0/8
        family: ipv4
      set:
        local-pref: 200
        med: 50
        origin: incomplete
        as-path-prepend: { asn: 65000, count: 2 }
        as-path-exclude: [65099]
        community: { add: [ "65000:7" ], delete: [ "65000:1" ], delete-list: BLUE }
        large-community: { add: [ "65000:2:2" ], delete: [ "65000:1:*" ] }
        ext-community: { replace: [ "rt:65000:8" ] }
        next-hop: self
      action: accept
    - action: reject
"#;

#[test]
fn the_documented_example_compiles_and_applies_every_set_action() {
    let cfg = PolicyConfig::from_yaml(EXAMPLE).unwrap();
    let p = Policies::compile(&cfg).unwrap();
    assert_eq!(p.names().collect::<Vec<_>>(), ["IMPORT-SPINE"]);
    let mut a = attrs();
    a.large_communities = thin_vec::thin_vec![LargeCommunity {
        global: 65000,
        local1: 1,
        local2: 5,
    }];
    a.ext_communities = thin_vec::thin_vec![ExtendedCommunity::route_target(65000, 7)];
    let out = run(&p, "IMPORT-SPINE", "10.1.7.0/24", &a);
    assert!(out.accept);
    assert_eq!(out.next_hop, Some(NextHopAction::SelfAddress));
    let m = out.attrs.unwrap();
    assert_eq!((m.local_pref, m.med), (Some(200), Some(50)));
    assert_eq!(m.origin, bgp_wire::Origin::Incomplete);
    assert_eq!(m.as_path, AsPath::sequence([65000, 65000, 65001, 65002]));
    assert_eq!(m.communities, vec!["65000:7".parse().unwrap()]);
    assert_eq!(m.large_communities.len(), 1);
    assert_eq!(m.large_communities[0].to_string(), "65000:2:2");
    assert_eq!(
        m.ext_communities,
        vec![ExtendedCommunity::route_target(65000, 8)]
    );
    // Outside the prefix list: the second term rejects.
    assert!(!run(&p, "IMPORT-SPINE", "10.2.7.0/24", &a).accept);
}

#[test]
fn the_configuration_survives_a_yaml_round_trip() {
    let cfg = PolicyConfig::from_yaml(EXAMPLE).unwrap();
    let text = serde_norway::to_string(&cfg).unwrap();
    assert_eq!(PolicyConfig::from_yaml(&text).unwrap(), cfg, "{text}");
    let json = serde_json::to_string(&cfg).unwrap();
    assert!(json.contains("\"med\":50"), "{json}");
}

#[test]
fn med_keeps_the_text_as_written_so_plus_means_add() {
    let med = |v: &str| {
        let yaml = format!("policies:\n  P:\n    - set: {{ med: {v} }}\n      action: accept\n");
        let cfg = PolicyConfig::from_yaml(&yaml).unwrap();
        cfg.policies["P"][0].set.clone().unwrap().med.unwrap()
    };
    assert_eq!(med("+10"), MedConfig("+10".into()));
    assert_eq!(med("\"+10\""), MedConfig("+10".into()));
    assert_eq!(med("-10"), MedConfig("-10".into()));
    assert_eq!(med("50"), MedConfig("50".into()));
    assert_eq!(med("remove"), MedConfig("remove".into()));
    let plus = serde_norway::to_string(&MedConfig("+10".into())).unwrap();
    assert_eq!(
        serde_norway::from_str::<MedConfig>(&plus).unwrap(),
        MedConfig("+10".into())
    );
}

#[test]
fn policies_are_shared_cheaply_and_unknown_names_are_absent() {
    let p = Policies::compile(&PolicyConfig::from_yaml(EXAMPLE).unwrap()).unwrap();
    let q = p.clone();
    assert!(q.get("IMPORT-SPINE").is_some());
    assert!(q.get("EXPORT").is_none());
    assert_eq!(q.get("IMPORT-SPINE").unwrap().name(), "IMPORT-SPINE");
    assert!(Policies::compile(&PolicyConfig::default())
        .unwrap()
        .get("X")
        .is_none());
}

#[test]
fn compiled_policies_can_be_shared_between_threads() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<Policies>();
    shared::<crate::policy::Policy>();
    shared::<crate::policy::PolicyError>();
}
