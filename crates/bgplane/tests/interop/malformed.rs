//! Malformed and unknown path attributes from a scripted peer (RFC 7606, RFC 4271 §5 and
//! §9.1.2.2): treat-as-withdraw keeps the session and withdraws the route everywhere,
//! errors that hide the NLRI reset the session, unknown optional transitive attributes
//! travel on with the Partial bit.
//!
//! bgplane runs in namespace `a` (AS 65000, 10.90.0.1 / 10.91.0.1), the sending peer in
//! `b` (AS 65001, 10.90.0.2) and, where a receiver is needed, another one in `c`
//! (AS 65002, 10.91.0.2).

use std::net::IpAddr;

use crate::harness::peer::{ty, wire, RecvError};
use crate::harness::scripted::{bgplane, established_peer, secs, valid_update, PEER_AS};
use crate::harness::{holds_for, timeouts, wait_for, Lab};

#[test]
fn malformed_origin_is_treated_as_withdraw_and_the_session_stays_up() {
    let Some(lab) = Lab::new("origin", &[]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link(&a, &b);
    let bg = bgplane(&lab, &a, &[(&link, PEER_AS)], true, 9);
    let mut p = established_peer(&link, PEER_AS, "peer");
    let from = IpAddr::V4(link.b4);
    bg.wait_established(from);

    p.send(&valid_update(&link, "10.5.1.0/24"));
    wait_for("bgplane to accept 10.5.1.0/24", timeouts::ROUTES, || {
        bg.path_from("10.5.1.0/24", from)?
            .map(|_| ())
            .ok_or_else(|| "no path".into())
    });
    // The same prefix with ORIGIN 5 (only 0..=2 exist): RFC 7606 §7.1, treat-as-withdraw.
    p.send(&wire::update(
        &[],
        &[
            wire::origin(5),
            wire::as_path(&[PEER_AS]),
            wire::next_hop(link.b4),
        ],
        &wire::nlri4("10.5.1.0/24"),
    ));
    wait_for(
        "bgplane to withdraw 10.5.1.0/24 after the malformed ORIGIN",
        timeouts::ROUTES,
        || bg.lacks_route("10.5.1.0/24", from),
    );
    p.stays_up(secs(1))
        .unwrap_or_else(|e| panic!("the session must stay up (treat-as-withdraw): {e}"));
    bg.established(from).expect("session still Established");
    let n = bg.neighbor(from).expect("neighbor");
    assert!(
        n["counters"]["malformed_updates"].as_u64() >= Some(1),
        "the malformed UPDATE is counted: {}",
        n["counters"]
    );
    // The session still works.
    p.send(&valid_update(&link, "10.5.2.0/24"));
    wait_for("bgplane to accept 10.5.2.0/24", timeouts::ROUTES, || {
        bg.path_from("10.5.2.0/24", from)?
            .map(|_| ())
            .ok_or_else(|| "no path".into())
    });
}

#[test]
fn bad_mp_reach_next_hop_length_resets_the_session_with_notification_3_9() {
    let Some(lab) = Lab::new("mpnh", &[]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let link = lab.link(&a, &b);
    let bg = bgplane(&lab, &a, &[(&link, PEER_AS)], true, 9);
    let mut p = established_peer(&link, PEER_AS, "peer");
    let from = IpAddr::V4(link.b4);
    bg.wait_established(from);
    // IPv6 unicast with a 5-octet next hop (16 or 32 expected): the NLRI that follows
    // cannot be located, so RFC 7606 §7.11 demands a session reset (or AFI/SAFI disable).
    p.send(&wire::update(
        &[],
        &[
            wire::origin(0),
            wire::as_path(&[PEER_AS]),
            wire::mp_reach_v6(&[0xfd, 0x90, 0, 0, 2], &wire::nlri6("fd05:1::/48")),
        ],
        &[],
    ));
    let n = p.recv_notification(secs(5));
    assert_eq!(
        (n.code, n.subcode),
        (3, 9),
        "UPDATE Message Error / Optional Attribute Error expected, got {n:?}"
    );
    assert_eq!(
        p.recv(secs(3)).err(),
        Some(RecvError::Closed),
        "connection closed"
    );
    wait_for(
        "bgplane to record the reset",
        timeouts::ROUTES,
        || match bg.last_error(from)? {
            Some(e) if e.contains("sent") && e.contains("3/9") => Ok(()),
            other => Err(format!("last_error {other:?}")),
        },
    );
    assert!(bg.lacks_route("fd05:1::/48", from).is_ok());
}

#[test]
fn unknown_optional_transitive_attribute_is_passed_on_with_the_partial_bit() {
    let Some(lab) = Lab::new("trans", &[]) else {
        return;
    };
    let (a, b, c) = (lab.netns("a"), lab.netns("b"), lab.netns("c"));
    let (lb, lc) = (lab.link(&a, &b), lab.link(&a, &c));
    let bg = bgplane(&lab, &a, &[(&lb, PEER_AS), (&lc, 65002)], true, 9);
    let sender = established_peer(&lb, PEER_AS, "sender");
    let mut receiver = established_peer(&lc, 65002, "receiver");
    bg.wait_established(IpAddr::V4(lb.b4));
    bg.wait_established(IpAddr::V4(lc.b4));

    let transitive = wire::attr(
        wire::flags::OPTIONAL | wire::flags::TRANSITIVE,
        0xee,
        &[1, 2, 3, 4, 5],
    );
    let non_transitive = wire::attr(wire::flags::OPTIONAL, 0xef, &[9, 9]);
    sender.send(&wire::update(
        &[],
        &[
            wire::origin(0),
            wire::as_path(&[PEER_AS]),
            wire::next_hop(lb.b4),
            transitive,
            non_transitive,
        ],
        &wire::nlri4("10.5.3.0/24"),
    ));
    let m = receiver.recv_until("the UPDATE for 10.5.3.0/24", timeouts::ROUTES, |m| {
        m.ty == ty::UPDATE
            && wire::parse_update(&m.bytes)
                .nlri
                .iter()
                .any(|p| p == "10.5.3.0/24")
    });
    let update = wire::parse_update(&m.bytes);
    let attrs = &update.attrs;
    let unknown = update
        .attr(0xee)
        .unwrap_or_else(|| panic!("the optional transitive attribute 238 was dropped: {attrs:?}"));
    let want = wire::flags::OPTIONAL | wire::flags::TRANSITIVE | wire::flags::PARTIAL;
    assert_eq!(
        unknown.flags & want,
        want,
        "attribute 238 must keep Optional+Transitive and get Partial (RFC 4271 §9.1.2.2 / \
         §5): flags {:#04x}",
        unknown.flags
    );
    assert_eq!(unknown.value, [1, 2, 3, 4, 5], "value passed on unchanged");
    assert!(
        attrs.iter().all(|a| a.code != 0xef),
        "the optional non-transitive attribute 239 must not be passed on: {attrs:?}"
    );
    let as_path = update.attr(2).expect("AS_PATH");
    assert_eq!(
        as_path.value,
        [2, 2, 0, 0, 0xfd, 0xe8, 0, 0, 0xfd, 0xe9],
        "AS_PATH 65000 65001"
    );
    holds_for("both sessions", secs(1), || {
        bg.established(IpAddr::V4(lb.b4))?;
        bg.established(IpAddr::V4(lc.b4))
    });
}

#[test]
fn treat_as_withdraw_errors_keep_the_session_and_withdraw_the_route_downstream() {
    let Some(lab) = Lab::new("taw", &[]) else {
        return;
    };
    let (a, b, c) = (lab.netns("a"), lab.netns("b"), lab.netns("c"));
    let (lb, lc) = (lab.link(&a, &b), lab.link(&a, &c));
    let bg = bgplane(&lab, &a, &[(&lb, PEER_AS), (&lc, 65002)], true, 9);
    let mut sender = established_peer(&lb, PEER_AS, "sender");
    let mut receiver = established_peer(&lc, 65002, "receiver");
    let from = IpAddr::V4(lb.b4);
    bg.wait_established(from);
    bg.wait_established(IpAddr::V4(lc.b4));

    let (t, o) = (wire::flags::TRANSITIVE, wire::flags::OPTIONAL);
    let path = wire::as_path(&[PEER_AS]);
    let nh = wire::next_hop(lb.b4);
    // (what, prefix, the malformed UPDATE's attributes); RFC 7606 sections.
    let cases: [(&str, &str, Vec<Vec<u8>>); 5] = [
        (
            "ORIGIN 5 (§7.1)",
            "10.6.1.0/24",
            vec![wire::origin(5), path.clone(), nh.clone()],
        ),
        (
            "ORIGIN flagged optional (§3 c)",
            "10.6.2.0/24",
            vec![wire::attr(o | t, 1, &[0]), path.clone(), nh.clone()],
        ),
        (
            "AS_PATH segment of 3 ASNs holding 2 (§7.2)",
            "10.6.3.0/24",
            vec![
                wire::origin(0),
                wire::attr(t, 2, &[2, 3, 0, 0, 0xfd, 0xe9, 0, 0, 0xfd, 0xea]),
                nh.clone(),
            ],
        ),
        (
            "NEXT_HOP missing (§3 d)",
            "10.6.4.0/24",
            vec![wire::origin(0), path.clone()],
        ),
        (
            "NEXT_HOP of 5 octets (§7.3)",
            "10.6.5.0/24",
            vec![
                wire::origin(0),
                path.clone(),
                wire::attr(t, 3, &[10, 90, 0, 2, 0]),
            ],
        ),
    ];
    for (what, prefix, attrs) in &cases {
        sender.send(&valid_update(&lb, prefix));
        receiver.recv_until(&format!("{prefix} announced"), timeouts::ROUTES, |m| {
            m.ty == ty::UPDATE
                && wire::parse_update(&m.bytes)
                    .nlri
                    .iter()
                    .any(|p| p == prefix)
        });
        sender.send(&wire::update(&[], attrs, &wire::nlri4(prefix)));
        receiver.recv_until(
            &format!("{prefix} withdrawn after {what}"),
            timeouts::ROUTES,
            |m| {
                m.ty == ty::UPDATE
                    && wire::parse_update(&m.bytes)
                        .withdrawn
                        .iter()
                        .any(|p| p == prefix)
            },
        );
        wait_for(
            &format!("bgplane to drop {prefix} after {what}"),
            timeouts::ROUTES,
            || bg.lacks_route(prefix, from),
        );
        sender
            .stays_up(std::time::Duration::from_millis(300))
            .unwrap_or_else(|e| panic!("after {what}: {e}"));
    }
    bg.established(from).expect("the sender's session is up");
    let n = bg.neighbor(from).expect("neighbor");
    assert!(
        n["counters"]["malformed_updates"].as_u64() >= Some(cases.len() as u64),
        "each malformed UPDATE is counted: {}",
        n["counters"]
    );
}
