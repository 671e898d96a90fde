//! Staged waves in a verify (MAPPING.md §4 "Cutover"): until its cutover a wave's rooms
//! are disabled in the target whatever the plan says, so judging them as they are would
//! report every right on them as lost. Before its cutover (no `cutover` ledger row for the
//! (wave, pool)), a wave's rooms are judged by their planned state — access as it will be
//! once they are enabled — and the report says the wave is staged. After the cutover they
//! are judged exactly as the target holds them.

use std::collections::BTreeSet;

use anyhow::Result;

use super::target::Model;
use crate::db::Conn;
use crate::load::ledger::Mine;
use crate::load::staged::cutover_of;
use crate::load::IdMap;
use crate::plan::Plan;

/// Gives the verified rooms of waves not cut over their planned `disabled` state in the
/// target model; returns those waves (sorted).
pub async fn judge_as_planned(
    db: &Conn,
    mine: &Mine,
    plan: &Plan,
    wave: Option<&str>,
    map: &IdMap,
    tg: &mut Model,
) -> Result<Vec<String>> {
    let pairs: BTreeSet<(&str, &str)> =
        plan.rooms_in(wave).map(|r| (r.wave.as_str(), r.pool.as_str())).collect();
    let mut staged = BTreeSet::new();
    for (w, pool) in pairs {
        if cutover_of(db, mine, w, pool).await?.is_some() {
            continue;
        }
        let mut any = false;
        for r in plan.rooms_of(Some(w), pool) {
            if let Some(node) = map.rooms.get(&r.legacy_id).and_then(|id| tg.nodes.get_mut(id)) {
                node.disabled = r.disabled;
                any = true;
            }
        }
        if any {
            staged.insert(w.to_string());
        }
    }
    Ok(staged.into_iter().collect())
}
