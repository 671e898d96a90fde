//! The SQLite delta of `extract --delta` in proportion to the delta (issue 23): rather than
//! the full copy's scan of the whole attached `tblChat` against the watermarks, each room
//! — listed by a loose scan of the `(channelId, chatId)` key, two seeks a room — is copied
//! by one seek past its watermark (a room new since: all of it), and the manifest's
//! digests are taken from the rows staged. Rows that cannot be staged are looked for (a
//! whole scan) only when fewer were copied than the source counted past the watermarks.

use anyhow::{Context, Result};

use super::attach::{rejects, Copied, COPYABLE};
use super::snapshot::NEXT;
use crate::progress::Bar;

/// The attached source's rooms whose key is an integer (other rows are never staged).
fn rooms_sql() -> String {
    format!(
        "SELECT c FROM ({}) WHERE typeof(c) = 'integer'",
        crate::db::lite::loose_scan("src.tblChat", "channelId", "c")
    )
}

/// Whether the attached source has an index led by `channelId` (the loose scan and the
/// seeks need it); without one the full copy's path is as good.
pub(super) async fn can_seek(conn: &mut sqlx::SqliteConnection) -> Result<bool> {
    let sql = crate::db::lite::index_led_by("src", "tblChat", "channelId");
    Ok(sqlx::query(&sql).fetch_optional(&mut *conn).await?.is_some())
}

/// Copies the rows past the watermarks room by room, in one transaction; `total` is the
/// source's count past the watermarks (rooms new since not counted).
pub(super) async fn copy(
    conn: &mut sqlx::SqliteConnection,
    past: &str,
    total: u64,
    bar: &Bar,
) -> Result<Copied> {
    let rooms: Vec<(i64,)> = sqlx::query_as(&rooms_sql())
        .fetch_all(&mut *conn)
        .await
        .context("listing the rooms of tblChat")?;
    let marks: Vec<(i64, i64)> =
        sqlx::query_as("SELECT channel_id, last_chat_id FROM main.watermark")
            .fetch_all(&mut *conn)
            .await?;
    let marks: std::collections::HashMap<i64, i64> = marks.into_iter().collect();
    let ins = format!(
        "INSERT OR IGNORE INTO {NEXT} (channel_id, chat_id, chat_date, user_id, is_alert, content) \
         SELECT c.channelId, c.chatId, c.chatDate, c.userId, \
         CASE WHEN COALESCE(c.isAlert, 0) = 0 THEN 0 ELSE 1 END, c.content FROM src.tblChat c \
         WHERE c.channelId = ?1 AND c.chatId > ?2 AND {COPYABLE}"
    );
    let mut copied = 0u64;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    for (room,) in rooms {
        let mark = marks.get(&room).copied().unwrap_or(i64::MIN);
        let n = sqlx::query(&ins)
            .bind(room)
            .bind(mark)
            .execute(&mut *tx)
            .await
            .context("copying tblChat into the workspace")?
            .rows_affected();
        copied += n;
        bar.inc(n);
    }
    tx.commit().await?;
    let rejected = if copied >= total { 0 } else { rejects(conn, past).await? };
    bar.inc(rejected);
    let h = super::manifest::row_checksum_sql("chat_id");
    let rows = sqlx::query(&format!(
        "SELECT channel_id, COUNT(*), MAX(chat_id), SUM({h}) FROM {NEXT} GROUP BY channel_id"
    ))
    .fetch_all(&mut *conn)
    .await
    .context("taking the manifest of the delta")?;
    Ok(Copied { rows: copied, rejected, digests: super::manifest::digests(rows)? })
}
