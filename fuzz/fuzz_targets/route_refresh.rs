#![no_main]
//! ROUTE-REFRESH decoding (RFC 2918, RFC 7313 subtypes).
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let msg = common::with_header(5, data);
    match bgp_wire::RouteRefresh::decode(&msg) {
        Ok(rr) => {
            let mut out = Vec::new();
            rr.encode(&mut out);
            assert_eq!(out, msg);
        }
        Err(e) => assert_eq!(e.notification().data, msg),
    }
});
