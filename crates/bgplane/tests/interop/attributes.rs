//! The attributes bgplane puts on the wire, read byte by byte by scripted peers: what
//! RFC 4271 §5 requires towards eBGP and iBGP peers, and the 4-octet AS transition of
//! RFC 6793 between a NEW (4-octet) and an OLD (2-octet) speaker.
//!
//! bgplane runs in namespace `a` (AS 65000, 10.90.0.1 / 10.91.0.1, fd90::1 / fd91::1),
//! scripted peers in `b` (10.90.0.2) and `c` (10.91.0.2).

use std::net::{IpAddr, Ipv6Addr};

use bgp_wire::Capability;

use crate::harness::daemon::routes;
use crate::harness::peer::{self, ty, wire, RawPeer};
use crate::harness::scripted::{bgplane_with, established_peer_with, secs};
use crate::harness::{timeouts, wait_for, Lab};

/// Attribute type codes.
mod code {
    pub(crate) const ORIGIN: u8 = 1;
    pub(crate) const AS_PATH: u8 = 2;
    pub(crate) const NEXT_HOP: u8 = 3;
    pub(crate) const LOCAL_PREF: u8 = 5;
    pub(crate) const COMMUNITIES: u8 = 8;
    pub(crate) const MP_REACH: u8 = 14;
    pub(crate) const AS4_PATH: u8 = 17;
    pub(crate) const LARGE_COMMUNITIES: u8 = 32;
}

/// The ASNs of an AS_PATH value of AS_SEQUENCE segments, with `width` octets per ASN.
fn asns(value: &[u8], width: usize) -> Vec<u32> {
    let mut out = Vec::new();
    let mut v = value;
    while v.len() >= 2 {
        let n = usize::from(v[1]);
        for i in 0..n {
            let a = &v[2 + i * width..2 + (i + 1) * width];
            out.push(a.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)));
        }
        v = &v[2 + n * width..];
    }
    out
}

/// Reads UPDATEs until one announces `prefix` (IPv4 NLRI) and returns it parsed.
fn update_for(p: &mut RawPeer, prefix: &str) -> wire::Parsed {
    let m = p.recv_until(&format!("an UPDATE for {prefix}"), timeouts::ROUTES, |m| {
        m.ty == ty::UPDATE
            && wire::parse_update(&m.bytes)
                .nlri
                .iter()
                .any(|n| n == prefix)
    });
    wire::parse_update(&m.bytes)
}

/// Reads UPDATEs until both an IPv4 UPDATE for `prefix` and an IPv6 MP_REACH_NLRI have
/// come (in any order); returns the former parsed and the latter's next hop.
fn v4_update_and_v6_next_hop(p: &mut RawPeer, prefix: &str) -> (wire::Parsed, Vec<u8>) {
    let (mut v4, mut nh) = (None, None);
    p.recv_until(
        &format!("UPDATEs for {prefix} and an IPv6 prefix"),
        timeouts::ROUTES,
        |m| {
            if m.ty == ty::UPDATE {
                let u = wire::parse_update(&m.bytes);
                if let Some(a) = u.attr(code::MP_REACH) {
                    if a.value.len() > 4 && a.value[..3] == [0, 2, 1] {
                        nh = Some(a.value[4..4 + usize::from(a.value[3])].to_vec());
                    }
                }
                if u.nlri.iter().any(|n| n == prefix) {
                    v4 = Some(u);
                }
            }
            v4.is_some() && nh.is_some()
        },
    );
    (v4.expect("IPv4 UPDATE"), nh.expect("IPv6 next hop"))
}

