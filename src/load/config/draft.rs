//! The rows of one configuration run, table by table: principals with their affiliations,
//! add-ins, categories with their scopes, rooms, role lists and invitations, added to one
//! [`Batch`] in the order the target's foreign keys need, while the [`IdMap`] records every
//! legacy → target id and every inserted key.

use std::collections::HashMap;

use anyhow::Result;

use super::{IdMap, TargetState};
use crate::db::batch::{Batch, Value, ADDIN, AFFILIATION, INVITE, NODE, PRINCIPAL, ROLE, SCOPE};
use crate::error::bad_input;
use crate::mapping::legacy::Role;
use crate::model::{Snapshot, BEHAVIOR_NORMAL, VISIBILITY_SCOPED};
use crate::plan::{Plan, PlanCategory, PlanPrincipal, PlanRoom};

/// The batch and id maps of one configuration run while its rows are added.
pub(super) struct Draft<'a> {
    plan: &'a Plan,
    snap: &'a Snapshot,
    st: &'a mut TargetState,
    b: Batch,
    map: IdMap,
    /// `prinVerifiedOn` of the principals inserted.
    now_text: String,
    /// .NET ticks standing in for "now" in node timestamps.
    now_ticks: i64,
    /// The principals this pool's rooms need (`None`: every principal of the plan).
    pub(super) needed: Option<&'a std::collections::BTreeSet<i64>>,
}

