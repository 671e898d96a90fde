//! `u ∈* S` (MAPPING.md "Affiliations are taken exactly as stored"): each principal's
//! affiliations are its own `tblPrincipalAffiliations` rows plus itself, on the legacy side
//! and on the target side alike; a group row of a group row is never followed.

use std::collections::{BTreeSet, HashMap};

use super::legacy::Scope;

/// Each principal's affiliations (itself included), taken exactly as stored: the rows of
/// `tblPrincipalAffiliations` already list every group, OU and domain a principal belongs
/// to, and the server never walks them further (MAPPING.md "Affiliations are taken exactly
/// as stored"). A group row of a group row is not followed: that would be a widening.
#[derive(Debug, Default)]
pub struct Affiliations {
    of: HashMap<i64, BTreeSet<i64>>,
    /// Reverse index: affiliation → principals that have it.
    members_of: HashMap<i64, BTreeSet<i64>>,
}

impl Affiliations {
    /// Indexes `(principal, affiliation)` pairs as stored, each principal of `principals`
    /// (and of the pairs) affiliated with itself.
    pub fn build(pairs: &[(i64, i64)], principals: impl Iterator<Item = i64>) -> Affiliations {
        let mut of: HashMap<i64, BTreeSet<i64>> = HashMap::new();
        for p in principals {
            of.entry(p).or_default().insert(p);
        }
        for &(p, a) in pairs {
            let set = of.entry(p).or_default();
            set.insert(p);
            set.insert(a);
        }
        let mut members_of: HashMap<i64, BTreeSet<i64>> = HashMap::new();
        for (&p, affs) in &of {
            for &a in affs {
                members_of.entry(a).or_default().insert(p);
            }
        }
        Affiliations { of, members_of }
    }

    /// The affiliations of `p`, itself included.
    pub fn of(&self, p: i64) -> impl Iterator<Item = i64> + '_ {
        let set = self.of.get(&p);
        set.into_iter().flatten().copied().chain(set.is_none().then_some(p))
    }

    /// `p ∈* set`: some affiliation of `p` is in `set`.
    pub fn within(&self, p: i64, set: &BTreeSet<i64>) -> bool {
        self.of(p).any(|a| set.contains(&a))
    }

    /// `p ∈* scope`.
    pub fn in_scope(&self, p: i64, scope: &Scope) -> bool {
        match scope {
            Scope::Everyone => true,
            Scope::Set(s) => self.within(p, s),
        }
    }

    /// How many principals have `a` among their affiliations (itself included).
    pub fn member_count(&self, a: i64) -> usize {
        self.members_of.get(&a).map_or(0, |s| s.len())
    }

    /// Whether `a` is among `p`'s affiliations (itself included).
    pub fn has(&self, p: i64, a: i64) -> bool {
        self.of.get(&p).map_or(p == a, |s| s.contains(&a))
    }

    /// Principals that have `a` among their affiliations (itself included).
    pub fn members(&self, a: i64) -> impl Iterator<Item = i64> + '_ {
        self.members_of.get(&a).into_iter().flatten().copied()
    }
}
