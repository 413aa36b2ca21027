use super::*;

const FULL: &str = r#"
router:
  asn: 65005
  router-id: 10.0.5.1
  listen: [10.0.5.1, 10.0.101.2]
  hold-time: 30
  bestpath: { always-compare-med: true }
  maximum-paths: { ebgp: 2 }
networks:
  - 10.0.5.0/24
  - prefix: 10.0.6.0/24
    communities: ["65005:1"]
prefix-lists:
  PODS:
    - { prefix: 10.1.0.0/16, ge: 24, le: 24 }
policies:
  ONLY-PODS:
    - match: { prefix-list: PODS }
      action: accept
neighbors:
  - address: 10.0.101.1
    remote-as: 500
    description: spine01
    import: ONLY-PODS
  - address: 10.0.5.11
    remote-as: internal
    max-prefix: { limit: 100, action: warn }
    shutdown: { message: "maintenance" }
"#;

#[test]
fn a_complete_configuration_parses() {
    let c = RouterConfig::parse("router.yaml", FULL).unwrap();
    assert_eq!(c.router.asn, 65005);
    assert_eq!(c.router.maximum_paths.ebgp, 2);
    assert_eq!(c.networks.len(), 2);
    let n = c.neighbors();
    assert_eq!(n[0].remote_as, RemoteAsConfig::Asn(500));
    assert_eq!(n[1].remote_as, RemoteAsConfig::Kind(RemoteAsKind::Internal));
    assert_eq!(n[1].shutdown_message(), Some("maintenance"));
    assert!(c.policies.contains_key("ONLY-PODS"));
}

fn err(text: &str) -> ConfigError {
    RouterConfig::parse("r.yaml", text).unwrap_err()
}

#[test]
fn a_type_error_names_the_key_and_the_line() {
    let e = err("router: { asn: many, router-id: 10.0.0.1 }\n");
    assert_eq!(e.key, "router.asn");
    assert!(e.problem.contains("line 1"), "{e}");
}

#[test]
fn an_unknown_key_is_refused_with_its_name() {
    let e = err("router: { asn: 1, router-id: 10.0.0.1, hold: 3 }\n");
    assert!(e.to_string().contains("hold"), "{e}");
    let e = err("router: { asn: 1, router-id: 10.0.0.1 }\nneighbours: []\n");
    assert!(e.to_string().contains("neighbours"), "{e}");
}

#[test]
fn a_mistake_inside_a_setting_written_as_scalar_or_map_names_the_inner_key_and_its_line() {
    const HEAD: &str = "router: { asn: 1, router-id: 10.0.0.1 }\n";
    let neighbor = |line: &str| format!("{HEAD}neighbors:\n  - address: 10.0.0.2\n    {line}\n");
    let with_as = |line: &str| neighbor(&format!("remote-as: 2\n    {line}"));
    // (text, key, words the problem must contain, line)
    let cases: Vec<(String, &str, &[&str], &str)> = vec![
        (
            with_as("bfd: { transmit-intervall: 100 }"),
            "neighbors[0].bfd.transmit-intervall",
            &["unknown field `transmit-intervall`", "`transmit-interval`"],
            "line 5",
        ),
        (
            with_as("bfd: on"),
            "neighbors[0].bfd",
            &["\"on\"", "expected true, false or a map of BFD settings"],
            "line 5",
        ),
        (
            with_as("bfd: { authentication: { type: md6, password: x } }"),
            "neighbors[0].bfd.authentication.type",
            &["unknown variant `md6`", "`keyed-sha1`"],
            "line 5",
        ),
        (
            with_as("shutdown: { mesage: bye }"),
            "neighbors[0].shutdown.mesage",
            &["unknown field `mesage`, expected `message`"],
            "line 5",
        ),
        (
            neighbor("remote-as: externall"),
            "neighbors[0].remote-as",
            &["`externall`", "`internal` or `external`"],
            "line 4",
        ),
        (
            neighbor("remote-as: 5000000000"),
            "neighbors[0].remote-as",
            &["AS 5000000000 is above 4294967295"],
            "line 4",
        ),
        (
            neighbor("remote-as: { asn: 2 }"),
            "neighbors[0].remote-as",
            &["invalid type: map", "an AS number"],
            "line 4",
        ),
        (
            "router: { asn: 1, router-id: 10.0.0.1, redistribute: { connected: { polcy: X } } }\n"
                .into(),
            "router.redistribute.connected.polcy",
            &["unknown field `polcy`, expected `policy`"],
            "line 1",
        ),
        (
            format!("{HEAD}networks:\n  - 10.1.0.0/24\n  - {{ prefx: 10.2.0.0/24 }}\n"),
            "networks[1].prefx",
            &["unknown field `prefx`"],
            "line 4",
        ),
        (
            format!("{HEAD}networks: [ 10.1.0.0/33 ]\n"),
            "networks[0]",
            &["10.1.0.0/33"],
            "line 2",
        ),
    ];
    for (text, key, words, line) in cases {
        let e = err(&text);
        assert_eq!(e.key, key, "{text}\n{e}");
        for w in words {
            assert!(e.problem.contains(w), "{w:?} not in: {e}");
        }
        assert!(e.problem.contains(line), "{line} not in: {e}");
        // The parser's own path and location are not repeated.
        assert_eq!(e.problem.matches("line").count(), 1, "{e}");
        assert!(!e.problem.starts_with("neighbors"), "{e}");
    }
}

