//! The target as it is now, read back from the `mgc` database for the access rules
//! (MAPPING.md §3) and the invariants: principals, their affiliation closure, nodes,
//! category scopes and the role lists of the verified rooms.
//!
//! Nothing here comes from the plan: a hand edit made after the load is exactly what
//! `verify` must see. Memory is bounded by principals, nodes and the wave's role rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use crate::mapping::dense::{Dense, Marks};
use crate::mapping::legacy::{Affiliations, Rights};
use crate::model::{BEHAVIOR_NORMAL, VISIBILITY_OPEN};

mod read;

pub use read::existing_nodes;
#[cfg(feature = "mssql")]
pub(super) use read::{Sql, EXISTING_NODES};

/// A `tblPrincipal` row, as far as access needs it.
#[derive(Debug, Clone)]
pub struct TargetPrincipal {
    /// `prinUri`.
    pub uri: String,
    /// `prinDisabled` is not 0.
    pub disabled: bool,
    /// Its `tblPrincipalType.ptypeIsUser`.
    pub is_user: bool,
}

/// A `tblNode` row.
#[derive(Debug, Clone)]
pub struct TargetNode {
    /// `nodeGuid`, lowercase.
    pub guid: String,
    /// `parentID` (the category of a room).
    pub parent: i64,
    /// `nodeType` = 1.
    pub is_category: bool,
    /// `nodeName`.
    pub name: String,
    /// `disabled`.
    pub disabled: bool,
    /// `behavior` (4 normal, 5 auditorium).
    pub behavior: i64,
    /// `visibility` (2 secret, 3 closed, 6 open).
    pub visibility: i64,
}

/// `allowed(c)` and `denied(c)` of a category.
#[derive(Debug, Clone, Default)]
pub struct CategoryScope {
    /// `scopeIsDenied` = 0.
    pub allowed: BTreeSet<i64>,
    /// `scopeIsDenied` = 1.
    pub denied: BTreeSet<i64>,
}

/// The role lists of one room.
#[derive(Debug, Clone, Default)]
pub struct RoomLists {
    /// `Member` rows.
    pub members: BTreeSet<i64>,
    /// `Manager` rows.
    pub managers: BTreeSet<i64>,
    /// `Voiced` (presenter) rows.
    pub presenters: BTreeSet<i64>,
}

impl RoomLists {
    /// Every list with its role name, for messages.
    pub fn named(&self) -> [(&'static str, &BTreeSet<i64>); 3] {
        [("member", &self.members), ("manager", &self.managers), ("presenter", &self.presenters)]
    }
}

/// The target model that §3 and the invariants are evaluated on.
#[derive(Debug, Default)]
pub struct Model {
    /// Principals by `prinID`.
    pub principals: HashMap<i64, TargetPrincipal>,
    /// `prinGuid` (lowercase) → `prinID`.
    pub by_guid: HashMap<String, i64>,
    /// `prinUri` (lowercase) → `prinID`.
    pub by_uri: HashMap<String, i64>,
    /// Affiliations from `tblPrincipalAffiliations`, as stored (never followed further).
    pub affs: Affiliations,
    /// Every node of the pool by `nodeID`.
    pub nodes: BTreeMap<i64, TargetNode>,
    /// Scope rows by node.
    pub scopes: HashMap<i64, CategoryScope>,
    /// Role lists of the verified rooms.
    pub lists: HashMap<i64, RoomLists>,
    /// Dense principal index, built on the first [`Model::rights`] call (fill the fields first).
    dense: OnceLock<Dense>,
}

static EMPTY_SCOPE: std::sync::LazyLock<CategoryScope> =
    std::sync::LazyLock::new(CategoryScope::default);
static EMPTY_LISTS: std::sync::LazyLock<RoomLists> = std::sync::LazyLock::new(RoomLists::default);

impl Model {
    /// Drops the lookups by `prinGuid` and `prinUri` (two strings per principal), once the
    /// principals are matched ([`super::access::match_principals`]).
    pub fn forget_lookups(&mut self) {
        self.by_guid = HashMap::new();
        self.by_uri = HashMap::new();
    }

