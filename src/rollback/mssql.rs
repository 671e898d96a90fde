//! Rollback against a SQL Server target (tiberius): the ledger's configuration loads and
//! the nodes' references, read like `keys.rs` reads them through sqlx, and the rendered
//! T-SQL script run as one batch. The script carries `SET XACT_ABORT ON` and its own
//! `BEGIN TRANSACTION … COMMIT TRANSACTION`, so a guard's `THROW` (or any error) rolls
//! the whole of it back on the server.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result};

use super::keys::{LoadedWave, NodeRefs};
use super::{Executed, Guard};
use crate::db::mssql::{int, req_int, req_text, text, Session};
use crate::error::{bad_input, runtime};
use crate::load::IdMap;

const LEDGER: &str =
    "SELECT run_id, wave, body FROM gcmigrate_ledger WHERE kind = N'config' ORDER BY written_at";
/// The ledger and the columns rollback reads of it.
const LEDGER_TABLE: &str = "gcmigrate_ledger";
const LEDGER_COLUMNS: &str = "run_id, wave, kind, body";
const NODE_REFS: &str = "SELECT nodeID, parentID, siopID, nodeAddedBy, nodeUpdatedBy FROM tblNode";
/// Ends a transaction a failed script may have left open (none after XACT_ABORT's rollback).
const ROLLBACK_IF_OPEN: &str = "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION";

/// Every T-SQL statement rollback sends besides the script, named, for the parse tests.
pub fn all_statements() -> Vec<(String, String)> {
    [
        ("rollback: ledger", LEDGER),
        ("rollback: node references", NODE_REFS),
        ("rollback: end an open transaction", ROLLBACK_IF_OPEN),
        (
            "rollback: probe the ledger",
            &crate::db::mssql::presence_sql(LEDGER_TABLE, LEDGER_COLUMNS),
        ),
        (
            "rollback: probe the ledger by select",
            &crate::db::mssql::probe_sql(LEDGER_TABLE, LEDGER_COLUMNS),
        ),
    ]
    .iter()
    .map(|(n, s)| (n.to_string(), s.to_string()))
    .collect()
}

/// Every configuration load the target's ledger holds, oldest first.
pub(super) async fn from_ledger(s: &mut Session) -> Result<Vec<LoadedWave>> {
    if !s.has_columns(LEDGER_TABLE, LEDGER_COLUMNS).await? {
        return Err(bad_input(format!(
            "SQL Server {} has no readable gcmigrate_ledger (was anything loaded into it? is it the mgc \
             database?)",
            s.label()
        )));
    }
    let rows = s.rows("reading gcmigrate_ledger", LEDGER, &[]).await?;
    rows.iter()
        .map(|r| {
            let (run_id, wave) = (req_text(r, 0)?, req_text(r, 1)?);
            let map: IdMap = serde_json::from_str(&req_text(r, 2)?).with_context(|| {
                format!("the ledger's configuration row of run {run_id} is unreadable")
            })?;
            Ok(LoadedWave { wave, runs: vec![run_id], inserted: map.inserted })
        })
        .collect()
}

/// Parent, add-in and author of every node in the target.
pub(super) async fn node_refs(s: &mut Session) -> Result<HashMap<i64, NodeRefs>> {
    let mut out = HashMap::new();
    s.for_each("reading the target's nodes", NODE_REFS, &[], |r| {
        let n = NodeRefs {
            parent: int(&r, 1)?,
            siop: text(&r, 2)?,
            added_by: req_int(&r, 3)?,
            updated_by: req_int(&r, 4)?,
        };
        out.insert(req_int(&r, 0)?, n);
        Ok(())
    })
    .await?;
    Ok(out)
}

/// Runs the script as one batch; a guard's refusal is an outcome, not an error.
pub(super) async fn execute(s: &mut Session, script: &str) -> Result<Executed> {
    let Err(err) = s.try_batch(script).await else { return Ok(Executed::Committed) };
    // Best effort: closing the session rolls back whatever is still open anyway.
    let ended = tokio::time::timeout(Duration::from_secs(10), s.try_batch(ROLLBACK_IF_OPEN)).await;
    let text = err.to_string();
    if let Some(g) = Guard::ALL.into_iter().find(|g| text.contains(g.token())) {
        return Ok(Executed::Refused(g));
    }
    if crate::db::mssql::is_permission_denied(&err) {
        return Err(s.error("running the rollback script", &err));
    }
    let state =
        if matches!(ended, Ok(Ok(()))) { "rolled back" } else { "left to the server to roll back" };
    let msg = format!("{:#}", s.error("running the rollback script", &err));
    Err(runtime(format!("{msg}; the script's transaction was {state} (nothing was deleted)")))
}
