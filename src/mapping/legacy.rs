//! Legacy effective access (MAPPING.md §1–§2): the tree walks, effective scopes, member
//! lists, accumulated managers and voiced principals, and who may read, post and manage.
//!
//! Principals are handled by legacy `prinID`. `u ∈* S` is [`Affiliations::within`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

pub use super::affiliations::Affiliations;
use super::dense::{Dense, Marks};

use crate::model::{Node, RoleRow, Snapshot, BEHAVIOR_NORMAL};

/// The root `nodeID`.
pub const ROOT: i64 = 1;

/// A principal set, or "every user" (a root without scope rows).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// No scope row up to the root: every user.
    Everyone,
    /// The principals of the nearest scope list.
    Set(BTreeSet<i64>),
}

/// Role names as matched on `tblRoleType.rtypeDesc` (never on ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// `Member`.
    Member,
    /// `Manager`.
    Manager,
    /// `Voiced` (presenter).
    Voiced,
    /// `Creator` (2013 sources).
    Creator,
}

impl Role {
    /// Parses an `rtypeDesc`, case-insensitively.
    pub fn from_desc(desc: &str) -> Option<Role> {
        match desc.trim().to_ascii_lowercase().as_str() {
            "member" => Some(Role::Member),
            "manager" => Some(Role::Manager),
            "voiced" | "presenter" => Some(Role::Voiced),
            "creator" => Some(Role::Creator),
            _ => None,
        }
    }
}

/// A broken piece of the legacy tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeError {
    /// Walking up from the node never reached the root.
    Cycle,
    /// A parent id that is not in `tblNode`.
    MissingParent(i64),
    /// A room that has children.
    RoomWithChildren(i64),
    /// An ancestor whose `nodeType` is neither 0 (room) nor 1 (category).
    BadNodeType(i64, i64),
}

impl std::fmt::Display for TreeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TreeError::Cycle => write!(f, "the parent chain loops and never reaches the root"),
            TreeError::MissingParent(p) => write!(f, "parent node {p} does not exist"),
            TreeError::RoomWithChildren(r) => write!(f, "ancestor {r} is a room but has children"),
            TreeError::BadNodeType(n, t) => {
                write!(
                    f,
                    "ancestor {n} has nodeType {t}, which is neither a room (0) nor a category (1)"
                )
            }
        }
    }
}

/// The legacy model, indexed for the access rules.
pub struct Legacy<'a> {
    /// The snapshot read from the source.
    pub snap: &'a Snapshot,
    /// Affiliations, as stored.
    pub affs: Affiliations,
    scope_rows: HashMap<i64, BTreeSet<i64>>,
    roles: HashMap<(i64, Role), Vec<RoleRow>>,
    /// Role rows whose `rtypeDesc` is not a known role.
    pub unknown_roles: Vec<(RoleRow, String)>,
    users: BTreeSet<i64>,
    dense: OnceLock<Dense>,
}

/// A principal with a role row on a node, and whether that row honours scope.
pub type Grant = (i64, bool);

impl<'a> Legacy<'a> {
    /// Indexes a snapshot.
    pub fn new(snap: &'a Snapshot) -> Legacy<'a> {
        let affs = Affiliations::build(&snap.affiliations, snap.principals.keys().copied());
        // A row naming a missing principal grants nobody, but the list it belongs to still
        // exists: a scope list of only such rows is empty (nobody), not "no list here" (which
        // would walk up to a wider one). MAPPING.md "Broken data is read narrowly".
        let mut scope_rows: HashMap<i64, BTreeSet<i64>> = HashMap::new();
        for s in snap.scopes.iter().filter(|s| !s.denied) {
            let list = scope_rows.entry(s.node_id).or_default();
            if snap.principals.contains_key(&s.prin_id) {
                list.insert(s.prin_id);
            }
        }
        let mut roles: HashMap<(i64, Role), Vec<RoleRow>> = HashMap::new();
        let mut unknown_roles = Vec::new();
        for r in snap.roles.iter().filter(|r| snap.principals.contains_key(&r.prin_id)) {
            let desc = snap.role_types.get(&r.role_type_id).cloned().unwrap_or_default();
            match Role::from_desc(&desc) {
                Some(role) => roles.entry((r.node_id, role)).or_default().push(*r),
                None => unknown_roles.push((*r, desc)),
            }
        }
        let users = snap
            .principals
            .values()
            .filter(|p| snap.principal_types.get(&p.type_id).is_some_and(|t| t.is_user))
            .map(|p| p.id)
            .collect();
        Legacy { snap, affs, scope_rows, roles, unknown_roles, users, dense: OnceLock::new() }
    }

    /// A node by id.
    pub fn node(&self, id: i64) -> Option<&'a Node> {
        self.snap.nodes.get(&id)
    }

