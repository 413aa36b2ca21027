//! The configuration of policies as the router's YAML file writes it.
//!
//! Values whose text matters (prefixes, communities, regexes, addresses) are kept as strings
//! and parsed by [`Policies::compile`](super::Policies::compile), so that every problem is
//! reported with its key path and in the module's own words.

use std::collections::BTreeMap;
use std::fmt;

use bgp_wire::Origin;
use serde::{Deserialize, Serialize};

use super::error::{ErrorKind, PolicyError};

/// All lists and policies (the top-level keys `prefix-lists`, `as-path-lists`,
/// `community-lists`, `large-community-lists`, `ext-community-lists` and `policies`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyConfig {
    /// Prefix lists by name: entries tried in order, the first that matches decides.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prefix_lists: BTreeMap<String, Vec<PrefixListEntry>>,
    /// AS-path lists by name: FRR-style regexes, any of which may match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub as_path_lists: BTreeMap<String, Vec<String>>,
    /// Community lists by name: `ASN:VALUE` (either half may be `*`) or a well-known name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub community_lists: BTreeMap<String, Vec<String>>,
    /// Large community lists by name: `GLOBAL:LOCAL1:LOCAL2`, each part may be `*`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub large_community_lists: BTreeMap<String, Vec<String>>,
    /// Extended community lists by name: `rt:ASN:VALUE`, `rt:IP:VALUE`, `soo:…` (either
    /// part may be `*`) or `0x` and 16 hex digits.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ext_community_lists: BTreeMap<String, Vec<String>>,
    /// Policies by name: terms tried in order.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, Vec<TermConfig>>,
}

impl PolicyConfig {
    /// Parses the YAML form (a document holding some of the six top-level keys), reporting
    /// syntax and type errors with their key path.
    pub fn from_yaml(text: &str) -> Result<Self, PolicyError> {
        let de = serde_norway::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let problem = match inner.location() {
                Some(l) => format!("{inner} (line {}, column {})", l.line(), l.column()),
                None => inner.to_string(),
            };
            PolicyError::new(
                if key == "." {
                    "(top level)".into()
                } else {
                    key
                },
                ErrorKind::Syntax(problem),
            )
        })
    }
}

/// Permit or deny, for prefix-list entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrefixAction {
    /// The prefix matches the list.
    #[default]
    Permit,
    /// The prefix does not match the list.
    Deny,
}

/// One prefix-list entry: `{ prefix: 10.1.0.0/16, ge: 24, le: 24, action: permit }`.
///
/// Without `ge`/`le` only the prefix itself matches; with them, prefixes inside it whose
/// length is in `ge..=le` (`ge` defaults to the prefix length, `le` to 32 or 128), as FRR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PrefixListEntry {
    /// The prefix, host bits clear.
    pub prefix: String,
    /// Shortest matching length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ge: Option<u8>,
    /// Longest matching length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub le: Option<u8>,
    /// Permit (default) or deny.
    #[serde(default)]
    pub action: PrefixAction,
}

/// What a term does with a route its match holds for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TermAction {
    /// Accept the route (with the modifications made so far).
    Accept,
    /// Reject the route.
    Reject,
    /// Keep the modifications and go on with the following terms.
    Next,
}

/// One term of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TermConfig {
    /// Conditions, all of which must hold; without it the term matches every route.
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub r#match: Option<MatchConfig>,
    /// Modifications applied when the conditions hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<SetConfig>,
    /// What to do then.
    pub action: TermAction,
}

/// An address family, for `match: { family: ipv6 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FamilyMatch {
    /// IPv4 prefixes.
    Ipv4,
    /// IPv6 prefixes.
    Ipv6,
}

/// A length range (`ge`, `le`, or `eq` alone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LengthRange {
    /// At least.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ge: Option<u32>,
    /// At most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub le: Option<u32>,
    /// Exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eq: Option<u32>,
}

/// The conditions of a term (all given ones must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MatchConfig {
    /// The prefix is permitted by this prefix list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_list: Option<String>,
    /// The AS path matches a regex of this AS-path list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_list: Option<String>,
    /// The AS path length (an AS_SET counts one, confederation segments none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_length: Option<LengthRange>,
    /// The AS occurs anywhere in the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_contains: Option<u32>,
    /// The first AS of the path (the neighboring AS that sent it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbor_as: Option<u32>,
    /// The ORIGIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// A community of the route is in this list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_list: Option<String>,
    /// A large community of the route is in this list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_community_list: Option<String>,
    /// An extended community of the route is in this list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_community_list: Option<String>,
    /// The next hop is inside this prefix (an address alone means just that address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<String>,
    /// The prefix is of this family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<FamilyMatch>,
}

/// `as-path-prepend`: `{ asn: 65000, count: 2 }` or `{ last-as: 2 }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PrependConfig {
    /// The AS to prepend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// How many times to prepend `asn` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u8>,
    /// Prepend the path's first AS this many times instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_as: Option<u8>,
}

/// Edits of one kind of community: `replace`, then `delete` and `delete-list`, then `add`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CommunityEdit {
    /// Add these (exact values), unless present.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    /// Remove those matching these patterns (`*` allowed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete: Vec<String>,
    /// Replace all by these (exact values; `[]` removes all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace: Option<Vec<String>>,
    /// Remove those matching the list of this name (of the same kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_list: Option<String>,
}

/// The modifications of a term.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SetConfig {
    /// LOCAL_PREF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<u32>,
    /// MULTI_EXIT_DISC: a value, `"+N"`, `"-N"` (saturating) or `remove`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med: Option<MedConfig>,
    /// ORIGIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// Prepend to the AS path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_prepend: Option<PrependConfig>,
    /// Remove these ASes from the AS path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_exclude: Option<Vec<u32>>,
    /// Standard communities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<CommunityEdit>,
    /// Large communities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_community: Option<CommunityEdit>,
    /// Extended communities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_community: Option<CommunityEdit>,
    /// `self`, `peer-address`, `unchanged`, or an address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<String>,
}

/// The `med` of a `set`, as written: `50`, `"+10"`, `"-10"` or `remove`.
///
/// It is read as text, so that YAML's `med: +10` (which YAML itself would resolve to the
/// integer 10) means "add 10" as it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MedConfig(pub String);

impl Serialize for MedConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.parse::<u32>() {
            Ok(v) if !self.0.starts_with('+') => s.serialize_u32(v),
            _ => s.serialize_str(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for MedConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = MedConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a MED: a number, \"+N\", \"-N\" or \"remove\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<MedConfig, E> {
                Ok(MedConfig(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<MedConfig, E> {
                Ok(MedConfig(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<MedConfig, E> {
                Ok(MedConfig(v.to_string()))
            }
        }
        // `deserialize_str`: a YAML deserializer hands over the scalar's text as written.
        d.deserialize_str(Text)
    }
}
