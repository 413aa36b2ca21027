//! From [`PolicyConfig`] to [`Policies`]: parsing, validation and name resolution.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use bgp_wire::Prefix;

use super::aspath::{self, AsPathList};
use super::config::{
    CommunityEdit, LengthRange, MatchConfig, MedConfig, PolicyConfig, PrefixAction,
    PrefixListEntry, PrependConfig, SetConfig, TermAction, TermConfig,
};
use super::error::{ErrorKind, PolicyError};
use super::eval::{Actions, Conditions, Edit, MedOp, Policy, Prepend, Term};
use super::lists::{self, CommunityPattern, ExtPattern, LargePattern, PrefixEntry, PrefixList};
use super::NextHopAction;

/// The most times one `as-path-prepend` may repeat an AS (FRR's `last-as` range).
pub const MAX_PREPEND: u8 = 10;

/// Compiled lists and policies, ready to evaluate routes. Cheap to clone (shared parts).
#[derive(Debug, Clone, Default)]
pub struct Policies {
    policies: BTreeMap<String, Policy>,
    prefix_lists: BTreeMap<String, Arc<PrefixList>>,
    as_path_lists: BTreeMap<String, Arc<AsPathList>>,
    community_lists: BTreeMap<String, Arc<[CommunityPattern]>>,
    large_community_lists: BTreeMap<String, Arc<[LargePattern]>>,
    ext_community_lists: BTreeMap<String, Arc<[ExtPattern]>>,
}

impl Policies {
    /// Compiles and validates the configuration; the first problem found is returned.
    pub fn compile(cfg: &PolicyConfig) -> Result<Self, PolicyError> {
        let mut out = Policies::default();
        for (name, entries) in &cfg.prefix_lists {
            let key = format!("prefix-lists.{name}");
            let list = prefix_list(&key, entries)?;
            out.prefix_lists.insert(name.clone(), Arc::new(list));
        }
        for (name, patterns) in &cfg.as_path_lists {
            let key = format!("as-path-lists.{name}");
            if patterns.is_empty() {
                return Err(PolicyError::new(
                    key,
                    ErrorKind::Empty("AS-path list has no regex (it would match no path)"),
                ));
            }
            for (i, p) in patterns.iter().enumerate() {
                aspath::check(p).map_err(|k| PolicyError::new(format!("{key}[{i}]"), k))?;
            }
            let list = AsPathList::new(patterns).map_err(|e| {
                let reason = aspath::reason(&e);
                PolicyError::new(&key, ErrorKind::Invalid(format!("regexes: {reason}")))
            })?;
            out.as_path_lists.insert(name.clone(), Arc::new(list));
        }
        let lists = |prefix: &str,
                     m: &BTreeMap<String, Vec<String>>|
         -> Result<Vec<(String, String, Vec<String>)>, PolicyError> {
            m.iter()
                .map(|(name, v)| {
                    let key = format!("{prefix}.{name}");
                    if v.is_empty() {
                        return Err(PolicyError::new(
                            key,
                            ErrorKind::Empty("community list is empty (it would match nothing)"),
                        ));
                    }
                    Ok((name.clone(), key, v.clone()))
                })
                .collect()
        };
        for (name, key, v) in lists("community-lists", &cfg.community_lists)? {
            let l = parse_all(&key, &v, lists::parse_community)?;
            out.community_lists.insert(name, l.into());
        }
        for (name, key, v) in lists("large-community-lists", &cfg.large_community_lists)? {
            let l = parse_all(&key, &v, lists::parse_large)?;
            out.large_community_lists.insert(name, l.into());
        }
        for (name, key, v) in lists("ext-community-lists", &cfg.ext_community_lists)? {
            let l = parse_all(&key, &v, lists::parse_ext)?;
            out.ext_community_lists.insert(name, l.into());
        }
        for (name, terms) in &cfg.policies {
            let policy = out.policy(name, terms)?;
            out.policies.insert(name.clone(), policy);
        }
        Ok(out)
    }

    /// The policy of this name.
    pub fn get(&self, name: &str) -> Option<&Policy> {
        self.policies.get(name)
    }

