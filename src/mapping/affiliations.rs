//! `u ∈* S` (MAPPING.md "Affiliations are taken exactly as stored"): each principal's
//! affiliations are its own `tblPrincipalAffiliations` rows plus itself, on the legacy side
//! and on the target side alike; a group row of a group row is never followed.

use std::collections::BTreeSet;

use super::legacy::Scope;

/// Each principal's affiliations (itself included), taken exactly as stored: the rows of
/// `tblPrincipalAffiliations` already list every group, OU and domain a principal belongs
/// to, and the server never walks them further (MAPPING.md "Affiliations are taken exactly
/// as stored"). A group row of a group row is not followed: that would be a widening.
///
/// Both directions are kept as sorted flat lists (an [`Index`] each): at the largest pool
/// (150,000 principals, 820,000 rows) that is 20 MB, where a set per principal took 60.
#[derive(Debug, Default)]
pub struct Affiliations {
    of: Index,
    /// Reverse index: affiliation → principals that have it.
    members_of: Index,
}

/// Sorted `(key, value)` pairs stored as the distinct keys, where each key's values start
/// in `values` (one more start: the end), and the values themselves (sorted, distinct per
/// key).
#[derive(Debug, Default)]
struct Index {
    keys: Vec<i64>,
    starts: Vec<usize>,
    values: Vec<i64>,
}

impl Index {
    /// Indexes `pairs` (sorted and deduplicated here).
    fn new(mut pairs: Vec<(i64, i64)>) -> Index {
        pairs.sort_unstable();
        pairs.dedup();
        let mut ix =
            Index { keys: Vec::new(), starts: Vec::new(), values: Vec::with_capacity(pairs.len()) };
        for (k, v) in pairs {
            if ix.keys.last() != Some(&k) {
                ix.keys.push(k);
                ix.starts.push(ix.values.len());
            }
            ix.values.push(v);
        }
        ix.starts.push(ix.values.len());
        ix.keys.shrink_to_fit();
        ix.starts.shrink_to_fit();
        ix
    }

    /// The values of `k` (`None`: `k` has no pair).
    fn get(&self, k: i64) -> Option<&[i64]> {
        self.keys.binary_search(&k).ok().map(|i| self.at(i))
    }

    /// The values of the `i`th key.
    fn at(&self, i: usize) -> &[i64] {
        &self.values[self.starts[i]..self.starts[i + 1]]
    }
}

impl Affiliations {
    /// Indexes `(principal, affiliation)` pairs as stored, each principal of `principals`
    /// (and of the pairs) affiliated with itself.
    pub fn build(pairs: &[(i64, i64)], principals: impl Iterator<Item = i64>) -> Affiliations {
        let mut all: Vec<(i64, i64)> = principals.map(|p| (p, p)).collect();
        all.reserve(pairs.len() + pairs.len() / 4);
        let mut last = None;
        for &(p, a) in pairs {
            if last != Some(p) {
                all.push((p, p));
                last = Some(p);
            }
            all.push((p, a));
        }
        let of = Index::new(all);
        let reverse: Vec<(i64, i64)> = of
            .keys
            .iter()
            .enumerate()
            .flat_map(|(i, &p)| of.at(i).iter().map(move |&a| (a, p)))
            .collect();
        Affiliations { of, members_of: Index::new(reverse) }
    }

    /// The affiliations of `p`, itself included.
    pub fn of(&self, p: i64) -> impl Iterator<Item = i64> + '_ {
        let set = self.of.get(p);
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
        self.members_of.get(a).map_or(0, <[i64]>::len)
    }

    /// Whether `a` is among `p`'s affiliations (itself included).
    pub fn has(&self, p: i64, a: i64) -> bool {
        self.of.get(p).map_or(p == a, |s| s.binary_search(&a).is_ok())
    }

    /// Principals that have `a` among their affiliations (itself included).
    pub fn members(&self, a: i64) -> impl Iterator<Item = i64> + '_ {
        self.members_of.get(a).into_iter().flatten().copied()
    }
}
