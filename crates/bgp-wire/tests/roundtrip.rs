//! Property tests: whatever the encoder produces decodes back to itself, and no input
//! bytes make the decoder panic.

use std::net::{Ipv4Addr, Ipv6Addr};

use bgp_wire::capability::LlgrFamily;
use bgp_wire::capability::{AddPathFamily, AddPathMode, ExtendedNextHop, GracefulRestartFamily};
use bgp_wire::open::OptionalParameter;
use bgp_wire::update::attr::flags;
use bgp_wire::*;
use proptest::prelude::*;

fn ctx_strategy() -> impl Strategy<Value = SessionContext> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(four, ext, ap4, ap6, external)| {
            let mut add_path = FamilySet::EMPTY;
            if ap4 {
                add_path.insert(Family::IPV4_UNICAST);
            }
            if ap6 {
                add_path.insert(Family::IPV6_UNICAST);
            }
            SessionContext {
                four_octet_as: four,
                extended_message: ext,
                add_path,
                external,
            }
        })
}

fn v4_prefix() -> impl Strategy<Value = Prefix> {
    (any::<u32>(), 0u8..=32).prop_map(|(a, l)| Prefix::V4(Ipv4Prefix::new(a.into(), l).unwrap()))
}

fn v6_prefix() -> impl Strategy<Value = Prefix> {
    (any::<u128>(), 0u8..=128)
        .prop_map(|(a, l)| Prefix::V6(Ipv6Prefix::new(Ipv6Addr::from(a), l).unwrap()))
}

fn nlris(
    p: impl Strategy<Value = Prefix>,
    add_path: bool,
    max: usize,
) -> impl Strategy<Value = Vec<Nlri>> {
    prop::collection::vec((p, any::<u32>()), 0..max).prop_map(move |v| {
        v.into_iter()
            .map(|(prefix, id)| Nlri {
                path_id: add_path.then_some(id),
                prefix,
            })
            .collect()
    })
}

fn as_path(four: bool) -> impl Strategy<Value = AsPath> {
    let asn = if four {
        any::<u32>().boxed()
    } else {
        (0u32..=65535).boxed()
    };
    let kind = prop_oneof![
        Just(SegmentType::Set),
        Just(SegmentType::Sequence),
        Just(SegmentType::ConfedSequence),
        Just(SegmentType::ConfedSet)
    ];
    prop::collection::vec((kind, prop::collection::vec(asn, 1..8)), 0..4).prop_map(|segs| AsPath {
        segments: segs
            .into_iter()
            .map(|(kind, asns)| AsSegment { kind, asns })
            .collect(),
    })
}

fn host_v4() -> impl Strategy<Value = Ipv4Addr> {
    (1u8..224, any::<[u8; 3]>()).prop_map(|(a, r)| Ipv4Addr::new(a, r[0], r[1], r[2]))
}

fn v6_next_hop() -> impl Strategy<Value = MpNextHop> {
    (any::<u128>(), prop::option::of(any::<u128>())).prop_map(|(g, l)| MpNextHop::V6 {
        global: Ipv6Addr::from(g),
        link_local: l.map(Ipv6Addr::from),
    })
}

