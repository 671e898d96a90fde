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

use std::collections::{BTreeMap, BTreeSet, HashSet};

use anyhow::Result;

use super::config::{IdMap, Removed};
use crate::db::batch::{Batch, Value, CHAT, INVITE, LAST_CHAT_ID, LEDGER, NODE, ROLE, SCOPE};
use crate::mapping::legacy::Role;
use crate::plan::{Plan, PlanRoom};
pub use owned::Owned;
use read::{NodeRow, TargetRows};

/// The key of a role row.
const ROLE_KEY: &[&str] = &["prinRoleNodeID", "prinRolePrinID", "prinRoleTypeID"];
/// The key of a scope row.
const SCOPE_KEY: &[&str] = &["scopeNodeID", "scopePrinID"];
/// What goes with a removed room, children first: each table and its room column.
const ROOM_ROWS: [(&crate::db::batch::TableSpec, &[&str]); 7] = [
    (&CHAT, &["channelId"]),
    (&LAST_CHAT_ID, &["nodeID"]),
    (&INVITE, &["nodeID"]),
    (&ROLE, &["prinRoleNodeID"]),
    (&SCOPE, &["scopeNodeID"]),
    (&LEDGER, &["room_id"]),
    (&NODE, &["nodeID"]),
];

/// Every statement convergence adds to a batch, in the dialect's text (`$n` placeholders),
/// for the T-SQL parse tests.
pub fn statements(d: crate::db::Dialect) -> Vec<(String, String)> {
    use crate::db::batch::{delete_keys_sql, update_sql};
    let mut out = vec![
        ("converge: delete role".to_string(), delete_keys_sql(&ROLE, ROLE_KEY)),
        ("converge: delete scope".to_string(), delete_keys_sql(&SCOPE, SCOPE_KEY)),
    ];
    for (t, c) in ROOM_ROWS {
        out.push((format!("converge: remove room from {}", t.name), delete_keys_sql(t, c)));
    }
    let every: Vec<(&str, Value)> = vec![
        ("parentID", 2i64.into()),
        ("nodeName", "n".into()),
        ("nodeDesc", "d".into()),
        ("invite", Value::Null),
        ("logged", true.into()),
        ("filePost", Value::Null),
        ("disabled", true.into()),
        ("behavior", 4i64.into()),
        ("visibility", 3i64.into()),
        ("siopID", "0f8fad5b-d9cb-469f-a165-70867728950e".into()),
    ];
    out.push(("converge: update node".into(), update_sql(&NODE, "nodeID", &every, d)));
    out.push((
        "converge: update node (one column)".into(),
        update_sql(&NODE, "nodeID", &every[..1], d),
    ));
    out
}

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
        let lists = [
            (&r.members, Role::Member),
            (&r.managers, Role::Manager),
            (&r.presenters, Role::Voiced),
        ];
        let set = role_want.entry(id).or_default();
        for (list, rl) in lists {
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

/// Adds the role rows the plan wants and removes the wave's own that it no longer wants.
fn roles(inp: &Inputs<'_>, out: &mut Convergence, want: &BTreeMap<i64, BTreeSet<(i64, i64, i64)>>) {
    let mut gone = Vec::new();
    for (node, set) in want {
        let have: BTreeSet<(i64, i64, i64)> = inp
            .target
            .roles
            .range((*node, i64::MIN, i64::MIN)..=(*node, i64::MAX, i64::MAX))
            .copied()
            .collect();
        for row in set.difference(&have) {
            out.changes.push(format!(
                "+ {} {} on {}",
                role_name(inp, row.2),
                (inp.uri_of)(row.1),
                node_name(inp, *node)
            ));
            out.roles_added.push(*row);
        }
        for row in have.difference(set) {
            let line = format!(
                "{} {} on {}",
                role_name(inp, row.2),
                (inp.uri_of)(row.1),
                node_name(inp, *node)
            );
            match inp.owned.roles.get(row) {
                Some(w) if w == inp.wave => {
                    out.changes.push(format!("- {line}"));
                    gone.push(*row);
                }
                Some(w) => out
                    .left
                    .push(format!("{line}: written by wave `{w}`: load that wave to converge it")),
                None => {
                    out.left.push(format!("{line}: the target's own, gcmigrate only adds to it"))
                }
            }
        }
    }
    out.batch.delete_keys(
        &ROLE,
        &["prinRoleNodeID", "prinRolePrinID", "prinRoleTypeID"],
        gone.iter().map(|r| vec![r.0, r.1, r.2]).collect(),
    );
    out.removed.roles.extend(gone);
    for r in &out.roles_added {
        out.batch.insert(&ROLE, vec![r.0.into(), r.1.into(), r.2.into(), 1i64.into()]);
    }
}

/// Adds the scope rows the plan wants and removes the wave's own that it no longer wants
/// (a row whose allowed/denied flag changed is removed and added again).
fn scopes(
    inp: &Inputs<'_>,
    out: &mut Convergence,
    want: &BTreeMap<i64, BTreeMap<(i64, i64), bool>>,
) {
    let mut gone = Vec::new();
    let mut add = Vec::new();
    for (node, set) in want {
        let have: BTreeMap<(i64, i64), bool> = inp
            .target
            .scopes
            .range((*node, i64::MIN)..=(*node, i64::MAX))
            .map(|(k, v)| (*k, *v))
            .collect();
        let kind = |d: bool| if d { "denied" } else { "allowed" };
        for (key, denied) in set {
            let now = have.get(key);
            if now == Some(denied) {
                continue;
            }
            if now.is_some() && !own_scope(inp, key, out) {
                continue;
            }
            if now.is_some() {
                gone.push(*key);
            }
            out.changes.push(format!(
                "+ {} {} on {}",
                kind(*denied),
                (inp.uri_of)(key.1),
                node_name(inp, *node)
            ));
            add.push((*key, *denied));
        }
        for (key, denied) in &have {
            if set.contains_key(key) {
                continue;
            }
            if own_scope(inp, key, out) {
                out.changes.push(format!(
                    "- {} {} on {}",
                    kind(*denied),
                    (inp.uri_of)(key.1),
                    node_name(inp, *node)
                ));
                gone.push(*key);
            }
        }
    }
    out.batch.delete_keys(
        &SCOPE,
        &["scopeNodeID", "scopePrinID"],
        gone.iter().map(|k| vec![k.0, k.1]).collect(),
    );
    out.removed.scopes.extend(gone);
    for ((n, p), denied) in add {
        out.batch.insert(&SCOPE, vec![n.into(), p.into(), denied.into(), 1i64.into()]);
        out.scopes_added.push((n, p));
    }
}

/// Whether the wave wrote a scope row; a row it did not is noted as left alone.
fn own_scope(inp: &Inputs<'_>, key: &(i64, i64), out: &mut Convergence) -> bool {
    match inp.owned.scopes.get(key) {
        Some(w) if w == inp.wave => true,
        Some(w) => {
            out.left.push(format!(
                "scope of {} on category node {}: written by wave `{w}`",
                (inp.uri_of)(key.1),
                key.0
            ));
            false
        }
        None => {
            out.left.push(format!(
                "scope of {} on category node {}: the target's own",
                (inp.uri_of)(key.1),
                key.0
            ));
            false
        }
    }
}

/// Removes the wave's rooms that the plan no longer has in it (skipped, excluded, moved to
/// another wave or pool), with their history, role lists, invitations and ledger rows.
fn remove_rooms(inp: &Inputs<'_>, out: &mut Convergence) {
    let keep: HashSet<i64> = inp.rooms.iter().map(|r| r.legacy_id).collect();
    let gone: Vec<(i64, i64)> = inp
        .owned
        .rooms
        .iter()
        .filter(|(legacy, (_, wave, _))| wave == inp.wave && !keep.contains(legacy))
        .map(|(legacy, (target, _, _))| (*legacy, *target))
        .collect();
    for (legacy, target) in &gone {
        let why = match inp.plan.rooms.iter().find(|r| r.legacy_id == *legacy) {
            Some(r) if r.wave != inp.wave => format!("moved to wave `{}`", r.wave),
            Some(r) => format!("moved to pool `{}`", r.pool),
            None => match inp.plan.excluded_rooms.iter().find(|x| x.legacy_id == *legacy) {
                Some(x) => format!("{} by {}", x.disposition, x.rule),
                None => "no longer in the legacy database".into(),
            },
        };
        let name = inp.target.nodes.get(target).map_or(String::new(), |n| n.name.clone());
        out.changes
            .push(format!("- room `{name}` (legacy nodeID {legacy}) with its history: {why}"));
    }
    let keys = |v: &Vec<(i64, i64)>| v.iter().map(|g| vec![g.1]).collect::<Vec<_>>();
    for (table, col) in ROOM_ROWS {
        out.batch.delete_keys(table, col, keys(&gone));
    }
    out.removed.rooms = gone;
}

/// A node as the change lines name it: `room \`name\`` or `category \`name\``.
fn node_name(inp: &Inputs<'_>, id: i64) -> String {
    match inp.target.nodes.get(&id) {
        Some(n) if n.is_category => format!("category `{}`", n.name),
        Some(n) => format!("room `{}`", n.name),
        None => format!("node {id}"),
    }
}

/// A role type's name, for the change lines.
fn role_name(inp: &Inputs<'_>, id: i64) -> &'static str {
    match inp.role_types.iter().find(|(_, v)| **v == id).map(|(k, _)| *k) {
        Some(Role::Member) => "member",
        Some(Role::Manager) => "manager",
        Some(Role::Voiced) => "presenter",
        Some(Role::Creator) => "creator",
        _ => "role",
    }
}
