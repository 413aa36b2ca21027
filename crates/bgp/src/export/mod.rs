//! Outbound: what each peer is sent (advertisement rules, export policy), grouped so that
//! peers with the same settings share the work.

pub mod group;
pub mod rules;
