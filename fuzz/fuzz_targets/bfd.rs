#![no_main]
//! BFD Control packet decoding (RFC 5880 §6.8.6 checks), the encode round trip, a
//! session fed whatever decodes, and the Authentication Section's check (§6.7) of every
//! type against the bytes, then of the bytes signed.
use std::time::{Duration, Instant};

use bfd::auth::{self, AuthKey, AuthState, AuthType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    if let Ok(p) = bfd::ControlPacket::decode(data) {
        assert_eq!(bfd::ControlPacket::decode(&p.encode()), Ok(p));
        let mut s = bfd::Session::new(bfd::SessionConfig::default(), 1, now);
        let _ = s.receive(&p, now);
        let _ = s.tick(now + Duration::from_secs(5));
        let _ = (s.detection_time(), s.tx_interval(), s.next_deadline());
    }
    for kind in [
        AuthType::SimplePassword,
        AuthType::KeyedMd5,
        AuthType::MeticulousKeyedMd5,
        AuthType::KeyedSha1,
        AuthType::MeticulousKeyedSha1,
    ] {
        let key = AuthKey::new(kind, 1, b"key").unwrap();
        let _ = auth::verify(&key, &mut AuthState::new(), data, now, Some(Duration::from_secs(1)));
        if let Ok((p, _)) = bfd::ControlPacket::decode_authenticated(data) {
            let signed = auth::sign(&key, &mut AuthState::new(), &p.encode());
            assert_eq!(auth::verify(&key, &mut AuthState::new(), &signed, now, None), Ok(()));
        }
    }
});
