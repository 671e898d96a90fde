//! The cutover freeze: disable a wave's legacy rooms so nobody posts in them while the
//! delta is extracted and loaded. The only write the tool ever makes to the source; it is
//! journaled in the workspace and `--undo` re-enables exactly the rooms it disabled.
//! SQLite and PostgreSQL sources are written through sqlx, SQL Server through tiberius
//! (`mssql.rs`); both journal the same way.

#[cfg(feature = "mssql")]
pub mod mssql;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{Db, DbUrl, Dialect, OpenMode};
use crate::error::bad_input;
use crate::plan::Plan;
use crate::staging::Workspace;

/// What one freeze changed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FreezeRecord {
    /// Wave.
    pub wave: String,
    /// Legacy room ids that the freeze disabled (rooms already disabled are not listed).
    pub disabled: Vec<i64>,
    /// Whether this record has been undone.
    pub undone: bool,
}

/// Disables the wave's legacy rooms that are enabled; returns what it changed.
pub async fn freeze(
    ws: &Workspace,
    plan: &Plan,
    wave: &str,
    source: &DbUrl,
) -> Result<FreezeRecord> {
    let rooms: Vec<i64> = plan.rooms_in(Some(wave)).map(|r| r.legacy_id).collect();
    if rooms.is_empty() {
        return Err(bad_input(format!("wave `{wave}` has no rooms in the plan")));
    }
    if source.dialect() == Dialect::Mssql {
        #[cfg(feature = "mssql")]
        return mssql::freeze(ws, wave, &rooms, source).await;
    }
    let db = Db::connect(source, OpenMode::Existing, 1).await?;
    let mut tx = db.pool.begin().await?;
    let mut disabled = Vec::new();
    for id in rooms {
        let was: Option<i64> =
            sqlx::query("SELECT CAST(disabled AS BIGINT) FROM tblNode WHERE nodeID = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.get(0));
        if was == Some(0) {
            sqlx::query("UPDATE tblNode SET disabled = 1 WHERE nodeID = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            disabled.push(id);
        }
    }
    let record = FreezeRecord { wave: wave.to_string(), disabled, undone: false };
    journal(ws, &record).await?;
    tx.commit().await.context("committing the freeze")?;
    db.pool.close().await;
    Ok(record)
}

/// Journals a freeze. Called before the source commits: a journal entry whose freeze did
/// not commit is harmless to undo (it re-enables rooms that are enabled), a commit without
/// a journal entry is not.
async fn journal(ws: &Workspace, record: &FreezeRecord) -> Result<()> {
    ws.journal(
        &format!("freeze-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f")),
        &record.wave,
        "freeze",
        &serde_json::to_string(record)?,
    )
    .await
}

/// Freezes of a wave not undone yet: (run id, seq, record), oldest first.
async fn pending(ws: &Workspace, wave: &str) -> Result<Vec<(String, i64, FreezeRecord)>> {
    let rows = sqlx::query(
        "SELECT run_id, seq, body FROM journal WHERE kind = 'freeze' AND wave = ?1 ORDER BY run_id",
    )
    .bind(wave)
    .fetch_all(&ws.pool)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let rec: FreezeRecord = serde_json::from_str(&r.get::<String, _>(2))?;
        if !rec.undone {
            out.push((r.get(0), r.get(1), rec));
        }
    }
    Ok(out)
}

/// Marks a journaled freeze as undone (after the source committed the re-enable).
async fn mark_undone(ws: &Workspace, run_id: &str, seq: i64, mut rec: FreezeRecord) -> Result<()> {
    rec.undone = true;
    sqlx::query("UPDATE journal SET body = ?1 WHERE run_id = ?2 AND seq = ?3")
        .bind(serde_json::to_string(&rec)?)
        .bind(run_id)
        .bind(seq)
        .execute(&ws.pool)
        .await?;
    Ok(())
}

/// Legacy rooms that a freeze disabled and no `--undo` re-enabled yet.
pub async fn frozen_rooms(ws: &Workspace) -> Result<Vec<i64>> {
    let rows =
        sqlx::query("SELECT body FROM journal WHERE kind = 'freeze'").fetch_all(&ws.pool).await?;
    let mut out = Vec::new();
    for r in rows {
        let rec: FreezeRecord = serde_json::from_str(&r.get::<String, _>(0))?;
        if !rec.undone {
            out.extend(rec.disabled);
        }
    }
    Ok(out)
}

/// Re-enables the rooms that earlier freezes of the wave disabled; returns how many.
pub async fn unfreeze(ws: &Workspace, wave: &str, source: &DbUrl) -> Result<u64> {
    let todo = pending(ws, wave).await?;
    if source.dialect() == Dialect::Mssql {
        #[cfg(feature = "mssql")]
        return mssql::unfreeze(ws, todo, source).await;
    }
    let db = Db::connect(source, OpenMode::Existing, 1).await?;
    let mut n = 0;
    for (run_id, seq, rec) in todo {
        let mut tx = db.pool.begin().await?;
        for id in &rec.disabled {
            n += sqlx::query("UPDATE tblNode SET disabled = 0 WHERE nodeID = $1")
                .bind(*id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        mark_undone(ws, &run_id, seq, rec).await?;
    }
    db.pool.close().await;
    Ok(n)
}