impl<'a> Draft<'a> {
    /// An empty batch whose maps start from `known`, the maps of earlier waves.
    pub(super) fn new(
        plan: &'a Plan,
        snap: &'a Snapshot,
        known: &IdMap,
        st: &'a mut TargetState,
    ) -> Draft<'a> {
        let b = Batch::default();
        let map = IdMap {
            principals: known.principals.clone(),
            categories: known.categories.clone(),
            rooms: known.rooms.clone(),
            ..IdMap::default()
        };
        let now_text = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        let now_ticks = chrono::Utc::now().timestamp() * 10_000_000 + 621_355_968_000_000_000;
        Draft { plan, snap, st, b, map, now_text, now_ticks, needed: None }
    }

    /// The batch and the maps, once every row is added.
    pub(super) fn finish(mut self) -> (Batch, IdMap) {
        self.b.shrink_to_fit();
        let ins = &mut self.map.inserted;
        ins.principals.shrink_to_fit();
        ins.affiliations.shrink_to_fit();
        ins.roles.shrink_to_fit();
        (self.b, self.map)
    }

    /// Maps the plan's principals not mapped yet onto target ids, found by GUID, then URI, or
    /// new; returns the new ones, which must be inserted.
    pub(super) fn match_principals(&mut self) -> Vec<(&'a PlanPrincipal, i64)> {
        let (plan, st) = (self.plan, &mut *self.st);
        let mut new_prins = Vec::new();
        for p in &plan.principals {
            if self.map.principals.contains_key(&p.legacy_id)
                || self.needed.is_some_and(|n| !n.contains(&p.legacy_id))
            {
                continue;
            }
            let found = st
                .by_guid
                .get(&p.guid)
                .or_else(|| st.by_uri.get(&p.uri.to_ascii_lowercase()))
                .copied();
            let id = found.unwrap_or_else(|| {
                let id = st.next_prin;
                st.next_prin += 1;
                new_prins.push((p, id));
                // A later plan principal with the same GUID or URI (a principals.csv merger
                // of several legacy principals onto one) reuses this one: one URI, one row.
                st.by_guid.insert(p.guid.to_ascii_lowercase(), id);
                st.by_uri.insert(p.uri.to_ascii_lowercase(), id);
                id
            });
            self.map.principals.insert(p.legacy_id, id);
        }
        new_prins
    }

    /// Inserts the new principals, with their legacy details.
    pub(super) fn insert_principals(&mut self, new_prins: &[(&PlanPrincipal, i64)]) -> Result<()> {
        for (p, id) in new_prins {
            let Some(src) = self.snap.principals.get(&p.legacy_id) else {
                return Err(stale(&format!("principal {} (legacy prinID {})", p.uri, p.legacy_id)));
            };
            self.b.insert(
                &PRINCIPAL,
                vec![
                    (*id).into(),
                    p.guid.as_str().into(),
                    p.uri.as_str().into(),
                    common_name(src.ad_path.as_deref(), p.display_name.as_deref()).into(),
                    p.display_name.clone().into(),
                    src.company.clone().into(),
                    src.email.clone().into(),
                    src.ad_path.clone().into(),
                    src.upn.clone().into(),
                    p.disabled.into(),
                    p.target_type.into(),
                    1i64.into(),
                    src.added_on.into(),
                    1i64.into(),
                    src.updated_on.into(),
                    self.now_text.as_str().into(),
                ],
            );
            self.map.inserted.principals.push(*id);
        }
        Ok(())
    }

    /// Inserts the affiliations of the new principals: each to itself at index -1, then
    /// its legacy affiliations that are mapped.
    pub(super) fn insert_affiliations(&mut self, new_prins: &[(&PlanPrincipal, i64)]) {
        let mut affs_of: HashMap<i64, Vec<i64>> = HashMap::new();
        for &(who, aff) in &self.snap.affiliations {
            if aff != who {
                affs_of.entry(who).or_default().push(aff);
            }
        }
        // At most: each new principal's own row and its stored rows (all mapped).
        let most: usize =
            new_prins.iter().map(|(p, _)| 1 + affs_of.get(&p.legacy_id).map_or(0, Vec::len)).sum();
        self.b.reserve_ints(&AFFILIATION, most);
        self.map.inserted.affiliations.reserve_exact(most);
        for (p, id) in new_prins {
            let mut pairs: Vec<(i64, i64)> = vec![(*id, -1)];
            for aff in affs_of.get(&p.legacy_id).into_iter().flatten() {
                if let Some(t) = self.map.principals.get(aff) {
                    pairs.push((*t, pairs.len() as i64));
                }
            }
            for (aff, idx) in pairs {
                self.b
                    .insert(&AFFILIATION, vec![(*id).into(), aff.into(), idx.into(), 1i64.into()]);
                self.map.inserted.affiliations.push((*id, aff, idx));
            }
        }
    }

    /// Inserts the add-ins `rooms` reference that the target does not have yet (each pool
    /// registers the add-ins its own rooms need).
    pub(super) fn insert_addins(&mut self, rooms: &[&PlanRoom]) {
        let plan = self.plan;
        // And, in the default pool, the unused ones the mappings carry.
        let carried = rooms.first().map_or(&[][..], |r| plan.carried_addins(&r.pool));
        let referenced =
            plan.addins.iter().filter(|a| rooms.iter().any(|r| r.addin.as_ref() == Some(&a.id)));
        for a in referenced.chain(carried) {
            if self.st.addins.insert(a.id.clone()) {
                self.b.insert(
                    &ADDIN,
                    vec![a.id.as_str().into(), a.name.as_str().into(), a.url.as_str().into()],
                );
                self.map.inserted.addins.push(a.id.clone());
            }
        }
    }

    /// Inserts the categories `rooms` need that earlier waves did not write, with their
    /// scopes; returns them, for their creator rows ([`Draft::insert_roles`]).
    pub(super) fn insert_categories(
        &mut self,
        rooms: &[&PlanRoom],
    ) -> Result<Vec<&'a PlanCategory>> {
        let (plan, snap) = (self.plan, self.snap);
        let mut cat_keys: Vec<&String> = rooms.iter().map(|r| &r.category).collect();
        cat_keys.sort();
        cat_keys.dedup();
        let mut inserted = Vec::new();
        for key in cat_keys {
            let Some(c) = plan.category(key).filter(|_| !self.map.categories.contains_key(key))
            else {
                continue;
            };
            let id = self.st.next_node;
            self.st.next_node += 1;
            let added = snap.nodes.get(&c.legacy_id).map_or(self.now_ticks, |n| n.added_on);
            self.b.insert(
                &NODE,
                vec![
                    id.into(),
                    c.guid.as_str().into(),
                    1i64.into(),
                    1i64.into(),
                    c.name.as_str().into(),
                    c.desc.as_str().into(),
                    c.invite.into(),
                    c.logged.into(),
                    c.file_post.into(),
                    false.into(),
                    BEHAVIOR_NORMAL.into(),
                    VISIBILITY_SCOPED.into(),
                    Value::Null,
                    1i64.into(),
                    added.into(),
                    1i64.into(),
                    self.now_ticks.into(),
                ],
            );
            self.map.inserted.nodes.push(id);
            self.map.categories.insert(key.clone(), id);
            let on = || format!("the scope of category `{}`", c.name);
            for (list, denied) in [(&c.allowed, false), (&c.denied, true)] {
                for p in list {
                    let pid = target_prin(&self.map, *p, on)?;
                    self.b.insert(&SCOPE, vec![id.into(), pid.into(), denied.into(), 1i64.into()]);
                    self.map.inserted.scopes.push((id, pid));
                }
            }
            inserted.push(c);
        }
        Ok(inserted)
    }

    /// Inserts `rooms` into their categories (their role lists: [`Draft::insert_roles`]).
    pub(super) fn insert_rooms(&mut self, rooms: &[&PlanRoom]) -> Result<()> {
        let snap = self.snap;
        for r in rooms {
            let Some(legacy) = snap.nodes.get(&r.legacy_id) else {
                return Err(stale(&format!(
                    "room {} (legacy nodeID {})",
                    r.legacy_path, r.legacy_id
                )));
            };
            let Some(&category) = self.map.categories.get(&r.category) else {
                return Err(stale(&format!("category {} of room {}", r.category, r.legacy_path)));
            };
            let id = self.st.next_node;
            self.st.next_node += 1;
            let map = &mut self.map;
            let by = |p: i64| map.principals.get(&p).copied().unwrap_or(1);
            self.b.insert(
                &NODE,
                vec![
                    id.into(),
                    r.legacy_guid.as_str().into(),
                    category.into(),
                    0i64.into(),
                    r.target_name.as_str().into(),
                    r.desc.as_str().into(),
                    r.invite.into(),
                    Value::Null,
                    Value::Null,
                    // Staged: disabled until the wave's cutover, whatever its legacy state.
                    true.into(),
                    r.behavior.into(),
                    r.visibility.into(),
                    r.addin.clone().into(),
                    by(legacy.added_by).into(),
                    legacy.added_on.into(),
                    by(legacy.updated_by).into(),
                    legacy.updated_on.into(),
                ],
            );
            map.inserted.nodes.push(id);
            map.rooms.insert(r.legacy_id, id);
        }
        Ok(())
    }

    /// Inserts the role rows of the categories and rooms just inserted: the categories'
    /// creators, then each room's members, managers and presenters. Written straight into
    /// the batch (millions of rows at the largest pool: no list of them in between).
    pub(super) fn insert_roles(
        &mut self,
        categories: &[&PlanCategory],
        rooms: &[&PlanRoom],
    ) -> Result<()> {
        let rows = categories.iter().map(|c| c.creators.len()).sum::<usize>()
            + rooms.iter().flat_map(|r| r.role_lists()).map(|(l, _)| l.len()).sum::<usize>();
        self.b.reserve_ints(&ROLE, rows);
        self.map.inserted.roles.reserve_exact(rows);
        for c in categories {
            let Some(&node) = self.map.categories.get(&c.key) else {
                return Err(stale(&format!("category {}", c.key)));
            };
            let on = || format!("the creators of category `{}`", c.name);
            self.insert_role_list(node, &c.creators, Role::Creator, on)?;
        }
        for r in rooms {
            let Some(&node) = self.map.rooms.get(&r.legacy_id) else {
                return Err(stale(&format!(
                    "room {} (legacy nodeID {})",
                    r.legacy_path, r.legacy_id
                )));
            };
            for (list, role) in r.role_lists() {
                let on = || format!("the {role:?} list of room {}", r.legacy_path);
                self.insert_role_list(node, list, role, on)?;
            }
        }
        Ok(())
    }

    /// Inserts the rows giving `role` on `node` to each legacy principal of `list`; `on`
    /// names the list for an error.
    fn insert_role_list(
        &mut self,
        node: i64,
        list: &[i64],
        role: Role,
        on: impl Fn() -> String,
    ) -> Result<()> {
        let rtype = role_type(self.st, role)?;
        for p in list {
            let prin = target_prin(&self.map, *p, &on)?;
            self.b.insert(&ROLE, vec![node.into(), prin.into(), rtype.into(), 1i64.into()]);
            self.map.inserted.roles.push((node, prin, rtype));
        }
        Ok(())
    }

    /// Inserts the legacy invitations of `rooms`, for principals that exist in the target.
    pub(super) fn insert_invites(&mut self, rooms: &[&PlanRoom]) {
        let map = &mut self.map;
        let mut written = Vec::new();
        for inv in &self.snap.invites {
            let (Some(node), Some(p)) =
                (map.rooms.get(&inv.node_id), map.principals.get(&inv.prin_id))
            else {
                continue;
            };
            if !rooms.iter().any(|r| r.legacy_id == inv.node_id) {
                continue;
            }
            self.b.insert(
                &INVITE,
                vec![
                    (*p).into(),
                    inv.inv_id.into(),
                    (*node).into(),
                    inv.created_on.as_str().into(),
                ],
            );
            map.inserted.invites.push((*p, *node));
            written.push((*p, inv.inv_id));
        }
        let before = &mut map.inserted.last_invites;
        crate::load::last_invite::keep(&mut self.b, &mut self.st.last_invites, &written, before);
    }
}