#[test]
fn semantic_errors_name_the_key() {
    let base = "router: { asn: 65000, router-id: 10.0.0.1 }\n";
    let cases = [
        (
            "router: { asn: 65000, router-id: 0.0.0.0 }\n",
            "router.router-id",
        ),
        (
            "router: { asn: 65000, router-id: 10.0.0.1, hold-time: 2 }\n",
            "router.hold-time",
        ),
        ("router: { asn: 0, router-id: 10.0.0.1 }\n", "router.asn"),
    ];
    for (text, key) in cases {
        assert_eq!(err(text).key, key, "{text}");
    }
    let dup = format!(
        "{base}neighbors:\n  - {{ address: 10.0.0.2, remote-as: 1 }}\n  - {{ address: 10.0.0.2, remote-as: 2 }}\n"
    );
    let e = err(&dup);
    assert_eq!(e.key, "neighbors[1].address");
    assert!(e.problem.contains("neighbors[0]"));
    let unknown =
        format!("{base}neighbors:\n  - {{ address: 10.0.0.2, remote-as: 1, import: NOPE }}\n");
    let e = err(&unknown);
    assert_eq!(e.key, "neighbors[0].import");
    assert!(e.problem.contains("NOPE"));
    let fam = format!(
        "{base}neighbors:\n  - {{ address: 10.0.0.2, remote-as: 1, local-address: \"fd00::1\" }}\n"
    );
    assert_eq!(err(&fam).key, "neighbors[0].local-address");
}

#[test]
fn rfc8212_mode_accepts_ebgp_neighbors_without_policies_and_names_them() {
    // As FRR: the sessions come up, and the routes are withheld (see the speaker's tests).
    let text = "router: { asn: 65000, router-id: 10.0.0.1, ebgp-requires-policy: true }\nneighbors:\n  - { address: 10.0.0.2, remote-as: 65001 }\n  - { address: 10.0.0.3, remote-as: internal }\n  - { address: 10.0.0.4, remote-as: 65004, import: P, export: P }\npolicies:\n  P: [{ action: accept }]\n";
    let cfg = RouterConfig::parse("r.yaml", text).unwrap();
    assert!(cfg.router.ebgp_requires_policy);
    assert_eq!(
        cfg.rfc8212_withheld(),
        ["neighbor 10.0.0.2 (AS 65001): no import policy, so its routes are not accepted, and no export policy, so it is sent none (RFC 8212, router.ebgp-requires-policy)"]
    );
}

