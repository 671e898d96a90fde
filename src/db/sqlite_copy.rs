//! SQLite → SQLite history copied by the engine: the target's writer attaches the
//! workspace's `history.db` and every chunk is one `INSERT … SELECT` through a temporary
//! (legacy → target) author map, so no message passes through Rust. Small rooms share a
//! transaction (`copy_rooms`); each room's chunk still commits with its `tblLastChatId`
//! and ledger rows, so a rerun resumes exactly as on the row path. A chunk holding a row
//! the message rules leave out is rolled back (to its savepoint) and left to the row path.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::Connection;

use super::batch::Batch;
use super::sqlite_writer::{apply_ops, SqliteTarget};
use crate::model::MAX_TICKS;

impl SqliteTarget {
    /// Prepares [`SqliteTarget::copy_rooms`]: attaches the workspace's `history.db`
    /// read-only and fills a temporary (legacy → target) author map. `Ok(false)`: the
    /// target's `tblChat.userId` accepts NULL, which the rule check relies on (see
    /// `copy_sql`), so the row path must do the work.
    pub fn attach_staging(
        &self,
        staging: &Path,
        authors: impl Iterator<Item = (i64, i64)>,
    ) -> rusqlite::Result<bool> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let not_null: Option<i64> = conn
            .query_row(
                "SELECT \"notnull\" FROM pragma_table_info('tblChat') WHERE name = 'userId'",
                [],
                |r| r.get(0),
            )
            .ok();
        if not_null != Some(1) {
            return Ok(false);
        }
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
        Ok(true)
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
        match copy_sql(&tx, c)? {
            None => Ok(None), // dropping `tx` rolls the chunk back
            Some((_, _, 0)) => Ok(Some(Copied { rows: 0, last: c.after })),
            Some((first, last, rows)) => {
                apply_ops(&tx, &tail(first, last, rows))?;
                tx.commit()?;
                Ok(Some(Copied { rows, last }))
            }
        }
    }

    /// Copies whole rooms, several per transaction (at most about `limit` rows each), each
    /// chunk followed by `tail(room, first, last, rows)` in the same transaction; `done(rows)`
    /// after every commit. Rooms resume after the ledger's last chunk. Rooms that meet a
    /// chunk the engine cannot copy as it stands are returned in [`Bulk::left`].
    pub fn copy_rooms(
        &self,
        rooms: &[(i64, i64)],
        limit: i64,
        since: Option<i64>,
        tail: &dyn Fn(i64, i64, i64, u64) -> Batch,
        done: &dyn Fn(u64),
    ) -> rusqlite::Result<Bulk> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let resume = resume_points(&conn)?;
        conn.execute_batch("BEGIN")?;
        let result = copy_rooms_in(&conn, rooms, limit, since, &resume, tail, done);
        match result {
            Ok(bulk) => {
                conn.execute_batch("COMMIT")?;
                done(bulk.pending);
                Ok(Bulk { pending: 0, ..bulk })
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

/// What [`SqliteTarget::copy_rooms`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Bulk {
    /// Rows copied.
    pub rows: u64,
    /// Chunks committed.
    pub chunks: u64,
    /// Rooms that resumed after a ledger entry.
    pub resumed: u64,
    /// Legacy rooms left to the row path.
    pub left: Vec<i64>,
    /// Rows copied in the open transaction (not yet reported to `done`).
    pending: u64,
}

/// The last committed legacy `chatId` per target room, from the ledger.
fn resume_points(conn: &Connection) -> rusqlite::Result<HashMap<i64, i64>> {
    let mut st = conn.prepare(
        "SELECT room_id, MAX(last_chat) FROM gcmigrate_ledger WHERE kind = 'chat' GROUP BY room_id",
    )?;
    let rows =
        st.query_map([], |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?)))?;
    let mut out = HashMap::new();
    for r in rows {
        if let (Some(room), Some(last)) = r? {
            out.insert(room, last);
        }
    }
    Ok(out)
}

