//! Staged rooms and the cutover mark (MAPPING.md §4 "Cutover"). Until its cutover a
//! wave's rooms exist in the target disabled, whatever their legacy state; `cutover`
//! gives them their planned state and writes one ledger row of kind `cutover` for the
//! (deployment, wave, pool). A wave without that row is staged: `load` keeps its rooms
//! disabled and guards them, `verify` judges them by their planned state.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::ledger::Mine;
use crate::db::Conn;

/// The ledger `kind` of a cutover row.
pub const KIND: &str = "cutover";

/// The cutover rows of the ledger, oldest first.
pub const CUTOVERS: &str = "SELECT run_id, wave, pool, deployment, written_at, body \
    FROM gcmigrate_ledger WHERE kind = 'cutover' ORDER BY written_at";

/// What a cutover changed, as its ledger row's body records it (rollback restores it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutoverBody {
    /// Target room `nodeID` → (`disabled` before, `disabled` after).
    pub rooms: Vec<(i64, bool, bool)>,
}

/// One cutover as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cutover {
    /// The cutover's run id.
    pub run_id: String,
    /// The wave cut over.
    pub wave: String,
    /// Its pool.
    pub pool: Option<String>,
    /// The deployment it belongs to.
    pub deployment: Option<String>,
    /// When (RFC 3339).
    pub at: String,
    /// What it changed.
    pub body: CutoverBody,
}

/// The workspace's own cutovers in the target (none without a ledger, and none in a
/// ledger written before rows carried their deployment and pool: no cutover wrote it).
pub async fn cutovers(db: &Conn, mine: &Mine) -> Result<Vec<Cutover>> {
    if !db.has_columns(crate::db::batch::LEDGER.name, "kind, deployment, pool").await? {
        return Ok(Vec::new());
    }
    let rows = db
        .rows("reading gcmigrate_ledger", CUTOVERS, &[], |r| {
            Ok((r.text(0)?, r.text(1)?, r.opt_text(2)?, r.opt_text(3)?, r.text(4)?, r.opt_text(5)?))
        })
        .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, _, dep, _, _)| dep.as_deref() == Some(mine.deployment.as_str()))
        .map(|(run_id, wave, pool, deployment, at, body)| Cutover {
            body: body.and_then(|b| serde_json::from_str(&b).ok()).unwrap_or_default(),
            run_id,
            wave,
            pool,
            deployment,
            at,
        })
        .collect())
}

/// The cutover of `wave` in `pool`, if it happened (the wave's rooms are then live).
pub async fn cutover_of(db: &Conn, mine: &Mine, wave: &str, pool: &str) -> Result<Option<Cutover>> {
    Ok(cutovers(db, mine)
        .await?
        .into_iter()
        .rev()
        .find(|c| c.wave == wave && c.pool.as_deref().is_none_or(|p| p == pool)))
}

/// Every statement of this module, for the T-SQL parse tests.
pub fn statements() -> Vec<(&'static str, &'static str)> {
    vec![("ledger cutovers", CUTOVERS)]
}