#[test]
fn a_policy_error_is_reported_with_its_key() {
    let text = "router: { asn: 65000, router-id: 10.0.0.1 }\npolicies:\n  P:\n    - match: { prefix-list: MISSING }\n      action: accept\n";
    let e = err(text);
    assert!(e.key.starts_with("policies.P"), "{e}");
    assert!(e.problem.contains("MISSING"), "{e}");
}

#[test]
fn the_quick_form_builds_neighbors_from_address_and_asn() {
    let c = RouterConfig::quick(
        65000,
        "10.99.0.1".parse().unwrap(),
        vec!["10.99.0.1".parse().unwrap()],
        &["10.99.0.2,65001".into(), "10.99.0.3,internal".into()],
    )
    .unwrap();
    assert_eq!(c.neighbors.len(), 2);
    assert_eq!(c.neighbors()[0].remote_as, RemoteAsConfig::Asn(65001));
    let e = RouterConfig::quick(
        1,
        "10.0.0.1".parse().unwrap(),
        vec![],
        &["10.99.0.2".into()],
    )
    .unwrap_err();
    assert_eq!(e.key, "--neighbor[0]");
    let e =
        RouterConfig::quick(1, "10.0.0.1".parse().unwrap(), vec![], &["x,1".into()]).unwrap_err();
    assert!(e.problem.contains("not an IP address"));
}

const GROUPS: &str = r#"
router:
  asn: 65000
  router-id: 10.0.0.1
  listen-ranges:
    - { prefix: 10.9.0.0/16, peer-group: LEAVES }
  graceful-restart: { enabled: true, restart-time: 90 }
  redistribute: { connected: true, static: { policy: ONLY-PODS } }
static-routes:
  - { prefix: 10.1.0.0/16, blackhole: true }
  - { prefix: 10.2.0.0/16, via: 10.0.0.254 }
prefix-lists:
  PODS: [{ prefix: 10.1.0.0/16, ge: 24, le: 24 }]
policies:
  ONLY-PODS:
    - { match: { prefix-list: PODS }, action: accept }
peer-groups:
  LEAVES:
    remote-as: external
    hold-time: 9
    password: s3cret
    import: ONLY-PODS
neighbors:
  - { address: 10.0.0.2, peer-group: LEAVES }
  - { address: 10.0.0.3, peer-group: LEAVES, hold-time: 30, remote-as: 65003 }
  - { interface: eth1, remote-as: external, ttl-security: 1 }
"#;

#[test]
fn a_neighbor_inherits_what_it_does_not_set_from_its_peer_group() {
    let c = RouterConfig::parse("r.yaml", GROUPS).unwrap();
    let n = c.neighbors();
    assert_eq!(n.len(), 3);
    assert_eq!(n[0].remote_as, RemoteAsConfig::Kind(RemoteAsKind::External));
    assert_eq!(n[0].hold_time, Some(9));
    assert_eq!(n[0].password.as_deref(), Some("s3cret"));
    assert_eq!(n[0].import.as_deref(), Some("ONLY-PODS"));
    assert_eq!(n[1].hold_time, Some(30));
    assert_eq!(n[1].remote_as, RemoteAsConfig::Asn(65003));
    assert_eq!(n[2].key(), "eth1");
    assert_eq!(n[2].ttl_security, Some(1));
}

#[test]
fn a_dynamic_neighbor_comes_from_a_listen_range_with_its_group_settings() {
    let c = RouterConfig::parse("r.yaml", GROUPS).unwrap();
    let d = c.dynamic_neighbor("10.9.3.4".parse().unwrap()).unwrap();
    assert!(d.passive);
    assert_eq!(d.peer_group.as_deref(), Some("LEAVES"));
    assert_eq!(d.hold_time, Some(9));
    assert!(c.dynamic_neighbor("10.8.0.1".parse().unwrap()).is_none());
}