    /// Whether principal `p` is a user type.
    pub fn is_user(&self, p: i64) -> bool {
        self.users.contains(&p)
    }

    /// All user principals.
    pub fn users(&self) -> &BTreeSet<i64> {
        &self.users
    }

    /// Whether principal `p` exists and is disabled.
    pub fn is_disabled(&self, p: i64) -> bool {
        self.snap.principals.get(&p).is_some_and(|x| x.disabled)
    }

    /// The chain from `id` up to the root, `id` first and the root last.
    pub fn ancestors_or_self(&self, id: i64) -> Result<Vec<i64>, TreeError> {
        let mut chain = vec![id];
        let mut cur = id;
        while cur != ROOT {
            let node = self.node(cur).ok_or(TreeError::MissingParent(cur))?;
            let parent = node.parent_id.unwrap_or(ROOT);
            if parent == cur || chain.contains(&parent) {
                return Err(TreeError::Cycle);
            }
            let pnode = self.node(parent).ok_or(TreeError::MissingParent(parent))?;
            if !pnode.is_category {
                return Err(TreeError::RoomWithChildren(parent));
            }
            if let Some(t) = pnode.node_type.filter(|t| !matches!(t, 0 | 1)) {
                return Err(TreeError::BadNodeType(parent, t));
            }
            chain.push(parent);
            cur = parent;
        }
        Ok(chain)
    }

    /// `scope(n)`: the nearest scope list from `scopeDefinerId` upward; the root without
    /// rows means every user. A `scopeDefinerId` naming a missing node, or one whose chain
    /// is broken, is read narrowly: nobody (the plan reports it as a `DATA_ERROR`).
    pub fn scope(&self, id: i64) -> Result<Scope, TreeError> {
        let definer = self.node(id).and_then(|n| n.scope_definer_id);
        let start = definer.unwrap_or(id);
        if self.node(start).is_none() {
            // The room's own chain decides whether the room is rejected; its scope is nobody.
            self.ancestors_or_self(id)?;
            return Ok(Scope::Set(BTreeSet::new()));
        }
        let chain = match self.ancestors_or_self(start) {
            Ok(c) => c,
            Err(e) if definer.is_none() => return Err(e),
            Err(_) => {
                self.ancestors_or_self(id)?;
                return Ok(Scope::Set(BTreeSet::new()));
            }
        };
        for n in chain {
            if let Some(rows) = self.scope_rows.get(&n) {
                return Ok(Scope::Set(rows.clone()));
            }
        }
        Ok(Scope::Everyone)
    }

    /// The node where `id`'s member list was started; `None` when `roleDefinerId` names a
    /// missing node (read narrowly: an empty member list).
    pub fn member_definer(&self, id: i64) -> Result<Option<i64>, TreeError> {
        if let Some(d) = self.node(id).and_then(|n| n.role_definer_id) {
            return Ok(self.node(d).is_some().then_some(d));
        }
        for n in self.ancestors_or_self(id)? {
            if self.node(n).is_some_and(|x| x.override_member) {
                return Ok(Some(n));
            }
        }
        Ok(Some(ROOT))
    }

    /// Role rows of `role` placed directly on node `id`.
    pub fn grants(&self, id: i64, role: Role) -> Vec<Grant> {
        self.roles
            .get(&(id, role))
            .into_iter()
            .flatten()
            .map(|r| (r.prin_id, r.honors_scope))
            .collect()
    }

    /// `members(n)`.
    pub fn members(&self, id: i64) -> Result<Vec<Grant>, TreeError> {
        Ok(self.member_definer(id)?.map(|d| self.grants(d, Role::Member)).unwrap_or_default())
    }

