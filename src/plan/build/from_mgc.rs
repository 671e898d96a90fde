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

use std::collections::BTreeSet;

use super::access::{note_principal, restrict, Restriction};
use super::rooms::{ClassKey, RoomDraft};
use super::Builder;
use crate::mapping::legacy::{principals, Grant, Role, Scope};
use crate::model::{BEHAVIOR_NORMAL, VISIBILITY_PRIVATE};
use crate::plan::{PlanCategory, Severity};

/// The role lists of one room: members, managers, presenters.
pub(super) type Lists = (Vec<i64>, Vec<i64>, Vec<i64>);

impl<'a> Builder<'a> {
    /// Whether the source is a Persistent Chat `mgc` (read with §3).
    pub(super) fn mgc(&self) -> bool {
        crate::verify::mgc_source::is_mgc(self.snap)
    }

    /// The scope rows of source node `id`: allowed (`scopeIsDenied` = 0) or denied. Rows
    /// naming a missing principal grant nobody (a `DATA_ERROR` of `integrity.rs`).
    fn mgc_scope(&self, id: i64, denied: bool) -> Vec<i64> {
        let snap = self.snap;
        let rows = snap.scopes.iter().filter(|s| s.node_id == id && s.denied == denied);
        let set: BTreeSet<i64> =
            rows.map(|s| s.prin_id).filter(|p| snap.principals.contains_key(p)).collect();
        set.into_iter().collect()
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
        kept
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
