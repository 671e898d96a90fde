//! Convergence (MAPPING.md §4 "Cutover"): every load of a wave makes the target match the
//! current plan, not only the first. Rows added, changed or removed in legacy since the
//! last load — role lists, category scopes and creators, names, descriptions, settings,
//! add-ins, new rooms, rooms now skipped or moved to another wave — become steps of the
//! load's one configuration transaction, and every step is journaled in its ledger row
//! (`IdMap::inserted` and `IdMap::removed`), so `rollback` still removes exactly what the
//! wave's loads left.
//!
//! The rule that keeps rollback exact: a load of wave W changes or removes only rows that
//! W's own loads inserted (`owned.rs` replays the ledger to know which), and may add rows
//! anywhere (a row it adds is its own). A difference on an object another wave wrote (a
//! category shared by two waves) or that the target already had (`on_conflict = merge`)
//! which would need a change or a removal is reported, not made. `guard.rs` checks, before
//! anything is written, that the wave's staged rooms hold only what the ledger wrote;
//! `read.rs` reads the target rows both compare.

pub mod guard;
pub mod owned;
pub mod read;
mod rows;

use rows::{remove_rooms, roles, scopes};
pub use rows::{role_name, statements};

use std::collections::{BTreeMap, BTreeSet, HashSet};

use anyhow::Result;

use super::config::{IdMap, Removed};
use crate::db::batch::{Batch, Value, NODE};
use crate::mapping::legacy::Role;
use crate::plan::{Plan, PlanRoom};
pub use owned::Owned;
use read::{NodeRow, TargetRows};

/// What one load changes in the configuration it had written, beyond new objects.
#[derive(Debug, Default)]
pub struct Convergence {
    /// The steps, in an order the target's foreign keys accept.
    pub batch: Batch,
    /// Role rows added.
    pub roles_added: Vec<(i64, i64, i64)>,
    /// Scope rows added.
    pub scopes_added: Vec<(i64, i64)>,
    /// Rows and rooms removed.
    pub removed: Removed,
    /// One line per change, for the console, `--dry-run` and the load report.
    pub changes: Vec<String>,
    /// Differences left alone (another wave's object, or the target's own), with why.
    pub left: Vec<String>,
}

/// What the difference is computed from.
pub struct Inputs<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// The wave's rooms in this pool.
    pub rooms: &'a [&'a PlanRoom],
    /// The wave.
    pub wave: &'a str,
    /// Legacy → target ids after this run's new objects.
    pub map: &'a IdMap,
    /// What the ledger says each wave wrote.
    pub owned: &'a Owned,
    /// The target rows now.
    pub target: &'a TargetRows,
    /// The target's role type ids.
    pub role_types: &'a std::collections::HashMap<Role, i64>,
    /// Nodes this run inserts (already as planned).
    pub new_nodes: &'a HashSet<i64>,
    /// Target principal id → URI, for the change lines.
    pub uri_of: &'a dyn Fn(i64) -> String,
}

/// The columns convergence sets on a node, as the plan wants them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    parent: i64,
    name: String,
    desc: String,
    invite: Option<bool>,
    logged: Option<bool>,
    file_post: Option<bool>,
    disabled: bool,
    behavior: i64,
    visibility: i64,
    addin: Option<String>,
}