    /// `managers(n)`: the union down the chain; with `skip_root`, the root's are left out.
    pub fn managers(&self, id: i64, skip_root: bool) -> Result<Vec<Grant>, TreeError> {
        let mut out = Vec::new();
        for n in self.ancestors_or_self(id)? {
            if !(skip_root && n == ROOT) {
                out.extend(self.grants(n, Role::Manager));
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// `voiced(n)`: Voiced rows on the room itself.
    pub fn voiced(&self, id: i64) -> Vec<Grant> {
        self.grants(id, Role::Voiced)
    }

    /// The effective value of an inheritable bit: own, else nearest ancestor, else `default`.
    pub fn inherited(&self, id: i64, get: impl Fn(&Node) -> Option<bool>, default: bool) -> bool {
        let chain = self.ancestors_or_self(id).unwrap_or_else(|_| vec![id]);
        chain.iter().filter_map(|n| self.node(*n)).find_map(&get).unwrap_or(default)
    }

    /// The effective visibility: own, else nearest ancestor's, else `default`.
    pub fn visibility(&self, id: i64, default: i64) -> i64 {
        let chain = self.ancestors_or_self(id).unwrap_or_else(|_| vec![id]);
        chain.iter().filter_map(|n| self.node(*n)).find_map(|n| n.visibility).unwrap_or(default)
    }

    /// Every user's rights on room `id` under MAPPING.md §2.
    pub fn rights(&self, id: i64) -> Result<BTreeMap<i64, Rights>, TreeError> {
        let mut marks = self.marks();
        let mut out = Vec::new();
        self.rights_dense(id, &mut marks, &mut out)?;
        let d = self.dense();
        Ok(out.into_iter().map(|(u, r)| (d.id(u), r)).collect())
    }

    /// The dense principal index (built on first use).
    pub fn dense(&self) -> &Dense {
        self.dense.get_or_init(|| {
            let listed = self.snap.affiliations.iter().flat_map(|(p, a)| [*p, *a]);
            Dense::build(&self.affs, self.snap.principals.keys().copied().chain(listed), |p| {
                self.is_user(p) && !self.is_disabled(p)
            })
        })
    }

    /// Scratch space for [`Legacy::rights_dense`] (one per thread).
    pub fn marks(&self) -> Marks {
        Marks::new(self.dense().len())
    }

    /// [`Legacy::rights`] into `out` as (dense user index, rights), in index order: each
    /// room marks its scope and grant lists once, each user ORs the marks of its closure.
    pub fn rights_dense(
        &self,
        id: i64,
        marks: &mut Marks,
        out: &mut Vec<(u32, Rights)>,
    ) -> Result<(), TreeError> {
        const SCOPE: u8 = 1 << 6;
        out.clear();
        let Some(room) = self.node(id) else { return Ok(()) };
        let d = self.dense();
        let everyone = match self.scope(id)? {
            Scope::Everyone => true,
            Scope::Set(s) => {
                s.iter().for_each(|p| marks.set(d, *p, SCOPE));
                false
            }
        };
        // Bits 0/1: members honouring scope / not; 2/3 managers; 4/5 voiced.
        let lists = [self.members(id)?, self.managers(id, false)?, self.voiced(id)];
        for (k, list) in lists.iter().enumerate() {
            for &(p, honors) in list {
                marks.set(d, p, 1 << (2 * k + usize::from(!honors)));
                marks.reach(d, p);
            }
        }
        marks.evaluate(d, |u, m| {
            let in_scope = everyone || m & SCOPE != 0;
            let counts = |k: u32| m & (2 << (2 * k)) != 0 || (m & (1 << (2 * k)) != 0 && in_scope);
            let read = !room.disabled && in_scope && (counts(0) || counts(1) || counts(2));
            let post = read && (room.behavior == BEHAVIOR_NORMAL || counts(2));
            let manage = counts(1);
            if read || manage {
                out.push((u, Rights { read, post, manage }));
            }
        });
        Ok(())
    }

    /// §2 evaluated user by user, as the specification words it (tests check the dense
    /// evaluation against it).
    #[cfg(test)]
    pub fn rights_naive(&self, id: i64) -> Result<BTreeMap<i64, Rights>, TreeError> {
        let Some(room) = self.node(id) else { return Ok(BTreeMap::new()) };
        let scope = self.scope(id)?;
        let counts = |u: i64, g: &[Grant]| {
            g.iter().any(|&(p, honors)| {
                self.affs.of(u).any(|a| a == p) && (!honors || self.affs.in_scope(u, &scope))
            })
        };
        let (members, managers, voiced) =
            (self.members(id)?, self.managers(id, false)?, self.voiced(id));
        let mut out = BTreeMap::new();
        for &u in &self.users {
            if self.is_disabled(u) {
                continue;
            }
            let in_scope = self.affs.in_scope(u, &scope);
            let listed = counts(u, &members) || counts(u, &managers) || counts(u, &voiced);
            let read = !room.disabled && in_scope && listed;
            let post = read && (room.behavior == BEHAVIOR_NORMAL || counts(u, &voiced));
            let manage = counts(u, &managers);
            if read || manage {
                out.insert(u, Rights { read, post, manage });
            }
        }
        Ok(out)
    }
}

/// What a user may do in a room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rights {
    /// Read the room (join, see history).
    pub read: bool,
    /// Post in the room.
    pub post: bool,
    /// Manage the room.
    pub manage: bool,
}

/// Principals of a grant list, without the honours-scope flag.
pub fn principals(grants: &[Grant]) -> HashSet<i64> {
    grants.iter().map(|g| g.0).collect()
}

#[cfg(test)]
#[path = "legacy_tests.rs"]
mod tests;
