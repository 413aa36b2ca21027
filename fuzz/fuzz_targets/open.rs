#![no_main]
//! OPEN decoding, and re-encoding of whatever decodes.
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let msg = common::with_header(1, data);
    if let Ok(open) = bgp_wire::Open::decode(&msg) {
        let _ = open.asn();
        let _ = open.capabilities().count();
        let mut out = Vec::new();
        open.encode(&mut out);
        assert_eq!(bgp_wire::Open::decode(&out).as_ref(), Ok(&open));
    }
});
