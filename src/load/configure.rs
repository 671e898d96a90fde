//! The configuration phase of a load into an existing target, before anything is written:
//! the ledger's view of this deployment (claim, wave owner, what each wave wrote), the
//! refusals (a cut-over wave, a room still held by another wave), the target rows, the
//! guard over the wave's staged rooms, then the new objects (`config::build`) and the
//! difference on the existing ones (`converge::diff`), for one transaction.

use anyhow::{Context, Result};

use super::{config, converge, ledger, pool_scope, staged, IdMap, LoadOptions};
use crate::db::batch::Batch;
use crate::error::bad_input;
use crate::model::Snapshot;
use crate::plan::Plan;
use crate::progress::Progress;
use crate::staging::Workspace;

/// The configuration of a load into an existing target: the ledger's view of the
/// deployment, the guard, the new objects and the convergence of the existing ones.
#[allow(clippy::too_many_arguments)]
pub(super) async fn existing(
    ws: &Workspace,
    plan: &Plan,
    snap: &Snapshot,
    db: &crate::db::TargetDb,
    opts: &LoadOptions,
    progress: &Progress,
    owner: &ledger::Owner,
    wave: &str,
    rooms: &[&crate::plan::PlanRoom],
) -> Result<(Batch, IdMap, converge::Convergence)> {
    let mine = ledger::Mine::of(ws, snap).await?;
    if !opts.dry_run {
        let n = ledger::claim(db, owner, wave, &mine).await?;
        if n > 0 {
            progress.note(&format!(
                "load: note: claimed {n} ledger row(s) of wave {wave} written before rows \
                 carried their deployment, for deployment {}",
                owner.deployment
            ));
        }
    }
    let configs = ledger::configs(db).await?;
    ledger::check_wave_owner(&configs, wave, &owner.deployment, &db.url().to_string())?;
    let mut known = ledger::map_of(&configs, &mine);
    let owned = converge::Owned::replay(configs.iter().filter(|c| mine.owns(c)));
    if let Some(c) = staged::cutover_of(db, &mine, wave, &owner.pool).await? {
        return Err(bad_input(format!(
            "wave `{wave}` was cut over in {} at {}: its rooms are live and users post in them, \
             so a load would write over their changes; nothing was written. Load new rooms under \
             another wave, or roll the wave back first (`gcmigrate rollback --wave {wave}`)",
            db.url(),
            c.at
        )));
    }
    for r in rooms {
        if let Some((_, w, _)) = owned.rooms.get(&r.legacy_id).filter(|(_, w, _)| w != wave) {
            return Err(bad_input(format!(
                "room {} ({}) moved from wave `{w}` to wave `{wave}` in the plan, and the target \
                 holds it under `{w}`: load wave `{w}` first (it removes the room), then `{wave}`; \
                 nothing was written",
                r.legacy_path, r.legacy_guid
            )));
        }
    }
    // The target as it is: the wave's rooms (staged until its cutover) and the categories.
    let staged: Vec<(i64, i64)> = owned
        .rooms
        .iter()
        .filter(|(_, (_, w, _))| w == wave)
        .map(|(legacy, (id, _, _))| (*legacy, *id))
        .collect();
    let of: std::collections::BTreeSet<i64> =
        owned.nodes.keys().copied().chain(known.categories.values().copied()).collect();
    let t = crate::timings::phase("load: read target configuration");
    let rows = converge::read::TargetRows::read(db, &of).await?;
    let ids: Vec<i64> = staged.iter().map(|s| s.1).collect();
    let chats = converge::read::room_chats(db, &ids).await?;
    let ledger_chats = converge::read::ledger_chats(db).await?;
    let mut st = config::TargetState::read(db)
        .await
        .context("reading the target's principals, nodes and role types")?;
    drop(t);
    rekey_categories(plan, &rows, &mut known);
    merge_into_existing(plan, rooms, &rows, &owned, &mut known, progress);
    let role_types = st.roles.clone();
    let role_name = |id: i64| converge::role_name(&role_types, id);
    let names: Vec<(String, String, i64)> = staged
        .iter()
        .map(|(legacy, id)| match plan.rooms.iter().find(|r| r.legacy_id == *legacy) {
            Some(r) => (r.legacy_path.clone(), r.legacy_guid.clone(), *id),
            None => {
                let n = rows.nodes.get(id);
                (
                    n.map_or(String::new(), |n| n.name.clone()),
                    n.map_or(String::new(), |n| n.guid.clone()),
                    *id,
                )
            }
        })
        .collect();
    let list: Vec<converge::guard::Staged<'_>> = names
        .iter()
        .map(|(p, g, id)| converge::guard::Staged { path: p, guid: g, id: *id })
        .collect();
    let seen = converge::guard::Seen {
        target: &rows,
        chats: &chats,
        ledger: &ledger_chats,
        role_name: &role_name,
    };
    converge::guard::check(wave, &list, &owned, &seen)?;

    // New objects (every object on a first load), then the difference on the others.
    let missing: Vec<_> =
        rooms.iter().copied().filter(|r| !known.rooms.contains_key(&r.legacy_id)).collect();
    let t = crate::timings::phase("load: config build");
    let needed = pool_scope::principals_needed_with(ws, plan, snap, rooms).await?;
    let (batch, map) = config::build(plan, snap, &missing, rooms, Some(&needed), &known, &mut st)?;
    let new_nodes: std::collections::HashSet<i64> = map.inserted.nodes.iter().copied().collect();
    let uris: std::collections::HashMap<i64, &str> = plan
        .principals
        .iter()
        .filter_map(|p| map.principals.get(&p.legacy_id).map(|t| (*t, p.uri.as_str())))
        .collect();
    let uri_of =
        |id: i64| uris.get(&id).map_or_else(|| format!("principal {id}"), |u| u.to_string());
    let conv = converge::diff(&converge::Inputs {
        plan,
        rooms,
        wave,
        map: &map,
        owned: &owned,
        target: &rows,
        role_types: &st.roles,
        new_nodes: &new_nodes,
        uri_of: &uri_of,
    })?;
    drop(t);
    Ok((batch, map, conv))
}