/// Attribute values the decoder keeps unchanged under `ctx`, each type at most once.
fn attributes(ctx: SessionContext) -> impl Strategy<Value = Vec<PathAttribute>> {
    let four = ctx.four_octet_as;
    let ap4 = ctx.add_path.contains(Family::IPV4_UNICAST);
    let ap6 = ctx.add_path.contains(Family::IPV6_UNICAST);
    let agg_asn = if four {
        any::<u32>().boxed()
    } else {
        (0u32..=65535).boxed()
    };
    let mut opts: Vec<BoxedStrategy<AttributeValue>> = vec![
        prop_oneof![
            Just(Origin::Igp),
            Just(Origin::Egp),
            Just(Origin::Incomplete)
        ]
        .prop_map(AttributeValue::Origin)
        .boxed(),
        as_path(four).prop_map(AttributeValue::AsPath).boxed(),
        host_v4().prop_map(AttributeValue::NextHop).boxed(),
        any::<u32>().prop_map(AttributeValue::MultiExitDisc).boxed(),
        Just(AttributeValue::AtomicAggregate).boxed(),
        (agg_asn, any::<u32>())
            .prop_map(|(asn, a)| {
                AttributeValue::Aggregator(Aggregator {
                    asn,
                    address: a.into(),
                })
            })
            .boxed(),
        prop::collection::vec(any::<u32>().prop_map(Community), 1..20)
            .prop_map(AttributeValue::Communities)
            .boxed(),
        (v6_next_hop(), nlris(v6_prefix(), ap6, 8))
            .prop_map(|(next_hop, nlri)| {
                AttributeValue::MpReach(MpReach {
                    family: Family::IPV6_UNICAST,
                    next_hop,
                    nlri,
                })
            })
            .boxed(),
        nlris(v6_prefix(), ap6, 8)
            .prop_map(|withdrawn| {
                AttributeValue::MpUnreach(MpUnreach {
                    family: Family::IPV6_UNICAST,
                    withdrawn,
                })
            })
            .boxed(),
        prop::collection::vec(any::<[u8; 8]>().prop_map(ExtendedCommunity), 1..10)
            .prop_map(AttributeValue::ExtendedCommunities)
            .boxed(),
        prop::collection::vec(
            any::<(u32, u32, u32)>().prop_map(|(global, local1, local2)| LargeCommunity {
                global,
                local1,
                local2,
            }),
            1..10,
        )
        .prop_map(AttributeValue::LargeCommunities)
        .boxed(),
        (200u8..=254, prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(type_code, data)| AttributeValue::Raw { type_code, data })
            .boxed(),
    ];
    if !ctx.external {
        opts.push(any::<u32>().prop_map(AttributeValue::LocalPref).boxed());
        opts.push(
            any::<u32>()
                .prop_map(|a| AttributeValue::OriginatorId(a.into()))
                .boxed(),
        );
        opts.push(
            prop::collection::vec(any::<u32>().prop_map(Ipv4Addr::from), 1..10)
                .prop_map(AttributeValue::ClusterList)
                .boxed(),
        );
    }
    if !four {
        opts.push(
            as_path(true)
                .prop_filter("non-empty", |p| !p.segments.is_empty())
                .prop_map(AttributeValue::As4Path)
                .boxed(),
        );
        opts.push(
            (any::<u32>(), any::<u32>())
                .prop_map(|(asn, a)| {
                    AttributeValue::As4Aggregator(Aggregator {
                        asn,
                        address: a.into(),
                    })
                })
                .boxed(),
        );
    }
    // The IPv4 MP_REACH variant with an RFC 8950 next hop replaces nothing: it is its own
    // code only if no IPv6 MP_REACH was picked, so pick one of the two here.
    let n = opts.len();
    (
        prop::collection::vec((0..n, any::<bool>(), any::<bool>()), 0..n),
        prop::collection::vec(prop::strategy::Union::new(opts), n..=n),
        any::<bool>(),
        (v6_next_hop(), nlris(v4_prefix(), ap4, 8)),
    )
        .prop_map(move |(picks, values, v4_mp, (nh, v4_nlri))| {
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::new();
            for (i, ext, partial) in picks {
                let mut value = values[i].clone();
                if v4_mp && matches!(value, AttributeValue::MpReach(_)) {
                    value = AttributeValue::MpReach(MpReach {
                        family: Family::IPV4_UNICAST,
                        next_hop: nh,
                        nlri: v4_nlri.clone(),
                    });
                }
                if !seen.insert(value.type_code()) {
                    continue;
                }
                let mut a = PathAttribute::new(value);
                if ext {
                    a.flags |= flags::EXTENDED_LENGTH;
                }
                if partial && a.flags & flags::TRANSITIVE != 0 && a.flags & flags::OPTIONAL != 0 {
                    a.flags |= flags::PARTIAL;
                }
                out.push(a);
            }
            out
        })
}

fn update_strategy() -> impl Strategy<Value = (SessionContext, UpdateMessage)> {
    ctx_strategy().prop_flat_map(|ctx| {
        let ap4 = ctx.add_path.contains(Family::IPV4_UNICAST);
        (
            Just(ctx),
            nlris(v4_prefix(), ap4, 20),
            attributes(ctx),
            nlris(v4_prefix(), ap4, 20),
        )
            .prop_map(|(ctx, withdrawn, attributes, nlri)| {
                (
                    ctx,
                    UpdateMessage {
                        withdrawn,
                        attributes,
                        nlri,
                    },
                )
            })
    })
}

