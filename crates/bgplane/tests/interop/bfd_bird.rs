//! BFD (RFC 5880/5881) against BIRD 2's `protocol bfd`, the BGP session's BFD asked for
//! with `bfd on`, without and with authentication (RFC 5880 §6.7).
//!
//! Topology: bgplane in `a` (AS 65000, 10.90.0.1) and BIRD in `b` (AS 65001, 10.90.0.2) on
//! one link; BFD at 100 ms, multiplier 3, on both ends; BGP hold time 90 s.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::bfd::{down_and_reset, our_bfd, state_is, wait_timers};
use crate::harness::bgplane::Bgplane;
use crate::harness::bird::Bird;
use crate::harness::{timeouts, wait_for, Lab, Need};

/// BIRD's configuration: BGP with `bfd on`, and BFD on the link with `auth` lines.
fn bird_conf(ours: IpAddr, theirs: IpAddr, auth: &str) -> String {
    format!(
        "router id 10.0.0.2;\nlog stderr all;\nprotocol device {{ }}\n\
         protocol bfd {{\n  interface \"*\" {{\n    interval 100 ms;\n    multiplier 3;\n{auth}  }};\n}}\n\
         protocol static {{ ipv4; route 10.3.1.0/24 blackhole; }}\n\
         protocol bgp bgplane {{\n  local {theirs} as 65001;\n  neighbor {ours} as 65000;\n  \
         hold time 90;\n  connect retry time 1;\n  error wait time 1, 5;\n  bfd on;\n  \
         ipv4 {{ import all; export where source = RTS_STATIC; }};\n}}\n"
    )
}

/// BIRD's BFD session with `peer`: its state word in `show bfd sessions`.
fn bird_bfd_state(bird: &Bird, peer: IpAddr) -> Result<String, String> {
    let out = bird.birdc(&["show", "bfd", "sessions"])?;
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(&peer.to_string()))
        .and_then(|l| l.split_whitespace().nth(2))
        .map(str::to_string)
        .ok_or_else(|| format!("BIRD has no BFD session with {peer}: {out}"))
}

/// Runs the scenario: both BFD ends come up; BIRD frozen, bgplane's BFD takes BGP down;
/// BIRD thawed, it comes back; with `restart`, BIRD restarted (new sequence numbers), it
/// comes back too.
fn run(test: &str, bird_auth: &str, our_bfd_yaml: &str, restart: bool) {
    let Some(lab) = Lab::new(test, &[Need::Bird]) else {
        return;
    };
    let a = lab.netns("a");
    let b = lab.netns("b");
    let link = lab.link_v4_only(&a, &b);
    let (ours, theirs) = (IpAddr::V4(link.a4), IpAddr::V4(link.b4));
    let mut bird = Bird::start_conf(&lab, &b, &bird_conf(ours, theirs, bird_auth));
    let yaml = format!(
        "router:\n  asn: 65000\n  router-id: 10.0.0.1\n  listen: [0.0.0.0]\n\
         neighbors:\n  - {{ address: {theirs}, remote-as: 65001, hold-time: 90, connect-retry: 1, \
         bfd: {our_bfd_yaml} }}\n"
    );
    let bgplane = Bgplane::start_yaml(&lab, &a, "bgplane", &yaml, false);
    bgplane.wait_established(theirs);
    wait_for("both BFD sessions to be up", timeouts::SESSION, || {
        state_is(&our_bfd(&bgplane, theirs)?, "state", "up")?;
        match bird_bfd_state(&bird, ours)?.as_str() {
            "Up" => Ok(()),
            s => Err(format!("BIRD's BFD session is {s}")),
        }
    });
    wait_timers(&bgplane, theirs, 100);
    // Up for a second at 100 ms: some 10 authenticated packets each way were accepted.
    std::thread::sleep(Duration::from_secs(1));
    let s = our_bfd(&bgplane, theirs).unwrap();
    state_is(&s, "state", "up").unwrap();
    assert_eq!(s["counters"]["down"], 0, "no flap: {s}");

    bird.signal("STOP");
    down_and_reset(
        &bgplane,
        theirs,
        Instant::now(),
        test,
        Duration::from_millis(1500),
    );
    bird.signal("CONT");
    wait_for("BFD up again", timeouts::SESSION, || {
        state_is(&our_bfd(&bgplane, theirs)?, "state", "up")
    });
    bgplane.wait_established(theirs);
    if restart {
        drop(bird);
        let bird = Bird::start_conf(&lab, &b, &bird_conf(ours, theirs, bird_auth));
        wait_for("BFD up with the restarted BIRD", timeouts::SESSION, || {
            state_is(&our_bfd(&bgplane, theirs)?, "state", "up")?;
            match bird_bfd_state(&bird, ours)?.as_str() {
                "Up" => Ok(()),
                s => Err(format!("BIRD's BFD session is {s}")),
            }
        });
        let s = our_bfd(&bgplane, theirs).unwrap();
        eprintln!("{test}: up again after BIRD's restart: {}", s["counters"]);
    }
}

