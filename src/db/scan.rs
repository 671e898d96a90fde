//! Reading a table key by key, the engine's fastest way: [`Conn::fold_each_key`] runs one
//! keyed query per key and folds each key's rows, with the caller's own work for that key
//! alongside; [`Conn::distinct_ints`] lists the keys an integer column holds. Rows come as
//! [`ByteCells`]: a text column is lent as bytes, never copied into a `String` (checksums
//! compare bytes anyway).
//!
//! - SQLite (a file): keys on rayon's threads, each with its own read-only connection and
//!   cached statement, the caller's work for a key on the same thread before its read;
//! - PostgreSQL: a spawned task reads the next key while the caller works on this one, on
//!   connections told to follow the index (`ordered_pool`);
//! - SQL Server: key by key on one pooled session.

use std::sync::Arc;

use anyhow::{Context, Result};
use futures_util::TryStreamExt;
use rayon::prelude::*;
use sqlx::Row;

use super::{lite, Cells, Conn, Db, DbUrl};

/// The cells of a row, and its text columns as the bytes the engine holds.
pub trait ByteCells: Cells {
    /// A text column as UTF-8 bytes (empty when NULL), borrowed from the row.
    fn bytes(&self, i: usize) -> Result<&[u8]>;
}

impl ByteCells for rusqlite::Row<'_> {
    fn bytes(&self, i: usize) -> Result<&[u8]> {
        Ok(match self.get_ref(i)? {
            rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => b,
            rusqlite::types::ValueRef::Null => &[],
            _ => anyhow::bail!("column {} is not text", i + 1),
        })
    }
}

impl ByteCells for sqlx::any::AnyRow {
    fn bytes(&self, i: usize) -> Result<&[u8]> {
        Ok(self.try_get::<Option<&str>, _>(i)?.map_or(&[][..], str::as_bytes))
    }
}

#[cfg(feature = "mssql")]
impl ByteCells for Vec<tiberius::ColumnData<'static>> {
    fn bytes(&self, i: usize) -> Result<&[u8]> {
        match self.get(i) {
            Some(tiberius::ColumnData::String(s)) => {
                Ok(s.as_deref().map_or(&[][..], str::as_bytes))
            }
            _ => anyhow::bail!("column {} is not text", i + 1),
        }
    }
}

/// How each key's rows are folded: `init` makes a key's value, `step` folds one row into
/// it. Both run where the engine reads (another task on PostgreSQL), so they own what they
/// use.
pub struct Fold<T> {
    init: Arc<Init<T>>,
    step: Arc<Step<T>>,
}

type Init<T> = dyn Fn() -> T + Send + Sync;
type Step<T> = dyn Fn(&mut T, &dyn ByteCells) -> Result<()> + Send + Sync;

impl<T> Fold<T> {
    /// A fold from its two steps.
    pub fn new(
        init: impl Fn() -> T + Send + Sync + 'static,
        step: impl Fn(&mut T, &dyn ByteCells) -> Result<()> + Send + Sync + 'static,
    ) -> Fold<T> {
        Fold { init: Arc::new(init), step: Arc::new(step) }
    }
}

impl<T> Clone for Fold<T> {
    fn clone(&self) -> Fold<T> {
        Fold { init: Arc::clone(&self.init), step: Arc::clone(&self.step) }
    }
}

