#![no_main]
//! NOTIFICATION decoding, shutdown communication and hard reset interpretation.
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let msg = common::with_header(3, data);
    if let Ok(n) = bgp_wire::Notification::decode(&msg) {
        let _ = (n.to_string(), n.shutdown_communication(), n.hard_reset_reason());
        let mut out = Vec::new();
        n.encode(&mut out);
    }
});
