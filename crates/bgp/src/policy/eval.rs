//! Compiled terms and their evaluation against a route.

use std::net::IpAddr;
use std::sync::Arc;

use bgp_wire::{AsPath, Community, ExtendedCommunity, LargeCommunity, Origin, Prefix, SegmentType};

use super::aspath::{self, AsPathList};
use super::config::{FamilyMatch, TermAction};
use super::lists::{CommunityPattern, ExtPattern, LargePattern, PrefixList};
use super::{NextHopAction, Outcome, RouteInfo};
use crate::rib::attrs::{Attrs, NextHop};

/// A compiled policy: terms tried in order.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) name: String,
    pub(crate) terms: Arc<[Term]>,
}

/// A compiled term.
#[derive(Debug)]
pub(crate) struct Term {
    pub(crate) conditions: Conditions,
    pub(crate) actions: Actions,
    pub(crate) action: TermAction,
}

/// Compiled conditions; all present ones must hold.
#[derive(Debug, Default)]
pub(crate) struct Conditions {
    pub(crate) prefix_list: Option<Arc<PrefixList>>,
    pub(crate) as_path_list: Option<Arc<AsPathList>>,
    /// Inclusive bounds.
    pub(crate) as_path_length: Option<(u32, u32)>,
    pub(crate) as_path_contains: Option<u32>,
    pub(crate) neighbor_as: Option<u32>,
    pub(crate) origin: Option<Origin>,
    pub(crate) community_list: Option<Arc<[CommunityPattern]>>,
    pub(crate) large_community_list: Option<Arc<[LargePattern]>>,
    pub(crate) ext_community_list: Option<Arc<[ExtPattern]>>,
    pub(crate) next_hop: Option<Prefix>,
    pub(crate) family: Option<FamilyMatch>,
}

/// A MED modification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MedOp {
    Set(u32),
    Add(u32),
    Sub(u32),
    Remove,
}

/// An AS path prepend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prepend {
    Asn(u32, u8),
    LastAs(u8),
}

/// Edits of one kind of community: `replace`, then deletions, then `add`.
#[derive(Debug)]
pub(crate) struct Edit<T, P> {
    pub(crate) replace: Option<Vec<T>>,
    pub(crate) delete: Vec<P>,
    pub(crate) delete_list: Option<Arc<[P]>>,
    pub(crate) add: Vec<T>,
}

/// Compiled modifications.
#[derive(Debug, Default)]
pub(crate) struct Actions {
    pub(crate) local_pref: Option<u32>,
    pub(crate) med: Option<MedOp>,
    pub(crate) origin: Option<Origin>,
    pub(crate) prepend: Option<Prepend>,
    pub(crate) exclude: Vec<u32>,
    pub(crate) community: Option<Edit<Community, CommunityPattern>>,
    pub(crate) large_community: Option<Edit<LargeCommunity, LargePattern>>,
    pub(crate) ext_community: Option<Edit<ExtendedCommunity, ExtPattern>>,
    pub(crate) next_hop: Option<NextHopAction>,
}

/// A pattern over values of one community kind.
pub(crate) trait Pattern<T> {
    fn is_match(&self, c: &T) -> bool;
}

impl Pattern<Community> for CommunityPattern {
    fn is_match(&self, c: &Community) -> bool {
        self.matches(c)
    }
}

impl Pattern<LargeCommunity> for LargePattern {
    fn is_match(&self, c: &LargeCommunity) -> bool {
        self.matches(c)
    }
}

impl Pattern<ExtendedCommunity> for ExtPattern {
    fn is_match(&self, c: &ExtendedCommunity) -> bool {
        self.matches(c)
    }
}

/// Whether any value matches any pattern.
fn any_match<T, P: Pattern<T>>(patterns: &[P], values: &[T]) -> bool {
    values
        .iter()
        .any(|v| patterns.iter().any(|p| p.is_match(v)))
}

