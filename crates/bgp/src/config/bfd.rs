//! A neighbor's BFD setting (RFC 5880/5881 single-hop, RFC 5882 for BGP): `bfd: true`
//! for FRR's default timers, or the timers by name.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::scalar_or_map::{scalar_or_map_de, Scalar};

/// `bfd:` as written: a switch, or timers (which switch it on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum BfdSetting {
    /// `bfd: true` (FRR's defaults) or `bfd: false` (off, also when a peer group has it).
    Switch(bool),
    /// Timers.
    Timers(BfdTimers),
}

scalar_or_map_de!(
    BfdSetting,
    BfdTimers,
    "true, false or a map of BFD settings (transmit-interval, receive-interval, \
     detect-multiplier, passive-mode, multihop, minimum-ttl, authentication)",
    |s| match s {
        Scalar::Bool(b) => Some(Ok(BfdSetting::Switch(b))),
        _ => None,
    },
    BfdSetting::Timers
);

/// BFD timers, named as in FRR's bfdd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BfdTimers {
    /// Desired Min TX Interval once Up, in milliseconds (300).
    #[serde(default = "default_interval")]
    pub transmit_interval: u32,
    /// Required Min RX Interval, in milliseconds (300).
    #[serde(default = "default_interval")]
    pub receive_interval: u32,
    /// Detect Mult (3).
    #[serde(default = "default_multiplier")]
    pub detect_multiplier: u8,
    /// Passive role: wait for the peer's first packet (RFC 5880 §6.1).
    #[serde(default)]
    pub passive_mode: bool,
    /// Multihop BFD (RFC 5883, port 4784). Unset: multihop for an eBGP neighbor with
    /// `ebgp-multihop` above 1, single hop otherwise (FRR also makes an iBGP session
    /// between loopbacks multihop on its own; here that is `multihop: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multihop: Option<bool>,
    /// The lowest TTL accepted on a multihop session (254: one router in between).
    #[serde(default = "default_minimum_ttl")]
    pub minimum_ttl: u8,
    /// Authentication of every packet (RFC 5880 §6.7); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<BfdAuth>,
    /// BFD strict mode (draft-ietf-idr-bgp-bfd-strict-mode, FRR's `bfd strict`): announce
    /// the BFD Strict-Mode capability and, when the peer announces it too, keep the BGP
    /// session from Established until the BFD session is Up.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub strict: bool,
    /// BfdHoldTime: the seconds a strict session whose negotiated BGP hold time is zero
    /// waits for BFD (30).
    #[serde(
        default = "default_strict_hold_time",
        skip_serializing_if = "is_default_strict_hold_time"
    )]
    pub strict_hold_time: u32,
}

fn default_strict_hold_time() -> u32 {
    30
}

fn is_default_strict_hold_time(v: &u32) -> bool {
    *v == default_strict_hold_time()
}

/// `authentication: { type: meticulous-keyed-sha1, key-id: 1, password: ... }`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BfdAuth {
    /// `simple-password`, `keyed-md5`, `meticulous-keyed-md5`, `keyed-sha1` or
    /// `meticulous-keyed-sha1`.
    #[serde(rename = "type")]
    pub kind: bfd::auth::AuthType,
    /// Auth Key ID (1).
    #[serde(default = "default_key_id")]
    pub key_id: u8,
    /// The password or key: 1 to 16 octets, 20 for SHA1.
    pub password: String,
}

impl std::fmt::Debug for BfdAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BfdAuth")
            .field("kind", &self.kind)
            .field("key_id", &self.key_id)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl BfdAuth {
    /// The key for the BFD task.
    pub fn key(&self) -> Result<bfd::auth::AuthKey, String> {
        bfd::auth::AuthKey::new(self.kind, self.key_id, self.password.as_bytes())
            .map_err(|e| e.to_string())
    }
}

fn default_key_id() -> u8 {
    1
}

fn default_minimum_ttl() -> u8 {
    254
}

fn default_interval() -> u32 {
    300
}

fn default_multiplier() -> u8 {
    3
}

impl Default for BfdTimers {
    fn default() -> Self {
        BfdTimers {
            transmit_interval: default_interval(),
            receive_interval: default_interval(),
            detect_multiplier: default_multiplier(),
            passive_mode: false,
            multihop: None,
            minimum_ttl: default_minimum_ttl(),
            authentication: None,
            strict: false,
            strict_hold_time: default_strict_hold_time(),
        }
    }
}

impl BfdSetting {
    /// The timers if BFD is on.
    pub fn timers(self) -> Option<BfdTimers> {
        match self {
            BfdSetting::Switch(true) => Some(BfdTimers::default()),
            BfdSetting::Switch(false) => None,
            BfdSetting::Timers(t) => Some(t),
        }
    }

    /// FRR's bounds: intervals of 10 to 60000 ms, a multiplier of 2 to 255.
    pub fn check(&self) -> Result<(), String> {
        let Some(t) = self.clone().timers() else {
            return Ok(());
        };
        for (name, v) in [
            ("transmit-interval", t.transmit_interval),
            ("receive-interval", t.receive_interval),
        ] {
            if !(10..=60_000).contains(&v) {
                return Err(format!("{name} {v} ms: must be 10 to 60000"));
            }
        }
        if t.detect_multiplier < 2 {
            return Err(format!(
                "detect-multiplier {}: must be 2 to 255",
                t.detect_multiplier
            ));
        }
        if let Some(a) = &t.authentication {
            a.key().map_err(|e| format!("authentication: {e}"))?;
        }
        if !(1..=254).contains(&t.minimum_ttl) {
            return Err(format!("minimum-ttl {}: must be 1 to 254", t.minimum_ttl));
        }
        if t.strict_hold_time == 0 {
            return Err("strict-hold-time 0: must be at least 1 second".into());
        }
        Ok(())
    }
}

impl BfdTimers {
    /// The BfdHoldTime of a neighbor in strict mode; `None` when not strict.
    pub fn strict_hold(t: Option<&BfdTimers>) -> Option<u32> {
        t.filter(|t| t.strict).map(|t| t.strict_hold_time)
    }

    /// The session configuration these timers give.
    pub fn session_config(&self) -> bfd::SessionConfig {
        bfd::SessionConfig {
            desired_min_tx: Duration::from_millis(u64::from(self.transmit_interval)),
            required_min_rx: Duration::from_millis(u64::from(self.receive_interval)),
            detect_mult: self.detect_multiplier,
            passive: self.passive_mode,
        }
    }
}