#[test]
fn updates_to_ebgp_and_ibgp_peers_carry_the_attributes_rfc_4271_requires() {
    let Some(lab) = Lab::new("attrs", &[]) else {
        return;
    };
    let (a, b, c) = (lab.netns("a"), lab.netns("b"), lab.netns("c"));
    let (lb, lc) = (lab.link(&a, &b), lab.link(&a, &c));
    let bg = bgplane_with(
        &lab,
        &a,
        &[(&lb, 65001), (&lc, 65000)],
        true,
        9,
        vec![routes::B4, routes::B6],
    );
    let mut ebgp = established_peer_with(&lb, 65001, "eBGP peer", peer::capabilities(65001));
    let mut ibgp = established_peer_with(&lc, 65000, "iBGP peer", peer::capabilities(65000));
    bg.wait_established(IpAddr::V4(lb.b4));
    bg.wait_established(IpAddr::V4(lc.b4));

    let (e, e_nh6) = v4_update_and_v6_next_hop(&mut ebgp, routes::B4.prefix);
    let (i, i_nh6) = v4_update_and_v6_next_hop(&mut ibgp, routes::B4.prefix);
    for (who, u) in [("eBGP", &e), ("iBGP", &i)] {
        let origin = u.attr(code::ORIGIN).expect("ORIGIN (well-known mandatory)");
        assert_eq!(
            (origin.flags & 0xc0, &origin.value[..]),
            (0x40, &[0u8][..]),
            "{who}"
        );
        assert!(
            u.attr(code::AS_PATH).is_some(),
            "{who}: AS_PATH is mandatory"
        );
        let comm = u.attr(code::COMMUNITIES).expect("COMMUNITIES");
        assert_eq!(
            comm.flags & 0xc0,
            0xc0,
            "{who}: COMMUNITIES is optional transitive"
        );
        assert_eq!(comm.value, [0xfd, 0xe8, 0, 7], "{who}: 65000:7");
        let large = u.attr(code::LARGE_COMMUNITIES).expect("LARGE_COMMUNITIES");
        assert_eq!(
            large.flags & 0xc0,
            0xc0,
            "{who}: LARGE_COMMUNITY is optional transitive"
        );
        assert_eq!(
            large.value,
            [0, 0, 0xfd, 0xe8, 0, 0, 0, 7, 0, 0, 0, 7],
            "{who}: 65000:7:7"
        );
    }
    // eBGP: our AS prepended, our address as next hop, no LOCAL_PREF (§5.1.5).
    let path = e.attr(code::AS_PATH).expect("AS_PATH");
    assert_eq!(asns(&path.value, 4), [65000], "eBGP AS_PATH");
    let nh = e.attr(code::NEXT_HOP).expect("NEXT_HOP");
    assert_eq!(
        nh.value,
        lb.a4.octets(),
        "eBGP NEXT_HOP is bgplane's address"
    );
    assert!(
        e.attr(code::LOCAL_PREF).is_none(),
        "LOCAL_PREF must not go to an eBGP peer"
    );
    // iBGP: empty AS_PATH for our own routes, LOCAL_PREF present, our address as next hop.
    let path = i.attr(code::AS_PATH).expect("AS_PATH");
    assert!(
        asns(&path.value, 4).is_empty(),
        "iBGP AS_PATH of a local route: {path:?}"
    );
    let lp = i
        .attr(code::LOCAL_PREF)
        .expect("LOCAL_PREF must go to an iBGP peer (RFC 4271 §5.1.5)");
    assert_eq!(lp.value.len(), 4, "LOCAL_PREF length");
    let nh = i.attr(code::NEXT_HOP).expect("NEXT_HOP");
    assert_eq!(nh.value, lc.a4.octets(), "iBGP NEXT_HOP of a local route");

    // IPv6 over the IPv4 session: MP_REACH_NLRI with bgplane's global address first
    // (and its link-local address second when 32 octets long, RFC 2545 §3).
    for (who, nh, global) in [("eBGP", e_nh6, lb.a6), ("iBGP", i_nh6, lc.a6)] {
        assert!(
            nh.len() == 16 || nh.len() == 32,
            "{who}: next hop length {}",
            nh.len()
        );
        let g: [u8; 16] = nh[..16].try_into().expect("16 octets");
        assert_eq!(Ipv6Addr::from(g), global, "{who}: IPv6 next hop");
        if nh.len() == 32 {
            let ll: [u8; 16] = nh[16..].try_into().expect("16 octets");
            assert!(
                Ipv6Addr::from(ll).segments()[0] == 0xfe80,
                "{who}: the second next hop must be link-local: {}",
                Ipv6Addr::from(ll)
            );
        }
    }
}

