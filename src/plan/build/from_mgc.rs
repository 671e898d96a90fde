//! The build steps that differ for a Persistent Chat 2013 `mgc` source (a pool-to-pool
//! move, a pool split by `categories.csv` pools, a re-migration), read with MAPPING.md §3
//! instead of the legacy model of §2 (MAPPING.md §1 "A Persistent Chat source"):
//!
//! - **categories** are already flat: each source category keeps its rooms together (one
//!   class, never split), with its allowed AND denied scope rows and its `Creator` rows;
//! - **rooms** carry their `Member`, `Manager` and `Voiced` (presenter) rows one to one,
//!   their visibility as it is (Open included: it widens nothing the source did not
//!   grant), their own invitation setting, add-in and description;
//! - role rows match on `tblRoleType.rtypeDesc`, never on ids; a row that has no place in
//!   2013 (a room list on a category, a Creator on a room) is a finding, not a guess.
//!
//! The rest of the build (names, pools, waves, principals, messages, capacity) is shared.
//! A list entry outside its category's allowed members (which Persistent Chat does not
//! accept) is fitted by the same `restrict` as §4 — exact under §3, where such an entry
//! grants only its in-scope users — and reported.

use std::collections::{BTreeSet, HashMap};

use super::access::{absorb, note_principal, restrict, Restriction};
use super::rooms::{ClassKey, RoomDraft};
use super::Builder;
use crate::mapping::legacy::{principals, Grant, Role, Scope};
use crate::model::{Snapshot, BEHAVIOR_NORMAL, VISIBILITY_PRIVATE};
use crate::plan::{PlanCategory, Severity};

/// The role lists of one room: members, managers, presenters.
pub(super) type Lists = (Vec<i64>, Vec<i64>, Vec<i64>);

/// An `mgc` source's scope rows by (node, denied), rows naming a missing principal left out
/// (they grant nobody); empty for a legacy source, which never asks.
pub(super) fn scope_index(snap: &Snapshot) -> HashMap<(i64, bool), BTreeSet<i64>> {
    let mut out: HashMap<(i64, bool), BTreeSet<i64>> = HashMap::new();
    if crate::verify::mgc_source::is_mgc(snap) {
        for s in snap.scopes.iter().filter(|s| snap.principals.contains_key(&s.prin_id)) {
            out.entry((s.node_id, s.denied)).or_default().insert(s.prin_id);
        }
    }
    out
}

impl<'a> Builder<'a> {
    /// Whether the source is a Persistent Chat `mgc` (read with §3).
    pub(super) fn mgc(&self) -> bool {
        crate::verify::mgc_source::is_mgc(self.snap)
    }

    /// The scope rows of source node `id`: allowed (`scopeIsDenied` = 0) or denied. Rows
    /// naming a missing principal grant nobody (a `DATA_ERROR` of `integrity.rs`).
    fn mgc_scope(&self, id: i64, denied: bool) -> Vec<i64> {
        self.mgc_scopes.get(&(id, denied)).into_iter().flatten().copied().collect()
    }

    /// The class of an `mgc` category: its own settings, so that all its rooms stay in it.
    pub(super) fn mgc_key(&self, parent: i64) -> ClassKey {
        let node = self.lg.node(parent);
        ClassKey {
            parent,
            scope: Scope::Set(self.mgc_scope(parent, false).into_iter().collect()),
            logged: node.and_then(|n| n.logged).unwrap_or(true),
            file_post: node.and_then(|n| n.file_post).unwrap_or(true),
            invite: node.and_then(|n| n.invite).unwrap_or(true),
        }
    }

