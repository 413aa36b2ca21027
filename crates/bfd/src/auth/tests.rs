use super::*;
use crate::packet::{ControlPacket, SessionState};

fn packet(detect_mult: u8) -> [u8; LEN] {
    ControlPacket {
        diag: crate::Diag::NONE,
        state: SessionState::Up,
        poll: false,
        final_: false,
        cpi: false,
        demand: false,
        detect_mult,
        my_disc: 7,
        your_disc: 9,
        desired_min_tx: 300_000,
        required_min_rx: 300_000,
        required_min_echo_rx: 0,
    }
    .encode()
}

const ALL: [AuthType; 5] = [
    AuthType::SimplePassword,
    AuthType::KeyedMd5,
    AuthType::MeticulousKeyedMd5,
    AuthType::KeyedSha1,
    AuthType::MeticulousKeyedSha1,
];

#[test]
fn every_type_signs_packets_that_the_same_key_verifies_and_decode_sees_the_a_bit() {
    let now = Instant::now();
    for kind in ALL {
        let key = AuthKey::new(kind, 5, b"s3cret").unwrap();
        let (mut tx, mut rx) = (AuthState::new(), AuthState::new());
        for _ in 0..5 {
            let signed = sign(&key, &mut tx, &packet(3));
            assert_eq!(usize::from(signed[3]), signed.len(), "{kind:?}");
            assert_eq!(
                signed.len(),
                LEN + [9, 24, 24, 28, 28][usize::from(kind.code() - 1)]
            );
            let (p, auth) = ControlPacket::decode_authenticated(&signed).unwrap();
            assert!(auth && p.my_disc == 7, "{kind:?}");
            assert_eq!(
                verify(&key, &mut rx, &signed, now, None),
                Ok(()),
                "{kind:?}"
            );
        }
    }
}

#[test]
fn a_changed_octet_a_wrong_key_or_a_wrong_key_id_is_refused() {
    let now = Instant::now();
    for kind in ALL {
        let key = AuthKey::new(kind, 5, b"s3cret").unwrap();
        let signed = sign(&key, &mut AuthState::new(), &packet(3));
        // A digest covers the whole packet (a simple password covers nothing).
        let mut bad = signed.clone();
        bad[12] ^= 1; // Desired Min TX
        if kind != AuthType::SimplePassword {
            assert_eq!(
                verify(&key, &mut AuthState::new(), &bad, now, None),
                Err(AuthError::Mismatch),
                "{kind:?}"
            );
        }
        let other = AuthKey::new(kind, 5, b"other").unwrap();
        let e = verify(&other, &mut AuthState::new(), &signed, now, None).unwrap_err();
        assert!(
            matches!(e, AuthError::Mismatch | AuthError::Len { .. }),
            "{kind:?}: {e}"
        );
        let id = AuthKey::new(kind, 6, b"s3cret").unwrap();
        assert_eq!(
            verify(&id, &mut AuthState::new(), &signed, now, None),
            Err(AuthError::KeyId { got: 5, want: 6 })
        );
    }
    let md5 = AuthKey::new(AuthType::KeyedMd5, 5, b"s3cret").unwrap();
    let sha = AuthKey::new(AuthType::KeyedSha1, 5, b"s3cret").unwrap();
    let signed = sign(&md5, &mut AuthState::new(), &packet(3));
    assert_eq!(
        verify(&sha, &mut AuthState::new(), &signed, now, None),
        Err(AuthError::Type { got: 2, want: 4 })
    );
    // A packet without the section, for a session that requires one.
    assert_eq!(
        verify(&md5, &mut AuthState::new(), &packet(3), now, None),
        Err(AuthError::Missing)
    );
}

#[test]
fn a_meticulous_session_refuses_a_replayed_packet_and_a_keyed_one_takes_it() {
    let now = Instant::now();
    for (kind, replay_ok) in [
        (AuthType::KeyedSha1, true),
        (AuthType::MeticulousKeyedSha1, false),
        (AuthType::KeyedMd5, true),
        (AuthType::MeticulousKeyedMd5, false),
    ] {
        let key = AuthKey::new(kind, 1, b"k").unwrap();
        let (mut tx, mut rx) = (AuthState::new(), AuthState::new());
        let first = sign(&key, &mut tx, &packet(3));
        assert_eq!(verify(&key, &mut rx, &first, now, None), Ok(()));
        assert_eq!(
            verify(&key, &mut rx, &first, now, None).is_ok(),
            replay_ok,
            "{kind:?}"
        );
    }
}

#[test]
fn a_sequence_number_beyond_three_detect_mults_is_refused_until_the_session_was_silent() {
    let key = AuthKey::new(AuthType::MeticulousKeyedSha1, 1, b"k").unwrap();
    let (mut tx, mut rx) = (AuthState::new(), AuthState::new());
    let t0 = Instant::now();
    verify(&key, &mut rx, &sign(&key, &mut tx, &packet(3)), t0, None).unwrap();
    // Nine lost packets are within the window (3 x Detect Mult 3); ten are not.
    for _ in 0..8 {
        sign(&key, &mut tx, &packet(3));
    }
    let ninth = sign(&key, &mut tx, &packet(3));
    assert_eq!(verify(&key, &mut rx, &ninth, t0, None), Ok(()));
    for _ in 0..9 {
        sign(&key, &mut tx, &packet(3));
    }
    let tenth = sign(&key, &mut tx, &packet(3));
    assert!(matches!(
        verify(&key, &mut rx, &tenth, t0, None),
        Err(AuthError::Sequence { .. })
    ));
    // After twice the Detection Time without a packet, any number is taken again.
    let dt = Duration::from_millis(900);
    let later = t0 + Duration::from_millis(1900);
    assert_eq!(verify(&key, &mut rx, &tenth, later, Some(dt)), Ok(()));
}

#[test]
fn the_sequence_window_wraps_around_zero() {
    let key = AuthKey::new(AuthType::KeyedMd5, 1, b"k").unwrap();
    let mut tx = AuthState::new();
    tx.xmit_seq = u32::MAX - 1;
    let mut rx = AuthState::new();
    let now = Instant::now();
    for _ in 0..4 {
        verify(&key, &mut rx, &sign(&key, &mut tx, &packet(3)), now, None).unwrap();
    }
    assert_eq!(rx.rcv_seq, 2);
}

#[test]
fn keys_of_the_wrong_length_are_refused_and_never_printed() {
    assert!(AuthKey::new(AuthType::KeyedMd5, 1, b"").is_err());
    assert!(AuthKey::new(AuthType::KeyedMd5, 1, &[1; 17]).is_err());
    assert!(AuthKey::new(AuthType::KeyedSha1, 1, &[1; 20]).is_ok());
    assert!(AuthKey::new(AuthType::SimplePassword, 1, &[1; 17]).is_err());
    let k = AuthKey::new(AuthType::KeyedSha1, 1, b"topsecret").unwrap();
    assert!(!format!("{k:?}").contains("topsecret"));
}

proptest::proptest! {
    /// Any bytes: verification answers without panicking.
    #[test]
    fn verify_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
        let now = Instant::now();
        for kind in ALL {
            let key = AuthKey::new(kind, 1, b"k").unwrap();
            let _ = verify(&key, &mut AuthState::new(), &data, now, Some(Duration::from_secs(1)));
        }
    }
}