#[test]
fn four_octet_as_paths_cross_between_new_and_old_speakers() {
    let Some(lab) = Lab::new("as4", &[]) else {
        return;
    };
    let (a, b, c) = (lab.netns("a"), lab.netns("b"), lab.netns("c"));
    let (lb, lc) = (lab.link(&a, &b), lab.link(&a, &c));
    const NEW_AS: u32 = 4_200_000_001;
    const OLD_AS: u32 = 65002;
    let bg = bgplane_with(&lab, &a, &[(&lb, NEW_AS), (&lc, OLD_AS)], true, 9, vec![]);
    let mut new = established_peer_with(&lb, NEW_AS, "NEW speaker", peer::capabilities(NEW_AS));
    // The OLD speaker announces no 4-octet AS capability.
    let old_caps: Vec<Capability> = peer::capabilities(OLD_AS)
        .into_iter()
        .filter(|c| !matches!(c, Capability::FourOctetAs(_)))
        .collect();
    let mut old = established_peer_with(&lc, OLD_AS, "OLD speaker", old_caps);
    bg.wait_established(IpAddr::V4(lb.b4));
    bg.wait_established(IpAddr::V4(lc.b4));

    // NEW → bgplane → OLD: AS_PATH in 2 octets with AS_TRANS, AS4_PATH with the real
    // numbers (RFC 6793 §4.2.2); merged as §4.2.3 says they give 65000 4200000001.
    new.send(&wire::update(
        &[],
        &[
            wire::origin(0),
            wire::as_path(&[NEW_AS]),
            wire::next_hop(lb.b4),
        ],
        &wire::nlri4("10.7.1.0/24"),
    ));
    let u = update_for(&mut old, "10.7.1.0/24");
    let path2 = asns(&u.attr(code::AS_PATH).expect("AS_PATH").value, 2);
    assert_eq!(path2, [65000, 23456], "2-octet AS_PATH with AS_TRANS");
    let as4 = u
        .attr(code::AS4_PATH)
        .expect("AS4_PATH must accompany AS_TRANS (RFC 6793 §4.2.2)");
    assert_eq!(as4.flags & 0xc0, 0xc0, "AS4_PATH is optional transitive");
    let path4 = asns(&as4.value, 4);
    assert!(
        path4.len() <= path2.len(),
        "AS4_PATH longer than AS_PATH: {path4:?}"
    );
    let mut merged = path2[..path2.len() - path4.len()].to_vec();
    merged.extend_from_slice(&path4);
    assert_eq!(
        merged,
        [65000, NEW_AS],
        "AS_PATH {path2:?} + AS4_PATH {path4:?}"
    );

    // OLD → bgplane → NEW: bgplane rebuilds the 4-octet path from AS_PATH and AS4_PATH.
    let mut as_path2 = vec![2u8, 2];
    for asn in [OLD_AS as u16, 23456] {
        as_path2.extend_from_slice(&asn.to_be_bytes());
    }
    let mut as4_path = vec![2u8, 1];
    as4_path.extend_from_slice(&4_200_000_009u32.to_be_bytes());
    old.send(&wire::update(
        &[],
        &[
            wire::origin(0),
            wire::attr(wire::flags::TRANSITIVE, code::AS_PATH, &as_path2),
            wire::next_hop(lc.b4),
            wire::attr(
                wire::flags::OPTIONAL | wire::flags::TRANSITIVE,
                code::AS4_PATH,
                &as4_path,
            ),
        ],
        &wire::nlri4("10.7.2.0/24"),
    ));
    let from = IpAddr::V4(lc.b4);
    wait_for(
        "bgplane to rebuild the 4-octet AS path",
        timeouts::ROUTES,
        || {
            let p = bg
                .path_from("10.7.2.0/24", from)?
                .ok_or_else(|| "no path".to_string())?;
            if p["as_path"] == "65002 4200000009" {
                Ok(())
            } else {
                Err(format!("as_path {}", p["as_path"]))
            }
        },
    );
    let u = update_for(&mut new, "10.7.2.0/24");
    let path = asns(&u.attr(code::AS_PATH).expect("AS_PATH").value, 4);
    assert_eq!(
        path,
        [65000, OLD_AS, 4_200_000_009],
        "4-octet AS_PATH to the NEW speaker"
    );
    assert!(
        u.attr(code::AS4_PATH).is_none(),
        "no AS4_PATH between NEW speakers (RFC 6793 §4.1)"
    );
    new.stays_up(secs(1)).unwrap_or_else(|e| panic!("{e}"));
    old.stays_up(secs(1)).unwrap_or_else(|e| panic!("{e}"));
}