    /// Sets the affiliations from a snapshot's (principal, affiliation) pairs, keeping the
    /// pairs whose both ends are principals of the model.
    pub fn affiliate_known(&mut self, pairs: &[(i64, i64)]) {
        let known: Vec<(i64, i64)> = pairs
            .iter()
            .copied()
            .filter(|(p, a)| self.principals.contains_key(p) && self.principals.contains_key(a))
            .collect();
        self.affs = Affiliations::build(&known, self.principals.keys().copied());
    }

    /// The scope rows of category `c` (empty when it has none).
    pub fn scope(&self, c: i64) -> &CategoryScope {
        self.scopes.get(&c).unwrap_or(&EMPTY_SCOPE)
    }

    /// The role lists of room `r` (empty when it has none).
    pub fn lists(&self, r: i64) -> &RoomLists {
        self.lists.get(&r).unwrap_or(&EMPTY_LISTS)
    }

    /// `inscope(u, c)`: within allowed and not within denied (denied wins).
    pub fn in_scope(&self, u: i64, c: i64) -> bool {
        let s = self.scope(c);
        self.affs.within(u, &s.allowed) && !self.affs.within(u, &s.denied)
    }

    /// Whether `p` is an enabled-or-not user principal.
    pub fn is_user(&self, p: i64) -> bool {
        self.principals.get(&p).is_some_and(|x| x.is_user)
    }

    /// Every user's rights on room `r` under MAPPING.md §3 (users with none are left out).
    pub fn rights(&self, r: i64) -> BTreeMap<i64, Rights> {
        let mut out = Vec::new();
        self.rights_dense(r, &mut self.marks(), &mut out);
        let d = self.dense();
        out.into_iter().map(|(u, x)| (d.id(u), x)).collect()
    }

    /// The dense principal index (built on first use; the fields must be filled by then).
    pub fn dense(&self) -> &Dense {
        self.dense.get_or_init(|| {
            Dense::build(&self.affs, self.principals.keys().copied(), |p| {
                self.principals.get(&p).is_some_and(|x| x.is_user && !x.disabled)
            })
        })
    }

    /// Scratch space for [`Model::rights_dense`] (one per thread).
    pub fn marks(&self) -> Marks {
        Marks::new(self.dense().len())
    }

