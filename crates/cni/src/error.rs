//! The plugin's errors, each with the CNI error code it is reported under.

use serde::Serialize;

/// Error codes of the CNI specification (0-99 are well-known) and of this plugin (100+).
pub mod code {
    /// The network configuration asks for a CNI version the plugin does not speak.
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    /// A field of the network configuration is not supported.
    pub const UNSUPPORTED_FIELD: u32 = 2;
    /// An environment variable (`CNI_COMMAND`, `CNI_CONTAINERID`, ...) is missing or invalid.
    pub const INVALID_ENVIRONMENT: u32 = 4;
    /// An I/O failure, such as reading the configuration from stdin.
    pub const IO_FAILURE: u32 = 5;
    /// The configuration (or another JSON input) could not be decoded.
    pub const DECODING_FAILURE: u32 = 6;
    /// The network configuration is invalid.
    pub const INVALID_NETWORK_CONFIG: u32 = 7;
    /// A transient condition: the runtime should retry later.
    pub const TRY_AGAIN_LATER: u32 = 11;
    /// The plugin cannot service `ADD` requests (reported by `STATUS`).
    pub const PLUGIN_NOT_AVAILABLE: u32 = 50;
    /// Plugin-specific: `CHECK` found the attachment not as `ADD` left it.
    pub const CHECK_FAILED: u32 = 100;
    /// Plugin-specific: no free address is left in the node's pod CIDR.
    pub const POOL_EXHAUSTED: u32 = 101;
    /// Plugin-specific: the interface to create already exists in the pod's namespace.
    pub const INTERFACE_EXISTS: u32 = 102;
    /// Any other failure (netlink, sysctl, state files).
    pub const INTERNAL: u32 = 999;
}

/// Everything that can go wrong in the plugin.
#[derive(Debug, thiserror::Error)]
pub enum CniError {
    /// `cniVersion` names a version this plugin does not support.
    #[error("cniVersion {version:?} is not supported (supported: {supported})")]
    IncompatibleVersion {
        /// The version asked for.
        version: String,
        /// The versions the plugin supports.
        supported: String,
    },
    /// A configuration field has a value the plugin does not support.
    #[error("unsupported field {key}={value}: {why}")]
    UnsupportedField {
        /// The field.
        key: String,
        /// Its value, as JSON.
        value: String,
        /// Why it is not supported.
        why: String,
    },
    /// A `CNI_*` environment variable is missing or malformed.
    #[error("environment variable {var}: {why}")]
    Env {
        /// The variable.
        var: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// Reading or writing a file failed.
    #[error("cannot {what}: {source}")]
    Io {
        /// What was being done, naming the file.
        what: String,
        /// The operating system's answer.
        source: std::io::Error,
    },
    /// JSON input could not be decoded.
    #[error("cannot decode {what}: {why}")]
    Decode {
        /// What was being decoded (`the network configuration from stdin`, a state file).
        what: String,
        /// The decoder's message, naming the field.
        why: String,
    },
    /// The network configuration is not valid.
    #[error("network configuration field {field}: {why}")]
    Config {
        /// The field.
        field: String,
        /// What is wrong with it.
        why: String,
    },
    /// A transient condition (the pod CIDR is not known yet, the state lock is busy).
    #[error("{what} (try again later)")]
    TryAgain {
        /// What is not ready.
        what: String,
    },
    /// `STATUS`: the plugin cannot service `ADD` now.
    #[error("not ready for ADD: {why}")]
    NotAvailable {
        /// Why.
        why: String,
    },
    /// `ADD`: every address of the pool is allocated.
    #[error("no free address left in pod CIDR {cidr} ({allocated} allocated)")]
    PoolExhausted {
        /// The pool.
        cidr: String,
        /// How many addresses are allocated in it.
        allocated: usize,
    },
    /// `ADD`: the interface already exists in the pod.
    #[error("interface {ifname} already exists in network namespace {netns}")]
    InterfaceExists {
        /// `CNI_IFNAME`.
        ifname: String,
        /// `CNI_NETNS`.
        netns: String,
    },
    /// `CHECK`: something `ADD` set up is missing or different.
    #[error("CHECK failed: {what}")]
    Check {
        /// What is missing or wrong.
        what: String,
    },
    /// A netlink request failed.
    #[error("netlink: {op} (in {ns}): {msg}")]
    Netlink {
        /// The request.
        op: String,
        /// The namespace it went to (`host` or the `CNI_NETNS` path).
        ns: String,
        /// The kernel's errno (positive), when the kernel answered with one.
        errno: Option<i32>,
        /// The kernel's message.
        msg: String,
    },
    /// A system call outside netlink failed (setns, flock, sysctl).
    #[error("{what}: {errno}")]
    Sys {
        /// What was being done.
        what: String,
        /// The error.
        errno: nix::errno::Errno,
    },
    /// Several errors (`GC` goes on past failures and reports them all).
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Many(Vec<CniError>),
}

impl CniError {
    /// The CNI error code this error is reported under.
    pub fn code(&self) -> u32 {
        match self {
            CniError::IncompatibleVersion { .. } => code::INCOMPATIBLE_VERSION,
            CniError::UnsupportedField { .. } => code::UNSUPPORTED_FIELD,
            CniError::Env { .. } => code::INVALID_ENVIRONMENT,
            CniError::Io { .. } => code::IO_FAILURE,
            CniError::Decode { .. } => code::DECODING_FAILURE,
            CniError::Config { .. } => code::INVALID_NETWORK_CONFIG,
            CniError::TryAgain { .. } => code::TRY_AGAIN_LATER,
            CniError::NotAvailable { .. } => code::PLUGIN_NOT_AVAILABLE,
            CniError::PoolExhausted { .. } => code::POOL_EXHAUSTED,
            CniError::InterfaceExists { .. } => code::INTERFACE_EXISTS,
            CniError::Check { .. } => code::CHECK_FAILED,
            CniError::Netlink { .. } | CniError::Sys { .. } => code::INTERNAL,
            CniError::Many(v) => v.first().map_or(code::INTERNAL, CniError::code),
        }
    }

