//! UPDATE messages (RFC 4271 §4.3): zero-copy decoding with RFC 7606 error handling,
//! owned messages for building and round trips, and the packing encoder.

pub mod aspath;
pub mod attr;
mod attrset;
pub mod error;
mod fastpath;
pub mod iter;
pub mod mp;
pub mod owned;
pub mod pack;
pub mod view;