    /// The names of the policies, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.policies.keys().map(String::as_str)
    }

    /// The prefix list of this name (for users other than policies, e.g. prefix ORF).
    pub fn prefix_list(&self, name: &str) -> Option<&PrefixList> {
        self.prefix_lists.get(name).map(|l| &**l)
    }

    fn policy(&self, name: &str, terms: &[TermConfig]) -> Result<Policy, PolicyError> {
        let pkey = format!("policies.{name}");
        if terms.is_empty() {
            return Err(PolicyError::new(
                pkey,
                ErrorKind::Empty(
                    "policy has no terms (write `- action: reject` to reject every route)",
                ),
            ));
        }
        let mut out = Vec::with_capacity(terms.len());
        let mut catch_all = None;
        for (i, t) in terms.iter().enumerate() {
            let key = format!("{pkey}[{i}]");
            if let Some(j) = catch_all {
                return Err(PolicyError::new(key, ErrorKind::Unreachable(j)));
            }
            let conditions = match &t.r#match {
                Some(m) => self.conditions(&format!("{key}.match"), m)?,
                None => Conditions::default(),
            };
            let actions = match &t.set {
                Some(s) => self.actions(&format!("{key}.set"), s)?,
                None => Actions::default(),
            };
            if t.action == TermAction::Reject && t.set.is_some() {
                return Err(PolicyError::new(
                    format!("{key}.set"),
                    ErrorKind::NoEffect("set has no effect in a term whose action is reject"),
                ));
            }
            if t.action == TermAction::Next && i + 1 == terms.len() {
                return Err(PolicyError::new(
                    format!("{key}.action"),
                    ErrorKind::NoEffect(
                        "the last term's `next` falls through to the implicit reject \
                         (end with `action: accept` or `action: reject`)",
                    ),
                ));
            }
            let unconditional = t
                .r#match
                .as_ref()
                .is_none_or(|m| *m == MatchConfig::default());
            if unconditional && t.action != TermAction::Next {
                catch_all = Some(i);
            }
            out.push(Term {
                conditions,
                actions,
                action: t.action,
            });
        }
        Ok(Policy {
            name: name.to_string(),
            terms: out.into(),
        })
    }

    fn conditions(&self, key: &str, m: &MatchConfig) -> Result<Conditions, PolicyError> {
        let k = |f: &str| format!("{key}.{f}");
        let mut c = Conditions::default();
        if let Some(n) = &m.prefix_list {
            c.prefix_list = Some(lookup(
                &k("prefix-list"),
                "prefix list",
                &self.prefix_lists,
                n,
            )?);
        }
        if let Some(n) = &m.as_path_list {
            let l = lookup(&k("as-path-list"), "AS-path list", &self.as_path_lists, n)?;
            c.as_path_list = Some(l);
        }
        if let Some(r) = &m.as_path_length {
            c.as_path_length = Some(length_range(&k("as-path-length"), r)?);
        }
        c.as_path_contains = m.as_path_contains;
        c.neighbor_as = m.neighbor_as;
        c.origin = m.origin;
        if let Some(n) = &m.community_list {
            let l = lookup(
                &k("community-list"),
                "community list",
                &self.community_lists,
                n,
            )?;
            c.community_list = Some(l);
        }
        if let Some(n) = &m.large_community_list {
            let key = k("large-community-list");
            let what = "large community list";
            c.large_community_list = Some(lookup(&key, what, &self.large_community_lists, n)?);
        }
        if let Some(n) = &m.ext_community_list {
            let key = k("ext-community-list");
            let what = "extended community list";
            c.ext_community_list = Some(lookup(&key, what, &self.ext_community_lists, n)?);
        }
        if let Some(nh) = &m.next_hop {
            let key = k("next-hop");
            let p = match nh.parse::<IpAddr>() {
                Ok(a) => Prefix::new(a, if a.is_ipv4() { 32 } else { 128 }),
                Err(_) => Some(parse_prefix(nh).map_err(|e| PolicyError::new(&key, e))?),
            };
            c.next_hop = p;
        }
        c.family = m.family;
        Ok(c)
    }

    fn actions(&self, key: &str, s: &SetConfig) -> Result<Actions, PolicyError> {
        let k = |f: &str| format!("{key}.{f}");
        let mut a = Actions {
            local_pref: s.local_pref,
            origin: s.origin,
            exclude: s.as_path_exclude.clone().unwrap_or_default(),
            ..Actions::default()
        };
        if let Some(m) = &s.med {
            a.med = Some(med(m).map_err(|e| PolicyError::new(k("med"), e))?);
        }
        if let Some(p) = &s.as_path_prepend {
            a.prepend = Some(prepend(p).map_err(|e| PolicyError::new(k("as-path-prepend"), e))?);
        }
        if let Some(e) = &s.community {
            let key = k("community");
            let parse = lists::parse_community;
            let exact = CommunityPattern::as_exact;
            a.community = Some(edit(
                &key,
                e,
                parse,
                exact,
                &self.community_lists,
                "community",
            )?);
        }
        if let Some(e) = &s.large_community {
            let key = k("large-community");
            let (parse, exact) = (lists::parse_large, LargePattern::as_exact);
            let l = &self.large_community_lists;
            a.large_community = Some(edit(&key, e, parse, exact, l, "large community")?);
        }
        if let Some(e) = &s.ext_community {
            let key = k("ext-community");
            let (parse, exact) = (lists::parse_ext, ExtPattern::as_exact);
            let l = &self.ext_community_lists;
            a.ext_community = Some(edit(&key, e, parse, exact, l, "extended community")?);
        }
        if let Some(nh) = &s.next_hop {
            a.next_hop = Some(match nh.as_str() {
                "self" => NextHopAction::SelfAddress,
                "peer-address" => NextHopAction::PeerAddress,
                "unchanged" => NextHopAction::Unchanged,
                other => NextHopAction::Address(other.parse().map_err(|_| {
                    PolicyError::new(k("next-hop"), ErrorKind::InvalidNextHop(other.into()))
                })?),
            });
        }
        Ok(a)
    }
}