    /// The short message of the error result (`msg`); the full text goes to `details`.
    pub fn short(&self) -> &'static str {
        match self {
            CniError::IncompatibleVersion { .. } => "incompatible CNI version",
            CniError::UnsupportedField { .. } => "unsupported field in network configuration",
            CniError::Env { .. } => "invalid environment variables",
            CniError::Io { .. } => "I/O failure",
            CniError::Decode { .. } => "failed to decode content",
            CniError::Config { .. } => "invalid network configuration",
            CniError::TryAgain { .. } => "try again later",
            CniError::NotAvailable { .. } => "plugin not available",
            CniError::PoolExhausted { .. } => "address pool exhausted",
            CniError::InterfaceExists { .. } => "interface already exists",
            CniError::Check { .. } => "attachment is not as expected",
            CniError::Netlink { .. } => "netlink request failed",
            CniError::Sys { .. } => "system call failed",
            CniError::Many(_) => "several errors",
        }
    }

    /// The error result the specification asks for, for protocol version `cni_version`.
    pub fn to_result(&self, cni_version: &str) -> ErrorResult {
        ErrorResult {
            cni_version: cni_version.to_string(),
            code: self.code(),
            msg: self.short().to_string(),
            details: self.to_string(),
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> CniError {
        CniError::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn sys(what: impl Into<String>, errno: nix::errno::Errno) -> CniError {
        CniError::Sys {
            what: what.into(),
            errno,
        }
    }

    pub(crate) fn config(field: impl Into<String>, why: impl Into<String>) -> CniError {
        CniError::Config {
            field: field.into(),
            why: why.into(),
        }
    }

    /// The errno of a netlink error, if it is one.
    pub(crate) fn errno(&self) -> Option<i32> {
        match self {
            CniError::Netlink { errno, .. } => *errno,
            _ => None,
        }
    }
}

/// The error result printed on stdout, as the specification defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorResult {
    /// The protocol version in use.
    pub cni_version: String,
    /// A well-known (0-99) or plugin-specific (100+) code.
    pub code: u32,
    /// A short message.
    pub msg: String,
    /// The full message.
    pub details: String,
}
