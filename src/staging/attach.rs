//! The SQLite → staging fast path of `extract`: the source file is attached to a staging
//! connection and history is copied by the engine itself (`INSERT … SELECT`), a range of
//! rowids per transaction, so a SQLite source is read at the speed of a raw copy.
//!
//! Rows that cannot be represented (a NULL or non-integer key, NULL content) are not
//! copied: they are recorded in the reject table with their reason instead of failing the
//! whole extract. The result is the same snapshot the streaming reader produces.

use std::path::Path;

use anyhow::{Context, Result};

use super::snapshot::{NEXT, NEXT_REJECTS};
use super::{Digests, Workspace};
use crate::progress::Bar;

/// Rows per copy transaction.
const ROWS_PER_TX: i64 = 200_000;

/// The rows `extract` can stage: integer keys, date and author, and some content.
const VALID: &str = "typeof(c.channelId) = 'integer' AND typeof(c.chatId) = 'integer' \
    AND typeof(c.chatDate) = 'integer' AND typeof(c.userId) = 'integer' AND c.content IS NOT NULL";

/// [`VALID`] as the copy checks it, about a fifth cheaper than four `typeof()` calls a
/// row: a value is an integer when casting it to one gives back the same value (text,
/// reals and blobs compare unequal under `IS`). NULLs pass this test, but the staged
/// columns are NOT NULL and the copy's `OR IGNORE` skips such rows; the reject scan, which
/// runs whenever a row was not copied, names them with [`VALID`].
pub(super) const COPYABLE: &str = "CAST(c.channelId AS INTEGER) IS c.channelId \
    AND CAST(c.chatId AS INTEGER) IS c.chatId AND CAST(c.chatDate AS INTEGER) IS c.chatDate \
    AND CAST(c.userId AS INTEGER) IS c.userId";

impl Workspace {
    /// Copies `tblChat` of the SQLite database at `source` past the watermarks (all of it
    /// when `delta` is false) into the running extract's side table. `total` is the
    /// source's count of those rows: when fewer are copied, the rest are looked for and
    /// recorded as rejects. The manifest's digests are aggregated from the source's rows
    /// on a second connection while the first copies.
    pub async fn copy_chats_from_sqlite(
        &self,
        source: &Path,
        delta: bool,
        total: u64,
        bar: &Bar,
    ) -> Result<Copied> {
        let path = source.display().to_string().replace('\'', "''");
        let attach = format!("ATTACH DATABASE 'file:{path}?mode=ro' AS src");
        let mut conn = self.pool.acquire().await?;
        let mut side = self.pool.acquire().await?;
        for c in [&mut conn, &mut side] {
            sqlx::raw_sql(&attach)
                .execute(&mut **c)
                .await
                .with_context(|| format!("cannot attach {} read-only", source.display()))?;
        }
        let past = past(delta);
        if delta && super::attach_delta::can_seek(&mut conn).await? {
            let copied = super::attach_delta::copy(&mut conn, &past, total, bar).await;
            for c in [&mut conn, &mut side] {
                sqlx::raw_sql("DETACH DATABASE src").execute(&mut **c).await?;
            }
            return copied;
        }
        let (copied, quick) =
            tokio::join!(copy(&mut conn, &past, total, bar), digests(&mut side, &past, false));
        let result = async {
            let mut copied = copied?;
            copied.digests = quick?;
            // A row was rejected: the keys alone may count it; aggregate what was staged.
            let counted: u64 = copied.digests.values().map(|d| d.rows).sum();
            if copied.rejected > 0 || counted != copied.rows {
                copied.digests = digests(&mut side, &past, true).await?;
            }
            anyhow::Ok(copied)
        }
        .await;
        for c in [&mut conn, &mut side] {
            sqlx::raw_sql("DETACH DATABASE src").execute(&mut **c).await?;
        }
        result
    }
}

/// The column when it holds an integer, else -1 (the raw value goes into the reason).
fn int_or(col: &str) -> String {
    format!("CASE WHEN typeof({col}) = 'integer' THEN {col} ELSE -1 END")
}

/// What a copy of history into the workspace did.
#[derive(Debug, Clone, Default)]
pub struct Copied {
    /// Rows staged.
    pub rows: u64,
    /// Rows recorded as rejects instead.
    pub rejected: u64,
    /// The per-room digests of the staged rows (for the manifest and the watermarks).
    pub digests: Digests,
}

/// The rows past the watermarks (every row for a full extract).
fn past(delta: bool) -> String {
    if delta {
        "c.chatId > COALESCE((SELECT w.last_chat_id FROM main.watermark w WHERE w.channel_id = c.channelId), -9223372036854775808)".into()
    } else {
        "1 = 1".into()
    }
}