    /// Step 1 for an `mgc` source: every room goes with its own category.
    pub(super) fn mgc_classes(&self, drafts: &mut [RoomDraft<'a>]) {
        for d in drafts.iter_mut() {
            d.key = self.mgc_key(d.key.parent);
        }
    }

    /// Step 2 for an `mgc` source, after the shared naming: each category's denied rows and
    /// its Creator rows (fitted within its allowed members), as the source has them.
    pub(super) fn mgc_category_access(&mut self) {
        let mut cats = std::mem::take(&mut self.categories);
        for c in &mut cats {
            c.denied = self.mgc_scope(c.legacy_id, true);
            let creators = self.lg.grants(c.legacy_id, Role::Creator);
            c.creators = self.fit(&creators, &c.allowed, &c.legacy_path, &c.guid);
        }
        self.categories = cats;
        self.misplaced_roles();
    }

    /// Step 3 for an `mgc` source: a room's lists one to one. A presenter of a normal room
    /// (which 2013 does not allow) becomes a member: under §3 both read and post there.
    pub(super) fn mgc_room_access(&mut self, d: &RoomDraft<'a>, cat: &PlanCategory) -> Lists {
        let (node, path, guid) = (d.node, d.path.as_str(), d.node.guid.as_str());
        let mut members = self.lg.grants(node.id, Role::Member);
        let managers = self.lg.grants(node.id, Role::Manager);
        let mut presenters = self.lg.grants(node.id, Role::Voiced);
        if node.behavior == BEHAVIOR_NORMAL && !presenters.is_empty() {
            self.f.add(Severity::Info, "PRESENTER_TO_MEMBER", path, Some(guid),
                format!("{} presenter(s) of this normal room become members: 2013 allows presenters only in \
                         auditorium rooms, and a member can read and post as they could", presenters.len()));
            members.append(&mut presenters);
        }
        let members = self.fit(&members, &cat.allowed, path, guid);
        let managers = self.fit(&managers, &cat.allowed, path, guid);
        let presenters = self.fit(&presenters, &cat.allowed, path, guid);
        for p in members.iter().chain(&managers).chain(&presenters) {
            note_principal(&mut self.f, self.snap, *p, &mut self.fed_seen, &mut self.disabled_seen);
        }
        (members, managers, presenters)
    }

    /// An `mgc` room's visibility as stored; a missing or unknown value is read narrowly
    /// (Secret), as `integrity.rs` reports it.
    pub(super) fn mgc_visibility(&self, d: &RoomDraft<'a>) -> i64 {
        match d.node.visibility {
            Some(v) if super::integrity::visibility_known(v, self.snap.version) => v,
            _ => VISIBILITY_PRIVATE,
        }
    }

    /// `grants` fitted within `allowed` (Persistent Chat requires it), with a finding for
    /// every entry changed; unchanged for a source that Persistent Chat itself wrote.
    fn fit(&mut self, grants: &[Grant], allowed: &[i64], path: &str, guid: &str) -> Vec<i64> {
        let scope = Scope::Set(allowed.iter().copied().collect());
        let (kept, notes) = restrict(&self.lg, &mut self.marks, grants, &scope, allowed);
        for note in &notes {
            let (sev, code) = match note {
                Restriction::Expanded { .. } => (Severity::Info, "GROUP_EXPANDED"),
                Restriction::Dropped { .. } => (Severity::Warning, "ACL_OUTSIDE_SCOPE_DROPPED"),
            };
            self.f.add(sev, code, path, Some(guid), note.describe(self.snap));
        }
        absorb(kept, &notes)
    }

    /// Reports the role rows of an `mgc` source that have no place in 2013 and are not
    /// carried: a room list on a category, a Creator on a room.
    fn misplaced_roles(&mut self) {
        let lg = &self.lg;
        let mut found = Vec::new();
        for n in self.snap.nodes.values() {
            let roles: &[Role] = if n.is_category {
                &[Role::Member, Role::Manager, Role::Voiced]
            } else {
                &[Role::Creator]
            };
            for role in roles {
                let who = principals(&lg.grants(n.id, *role));
                if !who.is_empty() {
                    let mut who: Vec<i64> = who.into_iter().collect();
                    who.sort_unstable();
                    found.push((n.id, n.guid.clone(), n.is_category, *role, who));
                }
            }
        }
        for (id, guid, is_category, role, who) in found {
            let subject = lg.ancestors_or_self(id).map(|c| self.path_of(&c)).unwrap_or_default();
            let on = if is_category { "category" } else { "room" };
            let list = who.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            self.f.add(Severity::Warning, "ROLE_NOT_CARRIED", &subject, Some(&guid),
                format!("{role:?} row(s) of prinID(s) {list} on a {on}: Persistent Chat 2013 has no such role \
                         there, and they granted nothing under its rules; they are not migrated"));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::mapping::Mappings;
    use crate::model::*;

    fn prin(id: i64, ty: i64) -> Principal {
        Principal::blank(id, ty)
    }

    /// Category 2 allows group 20, denies user 11, has Creator 10 and a stray Member row;
    /// room 3 (normal, Closed) lists 20 as member, 12 (outside the scope) as manager and 10
    /// as presenter; room 4 is Open with invitations off. Role ids are not 1–4.
    fn snap() -> Snapshot {
        let mut s = Snapshot { version: Some(SourceVersion::Mgc2013), ..Default::default() };
        for (id, user) in [(5, true), (9, false)] {
            let desc = String::new();
            s.principal_types.insert(
                id,
                PrincipalType {
                    id,
                    desc,
                    is_system_user: false,
                    is_user: user,
                    is_federated: false,
                },
            );
        }
        for (id, ty) in [(10, 5), (11, 5), (12, 5), (20, 9)] {
            s.principals.insert(id, prin(id, ty));
        }
        s.affiliations = vec![(10, 20), (11, 20)];
        s.nodes.insert(1, Node::blank(1, Some(1), true, "Root"));
        s.nodes.insert(2, Node::blank(2, Some(1), true, "Cat"));
        let mut closed = Node::blank(3, Some(2), false, "closed");
        closed.visibility = Some(VISIBILITY_SCOPED);
        let mut open = Node::blank(4, Some(2), false, "open");
        open.visibility = Some(VISIBILITY_OPEN);
        open.invite = Some(false);
        s.nodes.insert(3, closed);
        s.nodes.insert(4, open);
        s.role_types = [
            (11, "Manager".into()),
            (12, "Member".into()),
            (13, "Creator".into()),
            (14, "Voiced".into()),
        ]
        .into();
        let deny = |n, p, d| ScopeRow { node_id: n, prin_id: p, denied: d };
        s.scopes = vec![deny(2, 20, false), deny(2, 11, true)];
        let role =
            |n, p, t| RoleRow { node_id: n, prin_id: p, role_type_id: t, honors_scope: true };
        s.roles = vec![
            role(2, 10, 13),
            role(2, 12, 12),
            role(3, 20, 12),
            role(3, 12, 11),
            role(3, 10, 14),
        ];
        s
    }

    #[test]
    fn an_mgc_source_keeps_its_categories_scopes_and_role_rows() {
        let plan = crate::plan::build(&snap(), &Mappings::default(), &[]);
        assert_eq!(plan.categories.len(), 1, "one flat category, never split");
        let c = &plan.categories[0];
        assert_eq!(
            (c.allowed.clone(), c.denied.clone(), c.creators.clone()),
            (vec![20], vec![11], vec![10])
        );
        let room = |id| plan.rooms.iter().find(|r| r.legacy_id == id).unwrap();
        // The presenter of a normal room is a member; 12 lies outside the scope: dropped.
        assert_eq!((room(3).members.clone(), room(3).managers.clone()), (vec![10, 20], vec![]));
        assert!(room(3).presenters.is_empty());
        assert_eq!((room(4).visibility, room(4).invite), (VISIBILITY_OPEN, Some(false)));
        let codes: Vec<&str> = plan.findings.iter().map(|f| f.code.as_str()).collect();
        for code in ["ROLE_NOT_CARRIED", "PRESENTER_TO_MEMBER", "ACL_OUTSIDE_SCOPE_DROPPED"] {
            assert!(codes.contains(&code), "{code}: {codes:?}");
        }
        assert!(!codes.contains(&"CATEGORY_SPLIT") && !codes.contains(&"NO_DOMAIN_PRINCIPAL"));
        // The plan's own §3-against-§3 check finds nothing widened.
        assert!(crate::verify::planned::check(&plan, &snap()).gained.is_empty());
    }
}