    /// [`Model::rights`] into `out` as (dense user index, rights), in index order. The
    /// room marks its lists and its category's scope once; a user's mask is the OR of the
    /// marks over its closure (its own id included, as `∈*` counts it).
    pub fn rights_dense(&self, r: i64, marks: &mut Marks, out: &mut Vec<(u32, Rights)>) {
        const MEMBER: u8 = 1;
        const MANAGER: u8 = 2;
        const PRESENTER: u8 = 4;
        const ALLOWED: u8 = 8;
        const DENIED: u8 = 16;
        out.clear();
        let Some(room) = self.nodes.get(&r).filter(|n| !n.is_category) else { return };
        let (lists, scope) = (self.lists(r), self.scope(room.parent));
        let open = room.visibility == VISIBILITY_OPEN;
        let d = self.dense();
        for (set, bit, reaches) in [
            (&lists.members, MEMBER, true),
            (&lists.managers, MANAGER, true),
            (&lists.presenters, PRESENTER, true),
            (&scope.allowed, ALLOWED, open),
            (&scope.denied, DENIED, false),
        ] {
            for &p in set {
                marks.set(d, p, bit);
                if reaches {
                    marks.reach(d, p);
                }
            }
        }
        marks.evaluate(d, |u, m| {
            let in_scope = m & ALLOWED != 0 && m & DENIED == 0;
            let listed = m & (MEMBER | MANAGER | PRESENTER) != 0;
            let read = !room.disabled && in_scope && (open || listed);
            let post = read && (room.behavior == BEHAVIOR_NORMAL || m & PRESENTER != 0);
            let manage = m & MANAGER != 0 && in_scope;
            if read || manage {
                out.push((u, Rights { read, post, manage }));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(parent: i64, behavior: i64, visibility: i64) -> TargetNode {
        TargetNode {
            guid: String::new(),
            parent,
            is_category: false,
            name: String::new(),
            disabled: false,
            behavior,
            visibility,
        }
    }

    fn user(uri: &str, disabled: bool) -> TargetPrincipal {
        TargetPrincipal { uri: uri.into(), disabled, is_user: true }
    }

    /// Users 10, 11 in group 20; 12 outside; 13 disabled; category 2 allows group 20 and 12, denies 11.
    fn model(behavior: i64, visibility: i64) -> Model {
        let mut t = Model::default();
        for (id, dis) in [(10, false), (11, false), (12, false), (13, true)] {
            t.principals.insert(id, user(&format!("sip:{id}"), dis));
        }
        t.principals.insert(
            20,
            TargetPrincipal { uri: "ma-grp:20".into(), disabled: false, is_user: false },
        );
        t.affs = Affiliations::build(&[(10, 20), (11, 20), (13, 20)], t.principals.keys().copied());
        t.nodes.insert(2, TargetNode { is_category: true, ..node(1, 4, 3) });
        t.nodes.insert(5, node(2, behavior, visibility));
        t.scopes.insert(2, CategoryScope { allowed: [20, 12].into(), denied: [11].into() });
        t.lists.insert(
            5,
            RoomLists { members: [20].into(), managers: [12].into(), presenters: [10].into() },
        );
        t
    }

    #[test]
    fn denied_wins_and_disabled_users_get_nothing() {
        let r = model(BEHAVIOR_NORMAL, 3).rights(5);
        assert_eq!(r.keys().copied().collect::<Vec<_>>(), vec![10, 12]);
        assert_eq!(r[&12], Rights { read: true, post: true, manage: true });
    }

    #[test]
    fn auditorium_lets_only_presenters_post() {
        let r = model(5, 3).rights(5);
        assert!(r[&10].post);
        assert!(r[&12].read && !r[&12].post);
    }

    /// §3 evaluated naively, user by user, for checking the dense evaluation.
    fn naive(t: &Model, r: i64) -> BTreeMap<i64, Rights> {
        let room = &t.nodes[&r];
        let (lists, open) = (t.lists(r), room.visibility == VISIBILITY_OPEN);
        let mut out = BTreeMap::new();
        for (&u, p) in &t.principals {
            if !p.is_user || p.disabled {
                continue;
            }
            let within = |s: &BTreeSet<i64>| t.affs.within(u, s);
            let in_scope = t.in_scope(u, room.parent);
            let listed =
                within(&lists.members) || within(&lists.managers) || within(&lists.presenters);
            let read = !room.disabled && in_scope && (open || listed);
            let post = read && (room.behavior == BEHAVIOR_NORMAL || within(&lists.presenters));
            let manage = within(&lists.managers) && in_scope;
            if read || manage {
                out.insert(u, Rights { read, post, manage });
            }
        }
        out
    }

    #[test]
    fn dense_evaluation_matches_per_user_evaluation() {
        // Deterministic pseudo-random pools: users 100.., groups 10..16 (nested), lists and
        // scopes mixing groups and users.
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for round in 0..40 {
            let mut t = Model::default();
            let mut pairs = vec![(11, 10), (13, 12)];
            for g in 10..16 {
                t.principals.insert(
                    g,
                    TargetPrincipal { uri: format!("g{g}"), disabled: false, is_user: false },
                );
            }
            for u in 100..130 {
                t.principals.insert(u, user(&format!("u{u}"), next(10) == 0));
                for _ in 0..next(3) {
                    pairs.push((u, 10 + next(6) as i64));
                }
            }
            t.affs = Affiliations::build(&pairs, t.principals.keys().copied());
            let mut pick = |k: u64| -> BTreeSet<i64> {
                (0..k)
                    .map(|_| if next(2) == 0 { 10 + next(6) as i64 } else { 100 + next(30) as i64 })
                    .collect()
            };
            t.scopes.insert(2, CategoryScope { allowed: pick(4), denied: pick(1) });
            t.lists
                .insert(5, RoomLists { members: pick(4), managers: pick(2), presenters: pick(2) });
            let visibility = if round % 3 == 0 { VISIBILITY_OPEN } else { 3 };
            t.nodes.insert(2, TargetNode { is_category: true, ..node(1, 4, 3) });
            t.nodes.insert(5, node(2, 4 + (round % 2), visibility));
            assert_eq!(t.rights(5), naive(&t, 5), "round {round}");
        }
    }

    #[test]
    fn open_rooms_admit_the_whole_scope() {
        let mut t = model(BEHAVIOR_NORMAL, VISIBILITY_OPEN);
        t.lists.insert(5, RoomLists::default());
        let r = t.rights(5);
        assert_eq!(r.keys().copied().collect::<Vec<_>>(), vec![10, 12]);
        assert!(!r[&10].manage);
    }
}