impl Conn {
    /// Runs `sql` — a query with one parameter, `$1` — once for each key of `keys`, and
    /// folds the rows of each run, in the order the query returns them, through `fold`; a
    /// `None` key reads nothing. `side(i)` is the caller's own synchronous work for key
    /// `i`, run alongside the read (the other side of a comparison, say), and `join` makes
    /// key `i`'s result of the two as soon as both are done. Results come in key order;
    /// the first failure stops the whole. `what` names the read in an error.
    pub async fn fold_each_key<S, T, R>(
        &self,
        what: &str,
        sql: &str,
        keys: &[Option<i64>],
        fold: &Fold<T>,
        side: impl Fn(usize) -> Result<S> + Sync,
        join: impl Fn(S, T) -> Result<R> + Sync,
    ) -> Result<Vec<R>>
    where
        S: Send,
        T: Send + 'static,
        R: Send,
    {
        match self {
            Conn::Sqlite(db, readers) if readers.path().exists() => {
                let read = |k: i64, t: &mut T| {
                    readers.with(|c| {
                        let mut st = c.prepare_cached(sql)?;
                        let mut rows = st.query([k])?;
                        while let Some(r) = rows.next()? {
                            (fold.step)(t, r)?;
                        }
                        Ok(())
                    })
                };
                lite::blocking(|| {
                    keys.par_iter()
                        .enumerate()
                        .map(|(i, key)| {
                            let s = side(i)?;
                            let mut t = (fold.init)();
                            if let Some(k) = key {
                                read(*k, &mut t)
                                    .with_context(|| format!("{what} on {}", db.url))?;
                            }
                            join(s, t)
                        })
                        .collect()
                })
            }
            Conn::Sqlite(db, _) => {
                ahead(&db.pool, &db.url, what, sql, keys, fold, side, join).await
            }
            Conn::Postgres(db) => {
                let pool = ordered_pool(db).await?;
                let out = ahead(&pool, &db.url, what, sql, keys, fold, side, join).await;
                pool.close().await;
                out
            }
            #[cfg(feature = "mssql")]
            Conn::Mssql(pool, _) => {
                let mut out = Vec::with_capacity(keys.len());
                for (i, key) in keys.iter().enumerate() {
                    let s = lite::blocking(|| side(i))?;
                    let mut t = (fold.init)();
                    if let Some(k) = key {
                        tds_rows(pool, what, sql, *k, &mut |r| (fold.step)(&mut t, r)).await?;
                    }
                    out.push(join(s, t)?);
                }
                Ok(out)
            }
        }
    }

    /// The distinct values of the integer column `col` of `table`, ascending. SQLite lists
    /// them by a loose scan of an index led by `col` when there is one (two seeks a value
    /// rather than every entry); the servers use their own `DISTINCT`.
    pub async fn distinct_ints(&self, table: &str, col: &str) -> Result<Vec<i64>> {
        let what = format!("listing {table}.{col}");
        let mut sql = distinct_sql(table, col);
        if let Conn::Sqlite(..) = self {
            let index = lite::index_led_by("main", table, col);
            if self.scalar(&what, &index, &[]).await?.is_some() {
                sql = lite::loose_scan(table, col, "c");
            }
        }
        self.rows(&what, &sql, &[], |r| r.int(0)).await
    }
}

/// The portable `SELECT DISTINCT` of [`Conn::distinct_ints`].
pub fn distinct_sql(table: &str, col: &str) -> String {
    format!("SELECT DISTINCT CAST({col} AS BIGINT) FROM {table} ORDER BY 1")
}

/// [`Conn::fold_each_key`] through sqlx: a spawned task reads the next key while `side`
/// works on this one, so the server, the row decoding and the caller's work overlap.
#[allow(clippy::too_many_arguments)]
async fn ahead<S, T: Send + 'static, R>(
    pool: &sqlx::AnyPool,
    url: &DbUrl,
    what: &str,
    sql: &str,
    keys: &[Option<i64>],
    fold: &Fold<T>,
    side: impl Fn(usize) -> Result<S>,
    join: impl Fn(S, T) -> Result<R>,
) -> Result<Vec<R>> {
    let sql: Arc<str> = Arc::from(sql);
    let spawn = |i: usize| {
        let k = keys.get(i).copied().flatten()?;
        let (pool, sql, fold) = (pool.clone(), Arc::clone(&sql), fold.clone());
        Some(tokio::spawn(async move {
            let mut t = (fold.init)();
            let mut rows = sqlx::query(&sql).bind(k).fetch(&pool);
            while let Some(r) = rows.try_next().await? {
                (fold.step)(&mut t, &r)?;
            }
            anyhow::Ok(t)
        }))
    };
    let mut out = Vec::with_capacity(keys.len());
    let mut next = spawn(0);
    for i in 0..keys.len() {
        let this = std::mem::replace(&mut next, spawn(i + 1));
        let s = lite::blocking(|| side(i))?;
        let t = match this {
            Some(task) => task
                .await
                .context("the reader stopped")?
                .with_context(|| format!("{what} on {url}"))?,
            None => (fold.init)(),
        };
        out.push(join(s, t)?);
    }
    Ok(out)
}

