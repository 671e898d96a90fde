//! The guard a load runs before writing anything (MAPPING.md §4 "Cutover"): every staged
//! room of the wave must hold only what the ledger wrote. Until the cutover nobody should
//! be able to see a staged room, so a message the ledger does not record (a post at the
//! next `chatId` would make the delta's insert fail on its key), a role row it did not
//! write, a room that appeared in one of the migration's categories, or a staged room
//! that someone enabled means something outside the migration touched the wave: the load
//! refuses with exit 1, naming the room by path and GUID and what it found.
//!
//! Messages are judged by each room's highest `chatId` (one seek of the key, whatever the
//! history's size; Persistent Chat posts at the next `chatId`), not by a count of the
//! room: a message written below the highest by hand, or one deleted, is what verify's
//! cheap check (counts up to its cut) and `verify --full` catch.

use std::collections::HashMap;

use anyhow::Result;

use super::read::TargetRows;
use super::Owned;
use crate::error::refused;

/// A staged room of the wave: legacy path, GUID and target `nodeID`.
pub struct Staged<'a> {
    /// Legacy path (or the target name when the plan no longer has the room).
    pub path: &'a str,
    /// `nodeGuid`.
    pub guid: &'a str,
    /// Target `nodeID`.
    pub id: i64,
}

/// What the guard compares.
pub struct Seen<'a> {
    /// Target rows (nodes; roles of the staged rooms).
    pub target: &'a TargetRows,
    /// The highest `chatId` per staged room in the target.
    pub chats: &'a HashMap<i64, Option<i64>>,
    /// The highest `chatId` the ledger records per room.
    pub ledger: &'a HashMap<i64, Option<i64>>,
    /// Role type id → name, for messages.
    pub role_name: &'a dyn Fn(i64) -> &'static str,
}

/// Refuses (exit 1) when a staged room holds a row the ledger did not write.
pub fn check(wave: &str, rooms: &[Staged<'_>], owned: &Owned, seen: &Seen<'_>) -> Result<()> {
    let mut found: Vec<String> = Vec::new();
    for r in rooms {
        let at = format!("room {} ({})", r.path, r.guid);
        let Some(node) = seen.target.nodes.get(&r.id) else {
            found.push(format!("{at}: its tblNode row {} is gone", r.id));
            continue;
        };
        if !node.disabled {
            found.push(format!("{at}: it was enabled in the target before its cutover"));
        }
        let have_max = seen.chats.get(&r.id).copied().flatten();
        let wrote_max = seen.ledger.get(&r.id).copied().flatten();
        if have_max > wrote_max {
            found.push(format!(
                "{at}: message(s) the ledger did not write (highest chatId {}, the ledger's {})",
                have_max.map_or("none".into(), |m| m.to_string()),
                wrote_max.map_or("none".into(), |m| m.to_string())
            ));
        }
        let range = (r.id, i64::MIN, i64::MIN)..=(r.id, i64::MAX, i64::MAX);
        for row in seen.target.roles.range(range) {
            if !owned.roles.contains_key(row) {
                found.push(format!(
                    "{at}: a {} row for principal {} that the ledger did not write",
                    (seen.role_name)(row.2),
                    row.1
                ));
            }
        }
    }
    // Rooms someone created in a category only this staged wave uses (a category that also
    // holds another wave's rooms may be live, and users may create rooms in it).
    let mut only_ours: std::collections::HashSet<i64> = owned
        .nodes
        .iter()
        .filter(|(id, w)| *w == wave && seen.target.nodes.get(id).is_some_and(|n| n.is_category))
        .map(|(id, _)| *id)
        .collect();
    for (target, w, _) in owned.rooms.values() {
        if w != wave {
            if let Some(n) = seen.target.nodes.get(target) {
                only_ours.remove(&n.parent);
            }
        }
    }
    for (id, n) in &seen.target.nodes {
        if !n.is_category && only_ours.contains(&n.parent) && !owned.nodes.contains_key(id) {
            found.push(format!(
                "room `{}` ({}) in category node {}, which the ledger did not write",
                n.name, n.guid, n.parent
            ));
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    let more =
        if found.len() > 5 { format!(" (and {} more)", found.len() - 5) } else { String::new() };
    found.truncate(5);
    Err(refused(format!(
        "load refused: the staged rooms of wave `{wave}` hold rows gcmigrate did not write, so \
         something outside the migration used them before their cutover; nothing was written. \
         Found: {}{more}. Find out who wrote them, remove them (or roll the wave back with \
         `gcmigrate rollback --wave {wave}`), then rerun the load",
        found.join("; ")
    )))
}
