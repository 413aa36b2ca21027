//! Bidirectional Forwarding Detection for bgplane.
//!
//! - [`packet`]: the BFD Control packet (RFC 5880 §4.1) and its reception checks
//!   (§6.8.6), a pure codec.
//! - [`session`]: one BFD session as a sans-IO state machine (§6.2, §6.8): packets and
//!   clock readings in, packets to send and state changes out.
//! - [`runtime`]: sessions over UDP on tokio, single hop (RFC 5881: port 3784, TTL 255,
//!   source ports 49152–65535) and multihop (RFC 5883: port 4784, a minimum TTL),
//!   reporting state changes to the BGP speaker (RFC 5882).
//!
//! - [`auth`]: the Authentication Section (§4.2–4.4, §6.7): Simple Password, Keyed and
//!   Meticulous Keyed MD5 and SHA1.
//!
//! Asynchronous mode only: no Demand mode, no Echo function.

pub mod auth;
pub mod packet;
#[cfg(feature = "runtime")]
pub mod runtime;
pub mod session;

pub use packet::{ControlPacket, Diag, PacketError, SessionState};
pub use session::{Output, Session, SessionConfig};
