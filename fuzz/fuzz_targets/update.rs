#![no_main]
//! UPDATE decoding with RFC 7606 handling, walking everything a speaker reads.
use bgp_wire::update::view::Update;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((ctx, body)) = common::split(data) else { return };
    let msg = common::with_header(2, body);
    let Ok(u) = Update::decode(&msg, &ctx) else { return };
    let _ = u.announced().count() + u.withdrawals().count();
    let _ = (u.origin(), u.next_hop(), u.med(), u.local_pref(), u.aggregator(), u.end_of_rib());
    let _ = u.as_path().map(|p| (p.path_len(), p.first_as(), p.to_owned()));
    let _ = u.as4_path().map(|p| p.to_owned());
    let _ = u.communities().count() + u.large_communities().count();
    let _ = u.extended_communities().count() + u.cluster_list().count();
    let _ = u.mp_reach().map(|m| (m.next_hop(), m.nlri().count()));
    let _ = u.attributes().count();
    for i in u.issues().iter() {
        let _ = (i.to_string(), i.notification(u.attributes_bytes()));
    }
});
