//! The cutover freeze: disable a wave's legacy rooms so nobody posts in them while the
//! delta is extracted and loaded. The only write the tool ever makes to the source; it is
//! journaled in the workspace and `--undo` re-enables exactly the rooms it disabled.
//!
//! One code path for every engine, over [`SourceDb`]: a freeze is one transaction on the
//! source, journaled before it commits. `disabled = 0` in the UPDATE's own WHERE makes
//! "was enabled, now disabled" one atomic step per room, so the record lists exactly the
//! rooms this freeze changed. A freeze holds the workspace lock (a second freeze, load or
//! rollback of the workspace is refused meanwhile); it takes no lock in the source, which
//! it must not change beyond `disabled`.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::db::{DbUrl, SourceDb, Value};
use crate::error::bad_input;
use crate::plan::Plan;
use crate::staging::lock::WorkspaceLock;
use crate::staging::Workspace;

/// The table and columns a source must have for a freeze.
const NEEDED: (&str, &str) = ("tblNode", "nodeID, disabled");
/// Disables a room that is enabled (1 row affected) and leaves a disabled one alone.
const DISABLE: &str = "UPDATE tblNode SET disabled = 1 WHERE nodeID = $1 AND disabled = 0";
/// Re-enables a room the freeze disabled.
const ENABLE: &str = "UPDATE tblNode SET disabled = 0 WHERE nodeID = $1";
/// The journal entries of freezes.
const KIND: &str = "freeze";

/// What one freeze changed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FreezeRecord {
    /// Wave.
    pub wave: String,
    /// Legacy room ids that the freeze disabled (rooms already disabled are not listed).
    pub disabled: Vec<i64>,
    /// Whether this record has been undone.
    pub undone: bool,
    /// When it was taken (RFC 3339; older records carry it in their run id only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// Disables the wave's legacy rooms that are enabled; returns what it changed.
pub async fn freeze(
    ws: &Workspace,
    plan: &Plan,
    wave: &str,
    source: &DbUrl,
) -> Result<FreezeRecord> {
    let _lock = WorkspaceLock::acquire(ws.dir(), &format!("gcmigrate freeze --wave {wave}"))?;
    let rooms: Vec<i64> = plan.rooms_in(Some(wave)).map(|r| r.legacy_id).collect();
    if rooms.is_empty() {
        return Err(bad_input(format!("wave `{wave}` has no rooms in the plan")));
    }
    let db = open(source).await?;
    let ids: Vec<Vec<Value>> = rooms.iter().map(|&id| vec![Value::Int(id)]).collect();
    let result = db
        .execute_each("disabling rooms in tblNode", DISABLE, &ids, async |affected| {
            let disabled = rooms.iter().zip(affected).filter(|(_, n)| *n > 0).map(|(id, _)| *id);
            let record = FreezeRecord {
                wave: wave.to_string(),
                disabled: disabled.collect(),
                undone: false,
                at: Some(chrono::Utc::now().to_rfc3339()),
            };
            journal(ws, &record).await?;
            Ok(record)
        })
        .await;
    db.close().await;
    result
}

/// Connects and checks the source is a Group Chat database (exit 2 when not).
async fn open(url: &DbUrl) -> Result<SourceDb> {
    let db = SourceDb::open(url).await?;
    match db.has_columns(NEEDED.0, NEEDED.1).await {
        Ok(true) => Ok(db),
        found => {
            db.close().await;
            found?;
            Err(bad_input(format!(
                "{url} is not a Group Chat database (no tblNode with nodeID and disabled): \
                 check that --source names the legacy database"
            )))
        }
    }
}

/// Journals a freeze. Called before the source commits: a journal entry whose freeze did
/// not commit is harmless to undo (it re-enables rooms that are enabled), a commit without
/// a journal entry is not.
async fn journal(ws: &Workspace, record: &FreezeRecord) -> Result<()> {
    ws.journal(
        &format!("freeze-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f")),
        &record.wave,
        KIND,
        &serde_json::to_string(record)?,
    )
    .await
}