/// The rows the copy stages: [`COPYABLE`] and nothing NULL (the staged columns are NOT
/// NULL, the copy's `OR IGNORE` skips such rows).
const STAGED: &str = "c.channelId IS NOT NULL AND c.chatId IS NOT NULL AND c.chatDate IS NOT NULL \
    AND c.userId IS NOT NULL AND c.content IS NOT NULL";

/// The manifest's digests of the rows the copy stages, aggregated on the source's side
/// (from its `(channelId, chatId)` key index when the filters allow: a covering scan).
/// `exact` also applies the filters on the other columns (a table scan); without it only
/// the keys are tested, which is exact whenever no row was rejected.
async fn digests(conn: &mut sqlx::SqliteConnection, past: &str, exact: bool) -> Result<Digests> {
    let filter = if exact {
        format!("{COPYABLE} AND {STAGED}")
    } else {
        "CAST(c.channelId AS INTEGER) IS c.channelId AND CAST(c.chatId AS INTEGER) IS c.chatId \
         AND c.channelId IS NOT NULL AND c.chatId IS NOT NULL"
            .to_string()
    };
    let h = super::manifest::row_checksum_sql("CAST(c.chatId AS INTEGER)");
    let rows = sqlx::query(&format!(
        "SELECT CAST(c.channelId AS INTEGER), COUNT(*), MAX(CAST(c.chatId AS INTEGER)), SUM({h}) \
         FROM src.tblChat c WHERE {filter} AND {past} GROUP BY c.channelId"
    ))
    .fetch_all(&mut *conn)
    .await
    .context("taking the manifest of tblChat")?;
    super::manifest::digests(rows)
}

async fn copy(
    conn: &mut sqlx::SqliteConnection,
    past: &str,
    total: u64,
    bar: &Bar,
) -> Result<Copied> {
    // Transactions of bounded size over rowid ranges: the table is read in its own order,
    // with no index lookup per row. A table without rowids is copied in one transaction.
    let span: Option<(i64, i64)> = sqlx::query_as("SELECT MIN(rowid), MAX(rowid) FROM src.tblChat")
        .fetch_one(&mut *conn)
        .await
        .ok();
    let (range, ranges): (&str, Vec<(i64, i64)>) = match span {
        Some((lo, hi)) => (
            "c.rowid BETWEEN $1 AND $2",
            (lo..=hi).step_by(ROWS_PER_TX as usize).map(|f| (f, f + ROWS_PER_TX - 1)).collect(),
        ),
        None => ("$1 <= $2", vec![(0, 0)]),
    };
    let mut copied = 0u64;
    for (lo, hi) in ranges {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let ins = sqlx::query(&format!(
            "INSERT OR IGNORE INTO {NEXT} (channel_id, chat_id, chat_date, user_id, is_alert, content) \
             SELECT c.channelId, c.chatId, c.chatDate, c.userId, \
             CASE WHEN COALESCE(c.isAlert, 0) = 0 THEN 0 ELSE 1 END, c.content FROM src.tblChat c \
             WHERE {range} AND {COPYABLE} AND {past}"
        ))
        .bind(lo)
        .bind(hi)
        .execute(&mut *tx)
        .await
        .context("copying tblChat into the workspace")?;
        tx.commit().await?;
        copied += ins.rows_affected();
        bar.inc(ins.rows_affected());
    }
    // Every row copied: nothing to reject, skip the second scan.
    let rejected = if copied >= total { 0 } else { rejects(conn, past).await? };
    bar.inc(rejected);
    Ok(Copied { rows: copied, rejected, digests: Digests::new() })
}

/// Records the unreadable rows as extract rejects, with their raw values.
pub(super) async fn rejects(conn: &mut sqlx::SqliteConnection, past: &str) -> Result<u64> {
    let (int_chat, int_user, int_date) =
        (int_or("c.chatId"), int_or("c.userId"), int_or("c.chatDate"));
    let rej = sqlx::query(&format!(
            "INSERT OR IGNORE INTO main.reject (stage, channel_id, chat_id, user_id, chat_date, reason) \
             SELECT '{NEXT_REJECTS}', {}, {int_chat}, {int_user}, {int_date}, \
             'unreadable row (channelId, chatId, chatDate, userId, content NULL?): ' || quote(c.channelId) || ', ' \
             || quote(c.chatId) || ', ' || quote(c.chatDate) || ', ' || quote(c.userId) || ', ' || (c.content IS NULL) \
             FROM src.tblChat c WHERE NOT ({VALID}) AND {past}",
            int_or("c.channelId")
        ))
        .execute(&mut *conn)
        .await?;
    Ok(rej.rows_affected())
}
