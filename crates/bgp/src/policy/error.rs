//! Errors of policy configuration, each naming the YAML key path it concerns.

/// A policy configuration problem: where (`key`) and what (`kind`).
///
/// Displays as `KEY: PROBLEM`, e.g.
/// `policies.IMPORT[0].match.prefix-list: unknown prefix list "PODZ" (known: PODS)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {kind}")]
pub struct PolicyError {
    /// The key path, e.g. `prefix-lists.PODS[1]`.
    pub key: String,
    /// The problem.
    pub kind: ErrorKind,
}

impl PolicyError {
    /// An error at `key`.
    pub fn new(key: impl Into<String>, kind: ErrorKind) -> Self {
        PolicyError {
            key: key.into(),
            kind,
        }
    }

    /// The key path.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The problem without the key path (for callers that print the key themselves).
    pub fn problem(&self) -> String {
        self.kind.to_string()
    }
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// YAML syntax, an unknown key or a value of the wrong type.
    #[error("{0}")]
    Syntax(String),
    /// A reference to a list that does not exist.
    #[error("unknown {what} {name:?} ({known})")]
    Unknown {
        /// `prefix list`, `community list`, …
        what: &'static str,
        /// The name referred to.
        name: String,
        /// `known: A, B` or `none defined`.
        known: String,
    },
    /// Text that is not a prefix.
    #[error("invalid prefix {0:?}: expected ADDRESS/LENGTH such as 10.1.0.0/16 or fd00::/64")]
    InvalidPrefix(String),
    /// A prefix with host bits set (most often a typo).
    #[error("prefix {given} has host bits set (did you mean {network}?)")]
    HostBits {
        /// As written.
        given: String,
        /// With the host bits cleared.
        network: String,
    },
    /// `ge` or `le` longer than the family allows.
    #[error("{key} {value} exceeds the {family} maximum {max}")]
    LengthAboveMax {
        /// `ge` or `le`.
        key: &'static str,
        /// The value.
        value: u8,
        /// `IPv4` or `IPv6`.
        family: &'static str,
        /// 32 or 128.
        max: u8,
    },
    /// `ge` or `le` shorter than the entry's prefix.
    #[error("{key} {value} is less than the prefix length {len}")]
    LengthBelowPrefix {
        /// `ge` or `le`.
        key: &'static str,
        /// The value.
        value: u8,
        /// The prefix length.
        len: u8,
    },
    /// `ge` above `le`.
    #[error("ge {ge} is greater than le {le}")]
    GeAboveLe {
        /// `ge`.
        ge: u32,
        /// `le`.
        le: u32,
    },
    /// An AS-path regex that does not compile.
    #[error("invalid regex {pattern:?}: {reason}")]
    InvalidRegex {
        /// As written.
        pattern: String,
        /// Why.
        reason: String,
    },
    /// Text that is not a community (pattern) of the expected kind.
    #[error("invalid {what} {input:?}: expected {expected}")]
    InvalidCommunity {
        /// `community`, `large community` or `extended community`.
        what: &'static str,
        /// As written.
        input: String,
        /// The accepted forms.
        expected: &'static str,
    },
    /// A `*` where an exact value is needed (`add`, `replace`).
    #[error("{0:?}: wildcards are only allowed in lists and in delete")]
    WildcardNotAllowed(String),
    /// A `set: { next-hop }` that is neither a keyword nor an address.
    #[error("invalid next hop {0:?}: expected self, peer-address, unchanged or an IP address")]
    InvalidNextHop(String),
    /// A `set: { med }` that is neither a number, `+N`, `-N` nor `remove`.
    #[error("invalid MED {0:?}: expected a number, \"+N\", \"-N\" or \"remove\"")]
    InvalidMed(String),
    /// A number outside its range.
    #[error("{what} {value} is out of range {min}..={max}")]
    OutOfRange {
        /// What the number is.
        what: &'static str,
        /// The value.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// A list or policy without entries.
    #[error("{0}")]
    Empty(&'static str),
    /// Keys that contradict each other, or a value that cannot work.
    #[error("{0}")]
    Invalid(String),
    /// A term no route can reach.
    #[error("unreachable: term [{0}] has no match and always decides")]
    Unreachable(usize),
    /// Configuration that has no effect, which is almost always a mistake.
    #[error("{0}")]
    NoEffect(&'static str),
}
