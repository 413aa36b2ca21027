//! bgplane's Kubernetes side: Cilium's BGP custom resources, the translation of a node's
//! objects into the configuration of its embedded BGP speaker, the object sources (a
//! directory of manifests; the API server), and the agent that runs it all.

pub mod agent;
pub mod crd;
pub mod deploy;
pub mod desired;
pub mod direct;
pub mod manifests;
pub mod source;
