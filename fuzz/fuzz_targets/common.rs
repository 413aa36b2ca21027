#![allow(dead_code)] // each target uses a subset of these helpers
// Shared by the fuzz targets: the first input byte picks the session context, the rest is
// the message body under test.
use bgp_wire::{Family, FamilySet, SessionContext};

pub fn split(data: &[u8]) -> Option<(SessionContext, &[u8])> {
    let (&sel, rest) = data.split_first()?;
    let mut add_path = FamilySet::EMPTY;
    if sel & 4 != 0 {
        add_path.insert(Family::IPV4_UNICAST);
    }
    if sel & 8 != 0 {
        add_path.insert(Family::IPV6_UNICAST);
    }
    let ctx = SessionContext {
        four_octet_as: sel & 1 != 0,
        extended_message: sel & 2 != 0,
        add_path,
        external: sel & 16 != 0,
    };
    Some((ctx, rest))
}

/// Prepends a valid header of type `ty` so the fuzzer spends its time on the body.
pub fn with_header(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((body.len() + 19).min(65535) as u16).to_be_bytes());
    m.push(ty);
    m.extend_from_slice(body);
    m
}