fn capability() -> impl Strategy<Value = Capability> {
    let family = (any::<u16>(), any::<u8>()).prop_map(|(a, s)| Family::new(Afi(a), Safi(s)));
    prop_oneof![
        family.clone().prop_map(Capability::Multiprotocol),
        Just(Capability::RouteRefresh),
        Just(Capability::EnhancedRouteRefresh),
        Just(Capability::BfdStrictMode),
        Just(Capability::ExtendedMessage),
        any::<u8>().prop_map(Capability::Role),
        any::<u32>().prop_map(Capability::FourOctetAs),
        prop::collection::vec(any::<(u16, u16, u16)>(), 0..4).prop_map(|v| {
            Capability::ExtendedNextHop(
                v.into_iter()
                    .map(|(a, s, n)| ExtendedNextHop {
                        nlri_afi: Afi(a),
                        nlri_safi: s,
                        nexthop_afi: Afi(n),
                    })
                    .collect(),
            )
        }),
        (
            0u8..16,
            0u16..4096,
            prop::collection::vec((family.clone(), any::<u8>()), 0..4)
        )
            .prop_map(|(flags, time, f)| Capability::GracefulRestart {
                flags,
                time,
                families: f
                    .into_iter()
                    .map(|(family, flags)| GracefulRestartFamily { family, flags })
                    .collect(),
            }),
        prop::collection::vec((family.clone(), any::<u8>()), 0..4).prop_map(|v| {
            Capability::AddPath(
                v.into_iter()
                    .map(|(family, m)| AddPathFamily {
                        family,
                        mode: AddPathMode(m),
                    })
                    .collect(),
            )
        }),
        prop::collection::vec((family, any::<u8>(), 0u32..(1 << 24)), 0..4).prop_map(|v| {
            Capability::LongLivedGracefulRestart(
                v.into_iter()
                    .map(|(family, flags, stale_time)| LlgrFamily {
                        family,
                        flags,
                        stale_time,
                    })
                    .collect(),
            )
        }),
        ("[a-z0-9-]{0,20}", "[a-z.]{0,20}")
            .prop_map(|(hostname, domain)| Capability::Fqdn { hostname, domain }),
        (128u8..=255, prop::collection::vec(any::<u8>(), 0..10))
            .prop_map(|(code, data)| Capability::Unknown { code, data }),
    ]
}

fn open_strategy() -> impl Strategy<Value = Open> {
    (
        any::<u16>(),
        prop_oneof![Just(0u16), 3u16..],
        1u32..,
        prop::collection::vec(prop::collection::vec(capability(), 1..6), 0..4),
        any::<bool>(),
    )
        .prop_map(|(my_as, hold_time, id, params, extended_params)| Open {
            version: 4,
            my_as,
            hold_time,
            bgp_id: id.into(),
            params: params
                .into_iter()
                .map(OptionalParameter::Capabilities)
                .collect(),
            extended_params,
        })
}

