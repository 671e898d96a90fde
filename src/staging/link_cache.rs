//! The messages holding a file link, kept between plans (issue 23: a plan in the cutover
//! window scans the delta, not the history). The file-link scan of `plan` keeps the keys
//! of the staged messages whose content holds the needle, each scanned room's highest
//! `chatId`, and the basis they hold for (the last extract run scanned, the needle). A
//! later scan reuses them under the rule of the author counts (`author_cache.rs`): when
//! every extract since is a finished delta, which only adds rows past each room's
//! watermark, it scans each room past its highest scanned `chatId` and reads the kept
//! messages from `staging.db` (a copy: reading them back by key from `history.db` costs a
//! page read each, 1.3 s for 100,000 at 10 M messages); anything else scans the whole
//! staged history again. The links themselves are parsed again each time (the `[files]`
//! rules may have changed). The copy grows with the messages that hold links, as the
//! inventory does, not with the history.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use rayon::prelude::*;
use rusqlite::{params, Connection};

use super::files::LinkMessage;
use super::history::{key_ranges, rooms_sql};
use crate::db::lite::{self, Readers};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS link_message (
  channel_id INTEGER NOT NULL, chat_id INTEGER NOT NULL, chat_date INTEGER NOT NULL,
  user_id INTEGER NOT NULL, content BLOB NOT NULL, PRIMARY KEY (channel_id, chat_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS link_scan_room (channel_id INTEGER PRIMARY KEY, upto INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS link_scan_basis (
  id INTEGER PRIMARY KEY CHECK (id = 1), run_id INTEGER NOT NULL, needle TEXT NOT NULL);";

/// Parts the scan is cut into, read on rayon's threads.
const SCAN_PARTS: usize = 4;

/// The columns every read of the scan selects, in [`LinkMessage`] order.
const COLUMNS: &str = "channel_id, chat_id, chat_date, user_id, content";

/// One pass handing every staged message whose content matches `pattern` (a GLOB) to `f`:
/// the kept messages and the rows past each room's highest scanned `chatId` when the
/// module's rule allows, the whole history otherwise; then keeps what it found.
pub(super) fn scan<T: Send>(
    readers: &Readers,
    staging: &Path,
    pattern: &str,
    f: &(impl Fn(LinkMessage<'_>, &mut Vec<T>) + Sync),
) -> Result<Vec<T>> {
    let conn = lite::open(staging, true, false)?;
    conn.execute_batch(SCHEMA)?;
    let last_run: i64 =
        conn.query_row("SELECT COALESCE(MAX(run_id), 0) FROM extract_run", [], |r| r.get(0))?;
    let reuse = reusable(&conn, pattern)?;
    let mut upto = match reuse {
        true => kept_rooms(&conn)?,
        false => BTreeMap::new(),
    };
    let rooms: Vec<i64> = readers.with(|c| {
        let mut st = c.prepare(&rooms_sql())?;
        let rooms = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(rooms)
    })?;
    // Each part: (what `f` made, messages found past the cut, rooms' highest chatId scanned).
    type Part<T> = (Vec<T>, Vec<Owned>, Vec<(i64, i64)>);
    let parts: Vec<Part<T>> = key_ranges(&rooms, SCAN_PARTS)
        .into_par_iter()
        .map(|(lo, hi)| {
            readers.with(|c| {
                let mut out = Vec::new();
                let mut found = Vec::new();
                let mut tops = Vec::new();
                let mut st = c.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM snap_chat WHERE channel_id = ?1 AND chat_id > ?2 \
                     AND content GLOB ?3 ORDER BY chat_id"
                ))?;
                let mut top = c.prepare_cached(
                    "SELECT MAX(chat_id) FROM snap_chat WHERE channel_id = ?1 AND chat_id > ?2",
                )?;
                for &room in rooms.iter().filter(|r| (lo..=hi).contains(*r)) {
                    let after = upto.get(&room).copied().unwrap_or(i64::MIN);
                    let mut rows = st.query(params![room, after, pattern])?;
                    while let Some(r) = rows.next()? {
                        let m = message(r)?;
                        found.push(Owned::of(&m));
                        f(m, &mut out);
                    }
                    let last: Option<i64> = top.query_row(params![room, after], |r| r.get(0))?;
                    if let Some(last) = last {
                        tops.push((room, last));
                    }
                }
                Ok((out, found, tops))
            })
        })
        .collect::<Result<_>>()?;
    let mut out: Vec<T> = Vec::new();
    if reuse {
        let mut st = conn.prepare(&format!("SELECT {COLUMNS} FROM link_message"))?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            f(message(r)?, &mut out);
        }
    }
    let mut found = Vec::new();
    for (o, k, t) in parts {
        out.extend(o);
        found.extend(k);
        upto.extend(t);
    }
    store(&conn, reuse, &found, &upto, last_run, pattern)?;
    Ok(out)
}

/// A row of [`COLUMNS`], borrowed.
fn message<'r>(r: &'r rusqlite::Row<'_>) -> rusqlite::Result<LinkMessage<'r>> {
    Ok(LinkMessage {
        channel_id: r.get(0)?,
        chat_id: r.get(1)?,
        chat_date: r.get(2)?,
        user_id: r.get(3)?,
        content: lite::bytes(r, 4)?,
    })
}

/// Whether the kept messages hold for `needle` and every extract since them is a finished
/// delta.
fn reusable(conn: &Connection, needle: &str) -> Result<bool> {
    super::author_cache::basis_holds(conn, "link_scan", "needle", needle)
}

/// A message found, kept as [`LinkMessage`] is.
struct Owned {
    key: (i64, i64),
    chat_date: i64,
    user_id: i64,
    content: Vec<u8>,
}

impl Owned {
    fn of(m: &LinkMessage<'_>) -> Owned {
        Owned {
            key: (m.channel_id, m.chat_id),
            chat_date: m.chat_date,
            user_id: m.user_id,
            content: m.content.to_vec(),
        }
    }
}

/// Each scanned room's highest `chatId`.
fn kept_rooms(conn: &Connection) -> Result<BTreeMap<i64, i64>> {
    Ok(conn
        .prepare("SELECT channel_id, upto FROM link_scan_room")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

/// Keeps the keys found (added to the kept ones when `extend`, replacing them otherwise),
/// the rooms' highest scanned `chatId`s and the basis, in one transaction.
fn store(
    conn: &Connection,
    extend: bool,
    found: &[Owned],
    upto: &BTreeMap<i64, i64>,
    run: i64,
    needle: &str,
) -> Result<()> {
    let tx = conn.unchecked_transaction()?;
    if !extend {
        tx.execute_batch("DELETE FROM link_message; DELETE FROM link_scan_room;")?;
    }
    {
        let mut ins = tx.prepare_cached(
            "INSERT OR REPLACE INTO link_message (channel_id, chat_id, chat_date, user_id, content) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for m in found {
            ins.execute(params![m.key.0, m.key.1, m.chat_date, m.user_id, m.content])?;
        }
    }
    super::author_cache::store_marks(&tx, "link_scan", upto, (run, "needle", needle))?;
    tx.commit()?;
    Ok(())
}