impl Wanted {
    /// The columns that differ from the target row, as `UPDATE` assignments and a line.
    fn set(&self, now: &NodeRow) -> (Vec<(&'static str, Value)>, Vec<String>) {
        let mut set: Vec<(&'static str, Value)> = Vec::new();
        let mut what = Vec::new();
        let mut col = |c: &'static str, differs: bool, v: Value, say: String| {
            if differs {
                set.push((c, v));
                what.push(say);
            }
        };
        col(
            "parentID",
            self.parent != now.parent,
            self.parent.into(),
            format!("category {} → {}", now.parent, self.parent),
        );
        col(
            "nodeName",
            self.name != now.name,
            self.name.as_str().into(),
            format!("name `{}` → `{}`", now.name, self.name),
        );
        col("nodeDesc", self.desc != now.desc, self.desc.as_str().into(), "description".into());
        col(
            "invite",
            self.invite != now.invite,
            self.invite.into(),
            format!("invitations {:?} → {:?}", now.invite, self.invite),
        );
        col(
            "logged",
            self.logged != now.logged,
            self.logged.into(),
            format!("chat history {:?} → {:?}", now.logged, self.logged),
        );
        col(
            "filePost",
            self.file_post != now.file_post,
            self.file_post.into(),
            format!("file upload {:?} → {:?}", now.file_post, self.file_post),
        );
        col(
            "disabled",
            self.disabled != now.disabled,
            self.disabled.into(),
            format!("disabled {} → {}", now.disabled, self.disabled),
        );
        col(
            "behavior",
            self.behavior != now.behavior,
            self.behavior.into(),
            format!("behavior {} → {}", now.behavior, self.behavior),
        );
        col(
            "visibility",
            self.visibility != now.visibility,
            self.visibility.into(),
            format!("visibility {} → {}", now.visibility, self.visibility),
        );
        col(
            "siopID",
            self.addin != now.addin,
            self.addin.clone().into(),
            format!(
                "add-in {} → {}",
                now.addin.as_deref().unwrap_or("none"),
                self.addin.as_deref().unwrap_or("none")
            ),
        );
        (set, what)
    }
}

/// Computes the steps that make the wave's existing objects match the plan.
pub fn diff(inp: &Inputs<'_>) -> Result<Convergence> {
    let mut out = Convergence::default();
    remove_rooms(inp, &mut out);
    let role = |r: Role| inp.role_types.get(&r).copied().unwrap_or(0);
    let prin = |p: &i64| inp.map.principals.get(p).copied();

    // Rooms the wave already holds.
    let mut role_want: BTreeMap<i64, BTreeSet<(i64, i64, i64)>> = BTreeMap::new();
    for r in inp.rooms {
        let Some(&id) = inp.map.rooms.get(&r.legacy_id) else { continue };
        if inp.new_nodes.contains(&id) {
            continue;
        }
        let Some(&parent) = inp.map.categories.get(&r.category) else { continue };
        let want = Wanted {
            parent,
            name: r.target_name.clone(),
            desc: r.desc.clone(),
            invite: r.invite,
            logged: None,
            file_post: None,
            // Staged until the wave's cutover (a load of a cut-over wave is refused).
            disabled: true,
            behavior: r.behavior,
            visibility: r.visibility,
            addin: r.addin.clone(),
        };
        node(inp, &mut out, id, &format!("room {}", r.legacy_path), &want);
        let set = role_want.entry(id).or_default();
        for (list, rl) in r.role_lists() {
            set.extend(list.iter().filter_map(prin).map(|p| (id, p, role(rl))));
        }
    }

    // Categories the wave's rooms use.
    let keys: BTreeSet<&String> = inp.rooms.iter().map(|r| &r.category).collect();
    let mut scope_want: BTreeMap<i64, BTreeMap<(i64, i64), bool>> = BTreeMap::new();
    for key in keys {
        let (Some(c), Some(&id)) = (inp.plan.category(key), inp.map.categories.get(key)) else {
            continue;
        };
        if inp.new_nodes.contains(&id) {
            continue;
        }
        let want = Wanted {
            parent: 1,
            name: c.name.clone(),
            desc: c.desc.clone(),
            invite: Some(c.invite),
            logged: Some(c.logged),
            file_post: Some(c.file_post),
            disabled: false,
            behavior: crate::model::BEHAVIOR_NORMAL,
            visibility: crate::model::VISIBILITY_SCOPED,
            addin: None,
        };
        node(inp, &mut out, id, &format!("category {}", c.name), &want);
        let set = role_want.entry(id).or_default();
        set.extend(c.creators.iter().filter_map(prin).map(|p| (id, p, role(Role::Creator))));
        let scopes = scope_want.entry(id).or_default();
        for (list, denied) in [(&c.allowed, false), (&c.denied, true)] {
            scopes.extend(list.iter().filter_map(prin).map(|p| ((id, p), denied)));
        }
    }
    roles(inp, &mut out, &role_want);
    scopes(inp, &mut out, &scope_want);
    Ok(out)
}

/// Updates a node's columns where they differ from the plan, when the wave owns it.
fn node(inp: &Inputs<'_>, out: &mut Convergence, id: i64, what: &str, want: &Wanted) {
    let Some(now) = inp.target.nodes.get(&id) else { return };
    let (set, lines) = want.set(now);
    if set.is_empty() {
        return;
    }
    if inp.owned.node_of(id, inp.wave) {
        out.changes.push(format!("{what}: {}", lines.join(", ")));
        out.batch.update(&NODE, "nodeID", id, set);
    } else {
        out.left.push(format!("{what}: {} — {}", lines.join(", "), not_ours(inp, id)));
    }
}

/// Why a difference on `id` is left alone.
fn not_ours(inp: &Inputs<'_>, id: i64) -> String {
    match inp.owned.nodes.get(&id) {
        Some(w) => format!("written by wave `{w}`: load that wave to converge it"),
        None => "the target's own (on_conflict = merge): gcmigrate only adds to it".into(),
    }
}

#[cfg(test)]
mod tests;
