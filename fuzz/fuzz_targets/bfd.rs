#![no_main]
//! BFD Control packet decoding (RFC 5880 §6.8.6 checks), the encode round trip, and a
//! session fed whatever decodes.
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = bfd::ControlPacket::decode(data) {
        assert_eq!(bfd::ControlPacket::decode(&p.encode()), Ok(p));
        let now = Instant::now();
        let mut s = bfd::Session::new(bfd::SessionConfig::default(), 1, now);
        let _ = s.receive(&p, now);
        let _ = s.tick(now + Duration::from_secs(5));
        let _ = (s.detection_time(), s.tx_interval(), s.next_deadline());
    }
});