/// Connections for reading a PostgreSQL table key by key in key order, straight off the
/// primary key. Left to itself the planner takes a big key by bitmap heap scan and sorts
/// it, spilling to disk past `work_mem` (1M messages, a 110k-row room: 90 ms, against 38 ms
/// for the ordered index scan). Only these connections are told so: other queries read
/// whole tables, where a sequential scan is right.
async fn ordered_pool(db: &Db) -> Result<sqlx::AnyPool> {
    sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::Executor::execute(
                    conn,
                    "SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_sort = off",
                )
                .await?;
                Ok(())
            })
        })
        .connect(db.url.expose())
        .await
        .map_err(|e| {
            crate::error::runtime(format!(
                "cannot connect to {}: {}",
                db.url,
                super::redact(&e.to_string())
            ))
        })
}

/// One keyed read on SQL Server, through the pool's row stream.
#[cfg(feature = "mssql")]
async fn tds_rows(
    pool: &super::mssql::pool::Pool,
    what: &str,
    sql: &str,
    k: i64,
    f: &mut dyn FnMut(&dyn ByteCells) -> Result<()>,
) -> Result<()> {
    pool.each_row(what, sql, &[super::Value::Int(k)], f).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::OpenMode;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn folds_each_key_with_the_callers_work_alongside() {
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::parse(&format!("sqlite://{}", dir.path().join("t.db").display())).unwrap();
        let conn = Conn::open(&url, OpenMode::Create, 1, None).await.unwrap();
        conn.run_script(
            "setup",
            "CREATE TABLE t (k INTEGER, n INTEGER, s TEXT, PRIMARY KEY (k, n)); \
             INSERT INTO t VALUES (1, 2, 'b'), (1, 1, 'a'), (3, 1, NULL), (4, 1, 'x');",
        )
        .await
        .unwrap();
        let sql = "SELECT n, s FROM t WHERE k = $1 ORDER BY n";
        let keys = [Some(1), None, Some(3), Some(2)];
        let fold = Fold::new(String::new, |t, r| {
            t.push_str(&format!("{}:", r.int(0)?));
            t.push_str(std::str::from_utf8(r.bytes(1)?)?);
            Ok(())
        });
        let out = conn
            .fold_each_key("reading t", sql, &keys, &fold, |i| Ok(i * 10), |s, t| Ok((s, t)))
            .await
            .unwrap();
        let want = [(0, "1:a2:b"), (10, ""), (20, "1:"), (30, "")];
        assert_eq!(out, want.map(|(s, t)| (s, t.to_string())));
        let fold = Fold::new(|| 0, |_, r| r.bytes(0).map(drop));
        let err =
            conn.fold_each_key("reading t", sql, &keys, &fold, |_| Ok(()), |_, t| Ok(t)).await;
        assert!(err.is_err(), "an integer read as text is an error");
        assert_eq!(conn.distinct_ints("t", "k").await.unwrap(), [1, 3, 4]);
        conn.run_script(
            "a table without an index",
            "CREATE TABLE u (k INTEGER); INSERT INTO u VALUES (2), (2), (1);",
        )
        .await
        .unwrap();
        assert_eq!(conn.distinct_ints("u", "k").await.unwrap(), [1, 2]);
    }
}
