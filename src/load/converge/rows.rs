//! The row-level steps of convergence: role rows and scope rows added where the plan wants
//! them and removed where the wave's own are no longer wanted, and the rooms the wave no
//! longer holds removed with everything that hangs off them — each as a `Batch` step, with
//! the line that says what it does, and the statements those steps send.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::{Convergence, Inputs};
use crate::db::batch::{Value, CHAT, INVITE, LAST_CHAT_ID, LEDGER, NODE, ROLE, SCOPE};
use crate::mapping::legacy::Role;

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

/// Adds the role rows the plan wants and removes the wave's own that it no longer wants.
pub(super) fn roles(
    inp: &Inputs<'_>,
    out: &mut Convergence,
    want: &BTreeMap<i64, BTreeSet<(i64, i64, i64)>>,
) {
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
                role_name(inp.role_types, row.2),
                (inp.uri_of)(row.1),
                node_name(inp, *node)
            ));
            out.roles_added.push(*row);
        }
        for row in have.difference(set) {
            let line = format!(
                "{} {} on {}",
                role_name(inp.role_types, row.2),
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
pub(super) fn scopes(
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
pub(super) fn remove_rooms(inp: &Inputs<'_>, out: &mut Convergence) {
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

/// A role type's name, for the change lines and the guard's messages.
pub fn role_name(types: &std::collections::HashMap<Role, i64>, id: i64) -> &'static str {
    match types.iter().find(|(_, v)| **v == id).map(|(k, _)| *k) {
        Some(Role::Member) => "member",
        Some(Role::Manager) => "manager",
        Some(Role::Voiced) => "presenter",
        Some(Role::Creator) => "creator",
        _ => "role",
    }
}
