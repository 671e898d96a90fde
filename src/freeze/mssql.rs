//! The cutover freeze on a SQL Server source: one session, one transaction, journaled
//! before the commit like the sqlx path. `disabled = 0` in the UPDATE's own WHERE makes
//! "was enabled, now disabled" one atomic step per room, so the record lists exactly the
//! rooms this freeze changed.

use std::time::Duration;

use anyhow::{Context, Result};

use super::FreezeRecord;
use crate::db::mssql::Session;
use crate::db::DbUrl;
use crate::error::bad_input;
use crate::staging::Workspace;

const BEGIN: &str = "BEGIN TRANSACTION";
const COMMIT: &str = "COMMIT TRANSACTION";
const ROLLBACK: &str = "ROLLBACK TRANSACTION";
/// Disables a room that is enabled (1 row affected) and leaves a disabled one alone.
const DISABLE: &str = "UPDATE tblNode SET disabled = 1 WHERE nodeID = @P1 AND disabled = 0";
/// Re-enables a room the freeze disabled.
const ENABLE: &str = "UPDATE tblNode SET disabled = 0 WHERE nodeID = @P1";

/// Every T-SQL statement freeze sends, named, for the parse tests.
pub fn all_statements() -> Vec<(String, String)> {
    [
        ("freeze: begin", BEGIN),
        ("freeze: commit", COMMIT),
        ("freeze: rollback", ROLLBACK),
        ("freeze: disable", DISABLE),
        ("freeze: enable", ENABLE),
        ("freeze: probe tblNode", &crate::db::mssql::presence_sql("tblNode", PROBE)),
        ("freeze: probe tblNode by select", &crate::db::mssql::probe_sql("tblNode", PROBE)),
    ]
    .iter()
    .map(|(n, s)| (n.to_string(), s.to_string()))
    .collect()
}

/// The columns a source's `tblNode` must have for a freeze.
const PROBE: &str = "nodeID, disabled";

/// Connects and checks the source is a Group Chat database (exit 2 when not).
async fn open(url: &DbUrl) -> Result<Session> {
    let mut s = Session::connect(url).await?;
    if !s.has_columns("tblNode", PROBE).await? {
        let label = s.label().to_string();
        s.close().await;
        return Err(bad_input(format!(
            "SQL Server {label} is not a Group Chat database (no tblNode with nodeID and disabled): \
             check that --source names the legacy database"
        )));
    }
    Ok(s)
}

/// `nodeID` is an `int` column: an int parameter keeps the index seek.
fn node_id(id: i64) -> Result<i32> {
    i32::try_from(id).with_context(|| format!("legacy nodeID {id} does not fit in int"))
}

/// Runs `work` inside BEGIN … COMMIT; on any failure the transaction is rolled back.
async fn in_transaction<T>(
    s: &mut Session,
    work: impl AsyncFnOnce(&mut Session) -> Result<T>,
) -> Result<T> {
    s.batch("starting a transaction", BEGIN).await?;
    let result = match work(s).await {
        Ok(v) => s.batch("committing", COMMIT).await.map(|()| v),
        Err(e) => Err(e),
    };
    if result.is_err() {
        // Best effort: a broken session rolls back on the server when it closes.
        let _ = tokio::time::timeout(Duration::from_secs(10), s.try_batch(ROLLBACK)).await;
    }
    result
}

/// Disables the enabled rooms among `rooms`, journals, commits.
pub(super) async fn freeze(
    ws: &Workspace,
    wave: &str,
    rooms: &[i64],
    url: &DbUrl,
) -> Result<FreezeRecord> {
    let mut s = open(url).await?;
    let result = in_transaction(&mut s, async |s: &mut Session| {
        let mut disabled = Vec::new();
        for &id in rooms {
            if s.execute("disabling rooms in tblNode", DISABLE, &[&node_id(id)?]).await? > 0 {
                disabled.push(id);
            }
        }
        let record = FreezeRecord { wave: wave.to_string(), disabled, undone: false };
        super::journal(ws, &record).await?;
        Ok(record)
    })
    .await;
    s.close().await;
    result
}

/// Re-enables the rooms of each pending freeze, one transaction each, marking it undone.
pub(super) async fn unfreeze(
    ws: &Workspace,
    todo: Vec<(String, i64, FreezeRecord)>,
    url: &DbUrl,
) -> Result<u64> {
    let mut s = open(url).await?;
    let result = async {
        let mut n = 0;
        for (run_id, seq, rec) in todo {
            let ids = rec.disabled.clone();
            n += in_transaction(&mut s, async |s: &mut Session| {
                let mut k = 0;
                for id in ids {
                    k +=
                        s.execute("re-enabling rooms in tblNode", ENABLE, &[&node_id(id)?]).await?;
                }
                Ok(k)
            })
            .await?;
            super::mark_undone(ws, &run_id, seq, rec).await?;
        }
        anyhow::Ok(n)
    }
    .await;
    s.close().await;
    result
}
