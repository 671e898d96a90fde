//! Reading many rows through one small interface, whatever the engine: [`each_row`] runs a
//! query against a [`Db`] and hands every row to a closure as [`Cells`].
//!
//! sqlx's `Any` driver copies each SQLite row through a worker thread, a channel and an
//! `AnyRow` (microseconds a row: most of the time `verify` spent reading a 20,000-user
//! configuration). A SQLite file is therefore read with rusqlite directly, read-only;
//! PostgreSQL still goes through sqlx. Queries must be portable (`CAST(x AS BIGINT)`).

use anyhow::{Context, Result};
use futures_util::TryStreamExt;
use sqlx::Row;

use crate::db::Db;

/// The columns of one row, by position.
pub trait Cells {
    /// An integer column.
    fn int(&self, i: usize) -> Result<i64>;
    /// An integer column that may be NULL.
    fn opt_int(&self, i: usize) -> Result<Option<i64>>;
    /// A text column.
    fn text(&self, i: usize) -> Result<String>;
    /// A text column that may be NULL.
    fn opt_text(&self, i: usize) -> Result<Option<String>>;
}

impl Cells for sqlx::any::AnyRow {
    fn int(&self, i: usize) -> Result<i64> {
        Ok(self.try_get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.try_get(i)?)
    }
    fn text(&self, i: usize) -> Result<String> {
        Ok(self.try_get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.try_get(i)?)
    }
}

impl Cells for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> Result<i64> {
        Ok(self.get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.get(i)?)
    }
    fn text(&self, i: usize) -> Result<String> {
        Ok(self.get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.get(i)?)
    }
}

/// Runs `sql` on `db` and calls `f` for every row, in the order the query returns them.
pub async fn each_row(
    db: &Db,
    sql: &str,
    mut f: impl FnMut(&dyn Cells) -> Result<()>,
) -> Result<()> {
    match db.url.sqlite_path().filter(|p| p.exists()) {
        Some(path) => crate::db::lite::blocking(|| {
            let conn = crate::db::lite::open(&path, false, false)
                .with_context(|| format!("cannot open {} read-only", path.display()))?;
            let mut st = conn.prepare(sql)?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                f(r)?;
            }
            Ok(())
        }),
        None => {
            let mut rows = sqlx::query(sql).fetch(&db.pool);
            while let Some(r) = rows.try_next().await? {
                f(&r)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{DbUrl, OpenMode};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_rows_read_directly_match_the_sqlx_driver() {
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::parse(&format!("sqlite://{}", dir.path().join("t.db").display())).unwrap();
        let db = Db::connect(&url, OpenMode::Create, 1).await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (NULL, NULL), (3, 'z');",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        let sql = "SELECT CAST(a AS BIGINT), b FROM t ORDER BY rowid";
        let mut direct = Vec::new();
        each_row(&db, sql, |r| {
            direct.push((r.opt_int(0)?, r.opt_text(1)?));
            Ok(())
        })
        .await
        .unwrap();
        let mut via_sqlx = Vec::new();
        for r in sqlx::query(sql).fetch_all(&db.pool).await.unwrap() {
            via_sqlx.push((r.opt_int(0).unwrap(), r.opt_text(1).unwrap()));
        }
        assert_eq!(direct, via_sqlx);
        assert_eq!(direct[1], (None, None));
        let err = each_row(&db, "SELECT b FROM t", |r| r.int(0).map(drop)).await;
        assert!(err.is_err(), "text read as an integer is an error, not a zero");
    }
}