fn round_trip(msg: &OwnedMessage, ctx: &SessionContext) -> Option<(Vec<u8>, OwnedMessage)> {
    let mut buf = Vec::new();
    msg.encode(ctx, &mut buf).ok()?;
    let (m, len) = Message::decode(&buf, ctx).expect("encoder output must decode");
    assert_eq!(len, buf.len());
    Some((buf.clone(), m.to_owned()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_encoded_update_decodes_to_itself((ctx, u) in update_strategy()) {
        let msg = OwnedMessage::Update(u);
        if let Some((buf, back)) = round_trip(&msg, &ctx) {
            prop_assert_eq!(&back, &msg);
            // And decoding is stable: re-encoding gives the same bytes.
            let mut again = Vec::new();
            back.encode(&ctx, &mut again).unwrap();
            prop_assert_eq!(again, buf);
        }
    }

    #[test]
    fn any_encoded_open_decodes_to_itself(mut o in open_strategy()) {
        let ctx = SessionContext::default();
        let msg = OwnedMessage::Open(o.clone());
        if let Some((buf, back)) = round_trip(&msg, &ctx) {
            o.extended_params = buf[28] == 255 && buf[29] == 255;
            prop_assert_eq!(back, OwnedMessage::Open(o));
        }
    }

    #[test]
    fn any_encoded_notification_and_route_refresh_decode_to_themselves(
        code in any::<u8>(), sub in any::<u8>(), data in prop::collection::vec(any::<u8>(), 0..300),
        afi in any::<u16>(), safi in any::<u8>(), st in any::<u8>(),
    ) {
        let ctx = SessionContext::default();
        for msg in [
            OwnedMessage::Notification(Notification::new(code, sub, data.clone())),
            OwnedMessage::RouteRefresh(RouteRefresh { family: Family::new(Afi(afi), Safi(safi)), subtype: st }),
            OwnedMessage::Keepalive,
        ] {
            let (_, back) = round_trip(&msg, &ctx).unwrap();
            prop_assert_eq!(back, msg);
        }
    }

    #[test]
    fn packed_updates_carry_every_prefix_exactly_once(
        ctx in ctx_strategy(),
        v4 in prop::collection::vec(v4_prefix(), 0..2000),
        v6 in prop::collection::vec(v6_prefix(), 0..500),
        max in 100usize..4096,
    ) {
        let packer = UpdatePacker::with_max_len(ctx, max);
        let attrs = {
            let mut a = Vec::new();
            for v in [
                AttributeValue::Origin(Origin::Igp),
                AttributeValue::AsPath(AsPath::sequence([65001, 65002])),
                AttributeValue::NextHop(Ipv4Addr::new(10, 0, 0, 1)),
            ] {
                PathAttribute::new(v).encode(&ctx, &mut a);
            }
            a
        };
        let ap4 = ctx.add_path.contains(Family::IPV4_UNICAST);
        let ap6 = ctx.add_path.contains(Family::IPV6_UNICAST);
        let n4: Vec<Nlri> = v4.iter().enumerate()
            .map(|(i, p)| Nlri { path_id: ap4.then_some(i as u32), prefix: *p }).collect();
        let n6: Vec<Nlri> = v6.iter().enumerate()
            .map(|(i, p)| Nlri { path_id: ap6.then_some(i as u32), prefix: *p }).collect();
        let mut out = Vec::new();
        packer.announce_ipv4(&attrs, n4.iter().copied(), &mut out).unwrap();
        let nh = MpNextHop::V6 { global: "fd00::1".parse().unwrap(), link_local: None };
        packer.announce_mp(Family::IPV6_UNICAST, &nh, &attrs[..attrs.len() - 7], n6.iter().copied(), &mut out).unwrap();
        packer.withdraw(Family::IPV4_UNICAST, n4.iter().copied(), &mut out);
        packer.withdraw(Family::IPV6_UNICAST, n6.iter().copied(), &mut out);
        let (mut ann, mut wd) = (Vec::new(), Vec::new());
        let mut rest = &out[..];
        while !rest.is_empty() {
            let (m, len) = Message::decode(rest, &ctx).unwrap();
            prop_assert!(len <= max);
            let Message::Update(u) = m else { panic!("not an UPDATE") };
            prop_assert_eq!(u.disposition(), Disposition::Normal);
            if let Some(mp) = u.mp_reach() {
                prop_assert_eq!(mp.next_hop(), Some(nh));
                prop_assert_eq!(u.attributes().next().unwrap().type_code, 14);
            }
            ann.extend(u.announced().map(|(_, n)| n));
            wd.extend(u.withdrawals().map(|(_, n)| n));
            rest = &rest[len..];
        }
        let all: Vec<Nlri> = n4.iter().chain(&n6).copied().collect();
        prop_assert_eq!(&ann, &all);
        prop_assert_eq!(&wd, &all);
    }

    #[test]
    fn arbitrary_bytes_never_panic(ctx in ctx_strategy(), body in prop::collection::vec(any::<u8>(), 0..600), ty in 0u8..7) {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&((body.len() + 19) as u16).to_be_bytes());
        m.push(ty);
        m.extend_from_slice(&body);
        exercise(&m, &ctx);
        exercise(&body, &ctx);
    }

    #[test]
    fn mutated_valid_updates_never_panic((ctx, u) in update_strategy(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut buf = Vec::new();
        if OwnedMessage::Update(u).encode(&ctx, &mut buf).is_ok() {
            for (i, b) in flips {
                let at = 19 + i.index(buf.len() - 19);
                buf[at] = b;
            }
            exercise(&buf, &ctx);
        }
    }
}

/// Decodes and walks everything a consumer could look at.
fn exercise(buf: &[u8], ctx: &SessionContext) {
    let Ok((m, _)) = Message::decode(buf, ctx) else {
        return;
    };
    if let Message::Update(u) = &m {
        let _ = u.announced().count() + u.withdrawals().count();
        let _ = (
            u.origin(),
            u.next_hop(),
            u.med(),
            u.local_pref(),
            u.aggregator(),
        );
        let _ = u.as_path().map(|p| (p.path_len(), p.to_owned()));
        let _ = u.as4_path().map(|p| p.to_owned());
        let _ = u.communities().count() + u.large_communities().count();
        let _ = u.extended_communities().count() + u.cluster_list().count();
        let _ = u.end_of_rib();
        for i in u.issues().iter() {
            let _ = (i.to_string(), i.notification(u.attributes_bytes()));
        }
    }
    let owned = m.to_owned();
    let mut out = Vec::new();
    let _ = owned.encode(ctx, &mut out);
}