/// Resolves a list name, or names the known ones.
fn lookup<T: ?Sized>(
    key: &str,
    what: &'static str,
    map: &BTreeMap<String, Arc<T>>,
    name: &str,
) -> Result<Arc<T>, PolicyError> {
    if let Some(l) = map.get(name) {
        return Ok(Arc::clone(l));
    }
    let known = if map.is_empty() {
        "none defined".to_string()
    } else {
        let names: Vec<&str> = map.keys().map(String::as_str).collect();
        format!("known: {}", names.join(", "))
    };
    Err(PolicyError::new(
        key,
        ErrorKind::Unknown {
            what,
            name: name.to_string(),
            known,
        },
    ))
}

fn parse_all<P>(
    key: &str,
    items: &[String],
    parse: fn(&str) -> Result<P, ErrorKind>,
) -> Result<Vec<P>, PolicyError> {
    items
        .iter()
        .enumerate()
        .map(|(i, s)| parse(s).map_err(|e| PolicyError::new(format!("{key}[{i}]"), e)))
        .collect()
}

/// Parses a prefix, refusing host bits.
fn parse_prefix(s: &str) -> Result<Prefix, ErrorKind> {
    let p: Prefix = s
        .parse()
        .map_err(|_| ErrorKind::InvalidPrefix(s.to_string()))?;
    let written: Option<IpAddr> = s.split_once('/').and_then(|(a, _)| a.parse().ok());
    if written != Some(p.addr()) {
        return Err(ErrorKind::HostBits {
            given: s.to_string(),
            network: p.to_string(),
        });
    }
    Ok(p)
}

fn prefix_list(key: &str, entries: &[PrefixListEntry]) -> Result<PrefixList, PolicyError> {
    if entries.is_empty() {
        return Err(PolicyError::new(
            key,
            ErrorKind::Empty("prefix list has no entries (it would deny every prefix)"),
        ));
    }
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let ekey = format!("{key}[{i}]");
        let prefix =
            parse_prefix(&e.prefix).map_err(|k| PolicyError::new(format!("{ekey}.prefix"), k))?;
        let len = prefix.prefix_len();
        let (family, max) = match prefix {
            Prefix::V4(_) => ("IPv4", 32),
            Prefix::V6(_) => ("IPv6", 128),
        };
        let err = |kind| Err(PolicyError::new(&ekey, kind));
        for (k, v) in [("ge", e.ge), ("le", e.le)] {
            let Some(value) = v else { continue };
            if value > max {
                return err(ErrorKind::LengthAboveMax {
                    key: k,
                    value,
                    family,
                    max,
                });
            }
            if value < len {
                return err(ErrorKind::LengthBelowPrefix { key: k, value, len });
            }
        }
        if let (Some(ge), Some(le)) = (e.ge, e.le) {
            if ge > le {
                return err(ErrorKind::GeAboveLe {
                    ge: ge.into(),
                    le: le.into(),
                });
            }
        }
        let (min, max) = match (e.ge, e.le) {
            (None, None) => (len, len),
            (Some(ge), None) => (ge, max),
            (None, Some(le)) => (len, le),
            (Some(ge), Some(le)) => (ge, le),
        };
        out.push(PrefixEntry {
            prefix,
            min,
            max,
            permit: e.action == PrefixAction::Permit,
        });
    }
    Ok(PrefixList::new(out))
}