/// The target `prinID` of legacy principal `p`, listed on `on`; a principal the load did
/// not map is a plan that does not match its workspace (the plan never lists one it cannot
/// resolve), reported by name instead of a panic.
fn target_prin(map: &IdMap, p: i64, on: impl Fn() -> String) -> Result<i64> {
    map.principals.get(&p).copied().ok_or_else(|| {
        stale(&format!(
            "legacy principal {p}, listed on {}, which is not among the plan's principals",
            on()
        ))
    })
}

/// The target's role type id of `role` (checked when the target state is read).
fn role_type(st: &TargetState, role: Role) -> Result<i64> {
    st.roles.get(&role).copied().ok_or_else(|| {
        bad_input(format!("the target's tblRoleType has no `{role:?}` row; is it an mgc database?"))
    })
}

/// The error for a plan that names something it does not carry: nothing has been written.
fn stale(what: &str) -> anyhow::Error {
    bad_input(format!(
        "the plan names {what}, which it cannot resolve (a plan older than its workspace, or edited); \
         nothing was written: re-run `gcmigrate plan` and then the load"
    ))
}

/// The 2013 `prinName` (common name): the first `CN=` of the AD path, else the display name.
fn common_name(ad_path: Option<&str>, display: Option<&str>) -> Option<String> {
    ad_path
        .and_then(|p| p.split(',').next())
        .and_then(|rdn| rdn.trim().strip_prefix("CN=").or_else(|| rdn.trim().strip_prefix("cn=")))
        .map(str::to_string)
        .or_else(|| display.map(str::to_string))
}

#[cfg(test)]
#[path = "draft_tests.rs"]
mod tests;