#[test]
fn bfd_comes_up_with_bird_and_its_failure_resets_bgp() {
    run(
        "bfd-bird",
        "",
        "{ transmit-interval: 100, receive-interval: 100 }",
        false,
    );
}

#[test]
fn bfd_with_meticulous_keyed_sha1_comes_up_with_bird() {
    run(
        "bfd-bird-sha1",
        "    authentication meticulous keyed sha1;\n    password \"s3cret\" { id 7; };\n",
        "{ transmit-interval: 100, receive-interval: 100, \
         authentication: { type: meticulous-keyed-sha1, key-id: 7, password: s3cret } }",
        true,
    );
}

#[test]
fn bfd_with_keyed_md5_and_a_simple_password_come_up_with_bird() {
    run(
        "bfd-bird-md5",
        "    authentication keyed md5;\n    password \"s3cret\" { id 2; };\n",
        "{ transmit-interval: 100, receive-interval: 100, \
         authentication: { type: keyed-md5, key-id: 2, password: s3cret } }",
        false,
    );
    run(
        "bfd-bird-simple",
        "    authentication simple;\n    password \"s3cret\" { id 3; };\n",
        "{ transmit-interval: 100, receive-interval: 100, \
         authentication: { type: simple-password, key-id: 3, password: s3cret } }",
        false,
    );
}

#[test]
fn bfd_with_the_wrong_key_never_comes_up_with_bird() {
    let Some(lab) = Lab::new("bfd-bird-wrong", &[Need::Bird]) else {
        return;
    };
    let a = lab.netns("a");
    let b = lab.netns("b");
    let link = lab.link_v4_only(&a, &b);
    let (ours, theirs) = (IpAddr::V4(link.a4), IpAddr::V4(link.b4));
    let auth = "    authentication meticulous keyed sha1;\n    password \"s3cret\" { id 7; };\n";
    let bird = Bird::start_conf(&lab, &b, &bird_conf(ours, theirs, auth));
    let yaml = format!(
        "router:\n  asn: 65000\n  router-id: 10.0.0.1\n  listen: [0.0.0.0]\n\
         neighbors:\n  - {{ address: {theirs}, remote-as: 65001, hold-time: 90, connect-retry: 1, \
         bfd: {{ authentication: {{ type: meticulous-keyed-sha1, key-id: 7, password: wrong }} }} }}\n"
    );
    let bgplane = Bgplane::start_yaml(&lab, &a, "bgplane", &yaml, false);
    bgplane.wait_established(theirs);
    // Both ends send for 3 s (at the 1 s rate of a session not up): none is accepted.
    std::thread::sleep(Duration::from_secs(3));
    let s = our_bfd(&bgplane, theirs).unwrap();
    state_is(&s, "state", "down").unwrap();
    assert_eq!(s["counters"]["received"], 0, "every packet refused: {s}");
    assert_ne!(bird_bfd_state(&bird, ours).unwrap(), "Up");
}
