//! The SQLite target writer: one connection (SQLite has one writer), a transaction per
//! batch, and one cached single-row INSERT per table executed row by row — cheaper than
//! building multi-row statements, since a prepared statement costs only the binding.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params_from_iter, Connection};

use super::rows::{Batch, Op, TableSpec, Value};
use crate::lite;
use crate::model::MAX_TICKS;

/// An SQLite `mgc` replica, open for writing.
pub struct SqliteTarget {
    conn: Mutex<Connection>,
}

impl SqliteTarget {
    /// Opens the file at `path` (creating it when `create`).
    pub fn open(path: &Path, create: bool) -> rusqlite::Result<SqliteTarget> {
        let conn = lite::open(path, true, create)?;
        // A chunk commits every few hundred rows: checkpoint the WAL every 64 MB instead of
        // every 4 MB, so the copy is not interrupted by a checkpoint (and its fsync) so often.
        conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
        Ok(SqliteTarget { conn: Mutex::new(conn) })
    }

    /// Applies `batch` in one transaction.
    pub fn apply(&self, batch: &Batch) -> rusqlite::Result<()> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction()?;
        apply_ops(&tx, batch)?;
        tx.commit()
    }

    /// Prepares [`SqliteTarget::copy_chunk`]: attaches the workspace's `staging.db`
    /// read-only and fills a temporary (legacy → target) author map.
    pub fn attach_staging(
        &self,
        staging: &Path,
        authors: impl Iterator<Item = (i64, i64)>,
    ) -> rusqlite::Result<()> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let uri = format!("file:{}?mode=ro", staging.display());
        conn.execute("ATTACH DATABASE ?1 AS stg", [uri])?;
        conn.execute_batch(
            "CREATE TEMP TABLE gcm_author (legacy INTEGER PRIMARY KEY, target INTEGER NOT NULL)",
        )?;
        let mut st =
            conn.prepare("INSERT INTO temp.gcm_author (legacy, target) VALUES (?1, ?2)")?;
        for (l, t) in authors {
            st.execute([l, t])?;
        }
        Ok(())
    }

    /// Copies the next chunk of a room's staged history — at most `c.limit` rows after
    /// `c.after` — with one `INSERT … SELECT`, then `tail(first, last, rows)` in the same
    /// transaction. `Ok(None)`: some row of the chunk is not loaded as it stands (excluded,
    /// rejected, unmapped author); nothing was written and the caller takes the row path.
    pub fn copy_chunk(
        &self,
        c: &Chunk,
        tail: impl FnOnce(i64, i64, u64) -> Batch,
    ) -> rusqlite::Result<Option<Copied>> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction()?;
        let (rows, first, last): (i64, Option<i64>, Option<i64>) = tx
            .prepare_cached(
                "SELECT COUNT(*), MIN(chat_id), MAX(chat_id) FROM (SELECT chat_id FROM stg.snap_chat \
                 WHERE channel_id = ?1 AND chat_id > ?2 ORDER BY chat_id LIMIT ?3)",
            )?
            .query_row([c.room, c.after, c.limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(Some(Copied { rows: 0, last: c.after }));
        };
        let copied = tx
            .prepare_cached(
                "INSERT INTO main.tblChat (channelId, chatId, chatDate, userId, isAlert, content) \
                 SELECT ?1, s.chat_id, s.chat_date, a.target, s.is_alert, s.content \
                 FROM stg.snap_chat s JOIN temp.gcm_author a ON a.legacy = s.user_id \
                 WHERE s.channel_id = ?2 AND s.chat_id > ?3 AND s.chat_id <= ?4 \
                 AND s.chat_date BETWEEN 0 AND ?5 AND s.chat_date >= ?6 ORDER BY s.chat_id",
            )?
            .execute([
                c.target_room,
                c.room,
                c.after,
                last,
                MAX_TICKS,
                c.since.unwrap_or(i64::MIN),
            ])?;
        if copied as i64 != rows {
            return Ok(None); // dropping `tx` rolls the chunk back
        }
        apply_ops(&tx, &tail(first, last, copied as u64))?;
        tx.commit()?;
        Ok(Some(Copied { rows: copied as u64, last }))
    }
}

/// One chunk for [`SqliteTarget::copy_chunk`].
#[derive(Debug, Clone, Copy)]
pub struct Chunk {
    /// Legacy room (`snap_chat.channel_id`).
    pub room: i64,
    /// Its target `nodeID`.
    pub target_room: i64,
    /// The last `chatId` already loaded.
    pub after: i64,
    /// Rows per chunk.
    pub limit: i64,
    /// Messages older than this (ticks) are excluded.
    pub since: Option<i64>,
}

/// What [`SqliteTarget::copy_chunk`] committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Rows copied (0: the room has no more staged rows).
    pub rows: u64,
    /// The chunk's last `chatId`.
    pub last: i64,
}

fn apply_ops(tx: &rusqlite::Transaction<'_>, batch: &Batch) -> rusqlite::Result<()> {
    {
        for op in &batch.ops {
            match op {
                Op::Insert(t, rows) => {
                    let mut st = tx.prepare_cached(&insert_sql(t))?;
                    for row in rows {
                        st.execute(params_from_iter(row.iter()))?;
                    }
                }
                Op::DeleteEq(t, col, v) => {
                    tx.prepare_cached(&format!("DELETE FROM {} WHERE {col} = ?1", t.name))?
                        .execute([*v])?;
                }
            }
        }
    }
    Ok(())
}

