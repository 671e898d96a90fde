//! Direct SQLite (rusqlite) for the bulk paths: copying history into an SQLite target,
//! reading the staged history back, and checksumming an SQLite target. Everything else
//! goes through sqlx; these paths move every message, and sqlx-sqlite hands each row
//! through a worker thread and a channel, which costs more than SQLite itself.
//!
//! Calls are synchronous; [`blocking`] runs them without stalling the async runtime.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::model::Chat;

/// Opens an SQLite file: read-only, or read-write (created when `create`) in WAL mode
/// with `synchronous = NORMAL`, as the sqlx connections open it.
pub fn open(path: &Path, write: bool, create: bool) -> rusqlite::Result<Connection> {
    let flags = match (write, create) {
        (false, _) => OpenFlags::SQLITE_OPEN_READ_ONLY,
        (true, false) => OpenFlags::SQLITE_OPEN_READ_WRITE,
        (true, true) => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(60))?;
    // Readers stream in key order and keep SQLite's default 2 MB page cache: a larger one
    // per connection was most of verify's peak memory (228 MiB → 128 MiB at 10M messages).
    // No mmap either: mapped pages count as resident memory too.
    if write {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Runs synchronous SQLite work from async code: on a multi-threaded runtime the worker
/// hands its other tasks away first; elsewhere (a current-thread test runtime) it just runs.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// A few read-only connections to one file, opened on demand and reused.
#[derive(Debug)]
pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Readers of the SQLite file at `path`.
    pub fn new(path: PathBuf) -> Readers {
        Readers { path, idle: Mutex::new(Vec::new()) }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the idle connections (their page caches and statements), once a stage is
    /// done reading; a later read opens one again.
    pub fn close_idle(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Runs `f` on an idle connection (opening one when none is idle).
    pub fn with<R>(&self, f: impl FnOnce(&Connection) -> anyhow::Result<R>) -> anyhow::Result<R> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => open(&self.path, false, false)?,
        };
        let out = f(&conn);
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
        out
    }
}

/// SQL listing the distinct values of `col` in `table` by a loose scan of an index led by
/// `col` (two seeks per value instead of every entry): `r.c` is each value, and `select`
/// says what to return for it, e.g. `c` or `c, (SELECT MAX(…) … WHERE col = r.c)`.
pub fn loose_scan(table: &str, col: &str, select: &str) -> String {
    format!(
        "WITH RECURSIVE r(c) AS (SELECT (SELECT MIN({col}) FROM {table}) \
         UNION ALL SELECT (SELECT MIN({col}) FROM {table} WHERE {col} > r.c) FROM r \
         WHERE r.c IS NOT NULL) SELECT {select} FROM r WHERE c IS NOT NULL"
    )
}

/// SQL returning a row when `schema.table` has an index whose first column is `col`: what
/// [`loose_scan`] needs to be fast.
pub fn index_led_by(schema: &str, table: &str, col: &str) -> String {
    format!(
        "SELECT 1 FROM pragma_index_list('{table}', '{schema}') il, \
         pragma_index_info(il.name, '{schema}') ii WHERE ii.seqno = 0 AND ii.name = '{col}' LIMIT 1"
    )
}

/// Column `i` as the bytes SQLite holds (text or blob; empty for anything else): no copy
/// and no UTF-8 check, for checksums that compare bytes anyway.
pub fn bytes<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r [u8]> {
    Ok(match r.get_ref(i)? {
        rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => b,
        _ => &[],
    })
}

/// A staged message from `SELECT channel_id, chat_id, chat_date, user_id, is_alert, content`.
pub fn chat(r: &rusqlite::Row<'_>) -> rusqlite::Result<Chat> {
    Ok(Chat {
        channel_id: r.get(0)?,
        chat_id: r.get(1)?,
        chat_date: r.get(2)?,
        user_id: r.get(3)?,
        is_alert: r.get::<_, i64>(4)? != 0,
        content: r.get(5)?,
    })
}
