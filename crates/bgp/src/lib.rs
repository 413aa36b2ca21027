//! The bgplane BGP speaker as a library.
//!
//! Data flows one way: bytes are framed and decoded by `bgp-wire`; each connection runs the
//! sans-IO [`fsm::Fsm`]; UPDATEs feed the Adj-RIB-In of the speaker actor, whose decision
//! process fills the Loc-RIB; export policy and update groups produce what each peer is sent.

pub mod config;
pub mod export;
pub mod fsm;
pub mod negotiate;
pub mod policy;
pub mod policy_adapter;
pub mod rib;
pub mod runtime;
pub mod speaker;