fn length_range(key: &str, r: &LengthRange) -> Result<(u32, u32), PolicyError> {
    let err = |kind| Err(PolicyError::new(key, kind));
    match (r.ge, r.le, r.eq) {
        (None, None, None) => err(ErrorKind::Invalid("give ge, le or eq".into())),
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => err(ErrorKind::Invalid(
            "eq cannot be combined with ge or le".into(),
        )),
        (_, _, Some(eq)) => Ok((eq, eq)),
        (Some(ge), Some(le), None) if ge > le => err(ErrorKind::GeAboveLe { ge, le }),
        (ge, le, None) => Ok((ge.unwrap_or(0), le.unwrap_or(u32::MAX))),
    }
}

fn med(m: &MedConfig) -> Result<MedOp, ErrorKind> {
    let s = m.0.trim();
    let bad = || ErrorKind::InvalidMed(m.0.clone());
    let number = |t: &str| -> Result<u32, ErrorKind> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    };
    if s == "remove" {
        Ok(MedOp::Remove)
    } else if let Some(t) = s.strip_prefix('+') {
        Ok(MedOp::Add(number(t)?))
    } else if let Some(t) = s.strip_prefix('-') {
        Ok(MedOp::Sub(number(t)?))
    } else {
        Ok(MedOp::Set(number(s)?))
    }
}

fn prepend(p: &PrependConfig) -> Result<Prepend, ErrorKind> {
    let count = |what: &'static str, n: u8| {
        if (1..=MAX_PREPEND).contains(&n) {
            Ok(n)
        } else {
            Err(ErrorKind::OutOfRange {
                what,
                value: n.into(),
                min: 1,
                max: MAX_PREPEND.into(),
            })
        }
    };
    match (p.asn, p.count, p.last_as) {
        (Some(_), _, Some(_)) => Err(ErrorKind::Invalid(
            "give either asn (with count) or last-as, not both".into(),
        )),
        (None, Some(_), Some(_)) => Err(ErrorKind::Invalid(
            "count goes with asn (last-as is itself a count)".into(),
        )),
        (None, _, None) => Err(ErrorKind::Invalid(
            "give asn (with count) or last-as".into(),
        )),
        (Some(0), _, None) => Err(ErrorKind::Invalid(
            "AS 0 cannot be prepended (RFC 7607)".into(),
        )),
        (Some(asn), n, None) => Ok(Prepend::Asn(asn, count("count", n.unwrap_or(1))?)),
        (None, None, Some(n)) => Ok(Prepend::LastAs(count("last-as", n)?)),
    }
}

fn edit<T, P>(
    key: &str,
    e: &CommunityEdit,
    parse: fn(&str) -> Result<P, ErrorKind>,
    exact: fn(&P) -> Option<T>,
    lists: &BTreeMap<String, Arc<[P]>>,
    what: &'static str,
) -> Result<Edit<T, P>, PolicyError> {
    let exacts = |k: &str, items: &[String]| -> Result<Vec<T>, PolicyError> {
        let key = format!("{key}.{k}");
        let patterns = parse_all(&key, items, parse)?;
        patterns
            .iter()
            .zip(items)
            .enumerate()
            .map(|(i, (p, s))| {
                exact(p).ok_or_else(|| {
                    PolicyError::new(
                        format!("{key}[{i}]"),
                        ErrorKind::WildcardNotAllowed(s.clone()),
                    )
                })
            })
            .collect()
    };
    let delete_list = match &e.delete_list {
        Some(n) => {
            let what = match what {
                "community" => "community list",
                "large community" => "large community list",
                _ => "extended community list",
            };
            Some(lookup(&format!("{key}.delete-list"), what, lists, n)?)
        }
        None => None,
    };
    Ok(Edit {
        replace: e
            .replace
            .as_deref()
            .map(|r| exacts("replace", r))
            .transpose()?,
        delete: parse_all(&format!("{key}.delete"), &e.delete, parse)?,
        delete_list,
        add: exacts("add", &e.add)?,
    })
}