/// The route's attributes during evaluation: the original until a modification copies them.
struct State<'a> {
    original: &'a Attrs,
    modified: Option<Attrs>,
    next_hop: Option<NextHopAction>,
    /// Whether the text buffer holds the current AS path.
    path_rendered: bool,
}

impl State<'_> {
    fn attrs(&self) -> &Attrs {
        self.modified.as_ref().unwrap_or(self.original)
    }

    fn modify(&mut self) -> &mut Attrs {
        let original = self.original;
        self.modified.get_or_insert_with(|| original.clone())
    }

    fn modify_path(&mut self) -> &mut AsPath {
        self.path_rendered = false;
        &mut self.modify().as_path
    }
}

/// The first AS of the path outside confederation segments, if it starts an AS_SEQUENCE
/// (the neighboring AS of RFC 4271 §9.1.2.2).
pub(crate) fn first_as(path: &AsPath) -> Option<u32> {
    let s = path.segments.iter().find(|s| !s.kind.is_confed())?;
    match s.kind {
        SegmentType::Sequence => s.asns.first().copied(),
        _ => None,
    }
}

fn next_hop_in(p: Prefix, nh: &NextHop) -> bool {
    match *nh {
        NextHop::V4(a) => p.contains_addr(IpAddr::V4(a)),
        NextHop::V6 { global, link_local } => {
            p.contains_addr(IpAddr::V6(global))
                || link_local.is_some_and(|l| p.contains_addr(IpAddr::V6(l)))
        }
    }
}

impl Policy {
    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether a term looks at the prefix beyond its family (a `prefix-list` match): if
    /// not, routes with the same attributes of one family get the same result.
    pub fn reads_prefix(&self) -> bool {
        self.terms
            .iter()
            .any(|t| t.conditions.prefix_list.is_some())
    }

    /// Runs the policy on a route: the first term whose conditions hold applies its
    /// modifications and its action (`next` goes on with the following terms); a route no
    /// term accepts or rejects is rejected.
    ///
    /// Does not allocate unless a modification copies the attributes (matching AS-path
    /// regexes uses a per-thread buffer).
    pub fn evaluate(&self, route: &RouteInfo<'_>) -> Outcome {
        aspath::with_buffer(|text| self.evaluate_with(route, text))
    }

    fn evaluate_with(&self, route: &RouteInfo<'_>, text: &mut String) -> Outcome {
        let mut st = State {
            original: route.attrs,
            modified: None,
            next_hop: None,
            path_rendered: false,
        };
        for term in self.terms.iter() {
            if !term.conditions.hold(route.prefix, &mut st, text) {
                continue;
            }
            match term.action {
                TermAction::Reject => return Outcome::rejected(),
                TermAction::Next => term.actions.apply(route, &mut st),
                TermAction::Accept => {
                    term.actions.apply(route, &mut st);
                    // Modifications that cancel out (set then remove) are no modification.
                    let attrs = st.modified.filter(|m| m != route.attrs);
                    return Outcome {
                        accept: true,
                        attrs,
                        next_hop: st.next_hop,
                    };
                }
            }
        }
        Outcome::rejected()
    }
}

impl Conditions {
    /// Whether every condition holds; the cheap ones are tried first.
    fn hold(&self, prefix: Prefix, st: &mut State<'_>, text: &mut String) -> bool {
        let a = st.attrs();
        let family_ok = matches!(
            (self.family, prefix),
            (None, _)
                | (Some(FamilyMatch::Ipv4), Prefix::V4(_))
                | (Some(FamilyMatch::Ipv6), Prefix::V6(_))
        );
        let simple = family_ok
            && self.origin.is_none_or(|o| a.origin == o)
            && self.as_path_length.is_none_or(|(min, max)| {
                let len = a.as_path.path_len();
                (min as usize) <= len && len <= max as usize
            })
            && self
                .neighbor_as
                .is_none_or(|n| first_as(&a.as_path) == Some(n))
            && self.as_path_contains.is_none_or(|n| a.as_path.contains(n))
            && self.next_hop.is_none_or(|p| next_hop_in(p, &a.next_hop))
            && self.prefix_list.as_ref().is_none_or(|l| l.permits(prefix))
            && self
                .community_list
                .as_ref()
                .is_none_or(|l| any_match(l, &a.communities))
            && self
                .large_community_list
                .as_ref()
                .is_none_or(|l| any_match(l, &a.large_communities))
            && self
                .ext_community_list
                .as_ref()
                .is_none_or(|l| any_match(l, &a.ext_communities));
        if !simple {
            return false;
        }
        let Some(list) = &self.as_path_list else {
            return true;
        };
        if !st.path_rendered {
            aspath::render(&st.attrs().as_path, text);
            st.path_rendered = true;
        }
        list.is_match(text)
    }
}

