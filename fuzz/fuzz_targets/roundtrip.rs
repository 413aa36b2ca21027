#![no_main]
//! Encode→decode round trip: whatever decodes, encoded again, decodes to the same message.
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((ctx, body)) = common::split(data) else { return };
    let Some((&ty, body)) = body.split_first() else { return };
    let msg = common::with_header(1 + ty % 5, body);
    let Ok((m, _)) = bgp_wire::Message::decode(&msg, &ctx) else { return };
    let first = m.to_owned();
    let mut out = Vec::new();
    if first.encode(&ctx, &mut out).is_err() {
        return;
    }
    let (again, len) = bgp_wire::Message::decode(&out, &ctx).expect("re-encoded message decodes");
    assert_eq!(len, out.len());
    assert_eq!(again.to_owned(), first);
});
