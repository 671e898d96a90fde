//! The SQLite → staging fast path of `extract`: the source file is attached to a staging
//! connection and history is copied by the engine itself (`INSERT … SELECT`), a range of
//! rooms per transaction, so a SQLite source is read at the speed of a raw copy.
//!
//! Rows that cannot be represented (a NULL or non-integer key, NULL content) are not
//! copied: they are recorded in the reject table with their reason instead of failing the
//! whole extract. The result is the same snapshot the streaming reader produces.

use std::path::Path;

use anyhow::{Context, Result};
use sqlx::Row;

use super::Workspace;
use crate::progress::Bar;
use crate::source::Watermarks;

/// Rows per copy transaction.
const ROWS_PER_TX: i64 = 200_000;

const VALID: &str = "typeof(c.channelId) = 'integer' AND typeof(c.chatId) = 'integer' \
    AND typeof(c.chatDate) = 'integer' AND typeof(c.userId) = 'integer' AND c.content IS NOT NULL";

impl Workspace {
    /// Copies `tblChat` of the SQLite database at `source` past the watermarks (all of it
    /// when `delta` is false).
    pub async fn copy_chats_from_sqlite(
        &self,
        source: &Path,
        delta: bool,
        bar: &Bar,
    ) -> Result<Copied> {
        let mut conn = self.pool.acquire().await?;
        let path = source.display().to_string().replace('\'', "''");
        sqlx::raw_sql(&format!("ATTACH DATABASE 'file:{path}?mode=ro' AS src"))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("cannot attach {} read-only", source.display()))?;
        let result = copy(&mut conn, delta, bar).await;
        sqlx::raw_sql("DETACH DATABASE src").execute(&mut *conn).await?;
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
    /// Each copied room's highest `chatId` — its new watermark — when the copy saw it
    /// anyway (no rejects); `None`: compute them from the staged rows.
    pub last_ids: Option<Watermarks>,
}

async fn copy(conn: &mut sqlx::SqliteConnection, delta: bool, bar: &Bar) -> Result<Copied> {
    let past = if delta {
        "c.chatId > COALESCE((SELECT w.last_chat_id FROM main.watermark w WHERE w.channel_id = c.channelId), -9223372036854775808)"
    } else {
        "1 = 1"
    };
    // Rooms, their row counts (to cut the copy into transactions of bounded size) and
    // highest chatId; one pass over the source's primary key.
    let rows = sqlx::query(&format!(
        "SELECT c.channelId, COUNT(*), MAX(c.chatId) FROM src.tblChat c \
         WHERE typeof(c.channelId) = 'integer' AND {past} GROUP BY c.channelId ORDER BY 1"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let counts: Vec<(i64, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    // A rejected row's chatId may be no integer at all: then the staged rows decide.
    let last: Option<Watermarks> =
        rows.iter().map(|r| Some((r.get::<i64, _>(0), r.try_get::<i64, _>(2).ok()?))).collect();
    // (first room, last room, rows) per transaction.
    let mut ranges = Vec::new();
    let (mut start, mut acc) = (None, 0);
    for (room, n) in &counts {
        start.get_or_insert(*room);
        acc += n;
        if acc >= ROWS_PER_TX {
            ranges.push((start.take().unwrap_or(*room), *room, acc));
            acc = 0;
        }
    }
    if let (Some(s), Some((last, _))) = (start, counts.last()) {
        ranges.push((s, *last, acc));
    }
    let (mut copied, mut rejected) = (0u64, 0u64);
    for (lo, hi, rows) in ranges {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let ins = sqlx::query(&format!(
            "INSERT OR IGNORE INTO hist.snap_chat (channel_id, chat_id, chat_date, user_id, is_alert, content) \
             SELECT c.channelId, c.chatId, c.chatDate, c.userId, COALESCE(c.isAlert, 0), c.content FROM src.tblChat c \
             WHERE c.channelId BETWEEN $1 AND $2 AND {VALID} AND {past}"
        ))
        .bind(lo)
        .bind(hi)
        .execute(&mut *tx)
        .await
        .context("copying tblChat into the workspace")?;
        // Every row of the range copied: nothing to reject, skip the second scan.
        let rej = if ins.rows_affected() as i64 == rows {
            0
        } else {
            reject_range(&mut tx, lo, hi, past).await?
        };
        tx.commit().await?;
        copied += ins.rows_affected();
        rejected += rej;
        bar.inc(ins.rows_affected() + rej);
    }
    let last_ids = if rejected == 0 { last } else { None };
    Ok(Copied { rows: copied, rejected, last_ids })
}

/// Records the unreadable rows of rooms `lo..=hi` as extract rejects, with their raw values.
async fn reject_range(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    lo: i64,
    hi: i64,
    past: &str,
) -> Result<u64> {
    let (int_chat, int_user, int_date) =
        (int_or("c.chatId"), int_or("c.userId"), int_or("c.chatDate"));
    let rej = sqlx::query(&format!(
            "INSERT OR IGNORE INTO main.reject (stage, channel_id, chat_id, user_id, chat_date, reason) \
             SELECT 'extract', c.channelId, {int_chat}, {int_user}, {int_date}, \
             'unreadable row (chatId, chatDate, userId, content NULL?): ' || quote(c.chatId) || ', ' || quote(c.chatDate) \
             || ', ' || quote(c.userId) || ', ' || (c.content IS NULL) FROM src.tblChat c \
             WHERE c.channelId BETWEEN $1 AND $2 AND NOT ({VALID}) AND {past}"
        ))
        .bind(lo)
        .bind(hi)
        .execute(&mut **tx)
        .await?;
    Ok(rej.rows_affected())
}