impl Actions {
    fn apply(&self, route: &RouteInfo<'_>, st: &mut State<'_>) {
        if let Some(lp) = self.local_pref {
            if st.attrs().local_pref != Some(lp) {
                st.modify().local_pref = Some(lp);
            }
        }
        if let Some(op) = self.med {
            let cur = st.attrs().med;
            let new = match op {
                MedOp::Set(v) => Some(v),
                MedOp::Add(n) => Some(cur.unwrap_or(0).saturating_add(n)),
                MedOp::Sub(n) => Some(cur.unwrap_or(0).saturating_sub(n)),
                MedOp::Remove => None,
            };
            if new != cur {
                st.modify().med = new;
            }
        }
        if let Some(o) = self.origin {
            if st.attrs().origin != o {
                st.modify().origin = o;
            }
        }
        if !self.exclude.is_empty() && self.exclude.iter().any(|&n| st.attrs().as_path.contains(n))
        {
            let path = st.modify_path();
            for seg in &mut path.segments {
                seg.asns.retain(|n| !self.exclude.contains(n));
            }
            path.segments.retain(|s| !s.asns.is_empty());
        }
        match self.prepend {
            Some(Prepend::Asn(asn, n)) => st.modify_path().prepend(asn, usize::from(n)),
            Some(Prepend::LastAs(n)) => {
                let asn = first_as(&st.attrs().as_path).unwrap_or(route.local_asn);
                if asn != 0 {
                    st.modify_path().prepend(asn, usize::from(n));
                }
            }
            None => {}
        }
        if let Some(e) = &self.community {
            if let Some(v) = e.apply(&st.attrs().communities) {
                st.modify().communities = v.into();
            }
        }
        if let Some(e) = &self.large_community {
            if let Some(v) = e.apply(&st.attrs().large_communities) {
                st.modify().large_communities = v.into();
            }
        }
        if let Some(e) = &self.ext_community {
            if let Some(v) = e.apply(&st.attrs().ext_communities) {
                st.modify().ext_communities = v.into();
            }
        }
        if let Some(nh) = self.next_hop {
            st.next_hop = Some(nh);
        }
    }
}

impl<T: Copy + PartialEq, P: Pattern<T>> Edit<T, P> {
    fn deletes(&self, c: &T) -> bool {
        self.delete.iter().any(|p| p.is_match(c))
            || self
                .delete_list
                .as_ref()
                .is_some_and(|l| l.iter().any(|p| p.is_match(c)))
    }

    /// The edited list, or `None` if it would not change.
    fn apply(&self, current: &[T]) -> Option<Vec<T>> {
        let base: &[T] = self.replace.as_deref().unwrap_or(current);
        let deleting = base.iter().any(|c| self.deletes(c));
        let adding = self
            .add
            .iter()
            .any(|a| !base.contains(a) || self.deletes(a));
        if !deleting && !adding && base == current {
            return None;
        }
        let mut out: Vec<T> = base.iter().filter(|c| !self.deletes(c)).copied().collect();
        for a in &self.add {
            if !out.contains(a) {
                out.push(*a);
            }
        }
        (out != current).then_some(out)
    }
}