/// The body of [`SqliteTarget::copy_rooms`], inside an open transaction.
fn copy_rooms_in(
    conn: &Connection,
    rooms: &[(i64, i64)],
    limit: i64,
    since: Option<i64>,
    resume: &HashMap<i64, i64>,
    tail: &dyn Fn(i64, i64, i64, u64) -> Batch,
    done: &dyn Fn(u64),
) -> rusqlite::Result<Bulk> {
    let mut bulk = Bulk::default();
    for &(room, target_room) in rooms {
        let mut after = match resume.get(&target_room) {
            Some(last) => {
                bulk.resumed += 1;
                *last
            }
            None => i64::MIN,
        };
        loop {
            let c = Chunk { room, target_room, after, limit, since };
            conn.execute_batch("SAVEPOINT chunk")?;
            let rows = match copy_sql(conn, &c)? {
                None => {
                    conn.execute_batch("ROLLBACK TO chunk; RELEASE chunk")?;
                    bulk.left.push(room);
                    break;
                }
                Some((_, _, 0)) => {
                    conn.execute_batch("RELEASE chunk")?;
                    break;
                }
                Some((first, last, rows)) => {
                    apply_ops(conn, &tail(target_room, first, last, rows))?;
                    conn.execute_batch("RELEASE chunk")?;
                    (bulk.rows, bulk.chunks, bulk.pending) =
                        (bulk.rows + rows, bulk.chunks + 1, bulk.pending + rows);
                    after = last;
                    rows
                }
            };
            if bulk.pending as i64 >= limit {
                conn.execute_batch("COMMIT; BEGIN")?;
                done(std::mem::take(&mut bulk.pending));
            }
            // A short chunk was the room's last: no statement is needed to find it empty.
            if (rows as i64) < limit {
                break;
            }
        }
    }
    Ok(bulk)
}