/// A journaled freeze: its run id, its position in the run, what it changed.
struct Journaled {
    run_id: String,
    seq: i64,
    record: FreezeRecord,
}

/// Freezes not undone yet (of `wave`, or of every wave), oldest first.
async fn pending(ws: &Workspace, wave: Option<&str>) -> Result<Vec<Journaled>> {
    let mut out = Vec::new();
    for e in ws.journal_entries(&[KIND]).await? {
        if wave.is_some_and(|w| w != e.wave) {
            continue;
        }
        let record: FreezeRecord = serde_json::from_str(&e.body)?;
        if !record.undone {
            out.push(Journaled { run_id: e.run_id, seq: e.seq, record });
        }
    }
    out.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    Ok(out)
}

/// Legacy rooms that a freeze disabled and no `--undo` re-enabled yet.
pub async fn frozen_rooms(ws: &Workspace) -> Result<Vec<i64>> {
    Ok(pending(ws, None).await?.into_iter().flat_map(|j| j.record.disabled).collect())
}

/// When the latest freeze of `wave` that no `--undo` re-enabled was taken (`None`: the
/// wave is not frozen).
pub async fn frozen_since(
    ws: &Workspace,
    wave: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    let mut latest = None;
    for j in pending(ws, Some(wave)).await? {
        let at = match &j.record.at {
            Some(at) => chrono::DateTime::parse_from_rfc3339(at).ok().map(|t| t.to_utc()),
            None => j.run_id.strip_prefix("freeze-").and_then(|t| {
                chrono::NaiveDateTime::parse_from_str(t, "%Y%m%dT%H%M%S%.3f")
                    .ok()
                    .map(|n| n.and_utc())
            }),
        };
        let at = at.ok_or_else(|| {
            anyhow::anyhow!("the journal's freeze entry {} has no readable time", j.run_id)
        })?;
        latest = latest.max(Some(at));
    }
    Ok(latest)
}

/// Re-enables the rooms that earlier freezes of the wave disabled, one transaction per
/// freeze, each marked undone once the source committed; returns how many.
pub async fn unfreeze(ws: &Workspace, wave: &str, source: &DbUrl) -> Result<u64> {
    let _lock =
        WorkspaceLock::acquire(ws.dir(), &format!("gcmigrate freeze --undo --wave {wave}"))?;
    let todo = pending(ws, Some(wave)).await?;
    let db = open(source).await?;
    let result = async {
        let mut n = 0;
        for Journaled { run_id, seq, mut record } in todo {
            let ids: Vec<Vec<Value>> =
                record.disabled.iter().map(|&id| vec![Value::Int(id)]).collect();
            n += db
                .execute_each("re-enabling rooms in tblNode", ENABLE, &ids, async |affected| {
                    Ok(affected.iter().sum::<u64>())
                })
                .await?;
            record.undone = true;
            ws.rewrite_journal(&run_id, seq, &serde_json::to_string(&record)?).await?;
        }
        anyhow::Ok(n)
    }
    .await;
    db.close().await;
    result
}

/// Every T-SQL statement freeze sends, named and as SQL Server receives it, for the parse
/// tests.
#[cfg(feature = "mssql")]
pub fn tsql_statements() -> Vec<(String, String)> {
    use crate::db::mssql::{pool, presence_sql, probe_sql};
    let (table, cols) = NEEDED;
    [
        ("freeze: begin", pool::BEGIN.to_string()),
        ("freeze: commit", pool::COMMIT.to_string()),
        ("freeze: rollback", pool::ROLLBACK.to_string()),
        ("freeze: disable", pool::placeholders(DISABLE).into_owned()),
        ("freeze: enable", pool::placeholders(ENABLE).into_owned()),
        ("freeze: probe tblNode", presence_sql(table, cols)),
        ("freeze: probe tblNode by select", probe_sql(table, cols)),
    ]
    .into_iter()
    .map(|(n, s)| (n.to_string(), s))
    .collect()
}