fn insert_sql(t: &TableSpec) -> String {
    let cols: Vec<&str> = t.cols.iter().map(|c| c.0).collect();
    let marks = vec!["?"; cols.len()].join(", ");
    format!("INSERT INTO {} ({}) VALUES ({marks})", t.name, cols.join(", "))
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

/// SQLITE_BUSY and SQLITE_LOCKED (another writer holds the file): worth a retry.
pub fn is_transient(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::rows::{CHAT, LAST_CHAT_ID};

    #[test]
    fn a_batch_commits_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let t = SqliteTarget::open(&path, true).unwrap();
        t.conn
            .lock()
            .unwrap()
            .execute_batch(
                "CREATE TABLE tblChat (channelId INT, chatId INT, chatDate INT, userId INT, isAlert INT, \
                 content TEXT, rtf TEXT, PRIMARY KEY (channelId, chatId)); \
                 CREATE TABLE tblLastChatId (nodeID INT PRIMARY KEY, lastChatID INT);",
            )
            .unwrap();
        let row = |id: i64, text: &str| {
            vec![7.into(), id.into(), 1.into(), 2.into(), false.into(), text.into()]
        };
        let mut ok = Batch::default();
        ok.insert(&CHAT, row(1, "a"));
        ok.insert(&CHAT, row(2, "tab\tand 'quote'"));
        ok.delete_eq(&LAST_CHAT_ID, "nodeID", 7);
        ok.insert(&LAST_CHAT_ID, vec![7.into(), 2.into()]);
        t.apply(&ok).unwrap();
        let mut dup = Batch::default();
        dup.insert(&CHAT, row(3, "c"));
        dup.insert(&CHAT, row(2, "duplicate key"));
        let err = t.apply(&dup).unwrap_err();
        assert!(!is_transient(&err), "{err}");
        let conn = t.conn.lock().unwrap();
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM tblChat", [], |r| r.get(0)).unwrap();
        let text: String = conn
            .query_row("SELECT content FROM tblChat WHERE chatId = 2", [], |r| r.get(0))
            .unwrap();
        assert_eq!((n, text.as_str()), (2, "tab\tand 'quote'"), "the failed batch left nothing");
    }

    #[test]
    fn engine_chunks_copy_whole_chunks_and_leave_rule_cases_to_the_row_path() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("staging.db");
        let stg = Connection::open(&staging).unwrap();
        stg.execute_batch(
            "CREATE TABLE snap_chat (channel_id INTEGER NOT NULL, chat_id INTEGER NOT NULL, \
             chat_date INTEGER NOT NULL, user_id INTEGER NOT NULL, is_alert INTEGER NOT NULL, \
             content TEXT NOT NULL, PRIMARY KEY (channel_id, chat_id)) WITHOUT ROWID; \
             INSERT INTO snap_chat VALUES (5, 1, 100, 10, 0, 'a'), (5, 2, 200, 11, 1, 'b'), \
             (5, 3, 300, 10, 0, 'c'), (5, 4, 400, 99, 0, 'unknown author'), (6, 1, 100, 10, 0, 'x');",
        )
        .unwrap();
        drop(stg);
        let t = SqliteTarget::open(&dir.path().join("t.db"), true).unwrap();
        t.conn
            .lock()
            .unwrap()
            .execute_batch(
                "CREATE TABLE tblChat (channelId INT, chatId INT, chatDate INT, userId INT, isAlert INT, \
                 content TEXT, rtf TEXT, PRIMARY KEY (channelId, chatId));",
            )
            .unwrap();
        t.attach_staging(&staging, [(10, 1010), (11, 1011)].into_iter()).unwrap();
        let chunk =
            |room, after, since| Chunk { room, target_room: room * 10, after, limit: 2, since };
        let mut tails = Vec::new();
        let mut tail = |f, l, n| {
            tails.push((f, l, n));
            Batch::default()
        };
        assert_eq!(
            t.copy_chunk(&chunk(5, i64::MIN, None), &mut tail).unwrap(),
            Some(Copied { rows: 2, last: 2 })
        );
        // (3, 4): author 99 has no target principal → nothing written, row path.
        assert_eq!(t.copy_chunk(&chunk(5, 2, None), &mut tail).unwrap(), None);
        // A `since` that excludes room 6's only message sends its chunk to the row path too.
        assert_eq!(t.copy_chunk(&chunk(6, i64::MIN, Some(150)), &mut tail).unwrap(), None);
        assert_eq!(
            t.copy_chunk(&chunk(5, 4, None), &mut tail).unwrap(),
            Some(Copied { rows: 0, last: 4 })
        );
        assert_eq!(tails, vec![(1, 2, 2)]);
        let conn = t.conn.lock().unwrap();
        let rows: Vec<(i64, i64, i64, String)> = conn
            .prepare("SELECT channelId, chatId, userId, content FROM tblChat ORDER BY chatId")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(rows, vec![(50, 1, 1010, "a".into()), (50, 2, 1011, "b".into())]);
    }
}
