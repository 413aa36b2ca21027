#![no_main]
//! Stream framing: any bytes, any context; framing then decoding every complete message.
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((ctx, mut rest)) = common::split(data) else { return };
    while let Ok(bgp_wire::Frame::Ready(len, _)) = bgp_wire::frame(rest, &ctx) {
        assert!(len >= 19 && len <= rest.len());
        let _ = bgp_wire::Message::decode(rest, &ctx);
        rest = &rest[len..];
    }
});