/// One chunk in the current transaction: `Some((first, last, rows))` when every staged row
/// of it was copied (`rows` 0: the room has no more), `None` when some row was not (the
/// caller rolls the chunk back).
///
/// One statement reads the chunk once: a row the rules would not load as it stands (date
/// out of range or before `since`, author without a target principal) gets a NULL
/// `userId`, which the NOT NULL column refuses, aborting the statement.
fn copy_sql(conn: &Connection, c: &Chunk) -> rusqlite::Result<Option<(i64, i64, u64)>> {
    let copied = conn
        .prepare_cached(
            "INSERT INTO main.tblChat (channelId, chatId, chatDate, userId, isAlert, content) \
             SELECT ?1, s.chat_id, s.chat_date, \
             CASE WHEN s.chat_date BETWEEN 0 AND ?5 AND s.chat_date >= ?6 THEN a.target END, \
             s.is_alert, s.content \
             FROM stg.snap_chat s LEFT JOIN temp.gcm_author a ON a.legacy = s.user_id \
             WHERE s.channel_id = ?2 AND s.chat_id > ?3 ORDER BY s.chat_id LIMIT ?4",
        )?
        .execute([c.target_room, c.room, c.after, c.limit, MAX_TICKS, c.since.unwrap_or(i64::MIN)]);
    let rows = match copied {
        Ok(n) => n as u64,
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    if rows == 0 {
        return Ok(Some((c.after, c.after, 0)));
    }
    let (first, last) = conn
        .prepare_cached(
            "SELECT MIN(chatId), MAX(chatId) FROM main.tblChat WHERE channelId = ?1 AND chatId > ?2",
        )?
        .query_row([c.target_room, c.after], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(Some((first, last, rows)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::staging::SNAP_CHAT_COLUMNS;

    #[test]
    fn engine_chunks_copy_whole_chunks_and_leave_rule_cases_to_the_row_path() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("staging.db");
        let stg = Connection::open(&staging).unwrap();
        stg.execute_batch(&format!(
            "CREATE TABLE snap_chat {SNAP_CHAT_COLUMNS}; \
             INSERT INTO snap_chat VALUES (5, 1, 100, 10, 0, 'a'), (5, 2, 200, 11, 1, 'b'), \
             (5, 3, 300, 10, 0, 'c'), (5, 4, 400, 99, 0, 'unknown author'), (6, 1, 100, 10, 0, 'x');"
        ))
        .unwrap();
        drop(stg);
        let target = |name: &str, user: &str| {
            let t = SqliteTarget::open(&dir.path().join(name), true).unwrap();
            let ddl = format!(
                "CREATE TABLE tblChat (channelId INT, chatId INT, chatDate INT, userId {user}, \
                 isAlert INT, content TEXT, rtf TEXT, PRIMARY KEY (channelId, chatId));"
            );
            t.conn.lock().unwrap().execute_batch(&ddl).unwrap();
            t
        };
        let loose = target("loose.db", "INT");
        assert!(
            !loose.attach_staging(&staging, [(10, 1010)].into_iter()).unwrap(),
            "nullable userId"
        );
        let t = target("t.db", "INT NOT NULL");
        assert!(t.attach_staging(&staging, [(10, 1010), (11, 1011)].into_iter()).unwrap());
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

    #[test]
    fn rooms_share_transactions_resume_from_the_ledger_and_hand_back_rule_cases() {
        let dir = tempfile::tempdir().unwrap();
        let staging = dir.path().join("staging.db");
        Connection::open(&staging)
            .unwrap()
            .execute_batch(&format!(
                "CREATE TABLE snap_chat {SNAP_CHAT_COLUMNS}; \
                 INSERT INTO snap_chat VALUES (5, 1, 100, 10, 0, 'a'), (5, 2, 200, 99, 0, 'who?'), \
                 (6, 1, 100, 10, 0, 'x'), (6, 2, 100, 10, 0, 'y'), (6, 3, 100, 10, 0, 'z'), \
                 (7, 1, 100, 10, 0, 'p');"
            ))
            .unwrap();
        let t = SqliteTarget::open(&dir.path().join("t.db"), true).unwrap();
        t.conn
            .lock()
            .unwrap()
            .execute_batch(
                "CREATE TABLE tblChat (channelId INT NOT NULL, chatId INT NOT NULL, chatDate INT NOT NULL, \
                 userId INT NOT NULL, isAlert INT NOT NULL, content TEXT NOT NULL, rtf TEXT, \
                 PRIMARY KEY (channelId, chatId)); \
                 CREATE TABLE gcmigrate_ledger (kind TEXT, room_id INT, last_chat INT); \
                 INSERT INTO gcmigrate_ledger VALUES ('chat', 60, 1);",
            )
            .unwrap();
        assert!(t.attach_staging(&staging, [(10, 1010)].into_iter()).unwrap());
        let tails = std::sync::Mutex::new(Vec::new());
        let tail = |room, first, last, rows| {
            tails.lock().unwrap().push((room, first, last, rows));
            Batch::default()
        };
        let reported = std::sync::atomic::AtomicU64::new(0);
        let done = |n| {
            reported.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        };
        let bulk = t.copy_rooms(&[(5, 50), (6, 60), (7, 70)], 2, None, &tail, &done).unwrap();
        assert_eq!((bulk.rows, bulk.chunks, bulk.resumed), (3, 2, 1));
        assert_eq!(bulk.left, vec![5], "room 5 has an author without a target principal");
        assert_eq!(reported.into_inner(), 3);
        // Room 5's chunk (1, 2) was rolled back whole: its chat 1 waits for the row path.
        assert_eq!(*tails.lock().unwrap(), vec![(60, 2, 3, 2), (70, 1, 1, 1)]);
        let n: i64 = t
            .conn
            .lock()
            .unwrap()
            .query_row("SELECT COUNT(*) FROM tblChat WHERE channelId = 50", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }
}