#[test]
fn origination_settings_parse() {
    let c = RouterConfig::parse("r.yaml", GROUPS).unwrap();
    assert_eq!(c.static_routes.len(), 2);
    assert!(c.static_routes[0].blackhole);
    assert!(c.router.graceful_restart.enabled);
    assert_eq!(c.router.graceful_restart.restart_time, 90);
    assert_eq!(
        RedistributeSource::enabled(&c.router.redistribute.r#static),
        Some(Some("ONLY-PODS"))
    );
    assert_eq!(
        RedistributeSource::enabled(&c.router.redistribute.connected),
        Some(None)
    );
}

#[test]
fn peer_group_and_origination_mistakes_name_the_key() {
    let base = "router: { asn: 65000, router-id: 10.0.0.1 }\n";
    let cases = [
        (
            format!("{base}neighbors:\n  - {{ address: 10.0.0.2, peer-group: NOPE }}\n"),
            "neighbors[0].peer-group",
        ),
        (
            format!("{base}peer-groups:\n  G: {{ hold-time: 9 }}\nneighbors:\n  - {{ address: 10.0.0.2, peer-group: G }}\n"),
            "neighbors[0].remote-as",
        ),
        (
            format!("{base}peer-groups:\n  G: {{ address: 10.0.0.9, remote-as: 1 }}\n"),
            "peer-groups.G.address",
        ),
        (
            format!("{base}neighbors:\n  - {{ address: 10.0.0.2, interface: eth0, remote-as: 1 }}\n"),
            "neighbors[0].interface",
        ),
        (
            format!("{base}neighbors:\n  - {{ address: 10.0.0.2, remote-as: 1, ebgp-multihop: 2, ttl-security: 1 }}\n"),
            "neighbors[0].ttl-security",
        ),
        (
            format!("{base}neighbors:\n  - {{ address: 10.0.0.2, remote-as: 65000, route-reflector-client: false, password: \"\" }}\n"),
            "neighbors[0].password",
        ),
        (
            "router: { asn: 65000, router-id: 10.0.0.1, listen-ranges: [{ prefix: 10.9.0.0/16, peer-group: X }] }\n".to_string(),
            "router.listen-ranges[0].peer-group",
        ),
    ];
    for (text, key) in cases {
        assert_eq!(err(&text).key, key, "{text}");
    }
}

#[test]
fn every_example_configuration_written_back_as_yaml_reads_as_the_same_configuration() {
    // `show running-config` writes the configuration in effect this way.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut seen = 0;
    for dir in [
        "bgplane-fabric-000/router",
        "bgplane-fabric-002/router",
        "cilium-bgp-cross-as/bgplane",
    ] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = e.unwrap().path();
            let cfg = RouterConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let yaml = serde_norway::to_string(&cfg).unwrap();
            let back = RouterConfig::parse("running-config", &yaml)
                .unwrap_or_else(|e| panic!("{}: {e}\n{yaml}", path.display()));
            assert_eq!(back, cfg, "{}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 20, "{seen} files");
}

#[test]
fn the_configurations_of_the_router_guide_read_and_write_back_to_themselves() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/router.md"),
    )
    .unwrap();
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        match (&mut cur, line.trim_start().starts_with("```")) {
            (None, true) if line.trim() == "```yaml" => cur = Some(String::new()),
            (Some(_), true) => blocks.push(cur.take().unwrap()),
            (Some(b), false) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    // Whole files, and the fragments (networks, static routes, policies) as one file.
    let (whole, parts): (Vec<String>, Vec<String>) =
        blocks.into_iter().partition(|b| b.starts_with("router:"));
    let mut files = whole;
    files.push(format!(
        "router: {{ asn: 65005, router-id: 10.0.5.1 }}\n{}",
        parts.concat()
    ));
    assert!(files.len() >= 4, "{} files", files.len());
    for f in &files {
        let cfg = RouterConfig::parse("router.md", f).unwrap_or_else(|e| panic!("{e}\n{f}"));
        let yaml = serde_norway::to_string(&cfg).unwrap();
        let back =
            RouterConfig::parse("running-config", &yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert_eq!(back, cfg, "{f}");
    }
}

#[test]
fn bfd_is_a_switch_or_timers_and_a_neighbor_can_turn_off_its_groups() {
    let c = RouterConfig::parse(
        "r.yaml",
        "router: { asn: 65000, router-id: 10.0.0.1 }\n\
         peer-groups:\n  TOR: { remote-as: external, bfd: { transmit-interval: 100, detect-multiplier: 5 } }\n\
         neighbors:\n\
         \x20 - { address: 10.0.0.2, remote-as: 65001, bfd: true }\n\
         \x20 - { address: 10.0.0.3, peer-group: TOR }\n\
         \x20 - { address: 10.0.0.4, peer-group: TOR, bfd: false }\n\
         \x20 - { address: 10.0.0.5, remote-as: 65001 }\n",
    )
    .unwrap();
    let n = c.neighbors();
    assert_eq!(n[0].bfd, Some(BfdTimers::default()));
    assert_eq!(
        (
            n[0].bfd.as_ref().unwrap().multihop,
            n[0].bfd.as_ref().unwrap().minimum_ttl
        ),
        (None, 254),
        "single or multihop from the session, FRR's minimum TTL"
    );
    let t = n[1].bfd.clone().expect("inherited from the group");
    assert_eq!(
        (t.transmit_interval, t.receive_interval, t.detect_multiplier),
        (100, 300, 5)
    );
    assert_eq!(n[2].bfd, None);
    assert_eq!(n[3].bfd, None);
    let s = t.session_config();
    assert_eq!(s.desired_min_tx, std::time::Duration::from_millis(100));
    // Written back, it reads the same.
    let again = RouterConfig::parse("r.yaml", &serde_norway::to_string(&c).unwrap()).unwrap();
    assert_eq!(again.neighbors(), n);
}

#[test]
fn bfd_timers_out_of_frr_bounds_are_refused_with_the_key() {
    for (bfd, want) in [
        ("{ transmit-interval: 5 }", "transmit-interval 5 ms"),
        ("{ receive-interval: 60001 }", "receive-interval 60001 ms"),
        ("{ detect-multiplier: 1 }", "detect-multiplier 1"),
        ("{ multihop: true, minimum-ttl: 255 }", "minimum-ttl 255"),
        ("{ minimum-ttl: 0 }", "minimum-ttl 0"),
        (
            "{ authentication: { type: keyed-md5, password: \"01234567890123456\" } }",
            "authentication: BFD KeyedMd5 key of 17 octets",
        ),
        (
            "{ authentication: { type: simple-password, password: \"\" } }",
            "key of 0 octets",
        ),
        (
            "{ strict: true, strict-hold-time: 0 }",
            "strict-hold-time 0",
        ),
    ] {
        let e = err(&format!(
            "router: {{ asn: 65000, router-id: 10.0.0.1 }}\n\
             neighbors:\n  - {{ address: 10.0.0.2, remote-as: 65001, bfd: {bfd} }}\n"
        ));
        assert_eq!(e.key, "neighbors[0].bfd", "{e}");
        assert!(e.problem.contains(want), "{e}");
    }
    let e = err("router: { asn: 65000, router-id: 10.0.0.1 }\n\
         neighbors:\n  - { address: 10.0.0.2, remote-as: 65001, bfd: { transmit: 5 } }\n");
    assert!(e.to_string().contains("bfd"), "{e}");
}

#[test]
fn bfd_authentication_takes_a_type_a_key_id_and_a_password_never_printed() {
    let c = RouterConfig::parse(
        "r.yaml",
        "router: { asn: 65000, router-id: 10.0.0.1 }\n\
         neighbors:\n\
         \x20 - { address: 10.0.0.2, remote-as: 65001, bfd: { authentication: { type: meticulous-keyed-sha1, password: s3cret } } }\n",
    )
    .unwrap();
    let a = c.neighbors()[0]
        .bfd
        .clone()
        .unwrap()
        .authentication
        .unwrap();
    assert_eq!(a.kind, ::bfd::auth::AuthType::MeticulousKeyedSha1);
    assert_eq!(a.key_id, 1, "the default Key ID");
    assert!(a.key().is_ok());
    assert!(!format!("{a:?}").contains("s3cret"));
    let e = err("router: { asn: 65000, router-id: 10.0.0.1 }\n\
         neighbors:\n  - { address: 10.0.0.2, remote-as: 65001, bfd: { authentication: { type: keyed-sha256, password: x } } }\n");
    assert!(e.to_string().contains("neighbors[0].bfd"), "{e}");
}

#[test]
fn bfd_strict_mode_reads_and_writes_back_and_a_multihop_one_needs_a_local_address() {
    let base = "router: { asn: 65000, router-id: 10.0.0.1 }\nneighbors:\n";
    let c = RouterConfig::parse(
        "r.yaml",
        &format!("{base}  - {{ address: 10.0.0.2, remote-as: 65001, bfd: {{ strict: true, strict-hold-time: 10 }} }}\n"),
    )
    .unwrap();
    let t = c.neighbors()[0].bfd.clone().unwrap();
    assert_eq!((t.strict, t.strict_hold_time), (true, 10));
    assert_eq!(BfdTimers::strict_hold(Some(&t)), Some(10));
    let yaml = serde_norway::to_string(&c).unwrap();
    assert!(
        yaml.contains("strict: true") && yaml.contains("strict-hold-time: 10"),
        "{yaml}"
    );
    assert_eq!(RouterConfig::parse("back", &yaml).unwrap(), c);
    // Off by default, and the defaults are not written out.
    let t = BfdTimers::default();
    assert_eq!((t.strict, t.strict_hold_time), (false, 30));
    assert_eq!(BfdTimers::strict_hold(Some(&t)), None);
    let yaml = serde_norway::to_string(&t).unwrap();
    assert!(!yaml.contains("strict"), "{yaml}");

    // Multihop BFD gets its source from the BGP session unless local-address is set;
    // in strict mode there is no BGP session before BFD.
    let e = err(&format!(
        "{base}  - {{ address: 10.0.9.2, remote-as: 65001, ebgp-multihop: 2, bfd: {{ strict: true }} }}\n"
    ));
    assert_eq!(e.key, "neighbor 10.0.9.2: bfd.strict", "{e}");
    assert!(
        e.problem.contains("needs the neighbor's local-address"),
        "{e}"
    );
    RouterConfig::parse(
        "r.yaml",
        &format!("{base}  - {{ address: 10.0.9.2, remote-as: 65001, ebgp-multihop: 2, local-address: 10.0.0.1, bfd: {{ strict: true }} }}\n"),
    )
    .unwrap();
    // The same through a listen range's peer group.
    let e = err("router: { asn: 65000, router-id: 10.0.0.1, listen-ranges: [{ prefix: 10.0.9.0/24, peer-group: G }] }\n\
         peer-groups:\n  G: { remote-as: external, bfd: { strict: true, multihop: true } }\n");
    assert_eq!(
        e.key, "router.listen-ranges[0] (peer group G): bfd.strict",
        "{e}"
    );
}

#[test]
fn graceful_shutdown_is_set_router_wide_or_per_neighbor_and_inherited_from_a_peer_group() {
    let c = RouterConfig::parse(
        "r.yaml",
        "router: { asn: 65000, router-id: 10.0.0.1, graceful-shutdown: true }\n\
         peer-groups:\n  G: { remote-as: 65002, graceful-shutdown: true }\n\
         neighbors:\n  - { address: 10.0.0.2, remote-as: 65001 }\n  \
         - { address: 10.0.0.3, peer-group: G }\n",
    )
    .unwrap();
    assert!(c.router.graceful_shutdown);
    let n = c.neighbors();
    assert_eq!(
        (n[0].graceful_shutdown, n[1].graceful_shutdown),
        (false, true)
    );
    let yaml = serde_norway::to_string(&c).unwrap();
    assert_eq!(RouterConfig::parse("back", &yaml).unwrap(), c);
    // Off by default, and not written out then.
    let off =
        RouterConfig::parse("r.yaml", "router: { asn: 65000, router-id: 10.0.0.1 }\n").unwrap();
    assert!(!off.router.graceful_shutdown);
    assert!(!serde_norway::to_string(&off)
        .unwrap()
        .contains("graceful-shutdown"));
}
