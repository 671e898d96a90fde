//! The per-(room, author) message counts `plan` needs, kept between plans (issue 23: a
//! plan in the cutover window counts the delta, not the history). The counts are stored
//! with each room's highest counted `chatId` and the basis they hold for: the last extract
//! run counted and the `since` cut-off. A later plan reuses them when every extract since
//! that run is a finished delta — a delta only adds rows past each room's watermark, so
//! the counted rows are unchanged — and counts each room past its highest `chatId` alone.
//! Anything else (a full extract, an unfinished or failed one, another `since`) counts the
//! whole staged history again.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};

use super::history::{count_all, counts_row, rooms_sql, tally, Counted};
use super::Workspace;
use crate::db::lite;
use crate::plan::messages::AuthorCounts;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS author_count (
  channel_id INTEGER NOT NULL, user_id INTEGER NOT NULL, total INTEGER NOT NULL,
  bad_date INTEGER NOT NULL, before_since INTEGER NOT NULL, PRIMARY KEY (channel_id, user_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS author_count_room (channel_id INTEGER PRIMARY KEY, upto INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS author_count_basis (
  id INTEGER PRIMARY KEY CHECK (id = 1), run_id INTEGER NOT NULL, since TEXT NOT NULL);";

impl Workspace {
    /// Staged messages per (room, author) with the counts the message rules need, in
    /// (room, author) order: reused from the last plan and extended by the rows staged
    /// since when the module's rule allows, counted whole otherwise.
    pub async fn author_counts(&self, since: Option<i64>) -> Result<Vec<AuthorCounts>> {
        let staging = self.staging_file();
        let since_key = since.map_or_else(|| "-".to_string(), |s| s.to_string());
        lite::blocking(|| {
            let conn = lite::open(&staging, true, false)?;
            conn.execute_batch(SCHEMA)?;
            let last_run: i64 =
                conn.query_row("SELECT COALESCE(MAX(run_id), 0) FROM extract_run", [], |r| {
                    r.get(0)
                })?;
            let ((counts, upto), changed) = if reusable(&conn, &since_key)? {
                self.extend_counts(&conn, since)?
            } else {
                let (counts, upto) = count_all(&self.readers, since)?;
                let rooms = upto.iter().map(|(r, _)| *r).collect();
                ((counts, upto), Changed::All(rooms))
            };
            store(&conn, &counts, &upto, &changed, last_run, &since_key)?;
            anyhow::Ok(counts)
        })
        .context("counting the staged history")
    }

    /// The stored counts, each room counted past its highest counted `chatId` and added.
    fn extend_counts(&self, conn: &Connection, since: Option<i64>) -> Result<(Counted, Changed)> {
        let mut counts: BTreeMap<(i64, i64), AuthorCounts> = BTreeMap::new();
        let mut st = conn.prepare(
            "SELECT channel_id, user_id, total, bad_date, before_since FROM author_count",
        )?;
        for a in st.query_map([], counts_row)? {
            let a = a?;
            counts.insert((a.channel_id, a.user_id), a);
        }
        let mut upto: BTreeMap<i64, i64> = conn
            .prepare("SELECT channel_id, upto FROM author_count_room")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut changed = Vec::new();
        self.readers.with(|c| {
            let rooms: Vec<i64> = c
                .prepare(&rooms_sql())?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut st = c.prepare_cached(
                "SELECT channel_id, user_id, chat_date, chat_id FROM snap_chat \
                 WHERE channel_id = ?1 AND chat_id > ?2 ORDER BY chat_id",
            )?;
            for room in rooms {
                let after = upto.get(&room).copied().unwrap_or(i64::MIN);
                let (more, last) = tally(&mut st, params![room, after], since)?;
                let Some((_, last)) = last.first().copied() else { continue };
                for m in more {
                    let a = counts.entry((room, m.user_id)).or_insert(AuthorCounts {
                        total: 0,
                        bad_date: 0,
                        before_since: 0,
                        ..m
                    });
                    a.total += m.total;
                    a.bad_date += m.bad_date;
                    a.before_since += m.before_since;
                }
                upto.insert(room, last);
                changed.push(room);
            }
            Ok(())
        })?;
        Ok(((counts.into_values().collect(), upto.into_iter().collect()), Changed::Rooms(changed)))
    }
}

/// Which rooms' stored counts a store replaces.
enum Changed {
    /// Every stored count (a whole count): these rooms were counted.
    All(Vec<i64>),
    /// Only these rooms'.
    Rooms(Vec<i64>),
}

/// Whether the stored counts hold for `since` and every extract run since them is a
/// finished delta.
fn reusable(conn: &Connection, since: &str) -> Result<bool> {
    basis_holds(conn, "author_count", "since", since)
}

/// Whether the basis of the cache `name` (its row in `<name>_basis`: the last extract run
/// read and the value of `key_col`) is `key`, and every extract run since is a finished
/// delta. Shared by the caches of the plan (`author_cache.rs`, `link_cache.rs`).
pub(super) fn basis_holds(conn: &Connection, name: &str, key_col: &str, key: &str) -> Result<bool> {
    let basis: Option<(i64, String)> = conn
        .query_row(&format!("SELECT run_id, {key_col} FROM {name}_basis WHERE id = 1"), [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    match basis {
        Some((run, kept)) if kept == key => deltas_only_since(conn, run),
        _ => Ok(false),
    }
}

/// Stores, in the cache `name`'s transaction `tx`, each room's highest read `chatId`
/// (`<name>_room`) and the basis (`<name>_basis`: extract run `run`, `key_col` = `key`).
pub(super) fn store_marks<'a>(
    tx: &Connection,
    name: &str,
    upto: impl IntoIterator<Item = (&'a i64, &'a i64)>,
    (run, key_col, key): (i64, &str, &str),
) -> Result<()> {
    let mut room = tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO {name}_room (channel_id, upto) VALUES (?1, ?2)"
    ))?;
    for (r, u) in upto {
        room.execute(params![r, u])?;
    }
    tx.execute(
        &format!("INSERT OR REPLACE INTO {name}_basis (id, run_id, {key_col}) VALUES (1, ?1, ?2)"),
        params![run, key],
    )?;
    Ok(())
}

/// Whether every extract run after `run` is a finished delta (which only adds rows past
/// each room's watermark, so what was read of the history up to then is unchanged).
pub(super) fn deltas_only_since(conn: &Connection, run: i64) -> Result<bool> {
    let mut st = conn.prepare(
        "SELECT kind = 'delta' AND finished_at IS NOT NULL FROM extract_run WHERE run_id > ?1",
    )?;
    let all_deltas =
        st.query_map([run], |r| r.get::<_, bool>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(all_deltas.into_iter().all(|d| d))
}

/// Stores the counts of the changed rooms, their highest counted `chatId`s and the basis,
/// in one transaction.
fn store(
    conn: &Connection,
    counts: &[AuthorCounts],
    upto: &[(i64, i64)],
    changed: &Changed,
    run: i64,
    since: &str,
) -> Result<()> {
    let tx = conn.unchecked_transaction()?;
    let rooms: std::collections::HashSet<i64> = match changed {
        Changed::All(r) => {
            tx.execute_batch("DELETE FROM author_count; DELETE FROM author_count_room;")?;
            r.iter().copied().collect()
        }
        Changed::Rooms(r) => r.iter().copied().collect(),
    };
    {
        let mut ins = tx.prepare_cached(
            "INSERT OR REPLACE INTO author_count (channel_id, user_id, total, bad_date, before_since) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for a in counts.iter().filter(|a| rooms.contains(&a.channel_id)) {
            ins.execute(params![
                a.channel_id,
                a.user_id,
                a.total as i64,
                a.bad_date as i64,
                a.before_since as i64
            ])?;
        }
    }
    let marks = upto.iter().filter(|(r, _)| rooms.contains(r)).map(|(r, u)| (r, u));
    store_marks(&tx, "author_count", marks, (run, "since", since))?;
    tx.commit()?;
    Ok(())
}