/// Maps the plan's categories onto the target categories the ledger knows by their GUID,
/// not by the plan's key: keys number categories in legacy path order, so a category that
/// appears in legacy shifts the keys of those after it, while the GUID (the legacy
/// category's, or derived from it for a split) stays. Categories merged into the target's
/// own (another GUID) are found again by name afterwards.
fn rekey_categories(plan: &Plan, rows: &converge::read::TargetRows, known: &mut IdMap) {
    let ours: std::collections::HashSet<i64> = known.categories.values().copied().collect();
    let by_guid: std::collections::HashMap<&str, i64> = rows
        .nodes
        .iter()
        .filter(|(id, n)| n.is_category && ours.contains(id))
        .map(|(id, n)| (n.guid.as_str(), *id))
        .collect();
    known.categories = plan
        .categories
        .iter()
        .filter_map(|c| {
            by_guid.get(c.guid.to_ascii_lowercase().as_str()).map(|id| (c.key.clone(), *id))
        })
        .collect();
}

/// `on_conflict = merge`: a planned category that the target already has by name (one the
/// migration did not write) is mapped onto that category instead of being inserted.
fn merge_into_existing(
    plan: &Plan,
    rooms: &[&crate::plan::PlanRoom],
    rows: &converge::read::TargetRows,
    owned: &converge::Owned,
    known: &mut IdMap,
    progress: &Progress,
) {
    let keys: std::collections::BTreeSet<&String> = rooms.iter().map(|r| &r.category).collect();
    for c in keys.into_iter().filter_map(|k| plan.category(k)) {
        if !c.merge || known.categories.contains_key(&c.key) {
            continue;
        }
        let found = rows.nodes.iter().find(|(id, n)| {
            n.is_category
                && **id != 1
                && !owned.nodes.contains_key(id)
                && n.name.to_lowercase() == c.name.to_lowercase()
        });
        if let Some((id, n)) = found {
            progress.note(&format!(
                "load: note: category `{}` merges into the target's existing category `{}` (nodeID {id}, on_conflict = merge)",
                c.name, n.name
            ));
            known.categories.insert(c.key.clone(), *id);
        }
    }
}
